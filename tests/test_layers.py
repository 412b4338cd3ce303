"""The layers hold (the contracts are in pyproject.toml, [tool.importlinter]): aws/, session/ and runs/ never
import Textual, views never import the AWS SDK, only the sandbox imports moto, and no tab imports another
tab's package. Run with the suite so a layer cannot rot between reviews."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "4 kept, 0 broken" in done.stdout
