"""80×24, the SSH user's terminal: every tab usable (at least five rows in every list, the columns that matter,
the badges, the help, the Run Command form), and nothing lost at 200×50. Against the real sandbox."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from opstui.views import runcommand
from opstui.views.common.form import FormScreen
from opstui.views.common.help import HelpScreen
from opstui.views.common.layout import MIN_LIST_ROWS
from opstui.views.common.node_table import Column, NodeTable, drop_order, fit_columns
from opstui.views.common.tab import TabView
from opstui.views.fleet.columns import FLEET_COLUMNS
from opstui.views.runcommand.confirm import ConfirmRunScreen
from tests.helpers import loaded, make_app, wait_for

SMALL, LARGE = (80, 24), (200, 50)

#: per table: the columns an 80-column terminal must keep (the rest are dropped in each table's stated order)
KEY_COLUMNS: dict[str, set[str]] = {
    "fleet-table": {"name", "id", "ping", "state"},
    "mon-alarms": {"state", "name", "since"},
    "mon-topics": {"name", "subs"},
    "mon-subs": {"protocol", "endpoint", "status"},
    "mon-canaries": {"name", "state", "last", "when", "rate"},
    "mon-agents": {"name", "id", "agent"},
    "bk-jobs": {"status", "kind", "resource", "created"},
    "bk-plans": {"plan", "schedule", "keep"},
    "bk-vaults": {"vault", "points"},
    "bk-points": {"resource", "status", "created"},
    "bk-buckets": {"name", "versioning"},
    "inv-nodes": {"name", "captured", "id"},
    "inv-types": {"type", "captured"},
    "inv-matches": {"name", "id", "version"},
    "inv-execs": {"status", "created"},
    "run-nodes": {"name", "status", "exit", "time", "output"},
    "history-table": {"when", "status", "targets"},
}


def screen_lines(app) -> list[str]:
    """The text of the screen as the terminal gets it. Textual has no public call for this (its screenshots
    are SVG), so this reads the compositor's strips, as the hostile sweep does."""
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


def check_list(app, table: NodeTable) -> None:
    """A list on screen: inside the terminal above the footer, five rows at least, its key columns."""
    width, height = app.size
    region = table.region
    assert table.display and region.height > 0, f"{table.id} is not shown"
    assert region.right <= width and region.bottom <= height - 1, f"{table.id} leaves the screen: {region}"
    rows = table.scrollable_content_region.height - 1  # the header row
    assert rows >= MIN_LIST_ROWS, f"{table.id} shows {rows} rows at {width}x{height} ({region}, {table.scrollable_content_region}, {table.total_width})"
    assert table.total_width <= table.scrollable_content_region.width or width < 100, table.id
    missing = KEY_COLUMNS.get(table.id or "", set()) - set(table.shown_keys)
    assert not missing, f"{table.id} lost {missing} at {width}x{height} (shows {table.shown_keys})"


def shown_tables(panel) -> list[NodeTable]:
    return [t for t in panel.query(NodeTable) if t.display and all(a.display for a in t.ancestors_with_self
                                                                   if a is not panel.app.screen)]


async def every_panel(pilot, app, tab_id: str):
    """Each panel of a tab in front in turn, loaded."""
    app.show_tab(tab_id)
    await pilot.pause()
    view = app.tab(tab_id)
    if not isinstance(view, TabView):
        yield view
        return
    for cls in view.PANELS:
        view.show_panel(cls.NAME)
        panel = view.panel_named(cls.NAME)
        await pilot.pause(0.2)
        await wait_for(pilot, lambda panel=panel: not panel.busy)  # the find panel loads nothing until asked
        await pilot.pause(0.1)
        yield panel


