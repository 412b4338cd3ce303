"""Untrusted tag values and names (the sandbox's hostile scenario) are shown literally and safely."""

from __future__ import annotations

import re

from rich.cells import cell_len

from tests.helpers import loaded, make_app

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def line_texts(widget, height):
    return ["".join(seg.text for seg in widget.render_line(y)) for y in range(height)]


async def test_hostile_names_render_literally_with_no_escape_bytes(hostile_sandbox):
    app = make_app(hostile_sandbox)
    async with app.run_test(size=(200, 30)) as pilot:
        view = await loaded(pilot, app)
        table = view.table
        lines = line_texts(table, len(table.order_shown) + 1)
        for line in lines:
            assert not CONTROL.search(line), f"a control byte would reach the terminal: {line!r}"
        joined = "\n".join(lines)
        assert "[red]x[/red]" in joined  # markup shown as text, not applied
        assert "[link=https://evil.example]" in joined
        # each escape is shown, not dropped: ESC as ␛, BEL as \x07 (the hybrid node's SSM name; EC2 tags cannot
        # carry control characters, so the EC2 node's name arrives with U+FFFD instead)
        assert "␛]0;pwned\\x07␛[2J[red]onprem" in joined
        assert "Amazon Linux␛[2J" in joined and "[red]x[/red]␛[5mblink" in joined
        # every row is exactly as wide as the table, double-width names included
        widths = {cell_len(line) for line in lines}
        assert widths == {table.size.width}
        # the Instance column starts at the same cell for every row (columns aligned)
        starts = set()
        for line in lines[1:]:
            m = re.search(r"\b(i|mi)-[0-9a-f]{8,}", line)
            assert m, line
            starts.add(cell_len(line[: m.start()]))
        assert len(starts) == 1
    app.close_aws()


async def test_detail_pane_and_title_show_hostile_text_literally(hostile_sandbox):
    app = make_app(hostile_sandbox)
    async with app.run_test(size=(200, 40)) as pilot:
        view = await loaded(pilot, app)
        for position in range(len(view.table.order_shown)):
            view.table.move_cursor(position)
            view.action_toggle_detail()
            await pilot.pause()
            body = view.query_one("#detail-body").render()
            plain = body.plain if hasattr(body, "plain") else str(body)
            assert not CONTROL.search(plain.replace("\n", ""))
            assert len(plain) < 40_000  # the 10 KB values are capped in the pane
            view.action_toggle_detail()
        await pilot.press("slash", *"[bold]x")
        title = view.table.border_title
        assert "[bold]x" in str(title)  # the typed filter is shown as typed, not parsed as markup
    app.close_aws()


async def test_long_values_do_not_break_the_layout(hostile_sandbox):
    app = make_app(hostile_sandbox)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await loaded(pilot, app)
        # no column grows past its declared limit (or its label and sort arrow), however long the value
        columns = view.table.columns
        too_wide = [(c.key, w) for w, c in zip(view.table.widths, columns, strict=False)
                    if w > max(c.max_width, cell_len(c.label) + 2)]
        assert not too_wide
        assert max(view.table.widths) <= 52  # the widest declared: Platform
        # and a cell keeps a bounded text: four widths of characters, control characters pictured at most twice
        too_long = [(col.key, cell_len(cell)) for cells in view.table.cells
                    for cell, col in zip(cells, columns, strict=False) if cell_len(cell) > col.max_width * 8]
        assert not too_long
    app.close_aws()


async def test_palette_shows_hostile_node_names_literally(hostile_sandbox):
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    app = make_app(hostile_sandbox)
    async with app.run_test(size=(200, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Shell")
        await pilot.pause(0.8)
        assert isinstance(app.screen, CommandPalette)
        options = app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        joined = "\n".join(prompts)
        assert "[red]x[/red]" in joined  # shown as typed on the node, not turned into red text
        assert "[link=https://evil.example]" in joined
        assert not any(CONTROL.search(line) for line in joined.splitlines())
        assert app.is_running
    app.close_aws()
