"""Faults in the Logs tab: an unexpected loader failure (a bug) and AWS refusing (an OpsError) are shown as
literal text naming what failed where, and the tab recovers by itself.

The sandbox answers like AWS and cannot make opstui's code raise, so the aws-layer function the groups
panel calls is patched to raise once (``monkeypatch``); the AWS faults come from the sandbox's fault knob."""

from __future__ import annotations

import time
import uuid

from textual.widgets import Static

import opstui.views.logs.groups as groups_module
from tests.helpers import loaded, make_app, wait_for


class Broken:
    def __init__(self, real):
        self.real, self.broken = real, True

    async def __call__(self, *args, **kwargs):
        if self.broken:
            raise RuntimeError("boom [bold]not markup[/bold]")
        return await self.real(*args, **kwargs)


async def test_groups_loader_raising_is_shown_and_the_refresh_goes_on(sandbox, monkeypatch):
    broken = Broken(groups_module.lg.describe_log_groups)
    monkeypatch.setattr(groups_module.lg, "describe_log_groups", broken)
    app = make_app(sandbox, refresh=0.3)
    async with app.run_test(size=(180, 44)) as pilot:
        await loaded(pilot, app)
        app.show_tab("logs")
        view = app.logs_view
        status = view.query_one("#logs-status", Static)
        # per-region calls turn it into each region's error line, naming the region and the exception type
        await wait_for(pilot, lambda: "unexpected failure: RuntimeError" in " ".join(view.status_lines()))
        assert all(f"[{r}/logs] unexpected failure: RuntimeError" in str(status.render()) for r in app.ctx.regions)
        broken.broken = False
        loads = view.groups_panel.loads
        await wait_for(pilot, lambda: view.groups_panel.loads > loads)  # the timer's next refresh, nothing pressed
        await wait_for(pilot, lambda: not view.status_lines())
    app.close_aws()


async def test_a_denied_group_while_following_is_a_line_and_the_other_groups_go_on(sandbox):
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group = f"/t/{tag}/ok"
    async with app.run_test(size=(180, 44)) as pilot:
        await loaded(pilot, app)

        async def put() -> None:
            await app.aws.call("logs", "ap-northeast-1", "create_log_group", logGroupName=group)
            await app.aws.call("logs", "ap-northeast-1", "create_log_stream", logGroupName=group, logStreamName="s")
            await app.aws.call("logs", "ap-northeast-1", "put_log_events", logGroupName=group, logStreamName="s",
                               logEvents=[{"timestamp": int(time.time() * 1000) - 1000, "message": "still here"}])

        await app.aws_loop.run(put())
        app.show_tab("logs")
        view = app.logs_view
        from opstui.aws.logs import FollowTarget

        view.follow([FollowTarget("ap-northeast-1", group), FollowTarget("ap-northeast-1", f"/t/{tag}/gone")])
        viewer = view.viewer_panel.viewer
        await wait_for(pilot, lambda: viewer.lines and view.viewer_panel.errors)
        assert "still here" in viewer.line_texts()[0]
        assert f"/t/{tag}/gone" in view.viewer_panel.errors[0] and "not found" in view.viewer_panel.errors[0]
        sandbox.add_fault("AccessDenied", service="logs", action="FilterLogEvents")
        polls = view.viewer_panel.polls
        await wait_for(pilot, lambda: view.viewer_panel.polls > polls
                       and any("logs:FilterLogEvents" in e for e in view.viewer_panel.errors))
        assert "still here" in viewer.line_texts()[0]  # what was shown stays
        sandbox.clear_faults()
    app.close_aws()
