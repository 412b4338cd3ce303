"""The Run Command run table tells the truth while a run streams (issue 15): the Output column is a size and
the first line, Time is the invocation's start to end (or the time elapsed while it runs), a node whose output
already streams is not "Pending · exit -1", and the history shows one row per run with its regions. Against
the real sandbox; the run spans both regions, so it is two SSM commands."""

from __future__ import annotations

import pytest

from opstui.views import runcommand
from opstui.views.runcommand.confirm import ConfirmRunScreen
from tests.helpers import loaded, make_app, wait_for


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch):
    monkeypatch.setattr(runcommand, "POLL_INTERVAL", 0.2)


def cell(table, row, key: str) -> str:
    pos = next(i for i, r in enumerate(table.rows) if table.row_key(r) == table.row_key(row))
    return table.cells[pos][[c.key for c in table.columns].index(key)]


def seconds(text: str) -> float:
    assert text.endswith("s") and not text.startswith("<"), text
    return float(text[:-1])


async def test_run_table_output_time_status_and_one_history_row_per_run(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot, app)
        view = app.run_view
        await wait_for(pilot, lambda: view.form.detail is not None and view.form.commands_area() is not None)
        names = ["stg-web-01", "dr-app-01"]  # one node in each region
        nodes = [n for n in app.fleet_view.table.rows if n.name in names]
        assert {n.region for n in nodes} == set(sandbox.regions)
        app.ctx.fleet.select(n.key for n in nodes)
        app.show_tab("run")
        await pilot.pause()
        view.form.commands_area().text = "echo first-line-of-output; sleep 8; echo done"
        view.form.query_one("#rc-comment").value = "run table truth"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        await pilot.press(*str(len(nodes)), "enter")  # a prod node in the target: the count is typed
        await wait_for(pilot, lambda: view.run is not None and view.run.states)
        table = view.run_panel.nodes_table
        panel = view.run_panel
        # while it runs: the first line has streamed, the node is running, no exit code, time counting
        await wait_for(pilot, lambda: any(s.stdout_chars for s in view.run.states.values()), timeout=10)
        streaming = next(s for s in view.run.states.values() if s.stdout_chars)
        assert not view.run.finished
        assert streaming.outcome == "InProgress" and streaming.exit_code is None
        assert cell(table, streaming, "exit") == ""
        output = cell(table, streaming, "output")
        assert output.endswith("first-line-of-output") and " B" in output, output
        table.move_cursor(next(i for i, pos in enumerate(table.order_shown)
                               if table.rows[pos].key == streaming.key))
        await pilot.pause()
        title = str(panel.output.border_title)
        assert "Pending" not in title, title
        if not view.run.states[streaming.key].done:  # (a slow machine may have let it finish meanwhile)
            assert "exit" not in title, title
        await wait_for(pilot, lambda: cell(table, view.run.states[streaming.key], "time") != "", timeout=5)
        running_time = cell(table, view.run.states[streaming.key], "time")
        # finished: the real start-to-end time of `sleep 8`, the exit code AWS gave
        await wait_for(pilot, lambda: view.run.finished, timeout=40)
        await pilot.pause()
        for state in view.run.states.values():
            assert state.outcome == "Success" and state.exit_code == 0
            assert 8.0 <= seconds(cell(table, state, "time")) < 40
            assert cell(table, state, "exit") == "0"
        assert running_time == "<0.1s" or seconds(running_time) < 40
        # history: one row for the run, both regions named
        sent = {c.command_id for c in view.run.tracker.commands}
        assert len(sent) == 2
        await pilot.press("h")
        history = view.history.commands_table
        await wait_for(pilot, lambda: any(set(r.command_ids) & sent for r in history.rows))
        rows = [r for r in history.rows if set(r.command_ids) & sent]
        assert len(rows) == 1 and set(rows[0].command_ids) == sent
        regions = cell(history, rows[0], "region")
        assert all(region in regions for region in sandbox.regions), regions
        assert cell(history, rows[0], "targets") == "2/2"
        # reopening it follows both commands again
        history.move_cursor(next(i for i, pos in enumerate(history.order_shown)
                                 if history.rows[pos].key == rows[0].key))
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.panel == "run" and len(view.run.states) == 2)
        assert {c.command_id for c in view.run.tracker.commands} == sent
    app.close_aws()
