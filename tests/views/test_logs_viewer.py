"""Pilot tests of the Logs viewer's reading keys: find (F, n, N, esc), wrap (w) and one event alone (J, enter).

Lines are appended to the viewer directly where only the widget matters (as in test_logs_tab.py); the event
test writes its events through the sandbox (PutLogEvents) and follows the group like a user."""

from __future__ import annotations

import time
import uuid

from opstui.views.common.form import FormScreen
from opstui.views.logs.event import EventScreen
from tests.helpers import loaded, make_app, wait_for

R1 = "ap-northeast-1"
T0 = 1_700_000_000_000


def _status(view) -> str:
    return str(view.query_one("#logs-status").render())


async def _viewer(pilot, app):
    await loaded(pilot, app)
    app.show_tab("logs")
    view = app.logs_view
    view.show_panel("viewer")
    await pilot.pause()
    viewer = view.viewer_panel.viewer
    viewer.focus()
    return view, viewer


async def _find(pilot, app, text: str) -> None:
    await pilot.press("F")
    await wait_for(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.query("#form-save"))
    app.screen.query_one("#f-text").value = text
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))


def _styled(viewer, needle: str):
    """The segments on screen whose text holds ``needle``, with their styles."""
    return [seg for y in range(viewer.size.height) for seg in viewer.render_line(y) if needle in seg.text]


async def test_find_highlights_every_match_and_n_N_walk_them_pausing_follow(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(150, 40)) as pilot:
        view, viewer = await _viewer(pilot, app)
        viewer.append((T0 + i, "src", f"line {i} " + ("found Needle-X here Needle-x" if i % 500 == 7 else "quiet"))
                      for i in range(5000))
        await pilot.pause()
        assert viewer.following
        await _find(pilot, app, "needle-x")  # any case
        await wait_for(pilot, lambda: not viewer.searching and "match" in _status(view))
        # following: the newest match is brought into view, and following pauses
        assert not viewer.following and "paused" in str(view.query_one("#logs-header").render())
        assert "match 10 of 10" in _status(view)
        assert any("line 4507 found" in t for t in viewer.visible_text())
        hits = _styled(viewer, "Needle-")
        assert len(hits) >= 2 and all(seg.style and seg.style.bgcolor for seg in hits)  # both, highlighted
        assert not _styled(viewer, "found")[0].style.bgcolor  # the rest of the line is not
        await pilot.press("n")  # round the end to the first
        assert "match 1 of 10" in _status(view) and "wrapped" in _status(view)
        assert any("line 7 found" in t for t in viewer.visible_text())
        await pilot.press("n", "n")
        assert "match 3 of 10" in _status(view)
        assert any("line 1007 found" in t for t in viewer.visible_text())
        await pilot.press("N")
        assert "match 2 of 10" in _status(view) and any("line 507 found" in t for t in viewer.visible_text())
        # lines arriving later are searched too; the filter box still filters
        viewer.append([(T0 + 10_000, "src", "a late NEEDLE-X")])
        await pilot.pause()
        assert "of 11" in _status(view)
        await pilot.press("escape")
        await pilot.pause()
        assert "match" not in _status(view) and not _styled(viewer, "Needle-")[0].style.bgcolor
        await _find(pilot, app, "absent text")
        await wait_for(pilot, lambda: 'no match for "absent text"' in _status(view))
    app.close_aws()


async def test_find_runs_in_slices_over_many_lines_and_keys_still_work(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(150, 40)) as pilot:
        view, viewer = await _viewer(pilot, app)
        viewer.append((T0 + i, "src", f"row {i} {'target' if i == 150_000 else 'filler'}") for i in range(300_000))
        await pilot.pause()
        viewer.start_search("TARGET")
        assert viewer.searching  # more than a slice: a worker scans it, the loop is served in between
        await wait_for(pilot, lambda: not viewer.searching and "match 1 of 1" in _status(view))
        assert any("row 150000 target" in t for t in viewer.visible_text())
    app.close_aws()


