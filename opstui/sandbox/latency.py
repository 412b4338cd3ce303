"""Network latency for the sandbox: AWS answers in 50-300 ms, a loopback moto in about one.

Why: every number in ``bench/`` used to be measured at loopback speed, where 200 sequential
DescribeInstanceInformation pages cost 10 s of server time and no network; against AWS the same listing waits
about 120 ms per page on top. The knob makes the sandbox answer like a distant endpoint so the app's
parallelism, first paint and budgets can be measured and tested.

What is delayed, and where:

* **API calls**: every signed AWS request waits ``delay`` before the sandbox handles it, on its own request
  thread (werkzeug's threaded server: one thread per connection), so concurrent requests wait concurrently
  and one slow call never holds another. Control endpoints (``/_opstui/*``) are never delayed.
* **The data channel round trip**: every websocket message from the client reaches the agent ``delay`` after it
  arrived (:class:`DelayLine`: in order, never overtaking, pipelined rather than one message per delay). A
  keystroke's echo, an acknowledgement's effect on the agent's flow-control window and a command's first
  output are one round trip late, as on a real link; output the agent sends on its own (a banner at
  connect) is not delayed.

The knob: ``opstui sandbox --latency 120ms±40ms`` (or ``+-``; each delay drawn uniformly from 80-160 ms), the
environment variable :data:`LATENCY_ENV` (the default of ``--latency``, so a test or bench run can slow every
sandbox it starts), and ``GET|POST /_opstui/latency`` ``{"latency": "120ms±40ms", "region": R?}`` at run time
(with a region: that region's API calls and sessions only; ``"latency": null`` with a region drops the
override). Default 0.

No moto here: the command line parses the value before moto is imported.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .extension import Extension

#: the environment variable that gives ``--latency`` its default (kept by the sandbox's clean environment)
LATENCY_ENV = "OPSTUI_SANDBOX_LATENCY"
#: the longest delay the knob accepts: botocore's read timeout is 30 s, and a test waiting longer is a mistake
MAX_SECONDS = 10.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")
_FORMS = "use e.g. 0, 120ms, 120ms±40ms (or 120ms+-40ms), 1s"


def _seconds(text: str, whole: str) -> float:
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"latency {whole!r}: {text.strip()!r} is not a duration; {_FORMS}")
    value, unit = float(m.group(1)), m.group(2)
    if unit is None:
        if value != 0:
            raise ValueError(f"latency {whole!r}: {text.strip()!r} needs a unit (ms or s); {_FORMS}")
        return 0.0
    return value / 1000 if unit == "ms" else value


@dataclass(frozen=True)
class Latency:
    """A delay of ``mean`` seconds, each draw uniform within ``mean ± jitter``."""

    mean: float = 0.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.mean < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must not be negative")
        if self.jitter > self.mean:
            raise ValueError(f"latency {self}: the jitter must not exceed the latency (a delay is never negative)")
        if self.mean + self.jitter > MAX_SECONDS:
            raise ValueError(f"latency {self}: at most {MAX_SECONDS:g}s (botocore's read timeout is 30s)")

    def draw(self, rng: random.Random | None = None) -> float:
        if not self.jitter:
            return self.mean
        return (rng or random).uniform(self.mean - self.jitter, self.mean + self.jitter)

    def __bool__(self) -> bool:
        return self.mean > 0

    def __str__(self) -> str:
        text = _format(self.mean)
        return f"{text}±{_format(self.jitter)}" if self.jitter else text


def _format(seconds: float) -> str:
    if seconds == 0:
        return "0"
    ms = seconds * 1000
    return f"{ms:g}ms" if ms < 1000 else f"{seconds:g}s"


def parse_latency(text: str | float | int | None) -> Latency:
    """``"0"``, ``"120ms"``, ``"120ms±40ms"`` (or ``+-``), ``"1s"``, ``"1.5s±200ms"`` -> :class:`Latency`.

    A bare number is refused unless it is 0 (is ``120`` seconds or milliseconds?); so are negative values, a
    jitter larger than the latency and anything above :data:`MAX_SECONDS`, each with a ValueError saying why.
    """
    if text is None:
        return Latency()
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"latency must be a string such as '120ms±40ms', not {text!r}")
    if isinstance(text, int | float):
        if text != 0:
            raise ValueError(f"latency {text!r} needs a unit; {_FORMS}")
        return Latency()
    whole = text
    parts = re.split(r"±|\+-|\+/-", text)
    if len(parts) > 2:
        raise ValueError(f"latency {whole!r}: one ± at most; {_FORMS}")
    mean = _seconds(parts[0], whole)
    jitter = _seconds(parts[1], whole) if len(parts) == 2 else 0.0
    return Latency(mean, jitter)


class LatencyKnob:
    """The running sandbox's latency: one default and optional per-region overrides, safe from any thread."""

    def __init__(self, default: Latency | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._default = default or Latency()
        self._regions: dict[str, Latency] = {}
        self._rng = random.Random(seed)
        #: requests delayed so far, and their total delay (``GET /_opstui/latency``)
        self.delayed = 0
        self.delayed_seconds = 0.0

    def get(self, region: str | None = None) -> Latency:
        with self._lock:
            return self._regions.get(region or "", self._default)

    def set(self, latency: Latency | None, region: str | None = None) -> None:
        with self._lock:
            if region:
                if latency is None:
                    self._regions.pop(region, None)
                else:
                    self._regions[region] = latency
            else:
                self._default = latency or Latency()

    def delay(self, region: str | None = None) -> float:
        """Draw one delay for a request of ``region`` (0 when the knob is off)."""
        with self._lock:
            latency = self._regions.get(region or "", self._default)
            if not latency:
                return 0.0
            seconds = latency.draw(self._rng)
            self.delayed += 1
            self.delayed_seconds += seconds
            return seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"latency": str(self._default), "seconds": self._default.mean, "jitter": self._default.jitter,
                    "regions": {r: str(lat) for r, lat in sorted(self._regions.items())},
                    "delayed": self.delayed, "delayed_seconds": round(self.delayed_seconds, 3)}


