"""CloudWatch Logs for Run Command output: an in-process writer and a FilterLogEvents that scales.

Why: the app follows a running command with ONE paged ``FilterLogEvents(logStreamNamePrefix="<CommandId>/")``
per poll and de-duplicates by ``eventId``. moto 5.2.5's FilterLogEvents ignores ``logStreamNamePrefix``
(every stream of the group comes back), only sorts when ``interleaved`` is set, and finds its place for a
``nextToken`` by scanning for the last event id -- wrong answers and O(n) per page. This module replaces the
response method (technique B) with one that

* honours ``logGroupName``/``logGroupIdentifier``, ``logStreamNames`` xor ``logStreamNamePrefix``
  (both -> ``InvalidParameterException`` as AWS), ``startTime``, ``endTime``, ``filterPattern`` (moto's
  matcher), ``limit`` (1-10,000, default 10,000) and ``nextToken``;
* returns events in (timestamp, eventId) order with ``logStreamName``, ``timestamp``, ``message``,
  ``ingestionTime`` and ``eventId``; a page also stops at ~1 MB of messages, as AWS's response-size cap does;
* pages by a token that encodes the last (timestamp, eventId) returned, so a page costs one pass over the
  matching streams' events (1,000 streams x a few events each: a few milliseconds), not a search;
* never changes the events: moto's own GetLogEvents/DescribeLogStreams see the same objects.

:func:`put_events` is how the Run Command executor writes output (no HTTP round trip): it creates the group
and stream on demand and appends moto ``LogEvent`` objects, so eventIds come from moto's global counter.
"""

from __future__ import annotations

import base64
import bisect
import heapq
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogEvent, LogStream, logs_backends
from moto.logs.responses import LogsResponse

from .extension import Extension, attach
from .filter_patterns import compile_pattern

#: One lock for every write the sandbox makes and for the snapshot a read takes of a group's streams.
LOCK = threading.RLock()
#: Called after events are stored, by put_events and by moto's PutLogEvents alike:
#: ``listener(account, region, group, stream, [LogEvent, ...])`` (metric filters, :mod:`.log_metric_filters`).
LISTENERS: list[Callable[[str, str, str, str, list[LogEvent]], None]] = []


def notify(account_id: str, region: str, group: str, stream: str, events: list[LogEvent]) -> None:
    for listener in list(LISTENERS):
        try:
            listener(account_id, region, group, stream, events)
        except Exception:  # a listener's bug must not fail the put (AWS stores the events regardless)
            continue
MAX_LIMIT = 10_000
MAX_PAGE_BYTES = 1_000_000
GET_PAGE_BYTES = 1_048_576  # GetLogEvents: "as many log events as can fit in a response size of 1 MB"
MAX_EVENT_CHARS = 256 * 1024 - 26  # AWS: 256 KB per event including 26 bytes of overhead


def put_events(account_id: str, region: str, group: str, stream: str, events: Iterable[tuple[int, str]]) -> int:
    """Append ``(timestamp_ms, message)`` events to ``group``/``stream`` (both created if missing)."""
    batch = [{"timestamp": ts, "message": msg} for ts, msg in events if msg]
    if not batch:
        return 0
    backend = logs_backends[account_id][region]
    with LOCK:
        log_group = backend.groups.get(group)
        if log_group is None:
            log_group = backend.create_log_group(group, tags={})
        log_stream = log_group.streams.get(stream)
        if log_stream is None:
            log_group.create_log_stream(stream)
            log_stream = log_group.streams[stream]
        ingestion = int(time.time() * 1000)
        new = [LogEvent(ingestion, e) for e in batch]
        log_stream.events.extend(new)
        log_stream.stored_bytes += sum(len(e["message"].encode("utf-8")) for e in batch)
    notify(account_id, region, group, stream, new)
    return len(new)


