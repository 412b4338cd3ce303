"""CloudWatch alarms that are evaluated: states, reasons, history, actions (sandbox).

Why: moto stores alarms but never evaluates them (they stay OK), has no DescribeAlarmHistory, ignores the
AlarmTypes filter and MaxRecords/NextToken, and SetAlarmState publishes nothing. This module keeps moto's
``Alarm`` objects (so tags, Enable/DisableAlarmActions keep working) and adds:

* **PutMetricAlarm** (wrapped backend method): checks AWS makes (Period 10/30/multiple of 60, EvaluationPeriods
  >= 1, DatapointsToAlarm <= EvaluationPeriods, operator, TreatMissingData, Statistic xor ExtendedStatistic); a
  new alarm starts in ``INSUFFICIENT_DATA`` ("Unchecked: Initial alarm creation") and is evaluated at once by the
  evaluator thread; updating an alarm keeps its state (AWS: "its state is left unchanged"). Both write a
  ConfigurationUpdate history item (``Alarm "name" created`` / ``updated`` / ``deleted``).
* **Evaluation** on the sandbox clock (every sandbox minute, at most twice a real second; ``evaluate_all()`` and
  ``POST /_opstui/alarms/evaluate`` do it now): the last ``EvaluationPeriods`` *complete* periods
  ``[end - N*Period, end)`` with ``end = now`` rounded down to the period, one value per period from
  :func:`opstui.sandbox.metrics.series` (Statistic or ExtendedStatistic, Unit), then AWS's rules:

  - ``missing`` (default) / ``ignore``: missing periods are left out. With at least ``DatapointsToAlarm`` values,
    ALARM iff at least that many breach; with fewer values, ALARM iff all of them breach (AWS's table: "X - -"
    alarms), else OK. No value at all: ``missing`` -> INSUFFICIENT_DATA, ``ignore`` -> state kept.
  - ``breaching`` / ``notBreaching``: missing periods count as breaching / not breaching.
  - ``LessThanLowerOrGreaterThanUpperThreshold`` and other anomaly-band operators, metric-math alarms with
    expressions and composite alarms are stored and described but not evaluated (state kept).

  A clock jump (``/_opstui/clock {"advance": ..}``) is evaluated once at the new time, like a late evaluation.
* **Reasons as AWS words them**, e.g. ``Threshold Crossed: 3 out of the last 3 datapoints [91.2 (28/11/26
  20:05:00), ...] were greater than the threshold (80.0) (minimum 3 datapoints for OK -> ALARM transition).``;
  a single period: ``Threshold Crossed: 1 datapoint [2.0 (28/11/26 20:05:00)] was not greater than or equal to
  the threshold (5.0).``; ``Insufficient Data: 3 datapoints were unknown.``; missing data treated as breaching:
  ``Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as
  [Breaching].``. ``StateReasonData`` is AWS's JSON (version, queryDate, startDate, statistic/unit, period,
  recentDatapoints oldest first, threshold, evaluatedDatapoints newest first with sampleCount/value).
* **StateUpdatedTimestamp** (any state update) and **StateTransitionedTimestamp** (the value changed).
* **DescribeAlarms** (override): AlarmNames, AlarmNamePrefix, AlarmTypes (default MetricAlarm only, as AWS),
  StateValue, ActionPrefix, MaxRecords (1-100, default 50), NextToken; sorted by name.
* **DescribeAlarmsForMetric** (override): the exact metric -- namespace, name and the whole dimension set --
  and Statistic / ExtendedStatistic / Period / Unit when given; metric alarms only.
* **DescribeAlarmHistory**: AlarmName, AlarmTypes, HistoryItemType, StartDate, EndDate, ScanBy (default
  TimestampDescending), MaxRecords (1-100, default 100), NextToken. History survives DeleteAlarms (AWS keeps it).
  StateUpdate items: ``Alarm updated from OK to ALARM`` with HistoryData ``{"version": "1.0", "oldState":
  {"stateValue", "stateReason", "stateReasonData"}, "newState": {...}}``.
* **Actions** when ActionsEnabled, for the new state's list: SNS topic ARNs get the alarm JSON AWS publishes
  (AlarmName, AlarmDescription, AWSAccountId, AlarmConfigurationUpdatedTimestamp, NewStateValue,
  NewStateReason, StateChangeTime, Region (its long name), AlarmArn, OldStateValue, OKActions, AlarmActions,
  InsufficientDataActions, Trigger {MetricName, Namespace, StatisticType, Statistic (upper case), Unit,
  Dimensions [{value, name}], Period, EvaluationPeriods, DatapointsToAlarm, ComparisonOperator, Threshold,
  TreatMissingData, EvaluateLowSampleCountPercentile}) with Subject ``ALARM: "name" in Asia Pacific (Tokyo)``
  (cut to 100 characters); ``arn:aws:automate:<region>:ec2:stop|terminate|reboot|recover`` act on the alarm's
  InstanceId. Each is recorded as an Action history item ("Successfully executed action <arn>" /
  "Failed to execute action <arn>"). SetAlarmState goes through the same transition (history + actions), as on
  AWS; the next evaluation sets the computed state again.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moto.cloudwatch.exceptions import InvalidFormat, InvalidParameterValue, ResourceNotFound, ValidationError
from moto.cloudwatch.models import Alarm, CloudWatchBackend, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

from . import clock, metrics
from .extension import ControlRequest, Extension, Handler
from .scenarios import PRIMARY

if TYPE_CHECKING:
    from .server import Sandbox

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
OPERATORS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
BAND_OPERATORS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
REGION_NAMES = {
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
}
HISTORY_LIMIT = 20_000  # per region; AWS keeps 30 days

LOCK = threading.RLock()
_history: dict[tuple[str, str], list[dict[str, Any]]] = {}
_dirty = threading.Event()
_thread: threading.Thread | None = None
_stop = threading.Event()
#: alarm state changes are published through this hook (sns_delivery makes SNS deliveries asynchronous)
publish_hook: Callable[[str, str, str, str, str], str] | None = None
stats = {"evaluations": 0, "transitions": 0, "passes": 0, "last_pass_seconds": 0.0}


# ------------------------------------------------------------------------------------------------------------
# formatting helpers


def _iso(when: dt.datetime) -> str:
    """AWS's timestamp in alarm JSON: 2026-11-28T20:05:36.123+0000."""
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def _short(ts: float) -> str:
    """dd/mm/yy HH:MM:SS, the datapoint time in reasons."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d/%m/%y %H:%M:%S")


def _num(v: float) -> str:
    return repr(float(v))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _now() -> dt.datetime:
    return clock.now()


def _naive(when: dt.datetime) -> dt.datetime:
    """moto keeps naive UTC datetimes on its Alarm objects."""
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------------------------
# history


def _record(account: str, region: str, alarm_name: str, kind: str, summary: str, data: dict[str, Any],
            when: dt.datetime, alarm_type: str = "MetricAlarm") -> None:
    item = {"AlarmName": alarm_name, "AlarmType": alarm_type, "Timestamp": when,
            "HistoryItemType": kind, "HistorySummary": summary,
            "HistoryData": json.dumps(data, separators=(",", ":"))}
    with LOCK:
        items = _history.setdefault((account, region), [])
        if items and items[-1]["Timestamp"] > when:
            # backfilled or out of order: keep the list sorted by time
            pos = len(items)
            while pos > 0 and items[pos - 1]["Timestamp"] > when:
                pos -= 1
            items.insert(pos, item)
        else:
            items.append(item)
        if len(items) > HISTORY_LIMIT:
            del items[: len(items) - HISTORY_LIMIT]


def history(account: str, region: str) -> list[dict[str, Any]]:
    with LOCK:
        return list(_history.get((account, region), []))


def _alarm_config(alarm: Alarm) -> dict[str, Any]:
    """The alarm as AWS writes it into a ConfigurationUpdate item (camelCase)."""
    return {
        "alarmName": alarm.name, "alarmArn": alarm.alarm_arn, "alarmDescription": alarm.description,
        "actionsEnabled": alarm.actions_enabled, "okactions": list(alarm.ok_actions),
        "alarmActions": list(alarm.alarm_actions), "insufficientDataActions": list(alarm.insufficient_data_actions),
        "metricName": alarm.metric_name, "namespace": alarm.namespace, "statistic": alarm.statistic,
        "extendedStatistic": alarm.extended_statistic,
        "dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
        "period": alarm.period, "unit": alarm.unit, "evaluationPeriods": alarm.evaluation_periods,
        "datapointsToAlarm": alarm.datapoints_to_alarm, "threshold": alarm.threshold,
        "comparisonOperator": alarm.comparison_operator, "treatMissingData": alarm.treat_missing_data,
        "timeUnit": None,
    }


# ------------------------------------------------------------------------------------------------------------
# evaluation


def _int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    return int(value)


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _metric_spec(alarm: Alarm) -> tuple[str, str, tuple, str, str | None, int] | None:
    """(namespace, name, dims_key, statistic, unit, period) the alarm watches, or None if not evaluable here."""
    if alarm.rule is not None:
        return None
    if alarm.metric_name:
        stat = alarm.extended_statistic or alarm.statistic
        period = _int(alarm.period)
        if not stat or not period:
            return None
        dkey = metrics.dims_key({d.name: d.value for d in alarm.dimensions})
        return alarm.namespace, alarm.metric_name, dkey, stat, alarm.unit, period
    queries = [q for q in alarm.metric_data_queries if q.metric_stat is not None]
    if len(alarm.metric_data_queries) == 1 and len(queries) == 1:
        ms = queries[0].metric_stat
        dkey = metrics.dims_key({d.name: d.value for d in ms.metric.dimensions})
        return ms.metric.namespace, ms.metric.metric_name, dkey, ms.stat, ms.unit, int(ms.period)
    return None


def compute(alarm: Alarm, account: str, region: str, now: dt.datetime) -> dict[str, Any] | None:
    """The state the alarm's data says it should be in at ``now`` (None: not evaluable / keep the state)."""
    spec = _metric_spec(alarm)
    if spec is None or alarm.comparison_operator not in OPERATORS:
        return None
    namespace, name, dkey, stat, unit, period = spec
    n = max(1, _int(alarm.evaluation_periods, 1) or 1)
    m = max(1, min(n, _int(alarm.datapoints_to_alarm, n) or n))
    threshold = float(alarm.threshold)
    words, breaches = OPERATORS[alarm.comparison_operator]
    now_ts = now.timestamp()
    end = math.floor(now_ts / period) * period
    start = end - n * period
    points = metrics.series(account, region, namespace, name, dkey, start, end, period, stat, unit=unit,
                            now=now_ts, align=False)
    by_start = {ts: (v, c) for ts, v, c in points}
    periods = [end - (i + 1) * period for i in range(n)]  # newest first
    present = [(t, *by_start[t]) for t in periods if t in by_start]
    missing = n - len(present)
    treat = alarm.treat_missing_data or "missing"
    breaching_pts = [p for p in present if breaches(p[1], threshold)]
    ok_pts = [p for p in present if not breaches(p[1], threshold)]
    if treat in ("missing", "ignore"):
        if not present:
            state = "INSUFFICIENT_DATA" if treat == "missing" else None
        elif len(present) >= m:
            state = "ALARM" if len(breaching_pts) >= m else "OK"
        else:
            state = "ALARM" if len(breaching_pts) == len(present) else "OK"
        counted_breaching = len(breaching_pts)
    else:
        counted_breaching = len(breaching_pts) + (missing if treat == "breaching" else 0)
        state = "ALARM" if counted_breaching >= m else "OK"
    result: dict[str, Any] = {"state": state, "n": n, "m": m, "words": words, "threshold": threshold,
                              "present": present, "breaching": breaching_pts, "ok": ok_pts, "missing": missing,
                              "treat": treat, "counted_breaching": counted_breaching, "stat": stat, "unit": unit,
                              "period": period, "start": start, "query": now}
    return result