@pytest.mark.parametrize("tab_id", ["fleet", "monitoring", "backup", "inventory", "logs"])
async def test_every_list_shows_five_rows_and_its_key_columns_at_80x24(sandbox, tab_id):
    app = make_app(sandbox)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot, app)
        checked: set[str] = set()
        async for panel in every_panel(pilot, app, tab_id):
            for table in shown_tables(panel):
                check_list(app, table)
                checked.add(table.id or "")
        assert checked
        if tab_id == "inventory":  # the entries: at 80 columns they take the whole width once drilled into
            inventory = app.inventory_view
            inventory.show_panel("browse")
            await pilot.pause()
            inventory.table("inv-nodes").focus()
            await pilot.press("enter", "enter")
            await wait_for(pilot, lambda: inventory.entry_loads >= 1)
            await pilot.pause(0.1)
            check_list(app, inventory.table("inv-entries"))
            assert not inventory.query_one("#inv-left").display
            await pilot.press("escape", "escape")
            await pilot.pause()
            assert inventory.table("inv-nodes").has_focus and inventory.query_one("#inv-left").display
    app.close_aws()


async def test_the_overview_list_fits_80x24(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot, app)
        app.show_tab("overview")
        await wait_for(pilot, lambda: app.overview_view.loads >= 1)
        await pilot.pause()
        ov = app.overview_view.query_one("#ov-list")
        assert ov.region.bottom <= 23 and ov.scrollable_content_region.height >= MIN_LIST_ROWS
    app.close_aws()


async def test_run_command_form_and_run_are_usable_at_80x24(sandbox, monkeypatch):
    monkeypatch.setattr(runcommand, "POLL_INTERVAL", 0.2)
    app = make_app(sandbox)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot, app)
        app.show_tab("run")
        view = app.run_view
        await wait_for(pilot, lambda: view.form.commands_area() is not None)
        await pilot.pause()
        area = view.form.commands_area()
        assert isinstance(area, TextArea) and area.region.width >= 60, area.region
        assert area.region.right <= 80
        area.text = "echo small screen"
        view.form.query_one("#rc-target").value = "stg-web-01"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        await pilot.pause()
        buttons = app.screen.query_one("#confirm-run")
        assert buttons.region.right <= 80 and buttons.region.bottom <= 24
        await pilot.press(*app.screen.radius.confirmation_word, "enter")
        await wait_for(pilot, lambda: view.run is not None and view.run.finished)
        await pilot.pause(0.2)
        panel = view.run_panel
        check_list(app, panel.nodes_table)
        output = panel.output
        assert output.region.bottom <= 23 and output.scrollable_content_region.height >= MIN_LIST_ROWS
        await pilot.press("h")
        history = view.panel_named("history")
        await wait_for(pilot, lambda: history.loaded)
        await pilot.pause()
        check_list(app, history.query_one("#history-table", NodeTable))
    app.close_aws()


async def test_badges_help_and_shell_status_fit_80_columns(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot, app)
        await pilot.pause()
        top = screen_lines(app)[0]
        assert "READ-ONLY" in top and "SANDBOX" in top, top
        assert "regions" not in top or top.rstrip().endswith(app.settings.regions[-1]), top  # not cut mid-part
        for tab_id in ("monitoring", "backup", "inventory"):  # each tab's own read-only badge, after its keys
            app.show_tab(tab_id)
            await pilot.pause(0.2)
            header = screen_lines(app)[3]
            assert "READ-ONLY" in header, header
        # help: inside the 80 columns, nothing to scroll sideways
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        box = app.screen.query_one("VerticalScroll")
        assert box.region.x >= 0 and box.region.right <= 80 and box.max_scroll_x == 0, box.region
        assert any("Quit opstui" in line for line in screen_lines(app))
        await pilot.press("escape")
        # a shell that closed with a reason still shows the keys that work, inside the 80 columns
        app.show_tab("fleet")
        app.fleet_view.set_filter("name:prod-web-03")  # ConnectionLost in the scenario
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: app.shells_view.sessions() and app.shells_view.sessions()[-1].state == "closed")
        await pilot.pause(0.1)
        status = next(line for line in screen_lines(app) if " closed  prod-web-03" in line)
        assert "R reconnect" in status and "w close tab" in status, status
    app.close_aws()


