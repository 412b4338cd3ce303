"""Sandbox alarms and SNS through boto3: evaluation semantics, reasons, history, actions, deliveries, the incident."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import clock
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory
from tests.sandbox_control import SandboxControl

NS = "Sandbox/Test"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(scenario="default", live=False, seed=42)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def cw(sb: Sandbox) -> Any:
    return make_client_factory(sb)("cloudwatch")


@pytest.fixture(scope="module")
def sns(sb: Sandbox) -> Any:
    return make_client_factory(sb)("sns")


@pytest.fixture(scope="module")
def ctl(sb: Sandbox) -> SandboxControl:
    return SandboxControl.of(sb)


def _evaluate(ctl: SandboxControl) -> dict[str, Any]:
    return ctl._send("POST", "alarms/evaluate", {})


def _alarm(cw: Any, name: str) -> dict[str, Any]:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


class _Receiver:
    """A tiny http subscriber on loopback."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()
                outer.event.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# (values per period oldest -> newest, None = no data), N, M, TreatMissingData, operator, threshold, expected state
CASES: list[tuple[list[float | None], int, int, str | None, str, float, str]] = [
    ([90, 90, 90], 3, 3, None, "GreaterThanThreshold", 80, "ALARM"),
    ([90, 50, 90], 3, 3, None, "GreaterThanThreshold", 80, "OK"),
    ([90, 50, 90], 3, 2, None, "GreaterThanThreshold", 80, "ALARM"),
    ([50, 90, 50], 3, 2, None, "GreaterThanThreshold", 80, "OK"),
    ([None, None, None], 3, 3, "missing", "GreaterThanThreshold", 80, "INSUFFICIENT_DATA"),
    ([None, None, None], 3, 3, "ignore", "GreaterThanThreshold", 80, "INSUFFICIENT_DATA"),  # kept
    ([None, None, None], 3, 3, "breaching", "GreaterThanThreshold", 80, "ALARM"),
    ([None, None, None], 3, 3, "notBreaching", "GreaterThanThreshold", 80, "OK"),
    ([None, None, 90], 3, 3, "missing", "GreaterThanThreshold", 80, "ALARM"),  # AWS: "- - X" alarms
    ([None, None, 50], 3, 3, "missing", "GreaterThanThreshold", 80, "OK"),
    ([None, 90, 90], 3, 3, "notBreaching", "GreaterThanThreshold", 80, "OK"),
    ([None, 90, 90], 3, 3, "breaching", "GreaterThanThreshold", 80, "ALARM"),
    ([None, 90, 50], 3, 2, "breaching", "GreaterThanThreshold", 80, "ALARM"),
    ([80], 1, 1, None, "GreaterThanThreshold", 80, "OK"),
    ([80], 1, 1, None, "GreaterThanOrEqualToThreshold", 80, "ALARM"),
    ([79.5], 1, 1, None, "LessThanThreshold", 80, "ALARM"),
    ([80], 1, 1, None, "LessThanOrEqualToThreshold", 80, "ALARM"),
    ([81], 1, 1, None, "LessThanOrEqualToThreshold", 80, "OK"),
]


def _start_of_minute() -> dt.datetime:
    """Jump the sandbox clock to 1 s past a minute, so a case's periods stay put while it runs."""
    now = clock.now()
    clock.advance(60 - now.second - now.microsecond / 1e6 + 1)
    return clock.now()


def test_evaluation_table(cw: Any, ctl: SandboxControl) -> None:
    now = _start_of_minute()
    end = now.replace(second=0, microsecond=0)
    for i, (values, n, m, treat, op, threshold, _expected) in enumerate(CASES):
        dims = [{"Name": "Case", "Value": str(i)}]
        data = [{"MetricName": "Load", "Dimensions": dims, "Value": v,
                 "Timestamp": end - dt.timedelta(seconds=60 * (len(values) - k) - 10)}
                for k, v in enumerate(values) if v is not None]
        if data:
            cw.put_metric_data(Namespace=NS, MetricData=data)
        cw.put_metric_alarm(AlarmName=f"case-{i:02d}", Namespace=NS, MetricName="Load", Dimensions=dims,
                            Statistic="Average", Period=60, EvaluationPeriods=n, DatapointsToAlarm=m,
                            Threshold=threshold, ComparisonOperator=op,
                            **({"TreatMissingData": treat} if treat else {}))
    _evaluate(ctl)
    got = {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms(AlarmNamePrefix="case-",
                                                                          MaxRecords=100)["MetricAlarms"]}
    want = {f"case-{i:02d}": c[-1] for i, c in enumerate(CASES)}
    assert got == want