def _reason(ev: dict[str, Any], old: str) -> str:
    state, n, m = ev["state"], ev["n"], ev["m"]
    if state == "INSUFFICIENT_DATA":
        return f"Insufficient Data: {_plural(n, 'datapoint')} {'was' if n == 1 else 'were'} unknown."
    treat = ev["treat"]
    shown = ev["breaching"] if state == "ALARM" else ev["ok"]
    negation = "" if state == "ALARM" else "not "
    listed = ", ".join(f"{_num(v)} ({_short(t)})" for t, v, _c in shown)
    threshold = _num(ev["threshold"])
    treated = "Breaching" if treat == "breaching" else "NonBreaching"
    if not ev["present"]:
        return (f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
                f"{ev['missing']} missing {'datapoint was' if ev['missing'] == 1 else 'datapoints were'} "
                f"treated as [{treated}].")
    count = len(shown)
    verb = "was" if count == 1 else "were"
    if n == 1:
        text = (f"Threshold Crossed: 1 datapoint [{listed}] {verb} {negation}{ev['words']} the threshold "
                f"({threshold}).")
    else:
        needed = m if state == "ALARM" else n - m + 1
        text = (f"Threshold Crossed: {count} out of the last {n} datapoints [{listed}] {verb} {negation}"
                f"{ev['words']} the threshold ({threshold}) (minimum {_plural(needed, 'datapoint')} for "
                f"{old} -> {state} transition).")
    if ev["missing"] and treat in ("breaching", "notBreaching"):
        text += (f" {ev['missing']} missing {'datapoint was' if ev['missing'] == 1 else 'datapoints were'} "
                 f"treated as [{treated}].")
    return text


