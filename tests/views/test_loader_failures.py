"""A loader that raises (a bug, not an AWS error) is shown, as literal text, and the refresh goes on.

The sandbox cannot make opstui's own code raise, so these tests replace one aws-layer function the loader
calls with one that raises once (``monkeypatch``: the only way to produce a bug on purpose); every other call
goes to the sandbox as usual. The tabs the helpers migrated have the same test in their own modules.
"""

from __future__ import annotations

from typing import Any

from tests.helpers import make_app, wait_for


class Broken:
    """Stands in for an aws-layer coroutine function: raises while ``broken`` is set, else calls the real one."""

    def __init__(self, real: Any) -> None:
        self.real, self.broken = real, True

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.broken:
            raise RuntimeError("boom [bold]not markup[/bold]")
        return await self.real(*args, **kwargs)


async def test_overview_loader_raising_is_shown_and_the_next_refresh_runs(sandbox, monkeypatch):
    import opstui.views.overview.view as overview

    broken = Broken(overview.gather_health)
    monkeypatch.setattr(overview, "gather_health", broken)
    app = make_app(sandbox, tab="overview")
    async with app.run_test(size=(170, 44)) as pilot:
        view = app.tab("overview")
        await wait_for(pilot, lambda: view.failures)
        assert "RuntimeError: boom [bold]not markup[/bold]" in view.failures[0]
        status = str(view.query_one("#overview-status").render())
        assert "boom [bold]not markup[/bold]" in status  # literal, not markup
        broken.broken = False
        app.ctx.nav.refresh_fleet()
        await wait_for(pilot, lambda: view.loads >= 1)
        assert any(line.key == "h:alarms" for line in view.lines)
    app.close_aws()


async def test_monitoring_loader_raising_is_shown_and_the_refresh_chain_goes_on(sandbox, monkeypatch):
    import opstui.views.monitoring.alarms as alarms

    broken = Broken(alarms.cw.describe_alarms)  # the Overview calls it too: it shows its own error line
    monkeypatch.setattr(alarms.cw, "describe_alarms", broken)
    app = make_app(sandbox, refresh=0.3, tab="overview")
    async with app.run_test(size=(170, 44)) as pilot:
        await wait_for(pilot, lambda: app.tab("overview").failures or app.tab("overview").loads)
        app.show_tab("monitoring")
        view = app.tab("monitoring")
        # per-region calls turn it into each region's error line, naming the region and the exception type
        await wait_for(pilot, lambda: "unexpected failure: RuntimeError" in " ".join(view.status_lines()))
        status = str(view.query_one("#monitoring-status").render())
        assert all(f"[{region}/cloudwatch] unexpected failure: RuntimeError" in status for region in app.ctx.regions)
        broken.broken = False
        loads = view.alarm_loads
        await wait_for(pilot, lambda: view.alarm_loads > loads)  # the timer's next refresh, nothing pressed
        await wait_for(pilot, lambda: not view.status_lines())
    app.close_aws()
