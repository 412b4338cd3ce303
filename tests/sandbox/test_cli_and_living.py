"""The `python -m opstui.sandbox.main` contract, and the living thread's rules."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys

from opstui.sandbox import ssm_nodes
from opstui.sandbox.credentials import parse_pairs
from opstui.sandbox.living import LivingState
from opstui.sandbox.scenarios import build_scenario
from opstui.sandbox.server import Sandbox
from tests.sandbox_control import SandboxControl


def test_cli_prints_endpoint_first_and_exits_cleanly_on_sigint():
    proc = subprocess.Popen(
        [sys.executable, "-m", "opstui.sandbox.main", "--port", "0", "--no-live", "--nodes", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("endpoint http://127.0.0.1:")
        endpoint = first.split(" ", 1)[1]
        key_line, secret_line = proc.stdout.readline().strip(), proc.stdout.readline().strip()
        creds = parse_pairs([key_line, secret_line])
        assert key_line.startswith("export AWS_ACCESS_KEY_ID=AKIA") and creds is not None
        assert secret_line == f"export AWS_SECRET_ACCESS_KEY={creds.secret_access_key}"
        assert SandboxControl(endpoint, [], creds).health()["ready"] is True
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.read()  # not communicate(): it would skip what readline() buffered
        err = proc.stderr.read()
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert f"export AWS_ENDPOINT_URL={endpoint}" in out
    assert "export AWS_DEFAULT_REGION=ap-northeast-1" in out
    assert "GET /" not in err and "POST /" not in err


def test_living_ticks_respect_pins():
    sb = Sandbox(nodes=60, live=False, seed=3)
    sb.start()
    try:
        scenario = build_scenario("default", seed=3, nodes=60)
        living = LivingState(sb.nodes, scenario, seed=3)
        pinned = {n.instance_id: n for n in scenario.nodes if n.pinned}
        before = {iid: (sb.nodes.get(sb.account_id, n.region, iid).ping_status) for iid, n in pinned.items()}
        start = dt.datetime.now(dt.UTC)
        for _ in range(40):
            living.tick()
            for iid, n in pinned.items():
                assert sb.nodes.get(sb.account_id, n.region, iid).ping_status == before[iid]
        online = [n for n in sb.nodes.nodes(sb.account_id, "ap-northeast-1") if n.ping_status == "Online"]
        assert any(n.last_ping >= start for n in online)
        # the stopped stg instance stays stopped, hence ConnectionLost
        for n in pinned.values():
            if n.ec2_state == "stopped":
                from moto.ec2.models import ec2_backends

                inst = ssm_nodes.instance_index(ec2_backends[sb.account_id][n.region])[n.instance_id]
                assert inst._state.name == "stopped"
    finally:
        sb.stop()


def test_ping_times_follow_the_agents_five_minute_interval():
    """Online: LastPingDateTime within the agent's 5-minute health ping; ConnectionLost: older than that, whether
    the living thread dropped the node, the control endpoint did, or the instance was stopped through EC2."""
    from tests.sandbox.conftest import make_client_factory

    sb = Sandbox(nodes=30, live=False, seed=5)
    sb.start()
    try:
        client = make_client_factory(sb)
        ssm, ec2 = client("ssm", "ap-northeast-1"), client("ec2", "ap-northeast-1")

        def rows() -> dict[str, dict]:
            out = {}
            for page in ssm.get_paginator("describe_instance_information").paginate():
                out.update({r["InstanceId"]: r for r in page["InstanceInformationList"]})
            return out

        def check(nodes: dict[str, dict]) -> None:
            now = dt.datetime.now(dt.UTC)
            for row in nodes.values():
                age = now - row["LastPingDateTime"]
                if row["PingStatus"] == "Online":
                    assert age <= ssm_nodes.PING_INTERVAL, row["InstanceId"]
                else:
                    assert age > ssm_nodes.PING_INTERVAL, (row["InstanceId"], row["PingStatus"], age)

        scenario = build_scenario("default", seed=5, nodes=30)
        living = LivingState(sb.nodes, scenario, seed=5)
        flapped = 0
        for _ in range(25):
            before = {iid for iid, r in rows().items() if r["PingStatus"] == "Online"}
            living.tick()
            after = rows()
            flapped += sum(1 for iid in before if after[iid]["PingStatus"] == "ConnectionLost")
            check(after)
        assert flapped
        online = [r for r in rows().values() if r["PingStatus"] == "Online" and r["ResourceType"] == "EC2Instance"]
        a, b = online[0]["InstanceId"], online[1]["InstanceId"]
        sb.set_ping("ap-northeast-1", a, "ConnectionLost")
        ec2.stop_instances(InstanceIds=[b])
        now = rows()
        assert now[a]["PingStatus"] == now[b]["PingStatus"] == "ConnectionLost"
        check(now)
    finally:
        sb.stop()