def _reason_data(ev: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(ev["query"]),
                            "startDate": _iso(dt.datetime.fromtimestamp(ev["start"], dt.UTC))}
    stat = ev["stat"]
    if stat in metrics.BASIC_STATS:
        data["statistic"] = stat
    else:
        data["extendedStatistic"] = stat
    if ev["unit"]:
        data["unit"] = ev["unit"]
    data["period"] = ev["period"]
    data["recentDatapoints"] = [v for _t, v, _c in reversed(ev["present"])]
    data["threshold"] = ev["threshold"]
    data["evaluatedDatapoints"] = [
        {"timestamp": _iso(dt.datetime.fromtimestamp(t, dt.UTC)), "sampleCount": float(c), "value": v}
        for t, v, c in ev["present"]]
    return data


def transition(account: str, region: str, alarm: Alarm, new_state: str, reason: str, reason_data: str | None,
               when: dt.datetime, run_actions: bool = True) -> None:
    """Move ``alarm`` to ``new_state``: timestamps, a StateUpdate history item, then the state's actions."""
    with LOCK:
        old_state = alarm.state_value
        old_reason = alarm.state_reason
        old_data = alarm.state_reason_data
        alarm.state_value = new_state
        alarm.state_reason = reason
        alarm.state_reason_data = reason_data if reason_data is not None else "{}"
        alarm.state_updated_timestamp = _naive(when)
        if old_state != new_state:
            alarm.state_transitioned_timestamp = _naive(when)

        def state(value: str, text: str, data: str | None) -> dict[str, Any]:
            out: dict[str, Any] = {"stateValue": value, "stateReason": text}
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = None
            if parsed:
                out["stateReasonData"] = parsed
            return out

        _record(account, region, alarm.name, "StateUpdate", f"Alarm updated from {old_state} to {new_state}",
                {"version": "1.0", "oldState": state(old_state, old_reason, old_data),
                 "newState": state(new_state, reason, reason_data)}, when)
        stats["transitions"] += 1
    if run_actions and alarm.actions_enabled and old_state != new_state:
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[new_state]
        for arn in list(actions or []):
            _run_action(account, region, alarm, arn, old_state, when)


