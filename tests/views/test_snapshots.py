"""Snapshot tests: every tab on the frozen demo fleet, at 200×50 and at the SSH user's 80×24.

What is compared is the screen's text, read from Textual's compositor, after masking what moves with the clock
(the sandbox's data is relative to the time it started: ages, times, dates, durations, sparklines and charts)
and collapsing runs of spaces. So a snapshot catches what matters for layout and content -- a list shrunk to
no rows, a column or badge cut off, a heading gone, a key missing from the footer, a new line of text -- and
not a ping that was 3 minutes old instead of 4. The full-fidelity SVGs for people to look at are made by
``screenshots/make.py``.

After a deliberate change: ``OPSTUI_SNAPSHOT_UPDATE=1 .venv/bin/python -m pytest tests/views/test_snapshots.py``,
then review ``git diff tests/views/snapshots/`` before committing.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from opstui.app import TAB_VIEWS
from tests.conftest import _start
from tests.helpers import loaded, make_app, wait_for

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIZES = [(200, 50), (80, 24)]
TABS = list(TAB_VIEWS)

_MASKS = [
    (re.compile(r"[▁▂▃▄▅▆▇█▏▎▍▌▋▊▉⠀-⣿]+"), "▒"),  # sparklines, bars and braille charts follow the clock
    (re.compile(r"[\d.,]*[kMG%]?┤[^│]*"), "┤▒ "),  # a chart row: its axis label and plot follow the data
    (re.compile(r"^[━╸╺]+$", re.M), "━"),  # the active tab's underline moves with the labels' counts
    (re.compile(r"\d"), "9"),
    (re.compile(r"9+(?:[.,:-]9+)*"), "9"),  # any number, time or date is one token
    (re.compile(r"\b9 ?(?:ms|s|m|h|d|min|sec)\b"), "9t"),  # and any duration or age
    (re.compile(r" {2,}"), " "),
]


#: hex ids the sandbox makes up at each start (a canary's Lambda function and its log streams), as the digit
#: mask leaves them: only the Logs tab shows them
_RUN_IDS = (re.compile(r"(?=[9a-f]*9)(?=[9a-f]*[a-f])[9a-f]{8,}"), "ID")


def masked(text: str, tab: str = "") -> str:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    if tab == "logs":
        text = _RUN_IDS[0].sub(_RUN_IDS[1], text)
    return text


#: tabs whose content follows the sandbox's live state even when frozen (an alarm's state depends on whether the
#: storefront answered its canary in time, which a loaded machine changes): their layout is compared -- the
#: boxes and their heights, the header, the tab bar and the footer -- not the text inside the boxes
STRUCTURE_ONLY = {"overview", "monitoring"}
_IN_BOX = re.compile(r"([│╭╰])[^│╮╯]*([│╮╯])")


def structure_only(text: str) -> str:
    lines = [re.sub(r" 9 in ALARM", "", _IN_BOX.sub(r"\1▯\2", line)) for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def screen_text(app, tab: str = "") -> str:
    strips = app.screen._compositor.render_strips()
    text = "\n".join(masked(strip.text, tab).rstrip() for strip in strips).rstrip() + "\n"
    return structure_only(text) if tab in STRUCTURE_ONLY else text


async def _settle(pilot, app, tab: str) -> None:
    view = app.tab(tab)

    def idle() -> bool:
        panels = list(view.panels()) if hasattr(view, "panels") else []
        if getattr(view, "busy", False) or any(p.busy for p in panels):
            return False
        return not panels or any(p.loaded for p in panels) or getattr(view, "loaded", True)

    await wait_for(pilot, idle, timeout=30)
    # then until the screen stops changing (a footer or a chart may paint a frame later)
    last, same = None, 0
    for _ in range(100):
        await pilot.pause(0.2)
        text = screen_text(app)
        same = same + 1 if text == last else 0
        if same >= 2 and idle():
            return
        last = text


@pytest.fixture(scope="module")
def snapshot_sandbox():
    """A sandbox of its own, frozen, that no other test changes (alarm states, runs, plans)."""
    proc, control = _start()
    control._send("POST", "alarms/evaluate", {})  # every alarm has its state before the first look
    yield control
    proc.stop()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_tab_matches_its_snapshot(snapshot_sandbox, size) -> None:
    app = make_app(snapshot_sandbox)
    update = os.environ.get("OPSTUI_SNAPSHOT_UPDATE") == "1"
    differences = []
    async with app.run_test(size=size) as pilot:
        await loaded(pilot, app)
        for tab in TABS:
            app.show_tab(tab)
            await wait_for(pilot, lambda tab=tab: app.query_one("#tabs").active == tab)
            await pilot.pause(0.2)
            await _settle(pilot, app, tab)
            got = screen_text(app, tab)
            path = SNAPSHOTS / f"{tab}-{size[0]}x{size[1]}.txt"
            if update or not path.exists():
                path.write_text(got, encoding="utf-8")
                continue
            want = path.read_text(encoding="utf-8")
            if got != want:
                differences.append("".join(difflib.unified_diff(
                    want.splitlines(keepends=True), got.splitlines(keepends=True), f"{path.name} (expected)", "got")))
    app.close_aws()
    assert not differences, "\n".join(differences)
