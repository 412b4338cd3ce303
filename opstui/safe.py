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


_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")  # titles, hyperlinks, clipboard writes: dropped
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    """One visible character per control character, so text spans keep their offsets."""
    code = ord(match.group(0))
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ... ␟ (␛ for ESC)
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


_CONTROL_ALL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def pictured(value: str) -> str:
    """Every control character but tab (newline included) as one visible symbol: the same length as
    ``value``, so a cursor index into the value is an index into the picture (an input field's text)."""
    return _CONTROL_ALL.sub(_picture, value)


def clean_block(value: object) -> str:
    """Multi-line untrusted text (command output): newlines and tabs kept, every other control character
    (ESC, BEL, CR, C1, bidi overrides) shown as a visible symbol of the same length."""
    text = "" if value is None else str(value)
    return _CONTROL_KEEP_LINES.sub(_picture, text.replace("\r\n", "\n"))


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_text(value: object, **kwargs: object) -> str:
    """``json.dumps`` whose output is safe in a terminal too: json escapes C0 controls itself, and here DEL,
    C1 (U+009B is a CSI to some terminals) and bidi overrides become ``\\uXXXX`` as well. They can only occur
    inside JSON strings, where the escape means the same character: the data round-trips unchanged."""
    import json

    text = json.dumps(value, ensure_ascii=False, **kwargs)  # type: ignore[arg-type]
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def ansi_text(value: str):  # -> rich.text.Text (imported lazily: the CLI path does not need rich)
    """Command output with its SGR colours kept, parsed by Rich's ANSI decoder, and nothing else: cursor
    moves, OSC titles and other sequences are dropped by the decoder, hyperlinks are removed (an untrusted
    link is a phishing vector), and any control character left is made visible by `clean_block`."""
    from rich.text import Text

    decoded = Text.from_ansi(_OSC.sub("", value.replace("\r\n", "\n")))
    plain = decoded.plain
    scrubbed = clean_block(plain)
    text = Text(scrubbed, end="")
    for span in decoded.spans:
        style = span.style
        if not isinstance(style, str) and style.link:
            style = style.update_link(None)
        text.stylize(style, span.start, span.end)
    return text


def screen_plain(value: str) -> str:
    """Command output as the Run Command pane shows it, line by line, without the colours: what the .txt
    export holds. OSC titles, OSC 52 clipboard writes, hyperlinks, cursor moves and clears are dropped as on
    the screen, and any other control character is a visible symbol, so a file later `cat` in a terminal
    cannot retitle it, write its clipboard or clear it."""
    return "\n".join(ansi_text(line).plain for line in value.replace("\r\n", "\n").split("\n"))
