"""Pilot tests of the Overview (the home screen) against the real sandbox, the scripted incident included."""

from __future__ import annotations

import datetime as dt

import boto3

from opstui.views.overview import NODE_LINES, OverviewView
from tests.helpers import make_app, wait_for


def _jobs_of_the_last_day(sandbox) -> list[dict]:
    """Ground truth straight from the sandbox's Backup API (boto3, not opstui's aws layer): the backup and
    copy jobs of both regions created in the last 24 hours."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
    jobs: list[dict] = []
    for region in sandbox.regions:
        bk = boto3.client("backup", region_name=region, endpoint_url=sandbox.endpoint, **sandbox.boto_kwargs())
        for op, key in (("list_backup_jobs", "BackupJobs"), ("list_copy_jobs", "CopyJobs")):
            for page in bk.get_paginator(op).paginate(ByCreatedAfter=since):
                jobs += page[key]
    return jobs


async def _overview(pilot, app, loads: int = 1) -> OverviewView:
    view = app.overview_view
    await wait_for(pilot, lambda: view.loads >= loads)
    await pilot.pause()
    return view


def _index(view: OverviewView, text: str) -> int:
    return next(i for i, line in enumerate(view.lines) if text in line.text.plain and line.jump is not None)


async def test_home_screen_lists_what_is_wrong_and_jumps_to_the_fleet_filtered(sandbox):
    app = make_app(sandbox, tab="overview")
    async with app.run_test(size=(170, 44)) as pilot:
        view = await _overview(pilot, app)
        assert app.query_one("#tabs").active == "overview"  # the first tab and the home screen
        text = "\n".join(line.text.plain for line in view.lines)
        assert "node(s) agent ConnectionLost" in text and "prod-web-03" in text
        assert "1 node(s) instance stopped" in text and "stg-app-02" in text
        assert "legacy-api-heartbeat" in text and "ERR_CONNECTION_REFUSED" in text  # service down
        assert "Backup jobs failed (24 h)" in text
        # exactly what the Backup API says: each failed job listed, or "none failed" only when there is none
        jobs = _jobs_of_the_last_day(sandbox)
        failed = [j for j in jobs if j["State"] in ("FAILED", "EXPIRED", "ABORTED")]
        issues = [j for j in jobs if j["State"] == "COMPLETED" and j.get("MessageCategory", "SUCCESS") != "SUCCESS"]
        assert jobs, "the default scenario has two weeks of backup history"
        failed_lines = [line for line in text.splitlines() if line.strip().startswith("✗ ")
                        and (" backup " in f" {line} " or " copy " in f" {line} ")]
        if failed:
            assert "none failed" not in text
            assert len(failed_lines) == min(len(failed), NODE_LINES), (failed_lines, failed)
        else:
            assert f"{len(jobs)} backup and copy jobs, none failed" in text and not failed_lines
        if issues:
            assert f"{len(issues)} completed with issues" in text
        else:
            assert "completed with issues" not in text
        ov = view.query_one("#ov-list")
        ov.highlighted = _index(view, "agent ConnectionLost")
        await pilot.press("enter")
        await pilot.pause()
        fleet = app.fleet_view
        assert app.query_one("#tabs").active == "fleet" and fleet.query_text == "ping:ConnectionLost !state:stopped"
        shown = fleet.table.visible_rows()
        assert shown and all(n.ping_status == "ConnectionLost" for n in shown)
        # the failing canary line lands on the canaries, filtered to the failing ones
        app.show_tab("overview")
        await pilot.pause()
        ov.highlighted = _index(view, "legacy-api-heartbeat")
        await pilot.press("enter")
        monitoring = app.monitoring_view
        await wait_for(pilot, lambda: monitoring.canary_loads >= 1)
        assert app.query_one("#tabs").active == "monitoring" and monitoring.panel == "canaries"
        assert [r.canary.name for r in monitoring.table("mon-canaries").visible_rows()] == ["legacy-api-heartbeat"]
    app.close_aws()


async def test_scripted_incident_appears_notifies_and_the_jump_lands_on_alarms_in_alarm(sandbox):
    app = make_app(sandbox, tab="overview")
    async with app.run_test(size=(170, 44)) as pilot:
        view = await _overview(pilot, app)
        before = {a.key for h in view.health for a in h.alarms}
        # started 30 minutes ago: the last three complete 5-minute periods are all past the 4-minute ramp, so
        # the 3-of-3 CPU alarm fires whatever the alignment of "now" with the period boundaries (20 minutes,
        # the first choice, left the oldest period straddling the ramp and made the test flaky)
        sandbox._send("POST", "incident", {"action": "start", "elapsed": 1800, "duration": 3600})
        try:
            def fired() -> list[str]:
                return [a.name for h in view.health for a in h.alarms if a.key not in before]

            for _ in range(10):  # the sandbox evaluates alarms every (sandbox) minute or on a change
                loads = view.loads
                sandbox._send("POST", "alarms/evaluate", {})
                app.fleet_view.refresh_now()  # what the refresh interval does
                await wait_for(pilot, lambda loads=loads: view.loads > loads)
                if fired():
                    break
                await pilot.pause(0.5)
            names = fired()
            name = "prod-web-02 high CPU"  # the incident's node: its alarm, not just any alarm, must fire
            assert name in names, names
            line = view.lines[_index(view, name)]
            assert "Threshold Crossed" in line.text.plain
            assert any(name in n and "ALARM" in n for n in view.notified)  # the notification
            view.query_one("#ov-list").highlighted = _index(view, name)
            await pilot.press("enter")
            monitoring = app.monitoring_view
            await wait_for(pilot, lambda: monitoring.alarm_loads >= 1)
            await pilot.pause()
            assert monitoring.panel == "alarms" and monitoring.filters["alarms"] == "state:ALARM"
            shown = monitoring.table("mon-alarms").visible_rows()
            assert shown and all(a.state == "ALARM" for a in shown) and name in [a.name for a in shown]
        finally:
            sandbox._send("POST", "incident", {"action": "stop"})
    app.close_aws()


async def test_denied_monitoring_and_a_region_down_never_show_all_clear(sandbox):
    """AccessDenied on CloudWatch and Synthetics everywhere, and Backup unavailable in the DR region: the
    sections that depend on them say "not checked" in place, with the region and the reason, and no ✓."""
    dr = sandbox.regions[1]
    sandbox.add_fault("AccessDenied", service="monitoring")
    sandbox.add_fault("AccessDenied", service="synthetics")
    sandbox.add_fault("Unavailable", service="backup", region=dr)
    app = make_app(sandbox, tab="overview")
    async with app.run_test(size=(170, 44)) as pilot:
        view = await _overview(pilot, app)
        text = "\n".join(line.text.plain for line in view.lines)
        heading = {line.key: line.text.plain for line in view.lines if line.key.startswith("h:")}
        for key in ("h:alarms", "h:canaries", "h:slow"):
            assert "✓" not in heading[key] and "not checked" in heading[key], heading[key]
        assert "no alarm in ALARM" not in text
        assert "canaries passing" not in text and "latency normal" not in text
        for region in sandbox.regions:
            assert f"could not check alarms in {region}" in text
            assert f"could not check canaries in {region}" in text
        # Backup answered in the primary region only: never "none failed" for the whole account
        assert "✓" not in heading["h:backups"] and "not checked in 1 region(s)" in heading["h:backups"]
        assert f"could not check backup jobs in {dr}" in text
        ok = [line.text.plain for line in view.lines if line.text.plain.strip().startswith("✓")]
        assert all("backup" not in line for line in ok), ok
        # in the warning colour, in place (right under its heading, before the next section)
        alarms_at = next(i for i, line in enumerate(view.lines) if line.key == "h:alarms")
        assert view.lines[alarms_at + 1].key.startswith("unchecked:alarms:")
        assert any(span.style == "bold yellow" for span in view.lines[alarms_at + 1].text.spans)
    app.close_aws()


async def test_the_cursor_stays_on_its_line_when_lines_appear_above_it(sandbox):
    app = make_app(sandbox, tab="overview")
    async with app.run_test(size=(170, 44)) as pilot:
        view = await _overview(pilot, app)
        ov = view.query_one("#ov-list")
        target = _index(view, "legacy-api-heartbeat")
        ov.highlighted = target
        key = view.lines[target].key
        sandbox.add_fault("AccessDenied", service="ec2", region=sandbox.regions[1])  # adds lines above
        loads = view.loads
        app.ctx.nav.refresh_fleet()
        await wait_for(pilot, lambda: view.loads > loads)
        await pilot.pause()
        assert view.lines[ov.highlighted].key == key
        assert _index(view, "legacy-api-heartbeat") != target  # it did move
        # j/k move the cursor here as in every list
        await pilot.press("j")
        assert ov.highlighted != _index(view, "legacy-api-heartbeat") or ov.highlighted == len(view.lines) - 1
        await pilot.press("k")
        assert view.lines[ov.highlighted].key == key
    app.close_aws()


async def _log_alarm(app, tag: str) -> tuple[str, str, str]:
    """A group, a metric filter on it and an alarm on the filter's metric, put into ALARM (missing data is
    breaching, so the sandbox's own evaluation keeps it there). Returns (group, filter, alarm)."""
    region = app.ctx.regions[0]
    group, fname, alarm = f"/t/{tag}/nginx/access", f"5xx-{tag}", f"5xx in nginx {tag}"

    async def go() -> None:
        await app.aws.call("logs", region, "create_log_group", logGroupName=group)
        await app.aws.call("logs", region, "put_metric_filter", logGroupName=group, filterName=fname,
                           filterPattern="[ip, id, user, ts, request, status = 5*, size]",
                           metricTransformations=[{"metricName": f"Nginx5xx-{tag}", "metricNamespace": "Storefront",
                                                   "metricValue": "1"}])
        await app.aws.call("cloudwatch", region, "put_metric_alarm", AlarmName=alarm, Namespace="Storefront",
                           MetricName=f"Nginx5xx-{tag}", Statistic="Sum", Period=60, EvaluationPeriods=1,
                           Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                           TreatMissingData="breaching")
        await app.aws.call("cloudwatch", region, "set_alarm_state", AlarmName=alarm, StateValue="ALARM",
                           StateReason="5xx in the access log")

    await app.aws_loop.run(go())
    return group, fname, alarm


