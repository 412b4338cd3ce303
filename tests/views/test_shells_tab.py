"""Pilot tests of the Shells tab against the sandbox: real websocket, real PTY, the real emulator."""

from __future__ import annotations

import asyncio

from opstui.aws import ssm
from tests.helpers import loaded, make_app, open_from_fleet, screen_text, type_text, wait_for


async def test_open_a_shell_from_the_fleet_and_run_a_command(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        assert app.query_one("#tabs").active == "shells"
        assert session.terminal.has_focus
        await type_text(pilot, "echo hi$((1+1))\r")
        await wait_for(pilot, lambda: "hi2" in screen_text(session).replace("echo hi$((1+1))", ""))
        assert "prod-web-01" in str(session.label) and "connected" in str(session.label)
    app.close_aws()


async def test_stty_size_follows_the_widget_when_the_app_is_resized(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        term = session.terminal.terminal
        await pilot.resize_terminal(150, 45)
        await wait_for(pilot, lambda: term.cols > 140)
        await asyncio.sleep(0.4)  # the Size message is debounced
        await type_text(pilot, "stty size\r")
        expected = f"{term.rows} {term.cols}"
        await wait_for(pilot, lambda: expected in screen_text(session))
    app.close_aws()


async def test_a_full_screen_program_draws_and_restores_the_shell_screen(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        term = session.terminal.terminal
        await type_text(pilot, "seq 1 500 > f.txt; echo before-less\r")
        await wait_for(pilot, lambda: "before-less" in screen_text(session).replace("echo before-less", ""))
        await type_text(pilot, "less f.txt\r")
        await wait_for(pilot, lambda: term.alt_active and "f.txt" in screen_text(session))
        assert term.display[0].strip() == "1"
        await pilot.press("q")
        await wait_for(pilot, lambda: not term.alt_active)
        assert "before-less" in screen_text(session)
    app.close_aws()


async def test_a_flood_does_not_freeze_the_ui_and_ctrl_c_stops_it(sandbox):
    import gc

    app = make_app(sandbox)
    ticks = []
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        # The app freezes its long-lived heap after the first load; in this shared test process the heap
        # also holds every earlier test's leftovers, so make sure a full GC pass here stays cheap too.
        gc.collect()
        gc.freeze()
        session = await open_from_fleet(pilot, app, "prod-web-01")
        app.set_interval(0.05, lambda: ticks.append(asyncio.get_running_loop().time()))
        await type_text(pilot, "yes flood\r")
        await wait_for(pilot, lambda: screen_text(session).count("flood") > 10)
        flood_began = asyncio.get_running_loop().time()
        await asyncio.sleep(1.5)
        # the app's own 50 ms timer kept firing through the flood (a frozen UI lets none through); how long its
        # longest gap is, is bench/terminal.py's to measure
        during = [t for t in ticks if t >= flood_began]
        assert len(during) >= 5, f"only {len(during)} ticks in 1.5 s of flood"
        await pilot.press("ctrl+c")
        started = asyncio.get_running_loop().time()
        await wait_for(pilot, lambda: screen_text(session).rstrip().endswith("$"), timeout=10)
        assert asyncio.get_running_loop().time() - started < 5
    app.close_aws()
    gc.unfreeze()


async def test_two_sessions_keep_their_own_screens(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot, app)
        first = await open_from_fleet(pilot, app, "prod-web-01")
        await type_text(pilot, "echo first-$((1+1))\r")
        await wait_for(pilot, lambda: "first-2" in screen_text(first).replace("first-$((1+1))", ""))
        await pilot.press("ctrl+right_square_bracket")
        app.show_tab("fleet")
        second = await open_from_fleet(pilot, app, "prod-web-02")
        await type_text(pilot, "echo second-$((2+2))\r")
        await wait_for(pilot, lambda: "second-4" in screen_text(second).replace("second-$((2+2))", ""))
        assert "second" not in screen_text(first)
        assert "first" not in screen_text(second)
        assert len(app.shells_view.sessions()) == 2
    app.close_aws()


async def test_closing_a_session_terminates_it_in_the_sandbox(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        await pilot.press("ctrl+right_square_bracket")
        assert not session.terminal.has_focus
        await pilot.press("w")
        await wait_for(pilot, lambda: session.state == "closed")
        history = await app.aws_loop.run(ssm.describe_sessions(app.aws, "ap-northeast-1", "History"))
        assert any(h["SessionId"] == session.session_id for h in history)
        await pilot.press("R")
        await wait_for(pilot, lambda: session.state == "connected", timeout=20)
    app.close_aws()


async def test_exit_closes_the_session_and_a_lost_node_says_why(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        await type_text(pilot, "exit 3\r")
        await wait_for(pilot, lambda: session.state == "closed")
        # AWS sends no exit status for an interactive shell: the session is closed, with no code to show
        assert session.exit_code is None and "closed (" not in str(session.label)
        app.show_tab("fleet")
        app.fleet_view.set_filter("name:prod-web-03")  # ConnectionLost in the scenario
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: len(app.shells_view.sessions()) == 2)
        lost = app.shells_view.sessions()[-1]
        await wait_for(pilot, lambda: lost.state == "closed")
        assert "TargetNotConnected" in lost.reason
    app.close_aws()


async def test_sessions_can_be_recorded_as_asciicast(sandbox, tmp_path, monkeypatch):
    import dataclasses
    import json

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    app = make_app(sandbox)
    app.ctx.settings = dataclasses.replace(app.settings, record_sessions=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        await type_text(pilot, "echo rec$((3*3))\r")
        await wait_for(pilot, lambda: "rec9" in screen_text(session).replace("rec$((3*3))", ""))
        path = session.recording.path
    app.close_aws()
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 2 and header["width"] > 0
    assert "rec9" in "".join(json.loads(line)[2] for line in lines[1:] if json.loads(line)[1] == "o")


def cast_output(path) -> str:
    """What the cast on disk holds so far (a last line still being written is left out)."""
    import json

    out = []
    for line in path.read_text().splitlines()[1:]:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event[1] == "o":
            out.append(event[2])
    return "".join(out)


async def test_a_recording_reaches_the_file_while_the_session_is_open(sandbox, tmp_path, monkeypatch):
    """The cast on disk follows the screen while the session is open (flushed every FLUSH_SECONDS), not only
    when a file buffer fills or the file closes. How soon (FLUSH_SECONDS, terminal/recording.py) is not asserted:
    on a loaded machine the flush timer runs late, and the suite asserts no wall-clock limits."""
    import dataclasses

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    app = make_app(sandbox)
    app.ctx.settings = dataclasses.replace(app.settings, record_sessions=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        path = session.recording.path
        await type_text(pilot, "echo live$((5*5))\r")
        await wait_for(pilot, lambda: "live25" in screen_text(session).replace("live$((5*5))", ""))
        await wait_for(pilot, lambda: "live25" in cast_output(path))
        assert session.state == "connected" and not session.recording._file.closed
    app.close_aws()


async def test_a_failed_reconnect_still_offers_r_and_r_and_w_work_from_the_terminal(sandbox):
    """TargetNotConnected on reconnect: the status line offers R and w, and both work, wherever the focus is."""
    app = make_app(sandbox)
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-02")
        node = session.node
        await type_text(pilot, "exit\r")
        await wait_for(pilot, lambda: session.state == "closed")
        sandbox.set_ping(node.region, node.instance_id, "ConnectionLost")
        try:
            session.terminal.focus()  # the worst case: the keyboard still in the dead terminal
            await pilot.press("R")
            await wait_for(pilot, lambda: session.state == "closed" and "TargetNotConnected" in session.reason)
            status = str(session.query_one(".shell-status").render())
            assert "R reconnect" in status and "w close tab" in status
            sandbox.set_ping(node.region, node.instance_id, "Online")
            await pilot.press("R")  # focus went back to the app when it closed: the view's binding
            await wait_for(pilot, lambda: session.state == "connected", timeout=20)
        finally:
            sandbox.set_ping(node.region, node.instance_id, "Online")
        await type_text(pilot, "exit\r")
        await wait_for(pilot, lambda: session.state == "closed")
        session.terminal.focus()
        await pilot.press("w")  # typed into the closed terminal: closes its tab
        await wait_for(pilot, lambda: not app.shells_view.sessions())
        assert app.shells_view.query_one("#shells-empty").display
    app.close_aws()


async def test_the_footer_offers_no_key_that_would_type_into_a_live_shell(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        assert session.terminal.has_focus
        await pilot.pause()
        shown = {b.binding.action for b in app.screen.active_bindings.values()
                 if b.binding.show and b.enabled}
        assert not {"focus_terminal", "close_session", "reconnect"} & shown, shown
        await pilot.press("ctrl+right_square_bracket")  # back to the app: now i and w are offered, and work
        await pilot.pause()
        shown = {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show and b.enabled}
        assert {"focus_terminal", "close_session"} <= shown, shown
        await pilot.press("i")
        assert session.terminal.has_focus
    app.close_aws()


async def test_in_a_shell_f_keys_go_to_the_node_and_ctrl_bracket_then_a_tab_key_leaves(sandbox):
    """Full-screen programs use F-keys (htop's F10), so inside a shell they go to the node; ctrl+] gives the
    keyboard back to the app, and then any tab is one key away."""
    app = make_app(sandbox)
    async with app.run_test(size=(140, 40)) as pilot:
        await loaded(pilot, app)
        session = await open_from_fleet(pilot, app, "prod-web-01")
        assert session.terminal.has_focus
        await pilot.press("f2")
        await pilot.pause(0.2)
        assert app.query_one("#tabs").active == "shells"
        await pilot.press("ctrl+right_square_bracket", "f2")
        await wait_for(pilot, lambda: app.query_one("#tabs").active == "fleet")
    app.close_aws()
