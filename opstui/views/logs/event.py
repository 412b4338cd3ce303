"""One log event on its own (``J`` or enter in the viewer): a JSON event pretty-printed, any other shown whole.

The event is untrusted: it is drawn as literal text (no markup), JSON through ``opstui.safe.json_text`` (C0,
DEL, C1 and bidi controls inside strings become ``\\uXXXX``) and then ``clean`` line by line, a plain event
through ``clean_block`` (newlines kept, every other control character a visible symbol). Colour escapes are
shown, not applied: this is the place to read what the line really holds. Very large events are cut at
``MAX_EVENT_CHARS`` with a note.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from opstui.safe import clean, clean_block, json_text

MAX_EVENT_CHARS = 200_000


def event_text(message: str) -> tuple[str, bool]:
    """The event as it is shown, and whether it is JSON: indented (2 spaces, keys in their order), or the
    message itself; control characters visible either way."""
    body = message.strip()
    if body[:1] in ("{", "["):
        try:
            value = json.loads(body)
        except ValueError:
            pass
        else:
            pretty = json_text(value, indent=2)
            return "\n".join(clean(line, None) for line in pretty.split("\n")), True
    return clean_block(message).replace("\t", "    "), False


class EventScreen(ModalScreen[None]):
    """A modal with one event: its time and source in the title, the text scrollable; esc, q, J or enter close."""

    BINDINGS = [Binding("escape,q,J,enter", "close", "Close")]
    DEFAULT_CSS = """
    EventScreen { align: center middle; }
    EventScreen > VerticalScroll { width: 110; max-width: 100%; height: 85%; border: round $accent;
        background: $surface; padding: 0 1; }
    EventScreen #event-note { color: $text-muted; }
    """

    def __init__(self, timestamp_ms: int, source: str, message: str) -> None:
        super().__init__()
        self.timestamp_ms = timestamp_ms
        self.source = source
        text, self.is_json = event_text(message[:MAX_EVENT_CHARS])
        if len(message) > MAX_EVENT_CHARS:
            text += f"\n… (+{len(message) - MAX_EVENT_CHARS:,} chars not shown)"
        self.text = text

    def compose(self) -> ComposeResult:
        when = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        title = f"{when:%Y-%m-%d %H:%M:%S}.{self.timestamp_ms % 1000:03d} UTC · {self.source}"
        kind = "JSON event, pretty-printed" if self.is_json else "event (not JSON), as stored"
        with VerticalScroll() as scroll:
            scroll.border_title = Content(clean(title, 100))  # a str border title parses markup
            scroll.border_subtitle = "esc: close"
            yield Static(Content(f"{kind}; control characters shown, colours not applied"), id="event-note")
            yield Static(Text(self.text, end=""), id="event-body")  # literal: never markup

    def action_close(self) -> None:
        self.dismiss(None)
