"""Terminal emulation for remote shells: `emulator` (pyte-based, no Textual) and `widget` (Textual)."""

from opstui.terminal.emulator import Attr, Line, Terminal

__all__ = ["Attr", "Line", "Terminal"]
