"""Sandbox.stop() ends every session: channel_closed to clients, shells killed, no thread left behind."""

from __future__ import annotations

import os
import random
import threading
import time

import aiohttp

from opstui.sandbox.main import build_parser
from opstui.sandbox.server import Sandbox

from .conftest import make_client_factory
from .session_client import RawSession


async def test_stop_kills_shells_and_threads(tmp_path):
    a, b = random.randrange(100_000, 200_000), random.randrange(200_000, 300_000)  # unique to this run
    sb = Sandbox(port=0, live=False, state_dir=tmp_path).start()
    try:
        assert sb.stream_port
        ssm = make_client_factory(sb)("ssm")
        target = next(n for n in sb.scenario_data.nodes if n.tags.get("Name") == "prod-web-01").instance_id
        resp = ssm.start_session(Target=target)
        async with aiohttp.ClientSession() as http:
            client = await RawSession().attach(http, resp["StreamUrl"], resp["TokenValue"])
            await client.read_text("]$ ")
            await client.keys(f"sleep {a} & disown; (trap '' HUP; sleep {b}) & echo started-$((1+1))\r")
            await client.read_text("started-2\n")
            pid = next(s for s in sb.sessions.snapshot() if s["id"] == resp["SessionId"])["pid"]
            sb.stop()
            closed = await client.read_closed()
            assert closed["Output"] == "The sandbox is shutting down"
    finally:
        sb.stop()
    sb.stop()  # idempotent
    assert sb.stream_port is None
    assert not [t for t in threading.enumerate() if t.name == "opstui-sandbox-datachannel"]
    deadline = time.monotonic() + 3
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")
    # background jobs (own process group, disowned, ignoring SIGHUP) are gone too
    leftovers = [p for p in os.listdir("/proc")
                 if p.isdigit() and _cmdline(p) in (f"sleep\x00{a}\x00", f"sleep\x00{b}\x00")]
    assert leftovers == []
    assert (tmp_path / "nodes" / target / "home" / ".bash_profile").is_file()


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline") as fh:
            return fh.read()
    except OSError:
        return ""


def test_state_dir_flag():
    assert build_parser().parse_args(["--state-dir", "/tmp/x"]).state_dir == "/tmp/x"
    assert build_parser().parse_args([]).state_dir is None