async def test_wrap_folds_long_lines_to_the_width_and_back(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        view, viewer = await _viewer(pilot, app)
        long = "START " + "word " * 80 + "END"
        viewer.append([(T0, "src", "short before"), (T0 + 1, "src", long), (T0 + 2, "src", "short after")])
        await pilot.pause()
        rows = [r for r in viewer.screen_rows() if r]
        assert len(rows) == 3 and "END" not in " ".join(rows)  # one row each, cut at the width
        assert viewer.virtual_size.width > viewer.size.width
        await pilot.press("w")
        await pilot.pause()
        rows = [r for r in viewer.screen_rows() if r]
        assert len(rows) > 5  # the long line takes several rows
        assert "short before" in rows[0] and "START" in rows[1] and "short after" in rows[-1]
        assert any(r.rstrip().endswith("END") for r in rows)  # all of it readable, nothing off to the right
        assert all(len(r) <= viewer.size.width for r in rows)
        assert viewer.virtual_size.width <= viewer.size.width  # nothing to scroll sideways
        # while following, the newest line stays on the last row
        viewer.append((T0 + 10 + i, "src", f"more {i} " + "x" * 150) for i in range(50))
        await pilot.pause()
        rows = [r for r in viewer.screen_rows() if r]
        assert viewer.following and any("more 49" in r for r in rows[-3:]) and "x" in rows[-1]
        await pilot.press("up")  # a line up from the bottom-aligned end: pauses, the screen moves
        assert not viewer.following and [r for r in viewer.screen_rows() if r] != rows
        for _ in range(5):  # and down again, a line at a time, back to the end: following again
            await pilot.press("down")
            if viewer.following:
                break
        assert viewer.following and [r for r in viewer.screen_rows() if r] == rows
        await pilot.press("w")
        await pilot.pause()
        assert not viewer.wrap and all("more" in r for r in viewer.screen_rows() if r)
    app.close_aws()


async def test_J_shows_the_json_event_pretty_printed_and_hostile_text_literally(sandbox):
    app = make_app(sandbox)
    tag = uuid.uuid4().hex[:8]
    group = f"/t/{tag}/events"
    hostile_json = ('{"level":"ERROR","msg":"boom \\u001b[2J\\u001b]0;pwned\\u0007 \\u202egnp.exe [bold]x[/bold]",'
                    '"req":{"id":"r-1","ms":[12,950]}}')
    raw = "plain \x1b]0;title\x07 \x1b[31mred\x1b[0m [link=https://evil.example]y[/link]\rback"
    async with app.run_test(size=(180, 48)) as pilot:
        now = int(time.time() * 1000) - 20_000
        async def go() -> None:
            await app.aws.call("logs", R1, "create_log_group", logGroupName=group)
            await app.aws.call("logs", R1, "create_log_stream", logGroupName=group, logStreamName="s")
            await app.aws.call("logs", R1, "put_log_events", logGroupName=group, logStreamName="s",
                               logEvents=[{"timestamp": now, "message": hostile_json},
                                          {"timestamp": now + 1, "message": raw}])
        await loaded(pilot, app)
        await app.aws_loop.run(go())
        app.show_tab("logs")
        view = app.logs_view
        await wait_for(pilot, lambda: view.groups_panel.loads >= 1)
        view.show_panel("groups", tag)
        await pilot.pause()
        await pilot.press("enter")
        viewer = view.viewer_panel.viewer
        await wait_for(pilot, lambda: len(viewer.lines) == 2)
        await _find(pilot, app, "gnp.exe")  # marks the JSON line
        await wait_for(pilot, lambda: "match 1 of 1" in _status(view))
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, EventScreen))
        body = str(app.screen.query_one("#event-body").render())
        assert '\n  "level": "ERROR",\n' in f"\n{body}\n" or '  "level": "ERROR",' in body.splitlines()
        assert '  "req": {' in body.splitlines() and '    "id": "r-1",' in body.splitlines()
        assert "\\u001b[2J" in body and "\\u202e" in body and "[bold]x[/bold]" in body  # literal, escapes shown
        assert not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e
                       for c in body)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EventScreen))
        await _find(pilot, app, "title")  # the plain line, by enter this time
        await wait_for(pilot, lambda: "match 1 of 1" in _status(view))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EventScreen))
        body = str(app.screen.query_one("#event-body").render())
        assert not app.screen.is_json
        assert "␛]0;title␇" in body and "␛[31mred␛[0m" in body and "␍back" in body
        assert "[link=https://evil.example]y[/link]" in body
        assert not any(ord(c) < 0x20 and c != "\n" for c in body)
        await pilot.press("escape")
    app.close_aws()


async def test_the_first_batch_while_following_shows_its_newest_lines(sandbox):
    """The first batch makes the viewer scrollable: the scroll to the bottom must not be dropped because the
    scrollbar is not laid out yet (it was: the first poll's lines showed from the top while "following")."""
    app = make_app(sandbox)
    async with app.run_test(size=(150, 40)) as pilot:
        view, viewer = await _viewer(pilot, app)
        viewer.append((T0 + i, "src", f"first batch {i}") for i in range(500))
        assert viewer.scroll_y == viewer.max_scroll_y > 0
        await pilot.pause()
        assert viewer.following and "first batch 499" in viewer.visible_text()[-1]
    app.close_aws()
