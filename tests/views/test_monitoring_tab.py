"""Pilot tests of the Monitoring tab against the real sandbox."""

from __future__ import annotations

import uuid

from opstui.aws import cloudwatch as cw
from opstui.aws import sns
from opstui.views.common.form import FormScreen
from opstui.views.monitoring import MonitoringView
from tests.helpers import loaded, make_app, wait_for


async def _monitoring(pilot, app, panel: str = "1") -> MonitoringView:
    await loaded(pilot, app)
    app.show_tab("monitoring")
    view = app.monitoring_view
    await pilot.press(panel)
    await wait_for(pilot, lambda: view.alarm_loads >= 1)
    return view


async def _form_open(pilot, app) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.query("#form-save"))
    await pilot.pause()


async def _put_alarm(app, name: str, iid: str, region: str, threshold: str = "80") -> None:
    spec = cw.alarm_spec(name=name, region=region, metric=cw.node_metric("cpu", iid), threshold=threshold)
    await app.aws_loop.run(cw.put_metric_alarm(app.aws, spec))


async def test_alarms_board_alarm_first_with_chart_and_history(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        fleet = await loaded(pilot, app)
        node = next(n for n in fleet.snapshot.nodes if n.ec2_state == "running" and n.instance_id.startswith("i-"))
        tag = uuid.uuid4().hex[:6]
        quiet, firing = f"aa-quiet-{tag}", f"zz-firing-{tag}"
        await _put_alarm(app, quiet, node.instance_id, node.region, threshold="1000")
        await _put_alarm(app, firing, node.instance_id, node.region, threshold="0")
        await app.aws_loop.run(cw.set_alarm_state(app.aws, node.region, firing, "ALARM",
                                                  "Threshold Crossed: [test] <b>[bold]not markup[/bold]"))
        view = await _monitoring(pilot, app)
        await pilot.press("slash", *tag, "enter")
        table = view.table("mon-alarms")
        rows = table.visible_rows()
        assert [a.name for a in rows][0] == firing  # ALARM first, whatever the names
        assert rows[0].state == "ALARM" and quiet in [a.name for a in rows]
        assert "ALARM" in str(view.query_one("#monitoring-header").render())
        await wait_for(pilot, lambda: view.detail_loads >= 1 and view.panel_named("alarms").detail_key == rows[0].key)
        chart = str(view.query_one("#mon-chart").render())
        assert "CPUUtilization > 0" in chart and any("\u2800" < ch <= "\u28ff" for ch in chart)  # braille plot
        # filter to ALARM only, as the Overview's jump does
        view.show_panel("alarms", f"state:ALARM {tag}")
        assert [a.name for a in table.visible_rows()] == [firing]
        cells = " ".join(table.cells[table.order_shown[0]])
        assert "[bold]not markup[/bold]" in cells  # literal
    app.close_aws()


async def test_create_alarm_from_the_fleet_cursor_node_with_bad_input_first(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        fleet = await loaded(pilot, app)
        fleet.set_filter("prod-web-01")
        node = fleet.table.cursor_row
        assert node is not None and node.name == "prod-web-01"
        view = await _monitoring(pilot, app)
        await pilot.press("n")
        await _form_open(pilot, app)
        form = app.screen
        values = form.values()
        assert values["instance"] == node.instance_id and values["metric"] == "cpu" and values["threshold"] == "80"
        name = f"prod-web-01-cpu-{uuid.uuid4().hex[:6]}"
        form.query_one("#f-name").value = name
        form.query_one("#f-threshold").value = "ninety"
        form.query_one("#f-points").value = "5"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)  # kept open, nothing sent
        assert any("threshold: 'ninety' is not a number" in p for p in form.problems)
        assert any("datapoints to alarm: at most the evaluation periods (3)" in p for p in form.problems)
        form.query_one("#f-threshold").value = "90"
        form.query_one("#f-points").value = "2"
        loads = view.alarm_loads
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen) and view.alarm_loads > loads)
        alarm = next(a for a in view.alarms if a.name == name)
        assert alarm.threshold == 90 and alarm.datapoints_to_alarm == 2 and alarm.instance_id == node.instance_id
        # disable the actions, then delete (confirmation)
        view.show_panel("alarms", name)
        await pilot.press("d")
        await wait_for(pilot, lambda: not next(a for a in view.alarms if a.name == name).actions_enabled)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: all(a.name != name for a in view.alarms))
    app.close_aws()


