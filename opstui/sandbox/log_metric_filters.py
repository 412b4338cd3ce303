"""Metric filters that publish: matching log events become CloudWatch datapoints the alarms evaluate.

Why: moto stores PutMetricFilter's input and never looks at an event, so "ERROR in the logs" can never fire an
alarm. Here (technique B on moto's ``LogsResponse``, and a put listener of :mod:`.logs_fast`):

* **PutMetricFilter** (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html):
  the group must exist (``ResourceNotFoundException``); the pattern must parse
  (:mod:`.filter_patterns`, ``InvalidParameterException``); exactly one transformation with ``metricName``,
  ``metricNamespace``, ``metricValue``; ``defaultValue`` and ``dimensions`` exclude each other; at most 3
  dimensions, whose values are fields (``$.level``, ``$status``); the same name replaces the filter; at most 100
  filters a group (``LimitExceededException``).
* **DescribeLogGroups** counts a group's filters in ``metricFilterCount`` (moto: always 0).
* **DescribeMetricFilters** adds ``creationTime``; ``limit`` 1-50 (default 50) with ``nextToken``.
* **DeleteMetricFilter** of an unknown group or filter: ``ResourceNotFoundException``.
* **Publishing.** Every event stored in the group (PutLogEvents over HTTP, the agents, Run Command output) is
  tested against the group's filters; a match puts ``metricValue`` (a number or the event's field) at the
  event's timestamp into the metric store (:func:`.metrics.put_datapoint`), with the dimensions read from the
  event. ``defaultValue`` is put once for a batch in which nothing matched (AWS reports it per ingestion
  period "when no matching logs are found").
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

from moto.logs.exceptions import InvalidParameterException, LimitExceededException, ResourceNotFoundException
from moto.logs.models import LogEvent, LogGroup, logs_backends
from moto.logs.responses import LogsResponse

from . import logs_fast, metrics
from .extension import Extension, attach
from .filter_patterns import MISSING, compile_pattern, field_value, select

MAX_FILTERS_PER_GROUP = 100
MAX_DIMENSIONS = 3


def _filters(backend: Any) -> list[dict[str, Any]]:
    return backend.filters.metric_filters


def put_metric_filter(self: Any) -> str:
    name = self._get_param("filterName") or ""
    group = self._get_param("logGroupName") or ""
    pattern = self._get_param("filterPattern")
    transformations = self._get_param("metricTransformations") or []
    if not 1 <= len(name) <= 512 or ":" in name or "*" in name:
        raise InvalidParameterException(constraint="Minimum length of 1. Maximum length of 512.",
                                        parameter="filterName", value=name)
    if pattern is None or len(pattern) > 1024:
        raise InvalidParameterException(constraint="Minimum length of 0. Maximum length of 1024.",
                                        parameter="filterPattern", value=pattern)
    if len(transformations) != 1:
        raise InvalidParameterException(constraint="Fixed number of 1 item.", parameter="metricTransformations",
                                        value=transformations)
    t = transformations[0]
    for key in ("metricName", "metricNamespace", "metricValue"):
        if not t.get(key):
            raise InvalidParameterException(f"Missing required key '{key}' in metricTransformations.")
    if any(c in t["metricName"] for c in ":*$") or any(c in t["metricNamespace"] for c in ":*$"):
        raise InvalidParameterException("metricName and metricNamespace must not contain ':', '*' or '$'.")
    dims = t.get("dimensions") or {}
    if dims and t.get("defaultValue") is not None:
        raise InvalidParameterException("Metric filters with dimensions cannot have a default value.")
    if len(dims) > MAX_DIMENSIONS:
        raise InvalidParameterException(f"A metric filter can have at most {MAX_DIMENSIONS} dimensions.")
    compiled = compile_pattern(pattern)
    for value in dims.values():
        if not str(value).startswith("$"):
            raise InvalidParameterException("Dimension values must be fields of the pattern ($.field or $field).")
    if not str(t["metricValue"]).startswith("$"):
        try:
            float(t["metricValue"])
        except ValueError as exc:
            raise InvalidParameterException("metricValue must be a number or a field ($.field or $field).") from exc
    backend = self.logs_backend
    if group not in backend.groups:
        raise ResourceNotFoundException("The specified log group does not exist.")
    with logs_fast.LOCK:
        existing = _filters(backend)
        others = [f for f in existing if not (f["filterName"] == name and f["logGroupName"] == group)]
        if len(others) == len(existing) and sum(f["logGroupName"] == group for f in existing) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceededException()
        kept = next((f for f in existing if f["filterName"] == name and f["logGroupName"] == group), None)
        entry = {"filterName": name, "filterPattern": compiled.text, "logGroupName": group,
                 "metricTransformations": [t],
                 "creationTime": kept["creationTime"] if kept else int(time.time() * 1000)}
        existing[:] = [*others, entry]
    return ""


def describe_metric_filters(self: Any) -> str:
    prefix = self._get_param("filterNamePrefix")
    group = self._get_param("logGroupName")
    metric_name = self._get_param("metricName")
    namespace = self._get_param("metricNamespace")
    if bool(metric_name) != bool(namespace):
        raise InvalidParameterException("If you include the metricName parameter in your request, you must also "
                                        "include the metricNamespace parameter.")
    if prefix and not group:
        raise InvalidParameterException("If you include the filterNamePrefix parameter, you must also include "
                                        "the logGroupName parameter.")
    limit = int(self._get_param("limit") or 50)
    if not 1 <= limit <= 50:
        raise InvalidParameterException(constraint="Member must have value between 1 and 50", parameter="limit",
                                        value=limit)
    token = self._get_param("nextToken")
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError as exc:
        raise InvalidParameterException("The specified nextToken is invalid.") from exc
    with logs_fast.LOCK:
        rows = [f for f in _filters(self.logs_backend)
                if (not group or f["logGroupName"] == group) and (not prefix or f["filterName"].startswith(prefix))
                and (not metric_name or any(t["metricName"] == metric_name and t["metricNamespace"] == namespace
                                            for t in f["metricTransformations"]))]
    rows.sort(key=lambda f: (f["logGroupName"], f["filterName"]))
    page = rows[offset:offset + limit]
    result: dict[str, Any] = {"metricFilters": page}
    if offset + limit < len(rows):
        result["nextToken"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
    return json.dumps(result)


def delete_metric_filter(self: Any) -> str:
    name = self._get_param("filterName")
    group = self._get_param("logGroupName")
    backend = self.logs_backend
    if group not in backend.groups:
        raise ResourceNotFoundException("The specified log group does not exist.")
    with logs_fast.LOCK:
        existing = _filters(backend)
        kept = [f for f in existing if not (f["filterName"] == name and f["logGroupName"] == group)]
        if len(kept) == len(existing):
            raise ResourceNotFoundException("The specified metric filter does not exist.")
        existing[:] = kept
    return ""


# ------------------------------------------------------------------------------------------------------------
# publishing


def on_events(account: str, region: str, group: str, stream: str, events: list[LogEvent]) -> None:
    """The put listener: each of the group's filters turns its matching events into datapoints."""
    if not events:
        return
    backend = logs_backends[account][region]
    with logs_fast.LOCK:
        filters = [f for f in _filters(backend) if f["logGroupName"] == group]
    for f in filters:
        pattern = compile_pattern(f["filterPattern"])
        t = f["metricTransformations"][0]
        dims_spec: dict[str, str] = t.get("dimensions") or {}
        matched = False
        for event in events:
            if not pattern.matches(event.message):
                continue
            value = field_value(pattern, event.message, str(t["metricValue"]))
            if value is None:
                continue
            dims: dict[str, str] = {}
            for key, ref in dims_spec.items():
                resolved = _dimension(pattern, event.message, ref)
                if resolved is None:
                    break
                dims[key] = resolved
            else:
                matched = True
                metrics.put_datapoint(account, region, t["metricNamespace"], t["metricName"], dims, value,
                                      dt.datetime.fromtimestamp(event.timestamp / 1000, dt.UTC), t.get("unit"))
        if not matched and t.get("defaultValue") is not None:
            newest = max(e.timestamp for e in events)
            metrics.put_datapoint(account, region, t["metricNamespace"], t["metricName"], {},
                                  float(t["defaultValue"]), dt.datetime.fromtimestamp(newest / 1000, dt.UTC),
                                  t.get("unit"))


