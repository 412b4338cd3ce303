"""The Fleet's detail pane reads as key: value lines (issue 15): nested SSM values as an indented tree, never
a Python dict; long values wrapped under their own start; a complete border. And at 200 columns the Platform
column is not cut while the table has room."""

from __future__ import annotations

from rich.cells import cell_len

from opstui.aws.models import FleetNode
from opstui.aws.ssm import managed_node_from_api
from opstui.views.fleet.detail import DetailPane, detail_text
from tests.helpers import loaded, make_app, wait_for

TITLES = {"SSM", "EC2", "Tags"}


def body_lines(view) -> list[str]:
    return str(view.query_one("#detail-body").render()).splitlines()


async def test_detail_pane_shows_nested_fields_as_an_indented_tree_inside_a_full_border(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        view = await loaded(pilot, app)
        table = view.table
        target = next(i for i, pos in enumerate(table.order_shown)
                      if any(k.startswith("AssociationOverview.") for k, _ in table.rows[pos].ssm_fields))
        table.move_cursor(target)
        await pilot.press("enter")
        await pilot.pause()
        pane = view.query_one(DetailPane)
        await wait_for(pilot, lambda: pane.has_class("-shown") and pane.size.width > 0)
        await pilot.pause()
        lines = body_lines(view)
        text = "\n".join(lines)
        assert "{" not in text and "'DetailedStatus'" not in text, text
        at = lines.index("  AssociationOverview:")
        assert lines[at + 1].startswith("    DetailedStatus: ")
        assert "    InstanceAssociationStatusAggregatedCount:" in lines[at + 1:at + 4]
        assert any(line.startswith("      Success: 1") or line.startswith("      Failed: 1") for line in lines)
        # every line but the node's name, its id line and the section titles is indented
        node = table.cursor_row
        for line in lines[2:]:
            assert not line or line in TITLES or line.startswith("  "), line
        assert node.instance_id in lines[1]
        # the pane's border is drawn on all four sides, titled
        for side in (pane.styles.border_top, pane.styles.border_right, pane.styles.border_bottom,
                     pane.styles.border_left):
            assert side[0] not in ("", "none", "hidden"), side
        assert "Detail" in str(pane.border_title)
        # nothing drawn outside the pane: every body line fits its width
        assert all(cell_len(line) <= pane.query_one("#detail-body").size.width for line in lines)
    app.close_aws()


def test_long_values_wrap_under_their_own_start():
    item = {"InstanceId": "i-0123456789abcdef0", "PingStatus": "Online",
            "ComputerName": "a-very-long-computer-name-" * 6,
            "AssociationOverview": {"DetailedStatus": "Success",
                                    "InstanceAssociationStatusAggregatedCount": {"Success": 1}},
            "SourceList": ["one", "two"]}
    managed = managed_node_from_api(item, "ap-northeast-1")
    node = FleetNode("i-0123456789abcdef0", "ap-northeast-1", "web", "Online", "Linux", "3.3", False, "",
                     "running", "t3.micro", "ap-northeast-1a", None, tags=(("app.kubernetes.io/name", "shop"),),
                     ssm_fields=managed.fields)
    lines = detail_text(node, 50).plain.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  ComputerName: "))
    value_column = len("  ComputerName: ")
    continued = lines[start + 1:start + 4]
    assert all(line.startswith(" " * value_column) and line[value_column] != " " for line in continued), lines
    assert all(cell_len(line) <= 50 for line in lines)
    assert "  SourceList: one, two" in lines  # a list of plain values is one line
    assert "  app.kubernetes.io/name: shop" in lines  # a tag key keeps its dots
    # a key too long to leave room for its value: the value goes below it, indented
    long_key = detail_text(node, 40).plain.splitlines()
    at = long_key.index("    InstanceAssociationStatusAggregatedCount:")
    assert long_key[at + 1] == "      Success: 1"


async def test_platform_is_not_cut_at_200_columns(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        view = await loaded(pilot, app)
        table = view.table
        col = [c.key for c in table.columns].index("platform")
        platforms = {cells[col] for cells in table.cells}
        rhel = next(p for p in platforms if p.startswith("Red Hat Enterprise Linux"))
        shown = table.shown_widths[table.shown_columns.index(col)]  # after fitting the table's width
        assert shown >= max(cell_len(p) for p in platforms if not p.startswith("Microsoft")), (shown, platforms)
        assert shown >= cell_len(rhel)
        assert table.total_width <= table.scrollable_content_region.width  # and it all fits: no sideways scroll
    app.close_aws()
