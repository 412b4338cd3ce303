"""CloudWatch metrics for the sandbox: a store, a producer for the simulated fleet, and fast read APIs.

Why: moto keeps every datapoint in one list and scans it per query period (500 queries over a day: over a
minute), and it knows nothing about the fleet. This module answers PutMetricData, GetMetricData,
GetMetricStatistics and ListMetrics itself (technique B: methods on moto's ``CloudWatchResponse``), from two
sources:

* **Produced series** (no memory per datapoint, any time range at once): for every EC2 instance the
  ``AWS/EC2`` metrics ``CPUUtilization``, ``NetworkIn``, ``NetworkOut``, ``StatusCheckFailed``,
  ``StatusCheckFailed_Instance`` and ``StatusCheckFailed_System`` (dimension ``InstanceId``), computed on
  demand from deterministic seeded functions of (instance, time): a per-role baseline, a daily pattern peaking
  in the Tokyo afternoon (the fleet is in ap-northeast-1/3), a nightly batch window, smoothed noise.

  - Resolution: 5 minutes, i.e. EC2 *basic monitoring*, the AWS default (moto's instances say
    ``Monitoring: disabled``). A 1-minute query therefore returns one point every 5 minutes, as AWS does.
  - No datapoints before the instance's launch time, nor while it is stopped: :meth:`Metrics.patch` wraps
    moto's ``Instance.stop/start/terminate`` to record down intervals on the sandbox clock. An instance that
    was already stopped when the scenario was seeded (``stg-app-02``) has no data at all (it stopped months
    ago) and, like AWS (metrics with no data for two weeks), is not listed by ListMetrics.
  - Incident overlays (:func:`add_overlay`, used by :mod:`opstui.sandbox.incident`) ramp a series towards a
    peak and back, on top of the baseline.

  ``CWAgent`` metrics exist only while :func:`opstui.sandbox.node_state.cw_agent_running` is true, from when
  the agent started. Which series, their namespace, dimensions and interval follow the configuration the agent
  was given (:mod:`.cw_agent_config`: ``metrics_collected``, ``append_dimensions``, ``namespace``,
  ``metrics_collection_interval``); with the ``default`` configuration they are those of AWS's documented
  "basic system metrics" configuration (``append_dimensions: {"InstanceId": "${aws:InstanceId}"}``), every 60 s:

  - Linux: ``mem_used_percent`` {InstanceId}; ``disk_used_percent`` {InstanceId, path "/", device
    "nvme0n1p1", fstype "xfs" (Amazon Linux, RHEL) or "ext4" (Ubuntu)};
  - Windows: ``Memory % Committed Bytes In Use`` {InstanceId, objectname "Memory"} and
    ``LogicalDisk % Free Space`` {InstanceId, instance "C:", objectname "LogicalDisk"} (the agent's Windows
    names);
  - hybrid ``mi-`` nodes have no EC2 instance id to append; they publish with {host: computer name}.

* **Stored datapoints**: PutMetricData (custom namespaces; ``AWS/`` namespaces are refused as AWS does) and
  :func:`put_datapoint`, the in-process writer other sandbox modules use (Synthetics publishes
  ``CloudWatchSynthetics`` ``SuccessPercent``/``Duration`` through it). Kept sorted per series, 15 days.

Read semantics (as AWS documents them): buckets start at StartTime rounded down to the minute (5 minutes when
it is 15-63 days ago, an hour beyond), the last bucket is the one starting before EndTime; statistics
Average, Sum, Minimum, Maximum, SampleCount and percentiles ``pNN`` / ``pNN.N`` (nearest rank over single
values; statistic sets carry none); ``Unit`` filters; GetMetricData pages by ``MaxDataPoints`` (default
100,800) with ``NextToken``, honours ``ScanBy``, ``Label`` (default: the metric name), ``ReturnData``, up to
500 queries, and metric math (:mod:`.metric_math`: arithmetic, SUM/AVG/MIN/MAX, METRICS(), FILL, ...). The default
Label for an expression is its Id.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import json
import math
import random
import re
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue, ValidationError
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import Instance

from . import clock, cw_agent, cw_agent_config, metric_math, node_state
from .cw_agent_config import AgentMetric
from .ec2_fast import instance_index
from .extension import Extension, attach
from .ssm_nodes import REGISTRY

if TYPE_CHECKING:
    from .server import Sandbox

NS_EC2 = "AWS/EC2"
NS_AGENT = "CWAgent"
EC2_METRICS = ("CPUUtilization", "NetworkIn", "NetworkOut", "StatusCheckFailed", "StatusCheckFailed_Instance",
               "StatusCheckFailed_System")
EC2_UNITS = {"CPUUtilization": "Percent", "NetworkIn": "Bytes", "NetworkOut": "Bytes", "StatusCheckFailed": "Count",
             "StatusCheckFailed_Instance": "Count", "StatusCheckFailed_System": "Count"}
BASIC_PERIOD = 300  # EC2 basic monitoring
AGENT_PERIOD = 60  # the CloudWatch agent's default metrics_collection_interval
RETENTION_SECONDS = 15 * 86400
LIST_WINDOW_SECONDS = 14 * 86400  # ListMetrics: metrics with data in the last two weeks
MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100_800
LINUX_MEM = "mem_used_percent"
LINUX_DISK = "disk_used_percent"
WIN_MEM = "Memory % Committed Bytes In Use"
WIN_DISK = "LogicalDisk % Free Space"

_SEED = 42
_lock = threading.RLock()
# (account, region, namespace, name, dims_key) -> sorted list of (ts, sum, count, min, max, value|None)
_store: dict[tuple[str, str, str, str, tuple[tuple[str, str], ...]], list[tuple]] = {}
_units: dict[tuple, str | None] = {}
_day_cache: dict[tuple, list[float]] = {}
_DAY_CACHE_MAX = 40_000


# ------------------------------------------------------------------------------------------------------------
# the store


def dims_key(dimensions: dict[str, str] | Iterable[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    """A hashable, order-free key for a dimension set ({name: value} or [{"Name":..,"Value":..}])."""
    if not dimensions:
        return ()
    if isinstance(dimensions, dict):
        return tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))
    return tuple(sorted((str(d["Name"]), str(d.get("Value", ""))) for d in dimensions))


def _ts(value: dt.datetime | float | int) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return float(value)


def put_datapoint(account: str, region: str, namespace: str, name: str, dimensions: dict[str, str],
                  value: float, timestamp: dt.datetime, unit: str | None = None) -> None:
    """Store one datapoint (in-process writer for sandbox modules: Synthetics, tests). Thread-safe."""
    _put(account, region, namespace, name, dims_key(dimensions), _ts(timestamp),
         (float(value), 1.0, float(value), float(value), float(value)), unit)


def _put(account: str, region: str, namespace: str, name: str, dkey: tuple, ts: float,
         stat: tuple[float, float, float, float, float | None], unit: str | None) -> None:
    key = (account, region, namespace, name, dkey)
    with _lock:
        series = _store.setdefault(key, [])
        row = (ts, *stat)
        if not series or series[-1][0] <= ts:
            series.append(row)
        else:
            bisect.insort(series, row, key=lambda r: r[0])
        if unit is not None or key not in _units:
            _units[key] = unit
        cutoff = clock.now().timestamp() - RETENTION_SECONDS
        if series[0][0] < cutoff:
            drop = bisect.bisect_left(series, cutoff, key=lambda r: r[0])
            del series[:drop]


def clear() -> None:
    """Forget stored datapoints, overlays and caches (Sandbox.start)."""
    with _lock:
        _store.clear()
        _units.clear()
        _day_cache.clear()
        _overlays.clear()
        _agent_started.clear()


def configure_seed(seed: int) -> None:
    global _SEED
    _SEED = seed
    _day_cache.clear()


# ------------------------------------------------------------------------------------------------------------
# incident overlays


@dataclass
class Overlay:
    """Pull a produced series towards ``peak`` from ``start`` (ramping over ``ramp`` s), back after ``end``."""

    account: str
    region: str
    instance_id: str
    metric: str
    start: float
    peak: float
    ramp: float = 300.0
    end: float | None = None
    namespace: str = NS_EC2

    def apply(self, ts: float, base: float) -> float:
        if ts < self.start:
            return base
        weight = min(1.0, (ts - self.start) / self.ramp) if self.ramp > 0 else 1.0
        if self.end is not None and ts > self.end:
            weight *= max(0.0, 1.0 - (ts - self.end) / self.ramp) if self.ramp > 0 else 0.0
        if weight <= 0:
            return base
        wobble = ((zlib.crc32(f"{self.instance_id}{int(ts)}".encode()) % 1000) / 1000.0 - 0.5) * 0.04 * self.peak
        target = max(base, self.peak + wobble)
        return base + (target - base) * weight


_overlays: list[Overlay] = []


def add_overlay(overlay: Overlay) -> Overlay:
    with _lock:
        _overlays.append(overlay)
    return overlay


def end_overlays(instance_id: str | None = None, at: float | None = None) -> None:
    """Let ongoing overlays (of one instance, or all) ramp back down from ``at`` (default: now)."""
    at = clock.now().timestamp() if at is None else at
    with _lock:
        for ov in _overlays:
            if ov.end is None and (instance_id is None or ov.instance_id == instance_id):
                ov.end = at


def _overlays_for(account: str, region: str, namespace: str, instance_id: str, metric: str) -> list[Overlay]:
    return [o for o in _overlays if o.instance_id == instance_id and o.metric == metric
            and o.region == region and o.account == account and o.namespace == namespace]


# ------------------------------------------------------------------------------------------------------------
# produced series


_ROLE = {  # cpu base, daily amplitude, noise, network bytes per 5 minutes at the base
    "web": (24.0, 20.0, 5.0, 9.0e7),
    "app": (30.0, 16.0, 5.0, 5.0e7),
    "db": (38.0, 12.0, 4.0, 3.0e7),
    "batch": (7.0, 3.0, 2.0, 1.0e7),
}
_MEM_BASE = {"web": 42.0, "app": 58.0, "db": 74.0, "batch": 33.0}


def _pattern(slot_seconds: float) -> float:
    """Daily load shape in [0, 1]: low at 04:00 JST, peak around 14:00 JST (05:00 UTC)."""
    hours_utc = (slot_seconds % 86400) / 3600.0
    return 0.5 * (1 - math.cos(2 * math.pi * (hours_utc - 19.0) / 24.0))


def _batch_window(slot_seconds: float) -> float:
    """Nightly batch window 01:00-03:00 JST (16:00-18:00 UTC)."""
    hours_utc = (slot_seconds % 86400) / 3600.0
    return 1.0 if 16.0 <= hours_utc < 18.0 else 0.0


_shape_cache: dict[int, tuple[list[float], list[float]]] = {}


def _shapes(step: int) -> tuple[list[float], list[float]]:
    """The daily pattern and batch window sampled every ``step`` seconds (shared by every series)."""
    cached = _shape_cache.get(step)
    if cached is None:
        slots = range(0, 86400, step)
        cached = ([_pattern(t) for t in slots], [_batch_window(t) for t in slots])
        _shape_cache[step] = cached
    return cached


def _role_of(account: str, region: str, instance_id: str) -> str:
    tags: dict[str, str] = {}
    backend = ec2_backends[account][region]
    if instance_id in backend.tags:
        tags = backend.tags[instance_id]
    else:
        node = REGISTRY.get(account, region, instance_id)
        tags = node.tags if node is not None else {}
    return tags.get("Role", "app")


def _day_values(account: str, region: str, instance_id: str, metric: str, day: int, step: int) -> list[float]:
    key = (account, region, instance_id, metric, day, step)
    cached = _day_cache.get(key)
    if cached is not None:
        return cached
    role = _role_of(account, region, instance_id)
    n = 86400 // step
    seed = zlib.crc32(f"{_SEED}|{instance_id}|{metric}|{day}".encode())
    rng = random.Random(seed)
    personal = 0.75 + (zlib.crc32(instance_id.encode()) % 1000) / 2000.0  # 0.75 .. 1.25 per instance
    base, amp, noise, net = _ROLE.get(role, _ROLE["app"])
    pattern, batch = _shapes(step)
    out: list[float] = []
    walk = 0.0
    r = rng.random
    if metric == "CPUUtilization":
        b0 = base * personal
        extra = 55.0 if role == "batch" else 0.0
        for i in range(n):
            walk = 0.7 * walk + (r() - 0.5) * noise
            v = b0 + amp * pattern[i] + walk + extra * batch[i]
            out.append(99.5 if v > 99.5 else (0.3 if v < 0.3 else v))
    elif metric in ("NetworkIn", "NetworkOut"):
        factor = 1.6 if (metric == "NetworkOut" and role == "web") else (0.8 if metric == "NetworkOut" else 1.0)
        scale = net * factor * personal
        extra = 1.2 if role == "batch" else 0.0
        for i in range(n):
            walk = 0.6 * walk + (r() - 0.5) * 0.3
            out.append(max(1000.0, round(scale * (0.35 + pattern[i] + extra * batch[i]) * (1.0 + walk))))
    elif metric in (LINUX_MEM, WIN_MEM):
        mb = _MEM_BASE.get(role, 50.0) * personal ** 0.5
        for i in range(n):
            walk = 0.95 * walk + (r() - 0.5) * 0.8
            out.append(min(98.0, max(5.0, mb + 6.0 * pattern[i] + walk)))
    elif metric in (LINUX_DISK, WIN_DISK):
        used0 = 30.0 + (zlib.crc32(instance_id.encode()) % 40) + 0.25 * (day % 60)
        for i in range(n):
            used = min(97.0, used0 + 0.25 * i / n + (r() - 0.5) * 0.05)
            out.append(round(100.0 - used if metric == WIN_DISK else used, 3))
    else:  # StatusCheckFailed*
        out = [0.0] * n
    if len(_day_cache) >= _DAY_CACHE_MAX:
        _day_cache.clear()
    _day_cache[key] = out
    return out


def _down_intervals(instance: Any) -> list[list[float | None]]:
    down = instance.__dict__.get("_opstui_down")
    if down is None:
        if instance._state.name != "running":
            return [[-math.inf, None]]
        return []
    return down


def _available(instance: Any, t0: float, t1: float) -> list[tuple[float, float]]:
    """Sub-ranges of [t0, t1) in which the instance was running (after launch, outside down intervals)."""
    launch = instance.launch_time
    if isinstance(launch, str):
        try:
            launch = dt.datetime.fromisoformat(launch.replace("Z", "+00:00"))
        except ValueError:
            launch = None
    start = max(t0, _ts(launch)) if isinstance(launch, dt.datetime) else t0
    ranges = [(start, t1)] if start < t1 else []
    for d0, d1 in _down_intervals(instance):
        lo = d0 if d0 is not None else -math.inf
        hi = d1 if d1 is not None else math.inf
        nxt: list[tuple[float, float]] = []
        for a, b in ranges:
            if hi <= a or lo >= b:
                nxt.append((a, b))
                continue
            if a < lo:
                nxt.append((a, lo))
            if hi < b:
                nxt.append((hi, b))
        ranges = nxt
    return ranges


@dataclass(frozen=True)
class _Produced:
    instance_id: str
    metric: str  # the name used for the day functions
    step: int
    kind: str  # "ec2" or "agent"


def _agent_series(account: str, region: str, instance_id: str) -> list[AgentMetric]:
    """The CWAgent series the node's agent publishes: from its applied configuration (``metrics_collected``,
    ``append_dimensions``, ``namespace``, intervals; :mod:`.cw_agent_config`), else the basic default."""
    facts = cw_agent.node_facts(account, region, instance_id)
    settings = node_state.cw_agent_settings(region, instance_id) or cw_agent_config.default_config(facts.windows)
    return settings.agent_metrics(facts)


def _resolve_produced(account: str, region: str, namespace: str, name: str, dkey: tuple) -> _Produced | None:
    if namespace == NS_EC2 and name in EC2_METRICS and len(dkey) == 1 and dkey[0][0] == "InstanceId":
        return _Produced(dkey[0][1], name, BASIC_PERIOD, "ec2")
    if name in (LINUX_MEM, LINUX_DISK, WIN_MEM, WIN_DISK):
        d = dict(dkey)
        candidates: list[str] = []
        if "InstanceId" in d:
            candidates = [d["InstanceId"]]
        elif "host" in d:
            candidates = [n.instance_id for n in REGISTRY.nodes(account, region) if n.computer_name == d["host"]]
        else:  # dimensions without the instance (e.g. only InstanceType): any configured agent may match
            candidates = [iid for reg, iid, _ in node_state.configured_agents() if reg == region]
        for iid in candidates:
            for m in _agent_series(account, region, iid):
                if m.namespace == namespace and m.name == name and m.dimensions == dkey:
                    return _Produced(iid, name, m.interval, "agent")
    return None


def _produced_points(account: str, region: str, p: _Produced, t0: float, t1: float,
                     now: float) -> list[tuple[float, float]]:
    """(ts, value) of a produced series in [t0, min(t1, now)] ascending."""
    t1 = min(t1, now + 1e-6)
    if t1 <= t0:
        return []
    if p.kind == "ec2":
        instance = instance_index(ec2_backends[account][region]).get(p.instance_id)
        if instance is None:
            return []
        ranges = _available(instance, t0, t1)
    else:
        if not node_state.cw_agent_running(region, p.instance_id):
            return []
        s = _agent_started.get((region, p.instance_id))
        if s is None:
            started = node_state.cw_agent_started(region, p.instance_id)
            s = _ts(started) if started else now
        ranges = [(max(t0, s), t1)] if max(t0, s) < t1 else []
        if not p.instance_id.startswith("mi-"):
            instance = instance_index(ec2_backends[account][region]).get(p.instance_id)
            if instance is None:
                return []
            ranges = [r for a, b in ranges for r in _available(instance, a, b)]
    step = p.step
    overlays = _overlays_for(account, region, NS_EC2 if p.kind == "ec2" else NS_AGENT, p.instance_id, p.metric)
    out: list[tuple[float, float]] = []
    for a, b in ranges:
        k = math.ceil(a / step)
        kend = math.ceil(b / step)  # exclusive
        while k < kend:
            day = (k * step) // 86400
            per_day = 86400 // step
            first = k - day * per_day
            last = min(per_day, kend - day * per_day)
            values = _day_values(account, region, p.instance_id, p.metric, day, step)
            base_t = day * 86400
            out.extend((base_t + i * step, values[i]) for i in range(first, last))
            k = day * per_day + last
    if overlays and out:
        res = []
        for ts, v in out:
            for ov in overlays:
                v = ov.apply(ts, v)
            if p.metric == "CPUUtilization":
                v = min(100.0, v)
            elif p.metric.startswith("StatusCheckFailed"):
                v = 1.0 if v >= 0.5 else 0.0
            res.append((ts, v))
        out = res
    return out


# ------------------------------------------------------------------------------------------------------------
# statistics


_PCT = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100)$")
BASIC_STATS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")


def valid_stat(stat: str) -> bool:
    return stat in BASIC_STATS or bool(_PCT.match(stat or ""))


def _round_start(start: float, now: float) -> float:
    age = now - start
    step = 60 if age < 15 * 86400 else (300 if age < 63 * 86400 else 3600)
    return math.floor(start / step) * step


def series(account: str, region: str, namespace: str, name: str, dimensions: Any, start: float, end: float,
           period: int, stat: str, unit: str | None = None, now: float | None = None,
           align: bool = True) -> list[tuple[float, float, float]]:
    """Buckets of one metric: ascending ``(bucket start ts, statistic value, sample count)``, empty buckets left out.

    The one read path for GetMetricData, GetMetricStatistics and the alarm evaluator.
    """
    now = clock.now().timestamp() if now is None else now
    dkey = dims_key(dimensions) if not isinstance(dimensions, tuple) else dimensions
    s0 = _round_start(start, now) if align else start
    if end <= s0:
        return []
    buckets: dict[int, list] = {}  # index -> [sum, count, min, max, values]
    key = (account, region, namespace, name, dkey)
    if unit is None or _units.get(key) in (None, unit):
        with _lock:
            stored = _store.get(key)
            rows = []
            if stored:
                lo = bisect.bisect_left(stored, s0, key=lambda r: r[0])
                hi = bisect.bisect_left(stored, end, key=lambda r: r[0])
                rows = stored[lo:hi]
        for ts, ssum, cnt, mn, mx, val in rows:
            i = int((ts - s0) // period)
            b = buckets.get(i)
            if b is None:
                buckets[i] = [ssum, cnt, mn, mx, [val] if val is not None else []]
            else:
                b[0] += ssum
                b[1] += cnt
                b[2] = min(b[2], mn)
                b[3] = max(b[3], mx)
                if val is not None:
                    b[4].append(val)
    produced = _resolve_produced(account, region, namespace, name, dkey)
    if produced is not None:
        punit = EC2_UNITS.get(name, "Percent")
        if unit is None or unit == punit:
            points = _produced_points(account, region, produced, s0, end, now)
            if not buckets and period == produced.step and stat in BASIC_STATS:
                # fast path (the common chart query): one produced point per bucket
                return [(s0 + ((ts - s0) // period) * period, 1.0 if stat == "SampleCount" else v, 1.0)
                        for ts, v in points if ts < end]
            for ts, v in points:
                if ts >= end:
                    break
                i = int((ts - s0) // period)
                b = buckets.get(i)
                if b is None:
                    buckets[i] = [v, 1.0, v, v, [v]]
                else:
                    b[0] += v
                    b[1] += 1.0
                    if v < b[2]:
                        b[2] = v
                    if v > b[3]:
                        b[3] = v
                    b[4].append(v)
    out: list[tuple[float, float, float]] = []
    for i in sorted(buckets):
        ssum, cnt, mn, mx, vals = buckets[i]
        value = _stat(stat, ssum, cnt, mn, mx, vals)
        if value is not None:
            out.append((s0 + i * period, value, cnt))
    return out


def _stat(stat: str, ssum: float, cnt: float, mn: float, mx: float, vals: list[float]) -> float | None:
    if stat == "Average":
        return ssum / cnt if cnt else None
    if stat == "Sum":
        return ssum
    if stat == "Minimum":
        return mn
    if stat == "Maximum":
        return mx
    if stat == "SampleCount":
        return cnt
    m = _PCT.match(stat)
    if m and vals:
        q = float(m.group(1))
        ordered = sorted(vals)
        rank = max(1, math.ceil(q / 100.0 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]
    return None


def unit_of(account: str, region: str, namespace: str, name: str, dimensions: Any) -> str | None:
    dkey = dims_key(dimensions) if not isinstance(dimensions, tuple) else dimensions
    if _resolve_produced(account, region, namespace, name, dkey) is not None:
        return EC2_UNITS.get(name, "Percent")
    return _units.get((account, region, namespace, name, dkey))


# ------------------------------------------------------------------------------------------------------------
# listing


_list_cache: dict[tuple[str, str], tuple[float, list[str]]] = {}


def all_metrics(account: str, region: str, recently_active: bool = False) -> list[tuple[str, str, tuple]]:
    """Every (namespace, name, dims_key) with data in the last two weeks (3 hours if ``recently_active``).

    Which instances had data is cached for 2 s (a 10,000-node fleet is paged 500 metrics a call); stored series
    and the agent's state are read on every call, so a put or an agent start shows at once.
    """
    now = clock.now().timestamp()
    window = 3 * 3600 if recently_active else LIST_WINDOW_SECONDS
    found: set[tuple[str, str, tuple]] = set()
    with _lock:
        for (acc, reg, ns, name, dkey), rows in _store.items():
            if acc == account and reg == region and rows and rows[-1][0] >= now - window:
                found.add((ns, name, dkey))
    cache_key = (account, region + ("|recent" if recently_active else ""))
    cached = _list_cache.get(cache_key)
    if cached is not None and time.monotonic() - cached[0] < 2.0:
        live_ids = cached[1]
    else:
        try:
            index = instance_index(ec2_backends[account][region])
        except KeyError:
            index = {}
        live_ids = [iid for iid, instance in index.items() if _available(instance, now - window, now + 1)]
        _list_cache[cache_key] = (time.monotonic(), live_ids)
    produced: list[tuple[str, str, tuple]] = []
    for iid in live_ids:
        dk = (("InstanceId", iid),)
        produced.extend((NS_EC2, m, dk) for m in EC2_METRICS)
        if node_state.cw_agent_running(region, iid):
            produced.extend((m.namespace, m.name, m.dimensions) for m in _agent_series(account, region, iid))
    for node in REGISTRY.nodes(account, region):
        if node.instance_id.startswith("mi-") and node_state.cw_agent_running(region, node.instance_id):
            produced.extend((m.namespace, m.name, m.dimensions)
                            for m in _agent_series(account, region, node.instance_id))
    return sorted(found.union(produced))


# ------------------------------------------------------------------------------------------------------------
# API handlers (installed on moto's CloudWatchResponse)


def _token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _untoken(token: str) -> dict[str, Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except Exception as exc:
        raise InvalidParameterValue("The service cannot process the NextToken, it is not valid.") from exc


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    text = str(value)
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except ValueError:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _check_period(period: Any, where: str) -> int:
    try:
        p = int(period)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterValue(f"The parameter {where} must be an integer.") from exc
    if p <= 0 or not (p in (1, 5, 10, 30) or p % 60 == 0):
        raise InvalidParameterValue(
            f"The parameter {where} must be 1, 5, 10, 30, or a multiple of 60.")
    return p


def put_metric_data(self: Any) -> Any:
    namespace = self._get_param("Namespace")
    data = self._get_param("MetricData", []) or []
    if not namespace:
        raise InvalidParameterValue("The parameter Namespace is required.")
    if namespace.startswith("AWS/"):
        raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid.")
    if len(data) > 1000:
        raise InvalidParameterValue("The collection MetricData must not have a size greater than 1000.")
    account, region = self.current_account, self.region
    now = clock.now()
    rows: list[tuple] = []
    for n, m in enumerate(data, 1):
        name = m.get("MetricName")
        if not name:
            raise InvalidParameterValue(f"The parameter MetricData.member.{n}.MetricName is required.")
        dkey = dims_key(m.get("Dimensions") or [])
        ts = _ts(_as_datetime(m["Timestamp"])) if m.get("Timestamp") is not None else now.timestamp()
        unit = m.get("Unit")
        if m.get("StatisticValues"):
            if m.get("Value") is not None:
                raise InvalidParameterCombination(
                    f"The parameters MetricData.member.{n}.Value and MetricData.member.{n}.StatisticValues "
                    "are mutually exclusive and you have specified both.")
            sv = m["StatisticValues"]
            for field in ("Sum", "Maximum", "Minimum", "SampleCount"):
                if field not in sv:
                    raise InvalidParameterValue(
                        f'Missing required parameter in MetricData[{n}].StatisticValues: "{field}"')
            rows.append((name, dkey, ts, (float(sv["Sum"]), float(sv["SampleCount"]), float(sv["Minimum"]),
                                          float(sv["Maximum"]), None), unit))
        elif m.get("Values"):
            values = [float(v) for v in m["Values"]]
            counts = [float(c) for c in (m.get("Counts") or [1.0] * len(values))]
            if len(counts) != len(values):
                raise InvalidParameterValue(
                    f"The parameters MetricData.member.{n}.Values and MetricData.member.{n}.Counts must be of "
                    "the same size.")
            for v, c in zip(values, counts, strict=True):
                if math.isnan(v) or math.isinf(v):
                    raise InvalidParameterValue(f"The value {v} for parameter MetricData.member.{n}.Values is invalid.")
                rows.append((name, dkey, ts, (v * c, c, v, v, v if c == 1 else None), unit))
        else:
            v = float(m.get("Value", 0.0))
            if math.isnan(v) or math.isinf(v):
                raise InvalidParameterValue(f"The value {v} for parameter MetricData.member.{n}.Value is invalid.")
            rows.append((name, dkey, ts, (v, 1.0, v, v, v), unit))
    for name, dkey, ts, stat, unit in rows:
        _put(account, region, namespace, name, dkey, ts, stat, unit)
    return EmptyResult()


_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


def get_metric_data(self: Any) -> Any:
    params = self._get_params()
    queries = params.get("MetricDataQueries") or []
    if not queries:
        raise ValidationError("The parameter MetricDataQueries is required.")
    if len(queries) > MAX_QUERIES:
        raise ValidationError(f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    start = _ts(_as_datetime(params["StartTime"]))
    end = _ts(_as_datetime(params["EndTime"]))
    if start > end:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    if start == end:
        raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
    scan_by = params.get("ScanBy") or "TimestampDescending"
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise ValidationError(f"The value {scan_by} for parameter ScanBy is invalid.")
    max_points = int(params.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS)
    account, region = self.current_account, self.region
    now = clock.now().timestamp()
    seen: set[str] = set()
    computed: list[dict[str, Any]] = []
    for n, q in enumerate(queries, 1):
        qid = q.get("Id") or ""
        if not _ID.match(qid):
            raise ValidationError(
                f"The value {qid} for parameter MetricDataQueries.member.{n}.Id is invalid: it must start with a "
                "lowercase letter and contain only letters, numbers and underscores.")
        if qid in seen:
            raise ValidationError(f"The value {qid} for parameter MetricDataQueries.member.{n}.Id is duplicated.")
        seen.add(qid)
        if ("MetricStat" in q) == ("Expression" in q):
            raise ValidationError(
                f"The parameter MetricDataQueries.member.{n}.MetricStat is required.\n" if "MetricStat" not in q
                else f"Exactly one element of the metrics list should return data (MetricStat or Expression) "
                     f"in MetricDataQueries.member.{n}.")
        ret = q.get("ReturnData")
        ret = True if ret is None else ret in (True, "true", "True")
        if "MetricStat" in q:
            ms = q["MetricStat"]
            metric = ms.get("Metric") or {}
            stat = ms.get("Stat") or ""
            if not valid_stat(stat):
                raise ValidationError(
                    f"The value {stat} for parameter MetricDataQueries.member.{n}.MetricStat.Stat is invalid.")
            period = _check_period(ms.get("Period"), f"MetricDataQueries.member.{n}.MetricStat.Period")
            pts = series(account, region, metric.get("Namespace", ""), metric.get("MetricName", ""),
                         dims_key(metric.get("Dimensions") or []), start, end, period, stat,
                         unit=ms.get("Unit"), now=now)
            label = q.get("Label") or metric.get("MetricName", "")
            computed.append({"id": qid, "label": label, "ts": [p[0] for p in pts], "vals": [p[1] for p in pts],
                             "return": ret, "period": period})
        else:
            try:
                tree: Any = metric_math.parse(str(q["Expression"]))
            except metric_math.MathError as exc:
                raise ValidationError(f"Error in expression {qid}: {exc}") from exc
            except metric_math.Unsupported as exc:
                tree = exc
            computed.append({"id": qid, "label": q.get("Label") or qid, "expr": tree, "return": ret})
    computed = _evaluate_expressions(computed, start, end, now)
    results = [c for c in computed if c["return"]]
    if scan_by == "TimestampDescending":
        for c in results:
            c["ts"] = c["ts"][::-1]
            c["vals"] = c["vals"][::-1]
    digest = hashlib.sha1(json.dumps([start, end, scan_by, [q.get("Id") for q in queries]]).encode()).hexdigest()[:12]
    offset = 0
    token = params.get("NextToken")
    if token:
        data = _untoken(token)
        if data.get("d") != digest:
            raise InvalidParameterValue("The service cannot process the NextToken, it is not valid.")
        offset = int(data.get("o", 0))
    out: list[dict[str, Any]] = []
    position = 0
    budget = max_points
    next_token = None
    for c in results:
        n_points = len(c["ts"])
        lo = max(0, offset - position)
        position += n_points
        if lo >= n_points and n_points:
            continue
        take = min(n_points - lo, budget)
        status = c.get("status") or ("Complete" if lo + take >= n_points else "PartialData")
        if take <= 0 and n_points:
            next_token = _token({"d": digest, "o": position - n_points + lo})
            break
        entry = {"Id": c["id"], "Label": c["label"], "Timestamps": c["ts"][lo:lo + take],
                 "Values": c["vals"][lo:lo + take], "StatusCode": status}
        if c.get("messages"):
            entry["Messages"] = c["messages"]
        out.append(entry)
        budget -= take
        if status == "PartialData":
            next_token = _token({"d": digest, "o": position - n_points + lo + take})
            break
    result: dict[str, Any] = {"MetricDataResults": out, "Messages": []}
    if next_token:
        result["NextToken"] = next_token
    if _json_protocol(self):
        # moto's generic serializer walks the model per value: ~1-2 s for 100,000 points. For the JSON protocol
        # (what botocore picks for CloudWatch) the body is plain JSON with epoch-second timestamps.
        return json.dumps(result)
    for r in out:
        r["Timestamps"] = [dt.datetime.fromtimestamp(t, dt.UTC) for t in r["Timestamps"]]
    return ActionResult(result)


def _json_protocol(response: Any) -> bool:
    from moto.core.utils import get_service_model

    try:
        return response.determine_response_protocol(get_service_model("cloudwatch")) == "json"
    except Exception:
        return False


def _evaluate_expressions(computed: list[dict[str, Any]], start: float, end: float,
                          now: float) -> list[dict[str, Any]]:
    """Compute every expression query (:mod:`.metric_math`) and expand the ones that yield an array of time
    series into one result each (same Id; Label "<expression label> <metric label>"). A syntax error, an unknown
    function or id, a cycle or a scalar result is AWS's ValidationError; a function AWS has and the sandbox
    does not compute leaves that query's result empty with StatusCode InternalError and a message saying so."""
    by_id = {c["id"]: c for c in computed}
    metric_ids = [c["id"] for c in computed if "expr" not in c]
    values: dict[str, Any] = {}
    visiting: set[str] = set()
    s0 = _round_start(start, now)

    def resolve(qid: str) -> Any:
        if qid in values:
            return values[qid]
        c = by_id.get(qid)
        if c is None:
            raise metric_math.MathError(f"Unknown metric or expression id {qid}")
        if "expr" not in c:
            value: Any = metric_math.Series(c["label"], list(c["ts"]), list(c["vals"]), c["period"], s0, end)
        else:
            if qid in visiting:
                raise metric_math.MathError(f"Circular reference to {qid}")
            if isinstance(c["expr"], metric_math.Unsupported):
                raise c["expr"]
            visiting.add(qid)
            try:
                value = metric_math.evaluate(c["expr"], ctx, now)
            finally:
                visiting.discard(qid)
        values[qid] = value
        return value

    ctx = metric_math.Context(resolve, metric_ids)
    out: list[dict[str, Any]] = []
    for c in computed:
        if "expr" not in c:
            out.append(c)
            continue
        ctx.dropped[0] = False
        try:
            value = resolve(c["id"])
        except metric_math.MathError as exc:
            raise ValidationError(f"Error in expression {c['id']}: {exc}") from exc
        except metric_math.Unsupported as exc:
            out.append({**c, "ts": [], "vals": [], "status": "InternalError", "messages": [
                {"Code": "InternalError", "Value": f"The opstui sandbox does not compute {exc.name} in metric math "
                                                   "(AWS does): no data is returned for this expression."}]})
            continue
        messages = [{"Code": "ArithmeticError", "Value": metric_math.ARITHMETIC_MESSAGE}] if ctx.dropped[0] else []
        members = value if isinstance(value, list) else [value]
        if not all(isinstance(m, metric_math.Series) for m in members):
            raise ValidationError(f"Error in expression {c['id']}: the expression must return a time series or an "
                                  "array of time series, not a scalar")
        for member in members:
            label = c["label"] if not isinstance(value, list) else \
                (f"{c['label']} {member.label}" if c["label"] != c["id"] else member.label)
            out.append({**c, "label": label, "ts": list(member.ts), "vals": list(member.vals),
                        "messages": messages})
    return out


