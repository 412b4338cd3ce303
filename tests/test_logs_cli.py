"""`opstui logs`: tail (merged by time, node, filter, JSON fields), query, usage errors, read-only, terminal
safety. Events are written by the test itself with PutLogEvents through the sandbox."""

from __future__ import annotations

import io
import os
import time
import uuid

import pytest

from opstui.aws.clients import AwsClients
from opstui.logs_cli import main, parse_since, tty_message

R1 = "ap-northeast-1"


@pytest.fixture(autouse=True)
def _creds(monkeypatch, sandbox):
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPSTUI_CONFIG", os.devnull)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(sandbox, *args: str, out: io.StringIO | None = None) -> tuple[int, str, str]:
    out = out if out is not None else io.StringIO()
    err = io.StringIO()
    code = main([*args[:1], "--endpoint-url", sandbox.endpoint, "--region", R1, *args[1:]], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def _put(sandbox, group: str, streams: dict[str, list[str]], base_ms: int) -> None:
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials)
    try:
        await aws.call("logs", R1, "create_log_group", logGroupName=group)
        for offset, (stream, messages) in enumerate(streams.items()):
            await aws.call("logs", R1, "create_log_stream", logGroupName=group, logStreamName=stream)
            await aws.call("logs", R1, "put_log_events", logGroupName=group, logStreamName=stream,
                           logEvents=[{"timestamp": base_ms + offset + 10 * i, "message": m}
                                      for i, m in enumerate(messages)])
    finally:
        await aws.close()


@pytest.fixture
async def groups(sandbox):
    tag = uuid.uuid4().hex[:8]
    base = int(time.time() * 1000) - 60_000
    web, app = f"/cli/{tag}/web", f"/cli/{tag}/app"
    await _put(sandbox, web, {"i-0aaaaaaaaaaaaaaa1": ["GET / 200", "GET /x 500 ERROR"],
                              "i-0bbbbbbbbbbbbbbb2": ["other node"]}, base)
    await _put(sandbox, app, {"i-0aaaaaaaaaaaaaaa1": ['{"level":"ERROR","msg":"db down","ms":5}',
                                                     "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J done"]}, base + 5)
    return web, app


def test_tail_merges_groups_by_time_to_a_pipe_unchanged(sandbox, groups):
    web, app = groups
    code, out, err = run(sandbox, "tail", web, app, "--since", "5m")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(" ", 2)[2] for line in lines][:3] == [
        "GET / 200", "other node", '{"level":"ERROR","msg":"db down","ms":5}']
    assert lines[0].split(" ")[1] == "web:i-0aaaaaaaaaaaaaaa1" and lines[2].split(" ")[1] == "app:i-0aaaaaaaaaaaaaaa1"
    assert "\x1b[31mred\x1b[0m \x1b]0;title\x07" in out  # a pipe gets the bytes as logged


def test_tail_node_filter_and_json_fields(sandbox, groups):
    web, app = groups
    code, out, err = run(sandbox, "tail", web, app, "--node", "i-0aaaaaaaaaaaaaaa1", "--filter", "ERROR",
                         "--json", "level,msg")
    assert code == 0, err
    assert out.count("\n") == 2 and "other node" not in out
    assert "GET /x 500 ERROR" in out and "level=ERROR msg=db down" in out


def test_on_a_terminal_colours_are_kept_and_other_escapes_made_visible(sandbox, groups):
    _, app = groups
    code, out, err = run(sandbox, "tail", app, out=Tty())
    assert code == 0, err
    assert "\x1b[31mred\x1b[0m" in out and "\x07" not in out and "\x1b]0;" not in out and "\x1b[2J" not in out
    assert "␛]0;title␇" in out and "␛[2J" in out


def test_tty_message_keeps_only_sgr():
    assert tty_message("a\x1b[1;32mb\x1b[0m\x1b[Hc\x9bd") == "a\x1b[1;32mb\x1b[0m␛[Hc\ufffdd\x1b[0m"


def test_query_prints_a_table_and_json(sandbox, groups):
    web, _ = groups
    code, out, err = run(sandbox, "query", web, "fields @timestamp, @message | sort @timestamp desc | limit 10")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split("\t")[:2] == ["@timestamp", "@message"] and len(rows) == 3
    code, out, _ = run(sandbox, "query", web, "fields @message | limit 10", "--json")
    assert code == 0 and '"@message": "GET / 200"' in out


