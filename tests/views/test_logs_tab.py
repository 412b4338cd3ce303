"""Pilot tests of the Logs tab against the real sandbox. Each test writes its own groups and events with
PutLogEvents (through the app's own clients), under a unique prefix, and filters the group list to it."""

from __future__ import annotations

import time
import uuid

import pytest
from rich.style import Style
from textual.widgets import Static

from opstui.aws import cloudwatch as cw
from opstui.aws import sns
from opstui.views.common.form import FormScreen
from opstui.views.logs import LogsView
from tests.helpers import loaded, make_app, wait_for

R1 = "ap-northeast-1"


def _now_ms() -> int:
    return int(time.time() * 1000)


async def put(app, group: str, stream: str, messages: list[str], start_ms: int | None = None, step_ms: int = 1,
              region: str = R1) -> None:
    async def go() -> None:
        for op, params in (("create_log_group", {"logGroupName": group}),
                           ("create_log_stream", {"logGroupName": group, "logStreamName": stream})):
            try:
                await app.aws.call("logs", region, op, **params)
            except Exception as err:  # noqa: BLE001 - already there
                if "AlreadyExists" not in str(getattr(err, "code", "")):
                    raise
        base = start_ms if start_ms is not None else _now_ms() - 30_000
        await app.aws.call("logs", region, "put_log_events", logGroupName=group, logStreamName=stream,
                           logEvents=[{"timestamp": base + i * step_ms, "message": m} for i, m in enumerate(messages)])

    await app.aws_loop.run(go())


async def _logs(pilot, app, tag: str = "") -> LogsView:
    if app.last_refresh is None:
        await loaded(pilot, app)  # the app has settled on its home tab first
    app.show_tab("logs")
    view = app.logs_view
    groups = view.groups_panel
    await wait_for(pilot, lambda: groups.loads >= 1)
    if tag:
        view.show_panel("groups", tag)
        await pilot.pause()
    return view


async def test_follow_selected_groups_merged_by_time_with_sources_and_new_lines(sandbox):
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    g1, g2 = f"/t/{tag}/nginx", f"/t/{tag}/app"
    async with app.run_test(size=(180, 48)) as pilot:
        base = _now_ms() - 20_000
        await put(app, g1, "i-0aaa", ["GET / 200", "GET /cart 500"], start_ms=base, step_ms=10)
        await put(app, g2, "i-0aaa", ['{"level":"INFO","msg":"started"}'], start_ms=base + 5)
        view = await _logs(pilot, app, tag)
        table = view.groups_panel.table("logs-groups")
        assert sorted(g.name for g in table.visible_rows()) == sorted([g1, g2])
        await wait_for(pilot, lambda: view.groups_panel.stream_loads >= 1)
        assert [s.name for s in view.groups_panel.table("logs-streams").rows] == ["i-0aaa"]
        table.focus()
        await pilot.press("space", "down", "space", "f")
        viewer_panel = view.viewer_panel
        await wait_for(pilot, lambda: viewer_panel.polls >= 1 and len(viewer_panel.viewer.lines) == 3)
        assert view.panel == "viewer"
        lines = viewer_panel.viewer.line_texts()
        assert ["GET / 200" in lines[0], "started" in lines[1], "GET /cart 500" in lines[2]] == [True] * 3
        assert "nginx:i-0aaa" in lines[0] and "app:i-0aaa" in lines[1]  # each line marked with its source
        assert "following" in str(view.query_one("#logs-header").render())
        await put(app, g2, "i-0aaa", ["later line"], start_ms=_now_ms())
        await wait_for(pilot, lambda: len(viewer_panel.viewer.lines) == 4)  # the next poll, nothing pressed
        assert "later line" in viewer_panel.viewer.line_texts()[-1]
    app.close_aws()


async def test_viewer_pauses_when_scrolled_up_counts_new_lines_and_end_resumes(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(150, 40)) as pilot:
        view = await _logs(pilot, app)
        view.show_panel("viewer")
        viewer = view.viewer_panel.viewer
        viewer.append((1_700_000_000_000 + i, "src", f"line {i}") for i in range(20_000))
        await pilot.pause()
        assert viewer.following and viewer.scroll_y == viewer.max_scroll_y
        assert "line 19999" in viewer.visible_text()[-1]
        viewer.focus()
        await pilot.press("pageup")
        assert not viewer.following
        viewer.append((1_700_000_100_000 + i, "src", f"new {i}") for i in range(5))
        await pilot.pause()
        assert viewer.unseen == 5 and "5 new lines" in str(viewer.border_subtitle)
        assert "paused" in str(view.query_one("#logs-header").render())
        assert all("new" not in line for line in viewer.visible_text())  # the screen did not move
        await pilot.press("end")
        assert viewer.following and viewer.unseen == 0
        assert "new 4" in viewer.visible_text()[-1]
        # a late event of another source goes in its place by time, not at the end
        viewer.append([(1_700_000_000_500, "other", "late one")])
        assert "late one" in viewer.line_texts()[501]
    app.close_aws()