def test_reasons_history_and_state_timestamps(cw: Any, ctl: SandboxControl) -> None:
    now = _start_of_minute()
    end = now.replace(second=0, microsecond=0)
    dims = [{"Name": "Host", "Value": "reason"}]
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "Cpu", "Dimensions": dims, "Value": v, "Timestamp": end - dt.timedelta(seconds=60 * k + 50)}
        for k, v in enumerate((91.5, 88.0, 85.25))])
    cw.put_metric_alarm(AlarmName="reason", Namespace=NS, MetricName="Cpu", Dimensions=dims, Statistic="Average",
                        Period=60, EvaluationPeriods=3, Threshold=80, ComparisonOperator="GreaterThanThreshold",
                        AlarmDescription="cpu [red]high[/red]")
    created = _alarm(cw, "reason")  # a new alarm starts INSUFFICIENT_DATA; the evaluator may already have run
    assert created["StateValue"] in ("INSUFFICIENT_DATA", "ALARM")
    _evaluate(ctl)
    alarm = _alarm(cw, "reason")
    assert alarm["StateValue"] == "ALARM"
    assert re.fullmatch(
        r"Threshold Crossed: 3 out of the last 3 datapoints \[91\.5 \(\d\d/\d\d/\d\d \d\d:\d\d:00\), 88\.0 \(.+?\), "
        r"85\.25 \(.+?\)\] were greater than the threshold \(80\.0\) \(minimum 3 datapoints for "
        r"INSUFFICIENT_DATA -> ALARM transition\)\.", alarm["StateReason"]), alarm["StateReason"]
    data = json.loads(alarm["StateReasonData"])
    assert data["recentDatapoints"] == [85.25, 88.0, 91.5] and data["threshold"] == 80.0
    assert data["statistic"] == "Average" and data["period"] == 60
    assert [p["value"] for p in data["evaluatedDatapoints"]] == [91.5, 88.0, 85.25]
    assert alarm["StateTransitionedTimestamp"] >= created["StateUpdatedTimestamp"]
    # updating the configuration keeps the state (AWS) and is a ConfigurationUpdate; the evaluator (woken by the
    # update) then moves it to OK -- the history below shows the order
    cw.put_metric_alarm(AlarmName="reason", Namespace=NS, MetricName="Cpu", Dimensions=dims, Statistic="Average",
                        Period=60, EvaluationPeriods=3, Threshold=95, ComparisonOperator="GreaterThanThreshold")
    _evaluate(ctl)
    ok = _alarm(cw, "reason")
    assert ok["StateValue"] == "OK"
    assert ok["StateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints [91.5 (")
    assert "were not greater than the threshold (95.0) (minimum 1 datapoint for ALARM -> OK transition)." \
        in ok["StateReason"]
    items = cw.describe_alarm_history(AlarmName="reason")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in items] == [
        "Alarm updated from ALARM to OK", 'Alarm "reason" updated', "Alarm updated from INSUFFICIENT_DATA to ALARM",
        'Alarm "reason" created']
    new = json.loads(items[0]["HistoryData"])
    assert new["oldState"]["stateValue"] == "ALARM" and new["newState"]["stateValue"] == "OK"
    assert new["newState"]["stateReasonData"]["threshold"] == 95.0
    states = cw.describe_alarm_history(AlarmName="reason", HistoryItemType="StateUpdate", ScanBy="TimestampAscending",
                                       MaxRecords=1)
    assert states["AlarmHistoryItems"][0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    rest = cw.describe_alarm_history(AlarmName="reason", HistoryItemType="StateUpdate", ScanBy="TimestampAscending",
                                     MaxRecords=1, NextToken=states["NextToken"])
    assert rest["AlarmHistoryItems"][0]["HistorySummary"] == "Alarm updated from ALARM to OK"
    assert "NextToken" not in rest
    cw.delete_alarms(AlarmNames=["reason"])
    after = cw.describe_alarm_history(AlarmName="reason")["AlarmHistoryItems"]
    assert after[0]["HistorySummary"] == 'Alarm "reason" deleted'  # history outlives the alarm, as on AWS


def test_describe_alarms_filters_and_paging(cw: Any, ctl: SandboxControl) -> None:
    ctl._send("POST", "alarms/bulk", {"count": 120, "prefix": "bulk-"})
    names: list[str] = []
    token = None
    while True:
        page = cw.describe_alarms(AlarmNamePrefix="bulk-", MaxRecords=50, **({"NextToken": token} if token else {}))
        names += [a["AlarmName"] for a in page["MetricAlarms"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == [f"bulk-{i:05d}" for i in range(120)]
    _evaluate(ctl)
    ok = cw.describe_alarms(AlarmNamePrefix="bulk-", StateValue="OK", MaxRecords=100)["MetricAlarms"]
    assert ok and all(a["StateValue"] == "OK" for a in ok)
    assert cw.describe_alarms(AlarmNamePrefix="bulk-", AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    seeded = cw.describe_alarms(ActionPrefix="arn:aws:sns:ap-northeast-1:123456789012:ops-alerts",
                                MaxRecords=100)["MetricAlarms"]
    assert {a["AlarmName"] for a in seeded} == {
        "prod-web-01 high CPU", "prod-web-02 high CPU", "prod-db-01 status check failed",
        "prod-db-02 status check failed", "prod-batch-01 high CPU", "storefront-heartbeat SuccessPercent < 90"}
    with pytest.raises(ClientError) as err:
        cw.put_metric_alarm(AlarmName="bad", Namespace=NS, MetricName="x", Statistic="Average", Period=60,
                            EvaluationPeriods=2, DatapointsToAlarm=3, Threshold=1,
                            ComparisonOperator="GreaterThanThreshold")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    cw.delete_alarms(AlarmNames=[f"bulk-{i:05d}" for i in range(120)][:100])
    cw.delete_alarms(AlarmNames=[f"bulk-{i:05d}" for i in range(100, 120)])


def test_seeded_alarms_have_history(cw: Any) -> None:
    items = cw.describe_alarm_history(AlarmName="prod-batch-01 high CPU", HistoryItemType="StateUpdate",
                                      MaxRecords=100)["AlarmHistoryItems"]
    summaries = {i["HistorySummary"] for i in items}
    assert {"Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK"} <= summaries  # nightly batch


def test_alarm_publishes_to_an_http_subscriber_on_loopback(cw: Any, sns: Any, ctl: SandboxControl) -> None:
    receiver = _Receiver()
    try:
        topic = sns.create_topic(Name="alarm-test")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
        # an email subscription receives nothing until its address confirms (the link in the outbox mail)
        confirmation = next(d for d in ctl._send("GET", "sns-outbox?protocol=email")["deliveries"]
                            if d["endpoint"] == "ops@example.com" and d["kind"] == "confirmation")
        sns.confirm_subscription(TopicArn=topic, Token=confirmation["token"])
        now = _start_of_minute()
        dims = [{"Name": "Host", "Value": "notify"}]
        cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "Cpu", "Dimensions": dims, "Value": 99.0,
                                                      "Timestamp": now - dt.timedelta(seconds=50)}])
        cw.put_metric_alarm(AlarmName="notify me", Namespace=NS, MetricName="Cpu", Dimensions=dims,
                            Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=90,
                            ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
        _evaluate(ctl)
        assert receiver.event.wait(5)
        headers, body = receiver.received[0]
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert body["Type"] == "Notification" and body["TopicArn"] == topic
        assert body["Subject"] == 'ALARM: "notify me" in Asia Pacific (Tokyo)'
        message = json.loads(body["Message"])
        assert message["AlarmName"] == "notify me" and message["NewStateValue"] == "ALARM"
        assert message["OldStateValue"] == "INSUFFICIENT_DATA"
        assert message["NewStateReason"].startswith("Threshold Crossed: 1 datapoint [99.0 (")
        assert message["Trigger"]["MetricName"] == "Cpu" and message["Trigger"]["Threshold"] == 90.0
        assert message["Trigger"]["Statistic"] == "MAXIMUM"
        emails = ctl._send("GET", "sns-outbox?protocol=email")["deliveries"]
        assert any(e["endpoint"] == "ops@example.com" and e["subject"] == body["Subject"] for e in emails)
        actions = cw.describe_alarm_history(AlarmName="notify me", HistoryItemType="Action")["AlarmHistoryItems"]
        assert actions[0]["HistorySummary"] == f"Successfully executed action {topic}"
        assert json.loads(actions[0]["HistoryData"])["actionState"] == "Succeeded"
        # SetAlarmState runs the same transition: history + actions
        cw.set_alarm_state(AlarmName="notify me", StateValue="OK", StateReason="manual test")
        assert _alarm(cw, "notify me")["StateReason"] == "manual test"
        cw.disable_alarm_actions(AlarmNames=["notify me"])
        assert _alarm(cw, "notify me")["ActionsEnabled"] is False
    finally:
        receiver.close()


def test_unreachable_endpoint_does_not_fail_publish(sns: Any, ctl: SandboxControl) -> None:
    ctl._send("POST", "sns", {"retry_scale": 0.3})  # 4 attempts over (1 + 2 + 4) x 0.3 = 2.1 s
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    topic = sns.create_topic(Name="unreachable")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"http://127.0.0.1:{port}/gone")
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+819012345678")
    message_id = sns.publish(TopicArn=topic, Message="hello", Subject="test")["MessageId"]
    # Publish answered while the delivery was still being retried in the background (order, not a time limit)
    pending = [d for d in ctl._send("GET", "sns-outbox")["deliveries"]
               if d["message_id"] == message_id and d["protocol"] == "http"]
    assert pending and pending[0]["status"] != "failed"
    deadline = time.monotonic() + 15
    while True:
        mine = [d for d in ctl._send("GET", "sns-outbox")["deliveries"] if d["message_id"] == message_id]
        http = [d for d in mine if d["protocol"] == "http"]
        if http and http[0]["status"] == "failed":
            break
        assert time.monotonic() < deadline, mine
        time.sleep(0.05)
    assert http[0]["attempts"] == 4 and "ConnectionRefused" in http[0]["error"]
    assert [d["endpoint"] for d in mine if d["protocol"] == "sms"] == ["+819012345678"]
    sns.publish(PhoneNumber="+819000000000", Message="direct sms")
    assert any(d["endpoint"] == "+819000000000" for d in ctl._send("GET", "sns-outbox?protocol=sms")["deliveries"])


def test_scripted_incident_fires_and_recovers(cw: Any, ctl: SandboxControl) -> None:
    # 30 minutes in: the last three complete 5-minute periods are all past the ramp whatever the alignment
    status = ctl._send("POST", "incident", {"action": "start", "elapsed": 1800, "duration": 3600})
    assert status["active"] and status["node"] == "prod-web-02"
    _evaluate(ctl)
    alarm = _alarm(cw, "prod-web-02 high CPU")
    assert alarm["StateValue"] == "ALARM"
    assert "were greater than the threshold (80.0) (minimum 3 datapoints for OK -> ALARM transition)." \
        in alarm["StateReason"]
    assert _alarm(cw, "prod-web-01 high CPU")["StateValue"] == "OK"
    inbox = ctl._send("GET", "sns-inbox")["received"]
    assert any(json.loads(r["body"]["Message"])["AlarmName"] == "prod-web-02 high CPU" for r in inbox)
    ctl._send("POST", "incident", {"action": "stop"})
    clock.advance(1200)
    _evaluate(ctl)
    assert _alarm(cw, "prod-web-02 high CPU")["StateValue"] == "OK"
