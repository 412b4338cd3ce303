"""Realistic log files written on the sandbox's nodes: a system log, nginx's access and error logs, an app's JSON.

Why: the CloudWatch agent (:mod:`.cw_agent_logs`) ships what is in a node's files, and an operator's shell on
the node can ``tail -f`` the same files, so the files must exist and grow like a server's. A node's ``/`` is its
home under the sandbox (``<state>/nodes/<id>/home``): ``/var/log/nginx/access.log`` is
``~/var/log/nginx/access.log`` in the node's shell (:func:`node_path`).

What each node writes (Linux EC2 nodes of the curated fleet that are running; Windows nodes have an event log
instead, produced by the agent itself):

* every node: the system log, ``/var/log/messages`` (Amazon Linux, RHEL) or ``/var/log/syslog`` (Ubuntu), in
  rsyslog's traditional format (``Dec  2 09:40:01 ip-10-0-0-10 systemd[1]: ...``: systemd, sshd, CRON,
  chronyd, the SSM agent, the kernel);
* ``Role=web``: ``/var/log/nginx/access.log`` in nginx's ``combined`` format plus ``rt=<request time>``
  (the storefront's traffic: pages, assets, the API, made up at a rate that follows the time of day, its status
  following the storefront's health -- ``slow`` gives upstream timeouts, 504, ``down`` 502/503 -- so the
  scripted incident shows 5xx; and every request the storefront web app really answered, a canary's or a curl's,
  with its real status and client, round-robin over the running web nodes), and
  ``/var/log/nginx/error.log`` (``2026/12/02 09:40:01 [error] 2211#2211: *18345 upstream timed out (110:
  Connection timed out) while reading response header from upstream, ...``);
* ``Role=app``: ``/var/log/app/app.log``, one JSON object a line: ``timestamp`` (ISO 8601, ms, Z),
  ``level`` (INFO/WARN/ERROR/DEBUG), ``logger``, ``message``, ``request_id``, ``method``, ``path``,
  ``status``, ``latency_ms``, ``instance_id`` (errors and latency follow the storefront's health too).

Cost: one thread for the fleet, a tick every :data:`TICK` real seconds. Rates are per sandbox second (web
~1.5 requests/s at the daily peak, app ~1 line/s, system ~1 line/10 s), capped at :data:`MAX_LINES_PER_TICK` a
file a tick, so a fast sandbox clock samples the traffic instead of flooding the disk. Files rotate at
:data:`ROTATE_BYTES` (one ``.1`` kept), as logrotate would, and at sandbox start (an earlier run's lines). At start each file gets the last
:data:`BACKFILL_SECONDS` of history, so a demo has something to show at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.ec2.models import ec2_backends

from opstui.private_files import private_dir

from . import clock
from .agent_shell import node_home
from .ec2_fast import instance_index

if TYPE_CHECKING:
    from .scenarios import NodeSpec, Scenario

TICK = 2.0
MAX_LINES_PER_TICK = 12
ROTATE_BYTES = 4 * 1024 * 1024
BACKFILL_SECONDS = 900.0
BACKFILL_LINES = 150  # at most, a file
MAX_WRITING_NODES = 25  # the default scenario's curated nodes

SYSLOG_REDHAT = "/var/log/messages"
SYSLOG_DEBIAN = "/var/log/syslog"
NGINX_ACCESS = "/var/log/nginx/access.log"
NGINX_ERROR = "/var/log/nginx/error.log"
APP_LOG = "/var/log/app/app.log"


def node_path(home: Path, path: str) -> Path:
    """Where a node's absolute path lives on this machine: under the node's home (its ``/``).

    Windows paths (``C:\\ProgramData\\x.log``) map to ``<home>/C/ProgramData/x.log``."""
    text = path.replace("\\", "/")
    if len(text) >= 2 and text[1] == ":":
        text = text[0].upper() + text[2:]
    parts = [p for p in text.split("/") if p not in ("", ".", "..")]
    return home.joinpath(*parts) if parts else home


def syslog_path(distro: str) -> str:
    return SYSLOG_DEBIAN if distro.startswith("ubuntu") else SYSLOG_REDHAT


def storefront_health() -> str:
    """The storefront's health now (``ok`` without a running web app)."""
    try:
        from . import webapp

        return webapp.health()
    except Exception:  # no storefront in this run (tests that start none)
        return "ok"


def _daily(when: dt.datetime) -> float:
    """0.3 .. 1.0: traffic through the day, peaking in the Tokyo afternoon (as the metrics' daily pattern)."""
    import math

    hours = (when.timestamp() % 86400) / 3600.0
    return 0.3 + 0.7 * 0.5 * (1 - math.cos(2 * math.pi * (hours - 19.0) / 24.0))