async def test_json_field_filter_and_words_in_the_filter_box(sandbox):
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group = f"/t/{tag}/json"
    async with app.run_test(size=(180, 48)) as pilot:
        await put(app, group, "i-0bbb", [
            '{"level":"INFO","msg":"ok","latency":12}',
            '{"level":"ERROR","msg":"db timeout","latency":950}',
            '{"level":"ERROR","msg":"bad input","latency":3}',
            "plain ERROR line, not JSON",
        ])
        view = await _logs(pilot, app, tag)
        await pilot.press("enter")  # follow the group under the cursor
        viewer = view.viewer_panel.viewer
        await wait_for(pilot, lambda: len(viewer.lines) == 4)
        await pilot.press("slash", *"level=ERROR", "enter")
        assert [("db timeout" in t, "bad input" in t) for t in viewer.line_texts()] == [(True, False), (False, True)]
        view.show_panel("viewer", '$.level = "ERROR" && $.latency > 200')
        assert len(viewer.line_texts()) == 1 and "db timeout" in viewer.line_texts()[0]
        view.show_panel("viewer", "error !timeout")
        assert len(viewer.line_texts()) == 2 and "bad input" in viewer.line_texts()[0]
        view.show_panel("viewer", "$.level = \"unclosed")
        assert "filter not applied" in str(view.query_one("#logs-status", Static).render())
        view.show_panel("viewer", "")
        assert len(viewer.line_texts()) == 4
        # JSON events as the fields picked, in columns; other lines stay whole
        viewer.focus()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.query("#form-save"))
        app.screen.query_one("#f-fields").value = "level, msg"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: viewer.json_fields == ("level", "msg"))
        texts = viewer.line_texts()
        assert texts[1].endswith("ERROR  db timeout") and "latency" not in texts[1]
        assert texts[3].endswith("plain ERROR line, not JSON")
    app.close_aws()


def test_jump_times_parse_utc_clock_times_and_offsets():
    from datetime import UTC, datetime

    from opstui.views.logs.follow import parse_when

    now = int(datetime(2026, 12, 2, 10, 30, tzinfo=UTC).timestamp() * 1000)
    assert parse_when("-15m", now) == now - 15 * 60_000
    assert parse_when("10:05", now) == int(datetime(2026, 12, 2, 10, 5, tzinfo=UTC).timestamp() * 1000)
    assert parse_when("23:59:30", now) == int(datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC).timestamp() * 1000)
    for bad in ("25:00", "noon", "10:61"):
        with pytest.raises(ValueError):
            parse_when(bad, now)


async def test_hostile_log_lines_stay_literal_and_keep_only_colours(sandbox):
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group = f"/t/{tag}/hostile"
    messages = [
        "\x1b[31mred text\x1b[0m plain",
        "title \x1b]0;pwned\x07 after",
        "link \x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 end",
        "clear \x1b[2J\x1b[H home",
        "[bold red]not markup[/bold red] [link=https://evil.example]x[/link]",
        "bell \x07 cr \r back \u202egnp.exe bidi",
        "multi\nline\tevent",
    ]
    async with app.run_test(size=(200, 48)) as pilot:
        await put(app, group, "s", messages)
        view = await _logs(pilot, app, tag)
        await pilot.press("enter")
        viewer = view.viewer_panel.viewer
        await wait_for(pilot, lambda: len(viewer.lines) == len(messages))
        await pilot.pause()
        texts = viewer.line_texts()
        assert "[bold red]not markup[/bold red] [link=https://evil.example]x[/link]" in texts[4]
        assert "pwned" not in texts[1] and "title  after" in texts[1]
        assert "click" in texts[2] and "evil" not in texts[2]
        assert "multi⏎line    event" in texts[6]
        rendered = [viewer.render_line(y) for y in range(viewer.size.height)]
        for strip in rendered:
            for segment in strip:
                assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f or 0x202a <= ord(ch) <= 0x202e
                               for ch in segment.text), repr(segment.text)
                assert not (segment.style and segment.style.link)
        red = [seg for strip in rendered for seg in strip if "red text" in seg.text]
        assert red and red[0].style is not None and red[0].style.color is not None
        assert red[0].style.color.number == Style(color="red").color.number  # the line's own colour is kept
    app.close_aws()


