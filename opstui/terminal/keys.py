"""Turn Textual-style key names into the bytes an xterm would send (no Textual imports here).

    encode_key("up", None, app_cursor_keys=True) == b"\\x1bOA"
    encode_key("ctrl+up") == b"\\x1b[1;5A"
    encode_key("ctrl+c", "\\x03") == b"\\x03"
    paste("ls\\n", bracketed=True) == b"\\x1b[200~ls\\r\\x1b[201~"
"""

from __future__ import annotations

__all__ = ["encode_key", "paste"]

_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
_TILDE = {
    "insert": 2, "delete": 3, "pageup": 5, "pagedown": 6,
    "f5": 15, "f6": 17, "f7": 18, "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24,
}
_SS3_F = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
# ctrl + a non-letter key (Textual's names and the characters themselves)
_CTRL_OTHER = {
    "@": 0x00, "space": 0x00, "2": 0x00, "at": 0x00,
    "left_square_bracket": 0x1B, "[": 0x1B, "3": 0x1B,
    "backslash": 0x1C, "\\": 0x1C, "4": 0x1C,
    "right_square_bracket": 0x1D, "]": 0x1D, "5": 0x1D,
    "circumflex_accent": 0x1E, "^": 0x1E, "6": 0x1E, "tilde": 0x1E,
    "underscore": 0x1F, "_": 0x1F, "minus": 0x1F, "slash": 0x1F, "/": 0x1F, "7": 0x1F,
    "question_mark": 0x7F, "?": 0x7F, "8": 0x7F,
}
_MODIFIERS = {"shift", "alt", "meta", "ctrl", "super", "hyper"}


def _split(key: str) -> tuple[set[str], str]:
    parts = key.split("+")
    mods = set()
    while len(parts) > 1 and parts[0] in _MODIFIERS:
        mods.add(parts.pop(0))
    return mods, "+".join(parts)


def encode_key(key: str, character: str | None = None, *, app_cursor_keys: bool = False) -> bytes:
    """Bytes for one key press. `key` is a Textual key name ("a", "ctrl+a", "shift+up", "f5", "enter"),
    `character` the character Textual reported with it (may be None). Returns b"" for keys a terminal
    does not send (e.g. a bare modifier)."""
    mods, base = _split(key)
    shift = "shift" in mods
    alt = "alt" in mods or "meta" in mods
    ctrl = "ctrl" in mods
    if base.startswith("f") and base[1:].isdigit() and 13 <= int(base[1:]) <= 24:
        base = f"f{int(base[1:]) - 12}"  # Textual reports shift+F1 as f13
        shift = True
    m = 1 + shift + 2 * alt + 4 * ctrl  # xterm's modifier parameter
    if base in _CURSOR:
        final = _CURSOR[base]
        if m > 1:
            return f"\x1b[1;{m}{final}".encode()
        return (("\x1bO" if app_cursor_keys else "\x1b[") + final).encode()
    if base in _TILDE:
        n = _TILDE[base]
        return (f"\x1b[{n};{m}~" if m > 1 else f"\x1b[{n}~").encode()
    if base in _SS3_F:
        final = _SS3_F[base]
        return (f"\x1b[1;{m}{final}" if m > 1 else f"\x1bO{final}").encode()
    prefix = b"\x1b" if alt else b""
    if base == "enter":
        return prefix + b"\r"
    if base == "tab":
        return b"\x1b[Z" if shift else prefix + b"\t"
    if base == "backspace":
        return prefix + (b"\x08" if ctrl else b"\x7f")
    if base == "escape":
        return prefix + b"\x1b"
    if ctrl:
        if len(base) == 1 and base.isascii() and base.isalpha():
            return prefix + bytes([ord(base.lower()) - 96])
        if base in _CTRL_OTHER:
            return prefix + bytes([_CTRL_OTHER[base]])
    if base == "space":
        return prefix + b" "
    if character:
        if character.isprintable():
            return prefix + character.encode("utf-8")
        if len(character) == 1 and (ord(character) < 0x20 or ord(character) == 0x7F):
            return prefix + character.encode()  # a control character Textual already worked out
    if len(base) == 1 and base.isprintable():
        return prefix + base.encode("utf-8")
    return b""


def paste(text: str, bracketed: bool) -> bytes:
    """Bytes for pasted text: newlines become CR (as xterm sends them); when the remote side enabled
    bracketed paste (mode 2004) the text is wrapped in ESC[200~ ... ESC[201~, and any bracket markers
    inside the text are removed so pasted data cannot end the paste early."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    if bracketed:
        while "\x1b[201~" in text or "\x1b[200~" in text:
            text = text.replace("\x1b[201~", "").replace("\x1b[200~", "")
        return b"\x1b[200~" + text.encode("utf-8") + b"\x1b[201~"
    return text.encode("utf-8")