def _encode_token(group: str, ts: int, event_id: int) -> str:
    raw = json.dumps({"g": group, "t": ts, "e": event_id}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, group: str) -> tuple[int, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["g"] != group:
            raise ValueError("token of another group")
        return int(data["t"]), int(data["e"])
    except Exception as exc:
        raise InvalidParameterException("The specified nextToken is invalid.") from exc


class _View:
    """One stream's events sorted by (timestamp, eventId), with the timestamps apart for bisecting.

    Built once and extended in place while new events arrive in order (the agent's case); re-sorted only when
    an out-of-order batch arrives. Keyed by the stream object and the length of its event list."""

    __slots__ = ("events", "keys", "seen")

    def __init__(self) -> None:
        self.events: list[LogEvent] = []
        self.keys: list[tuple[int, int]] = []
        self.seen = 0

    def update(self, source: list[LogEvent]) -> None:
        n = len(source)
        if n == self.seen:
            return
        if n < self.seen:  # events were removed (retention, a reset): start over
            self.events, self.keys, self.seen = [], [], 0
        fresh = source[self.seen:n]
        fresh_sorted = sorted(fresh, key=lambda e: (e.timestamp, e.event_id))
        if not self.keys or (fresh_sorted and (fresh_sorted[0].timestamp, fresh_sorted[0].event_id) >= self.keys[-1]):
            self.events.extend(fresh_sorted)
            self.keys.extend((e.timestamp, e.event_id) for e in fresh_sorted)
        else:
            self.events = sorted(self.events + fresh_sorted, key=lambda e: (e.timestamp, e.event_id))
            self.keys = [(e.timestamp, e.event_id) for e in self.events]
        self.seen = n


_views: dict[int, tuple[Any, _View]] = {}


def sorted_view(stream: Any) -> _View:
    """The stream's events in (timestamp, eventId) order (cached; thread-safe under :data:`LOCK`)."""
    with LOCK:
        entry = _views.get(id(stream))
        if entry is None or entry[0] is not stream:
            entry = (stream, _View())
            _views[id(stream)] = entry
            if len(_views) > 20_000:
                _views.clear()
                _views[id(stream)] = entry
        entry[1].update(stream.events)
        return entry[1]


def _tagged(events: list[LogEvent], i: int, j: int, name: str) -> Iterator[tuple[int, int, str, LogEvent]]:
    for k in range(i, j):
        e = events[k]
        yield e.timestamp, e.event_id, name, e


def _group_name(self: Any) -> str:
    name = self._get_param("logGroupName") or self._get_param("logGroupIdentifier") or ""
    if name.startswith("arn:"):
        name = name.split(":log-group:", 1)[-1].removesuffix(":*")
    return name


def filter_log_events(self: Any) -> str:
    """FilterLogEvents, installed on moto's ``LogsResponse`` (see the module docstring)."""
    group_name = _group_name(self)
    names = self._get_param("logStreamNames") or []
    prefix = self._get_param("logStreamNamePrefix")
    if names and prefix:
        raise InvalidParameterException(
            "Cannot specify both logStreamNames and logStreamNamePrefix in the same request.")
    start = self._get_param("startTime")
    end = self._get_param("endTime")
    pattern = self._get_param("filterPattern")
    limit = self._get_param("limit")
    if limit is None:
        limit = MAX_LIMIT
    limit = int(limit)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterException(constraint=f"Member must have value between 1 and {MAX_LIMIT}",
                                        parameter="limit", value=limit)
    token = self._get_param("nextToken")
    after = _decode_token(token, group_name) if token else None
    matcher = compile_pattern(pattern) if pattern else None

    log_group = self.logs_backend.groups.get(group_name)
    if log_group is None:
        raise ResourceNotFoundException("The specified log group does not exist.")
    with LOCK:
        streams = list(log_group.streams.items())
    wanted = set(names)
    lo_key = (start, -1) if start is not None else None
    if after is not None:
        after_key = (after[0], after[1] + 1)
        lo_key = max(lo_key, after_key) if lo_key is not None else after_key
    hi_key = (end, 1 << 62) if end is not None else None
    iterators = []
    for name, stream in streams:
        if wanted and name not in wanted:
            continue
        if prefix and not name.startswith(prefix):
            continue
        view = sorted_view(stream)
        with LOCK:
            keys, events = view.keys, view.events
            i = bisect.bisect_left(keys, lo_key) if lo_key is not None else 0
            j = bisect.bisect_right(keys, hi_key) if hi_key is not None else len(keys)
        if i < j:  # the view's lists only grow at the end (or are replaced): indexes below j stay valid
            iterators.append(_tagged(events, i, j, name))
    page: list[dict[str, Any]] = []
    size = 0
    last: tuple[int, int] | None = None
    more = False
    for ts, event_id, name, event in heapq.merge(*iterators):
        if matcher is not None and not matcher.matches(event.message):
            continue
        if len(page) >= limit or (page and size + len(event.message) > MAX_PAGE_BYTES):
            more = True
            break
        size += len(event.message)
        page.append({"logStreamName": name, "timestamp": ts, "message": event.message,
                     "ingestionTime": event.ingestion_time, "eventId": str(event_id)})
        last = (ts, event_id)
    result: dict[str, Any] = {"events": page, "searchedLogStreams": []}
    if more and last is not None:
        result["nextToken"] = _encode_token(group_name, last[0], last[1])
    return json.dumps(result, ensure_ascii=False)


def _stream_token(direction: str, key: tuple[int, int]) -> str:
    """``f/`` or ``b/`` and 56 digits, the shape of AWS's GetLogEvents tokens: the (timestamp, eventId) edge."""
    return f"{direction}/{key[0]:020d}{key[1]:036d}"


def _read_stream_token(token: str) -> tuple[str, tuple[int, int]]:
    try:
        direction, digits = token.split("/", 1)
        if direction not in ("f", "b") or len(digits) != 56 or not digits.isdigit():
            raise ValueError(token)
        return direction, (int(digits[:20]), int(digits[20:]))
    except ValueError as exc:
        raise InvalidParameterException("The specified nextToken is invalid.") from exc


def get_log_events(self: Any) -> str:
    """GetLogEvents over the stream's sorted view
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html):
    ``startTime`` inclusive, ``endTime`` exclusive; ``limit`` 1-10,000, default as many as fit in 1 MB (up to
    10,000); without a token the newest events unless ``startFromHead``; ``nextForwardToken`` /
    ``nextBackwardToken`` name the page's edges, and at the end of the stream the token passed in comes back."""
    group_name = _group_name(self)
    stream_name = self._get_param("logStreamName")
    start = self._get_param("startTime")
    end = self._get_param("endTime")
    limit = self._get_param("limit")
    if limit is not None:
        limit = int(limit)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidParameterException(constraint=f"Member must have value between 1 and {MAX_LIMIT}",
                                            parameter="limit", value=limit)
    limit = limit or MAX_LIMIT
    token = self._get_param("nextToken")
    head = bool(self._get_param("startFromHead", False))
    log_group = self.logs_backend.groups.get(group_name)
    if log_group is None:
        raise ResourceNotFoundException("The specified log group does not exist.")
    stream = log_group.streams.get(stream_name)
    if stream is None:
        raise ResourceNotFoundException("The specified log stream does not exist.")
    view = sorted_view(stream)
    with LOCK:
        keys, events = view.keys, view.events
        lo = bisect.bisect_left(keys, (start, -1)) if start is not None else 0
        hi = bisect.bisect_left(keys, (end, -1)) if end is not None else len(keys)
        if token:
            direction, edge = _read_stream_token(token)
            if direction == "f":
                a = max(lo, bisect.bisect_right(keys, edge))
                forward = True
            else:
                b = min(hi, bisect.bisect_left(keys, edge))
                forward = False
        else:
            forward = head
            a, b = lo, hi
        picked: list[LogEvent] = []
        size = 0
        if forward:
            i = a
            while i < hi and len(picked) < limit:
                cost = len(events[i].message) + 26
                if picked and size + cost > GET_PAGE_BYTES:
                    break
                picked.append(events[i])
                size += cost
                i += 1
        else:
            i = b - 1
            while i >= lo and len(picked) < limit:
                cost = len(events[i].message) + 26
                if picked and size + cost > GET_PAGE_BYTES:
                    break
                picked.append(events[i])
                size += cost
                i -= 1
            picked.reverse()
    if picked:
        first = (picked[0].timestamp, picked[0].event_id)
        last = (picked[-1].timestamp, picked[-1].event_id)
        forward_token, backward_token = _stream_token("f", last), _stream_token("b", first)
    elif token:
        forward_token = backward_token = token
    else:
        edge = (end if end is not None else 0, 0)
        forward_token, backward_token = _stream_token("f", edge), _stream_token("b", edge)
    return json.dumps({"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                                  for e in picked],
                       "nextForwardToken": forward_token, "nextBackwardToken": backward_token}, ensure_ascii=False)


MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000


def put_log_events(self: Any) -> str:
    """PutLogEvents with AWS's batch limits before moto's own checks (order, age)
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html): 1-10,000
    events, at most 1,048,576 bytes counting 26 bytes an event, at most 24 hours between the first and last,
    each event at most 1,048,576 bytes."""
    events = self._get_param("logEvents") or []
    if not 1 <= len(events) <= MAX_BATCH_EVENTS:
        raise InvalidParameterException(constraint=f"Member must have length less than or equal to "
                                        f"{MAX_BATCH_EVENTS}", parameter="logEvents", value=len(events))
    size = sum(len(str(e.get("message", "")).encode("utf-8")) + 26 for e in events)
    if size > MAX_BATCH_BYTES:
        raise InvalidParameterException("Log events in a single PutLogEvents request cannot exceed 1048576 bytes.")
    stamps = [int(e.get("timestamp", 0)) for e in events]
    if stamps and max(stamps) - min(stamps) > MAX_BATCH_SPAN_MS:
        raise InvalidParameterException("The batch of log events in a single PutLogEvents request cannot span "
                                        "more than 24 hours.")
    return _ORIGINAL_PUT(self)


_ORIGINAL_PUT = LogsResponse.put_log_events


def _notifying_put(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's per-stream put, followed by :func:`notify` (metric filters see HTTP puts too)."""

    def put(stream: Any, log_events: list[dict[str, Any]]) -> Any:
        before = len(stream.events)
        result = original(stream, log_events)
        new = stream.events[before:]
        group = getattr(stream, "log_group", None)
        notify(stream.account_id, stream.region, group.name if group is not None else "", stream.log_stream_name,
               new)
        return result

    return put


# --------------------------------------------------------------------------------------------
# the extension


class LogsFast(Extension):
    """An indexed FilterLogEvents and GetLogEvents, PutLogEvents' batch limits, put listeners."""

    name = "logs"

    def patch(self) -> None:
        attach(LogsResponse, filter_log_events, get_log_events, put_log_events)
        LogStream.put_log_events = _notifying_put(LogStream.put_log_events)  # type: ignore[method-assign]


EXTENSION = LogsFast()
