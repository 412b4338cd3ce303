"""CloudWatch as strict as AWS: DescribeAlarmsForMetric matches the exact metric, GetMetricData metric math.

Every request goes through boto3 (JSON protocol, as botocore 1.43 sends CloudWatch) to an in-process sandbox
signed with its own credentials.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import clock
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory

NS = "Sandbox/Math"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(scenario="default", live=False, seed=42)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def cw(sb: Sandbox) -> Any:
    return make_client_factory(sb)("cloudwatch")


def _instances(sb: Sandbox, *names: str) -> list[str]:
    assert sb.scenario_data is not None
    by_name = {n.name: n.instance_id for n in sb.scenario_data.nodes}
    return [by_name[n] for n in names]


def _cpu_alarm(cw: Any, name: str, iid: str, **extra: Any) -> None:
    params: dict[str, Any] = {
        "AlarmName": name, "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": iid}], "Statistic": "Average", "Period": 300,
        "EvaluationPeriods": 1, "Threshold": 90.0, "ComparisonOperator": "GreaterThanThreshold"}
    params.update(extra)
    cw.put_metric_alarm(**params)


# -- DescribeAlarmsForMetric ----------------------------------------------------------------------------------


def test_alarms_for_metric_match_the_exact_dimension_set(sb: Sandbox, cw: Any) -> None:
    web1, web2 = _instances(sb, "prod-web-01", "prod-web-02")
    _cpu_alarm(cw, "afm-web1", web1)
    _cpu_alarm(cw, "afm-web1-max", web1, Statistic="Maximum", Period=60)
    _cpu_alarm(cw, "afm-web2", web2)
    _cpu_alarm(cw, "afm-web1-and-type", web1,
               Dimensions=[{"Name": "InstanceId", "Value": web1}, {"Name": "InstanceType", "Value": "m5.large"}])

    def names(**params: Any) -> set[str]:
        found = cw.describe_alarms_for_metric(Namespace="AWS/EC2", MetricName="CPUUtilization", **params)
        return {a["AlarmName"] for a in found["MetricAlarms"] if a["AlarmName"].startswith("afm-")}

    one = [{"Name": "InstanceId", "Value": web1}]
    assert names(Dimensions=one) == {"afm-web1", "afm-web1-max"}
    assert names(Dimensions=[{"Name": "InstanceId", "Value": web2}]) == {"afm-web2"}
    # the order of the dimensions does not matter; a superset is another metric
    assert names(Dimensions=[{"Name": "InstanceType", "Value": "m5.large"},
                             {"Name": "InstanceId", "Value": web1}]) == {"afm-web1-and-type"}
    assert names() == set()  # no dimensions: the metric without dimensions, which no alarm watches
    assert names(Dimensions=one, Statistic="Maximum") == {"afm-web1-max"}
    assert names(Dimensions=one, Period=300) == {"afm-web1"}
    assert names(Dimensions=one, Unit="Percent") == set()  # the alarms have no unit
    assert names(Dimensions=one, ExtendedStatistic="p99") == set()
    assert cw.describe_alarms_for_metric(Namespace="AWS/EBS", MetricName="CPUUtilization",
                                         Dimensions=one)["MetricAlarms"] == []


def test_alarms_for_metric_leave_out_math_and_composite_alarms(sb: Sandbox, cw: Any) -> None:
    (web1,) = _instances(sb, "prod-web-01")
    metric = {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
              "Dimensions": [{"Name": "InstanceId", "Value": web1}]}
    cw.put_metric_alarm(AlarmName="afm-math", EvaluationPeriods=1, Threshold=50.0,
                        ComparisonOperator="GreaterThanThreshold", Metrics=[
                            {"Id": "m1", "MetricStat": {"Metric": metric, "Period": 300, "Stat": "Average"},
                             "ReturnData": False},
                            {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}])
    found = cw.describe_alarms_for_metric(**metric)["MetricAlarms"]
    assert "afm-math" not in {a["AlarmName"] for a in found}


# -- GetMetricData metric math --------------------------------------------------------------------------------


def _window(cw: Any, name: str, values: dict[int, float]) -> tuple[dt.datetime, dt.datetime, list[dt.datetime]]:
    """Store ``values`` (minute index -> value) for ``name`` in a fresh 10-minute window ending a minute ago."""
    now = clock.now().replace(second=0, microsecond=0)
    start = now - dt.timedelta(minutes=11)
    stamps = [start + dt.timedelta(minutes=i) for i in range(10)]
    data = [{"MetricName": name, "Value": v, "Timestamp": stamps[i]} for i, v in values.items()]
    if data:
        cw.put_metric_data(Namespace=NS, MetricData=data)
    return start, start + dt.timedelta(minutes=10), stamps


def _q(qid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": NS, "MetricName": name}, "Period": 60,
                                      "Stat": "Sum"}, **extra}


def _math(cw: Any, start: dt.datetime, end: dt.datetime, *queries: dict[str, Any]) -> dict[str, Any]:
    res = cw.get_metric_data(MetricDataQueries=list(queries), StartTime=start, EndTime=end,
                             ScanBy="TimestampAscending")
    return res


def _by_time(result: dict[str, Any]) -> dict[dt.datetime, float]:
    return {t.astimezone(dt.UTC): v for t, v in zip(result["Timestamps"], result["Values"], strict=True)}


def test_math_arithmetic_aligns_on_the_union_of_timestamps(cw: Any) -> None:
    start, end, t = _window(cw, "arith-a", {0: 10.0, 1: 20.0, 2: 30.0})
    _window(cw, "arith-b", {1: 4.0, 2: 0.0, 3: 5.0})
    res = _math(cw, start, end, _q("a", "arith-a", ReturnData=False), _q("b", "arith-b", ReturnData=False),
                {"Id": "plus", "Expression": "a + b", "Label": "sum"},
                {"Id": "ratio", "Expression": "a / b"},
                {"Id": "mixed", "Expression": "(a - 2) * 3 ^ 2 / -b"},
                {"Id": "scaled", "Expression": "100 * a / SUM(a)"})
    results = {r["Id"]: r for r in res["MetricDataResults"]}
    assert set(results) == {"plus", "ratio", "mixed", "scaled"}  # ReturnData False leaves a and b out
    assert results["plus"]["Label"] == "sum" and results["ratio"]["Label"] == "ratio"
    # a missing value counts as 0 ("Missing values in a time series are treated as 0")
    assert _by_time(results["plus"]) == {t[0]: 10.0, t[1]: 24.0, t[2]: 30.0, t[3]: 5.0}
    # dividing by zero (b missing at t0, b = 0 at t2) drops the point, and the result says so
    assert _by_time(results["ratio"]) == {t[1]: 5.0, t[3]: 0.0}
    assert results["ratio"]["Messages"][0]["Code"] == "ArithmeticError"
    # a - 2 has no point where a is missing; dividing that by -b then meets b at t3 as a missing 0
    assert _by_time(results["mixed"]) == {t[1]: -40.5, t[3]: 0.0}
    assert _by_time(results["scaled"]) == {t[0]: 100 * 10 / 60, t[1]: 100 * 20 / 60, t[2]: 50.0}


def test_math_metrics_function_and_array_aggregates(cw: Any) -> None:
    start, end, t = _window(cw, "web-errors", {0: 1.0, 1: 3.0})
    _window(cw, "api-errors", {0: 5.0, 2: 7.0})
    _window(cw, "requests", {0: 100.0, 1: 100.0, 2: 100.0})
    res = _math(cw, start, end,
                _q("errors_web", "web-errors"), _q("errors_api", "api-errors", ReturnData=False),
                _q("requests", "requests", ReturnData=False),
                {"Id": "total", "Expression": 'SUM(METRICS("errors"))'},
                {"Id": "avg", "Expression": "AVG([errors_web, errors_api])"},
                {"Id": "low", "Expression": "MIN(METRICS())"},
                {"Id": "high", "Expression": "MAX([errors_web, errors_api])"},
                {"Id": "rate", "Expression": 'METRICS("errors") / requests * 100', "Label": "pct"})
    results: dict[str, list[dict[str, Any]]] = {}
    for r in res["MetricDataResults"]:
        results.setdefault(r["Id"], []).append(r)
    assert _by_time(results["total"][0]) == {t[0]: 6.0, t[1]: 3.0, t[2]: 7.0}
    assert _by_time(results["avg"][0]) == {t[0]: 3.0, t[1]: 1.5, t[2]: 3.5}  # missing counts as 0
    assert _by_time(results["low"][0]) == {t[0]: 1.0, t[1]: 3.0, t[2]: 7.0}
    assert _by_time(results["high"][0]) == {t[0]: 5.0, t[1]: 3.0, t[2]: 7.0}
    # an array result: one MetricDataResult per member, same Id, "<expression label> <metric label>"
    assert [r["Label"] for r in results["rate"]] == ["pct web-errors", "pct api-errors"]
    assert _by_time(results["rate"][0]) == {t[0]: 1.0, t[1]: 3.0, t[2]: 0.0}
    assert _by_time(results["errors_web"][0]) == {t[0]: 1.0, t[1]: 3.0}


def test_math_fill_with_a_value_repeat_and_linear(cw: Any) -> None:
    start, end, t = _window(cw, "gappy", {1: 2.0, 4: 8.0, 6: 4.0})
    _window(cw, "filler", {i: 100.0 + i for i in range(10)})
    res = _math(cw, start, end, _q("g", "gappy", ReturnData=False), _q("f", "filler", ReturnData=False),
                {"Id": "zero", "Expression": "FILL(g, 0)"},
                {"Id": "repeat", "Expression": "FILL(g, REPEAT)"},
                {"Id": "linear", "Expression": "FILL(g, LINEAR)"},
                {"Id": "other", "Expression": "FILL(g, f)"})
    r = {x["Id"]: _by_time(x) for x in res["MetricDataResults"]}
    assert r["zero"] == {t[i]: {1: 2.0, 4: 8.0, 6: 4.0}.get(i, 0.0) for i in range(10)}
    assert r["repeat"] == {t[1]: 2.0, t[2]: 2.0, t[3]: 2.0, t[4]: 8.0, t[5]: 8.0, **{t[i]: 4.0 for i in (6, 7, 8, 9)}}
    assert r["linear"] == {t[1]: 2.0, t[2]: 4.0, t[3]: 6.0, t[4]: 8.0, t[5]: 6.0, t[6]: 4.0}
    assert r["other"] == {t[i]: {1: 2.0, 4: 8.0, 6: 4.0}.get(i, 100.0 + i) for i in range(10)}


@pytest.mark.parametrize("expression", [
    "a +", "avg(a)", "NOSUCH(a)", "a + zz", "AVG(a)", "(a", "a $ 2", "METRICS(a)", "FILL(a)", "[a] + [a]",
])
def test_math_refuses_what_aws_refuses(cw: Any, expression: str) -> None:
    start, end, _t = _window(cw, "refused", {0: 1.0})
    with pytest.raises(ClientError) as err:
        _math(cw, start, end, _q("a", "refused"), {"Id": "e1", "Expression": expression})
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "e1" in err.value.response["Error"]["Message"]


def test_math_cycle_is_refused(cw: Any) -> None:
    start, end, _t = _window(cw, "cycle", {0: 1.0})
    with pytest.raises(ClientError) as err:
        _math(cw, start, end, _q("a", "cycle"), {"Id": "e1", "Expression": "e2 + a"},
              {"Id": "e2", "Expression": "e1 * 2"})
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_math_function_the_sandbox_does_not_compute_says_so(cw: Any) -> None:
    start, end, _t = _window(cw, "unsupported", {0: 1.0, 1: 2.0})
    res = _math(cw, start, end, _q("a", "unsupported"), {"Id": "e1", "Expression": "RATE(a)"},
                {"Id": "e2", "Expression": "IF(a > 1, a, 0)"})
    results = {r["Id"]: r for r in res["MetricDataResults"]}
    for qid in ("e1", "e2"):
        assert results[qid]["StatusCode"] == "InternalError" and results[qid]["Values"] == []
        assert "sandbox" in results[qid]["Messages"][0]["Value"]
    assert results["a"]["StatusCode"] == "Complete" and len(results["a"]["Values"]) == 2
