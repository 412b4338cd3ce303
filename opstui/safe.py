"""Untrusted text (tags, names, command output, alarm reasons) made safe to show.

Everything from machines we don't control passes through `clean()` before it reaches a widget, and widgets
get it as `rich.text.Text` / literal content, never as markup. `clean()` replaces control characters
(C0, DEL, C1, including ESC, BEL and CR) with visible escapes so no byte sequence reaches the user's terminal,
shows newlines and tabs as ⏎ and →, and caps length so one 10 KB tag cannot stall layout.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "⏎", "\t": "→", "\r": "\\r", "\x1b": "␛"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object, limit: int | None = 256) -> str:
    """One-line, control-free version of `value`, at most `limit` characters (None: no cap)."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        extra = len(text) - limit
        text = text[:limit]
        return _CONTROL.sub(_escape, text) + f"… (+{extra} chars)"
    return _CONTROL.sub(_escape, text)