async def test_nothing_is_dropped_or_shrunk_at_200x50(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=LARGE) as pilot:
        fleet = await loaded(pilot, app)
        await pilot.pause()
        assert fleet.table.shown_keys == [c.key for c in FLEET_COLUMNS]
        assert "refreshed" in screen_lines(app)[0]
        for tab_id in ("monitoring", "backup"):
            async for panel in every_panel(pilot, app, tab_id):
                for table in shown_tables(panel):
                    check_list(app, table)
        monitoring = app.monitoring_view
        monitoring.show_panel("alarms")
        await pilot.pause()
        assert monitoring.query_one("#mon-alarm-detail").region.height == 17
        assert monitoring.table("mon-alarms").shown_keys[:4] == ["state", "name", "region", "since"]
        backup = app.backup_view
        backup.show_panel("jobs")
        await pilot.pause()
        assert backup.query_one("#bk-job-detail-box").region.height == 11
        app.show_tab("inventory")
        inventory = app.inventory_view
        inventory.show_panel("browse")
        await pilot.pause()
        assert inventory.query_one("#inv-left").region.width == 76 and inventory.query_one("#inv-right").display
        app.show_tab("run")
        await wait_for(pilot, lambda: app.run_view.form.commands_area() is not None)
        await pilot.pause()
        right = app.run_view.form.query_one("#rc-right")
        assert right.region.width == 58 and right.region.y == app.run_view.form.query_one("#rc-left").region.y
    app.close_aws()


@pytest.mark.parametrize("available, shown, squeezed", [
    (200, ["name", "id", "ping", "platform", "state", "region"], {}),
    (90, ["name", "id", "ping", "platform", "state", "region"], {"platform": 12}),  # before anything goes
    (60, ["name", "id", "ping", "state"], {"name": 14}),  # the name cut by 2 cells rather than state dropped
    (44, ["name", "id", "ping"], {"name": 6}),
    (30, ["name", "ping"], {"name": 12}),
])
def test_columns_drop_in_the_stated_order_then_squeeze(available, shown, squeezed):
    keys = ("name", "id", "ping", "platform", "state", "region")
    cols = drop_order([Column(k, k.title(), lambda r: "") for k in keys], ("region", "platform", "state", "id"),
                      squeeze={"name": 6, "platform": 10})
    natural = dict(zip(keys, [16, 19, 14, 26, 7, 14], strict=True))
    index, fitted = fit_columns(cols, list(natural.values()), available, gap=1, mark=2)
    got = {cols[i].key: w for i, w in zip(index, fitted, strict=True)}
    assert list(got) == shown
    assert {k: w for k, w in got.items() if w != natural[k]} == squeezed
    assert 2 + sum(w + 1 for w in fitted) <= available


def inside(app, widget) -> bool:
    """On screen: inside the terminal, and not scrolled out of its dialog."""
    region = widget.region
    box = widget.screen.query_one("Vertical").region
    return (region.height > 0 and region.right <= app.size.width and region.bottom <= app.size.height
            and box.contains_region(region))


async def test_forms_and_confirmations_keep_their_buttons_at_80x24(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=SMALL) as pilot:
        await loaded(pilot, app)
        # a form with many fields: the new alarm's (its fields scroll, the buttons stay)
        app.show_tab("monitoring")
        await wait_for(pilot, lambda: app.monitoring_view.alarm_loads >= 1)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.query("#form-save"))
        await pilot.pause(0.2)
        assert inside(app, app.screen.query_one("#form-save")) and inside(app, app.screen.query_one("#form-cancel"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
        # a typed confirmation for prod nodes: the field to type in and the Run button are reachable
        app.show_tab("run")
        view = app.run_view
        await wait_for(pilot, lambda: view.form.commands_area() is not None)
        view.form.commands_area().text = "uptime"
        view.form.query_one("#rc-target").value = "tag:Env=prod"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        await pilot.pause(0.2)
        screen = app.screen
        assert screen.radius.needs_typed_confirmation
        typed = screen.query_one("#confirm-typed")
        assert typed.has_focus and inside(app, typed)
        await pilot.press(*"nope", "tab", "tab")  # to the buttons: scrolled into view when focused
        await pilot.pause(0.2)
        assert inside(app, app.focused), app.focused
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmRunScreen))
        assert view.sent_runs == 0
    app.close_aws()
