"""The native client against the sandbox's agent: real websocket, real PTY, real faults."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import pytest

from opstui.aws import ssm
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.fleet import load_fleet
from opstui.session.channel import DataChannel, SessionError
from opstui.session.shell import open_shell

R1 = "ap-northeast-1"


@pytest.fixture
async def aws(sandbox):
    clients = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials)
    yield clients
    await clients.close()


@pytest.fixture
async def shell_target(sandbox, aws):
    snap = await load_fleet(aws, [R1])
    node = next(n for n in snap.nodes if n.name == "prod-web-01")
    return node


async def read_until(shell: DataChannel, needle: bytes, timeout: float = 15.0) -> bytes:
    got = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while needle not in got:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"{needle!r} not seen; got tail {got[-400:]!r}")
        try:
            chunk = await asyncio.wait_for(shell.read(), remaining)
        except TimeoutError:
            raise AssertionError(f"{needle!r} not seen within {timeout:g}s; got tail {got[-400:]!r}") from None
        if chunk is None:
            raise AssertionError(f"session closed before {needle!r}: {shell.close_reason}; tail {got[-400:]!r}")
        got += chunk
    return got


async def drain(shell: DataChannel, timeout: float = 10.0) -> bytes:
    got = b""
    while True:
        chunk = await asyncio.wait_for(shell.read(), timeout)
        if chunk is None:
            return got
        got += chunk


async def test_echo_round_trip(aws, shell_target):
    async with open_shell(aws, R1, shell_target.instance_id, size=(100, 30)) as s:
        await s.send(b"echo hel''lo-$((40+2))\r")
        out = await read_until(s, b"hello-42")
        assert b"hello-42" in out


async def test_keys_sent_without_awaiting_arrive_in_order_with_awaited_sends(aws, shell_target):
    async with open_shell(aws, R1, shell_target.instance_id, size=(100, 30)) as s:
        s.send_nowait(b"echo or")
        await s.send(b"der-")
        for key in b"$((6*7))":
            s.send_nowait(bytes([key]))
        s.send_nowait(b"\r")
        out = await read_until(s, b"order-42")
        assert b"order-42" in out
        assert not s.stats["resent"]


async def test_prompt_and_environment_name_the_node(aws, shell_target):
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await s.send(b"echo id=$OPSTUI_NODE_ID home=$HOME END$((1+1))\r")
        out = await read_until(s, b"END2")
        assert f"id={shell_target.instance_id}".encode() in out
        assert b"prod-web-01" in out  # the prompt shows the node's Name
        assert shell_target.instance_id.encode() in out


async def test_stty_size_follows_resize(aws, shell_target):
    async with open_shell(aws, R1, shell_target.instance_id, size=(100, 30)) as s:
        await s.send(b"stty size\r")
        await read_until(s, b"30 100")
        s.resize(132, 43)
        await asyncio.sleep(0.4)
        await s.send(b"stty size\r")
        await read_until(s, b"43 132")


async def test_exit_3_closes_the_channel_without_an_exit_code(aws, shell_target):
    # AWS sends no ExitCode payload for an interactive shell (the agent's PTY path), so none is known
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await s.send(b"exit 3\r")
        await drain(s)
        assert s.exit_code is None and s.state == "closed"


async def test_a_non_interactive_command_keeps_stderr_apart_and_reports_its_exit_status(aws, shell_target):
    """The handshake the agent asks for, then Output / StdErr / ExitCode: stderr reaches on_stderr (acked as it
    arrives), stdout the reader, and exit_code the command's status."""
    errors: list[bytes] = []
    params = {"command": ["for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 6"],
              "separateOutputStream": ["true"]}
    async with open_shell(aws, R1, shell_target.instance_id, document="AWS-StartNonInteractiveCommand",
                          parameters=params, on_stderr=errors.append) as s:
        out = await drain(s)
        assert out == b"out1\nout2\nout3\n"
        assert b"".join(errors) == b"err1\nerr2\nerr3\n"
        assert s.exit_code == 6