# ------------------------------------------------------------------------------------------------------------
# line makers


_PAGES = [("GET", "/", 200, 5123), ("GET", "/products", 200, 14211), ("GET", "/products/{n}", 200, 8801),
          ("GET", "/cart", 200, 3410), ("POST", "/api/cart/items", 201, 212), ("POST", "/api/checkout", 200, 398),
          ("GET", "/static/app.{h}.js", 200, 88211), ("GET", "/static/site.{h}.css", 200, 21400),
          ("GET", "/favicon.ico", 404, 153), ("GET", "/health", 200, 41), ("GET", "/search?q=tea", 200, 9120)]
_AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
           "CloudWatchSynthetics/arn:aws:synthetics:ap-northeast-1:123456789012:canary:storefront-heartbeat",
           "ELB-HealthChecker/2.0"]
_SYSLOG = [
    ("systemd", "1", "Started session-{n}.scope - Session {n} of User ec2-user."),
    ("systemd-logind", "{p}", "New session {n} of user ec2-user."),
    ("sshd", "{p}", "Accepted publickey for ec2-user from 10.0.{a}.{b} port {port} ssh2: ED25519 SHA256:q8bA{h}"),
    ("CRON", "{p}", "(root) CMD (/usr/lib64/sa/sa1 1 1)"),
    ("chronyd", "612", "Selected source 169.254.169.123"),
    ("amazon-ssm-agent", "1872", "INFO [ssm-agent-worker] [MessagingDeliveryService] Sending reply"),
    ("amazon-ssm-agent", "1872", "INFO [HealthCheck] HealthCheck reporting agent health."),
    ("kernel", "", "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies."),
    ("systemd", "1", "Starting dnf-makecache.service - dnf makecache..."),
    ("systemd", "1", "Finished dnf-makecache.service - dnf makecache."),
    ("dhclient", "{p}", "XMT: Solicit on eth0, interval 112280ms."),
]


@dataclass
class _File:
    """One file a node writes: what kind, where, and up to which sandbox time it is written."""

    kind: str  # syslog / access / error / app
    path: Path
    upto: float
    rate: float  # lines per sandbox second at the daily peak


