"""The last known fleet on disk, per profile and region, so the Fleet tab paints at once on the next start.

Why: at 10,000 nodes and real AWS latency the first full listing takes seconds; the operator who opens opstui
wants the table they saw last time now, marked stale, and the fresh one as soon as it is there. Only regions
that loaded without error are written (a region's last good rows stay on disk through a failing refresh).

Where: ``<user cache dir>/opstui/fleet/<profile>/<endpoint>/<region>.json`` (platformdirs' cache dir, i.e.
``$XDG_CACHE_HOME/opstui`` or ``~/.cache/opstui`` on Linux): folders 0700, files 0600 from their creation
(:mod:`opstui.private_files`), written whole then renamed, so a crash never leaves half a file. ``<endpoint>``
is ``aws`` or a digest of ``--endpoint-url``, so a sandbox's nodes never show up as a real account's.

What: the rows the table shows (the joined FleetNode fields: ids, names, tags, platform, agent, IPs, states,
the SSM and EC2 fields of the detail pane) -- no credentials, tokens or command output: nothing opstui keeps
secret is in a FleetNode. A file that cannot be read, is of another version or has another shape is ignored
(the listing replaces it). Its text is shown through the same ``clean()`` as fresh text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformdirs import user_cache_path

from opstui.aws.models import FleetNode, FleetSnapshot, RegionFleet
from opstui.private_files import open_private, private_dir

VERSION = 1
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_FIELDS = tuple(f.name for f in fields(FleetNode))
_PAIRS = ("tags", "ssm_fields", "ec2_fields")


def cache_root() -> Path:
    return user_cache_path("opstui") / "fleet"


def _part(text: str) -> str:
    """One path component from a profile or region name: no separator, never ``.`` or ``..``."""
    part = _SAFE.sub("_", text)[:64]
    return "_" + part if not part or part.startswith(".") else part


def region_path(profile: str | None, endpoint_url: str | None, region: str) -> Path:
    endpoint = "aws" if not endpoint_url else "endpoint-" + hashlib.sha256(endpoint_url.encode()).hexdigest()[:16]
    return cache_root() / _part(profile or "default") / endpoint / f"{_part(region)}.json"


def _encode(node: FleetNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(node, name)
        if name == "last_ping":
            value = value.isoformat() if value else None
        elif name in _PAIRS:
            value = [list(pair) for pair in value]
        out[name] = value
    return out


def _decode(raw: dict[str, Any]) -> FleetNode:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = raw[name]
        if name == "last_ping":
            value = datetime.fromisoformat(value) if value else None
        elif name in _PAIRS:
            value = tuple((str(k), str(v)) for k, v in value)
        elif name == "agent_outdated":
            value = bool(value)
        elif not isinstance(value, str):
            raise ValueError(f"{name} is not text")
        values[name] = value
    return FleetNode(**values)


def save(profile: str | None, endpoint_url: str | None, snapshot: FleetSnapshot) -> list[Path]:
    """Write every region of ``snapshot`` that loaded without error (its file replaced whole)."""
    written: list[Path] = []
    for region in snapshot.regions:
        if region.error is not None or region.stale_since is not None:
            continue
        path = region_path(profile, endpoint_url, region.region)
        body = {"version": VERSION, "region": region.region, "taken_at": snapshot.taken_at.isoformat(),
                "nodes": [_encode(n) for n in region.nodes]}
        private_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open_private(tmp) as fh:
            json.dump(body, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
        written.append(path)
    return written


def load(profile: str | None, endpoint_url: str | None, regions: Iterable[str]) -> FleetSnapshot | None:
    """The cached regions (each marked stale since it was written), or None when no region is cached."""
    found: list[RegionFleet] = []
    oldest: datetime | None = None
    for region in regions:
        path = region_path(profile, endpoint_url, region)
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            if body.get("version") != VERSION or body.get("region") != region:
                continue
            taken_at = datetime.fromisoformat(body["taken_at"]).astimezone(UTC)
            nodes = tuple(_decode(raw) for raw in body["nodes"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        found.append(RegionFleet(region=region, nodes=nodes, stale_since=taken_at))
        oldest = taken_at if oldest is None else min(oldest, taken_at)
    if not found or oldest is None:
        return None
    return FleetSnapshot(regions=tuple(found), taken_at=oldest, nodes=tuple(n for r in found for n in r.nodes))


def forget(profile: str | None, endpoint_url: str | None, regions: Iterable[str]) -> None:
    for region in regions:
        with contextlib.suppress(OSError):
            region_path(profile, endpoint_url, region).unlink()