async def _drop_log_alarm(app, group: str, fname: str, alarm: str) -> None:
    region = app.ctx.regions[0]

    async def go() -> None:
        await app.aws.call("cloudwatch", region, "delete_alarms", AlarmNames=[alarm])
        await app.aws.call("logs", region, "delete_metric_filter", logGroupName=group, filterName=fname)

    await app.aws_loop.run(go())


async def _reload(pilot, app, view: OverviewView) -> None:
    loads = view.loads
    app.ctx.nav.refresh_fleet()
    await wait_for(pilot, lambda: view.loads > loads)
    await pilot.pause()


async def test_an_alarm_fed_by_a_metric_filter_is_errors_in_logs_and_enter_follows_its_groups(sandbox):
    import uuid

    app = make_app(sandbox, tab="overview")
    tag = uuid.uuid4().hex[:8]
    async with app.run_test(size=(170, 44)) as pilot:
        view = await _overview(pilot, app)
        heading = next(line.text.plain for line in view.lines if line.key == "h:logs")
        assert heading.startswith("Errors in logs")
        group, fname, alarm = await _log_alarm(app, tag)
        try:
            await _reload(pilot, app, view)
            heading = next(line.text.plain for line in view.lines if line.key == "h:logs")
            assert "✓" not in heading and "not checked" not in heading
            index = _index(view, f"errors in logs: {alarm}")
            line = view.lines[index]
            assert f"(metric filter {fname} on {group})" in line.text.plain and "enter: open the logs" in line.text.plain
            assert app.aws.calls["logs:DescribeMetricFilters"] >= 1
            # the CPU alarms of the scenario are not log alarms
            assert not any("errors in logs" in ln.text.plain and "CPU" in ln.text.plain for ln in view.lines)
            view.query_one("#ov-list").highlighted = index
            await pilot.press("enter")
            logs = app.logs_view
            await wait_for(pilot, lambda: app.active_tab == "logs" and bool(logs.viewer_panel.targets))
            assert [t.group for t in logs.viewer_panel.targets] == [group]
        finally:
            await _drop_log_alarm(app, group, fname, alarm)
    app.close_aws()


