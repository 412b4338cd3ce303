"""The sandbox server: moto behind a WSGI middleware, seeded with a scenario.

Layout (technique D): werkzeug's threaded server -> :class:`SandboxMiddleware` -> moto's
``DomainDispatcherApplication``. The middleware

* refuses foreign hosts and browsers (:mod:`.listener_guard`) and every AWS request not signed with the
  run's key pair (:mod:`.sigv4`), before anything else sees it;
* serves the control endpoints under ``/_opstui/`` (bearer token, JSON only) so a sandbox running as a
  child process can be driven over HTTP (health, faults, ping status, each extension's knobs): each endpoint
  belongs to one extension (:mod:`.extension`) and is looked up in :data:`EXTENSIONS`;
* injects faults, choosing service/region from the SigV4 credential scope and the action
  from ``X-Amz-Target`` or the query/form ``Action`` (it re-buffers the body it reads, so
  moto still sees the full request).

moto's backends are process-global, so only one :class:`Sandbox` may run per process at a
time; ``start()`` installs the extensions (once per process), resets moto and the node registry, seeds the
scenario, then prepares the extensions, starts the server and starts the extensions; ``stop()`` stops them in
reverse.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import re
import secrets
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from opstui.private_files import private_dir

from . import (
    alarms,
    associations,
    backup,
    clock,
    cw_agent_logs,
    documents,
    ec2_fast,
    faults,
    hostile,
    incident,
    inventory,
    latency,
    log_metric_filters,
    logs_fast,
    logs_insights,
    logs_live_tail,
    metrics,
    operations,
    recorder,
    resource_groups,
    run_command,
    s3_listing,
    sigv4,
    sns_delivery,
    ssm_nodes,
    ssm_sessions,
    ssm_status,
    synthetics,
    webapp,
)
from .credentials import USER_NAME, SandboxCredentials
from .extension import ControlRequest, Extension, Registry
from .faults import FaultRegistry
from .latency import Latency, LatencyKnob, parse_latency
from .listener_guard import ListenerGuard, environ_headers, strip_cors
from .living import LivingState
from .scenarios import ACCOUNT_ID, Scenario, build_scenario
from .seed import seed
from .session_faults import SessionFaults
from .ssm_nodes import REGISTRY, NodeRegistry
from .ssm_sessions import SessionManager

_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_CONTROL_PREFIX = "/_opstui/"
_INBOX_PREFIX = "/_opstui/sns-inbox/"

StartResponse = Callable[..., Any]


class QuietRequestHandler(MotoRequestHandler):
    """moto's handler, minus the per-request access log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class RequestInfo:
    service: str | None
    region: str | None
    action: str | None
    json_protocol: bool


def request_info(environ: dict[str, Any]) -> RequestInfo:
    """Identify an AWS request; may buffer ``wsgi.input`` (and replaces it with a BytesIO)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service = region = None
    m = _CREDENTIAL.search(auth)
    if m:
        region, service = m.group(1), m.group(2)
    target = environ.get("HTTP_X_AMZ_TARGET")
    content_type = environ.get("CONTENT_TYPE", "")
    if target:
        return RequestInfo(service, region, target.rsplit(".", 1)[-1], True)
    json_protocol = "json" in content_type
    action = None
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        action = query["Action"][0]
    elif "x-www-form-urlencoded" in content_type:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            action = form["Action"][0]
    return RequestInfo(service, region, action, json_protocol)


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            415: "Unsupported Media Type", 503: "Service Unavailable"}


def _json_response(start_response: StartResponse, status: int, payload: Any) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(f"{status} {_REASONS.get(status, 'Error')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _text_response(start_response: StartResponse, status: int, text: str) -> Iterable[bytes]:
    body = (text + "\n").encode()
    start_response(f"{status} {_REASONS.get(status, 'Error')}",
                   [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def _buffer_body(environ: dict[str, Any]) -> None:
    """Read the whole body once (the signature covers it) and leave a BytesIO for request_info and moto."""
    stream = environ.get("wsgi.input")
    if isinstance(stream, io.BytesIO):
        return
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length) if stream is not None else b""
    elif environ.get("wsgi.input_terminated") and stream is not None:
        body = stream.read()  # chunked transfer encoding, de-chunked by the server
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    if length > 0 or body:
        environ["CONTENT_LENGTH"] = str(len(body))


def _control_problem(environ: dict[str, Any], method: str,
                     creds: SandboxCredentials) -> tuple[int, str] | None:
    """Why a control request is refused: it must carry the run's bearer token and, with a body, be JSON."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                              creds.control_token().encode()):
        return 401, ("control endpoints need 'Authorization: Bearer <token>' (the run's control token, see "
                     "opstui/sandbox/credentials.py)")
    if method not in ("GET", "HEAD"):
        ctype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            return 415, "control endpoints accept only Content-Type: application/json"
    return None


