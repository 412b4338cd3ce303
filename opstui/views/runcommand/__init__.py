"""The Run Command tab: compose a command, confirm its blast radius, follow it live, read it grouped.

POLL_INTERVAL and EXPORT_DIR live here, on the package: the run panel reads them from it each time (the tests
and the bench set them here, as ``opstui.views.runcommand.POLL_INTERVAL``).
"""

from pathlib import Path

POLL_INTERVAL = 1.0  # seconds between tracker polls (each poll costs pages, not calls per node)
EXPORT_DIR = Path.home() / "opstui-runs"

from opstui.aws.models import CommandSummary  # noqa: E402
from opstui.runs.tracker import RunTracker  # noqa: E402
from opstui.views.runcommand.active import ActiveRun  # noqa: E402
from opstui.views.runcommand.view import RunCommandView  # noqa: E402

__all__ = ["EXPORT_DIR", "POLL_INTERVAL", "ActiveRun", "CommandSummary", "RunCommandView", "RunTracker"]