async def test_fleet_L_follows_the_nodes_stream_in_each_group(sandbox):
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    async with app.run_test(size=(180, 48)) as pilot:
        fleet = await loaded(pilot, app)
        fleet.set_filter("prod-web-01")
        node = fleet.table.cursor_row
        assert node is not None and node.name == "prod-web-01"
        other = next(n for n in fleet.snapshot.nodes if n.instance_id != node.instance_id)
        await put(app, f"/t/{tag}/system", node.instance_id, ["system line of web-01"], region=node.region)
        await put(app, f"/t/{tag}/system", other.instance_id, ["another node"], region=node.region)
        await put(app, f"/t/{tag}/nginx", node.instance_id, ["nginx line of web-01"], region=node.region)
        fleet.table.focus()
        await pilot.press("L")
        view = app.logs_view
        viewer = view.viewer_panel.viewer
        await wait_for(pilot, lambda: sum("line of web-01" in t for t in viewer.line_texts()) == 2)
        texts = viewer.line_texts()
        assert any("system line of web-01" in t for t in texts) and not any("another node" in t for t in texts)
        assert app.active_tab == "logs" and view.panel == "viewer"
        targets = {t.group: t for t in view.viewer_panel.targets}
        assert targets[f"/t/{tag}/system"].stream_names == (node.instance_id,)
    app.close_aws()


async def test_metric_filter_and_alarm_in_one_form_then_alarm_jump_and_back_from_the_alarm(sandbox):
    """The seed's flow: errors in the log -> metric filter -> alarm -> SNS, from one form."""
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group = f"/t/{tag}/web"
    metric = f"web-5xx-{tag}"
    async with app.run_test(size=(180, 48)) as pilot:
        await put(app, group, "i-0ccc", ["GET / 200", "GET /x 503"])
        topic = await app.aws_loop.run(sns.create_topic(app.aws, R1, f"logs-{tag}"))
        view = await _logs(pilot, app, tag)
        await pilot.press("4")
        filters = view.panel_named("filters")
        await wait_for(pilot, lambda: filters.loads >= 1)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.query("#form-save"))
        await pilot.pause()
        form = app.screen
        assert group in form.values()["group"]
        form.query_one("#f-name").value = "bad:name"
        form.query_one("#f-value").value = "lots"
        form.query_one("#f-threshold").value = "many"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert any("Filter name" in p for p in form.problems) and any("Value per event" in p for p in form.problems)
        form.query_one("#f-name").value = f"5xx-{tag}"
        form.query_one("#f-value").value = "1"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("Alarm at" in p and "not a number" in p for p in form.problems)
        form.query_one("#f-pattern").value = "503"
        form.query_one("#f-metric").value = metric
        form.query_one("#f-threshold").value = "1"
        form.query_one("#f-topic").value = topic.arn
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen) and filters.created == 1)
        await wait_for(pilot, lambda: any(f.name == f"5xx-{tag}" for f in filters.filters))
        view.show_panel("filters", tag)
        await pilot.pause()
        mf = filters.table("logs-filters").cursor_row
        assert (mf.pattern, mf.metric.metric_name, mf.metric.namespace) == ("503", metric, "LogMetrics")
        [alarm] = [a for a in await app.aws_loop.run(cw.describe_alarms(app.aws, R1)) if a.name == f"5xx-{tag}-alarm"]
        assert alarm.metric.name == metric and alarm.metric.namespace == "LogMetrics"
        assert alarm.threshold == 1 and topic.arn in alarm.alarm_actions
        await pilot.press("a")
        await pilot.pause()
        assert app.active_tab == "monitoring" and app.monitoring_view.filters["alarms"] == metric
        # the alarm on that metric leads back to the group's lines
        mon = app.monitoring_view
        mon.load("alarms")
        await wait_for(pilot, lambda: any(a.name == f"5xx-{tag}-alarm" for a in mon.alarms))
        mon.show_panel("alarms", f"5xx-{tag}-alarm")
        mon.table("mon-alarms").focus()
        await pilot.press("L")
        viewer = view.viewer_panel.viewer
        await wait_for(pilot, lambda: any("GET /x 503" in t for t in viewer.line_texts()))
        assert app.active_tab == "logs" and [t.group for t in view.viewer_panel.targets] == [group]
    app.close_aws()