class _Node:
    def __init__(self, spec: NodeSpec, home: Path, seed: int, start: float) -> None:
        self.spec = spec
        self.home = home
        self.rng = random.Random(f"{seed}|{spec.instance_id}")
        role = spec.tags.get("Role", "")
        self.hostname = (spec.computer_name or spec.instance_id).split(".")[0]
        self.files = [_File("syslog", node_path(home, syslog_path(spec.distro)), start, 0.1)]
        if role == "web":
            self.files.append(_File("access", node_path(home, NGINX_ACCESS), start, 1.5))
            self.files.append(_File("error", node_path(home, NGINX_ERROR), start, 0.0))
        if role == "app":
            self.files.append(_File("app", node_path(home, APP_LOG), start, 1.0))
        self.request_seq = self.rng.randrange(10_000, 90_000)
        self.worker = self.rng.randrange(2000, 4000)

    # -- one file's lines for the sandbox interval (t0, t1] ---------------------------------------------------

    def lines(self, f: _File, t0: float, t1: float, health: str, cap: int) -> tuple[list[str], list[str]]:
        """(lines for ``f``, error-log lines caused by them) for the interval."""
        span = t1 - t0
        if span <= 0:
            return [], []
        mid = dt.datetime.fromtimestamp((t0 + t1) / 2, dt.UTC)
        rate = f.rate * (_daily(mid) if f.kind in ("access", "app") else 1.0)
        expected = rate * span
        n = int(expected) + (1 if self.rng.random() < expected - int(expected) else 0)
        n = min(n, cap)
        stamps = sorted(t0 + self.rng.random() * span for _ in range(n))
        out: list[str] = []
        errors: list[str] = []
        for ts in stamps:
            when = dt.datetime.fromtimestamp(ts, dt.UTC)
            if f.kind == "syslog":
                out.append(self._syslog(when))
            elif f.kind == "access":
                line, err = self._access(when, health)
                out.append(line)
                if err:
                    errors.append(err)
            elif f.kind == "app":
                out.append(self._app(when, health))
        return out, errors

    def _syslog(self, when: dt.datetime) -> str:
        prog, pid, text = self.rng.choice(_SYSLOG)
        r = self.rng.randrange
        fill = {"n": r(1000, 9999), "p": r(1000, 60000), "a": r(0, 255), "b": r(2, 254), "port": r(32768, 60999),
                "h": f"{self.rng.getrandbits(48):012x}"}
        pid = pid.format(**fill)
        tag = f"{prog}[{pid}]" if pid else prog
        stamp = f"{when:%b} {when.day:2d} {when:%H:%M:%S}"
        return f"{stamp} {self.hostname} {tag}: {text.format(**fill)}"

    def _access(self, when: dt.datetime, health: str) -> tuple[str, str | None]:
        method, path, status, size = self.rng.choice(_PAGES)
        path = path.replace("{n}", str(self.rng.randrange(1, 400))).replace("{h}", "3f9a1c")
        client = f"10.0.{self.rng.randrange(0, 64)}.{self.rng.randrange(2, 254)}"
        agent = self.rng.choice(_AGENTS)
        rt = self.rng.uniform(0.004, 0.09) if path.startswith("/static") else self.rng.uniform(0.03, 0.2)
        err = None
        self.request_seq += 1
        dynamic = not path.startswith("/static") and path != "/favicon.ico"
        if dynamic and health == "slow":
            rt = self.rng.uniform(1.5, 6.0)
            if rt > 5.0 or self.rng.random() < 0.3:
                status, size, rt = 504, 562, 60.0 if self.rng.random() < 0.2 else rt
                err = (f"{when:%Y/%m/%d %H:%M:%S} [error] {self.worker}#{self.worker}: *{self.request_seq} upstream "
                       "timed out (110: Connection timed out) while reading response header from upstream, "
                       f'client: {client}, server: storefront, request: "{method} {path} HTTP/1.1", upstream: '
                       f'"http://127.0.0.1:8080{path}", host: "shop.example.com"')
        elif dynamic and health == "down":
            status, size, rt = self.rng.choice([(502, 552, 0.002), (503, 197, 0.001)])
            if status == 502:
                err = (f"{when:%Y/%m/%d %H:%M:%S} [error] {self.worker}#{self.worker}: *{self.request_seq} connect() "
                       f"failed (111: Connection refused) while connecting to upstream, client: {client}, server: "
                       f'storefront, request: "{method} {path} HTTP/1.1", upstream: "http://127.0.0.1:8080{path}", '
                       'host: "shop.example.com"')
        elif self.rng.random() < 0.004:
            err = (f"{when:%Y/%m/%d %H:%M:%S} [warn] {self.worker}#{self.worker}: *{self.request_seq} an upstream "
                   "response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while "
                   f'reading upstream, client: {client}, server: storefront, request: "{method} {path} HTTP/1.1"')
        stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        return (f'{client} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}" '
                f"rt={rt:.3f}"), err

    def _app(self, when: dt.datetime, health: str) -> str:
        method, path = self.rng.choice([("POST", "/api/checkout"), ("GET", "/api/orders/{n}"),
                                        ("POST", "/api/payments/authorize"), ("GET", "/api/cart"),
                                        ("GET", "/api/inventory/{n}")])
        path = path.replace("{n}", str(self.rng.randrange(100000, 999999)))
        latency = self.rng.lognormvariate(3.6, 0.5)  # ~40 ms median
        level, status, message, logger = "INFO", 200, "request completed", "app.http"
        roll = self.rng.random()
        if health == "slow" and roll < 0.5:
            latency = self.rng.uniform(1500, 6000)
            if roll < 0.2:
                level, status, logger = "ERROR", 504, "app.payments"
                message = "payment gateway timeout after 5000 ms"
            else:
                level, message = "WARN", "slow request"
        elif health == "down" and roll < 0.7:
            level, status, logger, latency = "ERROR", 503, "app.db", self.rng.uniform(1, 5)
            message = "connection pool exhausted: 0 of 20 connections available"
        elif roll < 0.01:
            level, status, logger, message = "ERROR", 500, "app.http", "unhandled exception: KeyError 'sku'"
        elif roll < 0.05:
            level, message, logger = "DEBUG", "cache miss", "app.cache"
        record = {"timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
                  "level": level, "logger": logger, "message": message,
                  "request_id": _request_id(self.rng),
                  "method": method, "path": path, "status": status, "latency_ms": round(latency, 1),
                  "instance_id": self.spec.instance_id}
        return json.dumps(record, ensure_ascii=False)


def _request_id(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _rotate(path: Path) -> None:
    """``x.log`` -> ``x.log.1`` (another sandbox sharing the state folder may have done it first)."""
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, path.with_name(path.name + ".1"))


