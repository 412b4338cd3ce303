"""Files only the user can read: folders 0700, files 0600, from the moment they exist.

Shell recordings, Run Command and Inventory exports hold what nodes printed (secrets included, at times), so
they are created private rather than made private afterwards: a file opened with the default umask (0644)
is readable by every local user until a later chmod, and a chmod that never comes leaves it open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents, each 0700 (mkdir's ``mode`` spares the parents), and make
    ``path`` itself 0700 if it existed."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    os.chmod(path, 0o700)
    return path


def create_folders(path: Path) -> Path | None:
    """Create the folder ``path`` and its missing parents, each 0700 (a download of a node's files is as
    private as an export); folders that exist are left as they are. Returns the topmost folder created (None
    when ``path`` existed), so the caller can say what it made."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    return missing[-1] if missing else None


def open_private(path: Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> IO:
    """Open a new file for writing with mode 0600 from its creation (its folder made 0700)."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding=encoding, newline=newline)


def write_private(path: Path, text: str, encoding: str = "utf-8") -> Path:
    with open_private(path, "w", encoding) as fh:
        fh.write(text)
    return path
