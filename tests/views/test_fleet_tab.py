"""Pilot tests of the Fleet tab against the real sandbox (aiobotocore -> HTTP -> moto + extensions)."""

from __future__ import annotations

from opstui.app import OpsApp
from opstui.config import Settings
from opstui.views.fleet import FleetView
from tests.helpers import UNUSED_CREDS, loaded, make_app, wait_for


def keys(view: FleetView) -> list[str]:
    return [r.key for r in view.table.visible_rows()]


async def test_fleet_shows_every_node_with_counts_in_the_title(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        total = len(view.snapshot.nodes)
        assert total >= 24 and len(view.table.order_shown) == total
        title = str(view.table.border_title)
        assert f"Fleet {total}" in title and "Online" in title and "ConnectionLost" in title
        assert app.account == "123456789012"
        assert {r.region for r in view.table.rows} == {"ap-northeast-1", "ap-northeast-3"}
    app.close_aws()


async def test_typing_a_filter_narrows_rows_and_esc_keeps_it(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        await pilot.press("slash", *"tag:Role=web")
        shown = view.table.visible_rows()
        assert shown and all(n.tag("Role") == "web" for n in shown)
        await pilot.press("enter")  # back to the table, filter kept
        assert view.table.has_focus and view.query_text == "tag:Role=web"
        await pilot.press("slash", "end", *" !ping:Online")
        await pilot.pause()
        assert all(n.ping_status != "Online" for n in view.table.visible_rows())
        assert "filter: tag:Role=web !ping:Online" in str(view.table.border_title)
    app.close_aws()


async def test_field_filters_state_and_ping(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        view.set_filter("state:stopped")
        assert view.table.visible_rows() and all(n.ec2_state == "stopped" for n in view.table.visible_rows())
        view.set_filter("ping:ConnectionLost")
        assert all(n.ping_status == "ConnectionLost" for n in view.table.visible_rows())
        view.set_filter("")
        assert len(view.table.order_shown) == len(view.table.rows)
    app.close_aws()


async def test_sort_by_column_and_reverse(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        view.table.sort_by("name")
        names = [n.name.lower() for n in view.table.visible_rows()]
        assert names == sorted(names)
        await pilot.press("O")
        names = [n.name.lower() for n in view.table.visible_rows()]
        assert names == sorted(names, reverse=True)
        await pilot.press("o")  # next column: instance id
        assert view.table.sort_column == "id"
    app.close_aws()


async def test_space_selects_a_selects_visible_esc_clears(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        first, second = keys(view)[:2]
        await pilot.press("space", "space")
        assert view.table.selected == {first, second}
        assert "selected 2" in str(view.table.border_title)
        view.set_filter("tag:Env=prod")
        await pilot.press("a")
        prod = {n.key for n in view.table.visible_rows()}
        assert prod <= view.table.selected
        await pilot.press("escape")
        assert not view.table.selected
    app.close_aws()


async def test_refresh_keeps_cursor_selection_filter_and_shows_changes(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        view.set_filter("region:ap-northeast-1")
        await pilot.press("down", "down", "down")
        cursor_key = view.table.cursor_row.key
        await pilot.press("space")
        selected = set(view.table.selected)
        target = next(n for n in view.table.visible_rows() if n.ping_status == "Online" and n.key != cursor_key)
        sandbox.set_ping(target.region, target.instance_id, "ConnectionLost")
        try:
            await pilot.press("r")
            await loaded(pilot, app, count=2)
            assert view.table.selected == selected
            assert view.query_text == "region:ap-northeast-1"
            assert view.table.cursor_row.key == view.table.visible_rows()[view.table.cursor].key
            # the cursor stays on the same node (it moved one down after space)
            assert view.table.cursor_row.key != "" and view.table.cursor == 4
            changed = next(n for n in view.table.rows if n.key == target.key)
            assert changed.ping_status == "ConnectionLost"
        finally:
            sandbox.set_ping(target.region, target.instance_id, "Online")
    app.close_aws()


async def test_refreshes_never_overlap(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        started = view.refreshes
        for _ in range(6):
            view.refresh_now()  # six requests in one tick: one runs, one is queued behind it
        await wait_for(pilot, lambda: not view.loading_refresh and not view.refresh_pending)
        await pilot.pause(0.2)
        assert view.refreshes - started == 2
        assert view.peak_in_flight == 1
    app.close_aws()


async def test_a_failing_region_shows_its_error_and_the_other_region_still_works(sandbox):
    sandbox.add_fault("AccessDenied", service="ssm", region="ap-northeast-3")
    app = make_app(sandbox)
    notes = []
    async with app.run_test(size=(180, 40), notifications=True) as pilot:
        app.notify = lambda message, **kw: notes.append((message, kw))  # record what the user would see
        view = await loaded(pilot, app)
        regions = {n.region for n in view.table.rows}
        assert regions == {"ap-northeast-1"}
        assert "ap-northeast-3" in app.failing_regions
        status = str(view.query_one("#fleet-status").render())
        assert "ap-northeast-3" in status and "ssm:DescribeInstanceInformation" in status
        assert "1 region(s) failing" in str(view.table.border_title)
        # and one notification naming the region, the cause and the missing permission, as literal text
        await wait_for(pilot, lambda: notes)
        assert len(notes) == 1, notes
        message, kw = notes[0]
        assert kw["title"] == "Fleet: ap-northeast-3 failed" and kw["severity"] == "error" and kw["markup"] is False
        assert "access denied" in message and "ssm:DescribeInstanceInformation" in message
    app.close_aws()


async def test_unreachable_endpoint_shows_a_clear_error_not_a_traceback():
    from opstui.aws.clients import AwsClients

    app = OpsApp(Settings(regions=("ap-northeast-1",), endpoint_url="http://127.0.0.1:9", refresh=3600),
                 credentials=UNUSED_CREDS)
    app.aws = AwsClients(endpoint_url="http://127.0.0.1:9", credentials=UNUSED_CREDS, max_attempts=1)
    async with app.run_test(size=(160, 30)) as pilot:
        view = await loaded(pilot, app)
        status = str(view.query_one("#fleet-status").render())
        assert "unreachable" in status and "ap-northeast-1" in status
        assert app.is_running
    app.close_aws()


async def test_switching_region_never_shows_the_previous_data(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        assert any(n.region == "ap-northeast-1" for n in view.table.rows)
        app.switch(regions=("ap-northeast-3",))
        assert view.table.rows == []  # cleared at once, before the new data arrives
        await wait_for(pilot, lambda: view.table.rows)
        assert {n.region for n in view.table.rows} == {"ap-northeast-3"}
    app.close_aws()


async def test_read_only_badge_and_help_screen(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(180, 40)) as pilot:
        await loaded(pilot, app)
        assert "READ-ONLY" in str(app.query_one("#status-bar").render())
        await pilot.press("question_mark")
        await pilot.pause()
        from opstui.views.common.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
    app.close_aws()


async def test_detail_pane_lists_ssm_fields_and_tags(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        body = str(view.query_one("#detail-body").render())
        node = view.table.cursor_row
        assert "PingStatus" in body and "AgentVersion" in body and node.instance_id in body
        for key, _ in node.tags:
            assert key in body
    app.close_aws()


async def test_auto_refresh_runs_on_its_own(sandbox):
    app = make_app(sandbox, refresh=0.3)
    async with app.run_test(size=(160, 30)) as pilot:
        view = await loaded(pilot, app)
        await wait_for(pilot, lambda: view.refreshes >= 3, timeout=20)
        assert view.peak_in_flight == 1
    app.close_aws()


async def test_palette_switches_region_and_sorts(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await loaded(pilot, app)
        await pilot.press("colon")
        await pilot.pause(0.2)
        await pilot.press(*"sort by Ping")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.table.sort_column == "ping")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Region: only ap-northeast-3")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.settings.regions == ("ap-northeast-3",))
        await wait_for(pilot, lambda: view.table.rows and view.snapshot is not None)
        assert {n.region for n in view.table.rows} == {"ap-northeast-3"}
    app.close_aws()


async def test_a_region_failing_after_a_good_refresh_keeps_its_last_nodes_marked_stale(sandbox):
    from opstui.aws.clients import AwsClients

    app = make_app(sandbox)
    # one attempt per call: botocore's adaptive backoff on throttling is not what this test is about
    app.aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, max_attempts=1)
    async with app.run_test(size=(180, 40)) as pilot:
        view = await loaded(pilot, app)
        dr_nodes = {n.key for n in view.table.rows if n.region == "ap-northeast-3"}
        sandbox.add_fault("Throttling", service="ssm", region="ap-northeast-3")
        await pilot.press("r")
        await loaded(pilot, app, count=2)
        assert {n.key for n in view.table.rows if n.region == "ap-northeast-3"} == dr_nodes
        status = str(view.query_one("#fleet-status").render())
        assert "throttled" in status and "as of" in status
        sandbox.clear_faults()
        await pilot.press("r")
        await loaded(pilot, app, count=3)
        assert str(view.query_one("#fleet-status").render()) == ""
    app.close_aws()
