"""Inventory flags that mean something (issue 15): versions known to be outdated are flagged (the seeded
openssl 3.0.2, below the 3.0.7 fix of CVE-2022-3602), "late" only past twice the association's schedule (not
20 nodes of 25), and a mouse click then enter acts on the row clicked. Against the real sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opstui.advisories import outdated, outdated_mark
from opstui.views.inventory.rows import staleness
from tests.helpers import loaded, make_app, wait_for


def test_minimum_safe_versions_flag_only_what_an_advisory_fixed():
    assert outdated("openssl", "3.0.2").minimum == "3.0.7"
    assert "secadv" in outdated("openssl-libs", "3.0.6").source
    assert outdated("openssl", "1:3.0.2") is not None  # an rpm epoch does not hide it
    for name, version in (("openssl", "3.0.7"), ("openssl", "3.0.13"), ("openssl", "1.1.1k"),
                          ("libssl3", "3.0.2-0ubuntu1.15"),  # Ubuntu backports the fixes into 3.0.2
                          ("bash", "5.2.15"), ("openssl", "")):
        assert outdated(name, version) is None, (name, version)
    assert outdated_mark("openssl", "3.0.2") == " ⚠ < 3.0.7" and outdated_mark("openssl", "3.0.13") == ""


def test_late_means_two_schedule_periods_missed():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    period = timedelta(minutes=30)
    assert staleness(now - timedelta(minutes=59), period, now) == ""
    assert staleness(now - timedelta(minutes=61), period, now) == "late"
    assert staleness(now - timedelta(hours=25), period, now) == "stale"


def cell(table, row, key: str) -> str:
    pos = next(i for i, r in enumerate(table.rows) if table.row_key(r) == table.row_key(row))
    return table.cells[pos][[c.key for c in table.columns].index(key)]


async def test_outdated_openssl_is_flagged_late_is_rare_and_a_click_then_enter_picks_the_clicked_row(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot, app)
        app.show_tab("inventory")
        view = app.inventory_view
        await wait_for(pilot, lambda: view.node_loads >= 1 and view.setup_loads >= 1)
        await pilot.pause()
        # late: only nodes past two periods of the association's schedule; the seeded association ran 20
        # minutes ago and gathered every node it succeeded on
        nodes = view.table("inv-nodes")
        late = [r for r in nodes.rows if r.stale == "late"]
        assert len(late) <= 2, [(r.name, r.node.capture_time) for r in late]
        assert sum(1 for r in nodes.rows if not r.stale) >= 15
        # outdated versions are flagged where versions are shown
        view.show_panel("find")
        view.start_search("openssl")
        await wait_for(pilot, lambda: view.searches >= 1)
        await pilot.pause()
        versions, matches = view.table("inv-versions"), view.table("inv-matches")
        by_value = {r.count.value: r for r in versions.rows}
        assert "3.0.2" in by_value and "3.0.13" in by_value
        assert cell(versions, by_value["3.0.2"], "value") == "3.0.2 ⚠ < 3.0.7"
        assert cell(versions, by_value["3.0.13"], "value") == "3.0.13"
        ubuntu = [v for v in by_value if "ubuntu" in v]
        assert all("⚠" not in cell(versions, by_value[v], "value") for v in ubuntu)
        old = [r for r in matches.rows if r.match.version == "3.0.2"]
        assert old and all(cell(matches, r, "version").endswith("⚠ < 3.0.7") for r in old)
        assert "outdated (< 3.0.7: CVE-2022-3602" in str(matches.border_title)
        # a click on a version row, then enter: that version is the one picked (not the row below it)
        for position in (2, 0, 1):
            target = versions.rows[versions.order_shown[position]]
            await pilot.click(versions, offset=(4, 2 + position))  # border, header, then the rows
            await wait_for(pilot, lambda target=target: versions.cursor_row is target and versions.has_focus)
            await pilot.press("enter")
            await wait_for(pilot, lambda target=target: view.version_pick == target.count.value)
            assert {r.match.version for r in matches.visible_rows()} == {target.count.value}
            await pilot.press("enter")  # again: all versions
            await wait_for(pilot, lambda: view.version_pick is None)
    app.close_aws()