async def test_unreadable_metric_filters_make_errors_in_logs_unchecked_never_a_tick(sandbox):
    import uuid

    app = make_app(sandbox, tab="overview")
    tag = uuid.uuid4().hex[:8]
    async with app.run_test(size=(170, 44)) as pilot:
        view = await _overview(pilot, app)
        group, fname, alarm = await _log_alarm(app, tag)  # an alarm fires: its metric filters must be read
        sandbox.add_fault("AccessDenied", service="logs", action="DescribeMetricFilters")
        try:
            await _reload(pilot, app, view)
            heading = next(line.text.plain for line in view.lines if line.key == "h:logs")
            assert "✓" not in heading and "not checked" in heading, heading
            text = "\n".join(line.text.plain for line in view.lines)
            assert f"could not check metric filters in {app.ctx.regions[0]}" in text
            # what is said of the other region names it, undimmed by a ✓, and says nothing of the unread one
            ok = [line.text.plain for line in view.lines if line.key == "ok:logs"]
            assert all(o.strip().startswith("–") and app.ctx.regions[0] not in o for o in ok), ok
            assert all(o.endswith(f"in {app.ctx.regions[1]}") for o in ok), ok
            assert alarm in text  # the alarm itself still shows under Alarms in ALARM
        finally:
            sandbox.clear_faults()
            await _drop_log_alarm(app, group, fname, alarm)
    app.close_aws()


async def test_hidden_overview_checks_when_shown_or_when_the_bell_is_on(sandbox):
    """Behind another tab with the bell off, a Fleet refresh only marks the Overview stale (its checks are a
    dozen calls per region); showing it checks at once. With the bell on it checks from any tab (it rings)."""
    from tests.helpers import loaded

    app = make_app(sandbox)  # starts on the Fleet
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot, app)
        view = app.tab("overview")
        await pilot.pause(0.5)
        assert view.loads == 0 and view.stale
        app.show_tab("overview")
        await wait_for(pilot, lambda: view.loads == 1)
        app.show_tab("fleet")
        view.bell = True
        app.ctx.nav.refresh_fleet()
        await wait_for(pilot, lambda: view.loads == 2)
    app.close_aws()