def get_metric_statistics(self: Any) -> Any:
    namespace = self._get_param("Namespace")
    name = self._get_param("MetricName")
    start = _ts(_as_datetime(self._get_param("StartTime")))
    end = _ts(_as_datetime(self._get_param("EndTime")))
    period = _check_period(self._get_param("Period"), "Period")
    stats = self._get_param("Statistics", []) or []
    extended = self._get_param("ExtendedStatistics", []) or []
    unit = self._get_param("Unit")
    dimensions = self._get_param("Dimensions", []) or []
    if not stats and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if stats and extended:
        raise InvalidParameterCombination(
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.")
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    for s in extended:
        if not _PCT.match(s):
            raise InvalidParameterValue(f"The value {s} for parameter ExtendedStatistics is not supported.")
    now = clock.now().timestamp()
    if (end - _round_start(start, now)) / period > 1440:
        raise InvalidParameterCombination(
            "You have requested up to 1,441 datapoints, which exceeds the limit of 1,440. You may reduce the "
            "datapoints requested by increasing Period, or decreasing the time range.")
    account, region = self.current_account, self.region
    dkey = dims_key(dimensions)
    by_ts: dict[float, dict[str, Any]] = {}
    metric_unit = unit or unit_of(account, region, namespace, name, dkey) or "None"
    for s in [*stats, *extended]:
        for ts, value, _cnt in series(account, region, namespace, name, dkey, start, end, period, s, unit=unit,
                                      now=now):
            point = by_ts.setdefault(ts, {"Timestamp": dt.datetime.fromtimestamp(ts, dt.UTC), "Unit": metric_unit})
            if s in BASIC_STATS:
                point[s] = value
            else:
                point.setdefault("ExtendedStatistics", {})[s] = value
    return ActionResult({"Label": name, "Datapoints": [by_ts[t] for t in sorted(by_ts)]})


def list_metrics(self: Any) -> Any:
    namespace = self._get_param("Namespace")
    name = self._get_param("MetricName")
    dims = self._get_params().get("Dimensions") or []
    recently = self._get_param("RecentlyActive")
    if recently is not None and recently != "PT3H":
        raise InvalidParameterValue(f"The value {recently} for parameter RecentlyActive is invalid.")
    token = self._get_param("NextToken")
    offset = int(_untoken(token).get("o", 0)) if token else 0
    account, region = self.current_account, self.region
    wanted = [(d["Name"], d.get("Value")) for d in dims]
    matched = []
    for ns, mname, dkey in all_metrics(account, region, recently_active=recently == "PT3H"):
        if namespace and ns != namespace:
            continue
        if name and mname != name:
            continue
        if wanted:
            d = dict(dkey)
            if any(k not in d or (v is not None and d[k] != v) for k, v in wanted):
                continue
        matched.append((ns, mname, dkey))
    page = matched[offset:offset + 500]
    result: dict[str, Any] = {"Metrics": [
        {"Namespace": ns, "MetricName": mname, "Dimensions": [{"Name": k, "Value": v} for k, v in dkey]}
        for ns, mname, dkey in page]}
    if offset + 500 < len(matched):
        result["NextToken"] = _token({"o": offset + 500})
    return ActionResult(result)


# ------------------------------------------------------------------------------------------------------------
# install


#: (region, instance id) -> sandbox time the agent started. node_state stamps real wall-clock time; the
#: metrics live on the sandbox clock (which tests and demos run ahead), so the start is re-stamped here.
_agent_started: dict[tuple[str, str], float] = {}


def backdate_agent(region: str, instance_id: str, since: dt.datetime) -> None:
    """A running agent that has been running since ``since`` (a scenario's pre-installed agents): its series
    have history from then on."""
    if node_state.cw_agent_running(region, instance_id):
        _agent_started[(region, instance_id)] = since.timestamp()


def _watch_agent() -> None:
    original_set_cw_agent = node_state.set_cw_agent
    original_set_package = node_state.set_package

    def set_cw_agent(region: str, instance_id: str, state: str | None = None, config: str | None = None,
                     settings: Any = None) -> None:
        was = node_state.cw_agent_running(region, instance_id)
        original_set_cw_agent(region, instance_id, state=state, config=config, settings=settings)
        running = node_state.cw_agent_running(region, instance_id)
        if running and not was:
            _agent_started[(region, instance_id)] = clock.now().timestamp()
        elif not running:
            _agent_started.pop((region, instance_id), None)

    def set_package(region: str, instance_id: str, name: str, version: str | None) -> None:
        original_set_package(region, instance_id, name, version)
        if not node_state.cw_agent_running(region, instance_id):
            _agent_started.pop((region, instance_id), None)

    node_state.set_cw_agent = set_cw_agent  # type: ignore[assignment]
    node_state.set_package = set_package  # type: ignore[assignment]


_recording = False  # off while a scenario is seeded: an instance seeded stopped has been stopped for ages


def _record_transition(instance: Any, running: bool) -> None:
    if not _recording:
        return
    now = clock.now().timestamp()
    down = instance.__dict__.setdefault("_opstui_down", [])
    if running:
        if down and down[-1][1] is None:
            down[-1][1] = now
    elif not down or down[-1][1] is not None:
        down.append([now, None])


# ------------------------------------------------------------------------------------------------------------
# the extension


class Metrics(Extension):
    """The metric APIs on generated data, the instance stop/start hooks; a fresh store and producer seed for
    each run, and stops recorded only while it runs."""

    name = "metrics"

    def patch(self) -> None:
        attach(CloudWatchResponse, put_metric_data, get_metric_data, get_metric_statistics, list_metrics)
        original_start, original_stop, original_terminate = Instance.start, Instance.stop, Instance.terminate

        def start(inst: Any, *a: Any, **kw: Any) -> Any:
            was = inst._state.name
            result = original_start(inst, *a, **kw)
            if was != "running" and _recording:
                if "_opstui_down" not in inst.__dict__:
                    inst.__dict__["_opstui_down"] = [[-math.inf, None]]
                _record_transition(inst, True)
            return result

        def going_down(original: Any) -> Any:
            """Stop and terminate: a running instance's down interval opens."""

            def wrapped(inst: Any, *a: Any, **kw: Any) -> Any:
                was = inst._state.name
                result = original(inst, *a, **kw)
                if was == "running":
                    _record_transition(inst, False)
                return result

            return wrapped

        Instance.start = start  # type: ignore[method-assign]
        Instance.stop = going_down(original_stop)  # type: ignore[method-assign]
        Instance.terminate = going_down(original_terminate)  # type: ignore[method-assign]
        _watch_agent()

    def prepare(self, sandbox: Sandbox) -> None:
        """After seeding: forget the last run's datapoints, seed the producer, record stops from now on."""
        global _recording
        clear()
        configure_seed(sandbox.seed)
        _list_cache.clear()
        _recording = True

    def stop(self, sandbox: Sandbox) -> None:
        """The next seeding must not record stops (an instance seeded stopped has been down for ages)."""
        global _recording
        _recording = False


EXTENSION = Metrics()
