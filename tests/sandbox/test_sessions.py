"""Session Manager in the sandbox: the SSM session APIs and the data channel with real PTY shells."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request

import aiohttp
import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.server import Sandbox
from opstui.session import codec
from opstui.session.codec import PayloadType

from .conftest import make_client_factory
from .session_client import RawSession

REGION = "ap-northeast-1"
PROMPT_END = "]$ "


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = Sandbox(port=0, live=False, state_dir=tmp_path_factory.mktemp("state")).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _reset(sb):
    yield
    sb.session_faults.clear()
    sb.sessions.configure(handshake=False, kms=False, chunk_size=1024, window=16, grace_seconds=120.0,
                          handshake_timeout=15.0)


@pytest.fixture(scope="module")
def ssm(sb):
    return make_client_factory(sb)("ssm", REGION)


def node(sb, name):
    return next(n for n in sb.scenario_data.nodes if n.tags.get("Name") == name)


def control(sb, method, name, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{sb.endpoint}/_opstui/{name}", data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {sb.credentials.control_token()}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def agent_state(sb, session_id):
    return next(s for s in control(sb, "GET", "sessions")["sessions"] if s["id"] == session_id)


async def open_session(sb, ssm, http, name="prod-web-01", **kwargs):
    resp = ssm.start_session(Target=node(sb, name).instance_id, **kwargs)
    client = await RawSession().attach(http, resp["StreamUrl"], resp["TokenValue"])
    return resp, client


async def shell(sb, ssm, http, name="prod-web-01"):
    resp, client = await open_session(sb, ssm, http, name)
    await client.read_text(PROMPT_END)
    return resp, client


async def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        await _sleep(0.05)


async def pump_until(client, pred, timeout=5.0):
    """Keep the client receiving (and acking) until ``pred()``."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        await client.recv_one(0.05)


async def _sleep(s):
    import asyncio

    await asyncio.sleep(s)


# --- control plane ---------------------------------------------------------------------------------