async def test_insights_query_over_the_group_under_the_cursor(sandbox):
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group = f"/t/{tag}/q"
    async with app.run_test(size=(180, 48)) as pilot:
        await put(app, group, "s", ["alpha one", "beta two"])
        view = await _logs(pilot, app, tag)
        await pilot.press("3")
        insights = view.panel_named("insights")
        assert group in str(insights.query_one("#logs-query-info").render())
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: insights.runs >= 1)
        table = insights.table("logs-results")
        assert "@message" in [c.key for c in table.columns]
        assert {"alpha one", "beta two"} <= {dict(r).get("@message") for r in table.rows}
        assert "Complete" in str(table.border_title)
    app.close_aws()


async def test_read_only_greys_metric_filter_changes_and_insights(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _logs(pilot, app)
        assert "READ-ONLY" in str(view.query_one("#logs-header").render())
        await pilot.press("4")
        for action in ("new_filter", "delete_filter"):
            assert view.current.check_action(action, ()) is None
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, FormScreen)
        await pilot.press("3")
        assert view.current.check_action("run_query", ()) is None
        view.current.action_run_query()  # the palette's path does not ask check_action
        await pilot.pause()
        assert app.aws.calls["logs:StartQuery"] == 0 and app.aws.calls["logs:PutMetricFilter"] == 0
        assert view.current.check_action("cycle_range", ()) is True  # reads stay available
    app.close_aws()

async def test_run_command_node_L_follows_its_output_stream(sandbox, monkeypatch):
    from opstui.views import runcommand
    from opstui.views.runcommand.confirm import ConfirmRunScreen

    monkeypatch.setattr(runcommand, "POLL_INTERVAL", 0.2)
    app = make_app(sandbox)
    marker = uuid.uuid4().hex[:8]
    async with app.run_test(size=(180, 48)) as pilot:
        await loaded(pilot, app)
        view = app.run_view
        await wait_for(pilot, lambda: view.form.detail is not None and view.form.commands_area() is not None)
        nodes = [n for n in app.fleet_view.table.rows if n.name in ("prod-db-01",)]
        app.ctx.fleet.select(n.key for n in nodes)
        app.show_tab("run")
        await pilot.pause()
        view.form.commands_area().text = f"echo out-{marker}"
        await pilot.pause()
        runs = view.sent_runs
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        radius = app.screen.radius
        if radius.needs_typed_confirmation:
            await pilot.press(*radius.confirmation_word, "enter")
        else:
            await pilot.click("#confirm-run")
        await wait_for(pilot, lambda: view.sent_runs > runs and view.run is not None and view.run.finished)
        await pilot.pause()
        view.run_panel.nodes_table.focus()
        await pilot.press("L")
        logs = app.logs_view
        viewer = logs.viewer_panel.viewer
        await wait_for(pilot, lambda: any(f"out-{marker}" in t for t in viewer.line_texts()))
        [target] = logs.viewer_panel.targets
        assert target.group == "/aws/ssm/AWS-RunShellScript" and nodes[0].instance_id in target.stream_prefix
        assert app.active_tab == "logs"
    app.close_aws()


def test_insights_histogram_of_bin_counts_in_time_order():
    from opstui.aws.logs_models import QueryResults
    from opstui.views.logs.insights import histogram

    rows = tuple(((("bin(1m)", f"2026-12-02 10:{i:02d}:00.000"), ("count(*)", str(v))))
                 for i, v in reversed(list(enumerate([1, 4, 8, 2]))))  # Insights may answer newest first
    chart = histogram(QueryResults("q", "Complete", rows), height=4).plain.splitlines()
    assert chart[0].startswith("8 ┤") and chart[0].endswith("  █ ")  # the tallest bin is the third, in time order
    assert chart[3] == "0 ┤▄███"  # 1 of 8 fills half of the lowest of four rows
    assert "count(*) by bin(1m)" in chart[-1] and "10:00:00.000 … 2026-12-02 10:03" in chart[-1]
    no_bin = ((("@message", "x"),),)
    assert histogram(QueryResults("q", "Complete", no_bin)) is None


