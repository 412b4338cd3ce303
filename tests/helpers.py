"""Helpers shared by test modules (no test module imports another test module)."""

from __future__ import annotations

import asyncio
from typing import Any

from opstui.app import OpsApp
from opstui.aws.clients import StaticCredentials
from opstui.config import Settings

#: for clients whose calls never reach a sandbox (a closed port, an unknown region refused before sending)
UNUSED_CREDS = StaticCredentials("AKIAUNUSEDUNUSED2345", "never-sent-never-sent-never-sent-0000000")


#: every app made by make_app: the autouse fixture in tests/conftest.py closes their AWS loops at teardown,
#: whether the test closed them or not (an open loop is a thread and a selector left behind)
OPEN_APPS: list[OpsApp] = []


def make_app(control, **overrides) -> OpsApp:
    # fleet_cache: tests that use the cache turn it on (and point XDG_CACHE_HOME away). tab: the Fleet, where
    # loaded() puts a test anyway; the Overview then checks only when shown (its dozen calls per region are
    # not paid by every test), and its own tests show it or pass tab="overview"
    settings = Settings(regions=tuple(control.regions), endpoint_url=control.endpoint, refresh=3600, demo=True,
                        fleet_cache=False, tab="fleet")
    for key, value in overrides.items():
        settings = type(settings)(**{**settings.__dict__, key: value})
    # freeze_gc=False: a frozen heap is never collected, and this process runs hundreds of apps
    app = OpsApp(settings, credentials=control.aws_credentials, freeze_gc=False)
    OPEN_APPS.append(app)
    return app


def close_apps() -> None:
    while OPEN_APPS:
        OPEN_APPS.pop().close_aws()


async def wait_for(pilot, predicate, timeout=20.0, state=None):
    """Wait until ``predicate()`` holds; ``state()`` (optional) says what was seen instead when it never does
    (a race that fails once in many CI runs is found from that line, not from "not met")."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time" + (f": {state()}" if state is not None else ""))


async def loaded(pilot: Any, app: OpsApp, count: int = 1) -> Any:
    view = app.fleet_view
    await wait_for(pilot, lambda: view.snapshot is not None and app.last_refresh is not None and view.refreshes >= count)
    if count == 1:  # the Overview is the home screen: the Fleet tests start on the Fleet tab
        app.show_tab("fleet")
    await pilot.pause()
    return view


def signal_state(pid: int) -> str:
    """The process's signal masks (ignored, blocked, pending) and state, for a test whose SIGINT went unheeded."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return " ".join(line.strip() for line in fh if line.startswith(("State", "Sig", "ShdPnd")))
    except OSError as exc:
        return f"no /proc status: {exc}"


def interrupt_when(proc: Any, marker: bytes, stream: str = "stdout", timeout: float = 40) -> tuple[bytes, bytes]:
    """Wait until ``marker`` is on the process's ``stream`` ("stdout" or "stderr"), send it SIGINT (a ctrl+c),
    and return all its stdout and stderr once it exits. A process that never shows the marker or ignores the
    SIGINT fails the test (its signal masks in the message) and is killed."""
    import os
    import signal
    import subprocess
    import time

    pipe = getattr(proc, stream)
    seen = b""
    try:
        os.set_blocking(pipe.fileno(), False)
        deadline = time.monotonic() + timeout
        while marker not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen.decode(errors="replace")
            time.sleep(0.2)
            seen += pipe.read() or b""
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ctrl+c unheeded: {signal_state(proc.pid)}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
    return (seen + out, err) if stream == "stdout" else (out, seen + err)


# -- shells ----------------------------------------------------------------------------------------------------
def screen_text(session: Any) -> str:
    """A shell session's screen as text (its emulator's display)."""
    return "\n".join(session.terminal.terminal.display)


async def type_text(pilot, text: str) -> None:
    keys = []
    for ch in text:
        keys.append({" ": "space", "\r": "enter", "|": "vertical_line", ";": "semicolon", "$": "dollar_sign",
                     "(": "left_parenthesis", ")": "right_parenthesis", "+": "plus", "*": "asterisk",
                     ">": "greater_than_sign", "-": "minus", ".": "full_stop", "/": "slash"}.get(ch, ch))
    await pilot.press(*keys)


async def open_from_fleet(pilot, app, name: str) -> Any:
    """`s` on the Fleet node of that name; the session once connected and showing a prompt."""
    view = app.fleet_view
    view.set_filter(f"name:{name}")
    await pilot.pause()
    before = len(app.shells_view.sessions())
    await pilot.press("s")
    await wait_for(pilot, lambda: len(app.shells_view.sessions()) > before)
    session = app.shells_view.sessions()[-1]
    await wait_for(pilot, lambda: session.state == "connected", timeout=20)
    await wait_for(pilot, lambda: "$" in screen_text(session))
    return session