class SandboxMiddleware:
    """In front of moto: the listener guard, SigV4 verification, control endpoints, fault injection.

    Order matters: a request from a foreign Host or a browser is refused first, then the control endpoints
    (bearer token, JSON only), then every AWS request must carry a valid signature of the run's key pair
    (:mod:`opstui.sandbox.sigv4`) before faults or moto see it, so a refused request has no effect at all.
    No response leaves with an ``Access-Control-*`` header.
    """

    def __init__(self, app: Callable[..., Any], sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        sb = self.sandbox
        method = environ.get("REQUEST_METHOD", "GET")
        refusal = sb.guard.refusal(method, environ.get("HTTP_HOST"), environ_headers(environ))
        if refusal is not None:
            sb.refused["listener"] += 1
            return _text_response(start_response, 403, refusal)

        def start_clean(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, strip_cors(headers), exc_info)

        path = environ.get("PATH_INFO", "")
        if path.startswith(_INBOX_PREFIX) and method == "POST":
            token = path[len(_INBOX_PREFIX):]
            if not hmac.compare_digest(token.encode(), sb.inbox_token.encode()):
                sb.refused["control"] += 1
                return _json_response(start_clean, 403, {"error": "unknown inbox"})
            return _json_response(start_clean, 200, incident.receive_inbox(environ))
        if path.startswith(_CONTROL_PREFIX):
            problem = _control_problem(environ, method, sb.credentials)
            if problem is not None:
                sb.refused["control"] += 1
                return _json_response(start_clean, problem[0], {"error": problem[1]})
            return self._control(environ, start_clean, path[len(_CONTROL_PREFIX):].strip("/"))
        _buffer_body(environ)
        verified = sigv4.verify(environ, environ["wsgi.input"].getvalue(), sb.credentials)
        if isinstance(verified, sigv4.AuthFailure):
            sb.refused["aws"] += 1
            status, headers, body = sigv4.render_refusal(environ, verified)
            start_response(f"{status} {_REASONS.get(status, 'Error')}",
                           [*headers, ("Content-Length", str(len(body)))])
            return [body]
        service, operation = operations.identify(environ, verified.service, environ["wsgi.input"].getvalue())
        sb.calls[f"{verified.service}:{operation or '?'}"] += 1
        sb.call_times[f"{verified.service}:{operation or '?'}@{verified.region}"].append(time.monotonic())
        delay = sb.latency.delay(verified.region)
        if delay:
            time.sleep(delay)  # this request's thread only: werkzeug serves each connection on its own thread
        faults = sb.faults
        if faults.rules:
            info = request_info(environ)
            action = operation or info.action
            rule = faults.take(verified.service, verified.region, action)
            if rule is not None:
                resp = faults.render(rule, verified.service, verified.region, action, info.json_protocol)
                start_response(f"{resp.status} {_REASONS.get(resp.status, 'Error')}",
                               [*resp.headers, ("Content-Length", str(len(resp.body)))])
                return [resp.body]
        stream = EXTENSIONS.stream(verified.service, operation)
        if stream is not None:  # a streamed answer (StartLiveTail): written chunk by chunk, never recorded
            return stream(environ, start_clean, sb.account_id, verified.region)
        if path == "/list-group-resources" and method == "POST":
            # moto has no route for it (HTML 404): answered here, see resource_groups.py
            info = request_info(environ)
            if info.service == "resource-groups":
                return resource_groups.handle_list_group_resources(environ, start_clean, sb.account_id,
                                                                   info.region or "us-east-1")
        if sb.recorder is not None and service:
            protocol = recorder.protocol_of(environ, operations.protocol(service))
            return sb.recorder.wrap(self.app, environ, start_clean, service, operation, protocol)
        return self.app(environ, start_clean)

    def _control(self, environ: dict[str, Any], start_response: StartResponse, name: str) -> Iterable[bytes]:
        """A control endpoint, looked up in :data:`EXTENSIONS` (the caller checked the bearer token)."""
        method = environ.get("REQUEST_METHOD", "GET")
        payload: dict[str, Any] = {}
        if method in ("POST", "PUT"):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(length) if length else b""
                payload = json.loads(raw or b"{}")
            except (ValueError, json.JSONDecodeError):
                return _json_response(start_response, 400, {"error": "body must be JSON"})
        handler = EXTENSIONS.route(method, name)
        if handler is None:
            return _json_response(start_response, 404,
                                  {"error": f"no control endpoint {method} /_opstui/{name}"})
        try:
            body = handler(ControlRequest(method, name, payload, parse_qs(environ.get("QUERY_STRING", ""))))
        except (KeyError, ValueError, TypeError) as exc:
            return _json_response(start_response, 400, {"error": str(exc)})
        return _json_response(start_response, 200, body)


class Health(Extension):
    """``GET /_opstui/health``: ready, regions, account, scenario, refused requests by listener part, and
    ``lenient``: every opt-in knob now making the sandbox behave unlike AWS (empty by default: strict)."""

    name = "health"

    def control_snapshot(self) -> dict[str, Any]:
        sb = self.running
        return {"ready": sb.ready, "regions": sb.regions, "account_id": sb.account_id,
                "scenario": sb.scenario_name, "refused": dict(sb.refused),
                "lenient": [line for ext in EXTENSIONS for line in ext.lenient()]}


class Calls(Extension):
    """``GET /_opstui/calls``: AWS calls served since start ("signing-name:Operation" -> count) and the most
    served in any one second, per operation and region (``peak_per_second``: "ssm:Operation@region" -> n, what
    AWS's per-account, per-Region throttling counts); ``DELETE`` forgets them (the read-only sweep counts from
    there)."""

    name = "calls"

    def control_snapshot(self) -> dict[str, Any]:
        sb = self.running
        return {"calls": dict(sb.calls),
                "peak_per_second": {key: peak_per_second(list(times)) for key, times in list(sb.call_times.items())}}

    def clear(self) -> None:
        self.running.calls.clear()
        self.running.call_times.clear()


def peak_per_second(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` (seconds) inside any window of ``window`` seconds."""
    times.sort()
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


#: Every extension, in start order: prepared (before the server listens) and started (after it answers) in
#: this order, stopped in reverse. What depends on another comes after it: the clock before what reads it at
#: seeding, Backup before the hostile seed (its jobs), the storefront before the incident (which slows it) and
#: the canaries (which request it), Run Command before State Manager (which runs through its engine).
EXTENSIONS = Registry([
    Health(), Calls(), faults.EXTENSION, latency.EXTENSION,
    ec2_fast.EXTENSION, ssm_nodes.EXTENSION, metrics.EXTENSION, alarms.EXTENSION, sns_delivery.EXTENSION,
    clock.EXTENSION, inventory.EXTENSION, backup.EXTENSION, documents.EXTENSION, logs_fast.EXTENSION,
    run_command.EXTENSION, ssm_sessions.EXTENSION, hostile.EXTENSION, webapp.EXTENSION, incident.EXTENSION,
    synthetics.EXTENSION, associations.EXTENSION, ssm_status.EXTENSION, s3_listing.EXTENSION,
    log_metric_filters.EXTENSION, logs_insights.EXTENSION, cw_agent_logs.EXTENSION,
    logs_live_tail.EXTENSION,
])


class Sandbox:
    """A moto server on loopback, seeded with a scenario, with faults and a living fleet.

    ``start()`` blocks until the scenario is seeded and every service opstui uses has
    answered once (moto builds each service's app lazily on its first request).

    ``nodes`` as a constructor argument is the fleet size (``None``: the curated scenario);
    after construction ``sb.nodes`` is the managed-node registry, so tests can change ping
    statuses (``sb.nodes.set_ping(...)`` or the shortcut :meth:`set_ping`).
    """

    _active: Sandbox | None = None  # one per process: moto's state is global
    _active_lock = threading.Lock()

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: str = "default",
        nodes: int | None = None,
        live: bool = True,
        seed: int = 42,
        tick_seconds: float = 3.0,
        state_dir: str | Path | None = None,
        credentials: SandboxCredentials | None = None,
        latency: Latency | str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.scenario = scenario
        self.node_count = nodes
        self.live = live
        self.seed = seed
        self.tick_seconds = tick_seconds
        if state_dir is None:
            from platformdirs import user_state_path

            state_dir = user_state_path("opstui") / "sandbox"
        self.state_dir = Path(state_dir)
        #: the run's key pair: every AWS request must be signed with it (a fresh random one by default)
        self.credentials = credentials or SandboxCredentials.generate()
        #: Host names the AWS endpoint answers to (its port is known once it listens)
        self.guard = ListenerGuard(host)
        #: the contract tests' opt-in recording of every response (None: off, the default)
        self.recorder = recorder.Recorder.from_environment()
        #: the built-in SNS http subscriber's path secret (``/_opstui/sns-inbox/<token>``)
        self.inbox_token = secrets.token_urlsafe(16)
        #: refused requests by listener part ("listener", "control", "aws"), for tests
        self.refused: Counter[str] = Counter()
        #: AWS calls served, "signing-name:Operation" -> count (``GET /_opstui/calls``; the read-only sweep)
        self.calls: Counter[str] = Counter()
        #: when each call was served, "signing-name:Operation@region" -> monotonic seconds (calls per second)
        self.call_times: defaultdict[str, list[float]] = defaultdict(list)
        #: Session Manager: sessions, the data-channel websocket server, knobs (``sessions.configure``)
        self.sessions = SessionManager(host, self.state_dir, USER_NAME)
        self.faults = FaultRegistry(ACCOUNT_ID)
        #: network latency of API calls and of the data channel's round trip (:mod:`.latency`; default 0)
        self.latency = LatencyKnob(seed=seed)  # 0 until the warm-up requests are served (start())
        self._initial_latency = latency if isinstance(latency, Latency) else parse_latency(latency)
        self.sessions.server.latency = self.latency
        self.nodes: NodeRegistry = REGISTRY
        self.ready = False
        self.startup_seconds = 0.0
        self._scenario: Scenario | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._living: LivingState | None = None

    # --- public properties -------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("Sandbox not started")
        host, port = self._server.server_address[:2]
        return f"http://{url_host(host)}:{port}"

    @property
    def inbox_url(self) -> str:
        """The built-in SNS http subscriber (``/_opstui/sns-inbox/<token>`` on the endpoint)."""
        return f"{self.endpoint}{_INBOX_PREFIX}{self.inbox_token}"

    @property
    def stream_port(self) -> int | None:
        """Port of the Session Manager data-channel websocket server (same host as the endpoint)."""
        return self.sessions.stream_port

    @property
    def session_faults(self) -> SessionFaults:
        """Data-channel fault knobs: ``add(kind, session_id=None, **params)`` / ``clear()``."""
        return self.sessions.faults

    @property
    def regions(self) -> list[str]:
        return list(self._scenario.regions) if self._scenario else []

    @property
    def account_id(self) -> str:
        return self._scenario.account_id if self._scenario else ACCOUNT_ID

    @property
    def scenario_name(self) -> str:
        return self._scenario.name if self._scenario else self.scenario

    @property
    def scenario_data(self) -> Scenario | None:
        """The seeded scenario (node specs), for tests and the demo."""
        return self._scenario

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        with Sandbox._active_lock:
            if Sandbox._active is not None and Sandbox._active is not self:
                raise RuntimeError("another Sandbox is running in this process; stop() it first")
            Sandbox._active = self
        began = time.perf_counter()
        try:
            private_dir(self.state_dir)  # 0700: node homes, scripts and outputs live below it
            self._scenario = build_scenario(self.scenario, seed=self.seed, nodes=self.node_count)
            EXTENSIONS.install()  # moto patched once per process, before the first seeding
            _reset_moto()
            REGISTRY.clear()
            seed(self._scenario, REGISTRY, self.seed)
            _register_identity(self.account_id, self.credentials)
            EXTENSIONS.prepare(self)
            moto_app = DomainDispatcherApplication(create_backend_app)
            app = SandboxMiddleware(moto_app, self)
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            self._server = make_server(self.host, self.port, app, threaded=True,
                                       request_handler=QuietRequestHandler)
            self._server.daemon_threads = True
            self.guard.bind(self._server.server_address[1])
            self._thread = threading.Thread(target=self._server.serve_forever, name="opstui-sandbox",
                                            daemon=True)
            self._thread.start()
            self._warm_up()
            self.latency.set(self._initial_latency)
            EXTENSIONS.start(self)
            if self.live:
                self._living = LivingState(REGISTRY, self._scenario, seed=self.seed, interval=self.tick_seconds)
                self._living.start()
            self.ready = True
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - began
        return self

    def stop(self) -> None:
        """Stop the living thread and the server. Idempotent."""
        self.ready = False
        if self._living is not None:
            self._living.stop()
            self._living = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            EXTENSIONS.stop(self)
        finally:
            with Sandbox._active_lock:
                if Sandbox._active is self:
                    Sandbox._active = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control -----------------------------------------------------------------------------

    def set_ping(self, region: str, instance_id: str, status: str) -> None:
        REGISTRY.set_ping(self.account_id, region, instance_id, status)

    def _warm_up(self) -> None:
        """One signed request per service so moto builds each app now, not on the app's first call."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        region = self.regions[0] if self.regions else "us-east-1"
        requests = [
            ("ec2", b"Action=DescribeInstances&Version=2016-11-15&MaxResults=5", {}),
            ("sts", b"Action=GetCallerIdentity&Version=2011-06-15", {}),
            ("ssm", b'{"MaxResults": 5}', {"X-Amz-Target": "AmazonSSM.DescribeInstanceInformation",
                                          "Content-Type": "application/x-amz-json-1.1"}),
            ("monitoring", b"Action=ListMetrics&Version=2010-08-01", {}),
        ]
        creds = Credentials(self.credentials.access_key_id, self.credentials.secret_access_key)
        for service, body, extra in requests:
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **extra}
            aws_request = AWSRequest(method="POST", url=self.endpoint + "/", data=body, headers=headers)
            SigV4Auth(creds, service, region).add_auth(aws_request)
            req = urllib.request.Request(self.endpoint + "/", data=body, headers=dict(aws_request.headers.items()),
                                         method="POST")
            with urllib.request.urlopen(req, timeout=30) as resp:
                resp.read()


def url_host(host: str) -> str:
    """A host for a URL: IPv6 literals in brackets (``http://[::1]:PORT``)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _register_identity(account_id: str, creds: SandboxCredentials) -> None:
    """Make the run's key pair an IAM user's, so GetCallerIdentity answers ``user/sandbox-operator``."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["aws"]
    if USER_NAME not in iam.users:
        iam.create_user(region_name="us-east-1", user_name=USER_NAME, path="/", tags=[])
    key = iam.create_access_key(USER_NAME)
    key.access_key_id = creds.access_key_id
    key.secret_access_key = creds.secret_access_key


def _reset_moto() -> None:
    """Drop whatever an earlier Sandbox (or test) left in moto's process-global backends."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
