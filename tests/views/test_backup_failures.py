"""An unexpected failure in one of the Backup tab's loaders: shown (a notification and the status line, with the
message), the app keeps running, and the refresh goes on, so the tab recovers by itself once the cause is gone.

AWS failures arrive as OpsError (the status line says what and where); anything else out of a loader is a bug.
The sandbox answers like AWS and cannot produce one, so the aws-layer function the jobs panel calls is
patched to raise RuntimeError("boom")."""

from __future__ import annotations

from textual.widgets import Static

from opstui.aws import backup as bk
from tests.helpers import loaded, make_app, wait_for


async def test_an_unexpected_loader_failure_is_shown_and_the_refresh_goes_on(sandbox, monkeypatch):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot, app)

        async def boom(*_args, **_kwargs):
            raise RuntimeError("boom")

        monkeypatch.setattr(bk, "list_jobs", boom)  # something the sandbox cannot produce
        app.show_tab("backup")
        view = app.backup_view
        jobs = view.panel_named("jobs")
        await wait_for(pilot, lambda: view.failures)
        await pilot.pause()
        assert "RuntimeError: boom" in view.failures[-1]
        assert any("RuntimeError: boom" in n.message for n in app._notifications)
        assert "boom" in str(view.query_one("#backup-status", Static).render())
        assert jobs.loads == 0 and not jobs.busy
        assert view._timer is not None  # the refresh is re-armed after the failure
        # the app goes on: keys still work
        await pilot.press("2")
        await wait_for(pilot, lambda: view.plan_loads >= 1)
        await pilot.press("1")
        assert app.is_running and view.panel == "jobs"
        # the cause is gone: the next refresh loads the jobs
        monkeypatch.undo()
        view._timer.stop()
        view._tick()  # the refresh interval passed
        await wait_for(pilot, lambda: jobs.loads >= 1)
        assert view.table("bk-jobs").rows and view._timer is not None
    app.close_aws()
