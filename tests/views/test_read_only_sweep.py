"""Read-only mode end to end: every command of every tab, every panel and every confirmation answered "yes",
and the sandbox counts the calls it served. Not one mutating call may reach it.

Views grey their changing actions in read-only mode, but the palette runs actions without asking
``check_action``, so each action must refuse by itself; the walk answers any confirmation with yes and
submits any form that still opens. The views refuse before asking, so the aws layer's guard is checked
separately: the app's own clients, before and after a profile or region switch, refuse mutating calls.
"""

from __future__ import annotations

import pytest

from opstui.aws.errors import ReadOnlyError
from tests.helpers import loaded, make_app
from tests.read_only_walk import walk_read_only
from tests.sweep import FIRST_HALF


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
