"""The S3 panel's transfer line: what is being uploaded or downloaded, and a progress bar.

The aws layer reports progress from the AWS loop's thread: :meth:`TransferLine.progress` only stores the two
numbers, and a timer on the UI side draws them ten times a second (no widget is touched off the UI thread, and
a fast transfer does not flood the app with messages).
"""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Label, ProgressBar


class TransferLine(Horizontal):
    DEFAULT_CSS = """
    TransferLine { height: 1; display: none; padding: 0 1; }
    TransferLine.-shown { display: block; }
    TransferLine #bk-transfer-label { width: auto; padding: 0 1 0 0; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(id=kwargs.pop("id", "bk-transfer"), **kwargs)
        self.active = False
        self.done = 0
        self.total = 0
        self.started = 0.0
        self.transfers = 0  # finished transfers, failed or not (tests wait on it)
        self.last: dict[str, Any] = {}  # the last one: ok, bytes, seconds (tests and bench/backup.py read it)
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label("", id="bk-transfer-label")
        yield ProgressBar(total=100, show_eta=True, id="bk-transfer-bar")

    def progress(self, done: int, total: int) -> None:
        """Called on the AWS loop: only stores numbers."""
        self.done, self.total = done, total

    def begin(self, what: str) -> None:
        self.active, self.done, self.total, self.started = True, 0, 0, time.perf_counter()
        self.add_class("-shown")
        self.query_one("#bk-transfer-label", Label).update(Content(what))
        if self._timer is None:
            self._timer = self.set_interval(0.1, self._draw)
        else:
            self._timer.resume()

    def _draw(self) -> None:
        if self.active:
            self.query_one("#bk-transfer-bar", ProgressBar).update(total=self.total or None, progress=self.done)

    def end(self, ok: bool, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        self.active = False
        if self._timer is not None:
            self._timer.pause()
        bar = self.query_one("#bk-transfer-bar", ProgressBar)
        bar.update(total=self.total or 1, progress=self.done if ok else bar.progress)
        self.query_one("#bk-transfer-label", Label).update(Content(message))
        self.last = {"ok": ok, "bytes": self.done, "seconds": elapsed}
        self.transfers += 1
