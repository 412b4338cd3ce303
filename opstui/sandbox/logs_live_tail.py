"""CloudWatch Logs StartLiveTail: a real event stream of the events stored after the session started.

Why: moto 5.2.5 answers StartLiveTail with one buffered body (a snapshot of every stored event, then the end),
so a client could not be tested against a session that stays open and pushes new events. This extension
answers the operation itself, through the middleware's streaming hook (``Extension.streams``), as
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartLiveTail.html describes:

* the response is ``application/vnd.amazon.eventstream`` (framed by :mod:`.eventstream`): the JSON protocol's
  ``initial-response`` event, one ``sessionStart`` (LiveTailSessionStart), then **every second** a
  ``sessionUpdate`` (LiveTailSessionUpdate) with the matching events stored since the last one -- an empty
  ``sessionResults`` when there were none. At most 500 events an update: above that they are sampled down to
  500 and ``sessionMetadata.sampled`` is true. A client that reads slower than events arrive finds at most
  5,000 events buffered; older ones are dropped. After three hours the stream ends with a
  ``SessionTimeoutException`` event. The session ends when the client closes the connection (noticed at the
  next update's write, within a second).
* events come from :data:`.logs_fast.LISTENERS`, which sees every stored event (PutLogEvents over HTTP and
  the sandbox's own writers: the agents, Run Command), so only events ingested after the call are streamed.
* validation, as the API reference gives it: ``logGroupIdentifiers`` required, 1-10, each an ARN of the
  group (not ending in ``*``), in this account and region, existing (else ``ResourceNotFoundException``);
  ``logStreamNames`` xor ``logStreamNamePrefixes`` (1-100 each, 1-512 characters, no ``:`` or ``*``), and
  either only with one log group; ``logEventFilterPattern`` at most 1,024 characters, read by the sandbox's
  filter-pattern matcher (:mod:`.filter_patterns`). Every refusal is ``InvalidParameterException`` with the
  sandbox's wording. Not modelled: the concurrent-session quota (``LimitExceededException``), cross-account
  observability, ``SessionStreamingException``.

Where it is served: botocore sends StartLiveTail to the ``stream-`` host prefix of the endpoint (the model's
``endpoint.hostPrefix``; AWS's documents call the host ``streaming-logs``). With an ``endpoint_url`` such as
``http://127.0.0.1:PORT`` botocore prepends it anyway (``stream-127.0.0.1``, which no resolver answers), so a
client of the sandbox sets ``inject_host_prefix=False`` (opstui's ``AwsClients`` does whenever it has an
endpoint URL; other botocore clients: ``AWS_DISABLE_HOST_PREFIX_INJECTION=true``) and the request reaches the one
endpoint; the Host allow-list is unchanged (``stream-localhost`` would not resolve here either).

Knob (``POST /_opstui/live-tail {"supported": false}``, stricter, so not listed as lenient): answer
StartLiveTail like an endpoint that does not know it (``UnknownOperationException``), to test a client's
fallback. ``GET`` shows the knob and the open sessions.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.logs.models import logs_backends

from . import eventstream, logs_fast
from .extension import Extension
from .filter_patterns import FilterPattern, compile_pattern

StartResponse = Callable[..., Any]

UPDATE_SECONDS = 1.0
MAX_UPDATE_EVENTS = 500
MAX_BUFFERED_EVENTS = 5_000
SESSION_SECONDS = 3 * 3600
MAX_GROUPS = 10
MAX_STREAMS = 100
_IDENTIFIER = re.compile(r"[\w#+=/:,.@-]*")
_ARN = re.compile(r"arn:(?P<partition>[\w-]+):logs:(?P<region>[\w-]+):(?P<account>\d{12}):log-group:(?P<name>.+)")


class LiveTailError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(message: str) -> LiveTailError:
    return LiveTailError("InvalidParameterException", message)


@dataclass
class Session:
    """One open Live Tail: what it follows, and the matching events not yet sent."""

    account: str
    region: str
    groups: dict[str, str]  # group name -> the identifier the client gave (its ARN)
    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    matcher: FilterPattern | None = None
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    pending: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED_EVENTS))
    closed: bool = False

    def wants(self, account: str, region: str, group: str, stream: str) -> bool:
        if account != self.account or region != self.region or group not in self.groups:
            return False
        if self.names and stream not in self.names:
            return False
        return not self.prefixes or stream.startswith(self.prefixes)

    def take(self) -> tuple[list[dict[str, Any]], bool]:
        """The events for one update (sampled down to 500) and whether they were sampled."""
        with _LOCK:
            events = list(self.pending)
            self.pending.clear()
        events.sort(key=lambda e: (e["timestamp"], e["ingestionTime"]))
        if len(events) <= MAX_UPDATE_EVENTS:
            return events, False
        step = len(events) / MAX_UPDATE_EVENTS
        return [events[int(i * step)] for i in range(MAX_UPDATE_EVENTS)], True


_LOCK = threading.Lock()
_SESSIONS: list[Session] = []
_STOPPING = threading.Event()
_settings: dict[str, bool] = {"supported": True}


def on_events(account: str, region: str, group: str, stream: str, events: list[Any]) -> None:
    """:data:`.logs_fast.LISTENERS` hook: queue each stored event for every session that wants it."""
    with _LOCK:
        sessions = [s for s in _SESSIONS if s.wants(account, region, group, stream)]
    for s in sessions:
        matched = [e for e in events if s.matcher is None or s.matcher.matches(e.message)]
        if not matched:
            continue
        with _LOCK:
            s.pending.extend({"logStreamName": stream, "logGroupIdentifier": s.groups[group], "message": e.message,
                              "timestamp": e.timestamp, "ingestionTime": e.ingestion_time} for e in matched)


# -- the request ------------------------------------------------------------------------------------------------


def _string_list(body: dict[str, Any], key: str, *, lo: int, hi: int) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"1 validation error detected: Value at '{key}' failed to satisfy constraint: "
                       "Member must be a list of strings")
    if not lo <= len(value) <= hi:
        raise _invalid(f"1 validation error detected: Value at '{key}' failed to satisfy constraint: "
                       f"Member must have length between {lo} and {hi}")
    return value


def parse_request(body: dict[str, Any], account: str, region: str) -> Session:
    """Validate a StartLiveTail request as AWS does and resolve its groups (raises :class:`LiveTailError`)."""
    identifiers = _string_list(body, "logGroupIdentifiers", lo=1, hi=MAX_GROUPS)
    if identifiers is None:
        raise _invalid("1 validation error detected: Value null at 'logGroupIdentifiers' failed to satisfy "
                       "constraint: Member must not be null")
    for ident in identifiers:
        if not 1 <= len(ident) <= 2048 or not _IDENTIFIER.fullmatch(ident):
            raise _invalid(f"Value '{ident}' at 'logGroupIdentifiers' failed to satisfy constraint: Member must "
                           "satisfy regular expression pattern: [\\w#+=/:,.@-]*")
        if not ident.startswith("arn:"):
            raise _invalid(f"Log group identifier '{ident}' is not an ARN: StartLiveTail takes log group ARNs")
        if ident.endswith("*"):
            raise _invalid(f"Log group ARN '{ident}' must not end with '*'")
    names = _string_list(body, "logStreamNames", lo=1, hi=MAX_STREAMS)
    prefixes = _string_list(body, "logStreamNamePrefixes", lo=1, hi=MAX_STREAMS)
    if names is not None and prefixes is not None:
        raise _invalid("Only one of logStreamNames or logStreamNamePrefixes can be provided.")
    for key, values in (("logStreamNames", names), ("logStreamNamePrefixes", prefixes)):
        for v in values or ():
            if not 1 <= len(v) <= 512 or ":" in v or "*" in v:
                raise _invalid(f"Value '{v}' at '{key}' failed to satisfy constraint: Member must have length "
                               "between 1 and 512 and satisfy regular expression pattern: [^:*]*")
        if values is not None and len(identifiers) != 1:
            raise _invalid(f"{key} can only be used with a single log group.")
    pattern = body.get("logEventFilterPattern")
    if pattern is not None and (not isinstance(pattern, str) or len(pattern) > 1024):
        raise _invalid("1 validation error detected: Value at 'logEventFilterPattern' failed to satisfy "
                       "constraint: Member must have length less than or equal to 1024")
    matcher = None
    if pattern and pattern.strip():
        try:
            matcher = compile_pattern(pattern)
        except Exception as exc:  # moto's InvalidParameterException from the matcher
            raise _invalid("Invalid filter pattern") from exc
    backend = logs_backends[account][region]
    groups: dict[str, str] = {}
    for ident in identifiers:
        m = _ARN.fullmatch(ident.removesuffix(":*"))
        name = m.group("name") if m else ""
        if m is None or m.group("account") != account or m.group("region") != region or name not in backend.groups:
            raise LiveTailError("ResourceNotFoundException", "The specified log group does not exist.")
        groups[name] = ident
    return Session(account, region, groups, frozenset(names or ()), tuple(prefixes or ()), matcher)


def _start_payload(session: Session, body: dict[str, Any], request_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"requestId": request_id, "sessionId": session.session_id,
                           "logGroupIdentifiers": list(body["logGroupIdentifiers"])}
    for key in ("logStreamNames", "logStreamNamePrefixes", "logEventFilterPattern"):
        if body.get(key) is not None:
            out[key] = body[key]
    return out


class _Stream:
    """The response body: a WSGI iterable whose ``close()`` (called by the server when the client goes, or
    at the end) ends the session, even if the body was never iterated."""

    def __init__(self, session: Session, start: dict[str, Any]) -> None:
        self.session = session
        self.start = start

    def __iter__(self) -> Iterator[bytes]:
        yield eventstream.event("initial-response", {})
        yield eventstream.event("sessionStart", self.start)
        s = self.session
        tick = s.started
        while not s.closed and not _STOPPING.is_set():
            tick += UPDATE_SECONDS
            if _STOPPING.wait(max(0.0, tick - time.monotonic())):
                return
            if time.monotonic() - s.started >= SESSION_SECONDS:
                yield eventstream.exception("SessionTimeoutException",
                                            "The Live Tail session timed out after 3 hours.")
                return
            events, sampled = s.take()
            yield eventstream.event("sessionUpdate", {"sessionMetadata": {"sampled": sampled},
                                                      "sessionResults": events})

    def close(self) -> None:
        self.session.closed = True
        with _LOCK:
            if self.session in _SESSIONS:
                _SESSIONS.remove(self.session)


def _error(start_response: StartResponse, request_id: str, code: str, message: str) -> Iterable[bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id),
                                       ("x-amzn-ErrorType", code), ("Content-Length", str(len(body)))])
    return [body]


def start_live_tail(environ: dict[str, Any], start_response: StartResponse, account: str,
                    region: str) -> Iterable[bytes]:
    """The streaming hook's handler for logs:StartLiveTail (the body is buffered and signed already)."""
    request_id = str(uuid.uuid4())
    if not _settings["supported"]:
        return _error(start_response, request_id, "UnknownOperationException", "")
    try:
        body = json.loads(environ["wsgi.input"].getvalue() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return _error(start_response, request_id, "SerializationException", "Start of structure or map found where "
                      "not expected.")
    try:
        with logs_fast.LOCK:
            session = parse_request(body, account, region)
    except LiveTailError as err:
        return _error(start_response, request_id, err.code, err.message)
    with _LOCK:
        _SESSIONS.append(session)  # from now on every stored event that matches is queued
    start_response("200 OK", [("Content-Type", "application/vnd.amazon.eventstream"),
                              ("x-amzn-RequestId", request_id)])
    return _Stream(session, _start_payload(session, body, request_id))


class LiveTail(Extension):
    """StartLiveTail as a real stream (see the module docstring)."""

    name = "live-tail"

    def patch(self) -> None:
        logs_fast.EXTENSION.install()
        if on_events not in logs_fast.LISTENERS:
            logs_fast.LISTENERS.append(on_events)

    def streams(self) -> dict[tuple[str, str], Any]:
        return {("logs", "StartLiveTail"): start_live_tail}

    def prepare(self, sandbox: Any) -> None:
        _STOPPING.clear()
        _settings["supported"] = True
        with _LOCK:
            _SESSIONS.clear()

    def stop(self, sandbox: Any) -> None:
        _STOPPING.set()  # open streams end at their next wait

    def control_snapshot(self) -> dict[str, Any]:
        with _LOCK:
            sessions = [{"session_id": s.session_id, "region": s.region, "groups": sorted(s.groups),
                         "pending": len(s.pending)} for s in _SESSIONS]
        return {"supported": _settings["supported"], "sessions": sessions}

    def configure(self, **knobs: Any) -> dict[str, Any]:
        unknown = set(knobs) - {"supported"}
        if unknown:
            raise ValueError(f"unknown live-tail knob(s): {sorted(unknown)}")
        if "supported" in knobs:
            _settings["supported"] = bool(knobs["supported"])
        return self.control_snapshot()


EXTENSION = LiveTail()
