"""CloudWatch Logs calls: groups, streams, events, following, Logs Insights and metric filters.

Reading:

* :func:`describe_log_groups` / :func:`describe_log_streams`: paged by botocore's paginators (never a hand
  rolled token loop). ``orderBy=LastEventTime`` cannot be combined with a name prefix (AWS answers
  ``InvalidParameterException``), so a prefix lists by name:
  https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogStreams.html
* :func:`filter_events`: one FilterLogEvents page, interleaved across the group's streams in timestamp
  order, with ``nextToken``; ``logStreamNames`` (≤ 100) or ``logStreamNamePrefix``, never both:
  https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
* :func:`get_log_events`: one stream, either direction, with ``nextForwardToken``/``nextBackwardToken``
  (AWS gives back the same token at the end of the stream):
  https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html

Following (``tail -f``), two ways with one update shape (:class:`FollowUpdate`):

* :class:`LiveTailFollower`, the default: StartLiveTail sessions
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartLiveTail.html), whose event
  streams (aiobotocore's ``AioEventStream``, read by a task per session on the AWS loop) push a
  ``sessionUpdate`` every second. A session takes at most 10 groups, and stream names or prefixes only with
  one group, so targets narrowed to streams get a session each and the rest share sessions of 10, per
  region. Live Tail streams only what arrives after it starts: the history since ``start_ms`` comes from one
  FilterLogEvents poll (the same :class:`LogFollower`), and what both return in the overlap is shown once
  (Live Tail events carry no eventId, so the overlap is matched on group, stream, timestamp and message).
  If StartLiveTail fails at the start -- ``UnknownOperationException``/``InvalidAction`` (an endpoint that
  does not have it), ``AccessDeniedException`` (no ``logs:StartLiveTail``), ``InvalidOperationException``
  (an Infrequent Access group), the ``stream-`` endpoint unreachable, or any other error (a polling follow
  then reports it per group) -- the follower polls instead, for good, and says why (``mode``, ``reason``).
  A session that ends later (the three-hour limit, a dropped connection) is started again at the next poll,
  with a FilterLogEvents catch-up from the newest event seen.
* :class:`LogFollower` polls with **one paged FilterLogEvents per group per poll** (a node's stream inside a
  shared group is a stream-name prefix, not a call of its own), re-reads a little before the newest event it
  has seen (FilterLogEvents is eventually consistent: an event can become visible after a later one) and
  drops what it already returned by (group, stream, timestamp, eventId).

With an ``endpoint_url`` (the sandbox, LocalStack) ``AwsClients`` turns off botocore's host-prefix injection,
which would send StartLiveTail to ``stream-<host>`` (``stream-127.0.0.1`` resolves nowhere; botocore does not
skip the prefix for IP literals).

Logs Insights: :func:`start_query`, :func:`get_query_results`, :func:`stop_query`, :func:`run_query`
(start, poll until done, stop on cancel). Times are epoch **seconds** in StartQuery:
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html

Saved queries: :func:`describe_query_definitions` (the console's "Saved queries"). botocore has no paginator
for DescribeQueryDefinitions, so this is the one ``nextToken`` loop of the module (maxResults ≤ 1000):
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeQueryDefinitions.html

Metric filters: :func:`put_metric_filter`, :func:`describe_metric_filters`, :func:`delete_metric_filter`.

Read-only mode: the guard in ``clients.py`` lets through only Describe/List/Get/Filter... operations, so
PutMetricFilter, DeleteMetricFilter (changes) and also StartQuery/StopQuery/StartLiveTail are refused in
read-only mode. IAM counts those three as reads (the AWS managed policy CloudWatchLogsReadOnlyAccess grants
``logs:StartQuery``, ``logs:StopQuery``, ``logs:StartLiveTail``:
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/CloudWatchLogsReadOnlyAccess.html), but each
starts something billed, and the guard fails closed on names and is not special-cased here: in read-only mode
Insights is disabled (greyed) and says so, and :class:`LiveTailFollower` polls FilterLogEvents instead (its
``reason`` says why). Widening the guard is a decision for the guard, not for one service module.

Run Command's output streams (``<command-id>/<instance-id>/<plugin>/stdout|stderr``) are read by
:class:`LogCursor`, the same technique for one prefix of one group.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.logs_models import (
    EventPage,
    LogEvent,
    LogGroup,
    LogStream,
    MetricFilter,
    MetricTransformation,
    QueryDefinition,
    QueryResults,
    QueryStatistics,
    StreamPage,
    ms_to_dt,
)

PAGE_SIZE = 10_000  # FilterLogEvents' maximum `limit`
OVERLAP_MS = 10_000  # how far back each poll re-reads, to catch late-visible events
MAX_STREAM_NAMES = 100  # FilterLogEvents' logStreamNames limit
DEFAULT_NAMESPACE = "LogMetrics"


def _event(e: dict[str, Any], group: str = "", region: str = "") -> LogEvent:
    stream = str(e.get("logStreamName") or "")
    ts = int(e.get("timestamp") or 0)
    event_id = str(e.get("eventId") or f"{stream}/{ts}/{hash(e.get('message'))}")
    return LogEvent(event_id, stream, ts, str(e.get("message") or ""), group, region, int(e.get("ingestionTime") or 0))


# -- groups and streams ---------------------------------------------------------------------------------------


async def describe_log_groups(aws: AwsClients, region: str, prefix: str = "") -> list[LogGroup]:
    params: dict[str, Any] = {"logGroupNamePrefix": prefix} if prefix else {}
    out: list[LogGroup] = []
    async for page in aws.paginate("logs", region, "describe_log_groups", "logGroups", **params):
        for g in page:
            retention = g.get("retentionInDays")
            out.append(LogGroup(
                region=region, name=str(g.get("logGroupName") or ""), arn=str(g.get("arn") or ""),
                created=ms_to_dt(g.get("creationTime")), retention_days=int(retention) if retention else None,
                stored_bytes=int(g.get("storedBytes") or 0), metric_filters=int(g.get("metricFilterCount") or 0),
                log_class=str(g.get("logGroupClass") or ""),
            ))
    return out


async def describe_log_streams(aws: AwsClients, region: str, group: str, prefix: str = "",
                               max_streams: int | None = None) -> list[LogStream]:
    """Newest first (by last event) without a prefix; by name with one (AWS allows no other combination)."""
    params: dict[str, Any] = {"logGroupName": group}
    if prefix:
        params.update(logStreamNamePrefix=prefix, orderBy="LogStreamName")
    else:
        params.update(orderBy="LastEventTime", descending=True)
    out: list[LogStream] = []
    async for page in aws.paginate("logs", region, "describe_log_streams", "logStreams", **params):
        for s in page:
            out.append(LogStream(
                region=region, group=group, name=str(s.get("logStreamName") or ""),
                created=ms_to_dt(s.get("creationTime")), first_event=ms_to_dt(s.get("firstEventTimestamp")),
                last_event=ms_to_dt(s.get("lastEventTimestamp")), last_ingestion=ms_to_dt(s.get("lastIngestionTime")),
                stored_bytes=int(s.get("storedBytes") or 0),
            ))
        if max_streams is not None and len(out) >= max_streams:
            return out[:max_streams]
    return out


# -- events ---------------------------------------------------------------------------------------------------


def _filter_params(group: str, *, stream_names: Sequence[str] = (), stream_prefix: str = "",
                   start_ms: int | None = None, end_ms: int | None = None, pattern: str = "") -> dict[str, Any]:
    if stream_names and stream_prefix:
        raise OpsError("give stream names or a stream prefix, not both", kind="invalid", service="logs",
                       operation="FilterLogEvents")
    if len(stream_names) > MAX_STREAM_NAMES:
        raise OpsError(f"at most {MAX_STREAM_NAMES} stream names per group (got {len(stream_names)})",
                       kind="invalid", service="logs", operation="FilterLogEvents",
                       hint="use a stream prefix instead")
    params: dict[str, Any] = {"logGroupName": group}
    if stream_names:
        params["logStreamNames"] = list(stream_names)
    if stream_prefix:
        params["logStreamNamePrefix"] = stream_prefix
    if start_ms:
        params["startTime"] = int(start_ms)
    if end_ms:
        params["endTime"] = int(end_ms)
    if pattern.strip():
        params["filterPattern"] = pattern
    return params


async def filter_events(aws: AwsClients, region: str, group: str, *, stream_names: Sequence[str] = (),
                        stream_prefix: str = "", start_ms: int | None = None, end_ms: int | None = None,
                        pattern: str = "", limit: int = PAGE_SIZE, next_token: str | None = None) -> EventPage:
    """One FilterLogEvents page: events of every matching stream, interleaved by timestamp."""
    params = _filter_params(group, stream_names=stream_names, stream_prefix=stream_prefix, start_ms=start_ms,
                            end_ms=end_ms, pattern=pattern)
    params["limit"] = max(1, min(int(limit), PAGE_SIZE))
    if next_token:
        params["nextToken"] = next_token
    resp = await aws.call("logs", region, "filter_log_events", **params)
    events = tuple(_event(e, group, region) for e in resp.get("events", []))
    return EventPage(events, resp.get("nextToken") or None)


async def filter_all(aws: AwsClients, region: str, group: str, *, max_events: int = 100_000,
                     **kwargs: Any) -> list[LogEvent]:
    """Every page of FilterLogEvents (botocore's paginator), up to ``max_events``, in timestamp order."""
    params = _filter_params(group, **kwargs)
    params["PaginationConfig"] = {"PageSize": PAGE_SIZE}
    out: list[LogEvent] = []
    async for page in aws.paginate("logs", region, "filter_log_events", "events", **params):
        out.extend(_event(e, group, region) for e in page)
        if len(out) >= max_events:
            return out[:max_events]
    return out


async def get_log_events(aws: AwsClients, region: str, group: str, stream: str, *, start_from_head: bool = False,
                         next_token: str | None = None, limit: int = 10_000,
                         start_ms: int | None = None, end_ms: int | None = None) -> StreamPage:
    """One page of one stream. Without a token: the newest events (``startFromHead`` False), as AWS does."""
    params: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": start_from_head,
                              "limit": max(1, min(int(limit), 10_000))}
    if next_token:
        params["nextToken"] = next_token
    if start_ms:
        params["startTime"] = int(start_ms)
    if end_ms:
        params["endTime"] = int(end_ms)
    resp = await aws.call("logs", region, "get_log_events", **params)
    events = tuple(_event({**e, "logStreamName": stream}, group, region) for e in resp.get("events", []))
    return StreamPage(events, resp.get("nextForwardToken") or None, resp.get("nextBackwardToken") or None)