def _append(path: Path, lines: list[str]) -> None:
    if not lines:
        return
    if not path.parent.is_dir():
        private_dir(path.parent)
    try:
        if path.stat().st_size > ROTATE_BYTES:
            _rotate(path)
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


class NodeLogWriters:
    """The fleet's log writers: one daemon thread (see the module docstring)."""

    def __init__(self, scenario: Scenario, state_dir: Path, seed: int = 42, live: bool = True) -> None:
        self.scenario = scenario
        self.account = scenario.account_id
        self.live = live
        start = clock.now().timestamp() - BACKFILL_SECONDS
        chosen = [n for n in scenario.nodes if n.distro != "win2022" and not n.instance_id.startswith("mi-")
                  and n.tags.get("Role")][:MAX_WRITING_NODES] if scenario.name == "default" else []
        self.nodes = [_Node(spec, node_home(state_dir, spec.instance_id), seed, start) for spec in chosen]
        for node in self.nodes:  # an earlier run's lines are rotated away: each run's files start empty
            for f in node.files:
                _rotate(f.path)
        self.lines_written = 0
        self._stop = threading.Event()
        self._backfilled = threading.Event()
        self._served: list[tuple[dt.datetime, Any]] = []
        self._served_lock = threading.Lock()
        self._served_count = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def paths(self, instance_id: str) -> list[Path]:
        return [f.path for n in self.nodes if n.spec.instance_id == instance_id for f in n.files]

    def _running(self, spec: NodeSpec) -> bool:
        try:
            instance = instance_index(ec2_backends[self.account][spec.region]).get(spec.instance_id)
        except KeyError:
            return False
        return instance is not None and instance._state.name == "running"

    def tick(self, cap: int = MAX_LINES_PER_TICK) -> int:
        """Write every running node's lines up to sandbox now; returns how many lines were written."""
        now = clock.now().timestamp()
        health = storefront_health()
        written = 0
        with self._lock:
            for node in self.nodes:
                if not self._running(node.spec):
                    for f in node.files:
                        f.upto = now  # a stopped server writes nothing, and does not catch up later
                    continue
                errors: list[str] = []
                for f in node.files:
                    if f.kind == "error":
                        continue
                    lines, errs = node.lines(f, f.upto, now, health, cap)
                    errors.extend(errs)
                    f.upto = now
                    _append(f.path, lines)
                    written += len(lines)
                for f in node.files:
                    if f.kind == "error":
                        _append(f.path, errors)
                        written += len(errors)
                        f.upto = now
            written += self._log_served()
        self.lines_written += written
        return written

    def served(self, request: Any) -> None:
        """A request the storefront really answered (a canary's, a curl from a shell): logged by a web node."""
        with self._served_lock:
            if len(self._served) < 1000:
                self._served.append((clock.now(), request))

    def _log_served(self) -> int:
        with self._served_lock:
            served, self._served = self._served, []
        web = [n for n in self.nodes if any(f.kind == "access" for f in n.files) and self._running(n.spec)]
        if not served or not web:
            return 0
        by_node: dict[int, list[str]] = {}
        for k, (when, r) in enumerate(served):
            node = web[(self._served_count + k) % len(web)]
            stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
            path = r.path.replace('"', "%22")
            agent = r.user_agent.replace('"', "'")
            by_node.setdefault(id(node), []).append(
                f'{r.client} - - [{stamp}] "{r.method} {path} HTTP/1.1" {r.status} {r.size} "-" "{agent}" '
                f"rt={r.latency:.3f}")
        self._served_count += len(served)
        for node in web:
            lines = by_node.get(id(node))
            if lines:
                _append(next(f.path for f in node.files if f.kind == "access"), lines)
        return len(served)

    def start(self) -> None:
        """The backfill, then (live) a tick every :data:`TICK` s, in the writers' thread (start-up does not wait)."""
        from . import webapp

        webapp.REQUEST_LISTENERS.append(self.served)
        self._thread = threading.Thread(target=self._loop, name="opstui-sandbox-node-logs", daemon=True)
        self._thread.start()

    def wait_backfilled(self, timeout: float = 10.0) -> bool:
        return self._backfilled.wait(timeout)

    def _loop(self) -> None:
        try:
            self.tick(cap=BACKFILL_LINES)
        except OSError:
            pass
        finally:
            self._backfilled.set()
        if not self.live:
            return
        while not self._stop.wait(TICK):
            try:
                self.tick()
            except OSError:
                continue  # a full disk or a removed home: try again next tick

    def stop(self) -> None:
        from . import webapp

        if self.served in webapp.REQUEST_LISTENERS:
            webapp.REQUEST_LISTENERS.remove(self.served)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
