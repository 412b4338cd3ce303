"""Deterministic, bounded faults for the sandbox's Session Manager data channel (test knobs).

``add(kind, session_id=None, **params)``; ``session_id=None`` means every session. Kinds:

=====================  =====================================================================================
kind                   effect
=====================  =====================================================================================
drop                   abort the TCP connection of the session's current socket (no close frame), now or,
                       with ``after_frames=N``, right after N more output frames have been written
delay {ms, count?}     sleep ``ms`` before writing each outgoing frame (acks included); ``count`` frames or
                       until cleared
duplicate {every, count?, after_ack?}
                       write every ``every``-th output frame twice: right after itself or, with
                       ``after_ack=true``, once the client has acknowledged it (a resend that crossed the ack
                       on the wire: the client has already read the frame and must acknowledge it again)
reorder {every, count?}    hold every ``every``-th output frame and write it after the next one (swap)
withhold_acks {count}  do not ack the next ``count`` incoming stream frames (they are still processed)
drop_input {count}     discard the next ``count`` input_stream_data frames from the client that the agent has
                       not accepted yet (input lost on its way to the agent): not processed, not acked, so
                       only the client's RTO resend delivers them; a resend of a discarded frame passes
drop_frames {count}    do not write the next ``count`` output frames the first time; they stay unacked, so the
                       RTO resend delivers them
bad_digest {count}     write the next ``count`` output frames with a corrupted digest the first time
channel_closed_112     end the session now with a HeaderLength-112, NUL-padded channel_closed
                       (Output "closed by the sandbox")
pause {ms}             send pause_publication, stop sending for ``ms``, then send start_publication
=====================  =====================================================================================

``drop`` (without ``after_frames``), ``channel_closed_112`` and ``pause`` act once, immediately, on the
matching sessions that have a socket attached; the others are rules consulted per frame, removed when
their count is used up. Output frames are counted on first transmission only (resends are not), and so
are input frames for ``drop_input``.

Counters in the agent snapshot (``GET /_opstui/sessions``) that show what the faults did and how the client
answered: ``faults_dropped_frames``, ``faults_dropped_inputs``, ``faults_duplicated_after_ack``,
``acks_withheld``, and ``acks_for_acked`` (acks received for an output frame already acknowledged: the client
re-acknowledging a duplicate).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("drop", "delay", "duplicate", "reorder", "withhold_acks", "drop_frames", "bad_digest",
         "channel_closed_112", "pause", "drop_input")
IMMEDIATE = ("channel_closed_112", "pause")

_ids = itertools.count(1)


@dataclass
class SessionFault:
    kind: str
    session_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    remaining: int | None = None  # None: until cleared
    seen: int = 0  # output frames observed (every-n kinds, drop after_frames)
    id: int = field(default_factory=lambda: next(_ids))

    def matches(self, session_id: str) -> bool:
        return self.session_id is None or self.session_id == session_id

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "session_id": self.session_id, "params": dict(self.params),
                "remaining": self.remaining}


@dataclass
class FrameActions:
    """What the faults say about one first-transmission output frame."""

    drop: bool = False
    bad_digest: bool = False
    duplicate: bool = False
    duplicate_after_ack: bool = False
    reorder: bool = False
    abort_after: bool = False


def _positive(params: dict[str, Any], name: str, default: int | None) -> int | None:
    value = params.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer")
    return value


class SessionFaults:
    """Thread-safe: rules are added from test/HTTP threads and consumed on the data-channel loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[SessionFault] = []
        #: called (outside the lock) for immediate kinds; set by the session manager
        self.on_immediate: Callable[[SessionFault], int] | None = None

    # --- public API ------------------------------------------------------------------------------

    def add(self, kind: str, session_id: str | None = None, **params: Any) -> dict[str, Any]:
        """Add a fault; immediate kinds act now. Returns the rule (``applied``: sessions affected now)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        rule = SessionFault(kind=kind, session_id=session_id, params=dict(params))
        if kind == "drop":
            after = _positive(params, "after_frames", None)
            if after is None:
                return self._immediate(rule)
            rule.remaining = after
        elif kind == "pause":
            ms = params.get("ms", 500)
            if not isinstance(ms, int | float) or ms < 0 or ms > 60_000:
                raise ValueError("ms must be between 0 and 60000")
            rule.params["ms"] = ms
            return self._immediate(rule)
        elif kind == "channel_closed_112":
            return self._immediate(rule)
        elif kind == "delay":
            ms = params.get("ms")
            if not isinstance(ms, int | float) or not 0 <= ms <= 10_000:
                raise ValueError("delay needs ms between 0 and 10000")
            rule.remaining = _positive(params, "count", None)
        elif kind in ("duplicate", "reorder"):
            rule.params["every"] = _positive(params, "every", 2)
            rule.remaining = _positive(params, "count", None)
            if kind == "duplicate":
                after_ack = params.get("after_ack", False)
                if not isinstance(after_ack, bool):
                    raise ValueError("after_ack must be true or false")
                rule.params["after_ack"] = after_ack
            elif "after_ack" in params:
                raise ValueError("after_ack applies to duplicate only")
        else:  # withhold_acks, drop_frames, bad_digest, drop_input
            rule.remaining = _positive(params, "count", 1)
        with self._lock:
            self._rules.append(rule)
        return rule.as_dict()

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    # --- consulted by the agent (data-channel loop) ------------------------------------------------

    def on_output(self, session_id: str) -> FrameActions:
        actions = FrameActions()
        if not self._rules:
            return actions
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(session_id):
                    continue
                kind = rule.kind
                if kind in ("drop_frames", "bad_digest"):
                    if kind == "drop_frames" and not actions.drop:
                        actions.drop = True
                    elif kind == "bad_digest" and not actions.bad_digest and not actions.drop:
                        actions.bad_digest = True
                    else:
                        continue
                    self._use(rule)
                elif kind in ("duplicate", "reorder"):
                    rule.seen += 1
                    if rule.seen % rule.params["every"] == 0:
                        late = kind == "duplicate" and rule.params.get("after_ack", False)
                        setattr(actions, "duplicate_after_ack" if late else kind, True)
                        self._use(rule)
                elif kind == "drop":
                    rule.seen += 1
                    if rule.seen >= rule.params["after_frames"]:
                        actions.abort_after = True
                        self._rules.remove(rule)
        return actions

    def take_withhold_ack(self, session_id: str) -> bool:
        if not self._rules:
            return False
        with self._lock:
            for rule in self._rules:
                if rule.kind == "withhold_acks" and rule.matches(session_id):
                    self._use(rule)
                    return True
        return False

    def take_drop_input(self, session_id: str) -> bool:
        """Whether to discard an input frame the agent has not accepted yet (the caller decides which are new)."""
        if not self._rules:
            return False
        with self._lock:
            for rule in self._rules:
                if rule.kind == "drop_input" and rule.matches(session_id):
                    self._use(rule)
                    return True
        return False

    def delay_seconds(self, session_id: str) -> float:
        if not self._rules:
            return 0.0
        with self._lock:
            for rule in self._rules:
                if rule.kind == "delay" and rule.matches(session_id):
                    self._use(rule)
                    return float(rule.params["ms"]) / 1000.0
        return 0.0

    # --- internals -----------------------------------------------------------------------------------

    def _use(self, rule: SessionFault) -> None:
        if rule.remaining is None:
            return
        rule.remaining -= 1
        if rule.remaining <= 0 and rule in self._rules:
            self._rules.remove(rule)

    def _immediate(self, rule: SessionFault) -> dict[str, Any]:
        applied = self.on_immediate(rule) if self.on_immediate else 0
        return {**rule.as_dict(), "applied": applied}
