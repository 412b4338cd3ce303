"""An unexpected failure inside an Inventory loader: shown, the app keeps running, the refresh goes on."""

from __future__ import annotations

from opstui.aws import ssm_inventory as inv
from tests.helpers import loaded, make_app, wait_for


async def test_an_unexpected_loader_failure_is_shown_and_the_refresh_goes_on(sandbox, monkeypatch):
    # A bug, not an AWS error: the aws layer turns every AWS failure into an OpsError (a status line), and the
    # sandbox can only answer like AWS does, so the exception is made here by replacing the aws-layer call the
    # summary loader makes.
    async def boom(aws, region):
        raise RuntimeError("boom")

    app = make_app(sandbox)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await loaded(pilot, app)
        app.show_tab("inventory")
        view = app.inventory_view
        await wait_for(pilot, lambda: view.node_loads >= 1 and view.setup_loads >= 1)
        summary = view.panel_named("summary")
        monkeypatch.setattr(inv, "inventory_summary", boom)
        await pilot.press("u")
        await wait_for(pilot, lambda: view.failures and not summary.busy)
        assert "RuntimeError: boom" in view.failures[-1] and "summary" in view.failures[-1]
        assert any("boom" in n.message for n in app._notifications)
        assert "boom" in str(app.query_one("#inventory-status").render())
        assert summary.loads == 0 and app.is_running
        assert not view.AUTO_REFRESH and view._timer is None  # the Inventory reloads on `r` only
        # the call works again: the next reload (`r`) loads, and the tab is whole again
        monkeypatch.undo()
        view.reload()
        await wait_for(pilot, lambda: summary.loads >= 1)
        assert view.summaries == 1 and view.table("inv-by-platform").rows
        assert view._timer is None
    app.close_aws()
