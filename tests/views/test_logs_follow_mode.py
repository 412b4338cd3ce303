"""The Logs viewer follows through Live Tail where the sandbox serves it and says so in the status line; where
StartLiveTail is refused (the sandbox's "unsupported" knob) it polls, and says that and why."""

from __future__ import annotations

import time
import uuid

from opstui.aws.logs import FollowTarget
from tests.helpers import loaded, make_app, wait_for

R1 = "ap-northeast-1"


async def _put(app, group: str, message: str, create: bool = False) -> None:
    async def put() -> None:
        if create:
            await app.aws.call("logs", R1, "create_log_group", logGroupName=group)
            await app.aws.call("logs", R1, "create_log_stream", logGroupName=group, logStreamName="s")
        await app.aws.call("logs", R1, "put_log_events", logGroupName=group, logStreamName="s",
                           logEvents=[{"timestamp": int(time.time() * 1000), "message": message}])

    await app.aws_loop.run(put())


def _status(view) -> str:
    return view.viewer_panel.status_info()


async def _follow(pilot, app, group: str):
    """The group made with one line, and the Logs tab following it: its viewer panel."""
    await loaded(pilot, app)
    await _put(app, group, "history", create=True)
    app.show_tab("logs")
    app.logs_view.follow([FollowTarget(R1, group)])
    return app.logs_view.viewer_panel


async def test_following_uses_live_tail_and_a_put_line_shows_without_a_filter_call(sandbox):
    app = make_app(sandbox)
    group = f"/t/{uuid.uuid4().hex[:8]}/live"
    async with app.run_test(size=(160, 40)) as pilot:
        panel = await _follow(pilot, app, group)
        view = app.logs_view
        await wait_for(pilot, lambda: panel.viewer.lines and panel.follower and panel.follower.mode == "live tail")
        assert "live tail (1 StartLiveTail session)" in _status(view)
        filters = app.aws.calls["logs:FilterLogEvents"]
        await _put(app, group, "pushed line")
        await wait_for(pilot, lambda: any("pushed line" in t for t in panel.viewer.line_texts()))
        assert app.aws.calls["logs:FilterLogEvents"] == filters  # it came through the Live Tail stream
    app.close_aws()


async def test_a_refused_live_tail_polls_and_the_status_line_says_why(sandbox):
    app = make_app(sandbox)
    group = f"/t/{uuid.uuid4().hex[:8]}/polled"
    sandbox.live_tail(supported=False)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            panel = await _follow(pilot, app, group)
            view = app.logs_view
            await wait_for(pilot, lambda: panel.viewer.lines and panel.follower.mode == "polling")
            status = _status(view)
            assert "polling every 2 s" in status and "UnknownOperationException" in status
            await _put(app, group, "polled line")
            await wait_for(pilot, lambda: any("polled line" in t for t in panel.viewer.line_texts()))
        app.close_aws()
    finally:
        sandbox.live_tail(supported=True)
