"""An unexpected failure in a loader of the Run Command tab is shown, and the tab goes on."""

from __future__ import annotations

from opstui.aws import ssm
from opstui.views.runcommand.form import FormPanel
from tests.helpers import loaded, make_app, wait_for


async def test_an_unexpected_document_list_failure_is_shown_and_r_recovers(sandbox, monkeypatch):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        await loaded(pilot, app)
        view = app.run_view
        form = view.query_one(FormPanel)
        await wait_for(pilot, lambda: form.loaded and not form.busy and view.form.detail is not None)
        app.show_tab("run")
        await pilot.pause()

        # A bug, not an AWS error: the sandbox cannot produce one (the aws layer turns whatever AWS answers
        # into an OpsError), so the aws-layer call of the form's document list is made to raise.
        async def boom(*args, **kwargs):
            raise RuntimeError("boom")

        monkeypatch.setattr(ssm, "list_documents", boom)
        loads = form.loads
        app.action_refresh()  # `r`
        await wait_for(pilot, lambda: view.failures and not form.busy)
        assert "RuntimeError: boom" in view.failures[-1]
        assert any("boom" in n.message for n in app._notifications)
        assert "boom" in str(view.query_one("#run-status").render())
        assert form.loads == loads  # a failed load is not counted
        # the app goes on: another tab and back, the form still holds its document
        app.show_tab("fleet")
        await pilot.pause()
        app.show_tab("run")
        await pilot.pause()
        assert app.is_running and view.form.detail is not None

        monkeypatch.undo()
        app.action_refresh()
        await wait_for(pilot, lambda: form.loads > loads and not form.busy)
        assert "Command documents" in str(view.form.query_one("#rc-doc-info").render())
    app.close_aws()