async def test_read_only_disables_changes_with_a_visible_reason(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _monitoring(pilot, app)
        assert "READ-ONLY" in str(view.query_one("#monitoring-header").render())
        for action in ("new", "edit", "delete", "toggle_actions"):
            assert view.current.check_action(action, ()) is None  # shown greyed
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, FormScreen)
        await pilot.press("2")
        assert view.current.check_action("subscribe", ()) is None and view.current.check_action("test_message", ()) is None
        await pilot.press("3")
        assert view.current.check_action("start_stop", ()) is None
    app.close_aws()


async def test_sns_topic_subscribe_and_test_message(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _monitoring(pilot, app, "2")
        await wait_for(pilot, lambda: view.sns_loads >= 1)
        topic = f"ops-{uuid.uuid4().hex[:6]}"
        await pilot.press("n")
        await _form_open(pilot, app)
        app.screen.query_one("#f-name").value = "bad name!"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("topic name" in p for p in app.screen.problems)
        app.screen.query_one("#f-name").value = topic
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(t.topic.name == topic for t in view.panel_named("sns").topics))
        view.show_panel("sns", topic)
        await pilot.pause()
        assert view.table("mon-topics").cursor_row.topic.name == topic
        await pilot.press("s")
        await _form_open(pilot, app)
        app.screen.query_one("#f-endpoint").value = "oncall-at-example"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("is not an e-mail address" in p for p in app.screen.problems)
        app.screen.query_one("#f-endpoint").value = "oncall@example.com"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(s.endpoint == "oncall@example.com" and s.topic_name == topic
                                          for s in view.panel_named("sns").subscriptions))
        await pilot.press("t")
        await _form_open(pilot, app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        region = sandbox.regions[0]
        arn = next(t.topic.arn for t in view.panel_named("sns").topics if t.topic.name == topic)
        assert await app.aws_loop.run(sns.list_subscriptions(app.aws, region, arn))
    app.close_aws()


async def test_canaries_failing_first_with_sparklines_runs_and_heartbeat_form(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _monitoring(pilot, app, "3")
        await wait_for(pilot, lambda: view.canary_loads >= 1)
        rows = view.table("mon-canaries").visible_rows()
        names = [r.canary.name for r in rows]
        assert "storefront-heartbeat" in names and names[0] == "legacy-api-heartbeat"  # failing first
        legacy = rows[0]
        assert legacy.canary.failing and legacy.success and any(v is not None for v in legacy.success)
        cells = view.table("mon-canaries").cells[view.table("mon-canaries").order_shown[0]]
        assert any(set(c) & set("▁▂▃▄▅▆▇█") for c in cells)  # the sparklines
        runs = view.table("mon-runs")
        await wait_for(pilot, lambda: len(runs.rows) > 10)
        assert "legacy-api-heartbeat" in str(runs.border_title)
        await pilot.press("n")
        await _form_open(pilot, app)
        form = app.screen
        form.query_one("#f-name").value = "shop-heartbeat"
        form.query_one("#f-url").value = "shop.example.com"
        form.query_one("#f-schedule").value = "rate(0 minutes)"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("is not an http:// or https:// URL" in p for p in form.problems)
        assert any("at least rate(1 minute)" in p for p in form.problems)
        await pilot.press("escape")
    app.close_aws()


async def test_agent_panel_and_install_through_run_command(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        fleet = await loaded(pilot, app)
        view = await _monitoring(pilot, app, "4")
        await wait_for(pilot, lambda: view.agent_loads >= 1)
        agents = view.table("mon-agents")
        target = next(r for r in agents.rows if r.node.name == "stg-web-01")
        assert target.metrics == ()  # no agent yet
        view.show_panel("agent", "stg-web-01")
        await pilot.press("space", "i")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: view.install_running)
        await wait_for(pilot, lambda: not view.install_running, timeout=30)
        status = str(view.query_one("#mon-install-status").render())
        assert "installed and started on 1 node" in status, status
        steps = {r[0] for r in view.table("mon-install").rows}
        assert steps == {"1/2 AWS-ConfigureAWSPackage", "2/2 AmazonCloudWatch-ManageAgent"}
        assert fleet.snapshot is not None
        # the panel reloads by itself and the node now publishes the agent's memory and disk metrics
        await wait_for(pilot, lambda: any(r.node.name == "stg-web-01" and r.metrics for r in agents.rows),
                       timeout=30)
        row = next(r for r in agents.rows if r.node.name == "stg-web-01")
        assert {"mem_used_percent", "disk_used_percent"} <= set(row.metrics), row.metrics
    app.close_aws()


async def test_editing_an_alarm_keeps_its_actions_off(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        fleet = await loaded(pilot, app)
        node = next(n for n in fleet.snapshot.nodes if n.ec2_state == "running" and n.instance_id.startswith("i-"))
        name = f"quiet-{uuid.uuid4().hex[:6]}"
        await _put_alarm(app, name, node.instance_id, node.region)
        await app.aws_loop.run(cw.set_alarm_actions(app.aws, node.region, [name], enabled=False))
        view = await _monitoring(pilot, app)
        view.show_panel("alarms", name)
        await pilot.pause()
        assert view.table("mon-alarms").cursor_row.name == name
        await pilot.press("e")
        await _form_open(pilot, app)
        app.screen.query_one("#f-threshold").value = "95"
        loads = view.alarm_loads
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen) and view.alarm_loads > loads)
        alarm = next(a for a in view.alarms if a.name == name)
        assert alarm.threshold == 95 and not alarm.actions_enabled  # PutMetricAlarm did not turn them back on
    app.close_aws()


async def test_refresh_goes_on_whichever_panel_the_timer_finds(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _monitoring(pilot, app, "4")
        await wait_for(pilot, lambda: view.agent_loads >= 1)
        for panel, loads in (("agent", lambda: view.agent_loads), ("sns", lambda: view.sns_loads),
                             ("alarms", lambda: view.alarm_loads)):
            view.show_panel(panel)
            await wait_for(pilot, lambda: not any(p.busy for p in view.panels()))
            if view._timer is not None:
                view._timer.stop()
            before = loads()
            view._tick()  # the refresh interval passed
            await wait_for(pilot, lambda before=before, loads=loads: loads() > before)
            assert view._timer is not None, panel  # and the next refresh is scheduled


def test_a_canary_at_zero_percent_success_is_red():
    from opstui.aws.monitoring_models import Canary
    from opstui.views.monitoring.chart import sparkline
    from opstui.views.monitoring.rows import CanaryRow, canary_columns

    rate = next(c for c in canary_columns(sparkline) if c.key == "rate")
    down = CanaryRow(Canary("api", "ap-northeast-1", "RUNNING"), success=(0.0, 0.0))
    up = CanaryRow(Canary("web", "ap-northeast-1", "RUNNING"), success=(100.0,))
    unknown = CanaryRow(Canary("new", "ap-northeast-1", "RUNNING"))
    assert rate.style(down) is not None and rate.style(down).color.name == "red"
    assert rate.style(up) is None and rate.style(unknown) is None


async def test_agent_set_up_from_presets_stores_the_configuration_and_applies_it(sandbox):
    """`c` on the agent panel: tick presets, see the JSON, then PutParameter and ManageAgent (configure from
    ssm) on the selection, with the install's confirmation and progress; the node then ships its files into
    the chosen groups, one stream per instance."""
    from opstui.aws import logs as lg
    from opstui.views.common.confirm import ConfirmScreen

    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        await loaded(pilot, app)
        view = await _monitoring(pilot, app, "4")
        await wait_for(pilot, lambda: view.agent_loads >= 1)
        node = next(r.node for r in view.table("mon-agents").rows if r.node.name == "dr-web-02")
        view.show_panel("agent", "dr-web-02")
        await pilot.press("space", "i")  # the agent is installed first (the package; ManageAgent's default)
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: view.install_running)
        await wait_for(pilot, lambda: not view.install_running, timeout=30)
        await pilot.press("c")
        await _form_open(pilot, app)
        form = app.screen
        assert [c.id for c in form.query("Checkbox")] == ["f-system", "f-nginx", "f-app", "f-metrics"]
        form.query_one("#f-app").value = False
        form.query_one("#f-prefix").value = "/drui"
        form.query_one("#f-parameter").value = "my-config"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("must start with AmazonCloudWatch-" in p for p in form.problems), form.problems
        form.query_one("#f-parameter").value = "AmazonCloudWatch-opstui-ui"
        await pilot.pause()
        preview = str(form.query_one("#agent-preview").render())
        assert '"/drui/nginx/access"' in preview and "/var/log/app/app.log" not in preview, preview
        puts = sandbox.calls().get("ssm:PutParameter", 0)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert sandbox.calls().get("ssm:PutParameter", 0) == puts  # nothing stored before the confirmation
        await pilot.press("y")
        await wait_for(pilot, lambda: view.install_running)
        await wait_for(pilot, lambda: not view.install_running, timeout=30)
        status = str(view.query_one("#mon-install-status").render())
        assert "agent configured from AmazonCloudWatch-opstui-ui on 1 node" in status, status
        assert {r[0] for r in view.table("mon-install").rows} == {"1/1 AmazonCloudWatch-ManageAgent"}
        assert sandbox.calls().get("ssm:PutParameter", 0) == puts + 1  # the selection is in one region

        async def streams() -> list[str]:
            try:
                return [s.name for s in await lg.describe_log_streams(app.aws, node.region, "/drui/nginx/access")]
            except Exception:  # noqa: BLE001 - the group exists from the agent's first flush on
                return []

        for _ in range(60):
            if await app.aws_loop.run(streams()):
                break
            await pilot.pause(0.5)
        assert await app.aws_loop.run(streams()) == [node.instance_id]
    app.close_aws()


async def test_read_only_refuses_the_agent_set_up_and_stores_nothing(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _monitoring(pilot, app, "4")
        await wait_for(pilot, lambda: view.agent_loads >= 1)
        assert view.current.check_action("configure_agent", ()) is None  # shown greyed
        puts = sandbox.calls().get("ssm:PutParameter", 0)
        await pilot.press("space", "c")
        await pilot.pause()
        view.current.action_configure_agent()  # even reached some other way: refused, no form
        await pilot.pause()
        assert not isinstance(app.screen, FormScreen)
        assert sandbox.calls().get("ssm:PutParameter", 0) == puts
    app.close_aws()


async def test_a_mixed_linux_and_windows_selection_is_refused_with_what_to_do(sandbox):
    app = make_app(sandbox)
    notes: list[str] = []
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _monitoring(pilot, app, "4")
        await wait_for(pilot, lambda: view.agent_loads >= 1)
        original = app.notify

        def record(message, *args, **kwargs):
            notes.append(str(message))
            return original(message, *args, **kwargs)

        app.notify = record  # type: ignore[method-assign]  # to read the refusal; the app's own notify runs too
        for name in ("stg-db-01", "prod-win-ad-01"):
            view.show_panel("agent", name)
            await pilot.press("space")
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, FormScreen)
        assert any("mixes 1 Linux and 1 Windows" in n for n in notes), notes
    app.close_aws()


async def test_a_bad_canary_form_lists_each_problem_and_keeps_what_was_typed(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 48)) as pilot:
        view = await _monitoring(pilot, app)
        await pilot.press("3")
        await wait_for(pilot, lambda: view.canary_loads >= 1)
        await pilot.press("n")
        await _form_open(pilot, app)
        form = app.screen
        form.query_one("#f-name").value = "Bad Name!"
        form.query_one("#f-url").value = "ftp://example.com"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(form.problems) >= 2)
        assert isinstance(app.screen, FormScreen)  # kept open, nothing sent
        assert any(p.startswith("name: ") for p in form.problems)
        assert any(p.startswith("URL: 'ftp://example.com'") for p in form.problems)
        assert form.values()["name"] == "Bad Name!"  # nothing typed is lost
    app.close_aws()
