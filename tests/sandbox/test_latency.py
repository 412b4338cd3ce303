"""The sandbox's latency knob: its forms, its refusals, and that API calls and the data channel really wait."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from opstui.sandbox import main as sandbox_main
from opstui.sandbox.latency import LATENCY_ENV, Latency, parse_latency
from opstui.sandbox.server import Sandbox

from .conftest import make_client_factory
from .session_client import RawSession

REGION, OTHER = "ap-northeast-1", "ap-northeast-3"


@pytest.mark.parametrize(("text", "expected"), [
    ("0", Latency(0, 0)),
    ("120ms", Latency(0.12, 0)),
    ("120ms±40ms", Latency(0.12, 0.04)),
    ("120ms+-40ms", Latency(0.12, 0.04)),
    (" 120 ms ± 40 ms ", Latency(0.12, 0.04)),
    ("1s", Latency(1.0, 0)),
    ("1.5s±200ms", Latency(1.5, 0.2)),
    ("0ms", Latency(0, 0)),
])
def test_latency_forms_parse(text, expected):
    assert parse_latency(text) == expected


def test_a_latency_prints_back_in_its_own_form():
    assert [str(parse_latency(t)) for t in ("0", "120ms±40ms", "1s", "1.5s±200ms")] == \
        ["0", "120ms±40ms", "1s", "1.5s±200ms"]


@pytest.mark.parametrize(("text", "reason"), [
    ("120", "needs a unit"),
    ("fast", "is not a duration"),
    ("-5ms", "is not a duration"),
    ("40ms±120ms", "jitter must not exceed"),
    ("11s", "at most 10s"),
    ("1ms±2ms±3ms", "one ± at most"),
    ("120ms±", "is not a duration"),
])
def test_bad_latency_values_are_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=reason) as caught:
        parse_latency(text)
    assert repr(text) in str(caught.value) or text.strip() in str(caught.value)


def test_jittered_delays_stay_within_the_band():
    lat = parse_latency("120ms±40ms")
    draws = [lat.draw() for _ in range(500)]
    assert min(draws) >= 0.08 and max(draws) <= 0.16 and len(set(draws)) > 1


def test_the_sandbox_command_refuses_a_bad_latency_before_starting(capsys, monkeypatch):
    assert sandbox_main.main(["--latency", "120"]) == 2
    assert "--latency: latency '120': '120' needs a unit (ms or s)" in capsys.readouterr().err
    monkeypatch.setenv(LATENCY_ENV, "soon")
    assert sandbox_main.main([]) == 2
    assert "'soon' is not a duration" in capsys.readouterr().err


def test_the_environment_variable_is_the_default_of_the_flag(monkeypatch):
    monkeypatch.setenv(LATENCY_ENV, "80ms±10ms")
    assert sandbox_main.build_parser().parse_args([]).latency == "80ms±10ms"
    assert sandbox_main.build_parser().parse_args(["--latency", "0"]).latency == "0"


# --- a running sandbox ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = Sandbox(port=0, live=False, state_dir=tmp_path_factory.mktemp("state"), latency="10ms").start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _reset(sb):
    yield
    sb.latency.set(Latency(0.01))  # what the fixture started it with
    sb.latency.set(None, OTHER)


def control(sb, method, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{sb.endpoint}/_opstui/latency", data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {sb.credentials.control_token()}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_the_constructor_latency_applies_once_the_sandbox_is_up(sb):
    assert control(sb, "GET")["latency"] == "10ms"


def test_an_api_call_takes_at_least_the_latency_set_by_the_control_endpoint(sb):
    ssm = make_client_factory(sb)("ssm", REGION)
    assert control(sb, "POST", {"latency": "300ms±50ms"})["latency"] == "300ms±50ms"
    before = control(sb, "GET")["delayed"]
    for _ in range(3):
        started = time.perf_counter()
        ssm.describe_instance_information(MaxResults=5)
        assert time.perf_counter() - started >= 0.25
    assert control(sb, "GET")["delayed"] == before + 3
    control(sb, "POST", {"latency": "0"})
    ssm.describe_instance_information(MaxResults=5)
    assert control(sb, "GET")["delayed"] == before + 3  # off: nothing delayed any more


def test_the_control_endpoint_refuses_bad_values_with_the_reason(sb):
    for body, reason in [({"latency": "120"}, "needs a unit"), ({"latency": "40ms±1s"}, "jitter must not exceed"),
                         ({"speed": 2}, "unknown latency knob"), ({}, "give the delay")]:
        with pytest.raises(urllib.error.HTTPError) as caught:
            control(sb, "POST", body)
        assert caught.value.code == 400
        assert reason in json.loads(caught.value.read())["error"]
    assert control(sb, "GET")["latency"] == "10ms"  # nothing changed


def test_a_slow_region_holds_neither_other_regions_nor_other_requests(sb):
    """Each request waits on its own thread: calls to a fast region finish while a slow one still waits."""
    client = make_client_factory(sb)
    slow, fast = client("ssm", OTHER), client("ssm", REGION)
    snapshot = control(sb, "POST", {"latency": "1500ms", "region": OTHER})
    assert snapshot["regions"] == {OTHER: "1.5s"} and snapshot["latency"] == "10ms"
    done = threading.Event()

    def slow_call():
        slow.describe_instance_information(MaxResults=5)
        done.set()

    thread = threading.Thread(target=slow_call)
    started = time.perf_counter()
    thread.start()
    for _ in range(3):
        fast.describe_instance_information(MaxResults=5)
    assert not done.is_set()  # three fast calls answered while the slow one was still waiting
    thread.join(10)
    assert done.is_set() and time.perf_counter() - started >= 1.5
    control(sb, "POST", {"latency": None, "region": OTHER})
    assert control(sb, "GET")["regions"] == {}


async def test_the_data_channel_round_trip_waits_the_latency(sb):
    ssm = make_client_factory(sb)("ssm", REGION)
    target = next(n for n in sb.scenario_data.nodes if n.tags.get("Name") == "prod-web-01").instance_id
    resp = ssm.start_session(Target=target)
    async with aiohttp.ClientSession() as http:
        client = await RawSession().attach(http, resp["StreamUrl"], resp["TokenValue"])
        await client.read_text("]$ ")
        control(sb, "POST", {"latency": "400ms"})
        started = time.perf_counter()
        await client.keys("echo round-trip\r")
        await client.read_text("\nround-trip\n")
        assert time.perf_counter() - started >= 0.4
        # in order and pipelined: several keystrokes sent at once all arrive, in order, one delay later
        await client.keys("echo a")
        await client.keys("b")
        await client.keys("c\r")
        await client.read_text("\nabc\n")
        await client.close()
    ssm.terminate_session(SessionId=resp["SessionId"])
