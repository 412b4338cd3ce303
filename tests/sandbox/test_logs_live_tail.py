"""Sandbox StartLiveTail through boto3 (HTTP): AWS's event-stream framing, a session that pushes the events
stored after it started (filter pattern and stream names honoured), AWS's refusals, the "unsupported" knob."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from opstui.sandbox import eventstream
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"
GROUP = "/opstui-test/live-tail"


@pytest.fixture(scope="module")
def logs(default_sandbox: Sandbox) -> Any:
    c = make_client_factory(default_sandbox)("logs", REGION)
    c.create_log_group(logGroupName=GROUP)
    for stream in ("web-1", "web-2", "db-1"):
        c.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    c.create_log_group(logGroupName=GROUP + "-other")
    return c


def _arn(logs: Any, group: str = GROUP) -> str:
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    return next(g["arn"] for g in found if g["logGroupName"] == group).removesuffix(":*")


def _put(logs: Any, stream: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream,
                        logEvents=[{"timestamp": now, "message": m} for m in messages])


def _collect(stream: Any, until: Callable[[list[dict[str, Any]]], bool], max_updates: int = 20) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]]]:
    """(every event of the stream in order, the session results so far) until ``until(results)`` holds."""
    seen: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    updates = 0
    for ev in stream:
        seen.append(ev)
        if "sessionUpdate" in ev:
            results += ev["sessionUpdate"]["sessionResults"]
            updates += 1
            if until(results) or updates >= max_updates:
                break
    stream.close()
    return seen, results


def test_encoded_frames_decode_with_botocore() -> None:
    frames = eventstream.event("sessionUpdate", {"sessionResults": [{"message": "héllo"}]}) + \
        eventstream.exception("SessionTimeoutException", "timed out")
    buf = EventStreamBuffer()
    for i in range(0, len(frames), 7):  # fed in small pieces, as a socket would
        buf.add_data(frames[i:i + 7])
    decoded = list(buf)
    assert [m.headers for m in decoded] == [
        {":message-type": "event", ":event-type": "sessionUpdate", ":content-type": "application/json"},
        {":message-type": "exception", ":exception-type": "SessionTimeoutException",
         ":content-type": "application/json"}]
    assert json.loads(decoded[0].payload) == {"sessionResults": [{"message": "héllo"}]}
    assert json.loads(decoded[1].payload) == {"message": "timed out"}


def test_a_session_streams_the_events_put_after_it_started(logs: Any) -> None:
    _put(logs, "web-1", "ERROR before the session")
    resp = logs.start_live_tail(logGroupIdentifiers=[_arn(logs)])
    threading.Timer(0.3, _put, (logs, "web-1", "ERROR one", "INFO two")).start()
    seen, results = _collect(resp["responseStream"], lambda r: len(r) >= 2)
    assert "sessionStart" in seen[0]
    assert seen[0]["sessionStart"]["logGroupIdentifiers"] == [_arn(logs)]
    assert [r["message"] for r in results] == ["ERROR one", "INFO two"]
    assert {r["logStreamName"] for r in results} == {"web-1"}
    assert all(r["logGroupIdentifier"] == _arn(logs) and r["ingestionTime"] >= r["timestamp"] - 1000
               for r in results)


def test_a_session_sends_an_update_every_second_even_without_events(logs: Any) -> None:
    resp = logs.start_live_tail(logGroupIdentifiers=[_arn(logs, GROUP + "-other")])
    seen, results = _collect(resp["responseStream"], lambda r: False, max_updates=2)
    assert [next(iter(e)) for e in seen] == ["sessionStart", "sessionUpdate", "sessionUpdate"]
    assert results == []
    assert seen[1]["sessionUpdate"]["sessionMetadata"] == {"sampled": False}


def test_the_filter_pattern_and_stream_names_narrow_the_session(logs: Any) -> None:
    resp = logs.start_live_tail(logGroupIdentifiers=[_arn(logs)], logStreamNames=["web-2"],
                                logEventFilterPattern="ERROR")

    def put_all() -> None:
        _put(logs, "web-1", "ERROR other stream")
        _put(logs, "web-2", "INFO not matching", "ERROR wanted")
        _put(logs, "web-2", "ERROR end")

    threading.Timer(0.3, put_all).start()
    _, results = _collect(resp["responseStream"], lambda r: any(e["message"] == "ERROR end" for e in r))
    assert [(r["logStreamName"], r["message"]) for r in results] == [("web-2", "ERROR wanted"),
                                                                     ("web-2", "ERROR end")]


def test_stream_name_prefixes_narrow_the_session(logs: Any) -> None:
    resp = logs.start_live_tail(logGroupIdentifiers=[_arn(logs)], logStreamNamePrefixes=["db-"])
    threading.Timer(0.3, lambda: (_put(logs, "web-1", "web line"), _put(logs, "db-1", "db line"))).start()
    _, results = _collect(resp["responseStream"], lambda r: len(r) >= 1)
    assert [r["message"] for r in results] == ["db line"]


@pytest.mark.parametrize(("params", "code"), [
    ({"logGroupIdentifiers": [GROUP]}, "InvalidParameterException"),  # a name, not an ARN
    ({"logGroupIdentifiers": ["ARN:*"]}, "InvalidParameterException"),
    ({"logGroupIdentifiers": []}, "InvalidParameterException"),
    ({"logGroupIdentifiers": ["ARN"] * 11}, "InvalidParameterException"),
    ({"logGroupIdentifiers": ["ARN"], "logStreamNames": ["web-1"], "logStreamNamePrefixes": ["web"]},
     "InvalidParameterException"),
    ({"logGroupIdentifiers": ["ARN", "OTHER"], "logStreamNamePrefixes": ["web"]}, "InvalidParameterException"),
    ({"logGroupIdentifiers": ["ARN"], "logStreamNames": ["a:b"]}, "InvalidParameterException"),
    ({"logGroupIdentifiers": ["ARN"], "logEventFilterPattern": "{ $.x = "}, "InvalidParameterException"),
    ({"logGroupIdentifiers": ["ARN"], "logEventFilterPattern": "x" * 1025}, "InvalidParameterException"),
    ({"logGroupIdentifiers": ["ARN-missing"]}, "ResourceNotFoundException"),
    ({"logGroupIdentifiers": ["ARN-other-region"]}, "ResourceNotFoundException"),
    ({}, "InvalidParameterException"),
])
def test_bad_requests_are_refused_with_aws_codes(default_sandbox: Sandbox, logs: Any, params: dict[str, Any], code: str) -> None:
    arn = _arn(logs)
    subst = {"ARN": arn, "OTHER": _arn(logs, GROUP + "-other"), "ARN:*": arn + ":*",
             "ARN-missing": arn + "-missing", "ARN-other-region": arn.replace(REGION, "us-east-1")}
    params = {k: [subst.get(v, v) for v in vs] if k == "logGroupIdentifiers" else vs for k, vs in params.items()}
    raw = make_client_factory(default_sandbox)("logs", REGION, parameter_validation=False)
    with pytest.raises(ClientError) as err:
        raw.start_live_tail(**params)
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_unsupported_knob_answers_like_an_endpoint_without_live_tail(default_sandbox: Sandbox, logs: Any) -> None:
    control = SandboxControl.of(default_sandbox)
    control._send("POST", "live-tail", {"supported": False})
    try:
        with pytest.raises(ClientError) as err:
            logs.start_live_tail(logGroupIdentifiers=[_arn(logs)])
        assert err.value.response["Error"]["Code"] == "UnknownOperationException"
        assert control.health()["lenient"] == []  # refusing is stricter than AWS, not more lenient
    finally:
        control._send("POST", "live-tail", {"supported": True})


def test_a_session_ends_when_the_client_closes_it(default_sandbox: Sandbox, logs: Any) -> None:
    control = SandboxControl.of(default_sandbox)
    resp = logs.start_live_tail(logGroupIdentifiers=[_arn(logs, GROUP + "-other")])
    stream = resp["responseStream"]
    next(iter(stream))
    assert len(control._send("GET", "live-tail")["sessions"]) >= 1
    stream.close()
    for _ in range(50):  # the server notices at its next write (one update a second)
        if not control._send("GET", "live-tail")["sessions"]:
            break
        time.sleep(0.1)
    assert control._send("GET", "live-tail")["sessions"] == []