def _dimension(pattern: Any, message: str, ref: str) -> str | None:
    if ref.startswith("$.") and pattern.kind == "json":
        try:
            value = select(json.loads(message), ref)
        except ValueError:
            return None
        return None if value is MISSING or value is None else str(value)
    if ref.startswith("$"):
        return pattern.extract(message).get(ref[1:])
    return None


def _with_filter_count(original: Any) -> Any:
    """DescribeLogGroups' ``metricFilterCount`` (moto always says 0)."""

    def to_describe_dict(group: Any) -> dict[str, Any]:
        out = original(group)
        backend = logs_backends[group.account_id][group.region]
        with logs_fast.LOCK:
            out["metricFilterCount"] = sum(1 for f in _filters(backend) if f["logGroupName"] == group.name)
        return out

    return to_describe_dict


class MetricFilters(Extension):
    """PutMetricFilter / DescribeMetricFilters / DeleteMetricFilter, and publishing matches as datapoints."""

    name = "metric-filters"

    def patch(self) -> None:
        logs_fast.EXTENSION.install()
        attach(LogsResponse, put_metric_filter, describe_metric_filters, delete_metric_filter)
        LogGroup.to_describe_dict = _with_filter_count(LogGroup.to_describe_dict)  # type: ignore[method-assign]
        if on_events not in logs_fast.LISTENERS:
            logs_fast.LISTENERS.append(on_events)


EXTENSION = MetricFilters()
