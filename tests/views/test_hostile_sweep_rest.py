"""Untrusted text never reaches the user's terminal raw: the second half of the UI-wide walk (see
test_hostile_sweep.py for what is checked on every frame): every tab after Monitoring (Backup, Logs, and any
tab added later), a restore's confirmation (it names the point's node), and log events whose text attacks the
terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest

from tests.helpers import loaded, make_app, wait_for
from tests.hostile_watch import TerminalWatch, decline, own_hostile_sandbox
from tests.sandbox_control import SandboxControl
from tests.sweep import SECOND_HALF, walk_app

HOSTILE_EVENTS = ("\x1b]0;pwned\x07\x1b[2J [red]MARKUP-RED[/red] level=ERROR",
                  '{"level": "ERROR", "msg": "\u001b]52;c;cHduZWQ=\u0007 [b]MARKUP-BOLD[/b]", "latency_ms": 5}')


@pytest.fixture(scope="module")
def hostile() -> Iterator[SandboxControl]:
    with own_hostile_sandbox() as control:
        yield control


def hostile_point(point) -> bool:
    """A completed recovery point of the node whose Name tag breaks lines ("line1\\nline2")."""
    return "line1" in (point.resource_name or "") and point.status == "COMPLETED"


@pytest.mark.timeout(240)
async def test_no_screen_of_the_other_tabs_lets_hostile_text_reach_the_terminal_raw(hostile):
    logs = boto3.client("logs", region_name=hostile.regions[0], endpoint_url=hostile.endpoint,
                        **hostile.boto_kwargs())
    group = "/hostile/[red]MARKUP-RED[/red]/app"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="i-0\x1b[2Jstream")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="i-0\x1b[2Jstream",
                        logEvents=[{"timestamp": now - 1000 + i, "message": m} for i, m in enumerate(HOSTILE_EVENTS)])
    app = make_app(hostile)
    watch = TerminalWatch(app)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot, app)
        walk = await walk_app(app, pilot, decline, tabs=SECOND_HALF, global_commands=False)
        # a restore's confirmation names the point's node (a hostile Name tag)
        backup = app.backup_view
        await app.run_action("command('backup-points')")
        await wait_for(pilot, lambda: backup.table("bk-vaults").rows)
        await backup.run_action("panel_action('open')")
        points = backup.table("bk-points")
        await wait_for(pilot, lambda: any(hostile_point(p) for p in points.rows))
        points.move_cursor(next(i for i, p in enumerate(points.visible_rows()) if hostile_point(p)))
        await app.run_action("command('backup-restore')")
        await wait_for(pilot, lambda: len(app.screen_stack) > 1)
        await pilot.pause(0.2)
        await pilot.press("escape")
        await pilot.pause()
    app.close_aws()
    assert not walk.errors, walk.errors
    assert watch.frames > 50
    assert watch.violations == [], "\n".join(watch.violations)
    assert "MARKUP-RED" in watch.probes_seen, watch.probes_seen