async def test_terminate_session_closes_the_channel(aws, sandbox, shell_target):
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await ssm.terminate_session(aws, R1, s.session_id)
        await asyncio.wait_for(s.wait_closed(), 10)
        assert s.state == "closed"
    history = await ssm.describe_sessions(aws, R1, "History")
    assert any(h["SessionId"] == s.session_id for h in history)


async def test_an_invalid_token_is_refused(aws, shell_target):
    started = await ssm.start_session(aws, R1, shell_target.instance_id)
    channel = DataChannel(stream_url=started.stream_url, token="not-the-token", session_id=started.session_id,
                          ready_timeout=10)
    with pytest.raises(SessionError) as info:
        await channel.start()
    await channel.close(terminate=False)
    await ssm.terminate_session(aws, R1, started.session_id)
    assert "not-the-token" not in str(info.value)


async def test_start_session_on_a_connection_lost_node_fails_clearly(aws, sandbox):
    snap = await load_fleet(aws, [R1])
    lost = next(n for n in snap.nodes if n.ping_status == "ConnectionLost")
    with pytest.raises(OpsError) as info:
        async with open_shell(aws, R1, lost.instance_id):
            pass
    assert info.value.code == "TargetNotConnected" and lost.instance_id in str(info.value)


async def test_unknown_instance_id_fails_clearly(aws, sandbox):
    with pytest.raises(OpsError) as info:
        await ssm.start_session(aws, R1, "i-0000000000000dead")
    assert info.value.code == "TargetNotConnected"


async def test_read_only_refuses_to_start_a_session(sandbox, shell_target):
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, read_only=True)
    try:
        with pytest.raises(OpsError) as info:
            await ssm.start_session(aws, R1, shell_target.instance_id)
    finally:
        await aws.close()
    assert info.value.kind == "read-only"


async def test_handshake_start_path(aws, sandbox, shell_target):
    sandbox.session_mode(handshake=True)
    async with open_shell(aws, R1, shell_target.instance_id, size=(90, 25)) as s:
        await s.send(b"stty size\r")
        await read_until(s, b"25 90")


async def test_kms_sessions_are_refused_with_a_clear_message(aws, sandbox, shell_target):
    sandbox.session_mode(handshake=True, kms=True)
    with pytest.raises(SessionError) as info:
        async with open_shell(aws, R1, shell_target.instance_id):
            pass
    assert info.value.kind == "kms" and "KMS" in str(info.value)
    active = await ssm.describe_sessions(aws, R1, "Active")
    assert not [a for a in active if a["Target"] == shell_target.instance_id]


def _seq_digest(n: int) -> str:
    return hashlib.sha256(b"".join(b"%d\r\n" % i for i in range(1, n + 1))).hexdigest()


def _slice_seq(out: bytes, n: int) -> bytes:
    start = out.index(b"1\r\n2\r\n3\r\n4\r\n")  # the first occurrence is the start of seq's output
    end = out.index(b"\r\n%d\r\n" % n, start) + len(b"\r\n%d\r\n" % n)
    return out[start:end]