class DelayLine:
    """Hands items to ``deliver`` on an asyncio loop, each ``delay`` after it was pushed, in push order.

    A link with latency carries many messages at once: an item never waits for the one before it to be
    delivered, only never overtakes it (its due time is at least the previous item's, as TCP keeps order).
    With no delay and nothing queued an item is delivered at once. Call :meth:`push` on the loop's thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[Any], None]) -> None:
        self._loop = loop
        self._deliver = deliver
        self._items: deque[tuple[float, Any]] = deque()
        self._handle: asyncio.TimerHandle | None = None
        self._last_due = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: Any, delay: float) -> None:
        if delay <= 0 and not self._items:
            self._deliver(item)
            return
        due = max(self._loop.time() + delay, self._last_due)
        self._last_due = due
        self._items.append((due, item))
        if self._handle is None:
            self._handle = self._loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._handle = None
        now = self._loop.time()
        while self._items and self._items[0][0] <= now:
            self._deliver(self._items.popleft()[1])
        if self._items:
            self._handle = self._loop.call_at(self._items[0][0], self._fire)


class LatencyExtension(Extension):
    """``GET /_opstui/latency``: the knob and what it delayed; ``POST {"latency": "120ms±40ms", "region"?}``
    sets it (for one region's API calls and sessions when a region is given; ``null`` there drops the override)."""

    name = "latency"

    def control_snapshot(self) -> dict[str, Any]:
        return self.running.latency.snapshot()

    def configure(self, **payload: Any) -> dict[str, Any]:
        unknown = set(payload) - {"latency", "region"}
        if unknown:
            raise ValueError(f"unknown latency knob(s) {sorted(unknown)}; known: latency, region")
        if "latency" not in payload:
            raise ValueError(f"latency: give the delay, {_FORMS}")
        region = payload.get("region")
        if region is not None and not isinstance(region, str):
            raise ValueError("region must be a region name")
        value = payload["latency"]
        latency = None if value is None and region else parse_latency(value)
        self.running.latency.set(latency, region)
        return self.running.latency.snapshot()


EXTENSION = LatencyExtension()
