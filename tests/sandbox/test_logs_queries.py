"""Sandbox CloudWatch Logs through boto3 (HTTP): filter patterns, metric filters feeding alarms, GetLogEvents
paging, Logs Insights."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import clock, cw_agent_seed, logs_fast
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory, recorded_sandbox
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with recorded_sandbox(tmp_path_factory.mktemp("state"), monkeypatch_module) as sandbox:
        SandboxControl.of(sandbox).cwagent(flush_seconds=0.2)
        yield sandbox


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> Callable[..., Any]:
    return make_client_factory(sb)


@pytest.fixture(scope="module")
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def _group(logs: Any, name: str, messages: list[str], stream: str = "s1") -> int:
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName=stream)
    t0 = _now_ms() - len(messages) * 10
    logs.put_log_events(logGroupName=name, logStreamName=stream,
                        logEvents=[{"timestamp": t0 + i * 10, "message": m} for i, m in enumerate(messages)])
    return t0


APP = [json.dumps({"level": "INFO", "latency_ms": 40, "path": "/api/cart", "user": {"id": 1}}),
       json.dumps({"level": "ERROR", "latency_ms": 5200, "path": "/api/checkout", "user": {"id": 2}}),
       "plain text ERROR line, not JSON",
       json.dumps({"level": "WARN", "latency_ms": 1800, "path": "/api/checkout", "user": {"id": 2}}),
       json.dumps({"level": "ERROR", "latency_ms": 30, "path": "/api/orders", "user": {"id": 3}})]
NGINX = ['10.0.0.5 - - [02/Dec/2026:09:40:01 +0000] "GET / HTTP/1.1" 200 5123 "-" "curl/8" rt=0.040',
         '10.0.0.6 - - [02/Dec/2026:09:40:02 +0000] "POST /api/checkout HTTP/1.1" 504 562 "-" "curl/8" rt=5.000',
         '10.0.0.7 - - [02/Dec/2026:09:40:03 +0000] "GET /x HTTP/1.1" 502 552 "-" "curl/8" rt=0.002']


def test_filter_log_events_speaks_the_filter_pattern_syntax(logs: Any) -> None:
    _group(logs, "/t/patterns-app", APP)
    _group(logs, "/t/patterns-nginx", NGINX)

    def messages(group: str, pattern: str) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]]

    assert messages("/t/patterns-app", '{ $.level = "ERROR" }') == [APP[1], APP[4]]  # the text line is not JSON
    assert messages("/t/patterns-app", "{ $.latency_ms > 1000 && $.user.id = 2 }") == [APP[1], APP[3]]
    assert messages("/t/patterns-app", '{ $.level = "WARN" || $.path = "/api/ord*" }') == [APP[3], APP[4]]
    assert messages("/t/patterns-app", "ERROR -JSON") == [APP[1], APP[4]]
    assert messages("/t/patterns-app", "?WARN ?plain") == [APP[2], APP[3]]
    assert messages("/t/patterns-app", '"not JSON"') == [APP[2]]
    assert messages("/t/patterns-nginx", "[ip, id, user, timestamp, request, status_code = 5*, size, ...]") == \
        NGINX[1:]
    assert messages("/t/patterns-nginx", "[ip, id, user, timestamp, request, status >= 500 && status < 503, "
                                         "size, referer, agent, rt]") == [NGINX[2]]
    assert messages("/t/patterns-nginx", "%HTTP/1.1\" 50[24]%") == NGINX[1:]
    for bad in ['{ $.level = ', "[ip, user", '"unterminated', '{ $.latency_ms > "x" }']:
        with pytest.raises(ClientError) as err:
            logs.filter_log_events(logGroupName="/t/patterns-app", filterPattern=bad)
        assert _code(err) == "InvalidParameterException", bad


def test_metric_filters_publish_what_matches(client: Callable[..., Any], logs: Any) -> None:
    cw = client("cloudwatch")
    logs.create_log_group(logGroupName="/t/mf")
    logs.create_log_stream(logGroupName="/t/mf", logStreamName="s")
    transform = {"metricName": "AppErrors", "metricNamespace": "Opstui/Test", "metricValue": "1"}
    logs.put_metric_filter(logGroupName="/t/mf", filterName="errors", filterPattern='{ $.level = "ERROR" }',
                           metricTransformations=[transform])
    logs.put_metric_filter(logGroupName="/t/mf", filterName="latency", filterPattern="{ $.latency_ms > 0 }",
                           metricTransformations=[{"metricName": "Latency", "metricNamespace": "Opstui/Test",
                                                   "metricValue": "$.latency_ms", "unit": "Milliseconds",
                                                   "dimensions": {"Path": "$.path"}}])
    group = logs.describe_log_groups(logGroupNamePrefix="/t/mf")["logGroups"][0]
    assert group["metricFilterCount"] == 2
    described = logs.describe_metric_filters(logGroupName="/t/mf")["metricFilters"]
    assert [f["filterName"] for f in described] == ["errors", "latency"]
    assert all(isinstance(f["creationTime"], int) for f in described)
    t0 = _now_ms()
    logs.put_log_events(logGroupName="/t/mf", logStreamName="s",
                        logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(APP)])
    start, end = clock.now() - dt.timedelta(minutes=5), clock.now() + dt.timedelta(minutes=5)
    errors = cw.get_metric_statistics(Namespace="Opstui/Test", MetricName="AppErrors", StartTime=start,
                                      EndTime=end, Period=600, Statistics=["Sum"])["Datapoints"]
    assert sum(d["Sum"] for d in errors) == 2
    checkout = cw.get_metric_statistics(Namespace="Opstui/Test", MetricName="Latency", StartTime=start, EndTime=end,
                                        Period=600, Statistics=["Maximum", "SampleCount"],
                                        Dimensions=[{"Name": "Path", "Value": "/api/checkout"}])["Datapoints"]
    assert checkout[0]["Maximum"] == 5200 and checkout[0]["SampleCount"] == 2
    # AWS's refusals
    with pytest.raises(ClientError) as err:
        logs.put_metric_filter(logGroupName="/t/mf", filterName="bad", filterPattern="{ $.level = ",
                               metricTransformations=[transform])
    assert _code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        logs.put_metric_filter(logGroupName="/t/no-such-group", filterName="x", filterPattern="ERROR",
                               metricTransformations=[transform])
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        logs.put_metric_filter(logGroupName="/t/mf", filterName="both", filterPattern="ERROR",
                               metricTransformations=[{**transform, "defaultValue": 0,
                                                       "dimensions": {"Path": "$.path"}}])
    assert _code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        logs.delete_metric_filter(logGroupName="/t/mf", filterName="never-made")
    assert _code(err) == "ResourceNotFoundException"
    logs.put_metric_filter(logGroupName="/t/mf", filterName="errors", filterPattern="ERROR",
                           metricTransformations=[transform])  # the same name replaces
    assert len(logs.describe_metric_filters(logGroupName="/t/mf")["metricFilters"]) == 2
    logs.delete_metric_filter(logGroupName="/t/mf", filterName="latency")
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName="/t/mf")["metricFilters"]] == \
        ["errors"]


def test_5xx_in_nginx_logs_fires_an_alarm(sb: Sandbox, client: Callable[..., Any], logs: Any) -> None:
    """The seed's loop: nginx's access log -> metric filter -> alarm -> SNS."""
    cw, sns = client("cloudwatch"), client("sns")
    control = SandboxControl.of(sb)
    control.cwagent(write=True, flush=True)  # the agents have shipped once: the group exists (not a race on load)
    logs.put_metric_filter(logGroupName=cw_agent_seed.GROUP_ACCESS, filterName="storefront-5xx",
                           filterPattern="[ip, id, user, timestamp, request, status_code = 5*, size, ...]",
                           metricTransformations=[{"metricName": "Storefront5xx", "metricNamespace": "Storefront",
                                                   "metricValue": "1"}])
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":ops-alerts"))
    cw.put_metric_alarm(AlarmName="storefront 5xx in nginx logs", Namespace="Storefront",
                        MetricName="Storefront5xx", Statistic="Sum", Period=60, EvaluationPeriods=5,
                        DatapointsToAlarm=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                        TreatMissingData="notBreaching", AlarmActions=[topic])
    control.webapp(health="down")
    try:
        clock.advance(240)
        control.cwagent(write=True, flush=True)
    finally:
        control.webapp(health="ok")
    clock.advance(120)  # the minutes with 5xx are complete periods now
    control._send("POST", "alarms/evaluate", {})
    alarm = cw.describe_alarms(AlarmNames=["storefront 5xx in nginx logs"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM", alarm["StateReason"]
    history = cw.describe_alarm_history(AlarmName="storefront 5xx in nginx logs",
                                        HistoryItemType="Action")["AlarmHistoryItems"]
    assert any(topic in h["HistorySummary"] or "ops-alerts" in h["HistorySummary"] for h in history), history


def test_get_log_events_pages_like_aws(sb: Sandbox, logs: Any) -> None:
    t0 = _now_ms() - 30_000
    logs_fast.put_events(sb.account_id, REGION, "/t/paging", "big", ((t0 + i, f"line {i:05d}") for i in range(25_000)))
    newest = logs.get_log_events(logGroupName="/t/paging", logStreamName="big")
    assert len(newest["events"]) == 10_000 and newest["events"][-1]["message"] == "line 24999"
    older = logs.get_log_events(logGroupName="/t/paging", logStreamName="big", nextToken=newest["nextBackwardToken"],
                                limit=100)
    assert [e["message"] for e in older["events"]][-1] == "line 14999" and len(older["events"]) == 100
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="/t/paging", logStreamName="big", limit=7_000, **kwargs)
        pages += 1
        seen.extend(e["message"] for e in page["events"])
        if page["nextForwardToken"] == token:  # the end: AWS hands back the token it was given
            break
        token = page["nextForwardToken"]
    assert len(seen) == 25_000 and seen == sorted(seen) and pages == 5
    window = logs.get_log_events(logGroupName="/t/paging", logStreamName="big", startTime=t0 + 100, endTime=t0 + 110,
                                 startFromHead=True)["events"]
    assert [e["message"] for e in window] == [f"line {i:05d}" for i in range(100, 110)]  # end exclusive
    logs_fast.put_events(sb.account_id, REGION, "/t/paging", "wide", ((t0 + i, "w" * 200_000) for i in range(12)))
    wide = logs.get_log_events(logGroupName="/t/paging", logStreamName="wide", startFromHead=True)["events"]
    assert len(wide) == 5  # a page holds at most 1 MB
    with pytest.raises(ClientError) as err:  # (limits out of 1-10,000 botocore refuses before sending)
        logs.get_log_events(logGroupName="/t/paging", logStreamName="big", nextToken="nonsense")
    assert _code(err) == "InvalidParameterException"


def test_put_log_events_refuses_batches_beyond_aws_limits(logs: Any) -> None:
    logs.create_log_group(logGroupName="/t/limits")
    logs.create_log_stream(logGroupName="/t/limits", logStreamName="s")
    now = _now_ms()
    with pytest.raises(ClientError) as err:
        logs.put_log_events(logGroupName="/t/limits", logStreamName="s",
                            logEvents=[{"timestamp": now, "message": "x" * 200_000} for _ in range(6)])
    assert _code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        logs.put_log_events(logGroupName="/t/limits", logStreamName="s",
                            logEvents=[{"timestamp": now - 25 * 3600_000, "message": "a"},
                                       {"timestamp": now, "message": "b"}])
    assert _code(err) == "InvalidParameterException"


def _query(logs: Any, group: str, text: str, **kw: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    qid = logs.start_query(logGroupName=group, startTime=now - 3600, endTime=now + 60, queryString=text,
                           **kw)["queryId"]
    deadline = time.monotonic() + 20
    while True:
        result = logs.get_query_results(queryId=qid)
        assert result["status"] in ("Scheduled", "Running", "Complete"), result
        if result["status"] == "Complete":
            result["queryId"] = qid
            return result
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _rows(result: dict[str, Any]) -> list[dict[str, str]]:
    return [{f["field"]: f["value"] for f in row} for row in result["results"]]


def test_insights_runs_the_commands_an_operator_uses_first(logs: Any) -> None:
    _group(logs, "/t/insights", APP)
    rows = _rows(_query(logs, "/t/insights", "fields @timestamp, level, latency_ms | filter level = 'ERROR' or "
                                            "latency_ms > 1000 | sort latency_ms desc | limit 2"))
    assert [(r["level"], r["latency_ms"]) for r in rows] == [("ERROR", "5200"), ("WARN", "1800")]
    assert all("@ptr" in r for r in rows)
    result = _query(logs, "/t/insights", "stats count(*) as n, avg(latency_ms) as avg, pct(latency_ms, 50) by level")
    by_level = {r.get("level"): r for r in _rows(result)}  # the text line's group has no level
    assert by_level["ERROR"]["n"] == "2" and by_level["ERROR"]["avg"] == "2615"
    assert result["statistics"]["recordsScanned"] == 5
    bins = _rows(_query(logs, "/t/insights", "stats count(*) by bin(1m)"))
    assert sum(int(r["count(*)"]) for r in bins) == 5 and all(r["bin(1m)"].endswith(":00.000") for r in bins)
    parsed = _rows(_query(logs, "/t/insights", 'parse @message /"path": "(?<p>[^"]+)"/ | filter p like /checkout/ '
                                               "| stats count(*) as c by p"))
    assert parsed == [{"p": "/api/checkout", "c": "2"}]
    globbed = _rows(_query(logs, "/t/insights", "parse @message 'plain * line' as what | filter ispresent(what) "
                                                "| display what"))
    assert globbed == [{"what": "text ERROR"}]
    deduped = _rows(_query(logs, "/t/insights", "filter ispresent(level) | dedup level | fields level"))
    assert sorted(r["level"] for r in deduped) == ["ERROR", "INFO", "WARN"]
    newest_first = _rows(_query(logs, "/t/insights", "fields @message | filter not @message like /plain/ | limit 2"))
    assert [json.loads(r["@message"])["level"] for r in newest_first] == ["ERROR", "WARN"]
    listed = logs.describe_queries(logGroupName="/t/insights")["queries"]
    assert listed and all(q["status"] == "Complete" for q in listed)


def test_insights_refuses_what_it_does_not_run(logs: Any) -> None:
    logs.create_log_group(logGroupName="/t/malformed")
    now = int(clock.now().timestamp())
    for text in ["unmask @message", "filter level = ", "stats median(x)", "fields @message | pattern @message",
                 "filter @message like /unclosed(/", ""]:
        with pytest.raises(ClientError) as err:
            logs.start_query(logGroupName="/t/malformed", startTime=now - 60, endTime=now, queryString=text)
        assert _code(err) in ("MalformedQueryException", "InvalidParameterException"), text
        if text:
            assert _code(err) == "MalformedQueryException", text
            assert "queryCompileError" in err.value.response or err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        logs.start_query(logGroupName="/t/never", startTime=now - 60, endTime=now, queryString="fields @message")
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        logs.start_query(logGroupName="/t/malformed", startTime=now, endTime=now - 60, queryString="fields @message")
    assert _code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert _code(err) == "ResourceNotFoundException"


def test_stop_query_cancels_a_running_query_and_refuses_a_finished_one(sb: Sandbox, logs: Any) -> None:
    t0 = _now_ms() - 60_000
    logs_fast.put_events(sb.account_id, REGION, "/t/slow", "s", ((t0 + i // 10, f"event {i}") for i in range(300_000)))
    now = int(clock.now().timestamp())
    qid = logs.start_query(logGroupName="/t/slow", startTime=now - 3600, endTime=now + 60,
                           queryString="filter @message like /event 1/ | stats count(*) by bin(1s)")["queryId"]
    assert logs.stop_query(queryId=qid)["success"] is True
    assert logs.get_query_results(queryId=qid)["status"] == "Cancelled"
    done = _query(logs, "/t/slow", "fields @message | limit 1")
    with pytest.raises(ClientError) as err:
        logs.stop_query(queryId=done["queryId"])
    assert _code(err) == "InvalidParameterException"


def test_saved_queries_are_stored_listed_and_run(logs: Any) -> None:
    saved = logs.describe_query_definitions()["queryDefinitions"]
    assert {q["name"] for q in saved} >= {name for name, _, _ in cw_agent_seed.SAVED_QUERIES}
    for q in saved:  # the demo's saved queries all run
        result = _query(logs, q["logGroupNames"][0], q["queryString"])
        assert result["status"] == "Complete", q["name"]
    qid = logs.put_query_definition(name="mine/errors", queryString="filter level = 'ERROR'",
                                    logGroupNames=["/prod/app/json"])["queryDefinitionId"]
    logs.put_query_definition(name="mine/errors", queryDefinitionId=qid, queryString="filter level = 'WARN'")
    mine = logs.describe_query_definitions(queryDefinitionNamePrefix="mine/")["queryDefinitions"]
    assert [(q["queryDefinitionId"], q["queryString"]) for q in mine] == [(qid, "filter level = 'WARN'")]
    assert logs.delete_query_definition(queryDefinitionId=qid)["success"] is True
    with pytest.raises(ClientError) as err:
        logs.delete_query_definition(queryDefinitionId=qid)
    assert _code(err) == "ResourceNotFoundException"