@pytest.mark.timeout(120)
async def test_dropped_socket_mid_stream_loses_and_duplicates_nothing(aws, sandbox, shell_target):
    n = 300_000
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await read_until(s, b"$ ")
        # no tty echo, so a line typed during the stream cannot interleave with seq's output
        await s.send(b"stty -echo; echo READY-$((3+4))\r")
        await read_until(s, b"READY-7")
        sandbox.add_session_fault("drop", session_id=s.session_id, after_frames=300)
        # the ResumeSession call is throttled twice, so the outage lasts long enough to type into it
        sandbox.add_fault("Throttling", service="ssm", action="ResumeSession", count=2)
        await s.send(b"seq 1 %d; echo DONE-$((6*7))\r" % n)
        typed_during_outage = False

        async def type_during_outage() -> None:
            # watch the state on its own task: the reader below may be waiting on an empty queue for the whole
            # (short) outage, and would only see "connected" again
            nonlocal typed_during_outage
            while s.state != "reconnecting":
                await asyncio.sleep(0.002)
            await s.send(b"echo ONCE-$((1+1))\r")
            typed_during_outage = s.state == "reconnecting"

        typist = asyncio.create_task(type_during_outage())
        out = b""
        while b"ONCE-2" not in out:
            chunk = await asyncio.wait_for(s.read(), 60)
            assert chunk is not None, s.close_reason
            out += chunk
            if b"DONE-42" in out and not typist.done():
                typist.cancel()
                await s.send(b"echo ONCE-$((1+1))\r")  # never saw the outage: type after it, and fail below
        await asyncio.sleep(0.5)
        out += s.read_nowait() or b""
        assert s.reconnects == 1
        got = _slice_seq(out, n)
        assert hashlib.sha256(got).hexdigest() == _seq_digest(n)
        assert out.count(b"ONCE-2") == 1
    assert typed_during_outage, "the outage ended before input could be typed into it"


@pytest.mark.parametrize("kind,params", [
    ("reorder", {"every": 3}),
    ("duplicate", {"every": 2}),
    ("withhold_acks", {"count": 5}),
    ("drop_frames", {"count": 5}),
    ("bad_digest", {"count": 3}),
])
async def test_reordered_duplicated_withheld_and_corrupt_frames_still_give_exact_output(
    aws, sandbox, shell_target, kind, params
):
    n = 20_000
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await read_until(s, b"$ ")
        sandbox.add_session_fault(kind, session_id=s.session_id, **params)
        await s.send(b"seq 1 %d; echo DONE-$((6*7))\r" % n)
        out = await read_until(s, b"DONE-42", timeout=60)
        assert hashlib.sha256(_slice_seq(out, n)).hexdigest() == _seq_digest(n)
        if kind == "bad_digest":
            assert s.stats["dropped_bad"] >= 1


async def test_hl112_channel_closed_ends_the_session_with_its_reason(aws, sandbox, shell_target):
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await read_until(s, b"$ ")
        sandbox.add_session_fault("channel_closed_112", session_id=s.session_id)
        await asyncio.wait_for(s.wait_closed(), 10)
        assert "closed by the sandbox" in s.close_reason


async def test_pause_and_start_publication_are_harmless(aws, sandbox, shell_target):
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await read_until(s, b"$ ")
        sandbox.add_session_fault("pause", session_id=s.session_id, ms=300)
        await s.send(b"echo still-$((2+2))\r")
        await read_until(s, b"still-4")


async def test_resume_gives_up_after_a_bounded_time_and_terminates(aws, sandbox, shell_target):
    started = await ssm.start_session(aws, R1, shell_target.instance_id)
    terminated = []

    async def resume() -> str:
        raise OpsError("the ssm endpoint is unreachable", kind="unreachable", region=R1)

    async def terminate() -> None:
        terminated.append(True)
        await ssm.terminate_session(aws, R1, started.session_id)

    channel = DataChannel(stream_url=started.stream_url, token=started.token, session_id=started.session_id,
                          resume=resume, terminate=terminate, resume_timeout=1.5)
    await channel.start()
    try:
        sandbox.add_session_fault("drop", session_id=started.session_id)
        await asyncio.wait_for(channel.wait_closed(), 10)
    finally:
        await channel.close(terminate=False)
    assert channel.error is not None and channel.error.kind == "resume-failed"
    assert "could not be resumed within 2s" in str(channel.error) and "unreachable" in str(channel.error)
    assert terminated == [True]
    assert started.token not in str(channel.error) and started.token not in repr(channel)


# -- reliability: what each side must do when a frame is lost or comes twice --------------------------------

