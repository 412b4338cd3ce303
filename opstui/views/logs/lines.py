"""One log line as the viewer draws it, apart from the widget: the message turned into safe text (colours
kept, every other control visible), a JSON event's fields as cells, and a search's state. No widget here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from rich.style import Style
from rich.text import Text

from opstui.safe import ansi_text, clean_block

MAX_CHARS = 4000  # of one message drawn (the rest is cut with a marker); the line stays whole for the filter
STRIP_CACHE = 3000
SOURCE_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")
LEVELS = re.compile(r"\b(FATAL|CRITICAL|CRIT|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)\b", re.IGNORECASE)
LEVEL_STYLES = {
    "FATAL": Style(color="red", bold=True, reverse=True), "CRITICAL": Style(color="red", bold=True),
    "CRIT": Style(color="red", bold=True), "ERROR": Style(color="red", bold=True), "ERR": Style(color="red", bold=True),
    "WARNING": Style(color="yellow"), "WARN": Style(color="yellow"), "NOTICE": Style(color="cyan"),
    "INFO": Style(color="green"), "DEBUG": Style(dim=True), "TRACE": Style(dim=True),
}

Line = tuple[int, int, str]  # (timestamp ms, source index, message)


@dataclass
class Search:
    """A find in the shown lines: the text, the matching positions in ``shown`` found so far (ascending), how
    far the scan got, and the match jumped to last (an index into ``hits``)."""

    text: str
    needle: str = ""
    hits: list[int] = field(default_factory=list)
    scanned: int = 0  # positions [0, scanned) of shown were scanned
    current: int | None = None
    wrapped: bool = False  # the last n/N went round the end
    version: int = 0  # the viewer's shown version the hits are for

    def __post_init__(self) -> None:
        self.needle = self.text.lower()


def render_message(message: str) -> Text:
    """One message as one line of safe text: SGR colours kept, everything else literal or visible."""
    body = message if len(message) <= MAX_CHARS else message[:MAX_CHARS]
    body = body.replace("\r\n", "\n").replace("\n", "⏎").replace("\t", "    ")
    text = ansi_text(body) if "\x1b" in body or "\x9b" in body else Text(clean_block(body), end="")
    if len(message) > MAX_CHARS:
        text.append(f" … (+{len(message) - MAX_CHARS} chars)", style="dim")
    if not text.spans:
        found = LEVELS.search(text.plain, 0, 200)
        if found:
            text.stylize(LEVEL_STYLES[found.group(1).upper()], found.start(), found.end())
    return text


def json_cells(message: str, fields: tuple[str, ...]) -> list[str] | None:
    """The values of ``fields`` in a JSON event, as text ("" when missing); None when it is not a JSON object."""
    text = message.lstrip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    cells = []
    for name in fields:
        value: Any = obj
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        cells.append("" if value is None else value if isinstance(value, str) else json.dumps(value))
    return cells
