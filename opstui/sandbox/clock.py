"""The sandbox clock: sandbox time that can run faster than real time (a demo and test knob).

Why: schedules in AWS are long (a State Manager association runs every 30 minutes at the most often, a backup
plan daily). To show one in a demo or assert on it in a test, the sandbox's own notion of "now" runs at
``speed`` x real time. Every sandbox service with a schedule (State Manager, Backup, Monitoring) reads this one
clock, so they stay consistent with each other.

* :func:`now` -- the current sandbox time (aware UTC): ``base + real elapsed x speed``.
* :func:`set_speed` -- changes the rate without a jump (``now()`` is continuous across the change).
* :func:`advance` -- jumps sandbox time forward (tests: "30 minutes later" at once).
* :func:`real_seconds` -- how many real seconds a sandbox duration takes at the current speed (schedulers).
* :func:`wait` -- sleep up to a real timeout, woken early when the speed changes or the clock jumps, so a
  scheduler re-plans at once instead of sleeping through a speed-up.
* :func:`reset` -- back to real time (``Sandbox.start()``).

Control endpoint: ``GET /_opstui/clock`` -> ``{"now": iso, "speed": n}``; ``POST /_opstui/clock`` with
``{"speed": n}`` and/or ``{"advance": seconds}``.

Run Command keeps real wall-clock times (command timestamps are "when it happened", and its timeouts are real
process timeouts); only schedules and capture times read this clock.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import TYPE_CHECKING

from .extension import Extension

if TYPE_CHECKING:
    from .server import Sandbox

MAX_SPEED = 100_000.0

_cond = threading.Condition()
_base_real = time.monotonic()
_base_sandbox = dt.datetime.now(dt.UTC)
_speed = 1.0
_generation = 0  # bumped on every change, so waiters can tell a change from a timeout


def _now_locked() -> dt.datetime:
    return _base_sandbox + dt.timedelta(seconds=(time.monotonic() - _base_real) * _speed)


def now() -> dt.datetime:
    """Sandbox time, aware UTC."""
    with _cond:
        return _now_locked()


def speed() -> float:
    return _speed


def _rebase(new_now: dt.datetime) -> None:
    global _base_real, _base_sandbox, _generation
    _base_real = time.monotonic()
    _base_sandbox = new_now
    _generation += 1
    _cond.notify_all()


def set_speed(value: float) -> float:
    """Run sandbox time at ``value`` x real time (0 < value <= 100,000); ``now()`` does not jump."""
    global _speed
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_SPEED:
        raise ValueError(f"speed must be a number in (0, {MAX_SPEED:g}]")
    with _cond:
        current = _now_locked()
        _speed = float(value)
        _rebase(current)
    return _speed


def advance(seconds: float) -> dt.datetime:
    """Jump sandbox time forward by ``seconds`` (>= 0); returns the new now."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("advance must be a non-negative number of seconds")
    with _cond:
        new_now = _now_locked() + dt.timedelta(seconds=seconds)
        _rebase(new_now)
        return new_now


def reset() -> None:
    """Real time again, at speed 1."""
    global _speed
    with _cond:
        _speed = 1.0
        _rebase(dt.datetime.now(dt.UTC))


def real_seconds(sandbox_seconds: float) -> float:
    """Real seconds that ``sandbox_seconds`` of sandbox time take at the current speed."""
    return max(0.0, sandbox_seconds) / _speed


def until(when: dt.datetime) -> float:
    """Real seconds until sandbox time reaches ``when`` (0 if it has)."""
    with _cond:
        return max(0.0, (when - _now_locked()).total_seconds()) / _speed


def wait(timeout: float) -> bool:
    """Sleep up to ``timeout`` real seconds; True if the clock changed (speed or jump) meanwhile."""
    with _cond:
        start = _generation
        _cond.wait_for(lambda: _generation != start, timeout=max(0.0, timeout))
        return _generation != start


def wake() -> None:
    """Wake every :func:`wait` now (a scheduler has new work or is stopping)."""
    global _generation
    with _cond:
        _generation += 1
        _cond.notify_all()


def snapshot() -> dict[str, object]:
    current = now()
    return {"now": current.isoformat().replace("+00:00", "Z"), "speed": _speed}


class Clock(Extension):
    """The clock as an extension: back to real time for each run, and its control endpoint (above)."""

    name = "clock"

    def prepare(self, sandbox: Sandbox) -> None:
        reset()

    def control_snapshot(self) -> dict[str, object]:
        return snapshot()

    def configure(self, **knobs: float) -> dict[str, object]:
        unknown = set(knobs) - {"speed", "advance"}
        if unknown:
            raise ValueError(f"unknown clock field(s) {sorted(unknown)}; known: ['advance', 'speed']")
        if knobs.get("speed") is not None:
            set_speed(knobs["speed"])
        if knobs.get("advance") is not None:
            advance(knobs["advance"])
        return snapshot()


EXTENSION = Clock()