def test_usage_errors_say_what_to_fix(sandbox, groups):
    web, _ = groups
    assert run(sandbox, "tail", web, "--since", "soon")[0:1] == (2,)
    code, out, err = run(sandbox, "tail", web, "--node", "no-such-node-name")
    assert code == 2 and "no managed node has this Name" in err and out == ""
    code, _, err = run(sandbox, "query", "fields @message")
    assert code == 2 and "GROUP and then the QUERY" in err


def test_a_group_missing_everywhere_is_exit_three_naming_it(sandbox):
    code, out, err = run(sandbox, "tail", "/cli/no-such-group")
    assert code == 3 and "/cli/no-such-group" in err and "not found" in err and out == ""


def test_read_only_refuses_query_and_allows_tail(sandbox, groups):
    web, _ = groups
    code, _, err = run(sandbox, "query", web, "fields @message", "--read-only")
    assert code == 3 and "read-only" in err and "StartQuery" in err
    code, out, _ = run(sandbox, "tail", web, "--read-only")
    assert code == 0 and "GET / 200" in out


def test_since_units():
    assert [parse_since(s) for s in ("30s", "10m", "2h", "1d", "1w")] == [30, 600, 7200, 86400, 604800]


async def _follow_until(sandbox, group: str, line: str, *extra: str) -> tuple[str, str]:
    """Run ``opstui logs tail GROUP --follow`` (its coroutine, so the test can stop it), put ``line`` once it
    has printed the history, and return stdout and stderr once ``line`` is printed."""
    import asyncio

    from opstui.logs_cli import build_parser, tail

    args = build_parser().parse_args(["tail", group, "--follow", *extra])
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials)
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.create_task(tail(args, aws, (R1,), out, err))
    try:
        for _ in range(100):
            if "history" in out.getvalue():
                break
            await asyncio.sleep(0.1)
        await aws.call("logs", R1, "put_log_events", logGroupName=group, logStreamName="s",
                       logEvents=[{"timestamp": int(time.time() * 1000), "message": line}])
        for _ in range(100):
            if line in out.getvalue():
                break
            await asyncio.sleep(0.1)
        return out.getvalue(), err.getvalue()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await aws.close()


async def test_follow_prints_new_events_through_live_tail(sandbox):
    group = f"/cli/{uuid.uuid4().hex[:8]}/live"
    await _put(sandbox, group, {"s": ["history"]}, int(time.time() * 1000) - 1000)
    calls_before = sandbox.calls().get("logs:StartLiveTail", 0)
    out, err = await _follow_until(sandbox, group, "new line")
    assert "history" in out and "new line" in out and err == ""
    assert sandbox.calls().get("logs:StartLiveTail", 0) > calls_before


async def test_follow_polls_where_live_tail_is_refused_and_says_so(sandbox):
    group = f"/cli/{uuid.uuid4().hex[:8]}/polled"
    await _put(sandbox, group, {"s": ["history"]}, int(time.time() * 1000) - 1000)
    sandbox.live_tail(supported=False)
    try:
        out, err = await _follow_until(sandbox, group, "polled line")
    finally:
        sandbox.live_tail(supported=True)
    assert "polled line" in out
    assert "Live Tail unavailable" in err and "UnknownOperationException" in err and "polling every 2 s" in err


def test_ctrl_c_ends_a_follow_with_exit_130_keeping_what_was_printed(sandbox):
    """A real process and a real SIGINT: the follow stops, what it printed stays, the Live Tail session ends."""
    import asyncio
    import subprocess
    import sys

    from tests.helpers import interrupt_when

    group = f"/cli/{uuid.uuid4().hex[:8]}/interrupted"
    asyncio.run(_put(sandbox, group, {"s": ["history"]}, int(time.time() * 1000) - 1000))
    env = {**os.environ, **sandbox.env(), "OPSTUI_CONFIG": os.devnull, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opstui", "logs", "tail", "--endpoint-url", sandbox.endpoint, "--region", R1,
         group, "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    out, err = interrupt_when(proc, b"history")
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err and b"history" in out
