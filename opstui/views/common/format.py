"""How times and sizes read on every tab (one place, so two tabs never say the same thing differently)."""

from __future__ import annotations

from datetime import UTC, datetime


def age(when: datetime | None, now: datetime | None = None) -> str:
    """`42s`, `5m`, `3h`, `2d` since ``when`` ('' when unknown)."""
    if when is None:
        return ""
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def size_text(size: int | None) -> str:
    """Bytes as `512 B`, `1.5 KB`, `3.2 GB` (binary multiples, as the AWS console shows them)."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def count_text(chars: int) -> str:
    """A character count for a narrow column: `999`, `1.2K`, `3.4M`."""
    if chars < 1000:
        return str(chars)
    if chars < 1_000_000:
        return f"{chars / 1000:.1f}K"
    return f"{chars / 1_000_000:.1f}M"