async def test_ctrl_o_opens_a_saved_query_with_its_groups_and_names_stay_literal(sandbox):
    """DescribeQueryDefinitions feeds the picker: choosing a saved query fills the editor with its exact
    query string and selects its log groups; a hostile name is shown as the characters it holds."""
    from textual.widgets import OptionList

    from opstui.views.logs.saved import QueryPicker

    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group, other = f"/t/{tag}/saved", f"/t/{tag}/other"
    name = f"{tag} [b]bold[/b] \x1b[31mred"
    query = f"filter @message like /{tag}/\n| stats count(*) by bin(1m)"
    async with app.run_test(size=(180, 48)) as pilot:
        await put(app, group, "s", [f"hit {tag}"])
        await put(app, other, "s", ["other"])
        saved = await app.aws_loop.run(app.aws.call("logs", R1, "put_query_definition", name=name,
                                                    queryString=query, logGroupNames=[group]))
        view = await _logs(pilot, app, tag)
        await pilot.press("3")
        insights = view.panel_named("insights")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, QueryPicker) and app.screen.loaded)
        picker = app.screen
        assert app.aws.calls["logs:DescribeQueryDefinitions"] >= 1
        names = [d.name for d in picker.saved]
        assert name in names and "storefront/5xx per minute" in names  # the demo's, and ours
        box = picker.query_one("#picker-list", OptionList)
        [index] = [i for i in range(box.option_count) if box.get_option_at_index(i).id
                   and (picker.choices[box.get_option_at_index(i).id].definition or object) in
                   [d for d in picker.saved if d.name == name]]
        shown = box.get_option_at_index(index).prompt
        assert f"{tag} [b]bold[/b] ␛[31mred" in shown.plain and group in shown.plain  # literal, ESC visible
        box.highlighted = index
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, QueryPicker))
        assert insights.query_one("#logs-query").value == query  # unchanged, newline included
        assert [g.name for g in view.groups_panel.selected_groups()] == [group]
        assert group in str(insights.query_one("#logs-query-info").render())
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: insights.runs >= 1)
        assert insights.results.status == "Complete" and insights.results.fields[0] == "bin(1m)"
        await app.aws_loop.run(app.aws.call("logs", R1, "delete_query_definition",
                                            queryDefinitionId=saved["queryDefinitionId"]))
    app.close_aws()


async def test_query_history_up_down_and_the_pickers_session_section(sandbox):
    from textual.widgets import OptionList

    from opstui.views.logs.saved import QueryPicker

    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group = f"/t/{tag}/h"
    async with app.run_test(size=(180, 48)) as pilot:
        await put(app, group, "s", ["one", "two"])
        view = await _logs(pilot, app, tag)
        await pilot.press("3")
        insights = view.panel_named("insights")
        box = insights.query_one("#logs-query")
        for i, q in enumerate(("fields @message | limit 1", "fields @message | limit 2")):
            box.value = q
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda i=i: insights.runs >= i + 1)
        box.focus()
        box.value = "typing"
        await pilot.press("up")
        assert box.value == "fields @message | limit 2"
        await pilot.press("up")
        assert box.value == "fields @message | limit 1"
        await pilot.press("up")  # the oldest stays
        assert box.value == "fields @message | limit 1"
        await pilot.press("down", "down")
        assert box.value == "typing"  # back to what was being typed
        dr = app.ctx.regions[1]
        sandbox.add_fault("AccessDenied", service="logs", region=dr, action="DescribeQueryDefinitions")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, QueryPicker) and app.screen.loaded)
        picker = app.screen
        options = picker.query_one("#picker-list", OptionList)
        plain = [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)]
        # a region that could not be read is said in place, never an empty list; the other region's are there
        assert any("could not read saved queries" in p and dr in p for p in plain), plain
        assert any(d.name == "storefront/5xx per minute" for d in picker.saved)
        at = next(i for i, p in enumerate(plain) if p.startswith("This session"))
        assert [p.strip() for p in plain[at + 1:]] == ["fields @message | limit 2", "fields @message | limit 1"]
        options.highlighted = at + 2
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, QueryPicker))
        assert box.value == "fields @message | limit 1"
    app.close_aws()


def test_insights_histogram_draws_the_bins_insights_leaves_out_as_zeros():
    """Insights answers only the bins that hold a record: a gap of three minutes is three empty columns,
    so every column is one minute wide."""
    from opstui.aws.logs_models import QueryResults
    from opstui.views.logs.insights import histogram

    rows = tuple(((("bin(1m)", f"2026-12-02 10:{m:02d}:00.000"), ("count(*)", str(v))))
                 for m, v in ((0, 4), (4, 4), (5, 2)))
    chart = histogram(QueryResults("q", "Complete", rows), height=2).plain.splitlines()
    assert chart[1] == "0 ┤█   ██"  # minutes 1, 2 and 3 are empty columns
    assert chart[0] == "4 ┤█   █ "  # the last bin (2 of 4) fills only the lower row
    assert "10:00:00.000 … 2026-12-02 10:05:00.000" in chart[-1]
