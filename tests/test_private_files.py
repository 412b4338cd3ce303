"""Files with what nodes printed are created private: 0600 in 0700 folders, from the first byte."""

from __future__ import annotations

import os

from opstui.private_files import open_private, private_dir, write_private
from opstui.terminal.recording import AsciicastWriter, recordings_dir


def test_shell_recordings_are_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    writer = AsciicastWriter.for_session("prod-web-01", "sandbox-operator-0123456789abcdef0", 80, 24)
    writer.output(b"secret\r\n")
    writer.close()
    assert writer.path.parent == recordings_dir()
    assert writer.path.stat().st_mode & 0o777 == 0o600
    assert recordings_dir().stat().st_mode & 0o777 == 0o700


def test_private_files_are_0600_even_under_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "a" / "b")
        path = write_private(folder / "out.txt", "x")
        with open_private(folder / "log.bin", "wb") as fh:
            fh.write(b"y")
    finally:
        os.umask(old)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    assert (folder / "log.bin").stat().st_mode & 0o777 == 0o600


def test_an_existing_file_is_made_private_when_rewritten(tmp_path):
    path = tmp_path / "old.txt"
    path.write_text("public")
    path.chmod(0o644)
    write_private(path, "now private")
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "now private"
