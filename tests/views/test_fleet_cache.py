"""First paint from the fleet cache: the second start shows the last known rows, marked stale, before its
first listing returns (the sandbox made slow with its latency knob), and the fresh table replaces them."""

from __future__ import annotations

import stat

from opstui import fleet_cache
from tests.helpers import loaded, make_app, wait_for


async def test_a_second_start_paints_the_cached_fleet_marked_stale_before_the_listing_returns(
        sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = make_app(sandbox, fleet_cache=True)
    async with first.run_test(size=(160, 40)) as pilot:
        view = await loaded(pilot, first)
        fresh_keys = {n.key for n in view.table.rows}
        assert view.showing == "" and "STALE" not in str(view.table.border_title)
    first.close_aws()
    files = sorted((tmp_path / "opstui" / "fleet").rglob("*.json"))
    assert {f.stem for f in files} == set(sandbox.regions)
    for f in files:  # private: the file 0600, its folders 0700
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
        assert sandbox.credentials.secret_access_key not in f.read_text()
        assert sandbox.credentials.access_key_id not in f.read_text()

    sandbox.latency("2s")  # every API call of the second start now waits 2 s: the cache must not
    try:
        second = make_app(sandbox, fleet_cache=True)
        async with second.run_test(size=(160, 40)) as pilot:
            view = second.fleet_view
            await wait_for(pilot, lambda: len(view.table.rows) > 0)
            # no listing has answered: at most the first call of each of the six listings a region is in flight
            assert view.refreshes == 0 and second.aws.calls["ssm:DescribeInstanceInformation"] <= 6 * 2
            assert view.showing == "cache"
            assert {n.key for n in view.table.rows} == fresh_keys
            assert "STALE: cached" in str(view.table.border_title)
            assert all(r.stale_since is not None for r in view.snapshot.regions)
            assert second.ctx.fleet.snapshot is None  # other tabs never act on cached rows
            sandbox.latency("0")
            await wait_for(pilot, lambda: view.refreshes >= 1, timeout=60)
            assert view.showing == "" and "STALE" not in str(view.table.border_title)
            assert {n.key for n in view.table.rows} == fresh_keys
    finally:
        sandbox.latency("0")


def test_an_unreadable_or_foreign_cache_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = fleet_cache.region_path(None, "http://127.0.0.1:1", "ap-northeast-1")
    path.parent.mkdir(parents=True)
    good = '{"version": 2, "region": "ap-northeast-1", "taken_at": "2026-01-01T00:00:00+00:00", "nodes": '
    for text in ("{not json", '{"version": 99, "region": "ap-northeast-1"}', '{"version": 2, "region": "x"}',
                 good + '[{"instance_id": 5}]}', good + '[[5]]}',
                 good + '[["i", "r", "n", "p", "pl", "a", false, "ip", "s", "t", "az", null, ["odd"]]]}'):
        path.write_text(text)
        assert fleet_cache.load(None, "http://127.0.0.1:1", ["ap-northeast-1"]) is None


def test_the_cache_is_kept_per_profile_endpoint_and_region(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    paths = {fleet_cache.region_path(p, e, r) for p in (None, "ops") for e in (None, "http://127.0.0.1:9")
             for r in ("ap-northeast-1", "ap-northeast-3")}
    assert len(paths) == 8
    root = tmp_path / "opstui" / "fleet"
    for profile in ("../../etc", "..", ".", ""):
        path = fleet_cache.region_path(profile, None, "..")
        assert path.resolve().is_relative_to(root) and path.parent.parent.parent == root


async def test_with_no_cache_the_first_listing_shows_its_rows_as_its_pages_arrive(big_sandbox):
    big_sandbox.latency("700ms")  # the largest listing needs two pages: rows show after the first
    try:
        app = make_app(big_sandbox)
        async with app.run_test(size=(160, 40)) as pilot:
            view = app.fleet_view
            await wait_for(pilot, lambda: len(view.table.rows) > 0, timeout=60)
            assert view.refreshes == 0 and view.showing == "partial"
            assert "loading…" in str(view.table.border_title)
            partial = len(view.table.rows)
            await wait_for(pilot, lambda: view.refreshes >= 1, timeout=60)
            assert view.showing == "" and len(view.table.rows) > partial
    finally:
        big_sandbox.latency("0")


def test_a_saved_fleet_reads_back_with_its_rows_and_tags_but_not_the_detail_fields(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from opstui.aws.models import FleetNode, FleetSnapshot, RegionFleet

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    node = FleetNode("i-0123", "r1", "[red]web[/red]\x1b[2J", "Online", "Amazon Linux 2023", "3.3.1", True, "10.0.0.1",
                     "running", "t3.large", "r1a", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                     tags=(("Name", "web"), ("Env", "prod")), ssm_fields=(("IamRole", "x"),), ec2_fields=(("State", "r"),))
    failed = RegionFleet("r2", error=RuntimeError("down"))
    taken = datetime(2026, 1, 2, 3, 5, tzinfo=UTC)
    written = fleet_cache.save(None, None, FleetSnapshot((RegionFleet("r1", (node,)), failed), taken, (node,)))
    assert [p.stem for p in written] == ["r1"]  # a failed region keeps its older file
    back = fleet_cache.load(None, None, ["r1", "r2"])
    assert back is not None and [r.region for r in back.regions] == ["r1"]
    assert back.regions[0].stale_since == taken
    (cached,) = back.nodes
    assert cached.name == node.name and cached.tags == node.tags and cached.last_ping == node.last_ping
    assert cached.agent_outdated is True and (cached.ssm_fields, cached.ec2_fields) == ((), ())


def test_a_first_screen_reads_only_the_first_rows_in_table_order(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from opstui.aws.models import FleetNode, FleetSnapshot, RegionFleet

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def node(i: str, region: str) -> FleetNode:
        return FleetNode(i, region, i, "Online", "", "", False, "", "running", "", "", None)

    r1 = RegionFleet("r1", tuple(node(f"i-{n}", "r1") for n in range(3)))
    r2 = RegionFleet("r2", tuple(node(f"i-{n}", "r2") for n in range(2)))
    fleet_cache.save(None, None, FleetSnapshot((r1, r2), datetime.now(UTC), r1.nodes + r2.nodes))
    head = fleet_cache.load(None, None, ["r1", "r2"], limit=4)
    assert [n.key for n in head.nodes] == ["r1/i-0", "r1/i-1", "r1/i-2", "r2/i-0"]
    assert len(fleet_cache.load(None, None, ["r1", "r2"]).nodes) == 5
