"""Read-only mode end to end: every command of every tab, every panel and every confirmation answered "yes",
and the sandbox counts the calls it served. Not one mutating call may reach it.

Views grey their changing actions in read-only mode, but the palette runs actions without asking
``check_action``, so each action must refuse by itself; the walk answers any confirmation with yes and
submits any form that still opens. The views refuse before asking, so the aws layer's guard is checked
separately: the app's own clients, before and after a profile or region switch, refuse mutating calls.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.screen import Screen

from opstui.app import OpsApp
from opstui.aws.clients import is_read_operation
from opstui.aws.errors import ReadOnlyError
from tests.helpers import loaded, make_app
from tests.sweep import FIRST_HALF, walk_app


async def confirm_everything(app: OpsApp, pilot: Any, screen: Screen) -> None:
    """Yes to every question, submit every form: the worst a user can do."""
    keys = {b.key for b in screen.BINDINGS if hasattr(b, "key")}
    if "y" in keys:
        await pilot.press("y")
    elif any("ctrl+s" in k for k in keys):
        await pilot.press("ctrl+s")
    elif screen.query("#confirm-run"):
        await pilot.click("#confirm-run")


def mutating(calls: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in calls.items() if not is_read_operation(k.split(":", 1)[1])}


async def walk_read_only(sandbox: Any, tabs: tuple[str, ...], *, extras: bool) -> None:
    """The walk over ``tabs`` in a read-only app; ``extras``: also the global commands and the palette's own
    entries beyond the registry (a shell, a region switch and back)."""
    sandbox.clear_calls()
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        fleet = await loaded(pilot, app)
        fleet.table.select_visible()  # the Fleet selection is what backup-now, shells and run take
        walk = await walk_app(app, pilot, confirm_everything, tabs=tabs, global_commands=extras)
        if extras:
            await app.run_action("command('fleet-shell')")
            app.switch(regions=(sandbox.regions[0],))
            await loaded(pilot, app, count=1)
            app.switch(regions=tuple(sandbox.regions))
            await loaded(pilot, app, count=1)
    calls = sandbox.calls()
    assert mutating(calls) == {}, mutating(calls)
    assert len(walk.actions) > 40 and not walk.errors, walk.errors
    assert sum(calls.values()) > 40  # the walk did load every tab and panel it visited
    app.close_aws()


@pytest.mark.timeout(240)
async def test_every_command_of_the_first_tabs_in_read_only_mode_sends_no_mutating_call(sandbox):
    """The Overview, Fleet, Shells, Run Command, Inventory and Monitoring, and the palette's extras (the other tabs:
    test_read_only_sweep_rest.py, on another worker)."""
    await walk_read_only(sandbox, FIRST_HALF, extras=True)


@pytest.mark.parametrize("switch", [None, "region", "profile"])
async def test_the_apps_own_clients_refuse_mutating_calls_in_read_only_mode(sandbox, switch, tmp_path, monkeypatch):
    """The views grey their buttons first; this checks the layer under them, as app.py builds it."""
    config = tmp_path / "aws-config"
    config.write_text("[profile ops]\nregion = ap-northeast-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        if switch == "region":
            app.switch(regions=(sandbox.regions[0],))
        elif switch == "profile":
            app.switch(profile="ops")
        region = sandbox.regions[0]
        assert app.aws.read_only
        for service, operation, params in (
            ("ec2", "stop_instances", {"InstanceIds": ["i-0123456789abcdef0"]}),
            ("ssm", "start_session", {"Target": "i-0123456789abcdef0"}),
            ("cloudwatch", "set_alarm_state", {"AlarmName": "x", "StateValue": "OK", "StateReason": "x"}),
        ):
            with pytest.raises(ReadOnlyError):
                await app.aws_loop.run(app.aws.call(service, region, operation, **params))
    app.close_aws()