# -- following ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowTarget:
    """One group to follow in one region, optionally narrowed to some streams (a node's: its id as prefix)."""

    region: str
    group: str
    stream_names: tuple[str, ...] = ()
    stream_prefix: str = ""

    @property
    def label(self) -> str:
        narrowed = self.stream_prefix or ",".join(self.stream_names)
        return f"{self.group}" + (f" [{narrowed}]" if narrowed else "")


@dataclass
class FollowUpdate:
    events: list[LogEvent]
    errors: dict[FollowTarget, OpsError] = field(default_factory=dict)
    calls: int = 0


@dataclass
class LogFollower:
    """Follows several groups at once, merged by time: ``poll()`` returns only events not returned before.

    One paged FilterLogEvents per target per poll (targets run concurrently); a target that fails (denied,
    group deleted) is reported in the update and the others go on. ``max_backlog`` caps the first poll per
    target (the newest ones are kept), so following a busy group from ``--since 1h`` does not swallow memory.
    """

    targets: list[FollowTarget]
    pattern: str = ""
    start_ms: int = 0
    overlap_ms: int = OVERLAP_MS
    max_backlog: int = 50_000
    newest_ms: dict[FollowTarget, int] = field(default_factory=dict)
    polls: int = 0
    _seen: dict[tuple[str, str, int, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.start_ms:
            self.start_ms = int(time.time() * 1000) - 5 * 60_000

    async def _poll_one(self, aws: AwsClients, target: FollowTarget) -> list[LogEvent]:
        newest = self.newest_ms.get(target, 0)
        start = max(self.start_ms, newest - self.overlap_ms) if newest else self.start_ms
        events = await filter_all(aws, target.region, target.group, stream_names=target.stream_names,
                                  stream_prefix=target.stream_prefix, start_ms=start, pattern=self.pattern,
                                  max_events=10 * self.max_backlog)
        if not newest and len(events) > self.max_backlog:
            events = events[-self.max_backlog:]
        return events

    async def poll(self, aws: AwsClients) -> FollowUpdate:
        """The new events of every target, merged by time. Nothing is recorded until every target answered
        (or failed), so a poll cancelled half-way loses nothing: the next one reads the same window again."""
        results = await asyncio.gather(*(self._poll_one(aws, t) for t in self.targets), return_exceptions=True)
        self.polls += 1
        update = FollowUpdate([], calls=len(self.targets))
        for target, result in zip(self.targets, results, strict=True):
            if isinstance(result, OpsError):
                update.errors[target] = result
                continue
            if isinstance(result, BaseException):
                raise result
            if result:  # pages come in timestamp order
                self.newest_ms[target] = max(self.newest_ms.get(target, 0), result[-1].timestamp)
            for e in result:
                if e.key in self._seen:
                    continue
                self._seen[e.key] = e.timestamp
                update.events.append(e)
        update.events.sort(key=lambda e: (e.timestamp, e.group, e.stream, e.event_id))
        self._prune()
        return update

    def _prune(self) -> None:
        if not self.newest_ms or len(self._seen) < 200_000:
            return
        horizon = min(self.newest_ms.values()) - 2 * self.overlap_ms
        self._seen = {k: ts for k, ts in self._seen.items() if ts >= horizon}


LIVE_TAIL_MAX_GROUPS = 10  # StartLiveTail's logGroupIdentifiers limit


def _content_key(e: LogEvent) -> tuple[str, str, int, str]:
    """What Live Tail and FilterLogEvents both say about an event (Live Tail gives no eventId)."""
    return (e.group, e.stream, e.timestamp, e.message)


def live_tail_sessions(targets: Sequence[FollowTarget]) -> list[list[FollowTarget]]:
    """The sessions that cover these targets: per region, a target narrowed to streams alone (AWS allows
    stream names or prefixes only with one group), the others together, at most 10 groups a session."""
    sessions: list[list[FollowTarget]] = []
    whole: dict[str, list[FollowTarget]] = {}
    for t in targets:
        if t.stream_names or t.stream_prefix:
            sessions.append([t])
        else:
            whole.setdefault(t.region, []).append(t)
    for group in whole.values():
        sessions += [group[i:i + LIVE_TAIL_MAX_GROUPS] for i in range(0, len(group), LIVE_TAIL_MAX_GROUPS)]
    return sessions


@dataclass
class LiveTailFollower:
    """Follows like :class:`LogFollower` (same ``poll()`` and update), through StartLiveTail where it works.

    ``mode`` is "starting" until the first poll, then "live tail" or "polling" (``reason`` says why). In live
    mode ``poll()`` returns what the sessions pushed since the last poll (at once, or after waiting up to
    ``wait`` seconds for the next update); nothing is lost while nobody polls, up to ``max_backlog`` events
    (the oldest are dropped and counted in ``dropped``). Call :meth:`close` on the loop that polled.
    """

    targets: list[FollowTarget]
    pattern: str = ""
    start_ms: int = 0
    max_backlog: int = 50_000
    mode: str = "starting"
    reason: str = ""
    sessions: int = 0
    sampled: int = 0  # updates AWS sampled down to 500 events
    dropped: int = 0
    polls: int = 0
    poller: LogFollower = field(init=False)
    _buffer: list[LogEvent] = field(default_factory=list)
    _arns: dict[tuple[str, str], str] = field(default_factory=dict)
    _streams: list[Any] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _ended: OpsError | None = None
    _wake: asyncio.Event | None = None
    _backfilled: dict[tuple[str, str, int, str], int] = field(default_factory=dict)
    _live: dict[tuple[str, str, int, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.targets = list(self.targets)
        self.poller = LogFollower(self.targets, pattern=self.pattern, start_ms=self.start_ms,
                                  max_backlog=self.max_backlog)
        self.start_ms = self.poller.start_ms

    async def poll(self, aws: AwsClients, wait: float = 0.0) -> FollowUpdate:
        self.polls += 1
        if self.mode == "polling":
            return await self.poller.poll(aws)
        if self.mode == "starting" or self._ended is not None:
            return await self._start(aws)
        if wait > 0 and not self._buffer and self._wake is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
        if self._wake is not None:
            self._wake.clear()
        return FollowUpdate(self._take_live(), calls=0)

    async def _start(self, aws: AwsClients) -> FollowUpdate:
        restarting = self._ended is not None
        await self.close()
        self._ended = None
        self._wake = asyncio.Event()
        try:
            for session in live_tail_sessions(self.targets):
                await self._open(aws, session)
        except OpsError as err:
            await self.close()
            self.mode = "polling"
            self.reason = f"Live Tail {'ended' if restarting else 'unavailable'}: {err}"
            return await self.poller.poll(aws)
        self.mode = "live tail"
        self.sessions = len(self._streams)
        # the history (or, after a restart, the gap) from FilterLogEvents; Live Tail runs from now on
        update = await self.poller.poll(aws)
        fresh = []
        for e in update.events:
            key = _content_key(e)
            if key in self._live:
                continue
            self._backfilled[key] = e.timestamp
            fresh.append(e)
        live = self._take_live()
        update.events = sorted(fresh + live, key=lambda e: (e.timestamp, e.group, e.stream, e.event_id))
        update.calls += self.sessions
        return update

    async def _arn(self, aws: AwsClients, target: FollowTarget) -> str:
        key = (target.region, target.group)
        if key not in self._arns:
            groups = await describe_log_groups(aws, target.region, prefix=target.group)
            arn = next((g.arn for g in groups if g.name == target.group), "")
            if not arn:
                raise OpsError(f"log group {target.group} not found", kind="not-found", service="logs",
                               region=target.region, operation="DescribeLogGroups")
            self._arns[key] = arn.removesuffix(":*")  # Live Tail refuses an ARN ending in *
        return self._arns[key]

    async def _open(self, aws: AwsClients, session: list[FollowTarget]) -> None:
        region = session[0].region
        arns = {await self._arn(aws, t): t.group for t in session}
        params: dict[str, Any] = {"logGroupIdentifiers": list(arns)}
        only = session[0]
        if only.stream_names:
            params["logStreamNames"] = list(only.stream_names[:MAX_STREAM_NAMES])
        elif only.stream_prefix:
            params["logStreamNamePrefixes"] = [only.stream_prefix]
        if self.pattern.strip():
            params["logEventFilterPattern"] = self.pattern
        resp = await aws.call("logs", region, "start_live_tail", **params)
        stream = resp["responseStream"]
        self._streams.append(stream)
        self._tasks.append(asyncio.get_running_loop().create_task(self._read(aws, stream, region, arns)))

    async def _read(self, aws: AwsClients, stream: Any, region: str, arns: dict[str, str]) -> None:
        try:
            async for event in stream:
                update = event.get("sessionUpdate")
                if update is None:
                    continue  # sessionStart
                if (update.get("sessionMetadata") or {}).get("sampled"):
                    self.sampled += 1
                for r in update.get("sessionResults") or []:
                    ident = str(r.get("logGroupIdentifier") or "")
                    group = arns.get(ident.removesuffix(":*")) or ident.rsplit(":log-group:", 1)[-1]
                    ts, message = int(r.get("timestamp") or 0), str(r.get("message") or "")
                    stream_name = str(r.get("logStreamName") or "")
                    self._buffer.append(LogEvent(f"live/{stream_name}/{ts}/{hash(message)}", stream_name, ts, message,
                                                 group, region, int(r.get("ingestionTime") or 0)))
                if len(self._buffer) > self.max_backlog:
                    self.dropped += len(self._buffer) - self.max_backlog
                    del self._buffer[:len(self._buffer) - self.max_backlog]
                if self._wake is not None:
                    self._wake.set()
            self._ended = OpsError("the Live Tail session ended", service="logs", region=region,
                                   operation="StartLiveTail")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a stream error (timeout event, dropped connection): restart
            self._ended = aws.error(exc, "logs", region, "StartLiveTail")
        if self._wake is not None:
            self._wake.set()

    def _take_live(self) -> list[LogEvent]:
        events, self._buffer = self._buffer, []
        out = []
        for e in events:
            key = _content_key(e)
            if key in self._backfilled:
                continue
            self._live[key] = e.timestamp
            out.append(e)
            for t in self.targets:  # a restart's catch-up poll reads from here
                if t.region == e.region and t.group == e.group:
                    self.poller.newest_ms[t] = max(self.poller.newest_ms.get(t, 0), e.timestamp)
        out.sort(key=lambda e: (e.timestamp, e.group, e.stream, e.event_id))
        self._prune()
        return out

    def _prune(self) -> None:
        for seen in (self._backfilled, self._live):
            if len(seen) > 200_000:
                horizon = max(seen.values()) - 2 * OVERLAP_MS
                for key in [k for k, ts in seen.items() if ts < horizon]:
                    del seen[key]

    async def close(self) -> None:
        """End the sessions (closing a stream ends it at AWS too) and their readers."""
        tasks, self._tasks = self._tasks, []
        streams, self._streams = self._streams, []
        for task in tasks:
            task.cancel()
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.close()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


# -- Logs Insights --------------------------------------------------------------------------------------------


async def start_query(aws: AwsClients, region: str, groups: Sequence[str], query: str, start_s: int, end_s: int,
                      limit: int | None = None) -> str:
    if not groups:
        raise OpsError("pick at least one log group to query", kind="invalid", service="logs", region=region,
                       operation="StartQuery")
    if not query.strip():
        raise OpsError("the query is empty", kind="invalid", service="logs", region=region, operation="StartQuery",
                       hint="e.g. fields @timestamp, @message | sort @timestamp desc | limit 20")
    params: dict[str, Any] = {"logGroupNames": list(groups), "queryString": query, "startTime": int(start_s),
                              "endTime": int(end_s)}
    if limit:
        params["limit"] = int(limit)
    resp = await aws.call("logs", region, "start_query", **params)
    return str(resp.get("queryId") or "")


def _results(query_id: str, resp: dict[str, Any]) -> QueryResults:
    rows = tuple(tuple((str(c.get("field") or ""), str(c.get("value") or "")) for c in row)
                 for row in resp.get("results", []))
    stats = resp.get("statistics") or {}
    return QueryResults(query_id, str(resp.get("status") or "Unknown"), rows,
                        QueryStatistics(float(stats.get("recordsMatched") or 0), float(stats.get("recordsScanned") or 0),
                                        float(stats.get("bytesScanned") or 0)))


async def get_query_results(aws: AwsClients, region: str, query_id: str) -> QueryResults:
    return _results(query_id, await aws.call("logs", region, "get_query_results", queryId=query_id))


async def stop_query(aws: AwsClients, region: str, query_id: str) -> bool:
    resp = await aws.call("logs", region, "stop_query", queryId=query_id)
    return bool(resp.get("success"))


async def run_query(aws: AwsClients, region: str, groups: Sequence[str], query: str, start_s: int, end_s: int,
                    *, poll: float = 0.5, timeout: float = 120, limit: int | None = None) -> QueryResults:
    """Start, poll until the query is done (or ``timeout``), stop it if cancelled or timed out."""
    query_id = await start_query(aws, region, groups, query, start_s, end_s, limit)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            results = await get_query_results(aws, region, query_id)
            if results.done:
                return results
            if loop.time() > deadline:
                await stop_query(aws, region, query_id)
                raise OpsError(f"the query did not finish in {timeout:.0f} s", kind="error", service="logs",
                               region=region, operation="GetQueryResults", hint="narrow the time range or the groups")
            await asyncio.sleep(poll)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # best effort: AWS stops it after 60 minutes anyway
            await asyncio.shield(stop_query(aws, region, query_id))
        raise


MAX_DEFINITIONS = 1000  # DescribeQueryDefinitions' maximum maxResults


async def describe_query_definitions(aws: AwsClients, region: str, prefix: str = "",
                                     max_pages: int = 100) -> list[QueryDefinition]:
    """The region's saved Logs Insights queries, by name. botocore has no paginator for this operation, so the
    ``nextToken`` loop is here; ``max_pages`` bounds it against an endpoint that never stops handing out tokens."""
    params: dict[str, Any] = {"maxResults": MAX_DEFINITIONS}
    if prefix:
        params["queryDefinitionNamePrefix"] = prefix
    out: list[QueryDefinition] = []
    seen_tokens: set[str] = set()
    for _ in range(max_pages):
        resp = await aws.call("logs", region, "describe_query_definitions", **params)
        for d in resp.get("queryDefinitions") or []:
            out.append(QueryDefinition(region, str(d.get("queryDefinitionId") or ""), str(d.get("name") or ""),
                                       str(d.get("queryString") or ""),
                                       tuple(str(g) for g in d.get("logGroupNames") or []),
                                       ms_to_dt(d.get("lastModified"))))
        token = resp.get("nextToken")
        if not token or token in seen_tokens:
            break
        seen_tokens.add(token)
        params["nextToken"] = token
    return sorted(out, key=lambda d: (d.name, d.definition_id))


# -- metric filters -------------------------------------------------------------------------------------------


def _transformation(t: dict[str, Any]) -> MetricTransformation:
    default = t.get("defaultValue")
    dims = tuple(sorted((str(k), str(v)) for k, v in (t.get("dimensions") or {}).items()))
    return MetricTransformation(str(t.get("metricName") or ""), str(t.get("metricNamespace") or ""),
                                str(t.get("metricValue") or ""), float(default) if default is not None else None,
                                str(t.get("unit") or ""), dims)


async def describe_metric_filters(aws: AwsClients, region: str, group: str = "", *, metric_name: str = "",
                                  namespace: str = "") -> list[MetricFilter]:
    """A group's filters, or (by metric) the filters that feed one metric: AWS wants name and namespace together."""
    params: dict[str, Any] = {}
    if group:
        params["logGroupName"] = group
    if metric_name:
        params.update(metricName=metric_name, metricNamespace=namespace)
    out: list[MetricFilter] = []
    async for page in aws.paginate("logs", region, "describe_metric_filters", "metricFilters", **params):
        for f in page:
            out.append(MetricFilter(region, str(f.get("logGroupName") or ""), str(f.get("filterName") or ""),
                                    str(f.get("filterPattern") or ""),
                                    tuple(_transformation(t) for t in f.get("metricTransformations") or []),
                                    ms_to_dt(f.get("creationTime"))))
    return out


async def put_metric_filter(aws: AwsClients, region: str, group: str, name: str, pattern: str, metric_name: str,
                            namespace: str = DEFAULT_NAMESPACE, value: str = "1",
                            default_value: float | None = 0) -> None:
    """Create or replace a filter: each matching event adds ``value`` to the metric (0 when nothing matched)."""
    transformation: dict[str, Any] = {"metricName": metric_name, "metricNamespace": namespace, "metricValue": value}
    if default_value is not None:
        transformation["defaultValue"] = default_value
    await aws.call("logs", region, "put_metric_filter", logGroupName=group, filterName=name, filterPattern=pattern,
                   metricTransformations=[transformation])


async def delete_metric_filter(aws: AwsClients, region: str, group: str, name: str) -> None:
    await aws.call("logs", region, "delete_metric_filter", logGroupName=group, filterName=name)


def metric_filter_problems(name: str, pattern: str, metric_name: str, namespace: str, value: str) -> dict[str, str]:
    """What the form must fix before PutMetricFilter, by field (AWS's limits: names 1-512, no ':' or '*' in
    a filter name; metric names and namespaces 1-255; a value is a number or a $.field/$name reference)."""
    problems: dict[str, str] = {}
    if not name.strip():
        problems["name"] = "a filter name is required"
    elif len(name) > 512 or ":" in name or "*" in name:
        problems["name"] = "1-512 characters, no ':' or '*'"
    if len(pattern) > 1024:
        problems["pattern"] = "at most 1024 characters"
    for key, text in (("metric", metric_name), ("namespace", namespace)):
        if not text.strip():
            problems[key] = "required"
        elif len(text) > 255 or ":" in text and key == "metric":
            problems[key] = "1-255 characters" + (", no ':'" if key == "metric" else "")
    v = value.strip()
    if not v:
        problems["value"] = "required (1 counts each matching event)"
    elif not v.startswith("$"):
        try:
            float(v)
        except ValueError:
            problems["value"] = "a number, or $.field / $name from the pattern"
    return problems


# -- Run Command output ---------------------------------------------------------------------------------------


@dataclass
class LogCursor:
    """Incremental reader of every stream under `prefix` in `group` (one region)."""

    group: str
    prefix: str
    start_ms: int = 0
    overlap_ms: int = OVERLAP_MS
    newest_ms: int = 0
    _seen: dict[str, int] = field(default_factory=dict)  # eventId -> timestamp, pruned behind the overlap
    group_missing: bool = False  # the group does not exist (yet): no node has written output

    async def poll(self, aws: AwsClients, region: str) -> list[LogEvent]:
        """The events not returned before, in timestamp order."""
        start = max(self.start_ms, self.newest_ms - self.overlap_ms)
        params: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": self.prefix,
                                  "PaginationConfig": {"PageSize": PAGE_SIZE}}
        if start:
            params["startTime"] = start
        fresh: list[LogEvent] = []
        try:
            async for page in aws.paginate("logs", region, "filter_log_events", "events", **params):
                for e in page:
                    event_id = e.get("eventId") or f"{e.get('logStreamName')}/{e.get('timestamp')}/{e.get('message')}"
                    if event_id in self._seen:
                        continue
                    ts = int(e.get("timestamp") or 0)
                    self._seen[event_id] = ts
                    fresh.append(LogEvent(event_id, e.get("logStreamName", ""), ts, e.get("message", "")))
        except OpsError as err:
            if err.code == "ResourceNotFoundException":
                self.group_missing = True
                return []
            raise
        self.group_missing = False
        if fresh:
            self.newest_ms = max(self.newest_ms, max(e.timestamp for e in fresh))
            horizon = self.newest_ms - 2 * self.overlap_ms
            if len(self._seen) > 4 * len(fresh) + 1000:
                self._seen = {k: ts for k, ts in self._seen.items() if ts >= horizon}
        return fresh


def split_stream(stream: str) -> tuple[str, str, str, str]:
    """`<command-id>/<instance-id>/<plugin>/<stdout|stderr>` -> its four parts ("" where missing)."""
    parts = stream.split("/")
    if len(parts) < 4:
        parts += [""] * (4 - len(parts))
    return parts[0], parts[1], "/".join(parts[2:-1]), parts[-1]


def node_targets(groups: Iterable[tuple[str, str]], instance_id: str) -> list[FollowTarget]:
    """A node's streams in every group: the agent names a stream after the instance ({instance_id} in
    log_stream_name, the default), so the instance id is the stream prefix."""
    return [FollowTarget(region, group, stream_prefix=instance_id) for region, group in groups]


async def node_streams(aws: AwsClients, region: str, instance_ids: Sequence[str],
                       concurrency: int = 8) -> list[FollowTarget]:
    """The nodes' streams in every group of the region (one DescribeLogStreams per group and node, by prefix,
    ``concurrency`` at a time, once when following starts): a target per group that has one, naming them."""
    groups = await describe_log_groups(aws, region)
    gate = asyncio.Semaphore(concurrency)

    async def streams_of(group: str) -> tuple[str, list[str]]:
        names: list[str] = []
        async with gate:
            for iid in instance_ids:
                names += [s.name for s in await describe_log_streams(aws, region, group, prefix=iid,
                                                                     max_streams=MAX_STREAM_NAMES)]
        return group, names

    found = await asyncio.gather(*(streams_of(g.name) for g in groups))
    return [FollowTarget(region, group, stream_names=tuple(names[:MAX_STREAM_NAMES])) for group, names in found if names]


async def metric_groups(aws: AwsClients, region: str, metric_name: str, namespace: str) -> list[str]:
    """The log groups whose metric filters feed this metric (an alarm on a log metric -> its logs)."""
    filters = await describe_metric_filters(aws, region, metric_name=metric_name, namespace=namespace)
    return sorted({f.group for f in filters})


__all__ = [
    "EventPage", "FollowTarget", "FollowUpdate", "LiveTailFollower", "LogCursor", "LogEvent", "LogFollower", "LogGroup", "LogStream",
    "MetricFilter", "QueryDefinition", "QueryResults", "StreamPage", "delete_metric_filter", "describe_log_groups",
    "describe_log_streams", "describe_metric_filters", "describe_query_definitions", "filter_all", "filter_events", "get_log_events",
    "get_query_results", "metric_filter_problems", "metric_groups", "node_streams", "node_targets", "put_metric_filter", "run_query",
    "split_stream", "start_query", "stop_query",
]