async def agent_counters(sandbox, session_id: str) -> dict:
    """The sandbox agent's snapshot of one session (``GET /_opstui/sessions``), fetched off the event loop so
    the client keeps reading and acking meanwhile."""
    listing = await asyncio.to_thread(sandbox.sessions)
    return next(a for a in listing["sessions"] if a["id"] == session_id)


async def agent_counters_when(sandbox, session_id: str, condition: Callable[[dict], bool],
                              timeout: float = 5.0) -> dict:
    """Poll the agent's counters until ``condition(counters)`` holds: wait for progress, not for a fixed time.
    ``timeout`` only bounds a test whose condition never comes true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        counters = await agent_counters(sandbox, session_id)
        if condition(counters):
            return counters
        if loop.time() > deadline:
            raise AssertionError(f"the agent's counters never got there: {counters}")
        await asyncio.sleep(0.05)


async def test_input_dropped_on_the_way_to_the_agent_is_resent_and_arrives_once(aws, sandbox, shell_target):
    """Input lost between client and agent is never acked, so only the client's timed resend (RTO) of its
    unacknowledged input can deliver it. Typed text must arrive exactly once and in the order typed: the frame
    after the lost one reaches the agent first and waits in its out-of-order buffer."""
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await s.send(b"echo READY-$((3+4))\r")
        await read_until(s, b"READY-7")  # the agent has every earlier input frame: the fault takes the next one
        resent_before = s.stats["resent"]
        sandbox.add_session_fault("drop_input", session_id=s.session_id, count=1)
        await s.send(b"echo AB")  # lost on the way
        await s.send(b"C-$((2+3))\r")  # arrives, is acked and held until the resend of the lost frame fills the gap
        # "ABC-5" appears only if the shell got both frames in order (reversed, it would run "C-5")
        out = await read_until(s, b"ABC-5", timeout=8)
        await s.send(b"echo END-$((6*7))\r")
        out += await read_until(s, b"END-42")
        agent = await agent_counters(sandbox, s.session_id)
        assert agent["faults_dropped_inputs"] == 1
        assert s.stats["resent"] > resent_before and s.reconnects == 0  # the RTO resend, not a resume
        assert out.count(b"ABC-5") == 1 and out.count(b"echo ABC-$((2+3))") == 1
        assert out.index(b"ABC-5") < out.index(b"END-42")


async def test_a_duplicate_output_frame_is_acknowledged_again(aws, sandbox, shell_target):
    """A frame the client has already read and acked can come again (the agent's resend crossed the ack, or
    the ack was lost); the client must ack it again, or an agent whose ack was lost resends it forever.

    The copy is written once the original's ack has reached the agent (``duplicate`` with ``after_ack``): a copy
    written right behind the original arrives while the original is still unread, and the client then acks
    both with one ack when it reads the bytes, so the plain ``duplicate`` fault never shows a re-ack."""
    async with open_shell(aws, R1, shell_target.instance_id) as s:
        await read_until(s, b"$ ")
        sandbox.add_session_fault("duplicate", session_id=s.session_id, every=1, after_ack=True)
        await s.send(b"echo DUP-$((1+2))\r")
        out = await read_until(s, b"DUP-3")
        await s.send(b"echo END-$((6*7))\r")
        out += await read_until(s, b"END-42")

        def every_copy_acked(a: dict) -> bool:
            return a["faults_duplicated_after_ack"] >= 2 and a["acks_for_acked"] >= a["faults_duplicated_after_ack"]

        agent = await agent_counters_when(sandbox, s.session_id, every_copy_acked)
        assert agent["acks_for_acked"] >= 2  # each copy of an already-acked frame was acked again
        # the client has handled every copy written so far (it acked them): whatever it queued is here now
        while chunk := s.read_nowait():
            out += chunk
        # every frame of the echo and the result came twice, and each is shown once
        assert out.count(b"echo DUP-$((1+2))") == 1 and out.count(b"DUP-3") == 1
        assert out.count(b"END-42") == 1
