"""The sandbox's "storefront": a small web app on loopback that the sandbox's canaries really request.

Why: a canary is only worth showing if its result depends on something that can break. This app has a health
knob, and in live mode its health degrades and recovers on its own, so the Monitoring tab and the Overview
have something true to report (the seed's two failure classes: slow responses and an unavailable service).

* ``GET /`` -- the storefront page (HTML); ``GET /health`` -- ``{"status": ...}``; anything else 404. HEAD too.
* Health ``ok``: 200 after 40-180 ms. ``slow``: 200 after 2-5 s (so a canary with a 3-second navigation timeout
  fails about two runs in three; ``latency=(lo, hi)`` in :func:`set_health` changes the band). ``down``: 503
  Service Unavailable after a few ms (the server is up, the application is not).
* Latencies are sandbox seconds (:mod:`opstui.sandbox.clock`): at clock speed 60 a 3 s response takes 50 ms of
  real time, so tests and canaries (which measure in sandbox time too) stay consistent at any speed.
* ``auto`` (the default in live mode): the health follows :func:`scheduled_health`, a deterministic function
  of sandbox time -- in about one 10-minute window in three a slow spell of 1-3 minutes, and about one window
  in 40 a 1-minute outage. The canary backfill (:mod:`opstui.sandbox.synthetics`) reads the same function, so
  the seeded history and the live runs tell one story. Any other value pins the health until changed again.

Other sandbox modules use :func:`webapp_url` and :func:`set_health` (the scripted incident calls
``set_health("slow")`` and, when it is over, ``set_health("auto")``). Control endpoint:
``GET /_opstui/webapp`` and ``POST /_opstui/webapp {"health": "ok"|"slow"|"down"|"auto"}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from . import clock
from .extension import Extension
from .listener_guard import ListenerGuard

if TYPE_CHECKING:
    from .server import Sandbox

_log = logging.getLogger(__name__)

#: what a client hanging up mid-answer raises on the server side (BrokenPipeError, ConnectionResetError, ...)
CLIENT_GONE = (ConnectionError, TimeoutError)

HEALTHS = ("ok", "slow", "down")
MODES = (*HEALTHS, "auto")
OK_LATENCY = (0.04, 0.18)
SLOW_LATENCY = (2.0, 5.0)
WINDOW_SECONDS = 600

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Storefront</title></head>
<body><h1>Storefront</h1><p>Today's picks: tea, rice crackers, a kettle.</p></body></html>
"""


