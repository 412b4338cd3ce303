"""Pilot tests of the Run Command tab against the real sandbox (aiobotocore -> HTTP -> moto + extensions)."""

from __future__ import annotations

import json
import re

import pytest

from opstui.views import runcommand
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.runcommand import RunCommandView
from opstui.views.runcommand.confirm import ConfirmRunScreen
from tests.helpers import loaded, make_app, wait_for

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch):
    monkeypatch.setattr(runcommand, "POLL_INTERVAL", 0.2)


async def ready(pilot, app) -> RunCommandView:
    """Fleet loaded and the form showing AWS-RunShellScript's parameters."""
    await loaded(pilot, app)
    view = app.run_view
    await wait_for(pilot, lambda: view.form.detail is not None and view.form.commands_area() is not None)
    return view


def select_nodes(app, names: list[str]) -> list:
    """Select in the Fleet as its space key does: through the app's fleet model (the Run tab reads it)."""
    nodes = [n for n in app.fleet_view.table.rows if n.name in names]
    app.ctx.fleet.select(n.key for n in nodes)
    return nodes


async def compose(pilot, view: RunCommandView, commands: str, target: str | None = None) -> None:
    area = view.form.commands_area()
    area.text = commands
    if target is not None:
        view.form.query_one("#rc-target").value = target
    await pilot.pause()


def output_text(view: RunCommandView) -> str:
    return "\n".join(view.run_panel.output.plain_lines())


async def send_and_confirm(pilot, app, view: RunCommandView, typed: str | None = None) -> None:
    runs = view.sent_runs
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
    screen = app.screen
    if typed is not None:
        await pilot.press(*typed, "enter")
    else:
        await pilot.click("#confirm-run")
    await wait_for(pilot, lambda: view.sent_runs > runs and not isinstance(app.screen, ConfirmRunScreen))
    assert screen is not app.screen


async def finished(pilot, view: RunCommandView, timeout: float = 20) -> None:
    await wait_for(pilot, lambda: view.run is not None and view.run.finished, timeout)
    await pilot.pause()


