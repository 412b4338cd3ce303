"""What the UI-wide hostile walks check (tests/views/test_hostile_sweep*.py): every update the app would write
to the terminal, the markup probes, and the hostile sandbox they walk against (see test_hostile_sweep.py's
docstring for the rules)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.screen import Screen

from opstui.app import OpsApp
from opstui.demo import SandboxProcess
from tests.sandbox_control import SandboxControl

BAD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
TEXTUAL_ESCAPES = re.compile(r"\x1b\[[0-9;:?<=>]*[ -/]*[@-~]")  # CSI only: cursor moves, SGR, modes
PROBES = (("MARKUP-RED", "[red]", "[/red]"), ("MARKUP-BOLD", "[b]", "[/b]"), ("MARKUP-VAR", "[$accent]", "[/]"),
          ("MARKUP-ACTION", "[@click=app.quit]", "[/]"))
HOSTILE_OUTPUT = (r"printf '\033]0;pwned\007\033]52;c;cHduZWQ=\007\033[2J\033[31mred\033[0m "
                  r"[red]MARKUP-RED[/red] [b]MARKUP-BOLD[/b] \342\200\256evil\n'")


@contextlib.contextmanager
def own_hostile_sandbox() -> Iterator[SandboxControl]:
    """A module's own hostile sandbox: the walk answers no to every question, but some commands act at once."""
    with SandboxProcess(scenario="hostile", live=False, timeout=120) as proc:
        control = SandboxControl.of(proc)
        control.run_command_configure(delivery_timeout_scale=0.02)
        yield control


class TerminalWatch:
    """Checks every update the app would write to the terminal (see the module docstring)."""

    def __init__(self, app: OpsApp) -> None:
        self.app = app
        self.frames = 0
        self.violations: list[str] = []
        self.probes_seen: set[str] = set()
        self.stream_checks = 400  # the first 400 updates are also rendered to bytes and scanned
        original = app._display

        def display(screen: Screen, renderable: Any) -> None:
            self.check(renderable)
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]

    def _lines(self, update: Any) -> list[list[Any]]:
        if isinstance(update, LayoutUpdate):
            return [[seg for strip in line for seg in strip] for line in update.strips]
        if isinstance(update, ChopsUpdate):
            return [[seg for strip in line.values() if strip is not None for seg in strip] for line in update.chops]
        return []

    def _flag(self, what: str, line: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(f"{what}: {line[:160]!r}")

    def check(self, update: Any) -> None:
        lines = self._lines(update)
        if not lines:
            return
        self.frames += 1
        for segments in lines:
            text = "".join(seg.text for seg in segments)
            if BAD.search(text):
                self._flag("control character on screen", text)
            if any(seg.style is not None and seg.style.link for seg in segments):
                self._flag("hyperlink on screen", text)
            for word, opening, closing in PROBES:
                start = text.find(word)
                while start >= 0:
                    self.probes_seen.add(word)
                    if not (text[:start].endswith(opening) or text[start + len(word):].startswith(closing)):
                        self._flag(f"markup interpreted around {word}", text)
                    start = text.find(word, start + 1)
        if self.stream_checks:  # the bytes themselves, every few frames (the segments above are every frame)
            self.stream_checks -= 1
            stream = TEXTUAL_ESCAPES.sub("", update.render_segments(self.app.console))
            if "\x1b" in stream or BAD.search(stream.replace("\n", "")):
                self._flag("escape in the terminal stream", stream[stream.find("\x1b") - 20:])


async def decline(app: OpsApp, pilot: Any, screen: Screen) -> None:
    """No to every question; forms are shown (their titles checked) and closed without submitting."""
    await pilot.press("escape")
