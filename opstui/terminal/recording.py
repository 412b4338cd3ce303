"""asciicast v2 recordings of shell sessions (opt-in: `record_sessions = true` in the config file).

One file per session under the user data dir (e.g. ~/.local/share/opstui/recordings/), readable with
`asciinema play`. Output only: keystrokes are not recorded (passwords typed at prompts would be).

Flushed within FLUSH_SECONDS of every write (a timer on the running loop, or at once without one): an audit
copy that lags by a file buffer (8 KB, the last screenful or more) until the session closes is missing exactly
what an incident review wants when the app or the machine dies. A flood costs at most one flush per period.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import re
import time
from pathlib import Path

from platformdirs import user_data_path

from opstui.private_files import open_private

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: the longest a written event waits in the file buffer
FLUSH_SECONDS = 0.5


def recordings_dir() -> Path:
    return user_data_path("opstui") / "recordings"


class AsciicastWriter:
    def __init__(self, path: Path, cols: int, rows: int, title: str) -> None:
        self.path = path
        self._file = open_private(path, "w")  # 0600 in a 0700 folder: a shell's output can hold secrets
        self._started = time.monotonic()
        header = {"version": 2, "width": cols, "height": rows, "timestamp": int(time.time()), "title": title,
                  "env": {"TERM": "xterm-256color"}}
        self._file.write(json.dumps(header) + "\n")
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._flush_timer: asyncio.TimerHandle | None = None
        self.flush()  # the header: the file is a valid (empty) cast from the start

    @classmethod
    def for_session(cls, node_name: str, session_id: str, cols: int, rows: int) -> AsciicastWriter:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{_UNSAFE.sub('_', node_name)[:40]}-{_UNSAFE.sub('_', session_id)[:60]}.cast"
        return cls(recordings_dir() / name, cols, rows, f"{node_name} ({session_id})")

    def output(self, data: bytes) -> None:
        text = self._decoder.decode(data)  # a multibyte character split across chunks is kept for the next
        if text:
            self._file.write(json.dumps([round(time.monotonic() - self._started, 6), "o", text]) + "\n")
            self._flush_soon()

    def resize(self, cols: int, rows: int) -> None:
        self._file.write(json.dumps([round(time.monotonic() - self._started, 6), "r", f"{cols}x{rows}"]) + "\n")
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flush_timer is not None or self._file.closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_timer = loop.call_later(FLUSH_SECONDS, self._timed_flush)

    def _timed_flush(self) -> None:
        # disk full or gone: the next write or close() raises it to the caller, who can say so
        with contextlib.suppress(OSError):
            self.flush()

    def flush(self) -> None:
        self._flush_timer = None
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._file.closed:
            self._file.close()