async def test_fleet_selection_send_confirm_output_groups_diff_and_rerun_failed(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        nodes = select_nodes(app, ["stg-web-01", "stg-app-01", "stg-db-01"])
        odd = next(n for n in nodes if n.name == "stg-db-01")
        app.show_tab("run")
        await pilot.pause()
        assert view.form.target_mode == "fleet" and "3 nodes" in str(view.form.query_one("#rc-t-fleet").label)
        await compose(pilot, view, f'if [ "$AWS_SSM_INSTANCE_ID" = {odd.instance_id} ]; then echo odd; exit 3; fi\n'
                                   "echo same")
        await send_and_confirm(pilot, app, view)
        assert view.panel == "run"
        await finished(pilot, view)
        states = view.run.states
        assert len(states) == 3 and app.aws.calls["ssm:SendCommand"] == 1
        assert {s.name: (s.outcome, s.exit_code) for s in states.values()} == {
            "stg-web-01": ("Success", 0), "stg-app-01": ("Success", 0), "stg-db-01": ("Failed", 3)}
        await wait_for(pilot, lambda: output_text(view).strip() in ("same", "odd"))
        # grouped: the two identical answers in one block, the odd one apart, largest first
        await pilot.press("g")
        groups = view.run_panel.groups_table
        await wait_for(pilot, lambda: len(groups.rows) == 2)
        assert [(g.label, g.size, g.exit_code) for g in groups.rows] == [
            ("stg-app-01,stg-web-01", 2, 0), ("stg-db-01", 1, 3)]
        assert output_text(view).strip() == "same"
        assert "stg-app-01,stg-web-01" in str(view.run_panel.output.border_title)
        await pilot.press("down", "d")
        await wait_for(pilot, lambda: view.run_panel.output.diff is not None)
        diff = output_text(view)
        assert "-same" in diff and "+odd" in diff and "exit code 0 -> 3" in diff
        # re-run on the failed node only: the same command, confirmation again, one node
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        assert app.screen.radius.count == 1 and app.screen.radius.nodes[0].name == "stg-db-01"
        first = view.run
        await pilot.click("#confirm-run")
        await wait_for(pilot, lambda: view.run is not first)
        await finished(pilot, view)
        assert [s.name for s in view.run.states.values()] == ["stg-db-01"]
        assert view.run.request.parameters == first.request.parameters
        assert app.aws.calls["ssm:SendCommand"] == 2
    app.close_aws()


async def test_streaming_output_shows_before_the_end_then_cancel(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        await compose(pilot, view, "echo first; sleep 30; echo never", "stg-web-01")
        await send_and_confirm(pilot, app, view)
        await wait_for(pilot, lambda: "first" in output_text(view), timeout=10)
        assert not view.run.finished
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await finished(pilot, view, timeout=15)
        state = next(iter(view.run.states.values()))
        # a cancelled invocation ends Cancelled/Cancelled (GetCommandInvocation), with the agent's exit code 137
        assert (state.status, state.details, state.outcome) == ("Cancelled", "Cancelled", "Cancelled")
        assert "never" not in output_text(view)
        assert app.aws.calls["ssm:CancelCommand"] == 1
    app.close_aws()


async def test_hostile_command_output_is_shown_literally(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        script = ("printf '\\033]0;pwned\\007\\033[31mred\\033[0m [bold]x[/bold] [link=https://e.x]l[/link]\\n'\n"
                  "printf '\\033[2J\\033[Hclear\\r\\n\\033]8;;https://e.x\\007click\\033]8;;\\007\\n'\n"
                  "head -c 300000 /dev/zero | tr '\\0' 'z'; echo; echo err >&2")
        await compose(pilot, view, script, "stg-web-01")
        await send_and_confirm(pilot, app, view)
        await finished(pilot, view)
        await wait_for(pilot, lambda: "[bold]x[/bold]" in output_text(view))
        pane = view.run_panel.output
        lines = ["".join(seg.text for seg in pane.render_line(y)) for y in range(pane.size.height)]
        for line in lines:
            assert not CONTROL.search(line), repr(line)
        assert any("[link=https://e.x]l[/link]" in line for line in lines)
        assert not any(seg.style and seg.style.link for y in range(pane.size.height) for seg in pane.render_line(y))
        await pilot.press("g")
        await wait_for(pilot, lambda: len(view.run_panel.groups_table.rows) == 1)
        assert "[bold]x[/bold]" in output_text(view)
    app.close_aws()


async def test_read_only_refuses_and_sends_nothing(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        await compose(pilot, view, "uptime", "tag:Role=web")
        assert view.form.query_one("#rc-send").disabled
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmRunScreen)
        assert "read-only" in str(view.form.query_one("#rc-problems").render())
        assert app.aws.calls["ssm:SendCommand"] == 0
        assert view.form.commands_area().text == "uptime"  # nothing typed is lost
    app.close_aws()


def problems(view: RunCommandView) -> str:
    return str(view.form.query_one("#rc-problems").render())


async def press_send_expect_problem(pilot, app, view: RunCommandView, needle: str) -> str:
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: needle in problems(view), timeout=10)
    assert not isinstance(app.screen, ConfirmRunScreen)
    return problems(view)


async def test_typed_confirmation_for_prod_and_esc_keeps_the_form(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        await compose(pilot, view, "uptime", "tag:Env=prod")
        view.form.query_one("#rc-comment").value = "why not"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        screen = app.screen
        count = screen.radius.count
        assert count > 10 and screen.radius.prod and screen.has_class("-typed")
        run_button = screen.query_one("#confirm-run")
        assert run_button.disabled
        radius_text = str(screen.query_one("#confirm-radius").render())
        assert f"{count} nodes" in radius_text and "includes prod" in radius_text and "prod-web-" in radius_text
        await pilot.press(*str(count + 1))
        assert run_button.disabled
        await pilot.press("enter")  # the wrong count does not run
        assert app.screen is screen
        await pilot.press(*["backspace"] * 4, *str(count))
        assert not run_button.disabled
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not screen and view.panel == "form"
        assert app.aws.calls["ssm:SendCommand"] == 0
        values = view.form.values()
        assert values.parameters["commands"] == ["uptime"] and values.target_text == "tag:Env=prod"
        assert values.comment == "why not"
    app.close_aws()


async def test_bad_input_messages_keep_what_was_typed(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        await compose(pilot, view, "   \n", "tag:Role=web")
        await press_send_expect_problem(pilot, app, view, "empty command")
        await compose(pilot, view, "uptime", "")
        await press_send_expect_problem(pilot, app, view, "no targets")
        await compose(pilot, view, "uptime", "tag:Role=nothing-has-this")
        await press_send_expect_problem(pilot, app, view, "matches no managed node")
        await compose(pilot, view, "uptime", "resource-groups:no-such-group")
        await press_send_expect_problem(pilot, app, view, "resource group 'no-such-group' has no managed nodes")
        await compose(pilot, view, "uptime", "i-0123456789abcdef9")
        await press_send_expect_problem(pilot, app, view, "unknown instance id i-0123456789abcdef9")
        await compose(pilot, view, "uptime", "tag:Role=web")
        view.form.query_one("#rc-concurrency").value = "lots"
        await press_send_expect_problem(pilot, app, view, "max concurrency 'lots'")
        view.form.query_one("#rc-concurrency").value = "10%"
        view.form.query_one("#rc-doc").value = "No-Such-Document"
        await pilot.pause()
        text = await press_send_expect_problem(pilot, app, view, "unknown document 'No-Such-Document'")
        assert "max concurrency" not in text
        assert app.aws.calls["ssm:SendCommand"] == 0
        assert view.form.query_one("#rc-target").value == "tag:Role=web"
        assert view.form.query_one("#rc-concurrency").value == "10%"
        # back to a real document: its form comes back with the command typed before
        view.form.query_one("#rc-doc").value = "AWS-RunShellScript"
        await wait_for(pilot, lambda: view.form.commands_area() is not None)
        assert view.form.commands_area().text == "uptime"
    app.close_aws()


async def test_fleet_c_targets_the_selection_and_a_small_non_prod_run_needs_no_typing(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        select_nodes(app, ["stg-web-01", "stg-db-01"])
        app.fleet_view.table.focus()
        await pilot.press("c")
        await pilot.pause()
        assert app.query_one("#tabs").active == "run"
        assert view.form.target_mode == "fleet" and len(view.fleet_nodes) == 2
        assert "2 nodes" in str(view.form.query_one("#rc-t-fleet").label)
        assert "→ 2 nodes" in str(view.form.query_one("#rc-target-preview").render())
        await compose(pilot, view, "uptime")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        assert not app.screen.has_class("-typed") and not app.screen.query_one("#confirm-run").disabled
        await pilot.press("escape")
        assert app.aws.calls["ssm:SendCommand"] == 0
    app.close_aws()


async def test_history_reopens_a_command_and_export_writes_files(sandbox, tmp_path):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        view.export_dir = tmp_path
        app.show_tab("run")
        await compose(pilot, view, "echo history-check", "stg-web-01")
        view.form.query_one("#rc-comment").value = "history test"
        await send_and_confirm(pilot, app, view)
        sent_id = view.run.tracker.commands[0].command_id
        await pilot.press("h")
        table = view.history.commands_table
        await wait_for(pilot, lambda: any(c.command_id == sent_id for c in table.rows))
        assert view.panel == "history"
        table.move_cursor(next(i for i, c in enumerate(table.visible_rows()) if c.command_id == sent_id))
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.panel == "run" and view.run.tracker.commands[0].command_id == sent_id
                       and view.run.states)
        assert view.run.request.parameters["commands"] == ["echo history-check"]
        await pilot.press("e")
        await wait_for(pilot, lambda: len(list(tmp_path.iterdir())) == 2)
        data = json.loads(next(tmp_path.glob("*.json")).read_text())
        assert data["commands"][0]["command_id"] == sent_id
        assert next(tmp_path.glob("*.txt")).read_text()
        # node output can hold secrets: the exports are the user's alone
        assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}
        await pilot.press("h", "escape")
        assert view.panel == "run"
    app.close_aws()


HOSTILE = ("\x1b]0;pwned\x07\x1b[31mred\x1b[0m [bold]not markup[/bold] [link=https://evil.example]x[/link]\r\n"
           "\x1b[2J\x1b[H\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \u202eevil\u202c tab\there \x00\x7f\x9b\n")


async def test_output_pane_renders_hostile_and_huge_output_literally_and_fast():
    """The pane alone (no sandbox): 1 MB of output with escape sequences, one 200 KB line, markup-looking text."""

    from textual.app import App

    from opstui.views.runcommand.output import MAX_LINES, OutputLog

    class PaneApp(App):
        def compose(self):
            yield OutputLog()

    app = PaneApp()
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(OutputLog)
        pane.show(HOSTILE * 3, "stderr \x1b[1mbold\x1b[0m\n")
        await pilot.pause()
        lines = ["".join(seg.text for seg in pane.render_line(y)) for y in range(pane.size.height)]
        joined = "\n".join(lines)
        assert "[bold]not markup[/bold]" in joined and "[link=https://evil.example]" in joined
        assert "── stderr ──" in joined
        for line in lines:
            assert not CONTROL.search(line), repr(line)
        styles = [seg.style for y in range(3) for seg in pane.render_line(y) if seg.style]
        assert not any(s.link for s in styles)  # hyperlinks removed
        assert any(s.color and s.color.number == 1 for s in styles)  # colours kept
        chunk = ("x" * 99 + "\n") * 2_600  # ~260 KB per append, 4 appends ~ 1 MB, plus one 200 KB line
        for _ in range(4):
            pane.append("stdout", chunk)
        pane.append("stdout", "y" * 200_000 + "\n")
        await pilot.pause()
        pane.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        for y in range(pane.size.height):
            pane.render_line(y)
        assert pane.out.rows() <= MAX_LINES + 1
        row = pane.plain_lines().index("y" * 200_000)
        drawn = pane._strip(row).text
        assert drawn.endswith("(+198000 chars)") and len(drawn) < 2100  # cut for drawing, and says so


async def test_hostile_names_in_the_confirmation_are_literal(hostile_sandbox):
    app = make_app(hostile_sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.fleet_view.table.select_visible()
        app.show_tab("run")
        await pilot.pause()
        await compose(pilot, view, "uptime")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        screen = app.screen
        text = str(screen.query_one("#confirm-radius").render())
        # every hostile node name is listed as typed (markup not applied, escapes made visible)
        assert "[red]x[/red]" in text and "[link=https://evil.example]click[/link]" in text
        assert "␛]0;pwned\\x07␛[2J[red]onprem[/red]" in text
        assert not CONTROL.search(text.replace("\n", ""))
        await pilot.press("escape")
        assert app.aws.calls["ssm:SendCommand"] == 0
    app.close_aws()


async def test_truncated_output_is_fetched_whole_from_s3_with_f(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        region = sandbox.regions[0]
        await app.aws_loop.run(app.aws.call("s3", region, "create_bucket", Bucket="opstui-tab-output",
                                            CreateBucketConfiguration={"LocationConstraint": region}))
        app.show_tab("run")
        await compose(pilot, view, "head -c 30000 /dev/zero | tr '\\0' a; echo; echo tail-line", "stg-web-01")
        view.form.query_one("#rc-cw").value = False  # output from GetCommandInvocation: truncated at 24,000
        view.form.query_one("#rc-s3").value = "opstui-tab-output/runs"
        await send_and_confirm(pilot, app, view)
        await finished(pilot, view)
        state = next(iter(view.run.states.values()))
        assert state.truncated
        await wait_for(pilot, lambda: output_text(view).startswith("a" * 100))
        assert "tail-line" not in output_text(view)
        await pilot.press("f")
        await wait_for(pilot, lambda: "tail-line" in output_text(view))
        assert view.run_panel.output.plain_lines()[0] == "a" * 30000
    app.close_aws()


async def test_grouped_output_keeps_its_scroll_position_while_other_nodes_finish(sandbox, tmp_path):
    app = make_app(sandbox)
    gate = tmp_path / "release-slow-node"  # the slow node ends when the test says so, not after a sleep
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        slow = next(n for n in app.fleet_view.table.rows if n.name == "stg-app-01")
        await compose(pilot, view, f'if [ "$AWS_SSM_INSTANCE_ID" = {slow.instance_id} ]; then '
                                   f"while [ ! -e {gate} ]; do sleep 0.05; done; echo slow; exit 3; fi\nseq 1 200",
                                   "stg-web-01,stg-app-01")
        await send_and_confirm(pilot, app, view)
        await wait_for(pilot, lambda: sum(s.done for s in view.run.states.values()) == 1)
        await pilot.press("g")
        groups = view.run_panel.groups_table
        await wait_for(pilot, lambda: len(groups.rows) == 1 and output_text(view).split()[-1:] == ["200"])
        await pilot.pause(1.5)  # the first group's output is final
        pane = view.run_panel.output
        pane.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        scrolled = pane.scroll_y
        assert scrolled > 100 and not view.run.finished
        gate.touch()
        await finished(pilot, view)
        await wait_for(pilot, lambda: len(groups.rows) == 2)
        await pilot.pause(0.5)
        assert groups.cursor_row.label == "stg-web-01"
        assert pane.scroll_y == scrolled  # not reset to the top each time a node changed
    app.close_aws()


async def test_read_only_greys_cancel_and_rerun_of_an_opened_run(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        summary = runcommand.CommandSummary(
            "c-1", "ap-northeast-1", "AWS-RunShellScript", "", "InProgress", "", None, 1, 0, 0, 0, "50", "0",
            (), (), {"commands": ["uptime"]}, False, "", "", "")
        view.start_run(runcommand.ActiveRun(runcommand.RunTracker(app.aws, [summary]), None, "uptime"))
        await pilot.pause()
        assert view.panel == "run" and not view.run.finished
        panel = view.current
        assert panel.check_action("cancel", ()) is None and panel.check_action("rerun_failed", ()) is None
        assert panel.check_action("export", ()) is True
        await pilot.press("x")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.aws.calls["ssm:CancelCommand"] == 0
        view.run = None  # stop polling the made-up command
    app.close_aws()


async def test_grouped_view_keeps_the_group_title_while_the_shown_node_changes(sandbox, tmp_path):
    app = make_app(sandbox)
    gate = tmp_path / "release-slow-node"  # the slow node finishes when the test says so, not after a sleep
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        slow = next(n for n in app.fleet_view.table.rows if n.name == "stg-app-01")
        await compose(pilot, view, f'if [ "$AWS_SSM_INSTANCE_ID" = {slow.instance_id} ]; then '
                                   f"while [ ! -e {gate} ]; do sleep 0.05; done; echo slow; exit 3; fi\necho fast",
                                   "stg-web-01,stg-app-01")
        await send_and_confirm(pilot, app, view)
        # the node shown is stg-app-01 (first by name); the grouped view is opened before it finishes
        await wait_for(pilot, lambda: (view.shown_key or "").endswith(slow.instance_id)
                       and sum(s.done for s in view.run.states.values()) == 1)
        await pilot.press("g")
        await wait_for(pilot, lambda: len(view.run_panel.groups_table.rows) == 1)
        gate.touch()
        await finished(pilot, view)
        await pilot.pause(0.5)
        assert view.run_panel.groups_table.cursor_row.label == "stg-web-01"
        assert output_text(view).strip() == "fast"
        title = str(view.run_panel.output.border_title)
        assert title.startswith("stg-web-01 · 1 node") and "stg-app-01" not in title
    app.close_aws()


async def test_a_tag_target_confirmation_counts_hybrid_nodes_and_leaves_windows_out(sandbox):
    """The tab's confirmation for a tag target: the hybrid mi- node is counted (its tags come from
    ListTagsForResource), and a Windows node is named in the same left-out line as `opstui run` prints."""
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        view = await ready(pilot, app)
        app.show_tab("run")
        await compose(pilot, view, "uptime", "tag:Role=batch")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        assert "onprem-backup-01" in {n.name for n in app.screen.radius.nodes}
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmRunScreen))
        await compose(pilot, view, "uptime", "tag:Role=app")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        text = str(app.screen.query_one("#confirm-radius").render())
        assert "left out (the document does not run on their platform): prod-win-ad-01" in text
        assert "prod-win-ad-01" not in {n.name for n in app.screen.radius.nodes}
        await pilot.press("escape")
        assert app.aws.calls["ssm:SendCommand"] == 0
    app.close_aws()
