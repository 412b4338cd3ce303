"""asciicast v2 recordings of shell sessions (opt-in: `record_sessions = true` in the config file).

One file per session under the user data dir (e.g. ~/.local/share/opstui/recordings/), readable with
`asciinema play`. Output only: keystrokes are not recorded (passwords typed at prompts would be).
"""

from __future__ import annotations

import codecs
import json
import re
import time
from pathlib import Path

from platformdirs import user_data_path

from opstui.private_files import open_private

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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

    @classmethod
    def for_session(cls, node_name: str, session_id: str, cols: int, rows: int) -> AsciicastWriter:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{_UNSAFE.sub('_', node_name)[:40]}-{_UNSAFE.sub('_', session_id)[:60]}.cast"
        return cls(recordings_dir() / name, cols, rows, f"{node_name} ({session_id})")

    def output(self, data: bytes) -> None:
        text = self._decoder.decode(data)  # a multibyte character split across chunks is kept for the next
        if text:
            self._file.write(json.dumps([round(time.monotonic() - self._started, 6), "o", text]) + "\n")

    def resize(self, cols: int, rows: int) -> None:
        self._file.write(json.dumps([round(time.monotonic() - self._started, 6), "r", f"{cols}x{rows}"]) + "\n")

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
