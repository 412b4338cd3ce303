"""Fleet budgets in the UI: a slow region never holds back the others (the sandbox's per-region latency), and
refreshes never overlap however often one is asked for while a slow one runs."""

from __future__ import annotations

from tests.helpers import loaded, make_app, wait_for

FAST, SLOW = "ap-northeast-1", "ap-northeast-3"


async def test_a_slow_region_never_delays_the_others(sandbox):
    sandbox.latency("3s", region=SLOW)
    try:
        app = make_app(sandbox)
        async with app.run_test(size=(160, 40)) as pilot:
            view = app.fleet_view
            # first start: the fast region's whole table shows while the slow one is still on its first call
            await wait_for(pilot, lambda: any(n.region == FAST for n in view.table.rows), timeout=30)
            await pilot.pause(0.3)
            assert view.refreshes == 0
            assert {n.region for n in view.table.rows} == {FAST}
            fast_first = {n.key for n in view.table.rows}
            await wait_for(pilot, lambda: view.refreshes >= 1, timeout=60)
            assert {n.key for n in view.table.rows if n.region == FAST} == fast_first
            # a later refresh: the fast region's new state shows before the slow region answers
            node = next(n for n in view.table.rows if n.region == FAST and n.ping_status == "Online"
                        and n.ec2_state == "running")
            sandbox.set_ping(FAST, node.instance_id, "ConnectionLost")
            view.refresh_now()
            await wait_for(pilot, lambda: any(n.key == node.key and n.ping_status == "ConnectionLost"
                                              for n in view.table.rows), timeout=30)
            assert view.refreshes == 1  # the refresh is still waiting for the slow region
            assert any(n.region == SLOW for n in view.table.rows)  # whose last rows stay meanwhile
            await wait_for(pilot, lambda: view.refreshes >= 2, timeout=60)
            sandbox.set_ping(FAST, node.instance_id, "Online")
    finally:
        sandbox.latency(None, region=SLOW)


async def test_refreshes_never_overlap_while_a_slow_one_runs(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await loaded(pilot, app)
        sandbox.latency("1s")
        try:
            before = app.aws.calls["ssm:DescribeInstanceInformation"]
            for _ in range(5):
                view.refresh_now()
                await pilot.pause(0.1)
            await wait_for(pilot, lambda: view.refreshes >= 3 and not view.loading_refresh, timeout=60)
            await pilot.pause(0.5)
        finally:
            sandbox.latency("0")
        assert view.peak_in_flight == 1
        assert view.refreshes == 3  # the one running, then the asks folded into one more
        per_refresh = 6 * len(sandbox.regions)  # one call per listing: the scenario fits in a page each
        assert app.aws.calls["ssm:DescribeInstanceInformation"] - before == 2 * per_refresh