def _unit(seed: int, *parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for ``parts`` (no state: any time can be asked in any order)."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def scheduled_health(when: dt.datetime, seed: int = 42) -> str:
    """The storefront's health at sandbox time ``when`` when left to itself (``auto``)."""
    t = int(when.timestamp())
    window, offset = divmod(t, WINDOW_SECONDS)
    r = _unit(seed, "window", window)
    if r < 0.025:  # a short outage: the minute after minute 4 of the window
        return "down" if 240 <= offset < 300 else "ok"
    if r < 0.35:  # a slow spell of 1-3 minutes starting at minute 3-6
        start = 180 + int(_unit(seed, "start", window) * 4) * 60
        length = 60 * (1 + int(_unit(seed, "length", window) * 3))
        return "slow" if start <= offset < start + length else "ok"
    return "ok"


def sample_latency(health: str, rng: random.Random, slow: tuple[float, float] = SLOW_LATENCY) -> float:
    """Sandbox seconds a response takes in ``health``."""
    if health == "slow":
        return rng.uniform(*slow)
    if health == "down":
        return rng.uniform(0.002, 0.01)
    return rng.uniform(*OK_LATENCY)


@dataclass(frozen=True)
class Served:
    """One request the storefront answered (for the web nodes' nginx access logs, :mod:`.node_logs`)."""

    method: str
    path: str
    status: int
    size: int
    latency: float  # sandbox seconds
    client: str
    user_agent: str


#: called with a :class:`Served` for every request answered
REQUEST_LISTENERS: list[Callable[[Served], None]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def handle(self) -> None:
        """A client that hangs up mid-answer (a canary's timeout during a slow spell, a closed browser tab)
        is normal: one debug line, never a traceback in the sandbox's log or terminal."""
        try:
            super().handle()
        except CLIENT_GONE as exc:
            client_gone(self.client_address, exc)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_OPTIONS(self) -> None:
        self._answer(body=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS

    def _refused(self) -> bool:
        """The listener guard: a foreign Host (DNS rebinding) or a browser's cross-origin request gets 403."""
        reason = self.server.guard.refusal(self.command, self.headers.get("Host"), self.headers.items())
        if reason is None and self.command in ("GET", "HEAD"):
            return False
        payload = ((reason or "method not allowed") + "\n").encode()
        self.send_response(403 if reason else 405)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        return True

    def _answer(self, body: bool) -> None:
        if self._refused():
            return
        app = self.server.app
        health, latency = app.request_started()
        path = self.path.split("?", 1)[0]
        if app.stopping.wait(clock.real_seconds(latency)):
            self.close_connection = True
            return
        if path == "/":
            status, ctype, payload = 200, "text/html; charset=utf-8", _PAGE.encode()
        elif path == "/health":
            status, ctype = 200, "application/json"
            payload = json.dumps({"status": health, "service": "storefront"}).encode()
        else:
            status, ctype, payload = 404, "text/plain; charset=utf-8", b"Not Found\n"
        if health == "down" and status != 404:
            status, ctype, payload = 503, "text/html; charset=utf-8", b"<html><body>503 Service Unavailable</body></html>\n"
        for listener in list(REQUEST_LISTENERS):
            try:
                listener(Served(self.command, self.path, status, len(payload), latency,
                                self.client_address[0], self.headers.get("User-Agent") or "-"))
            except Exception:  # a listener (the nodes' access logs) must never break the answer
                continue
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Server", "storefront")
        self.end_headers()
        if body:
            self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: WebApp
    guard: ListenerGuard

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The same for a hang-up noticed after the handler (closing the connection): one debug line."""
        exc = sys.exc_info()[1]
        if isinstance(exc, CLIENT_GONE):
            client_gone(client_address, exc)
            return
        super().handle_error(request, client_address)


def client_gone(client_address: Any, exc: BaseException) -> None:
    port = client_address[1] if isinstance(client_address, tuple) and len(client_address) > 1 else "?"
    _log.debug("storefront: client :%s went away mid-answer (%s)", port, type(exc).__name__)


class WebApp:
    """The storefront server and its health knob (one per Sandbox; see the module-level helpers)."""

    def __init__(self, seed: int = 42, auto: bool = True) -> None:
        self.seed = seed
        self.mode = "auto" if auto else "ok"
        self.slow_latency = SLOW_LATENCY
        self.requests = 0
        self.stopping = threading.Event()
        self._rng = random.Random(seed * 31 + 7)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebApp:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.app = self
        self._server.guard = ListenerGuard("127.0.0.1").bind(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="opstui-storefront", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("storefront not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def health(self, when: dt.datetime | None = None) -> str:
        """The effective health now (or at ``when``)."""
        if self.mode == "auto":
            return scheduled_health(when or clock.now(), self.seed)
        return self.mode

    def set_health(self, health: str, latency: tuple[float, float] | None = None) -> None:
        if health not in MODES:
            raise ValueError(f"health must be one of {list(MODES)}")
        if latency is not None:
            lo, hi = (float(x) for x in latency)
            if not 0 <= lo <= hi:
                raise ValueError("latency must be [low, high] seconds with 0 <= low <= high")
            self.slow_latency = (lo, hi)
        self.mode = health

    def request_started(self) -> tuple[str, float]:
        with self._lock:
            self.requests += 1
            health = self.health()
            return health, sample_latency(health, self._rng, self.slow_latency)

    def snapshot(self) -> dict[str, Any]:
        return {"url": self.url if self._server else None, "mode": self.mode, "health": self.health(),
                "slow_latency": list(self.slow_latency), "requests": self.requests}


_current: WebApp | None = None


def current() -> WebApp:
    if _current is None:
        raise RuntimeError("the storefront is not running (no Sandbox started)")
    return _current


def webapp_url() -> str:
    """The storefront's base URL, e.g. ``http://127.0.0.1:40123/``."""
    return current().url


def set_health(health: str, latency: tuple[float, float] | None = None) -> None:
    """``ok`` | ``slow`` | ``down`` pins the storefront's health; ``auto`` returns it to its live schedule."""
    current().set_health(health, latency)


def health() -> str:
    return current().health()


class Storefront(Extension):
    """A fresh storefront for each run (``auto`` health in live mode, ``ok`` otherwise). Control: ``GET
    /_opstui/webapp``; ``POST {"health": "ok"|"slow"|"down"|"auto", "latency": [lo, hi]}``."""

    name = "webapp"

    def start(self, sandbox: Sandbox) -> None:
        global _current
        self.stop(sandbox)
        _current = WebApp(seed=sandbox.seed, auto=sandbox.live).start()

    def stop(self, sandbox: Sandbox) -> None:
        global _current
        if _current is not None:
            _current.stop()
            _current = None

    def configure(self, **payload: Any) -> dict[str, Any]:
        unknown = set(payload) - {"health", "latency"}
        if unknown:
            raise ValueError(f"unknown webapp field(s) {sorted(unknown)}; known: ['health', 'latency']")
        app = current()
        app.set_health(payload.get("health", app.mode), payload.get("latency"))
        return app.snapshot()

    def control_snapshot(self) -> dict[str, Any]:
        return current().snapshot()


EXTENSION = Storefront()