def _message(account: str, region: str, alarm: Alarm, old_state: str, when: dt.datetime) -> dict[str, Any]:
    stat = alarm.extended_statistic or alarm.statistic
    message = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso(_aware(alarm.configuration_updated_timestamp) or when),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _iso(when),
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
            "Statistic": (stat or "").upper() if not alarm.extended_statistic else None,
            "ExtendedStatistic": alarm.extended_statistic if alarm.extended_statistic else None,
            "Unit": alarm.unit,
            "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
            "Period": _int(alarm.period),
            "EvaluationPeriods": _int(alarm.evaluation_periods),
            "DatapointsToAlarm": _int(alarm.datapoints_to_alarm, _int(alarm.evaluation_periods)),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": _float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        },
    }
    trigger = message["Trigger"]
    if alarm.extended_statistic:
        del trigger["Statistic"]
    else:
        del trigger["ExtendedStatistic"]
    return message


def _run_action(account: str, region: str, alarm: Alarm, arn: str, old_state: str, when: dt.datetime) -> None:
    ms = int(when.timestamp() * 1000)
    data: dict[str, Any] = {"actionState": "Succeeded", "stateUpdateTimestamp": ms, "notificationResource": arn}
    ok = True
    try:
        if arn.startswith("arn:aws:sns:"):
            message = json.dumps(_message(account, region, alarm, old_state, when), ensure_ascii=False)
            subject = f'{alarm.state_value}: "{alarm.name}" in {REGION_NAMES.get(region, region)}'[:100]
            topic_region = arn.split(":")[3]
            hook = publish_hook or _publish_via_moto
            hook(account, topic_region, arn, message, subject)
            data["publishedMessage"] = message
        elif arn.startswith("arn:aws:automate:") and ":ec2:" in arn:
            _ec2_action(account, region, alarm, arn.rsplit(":", 1)[-1])
        else:
            raise ValueError("unsupported action")
    except Exception as exc:  # a failed action is history, never an evaluator crash
        ok = False
        data = {"actionState": "Failed", "stateUpdateTimestamp": ms, "notificationResource": arn,
                "publishedMessage": None, "error": _action_error(exc)}
    summary = f"{'Successfully executed' if ok else 'Failed to execute'} action {arn}"
    _record(account, region, alarm.name, "Action", summary, data, when)


def _action_error(exc: Exception) -> str:
    name = type(exc).__name__
    if "NotFound" in name or "not found" in str(exc).lower():
        return "Resource not found"
    return str(exc) or name


def _publish_via_moto(account: str, region: str, topic_arn: str, message: str, subject: str) -> str:
    from moto.sns.models import sns_backends

    return sns_backends[account][region].publish(message, arn=topic_arn, subject=subject)


def _ec2_action(account: str, region: str, alarm: Alarm, verb: str) -> None:
    from moto.ec2.models import ec2_backends

    from .ec2_fast import instance_index

    iid = next((d.value for d in alarm.dimensions if d.name == "InstanceId"), None)
    instance = instance_index(ec2_backends[account][region]).get(iid or "")
    if instance is None:
        raise LookupError("Resource not found")
    if verb == "stop":
        instance.stop()
    elif verb == "terminate":
        instance.terminate()
    elif verb in ("reboot", "recover"):
        pass  # state does not change on a reboot/recover
    else:
        raise ValueError(f"unsupported EC2 action {verb}")


def evaluate_alarm(account: str, region: str, alarm: Alarm, now: dt.datetime | None = None,
                   run_actions: bool = True) -> bool:
    """Evaluate one alarm; True if its state changed."""
    now = now or _now()
    ev = compute(alarm, account, region, now)
    stats["evaluations"] += 1
    if ev is None or ev["state"] is None or ev["state"] == alarm.state_value:
        return False
    old = alarm.state_value
    reason = _reason(ev, old)
    data = json.dumps(_reason_data(ev), separators=(",", ":")) if ev["state"] != "INSUFFICIENT_DATA" else \
        json.dumps({"version": "1.0", "queryDate": _iso(now), "statistic": ev["stat"], "period": ev["period"],
                    "recentDatapoints": [], "threshold": ev["threshold"]}, separators=(",", ":"))
    transition(account, region, alarm, ev["state"], reason, data, now, run_actions=run_actions)
    return True


