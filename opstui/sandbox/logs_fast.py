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
import json
import threading
import time
from collections.abc import Iterable
from typing import Any

from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogEvent, logs_backends
from moto.logs.responses import LogsResponse
from moto.logs.utils import EventMessageFilter

from .extension import Extension, attach

#: One lock for every write the sandbox makes and for the snapshot a read takes of a group's streams.
LOCK = threading.RLock()
MAX_LIMIT = 10_000
MAX_PAGE_BYTES = 1_000_000
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
        log_stream.stored_bytes += sum(len(e["message"]) for e in batch)
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


def filter_log_events(self: Any) -> str:
    """FilterLogEvents, installed on moto's ``LogsResponse`` (see the module docstring)."""
    group_name = self._get_param("logGroupName") or self._get_param("logGroupIdentifier") or ""
    if group_name.startswith("arn:"):
        group_name = group_name.split(":log-group:", 1)[-1].removesuffix(":*")
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

    log_group = self.logs_backend.groups.get(group_name)
    if log_group is None:
        raise ResourceNotFoundException("The specified log group does not exist.")
    with LOCK:
        streams = list(log_group.streams.items())
    wanted = set(names)
    matcher = EventMessageFilter(pattern) if pattern else None
    found: list[tuple[int, int, str, LogEvent]] = []
    for name, stream in streams:
        if wanted and name not in wanted:
            continue
        if prefix and not name.startswith(prefix):
            continue
        for event in list(stream.events):
            ts = event.timestamp
            if start is not None and ts < start:
                continue
            if end is not None and ts > end:
                continue
            if after is not None and (ts, event.event_id) <= after:
                continue
            if matcher is not None and not matcher.matches(event.message):
                continue
            found.append((ts, event.event_id, name, event))
    found.sort(key=lambda row: (row[0], row[1]))
    page: list[dict[str, Any]] = []
    size = 0
    for ts, event_id, name, event in found:
        if len(page) >= limit or (page and size + len(event.message) > MAX_PAGE_BYTES):
            break
        size += len(event.message)
        page.append({"logStreamName": name, "timestamp": ts, "message": event.message,
                     "ingestionTime": event.ingestion_time, "eventId": str(event_id)})
    result: dict[str, Any] = {"events": page, "searchedLogStreams": []}
    if len(page) < len(found):
        last = found[len(page) - 1]
        result["nextToken"] = _encode_token(group_name, last[0], last[1])
    return json.dumps(result, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# the extension


class LogsFast(Extension):
    """An indexed FilterLogEvents (Run Command output streams)."""

    name = "logs"

    def patch(self) -> None:
        attach(LogsResponse, filter_log_events)


EXTENSION = LogsFast()