def test_api_shapes_and_describe_filters(sb, ssm):
    target = node(sb, "prod-web-01").instance_id
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    resp = ssm.start_session(Target=target, Reason="checking disk")
    sid = resp["SessionId"]
    # like AWS for an IAM user: the caller's user name, never the access key id
    assert re.fullmatch(r"sandbox-operator-[0-9a-f]{17}", sid)
    assert not sid.startswith(sb.credentials.access_key_id)
    assert len(resp["TokenValue"]) >= 100
    assert resp["StreamUrl"] == (f"ws://127.0.0.1:{sb.stream_port}/v1/data-channel/{sid}"
                                 "?role=publish_subscribe&cell-number=1")

    active = ssm.describe_sessions(State="Active")["Sessions"]
    row = next(s for s in active if s["SessionId"] == sid)
    assert row["Target"] == target and row["Status"] == "Connecting"
    assert row["Owner"] == "arn:aws:iam::123456789012:user/sandbox-operator"
    assert row["DocumentName"] == "SSM-SessionManagerRunShell" and row["Reason"] == "checking disk"
    assert "EndDate" not in row and row["StartDate"] >= before

    resumed = ssm.resume_session(SessionId=sid)
    assert resumed["SessionId"] == sid and resumed["StreamUrl"] == resp["StreamUrl"]
    assert resumed["TokenValue"] and resumed["TokenValue"] != resp["TokenValue"]

    def ids(state, *filters):
        kwargs = {"Filters": [{"key": k, "value": v} for k, v in filters]} if filters else {}
        found = ssm.describe_sessions(State=state, MaxResults=200, **kwargs)
        return {s["SessionId"] for s in found["Sessions"]}

    assert sid in ids("Active", ("Target", target))
    assert sid in ids("Active", ("SessionId", sid), ("Status", "Connecting"))
    assert sid in ids("Active", ("Owner", row["Owner"]), ("InvokedAfter", before.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert sid not in ids("Active", ("InvokedBefore", before.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert sid not in ids("Active", ("Target", "i-0000000000000000f"))
    assert sid not in ids("History")

    assert ssm.terminate_session(SessionId=sid)["SessionId"] == sid
    assert ssm.terminate_session(SessionId=sid)["SessionId"] == sid  # idempotent
    history = ssm.describe_sessions(State="History", Filters=[{"key": "SessionId", "value": sid}])["Sessions"]
    assert [s["Status"] for s in history] == ["Terminated"]
    assert history[0]["EndDate"] >= history[0]["StartDate"]
    assert sid not in ids("Active")

    for gone in (sid, "sandbox-operator-00000000000000000"):
        with pytest.raises(ClientError) as err:
            ssm.resume_session(SessionId=gone)
        assert err.value.response["Error"]["Code"] == "DoesNotExistException"


def test_describe_pagination(sb, ssm):
    target = node(sb, "prod-web-02").instance_id
    sids = [ssm.start_session(Target=target)["SessionId"] for _ in range(3)]
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = ssm.describe_sessions(State="Active", MaxResults=1,
                                     Filters=[{"key": "Target", "value": target}], **kwargs)
        seen += [s["SessionId"] for s in page["Sessions"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == list(reversed(sids))  # newest first
    for sid in sids:
        ssm.terminate_session(SessionId=sid)


@pytest.mark.parametrize("name", ["prod-web-03", "stg-app-02", None])
def test_target_not_connected(sb, ssm, name):
    target = node(sb, name).instance_id if name else "i-0123456789abcdef9"
    with pytest.raises(ClientError) as err:
        ssm.start_session(Target=target)
    assert err.value.response["Error"] == {"Code": "TargetNotConnected", "Message": f"{target} is not connected."}
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_document(sb, ssm):
    with pytest.raises(ClientError) as err:
        ssm.start_session(Target=node(sb, "prod-web-01").instance_id, DocumentName="AWS-Nope")
    assert err.value.response["Error"]["Code"] == "InvalidDocument"
    assert err.value.response["Error"]["Message"] == "Document AWS-Nope does not exist"


# --- data channel ----------------------------------------------------------------------------------


async def test_invalid_token_refused(sb, ssm):
    resp = ssm.start_session(Target=node(sb, "prod-web-01").instance_id)
    async with aiohttp.ClientSession() as http:
        client = await RawSession().attach(http, resp["StreamUrl"], "not-the-token")
        closed = await client.read_closed()
        assert closed["Output"] == "invalid token" and closed["SessionId"] == resp["SessionId"]
        await client.drain(1.0)
        assert client.socket_closed
    state = agent_state(sb, resp["SessionId"])
    assert state["invalid_tokens"] == 1 and state["connects"] == 0 and state["status"] == "Connecting"
    ssm.terminate_session(SessionId=resp["SessionId"])


async def test_no_handshake_echo_size_and_an_interactive_exit_sends_no_exit_code(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        first = client.delivered[0]
        assert (first.sequence_number, first.flags, first.payload_type) == (0, codec.FLAG_SYN, PayloadType.OUTPUT)
        target = node(sb, "prod-web-01").instance_id
        assert f"[ssm-user@prod-web-01 ({target}) ~]$ " in client.clean
        assert all(m.flags == 0 for m in client.delivered[1:])

        await client.size(100, 30)
        await client.keys("echo hi\r")
        await client.read_text("\nhi\n")
        await client.keys("stty size\r")
        await client.read_text("30 100\n")
        await client.keys("exit 3\r")
        closed = await client.read_closed()
        # the real agent's PTY path (Standard_Stream) ends on EOF with no ExitCode payload (shell.go)
        assert client.payloads(PayloadType.EXIT_CODE) == ""
        assert PayloadType.EXIT_CODE not in {m.payload_type for m in client.delivered}
        assert agent_state(sb, resp["SessionId"])["exit_code"] == 3
        assert closed["Output"] == "" and closed["MessageType"] == "channel_closed"
        assert closed["DestinationId"] == target and closed["SessionId"] == resp["SessionId"]
        assert all(len(m.payload) > 0 for m in client.delivered)
        assert [m.sequence_number for m in client.delivered] == list(range(len(client.delivered)))
    history = ssm.describe_sessions(State="History", Filters=[{"key": "SessionId", "value": resp["SessionId"]}])
    assert history["Sessions"][0]["Status"] == "Terminated"


async def test_node_home_prompt_and_env(sb, ssm, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox-secret-do-not-leak")
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http, name="本番-決済API-01")
        target = node(sb, "本番-決済API-01").instance_id
        assert f"[ssm-user@本番-決済API-01 ({target}) ~]$ " in client.clean
        await client.keys("pwd; env | sort; echo END-OF-$((6*7))\r")
        await client.read_text("END-OF-42\n")
        text = client.clean
        home = sb.state_dir / "nodes" / target / "home"
        assert (home / ".bash_profile").is_file()
        assert f"\n{home}\n" in text
        computer = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [target]}])[
            "InstanceInformationList"][0]["ComputerName"]
        for line in (f"HOME={home}", f"OPSTUI_NODE_ID={target}", f"HOSTNAME={computer}",
                     f"OPSTUI_REGION={REGION}", f"SSM_SESSION_ID={resp['SessionId']}", "TERM=xterm-256color"):
            assert f"\n{line}\n" in text, line
        assert "sandbox-secret-do-not-leak" not in text and "AWS_" not in text
        ssm.terminate_session(SessionId=resp["SessionId"])
        closed = await client.read_closed()
        assert closed["Output"] == ""


def computer_name(ssm, instance_id):
    rows = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    return rows["InstanceInformationList"][0]["ComputerName"]


async def test_every_node_answers_hostname_with_its_own_computer_name(sb, ssm):
    seen = {}
    async with aiohttp.ClientSession() as http:
        for name in ("prod-web-01", "prod-app-01", "onprem-backup-01"):
            resp, client = await shell(sb, ssm, http, name=name)
            await client.keys('echo "H=$(hostname) N=$(uname -n) E=$HOSTNAME S=$(hostname -s) A=$(uname -a)" $((40+2))\r')
            await client.read_text(" 42\n")
            line = next(x for x in client.clean.splitlines() if x.startswith("H=") and x.endswith(" 42"))
            expected = computer_name(ssm, node(sb, name).instance_id)
            short = expected.split(".")[0]
            assert line.startswith(f"H={expected} N={expected} E={expected} S={short} A=Linux {expected} "), line
            seen[name] = expected
            ssm.terminate_session(SessionId=resp["SessionId"])
            await client.read_closed()
    assert len(set(seen.values())) == 3
    assert seen["prod-web-01"] == f"ip-{node(sb, 'prod-web-01').private_ip.replace('.', '-')}.{REGION}.compute.internal"
    assert seen["onprem-backup-01"] == "onprem-backup-01.corp.example.jp"


@pytest.mark.skipif(shutil.which("pwsh") is not None, reason="with pwsh installed the node runs the real PowerShell")
async def test_a_windows_node_opens_powershell(sb, ssm):
    win = node(sb, "prod-win-ad-01").instance_id
    computer = computer_name(ssm, win)
    assert computer.startswith("EC2AMAZ-")
    async with aiohttp.ClientSession() as http:
        resp, client = await open_session(sb, ssm, http, name="prod-win-ad-01")
        await client.read_text("PS C:\\Windows\\system32> ")
        assert "Windows PowerShell" in client.clean and "[ssm-user@" not in client.clean
        await client.keys("hostname; $env:COMPUTERNAME\r")
        await client.read_text(f"{computer}\n{computer}\nPS C:")
        await client.keys("Get-Service AmazonSSMAgent\r")
        await client.read_text("Running  AmazonSSMAgent     Amazon SSM Agent\n")
        await client.keys("$PSVersionTable\r")
        await client.read_text("PSEdition                      Desktop\n")
        await client.keys("Get-Date\r")
        await client.read_text(f", {dt.datetime.now(dt.UTC).year} ")
        await client.keys("uname -a\r")
        await client.read_text("The term 'uname' is not recognized as the name of a cmdlet")
        await client.keys("cd ~; Get-Location\r")
        await client.read_text("C:\\Users\\ssm-user\n")
        await client.keys("exit\r")
        closed = await client.read_closed()
        assert closed["Output"] == "" and client.payloads(PayloadType.EXIT_CODE) == ""


async def test_terminate_session_closes_channel_and_kills_shell(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        pid = agent_state(sb, resp["SessionId"])["pid"]
        ssm.terminate_session(SessionId=resp["SessionId"])
        closed = await client.read_closed()
        assert closed["Output"] == ""
        await client.drain(1.0)
        assert client.socket_closed
    await wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=3)


async def test_handshake_start(sb, ssm):
    control(sb, "POST", "session-mode", {"handshake": True})
    async with aiohttp.ClientSession() as http:
        resp, client = await open_session(sb, ssm, http)
        await client.read_until(lambda c: c.delivered)
        early = await client.keys("echo too-early\r")  # before HandshakeComplete: acked and dropped
        await client.read_until(lambda c: early in c.acks_received)
        req = client.delivered[0]
        assert (req.sequence_number, req.payload_type) == (0, PayloadType.HANDSHAKE_REQUEST)
        body = req.json()
        assert body["AgentVersion"] == "3.3.1142.0"
        assert body["RequestedClientActions"] == [{"ActionType": "SessionType", "ActionParameters": {
            "SessionType": "Standard_Stream", "Properties": None}}]
        await client.handshake_response({"SessionType": 1})
        await client.read_until(lambda c: len(c.delivered) >= 2)
        done = client.delivered[1]
        assert (done.sequence_number, done.payload_type) == (1, PayloadType.HANDSHAKE_COMPLETE)
        assert isinstance(done.json()["HandshakeTimeToComplete"], int) and done.json()["CustomerMessage"] == ""
        await client.read_text(PROMPT_END)
        assert client.delivered[2].sequence_number == 2
        await client.size(90, 20)
        await client.keys("stty size\r")
        await client.read_text("20 90\n")
        assert "too-early" not in client.clean
        assert agent_state(sb, resp["SessionId"])["dropped_during_handshake"] == 1
        ssm.terminate_session(SessionId=resp["SessionId"])
        await client.read_closed()


async def test_kms_refused_fails_session(sb, ssm):
    control(sb, "POST", "session-mode", {"handshake": False, "kms": True})
    async with aiohttp.ClientSession() as http:
        resp, client = await open_session(sb, ssm, http)
        await client.read_until(lambda c: c.delivered)
        actions = client.delivered[0].json()["RequestedClientActions"]
        kms = actions[1]
        assert kms["ActionType"] == "KMSEncryption"
        assert kms["ActionParameters"]["KMSKeyId"].startswith(f"arn:aws:kms:{REGION}:123456789012:key/")
        assert kms["ActionParameters"]["Challenge"]
        await client.handshake_response({"SessionType": 1, "KMSEncryption": 2})
        closed = await client.read_closed()
        assert "Handshake failed" in closed["Output"] and "KMSEncryption" in closed["Output"]
    history = ssm.describe_sessions(State="History", Filters=[{"key": "SessionId", "value": resp["SessionId"]}])
    assert history["Sessions"][0]["Status"] == "Failed"


async def non_interactive(sb, ssm, http, parameters):
    """A NonInteractiveCommands session always begins with the handshake, as the real agent's plugin does."""
    resp, client = await open_session(sb, ssm, http, DocumentName="AWS-StartNonInteractiveCommand",
                                      Parameters=parameters)
    await client.read_until(lambda c: c.delivered)
    request = client.delivered[0]
    assert request.payload_type == PayloadType.HANDSHAKE_REQUEST
    assert request.json()["RequestedClientActions"] == [{"ActionType": "SessionType", "ActionParameters": {
        "SessionType": "NonInteractiveCommands", "Properties": None}}]
    await client.handshake_response({"SessionType": 1})
    await client.read_closed()
    assert client.delivered[1].payload_type == PayloadType.HANDSHAKE_COMPLETE
    return resp, client


async def test_non_interactive_and_interactive_commands(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await non_interactive(sb, ssm, http, {
            "command": ["echo to-out; echo to-err >&2; exit 4"], "separateOutputStream": ["true"]})
        assert client.payloads(PayloadType.OUTPUT) == "to-out\n"
        assert client.payloads(PayloadType.STDERR) == "to-err\n"
        assert client.payloads(PayloadType.EXIT_CODE) == "EXIT_CODE: 4"
        assert agent_state(sb, resp["SessionId"])["separate_output"] is True

        # a command that prints nothing still ends with its exit status after the handshake
        _resp, client = await non_interactive(sb, ssm, http, {"command": ["exit 0"],
                                                              "separateOutputStream": ["true"]})
        assert client.payloads(PayloadType.EXIT_CODE) == "EXIT_CODE: 0"

        resp, client = await open_session(sb, ssm, http, DocumentName="AWS-StartInteractiveCommand",
                                          Parameters={"command": ["read -r x; echo got-$x"]})
        await wait_for(lambda: agent_state(sb, resp["SessionId"])["phase"] == "running")
        await client.keys("abc\r")
        await client.read_closed()
        assert "got-abc\n" in client.clean
        assert client.payloads(PayloadType.EXIT_CODE) == ""  # InteractiveCommands runs in a PTY: no ExitCode


async def test_reconnect_resends_unacked_output(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        client.ack = False
        await client.keys("echo one; echo two\r")
        await client.read_text("two\n" + "[ssm-user")
        await wait_for(lambda: agent_state(sb, sid)["unacked"] > 0)
        unacked_from = client.expected - agent_state(sb, sid)["unacked"]
        sb.session_faults.add("drop", session_id=sid)
        await client.drain(2.0)
        assert client.socket_closed and client.closed is None
        assert agent_state(sb, sid)["status"] == "Disconnected"

        token = ssm.resume_session(SessionId=sid)["TokenValue"]
        client.ack = True
        await client.attach(http, resp["StreamUrl"], token)
        await pump_until(client, lambda: agent_state(sb, sid)["unacked"] == 0, timeout=5)
        resent = [seq for sock, seq in client.received if sock == 2]
        assert resent[: client.expected - unacked_from] == list(range(unacked_from, client.expected))
        assert [m.sequence_number for m in client.delivered] == list(range(client.expected))
        await client.keys("echo three\r")
        await client.read_text("three\n")
        state = agent_state(sb, sid)
        assert state["connects"] == 2 and state["status"] == "Connected" and state["resent"] >= 1
        ssm.terminate_session(SessionId=sid)
        await client.read_closed()


async def test_duplicate_input_is_reacked(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        seq = await client.keys("echo once\r")
        await client.send(PayloadType.OUTPUT, b"echo once\r", seq=seq)
        await client.read_until(lambda c: c.acks_received.count(seq) == 2)
        await client.read_text("once\n" + "[ssm-user")
        assert client.clean.count("\nonce\n") == 1
        assert agent_state(sb, resp["SessionId"])["duplicates"] == 1
        ssm.terminate_session(SessionId=resp["SessionId"])


async def test_flow_control_stops_the_reader_at_the_window(sb, ssm):
    sb.sessions.configure(window=8, chunk_size=64)
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        client.ack = False
        await client.keys("seq 1 200000\r")
        await wait_for(lambda: agent_state(sb, sid)["reader_paused"], timeout=5)
        first = agent_state(sb, sid)
        await _sleep(0.5)
        later = agent_state(sb, sid)
        # the agent stops at its window: 8 frames, or fewer (down to 4) if acks of the prompt came back late
        # and the delay-based window shrank (a loaded machine)
        assert first["unacked"] == later["unacked"] and 4 <= later["unacked"] <= 8
        assert later["out_seq"] == first["out_seq"]
        assert all(len(m.payload) <= 64 for m in client.delivered)
        client.ack = True
        await client.read_text("\n200\n", timeout=10)  # acking resumes the shell
        assert agent_state(sb, sid)["out_seq"] > first["out_seq"]
        ssm.terminate_session(SessionId=sid)


async def test_faults_bad_digest_duplicate_reorder(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        sb.session_faults.add("bad_digest", session_id=sid, count=1)
        sb.session_faults.add("duplicate", session_id=sid, every=1, count=2)
        control(sb, "POST", "session-faults", {"kind": "reorder", "session_id": sid, "every": 2, "count": 1})
        await client.keys("for i in 1 2 3 4 5 6; do echo line$i; done\r")
        await client.read_text("line6\n" + "[ssm-user")
        assert client.bad_frames == 2  # the corrupted frame was also the first duplicated one
        text = client.clean
        assert all(text.count(f"\nline{i}\n") == 1 for i in range(1, 7))
        assert [m.sequence_number for m in client.delivered] == list(range(client.expected))
        control(sb, "DELETE", "session-faults")
        assert sb.session_faults.rules == []
        ssm.terminate_session(SessionId=sid)


async def test_faults_pause_and_channel_closed_112(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        rule = control(sb, "POST", "session-faults", {"kind": "pause", "session_id": sid, "ms": 200})
        assert rule["added"]["applied"] == 1
        await client.read_until(lambda c: [m.message_type for m in c.control] == ["pause_publication",
                                                                                 "start_publication"])
        sb.session_faults.add("channel_closed_112", session_id=sid)
        closed = await client.read_closed()
        assert client.closed.header_length == 112
        assert closed["Output"] == "closed by the sandbox"
    assert agent_state(sb, sid)["status"] == "Terminated"


async def test_drop_after_frames_and_withhold_acks(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        sb.session_faults.add("withhold_acks", session_id=sid, count=1)
        seq = await client.keys("echo x\r")
        await client.read_text("x\n" + "[ssm-user")
        assert seq not in client.acks_received
        sb.session_faults.add("drop", session_id=sid, after_frames=1)
        await client.keys("echo y\r")
        await client.drain(1.5)
        assert client.socket_closed
        token = ssm.resume_session(SessionId=sid)["TokenValue"]
        await client.attach(http, resp["StreamUrl"], token)
        await client.send(PayloadType.OUTPUT, b"echo x\r", seq=seq)  # our retransmission: re-acked, not re-run
        await client.read_text("y\n" + "[ssm-user")
        await client.read_until(lambda c: seq in c.acks_received)
        assert client.clean.count("\nx\n") == 1
        ssm.terminate_session(SessionId=sid)


async def test_drop_input_loses_new_input_until_the_client_resends_it(sb, ssm):
    """``drop_input``: the next new input frame is neither acked nor run; the frame after it is acked and held
    (out of order); the client's resend of the lost one passes, and both run once, in order."""
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        sb.session_faults.add("drop_input", session_id=sid, count=1)
        lost = await client.keys("echo lo")
        held = await client.keys("st-$((1+1))\r")
        # the agent read both frames in order: once the second is acked, the first has been dropped
        await client.read_until(lambda c: held in c.acks_received)
        state = agent_state(sb, sid)
        assert lost not in client.acks_received and "lost-2" not in client.clean
        assert state["faults_dropped_inputs"] == 1 and state["expected"] == lost
        assert sb.session_faults.rules == []
        await client.send(PayloadType.OUTPUT, b"echo lo", seq=lost)  # our retransmission
        await client.read_text("lost-2\n" + "[ssm-user")
        await client.read_until(lambda c: lost in c.acks_received)
        assert client.clean.count("\nlost-2\n") == 1
        ssm.terminate_session(SessionId=sid)


async def test_duplicate_after_ack_writes_the_copy_once_the_original_is_acked(sb, ssm):
    """``duplicate`` with ``after_ack``: the copy is written after our ack, when we have the frame already;
    our re-ack of it shows in the agent's ``acks_for_acked`` (a client that does not re-ack stays at 0)."""
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        before = agent_state(sb, sid)
        sb.session_faults.add("duplicate", session_id=sid, every=1, count=1, after_ack=True)
        await client.keys("echo twice-$((1+1))\r")
        await pump_until(client, lambda: agent_state(sb, sid)["acks_for_acked"] > before["acks_for_acked"])
        state = agent_state(sb, sid)
        assert state["faults_duplicated_after_ack"] == before["faults_duplicated_after_ack"] + 1
        seq = before["out_seq"]  # the first output frame after the fault: the echo
        assert client.received.count((1, seq)) >= 2
        assert [m.sequence_number for m in client.delivered].count(seq) == 1
        assert sb.session_faults.rules == []
        ssm.terminate_session(SessionId=sid)


async def test_handshake_timeout_fails_session(sb, ssm):
    sb.sessions.configure(handshake=True, handshake_timeout=0.3)
    async with aiohttp.ClientSession() as http:
        resp, client = await open_session(sb, ssm, http)
        closed = await client.read_closed(timeout=5)
        assert closed["Output"].startswith("Handshake timed out")
    assert agent_state(sb, resp["SessionId"])["status"] == "Failed"


async def test_grace_period_ends_a_disconnected_session(sb, ssm):
    sb.sessions.configure(grace_seconds=0.5)
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sid = resp["SessionId"]
        pid = agent_state(sb, sid)["pid"]
        sb.session_faults.add("drop", session_id=sid)
        await wait_for(lambda: agent_state(sb, sid)["status"] == "Disconnected", timeout=3)
        await wait_for(lambda: agent_state(sb, sid)["status"] == "Terminated", timeout=3)
        await wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=3)
        with pytest.raises(ClientError) as err:
            ssm.resume_session(SessionId=sid)
        assert err.value.response["Error"]["Code"] == "DoesNotExistException"
        # a socket for an ended session is refused even with a valid token
        client = await RawSession().attach(http, resp["StreamUrl"], resp["TokenValue"])
        closed = await client.read_closed()
        assert "ended" in closed["Output"]


async def test_delay_fault_slows_frames(sb, ssm):
    async with aiohttp.ClientSession() as http:
        resp, client = await shell(sb, ssm, http)
        sb.session_faults.add("delay", session_id=resp["SessionId"], ms=150, count=2)
        began = time.monotonic()
        await client.keys("echo slow\r")
        await client.read_text("slow\n" + "[ssm-user")
        assert time.monotonic() - began >= 0.3
        assert sb.session_faults.rules == []
        ssm.terminate_session(SessionId=resp["SessionId"])


def test_session_mode_and_fault_endpoints_validate(sb):
    mode = control(sb, "POST", "session-mode", {"handshake": True, "kms": False})["mode"]
    assert mode["handshake"] is True and mode["window"] == 16
    for bad in ({"handshake": "yes"}, {"window": 0}, {"chunk_size": 4096}, {"nope": 1}):
        with pytest.raises(urllib.error.HTTPError) as err:
            control(sb, "POST", "session-mode", bad)
        assert err.value.code == 400
    for bad in ({"kind": "explode"}, {"kind": "duplicate", "after_ack": "yes"},
                {"kind": "reorder", "after_ack": True}, {"kind": "drop_input", "count": 0}):
        with pytest.raises(urllib.error.HTTPError):
            control(sb, "POST", "session-faults", bad)
    rule = control(sb, "POST", "session-faults", {"kind": "drop_frames", "count": 2})["added"]
    assert rule["kind"] == "drop_frames" and rule["remaining"] == 2 and rule["session_id"] is None
    assert control(sb, "GET", "session-faults")["rules"] == [rule]
    control(sb, "DELETE", "session-faults")
    assert control(sb, "GET", "session-faults")["rules"] == []
    listing = control(sb, "GET", "sessions")
    assert listing["stream_port"] == sb.stream_port and isinstance(listing["sessions"], list)


async def test_non_interactive_without_separate_output_stream_sends_no_exit_code(sb, ssm):
    """As the real agent (shell.go processCommandsWithExec): one stream, Output only, no ExitCode."""
    async with aiohttp.ClientSession() as http:
        resp, client = await non_interactive(sb, ssm, http, {"command": ["echo to-out; echo to-err >&2; exit 4"]})
        assert sorted(client.payloads(PayloadType.OUTPUT).splitlines()) == ["to-err", "to-out"]
        assert client.payloads(PayloadType.STDERR) == ""
        assert client.payloads(PayloadType.EXIT_CODE) == ""
        assert agent_state(sb, resp["SessionId"])["exit_code"] == 4  # the agent knows it; the wire does not


def test_separate_output_stream_takes_true_or_false_only(sb, ssm):
    with pytest.raises(ClientError) as err:
        ssm.start_session(Target=node(sb, "prod-web-01").instance_id, DocumentName="AWS-StartNonInteractiveCommand",
                          Parameters={"command": ["true"], "separateOutputStream": ["yes"]})
    assert err.value.response["Error"]["Code"] == "InvalidParameters"