def _backends() -> list[tuple[str, str, CloudWatchBackend]]:
    out = []
    for account, regions in list(cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            if backend.alarms:
                out.append((account, region, backend))
    return out


def evaluate_all(now: dt.datetime | None = None) -> dict[str, int]:
    """One evaluation pass over every alarm of every region; returns counts by state."""
    began = time.perf_counter()
    now = now or _now()
    counts = {s: 0 for s in STATES}
    for account, region, backend in _backends():
        for alarm in list(backend.alarms.values()):
            with contextlib.suppress(Exception):  # one bad alarm must not stop the others
                evaluate_alarm(account, region, alarm, now)
            counts[alarm.state_value] = counts.get(alarm.state_value, 0) + 1
    stats["passes"] += 1
    stats["last_pass_seconds"] = round(time.perf_counter() - began, 4)
    return counts


def backfill(account: str, region: str, alarm: Alarm, since: dt.datetime, until: dt.datetime) -> None:
    """Replay evaluations every period from ``since`` to ``until`` (history for seeded alarms; no actions)."""
    spec = _metric_spec(alarm)
    if spec is None:
        return
    step = dt.timedelta(seconds=max(60, spec[5]))
    t = since
    while t <= until:
        evaluate_alarm(account, region, alarm, t, run_actions=False)
        t += step


def rewrite_creation(account: str, region: str, alarm: Alarm, when: dt.datetime) -> None:
    """Seeding: make a just-created alarm look created at ``when`` (its Create history item and timestamps)."""
    with LOCK:
        items = _history.get((account, region), [])
        for item in reversed(items):
            if item["AlarmName"] == alarm.name and item["HistoryItemType"] == "ConfigurationUpdate":
                item["Timestamp"] = when
                break
        items.sort(key=lambda i: i["Timestamp"])
        alarm.configuration_updated_timestamp = _naive(when)
        alarm.state_updated_timestamp = _naive(when)
        alarm.state_transitioned_timestamp = _naive(when)


def _loop() -> None:
    last_minute = -1
    while not _stop.is_set():
        woke = _dirty.wait(timeout=min(2.0, max(0.5, clock.real_seconds(60))))
        if _stop.is_set():
            return
        minute = int(clock.now().timestamp() // 60)
        if woke or minute != last_minute:
            _dirty.clear()
            last_minute = minute
            with contextlib.suppress(Exception):
                evaluate_all()


def activate() -> None:
    """Start the evaluator thread (Sandbox.start)."""
    global _thread
    shutdown()
    _stop.clear()
    _thread = threading.Thread(target=_loop, name="opstui-sandbox-alarms", daemon=True)
    _thread.start()


def shutdown() -> None:
    global _thread
    _stop.set()
    _dirty.set()
    if _thread is not None:
        _thread.join(timeout=5)
        _thread = None
    _dirty.clear()


def clear() -> None:
    with LOCK:
        _history.clear()
    for key in ("evaluations", "transitions", "passes"):
        stats[key] = 0


def wake() -> None:
    _dirty.set()


# ------------------------------------------------------------------------------------------------------------
# API


def _check_alarm_params(period: Any, evaluation_periods: Any, datapoints_to_alarm: Any, comparison_operator: Any,
                        treat_missing_data: Any, statistic: Any, extended_statistic: Any, metric_name: Any,
                        metrics_queries: Any, rule: Any) -> None:
    if rule is not None:
        return
    if comparison_operator not in OPERATORS and comparison_operator not in BAND_OPERATORS:
        raise ValidationError(
            f"1 validation error detected: Value '{comparison_operator}' at 'comparisonOperator' failed to satisfy "
            "constraint: Member must satisfy enum value set: [" + ", ".join([*OPERATORS, *BAND_OPERATORS]) + "]")
    n = _int(evaluation_periods)
    if n is None or n < 1:
        raise ValidationError("The parameter EvaluationPeriods must be greater than or equal to 1.")
    m = _int(datapoints_to_alarm)
    if m is not None and not 1 <= m <= n:
        raise ValidationError("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    if treat_missing_data not in (None, *TREAT_MISSING):
        raise ValidationError(
            f"Option {treat_missing_data} is not supported. Supported options for parameter TreatMissingData are "
            "missing, ignore, breaching and notBreaching.")
    if metric_name:
        if statistic and extended_statistic:
            raise InvalidParameterValue(
                "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.")
        if not statistic and not extended_statistic:
            raise ValidationError("Must specify either Statistic or ExtendedStatistic.")
        if statistic and statistic not in metrics.BASIC_STATS:
            raise ValidationError(
                f"1 validation error detected: Value '{statistic}' at 'statistic' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Maximum, SampleCount, Sum, Minimum, Average]")
        p = _int(period)
        if p is None or p < 1 or not (p in (10, 30) or p % 60 == 0):
            raise ValidationError("Period must be 10, 30 or a multiple of 60.")
        if p * n > 86400 * 7:
            raise ValidationError("The evaluation period cannot be greater than 7 days.")
    elif not metrics_queries:
        raise ValidationError("Either MetricName or Metrics must be specified.")


def _wrap_put_metric_alarm(original: Callable[..., Alarm]) -> Callable[..., Alarm]:
    def put_metric_alarm(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        _check_alarm_params(kwargs.get("period"), kwargs.get("evaluation_periods"),
                            kwargs.get("datapoints_to_alarm"), kwargs.get("comparison_operator"),
                            kwargs.get("treat_missing_data"), kwargs.get("statistic"),
                            kwargs.get("extended_statistic"), kwargs.get("metric_name"),
                            kwargs.get("metric_data_queries"), kwargs.get("rule"))
        name = kwargs.get("name") if "name" in kwargs else args[0]
        now = _now()
        with LOCK:
            existing = self.alarms.get(name)
            alarm = original(self, *args, **kwargs)
            for attr in ("period", "evaluation_periods", "datapoints_to_alarm"):
                if getattr(alarm, attr, None) is not None:
                    setattr(alarm, attr, int(getattr(alarm, attr)))
            if alarm.threshold is not None:
                alarm.threshold = float(alarm.threshold)
            alarm.configuration_updated_timestamp = _naive(now)
            alarm_type = "CompositeAlarm" if alarm.rule is not None else "MetricAlarm"
            if existing is not None:
                alarm.state_value = existing.state_value
                alarm.state_reason = existing.state_reason
                alarm.state_reason_data = existing.state_reason_data
                alarm.state_updated_timestamp = existing.state_updated_timestamp
                alarm.state_transitioned_timestamp = getattr(existing, "state_transitioned_timestamp",
                                                             existing.state_updated_timestamp)
                _record(self.account_id, self.region_name, name, "ConfigurationUpdate",
                        f'Alarm "{name}" updated',
                        {"version": "1.0", "type": "Update", "originalUpdatedAlarm": _alarm_config(existing),
                         "updatedAlarm": _alarm_config(alarm)}, now, alarm_type)
            else:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_reason = "Unchecked: Initial alarm creation"
                alarm.state_reason_data = None
                alarm.state_updated_timestamp = _naive(now)
                alarm.state_transitioned_timestamp = _naive(now)
                _record(self.account_id, self.region_name, name, "ConfigurationUpdate", f'Alarm "{name}" created',
                        {"version": "1.0", "type": "Create", "createdAlarm": _alarm_config(alarm)}, now,
                        alarm_type)
        _dirty.set()
        return alarm

    return put_metric_alarm


def _wrap_delete_alarms(original: Callable[..., None]) -> Callable[..., None]:
    def delete_alarms(self: CloudWatchBackend, alarm_names: list[str]) -> None:
        missing = [n for n in alarm_names if n not in self.alarms]
        if missing:
            raise ResourceNotFound(f"{missing[0]}")
        now = _now()
        with LOCK:
            for name in alarm_names:
                alarm = self.alarms.get(name)
                if alarm is not None:
                    _record(self.account_id, self.region_name, name, "ConfigurationUpdate", f'Alarm "{name}" deleted',
                            {"version": "1.0", "type": "Delete", "deletedAlarm": _alarm_config(alarm)}, now,
                            "CompositeAlarm" if alarm.rule is not None else "MetricAlarm")
            original(self, alarm_names)

    return delete_alarms


def _token(offset: int, kind: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": kind}).encode()).decode()


def _untoken(token: str | None, kind: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data.get("k") != kind:
            raise ValueError
        return int(data["o"])
    except Exception as exc:
        raise InvalidParameterValue("Invalid NextToken.") from exc


def _max_records(value: Any, default: int) -> int:
    n = _int(value, default) or default
    if not 1 <= n <= 100:
        raise ValidationError(
            f"1 validation error detected: Value '{n}' at 'maxRecords' failed to satisfy constraint: Member must "
            "have value less than or equal to 100")
    return n


def alarm_dict(alarm: Alarm) -> dict[str, Any]:
    """A MetricAlarm / CompositeAlarm as DescribeAlarms returns it."""
    common = {
        "AlarmName": alarm.name, "AlarmArn": alarm.alarm_arn, "AlarmDescription": alarm.description,
        "AlarmConfigurationUpdatedTimestamp": _aware(alarm.configuration_updated_timestamp),
        "ActionsEnabled": bool(alarm.actions_enabled), "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions), "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "StateValue": alarm.state_value, "StateReason": alarm.state_reason,
        "StateUpdatedTimestamp": _aware(alarm.state_updated_timestamp),
        "StateTransitionedTimestamp": _aware(getattr(alarm, "state_transitioned_timestamp", None)
                                             or alarm.state_updated_timestamp),
    }
    if alarm.state_reason_data and alarm.state_reason_data != "{}":
        common["StateReasonData"] = alarm.state_reason_data
    if alarm.rule is not None:
        common["AlarmRule"] = alarm.rule
        return {k: v for k, v in common.items() if v is not None}
    out = dict(common)
    out.update({
        "MetricName": alarm.metric_name, "Namespace": alarm.namespace, "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic,
        "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        "Period": _int(alarm.period), "Unit": alarm.unit, "EvaluationPeriods": _int(alarm.evaluation_periods),
        "DatapointsToAlarm": _int(alarm.datapoints_to_alarm), "Threshold": _float(alarm.threshold),
        "ComparisonOperator": alarm.comparison_operator, "TreatMissingData": alarm.treat_missing_data,
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile,
        "ThresholdMetricId": alarm.threshold_metric_id,
    })
    if alarm.metric_data_queries:
        out["Metrics"] = [_query_dict(q) for q in alarm.metric_data_queries]
    return {k: v for k, v in out.items() if v is not None}


def _query_dict(q: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"Id": q.id}
    if q.metric_stat is not None:
        ms = q.metric_stat
        d["MetricStat"] = {"Metric": {"Namespace": ms.metric.namespace, "MetricName": ms.metric.metric_name,
                                      "Dimensions": [{"Name": x.name, "Value": x.value} for x in ms.metric.dimensions]},
                           "Period": _int(ms.period), "Stat": ms.stat}
        if ms.unit:
            d["MetricStat"]["Unit"] = ms.unit
    if q.expression:
        d["Expression"] = q.expression
    if q.label:
        d["Label"] = q.label
    if q.return_data is not None:
        d["ReturnData"] = q.return_data in (True, "true", "True")
    if q.period:
        d["Period"] = _int(q.period)
    return d


def _describe_alarms(self: Any) -> Any:
    names = self._get_param("AlarmNames", []) or []
    prefix = self._get_param("AlarmNamePrefix")
    types = self._get_param("AlarmTypes", []) or ["MetricAlarm"]
    state = self._get_param("StateValue")
    action_prefix = self._get_param("ActionPrefix")
    if names and prefix:
        raise InvalidParameterValue("AlarmNames and AlarmNamePrefix cannot be specified together.")
    if state is not None and state not in STATES:
        raise ValidationError(
            f"1 validation error detected: Value '{state}' at 'stateValue' failed to satisfy constraint: Member "
            "must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]")
    limit = _max_records(self._get_param("MaxRecords"), 50)
    offset = _untoken(self._get_param("NextToken"), "alarms")
    backend = cloudwatch_backends[self.current_account][self.region]
    wanted = set(names)
    with LOCK:
        chosen = []
        for alarm in backend.alarms.values():
            kind = "CompositeAlarm" if alarm.rule is not None else "MetricAlarm"
            if kind not in types:
                continue
            if wanted and alarm.name not in wanted:
                continue
            if prefix and not alarm.name.startswith(prefix):
                continue
            if state and alarm.state_value != state:
                continue
            if action_prefix and not any(a.startswith(action_prefix) for a in alarm.alarm_actions):
                continue
            chosen.append(alarm)
        chosen.sort(key=lambda a: a.name)
        page = chosen[offset:offset + limit]
        metric = [alarm_dict(a) for a in page if a.rule is None]
        composite = [alarm_dict(a) for a in page if a.rule is not None]
    result: dict[str, Any] = {"MetricAlarms": metric, "CompositeAlarms": composite}
    if offset + limit < len(chosen):
        result["NextToken"] = _token(offset + limit, "alarms")
    return ActionResult(result)


def _describe_alarms_for_metric(self: Any) -> Any:
    """DescribeAlarmsForMetric: the standard alarms on exactly this metric -- namespace, name and the *whole*
    dimension set (order-free; a subset or superset is another metric, the API reference says the dimensions
    must be given "if the metric has any"), narrowed by Statistic, ExtendedStatistic, Period and Unit when
    given. Alarms on math expressions and composite alarms are never returned (API reference:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmsForMetric.html).
    moto's version matched the name and namespace only, so every instance's CPU alarm answered for one."""
    name = self._get_param("MetricName")
    namespace = self._get_param("Namespace")
    for param, value in (("metricName", name), ("namespace", namespace)):
        if not value:
            raise ValidationError(
                f"1 validation error detected: Value null at '{param}' failed to satisfy constraint: Member must "
                "not be null")
    statistic = self._get_param("Statistic")
    extended = self._get_param("ExtendedStatistic")
    if statistic is not None and statistic not in metrics.BASIC_STATS:
        raise ValidationError(
            f"1 validation error detected: Value '{statistic}' at 'statistic' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Maximum, SampleCount, Sum, Minimum, Average]")
    period = _int(self._get_param("Period"))
    unit = self._get_param("Unit")
    dkey = metrics.dims_key(self._get_params().get("Dimensions") or [])
    backend = cloudwatch_backends[self.current_account][self.region]
    with LOCK:
        chosen = [a for a in backend.alarms.values()
                  if a.rule is None and a.metric_name == name and a.namespace == namespace
                  and metrics.dims_key({d.name: d.value for d in a.dimensions}) == dkey
                  and (statistic is None or a.statistic == statistic)
                  and (extended is None or a.extended_statistic == extended)
                  and (period is None or _int(a.period) == period)
                  and (unit is None or a.unit == unit)]
        chosen.sort(key=lambda a: a.name)
        return ActionResult({"MetricAlarms": [alarm_dict(a) for a in chosen]})


def _describe_alarm_history(self: Any) -> Any:
    name = self._get_param("AlarmName")
    types = self._get_param("AlarmTypes", []) or ["MetricAlarm", "CompositeAlarm"]
    kind = self._get_param("HistoryItemType")
    if kind is not None and kind not in ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate",
                                         "AlarmContributorAction"):
        raise ValidationError(
            f"1 validation error detected: Value '{kind}' at 'historyItemType' failed to satisfy constraint: Member "
            "must satisfy enum value set: [ConfigurationUpdate, StateUpdate, Action]")
    start = self._get_param("StartDate")
    end = self._get_param("EndDate")
    scan_by = self._get_param("ScanBy") or "TimestampDescending"
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise ValidationError(f"The value {scan_by} for parameter ScanBy is invalid.")
    limit = _max_records(self._get_param("MaxRecords"), 100)
    offset = _untoken(self._get_param("NextToken"), "history")
    start_dt = _aware(metrics._as_datetime(start)) if start is not None else None
    end_dt = _aware(metrics._as_datetime(end)) if end is not None else None
    items = [i for i in history(self.current_account, self.region)
             if (name is None or i["AlarmName"] == name) and i["AlarmType"] in types
             and (kind is None or i["HistoryItemType"] == kind)
             and (start_dt is None or i["Timestamp"] >= start_dt) and (end_dt is None or i["Timestamp"] <= end_dt)]
    if scan_by == "TimestampDescending":
        items.reverse()
    page = items[offset:offset + limit]
    result: dict[str, Any] = {"AlarmHistoryItems": page}
    if offset + limit < len(items):
        result["NextToken"] = _token(offset + limit, "history")
    return ActionResult(result)


def _set_alarm_state(self: Any) -> Any:
    name = self._get_param("AlarmName")
    reason = self._get_param("StateReason")
    reason_data = self._get_param("StateReasonData")
    value = self._get_param("StateValue")
    if reason_data is not None:
        try:
            json.loads(reason_data)
        except ValueError as exc:
            raise InvalidFormat("Unknown") from exc
    if value not in STATES:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at 'stateValue' failed to satisfy constraint: Member "
            "must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]")
    backend = cloudwatch_backends[self.current_account][self.region]
    alarm = backend.alarms.get(name)
    if alarm is None:
        raise ResourceNotFound(f"Alarm {name} not found")
    transition(self.current_account, self.region, alarm, value, reason or "", reason_data, _now())
    return EmptyResult()


# ------------------------------------------------------------------------------------------------------------
# the extension


class Alarms(Extension):
    """Alarm evaluation, history, DescribeAlarms and SetAlarmState; a fresh history for each run. The
    evaluator thread is started and stopped with the scripted incident (:mod:`.incident`), once its alarms are
    seeded.

    Control: ``GET /_opstui/alarms`` (the evaluator's stats); ``POST /_opstui/alarms/evaluate`` (one pass now:
    counts by state, stats); ``POST /_opstui/alarms/bulk {"count", "region"?, "account"?, "prefix"?,
    "topic_arn"?}`` (bench alarms, :func:`bulk_create`).
    """

    name = "alarms"

    def patch(self) -> None:
        CloudWatchBackend.put_metric_alarm = _wrap_put_metric_alarm(  # type: ignore[method-assign]
            CloudWatchBackend.put_metric_alarm)
        CloudWatchBackend.delete_alarms = _wrap_delete_alarms(CloudWatchBackend.delete_alarms)  # type: ignore
        CloudWatchResponse.describe_alarms = _describe_alarms  # type: ignore[method-assign]
        CloudWatchResponse.describe_alarm_history = _describe_alarm_history  # type: ignore[attr-defined]
        CloudWatchResponse.describe_alarms_for_metric = _describe_alarms_for_metric  # type: ignore[method-assign]
        CloudWatchResponse.set_alarm_state = _set_alarm_state  # type: ignore[method-assign]

    def prepare(self, sandbox: Sandbox) -> None:
        clear()

    def control_snapshot(self) -> dict[str, Any]:
        return {"stats": dict(stats)}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("POST", "alarms/evaluate"): self._evaluate, ("POST", "alarms/bulk"): self._bulk}

    def _evaluate(self, _request: ControlRequest) -> dict[str, Any]:
        return {"states": evaluate_all(), "stats": dict(stats)}

    def _bulk(self, request: ControlRequest) -> dict[str, int]:
        body = request.payload
        account = body.get("account", self.running.account_id)
        n = bulk_create(account, body.get("region", PRIMARY), int(body["count"]),
                        body.get("prefix", "bench-cpu-"), body.get("topic_arn"))
        return {"created": n}


EXTENSION = Alarms()


# ------------------------------------------------------------------------------------------------------------
# bench knob


def bulk_create(account: str, region: str, count: int, prefix: str = "bench-cpu-",
                topic_arn: str | None = None) -> int:
    """Create ``count`` CPU alarms over the region's instances at once (``POST /_opstui/alarms/bulk``)."""
    from moto.ec2.models import ec2_backends

    from .ec2_fast import instance_index

    if not 1 <= count <= 20_000:
        raise ValueError("count must be between 1 and 20000")
    backend = cloudwatch_backends[account][region]
    ids = sorted(instance_index(ec2_backends[account][region]))
    if not ids:
        raise ValueError(f"no instances in {region}")
    thresholds = (50.0, 70.0, 80.0, 90.0)
    for i in range(count):
        iid = ids[i % len(ids)]
        backend.put_metric_alarm(
            name=f"{prefix}{i:05d}", namespace="AWS/EC2", metric_name="CPUUtilization",
            comparison_operator="GreaterThanThreshold", evaluation_periods=3, period=300,
            threshold=thresholds[i % len(thresholds)], statistic="Average",
            description=f"bench alarm {i} on {iid}", dimensions=[{"Name": "InstanceId", "Value": iid}],
            alarm_actions=[topic_arn] if topic_arn else [], datapoints_to_alarm=3, treat_missing_data="missing")
    return count
