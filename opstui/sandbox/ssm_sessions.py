"""SSM Session Manager APIs for the sandbox (moto has none): Start/Resume/Terminate/DescribeSessions.

Installed on moto's ``SimpleSystemManagerResponse`` (technique B). The sessions themselves -- tokens,
status, the agent with its PTY shell -- live in a :class:`SessionManager` owned by the running
:class:`~opstui.sandbox.server.Sandbox`; the data channel is :mod:`opstui.sandbox.datachannel`.

Behaviour chosen to match AWS:

* StartSession: ``Target`` must be a managed node of that region whose effective PingStatus is Online
  (a stopped instance is ConnectionLost), else HTTP 400 ``TargetNotConnected`` "<target> is not
  connected." -- also for an unknown id. Documents: none or ``SSM-SessionManagerRunShell`` (login shell,
  Standard_Stream), ``AWS-StartInteractiveCommand`` / ``AWS-StartNonInteractiveCommand`` with
  ``Parameters={"command": [...]}``; anything else is ``InvalidDocument``. AWS-StartNonInteractiveCommand
  also takes ``separateOutputStream`` (``["true"]``/``["false"]``, default false): only with it does the
  agent send stderr apart and the command's exit status (https://github.com/aws/session-manager-plugin/issues/59,
  where ``separateOutputStream=true`` makes AWS print ``EXIT_CODE: 0``; agent ``shell.go``
  ``setSeparateOutputStreamProperties``). SessionId is
  ``<user name>-<17 hex>`` and Owner the caller's ARN, as AWS does for an IAM user: the caller is the IAM user
  that owns the run's key pair (``sandbox-operator``, :mod:`opstui.sandbox.credentials`), never the access key
  id (a session id is shown and logged freely; a key id should not be).
* ResumeSession: a new token (the StartSession token stays valid too), the same StreamUrl;
  ``DoesNotExistException`` for unknown and for ended sessions.
* TerminateSession: ends the session (channel_closed to a connected client, shell killed); returns the id
  for any known session, ``DoesNotExistException`` for an unknown one.
* DescribeSessions: State Active (Connecting/Connected/Disconnected/Terminating) or History
  (Terminated/Failed), filters InvokedAfter/InvokedBefore/Target/Owner/Status/SessionId, newest first,
  MaxResults 1-200 (default 20) with NextToken. MaxSessionDuration is omitted (AWS omits it unless the
  account's preferences set one).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError
from moto.ssm.responses import SimpleSystemManagerResponse

from .datachannel import DataChannelServer
from .extension import ControlRequest, Extension, Handler, attach
from .session_faults import SessionFault, SessionFaults
from .ssm_nodes import REGISTRY, effective_view

if TYPE_CHECKING:
    from .server import Sandbox

SHELL_DOCUMENT = "SSM-SessionManagerRunShell"
DOCUMENTS = {
    SHELL_DOCUMENT: "Standard_Stream",
    "AWS-StartInteractiveCommand": "InteractiveCommands",
    "AWS-StartNonInteractiveCommand": "NonInteractiveCommands",
}
ACTIVE = ("Connecting", "Connected", "Disconnected", "Terminating")
HISTORY = ("Terminated", "Failed")
STATUSES = ACTIVE + HISTORY
_FILTER_KEYS = ("InvokedAfter", "InvokedBefore", "Target", "Owner", "Status", "SessionId")
_CALLER_SAFE = re.compile(r"[^A-Za-z0-9._@=+-]")


@dataclass
class SessionSettings:
    """Knobs, read when a session starts (changing them affects sessions started afterwards)."""

    handshake: bool = False
    kms: bool = False
    chunk_size: int = 1024
    window: int = 16  # unacked output frames in flight (the agent stops reading its pty beyond this)
    grace_seconds: float = 120.0
    handshake_timeout: float = 15.0

    def update(self, **knobs: Any) -> None:
        names = {f.name for f in fields(self)}
        for key, value in knobs.items():
            if key not in names:
                raise ValueError(f"unknown session knob {key!r}; known: {sorted(names)}")
            if key in ("handshake", "kms"):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be a boolean")
            elif key in ("chunk_size", "window"):
                if isinstance(value, bool) or not isinstance(value, int) or value < (4 if key == "chunk_size" else 1):
                    raise ValueError(f"{key} must be an integer >= {4 if key == 'chunk_size' else 1}")
                if key == "chunk_size" and value > 1024:
                    raise ValueError("chunk_size must be <= 1024")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{key} must be a positive number")
        for key, value in knobs.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class SessionRecord:
    session_id: str
    target: str
    region: str
    account_id: str
    owner: str
    document_name: str
    session_type: str
    command: str | None
    reason: str | None
    node_name: str
    stream_url: str
    settings: SessionSettings
    start_token: str
    latest_token: str | None = None
    status: str = "Connecting"
    details: str = ""
    start_date: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    end_date: dt.datetime | None = None
    exit_code: int | None = None
    invalid_tokens: int = 0
    #: the node's identity as its shell shows it (agent_shell.node_bin): ComputerName, private IP, platform
    computer_name: str = ""
    ip_address: str = ""
    platform: str = "Linux"
    #: AWS-StartNonInteractiveCommand's ``separateOutputStream``: stdout as Output (1), stderr as StdErr (11)
    #: and the command's ExitCode (12) at the end; without it the agent sends both streams as Output and no
    #: exit status at all (see :mod:`opstui.sandbox.datachannel`)
    separate_output: bool = False

    def token_ok(self, token: str) -> bool:
        ok = hmac.compare_digest(token.encode(), self.start_token.encode())
        if self.latest_token is not None:
            ok |= hmac.compare_digest(token.encode(), self.latest_token.encode())
        return ok

    @property
    def ended(self) -> bool:
        return self.status in HISTORY

    def finish(self, status: str, details: str = "") -> None:
        if self.ended:
            return
        self.status = status
        self.details = details
        self.end_date = dt.datetime.now(dt.UTC)

    def describe(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "SessionId": self.session_id,
            "Target": self.target,
            "Status": self.status,
            "StartDate": self.start_date,
            "DocumentName": self.document_name,
            "Owner": self.owner,
            "Details": self.details,
            "OutputUrl": {},
        }
        if self.end_date is not None:
            row["EndDate"] = self.end_date
        if self.reason:
            row["Reason"] = self.reason
        return row


class SessionManager:
    """Every session of the running sandbox, plus the data-channel server and the fault knobs."""

    def __init__(self, host: str, state_dir: Path, user_name: str = "sandbox-operator") -> None:
        self.host = host
        self.user_name = user_name
        self.state_dir = Path(state_dir)
        self.settings = SessionSettings()
        self.faults = SessionFaults()
        self.faults.on_immediate = self._apply_immediate
        self._lock = threading.Lock()
        self._sessions: dict[str, SessionRecord] = {}
        self.server = DataChannelServer(host, self.state_dir, self.faults, self.get)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()  # node homes under state_dir are created on demand

    def stop(self) -> None:
        self.server.stop()

    @property
    def stream_port(self) -> int | None:
        return self.server.port

    def configure(self, **knobs: Any) -> dict[str, Any]:
        with self._lock:
            self.settings.update(**knobs)
            return self.settings.as_dict()

    # --- sessions ----------------------------------------------------------------------------------

    def get(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            return self._sessions.get(session_id)

    def records(self) -> list[SessionRecord]:
        with self._lock:
            return list(self._sessions.values())

    def create(self, *, account_id: str, region: str, target: str, node_name: str,
               document_name: str, session_type: str, command: str | None, reason: str | None,
               computer_name: str = "", ip_address: str = "", platform: str = "Linux",
               separate_output: bool = False) -> SessionRecord:
        if self.server.port is None:
            raise RuntimeError("the data-channel server is not running")
        caller = _CALLER_SAFE.sub("", self.user_name)[:64] or "user"
        session_id = f"{caller}-{secrets.token_hex(9)[:17]}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        with self._lock:
            settings = copy.copy(self.settings)
        record = SessionRecord(
            session_id=session_id, target=target, region=region, account_id=account_id,
            owner=f"arn:aws:iam::{account_id}:user/{self.user_name}", document_name=document_name,
            session_type=session_type, command=command, reason=reason, node_name=node_name,
            stream_url=(f"ws://{host}:{self.server.port}/v1/data-channel/{session_id}"
                        "?role=publish_subscribe&cell-number=1"),
            settings=settings, start_token=_new_token(), computer_name=computer_name, ip_address=ip_address,
            platform=platform, separate_output=separate_output)
        with self._lock:
            self._sessions[session_id] = record
        self.server.create_agent(record)
        return record

    def resume(self, session_id: str) -> SessionRecord:
        record = self.get(session_id)
        if record is None or record.ended:
            raise JsonRESTError("DoesNotExistException", f"Session {session_id} does not exist")
        record.latest_token = _new_token()
        return record

    def terminate(self, session_id: str) -> SessionRecord:
        record = self.get(session_id)
        if record is None:
            raise JsonRESTError("DoesNotExistException", f"Session {session_id} does not exist")
        if not record.ended:
            record.status = "Terminating"
            self.server.terminate(session_id)
        return record

    def snapshot(self) -> list[dict[str, Any]]:
        """For tests (``GET /_opstui/sessions``): ids, status and the data channel's counters."""
        out = []
        for rec in self.records():
            row: dict[str, Any] = {
                "id": rec.session_id, "target": rec.target, "region": rec.region, "status": rec.status,
                "document": rec.document_name, "session_type": rec.session_type,
                "invalid_tokens": rec.invalid_tokens, "exit_code": rec.exit_code,
                "separate_output": rec.separate_output,
                "handshake": rec.settings.handshake, "kms": rec.settings.kms,
            }
            try:
                agent = self.server.call(self.server.snapshot, rec.session_id, timeout=5)
            except RuntimeError:
                agent = None
            row.update(agent or {})
            out.append(row)
        return out

    def _apply_immediate(self, rule: SessionFault) -> int:
        return self.server.apply_immediate(rule)


def _new_token() -> str:
    return secrets.token_urlsafe(96)  # 128 characters, opaque


# --------------------------------------------------------------------------------------------
# the moto side

_MANAGER: SessionManager | None = None


def activate(manager: SessionManager | None) -> None:
    """Point the moto handlers at the running sandbox's sessions (None when it stops)."""
    global _MANAGER
    _MANAGER = manager


def _manager() -> SessionManager:
    if _MANAGER is None:
        raise JsonRESTError("InternalServerError", "Session Manager is not running in this sandbox")
    return _MANAGER


def _dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def start_session(self: Any) -> str:
    manager = _manager()
    target = self._get_param("Target") or ""
    document = self._get_param("DocumentName") or SHELL_DOCUMENT
    parameters = self._get_param("Parameters") or {}
    reason = self._get_param("Reason")
    account, region = self.current_account, self.region
    if not target:
        raise JsonRESTError("ValidationException", "1 validation error detected: Value null at 'target' failed "
                                                   "to satisfy constraint: Member must not be null")
    session_type = DOCUMENTS.get(document)
    if session_type is None:
        raise JsonRESTError("InvalidDocument", f"Document {document} does not exist")
    command = None
    if session_type != "Standard_Stream":
        values = parameters.get("command") if isinstance(parameters, dict) else None
        if not values or not isinstance(values, list) or not all(isinstance(v, str) for v in values) \
                or not "".join(values).strip():
            raise JsonRESTError("InvalidParameters", f"Document {document} requires the parameter command")
        command = "\n".join(values)
    separate_output = False
    if session_type == "NonInteractiveCommands" and isinstance(parameters, dict) and "separateOutputStream" in parameters:
        flag = parameters["separateOutputStream"]
        if flag not in (["true"], ["false"]):
            raise JsonRESTError("InvalidParameters",
                                "Parameter separateOutputStream must be one of the allowed values: true, false")
        separate_output = flag == ["true"]
    with REGISTRY.lock:
        node = REGISTRY.get(account, region, target)
        view = effective_view(account, region, node) if node is not None else None
    if node is None or view is None or view[0] != "Online":
        raise JsonRESTError("TargetNotConnected", f"{target} is not connected.")
    status, tags = view
    name = (node.name if node.is_hybrid and node.name else None) or tags.get("Name") or target
    record = manager.create(account_id=account, region=region, target=target,
                            node_name=name, document_name=document, session_type=session_type,
                            command=command, reason=reason, computer_name=node.computer_name or "",
                            ip_address=node.ip_address or "", platform=node.platform_type,
                            separate_output=separate_output)
    return _dumps({"SessionId": record.session_id, "TokenValue": record.start_token,
                   "StreamUrl": record.stream_url})


def resume_session(self: Any) -> str:
    record = _manager().resume(self._get_param("SessionId") or "")
    return _dumps({"SessionId": record.session_id, "TokenValue": record.latest_token,
                   "StreamUrl": record.stream_url})


def terminate_session(self: Any) -> str:
    record = _manager().terminate(self._get_param("SessionId") or "")
    return _dumps({"SessionId": record.session_id})


def _parse_date(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise JsonRESTError("InvalidFilterValue", f"The filter value {value} is not a valid date.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def describe_sessions(self: Any) -> str:
    manager = _manager()
    state = self._get_param("State")
    if state not in ("Active", "History"):
        raise JsonRESTError("ValidationException", f"1 validation error detected: Value '{state}' at 'state' "
                                                   "failed to satisfy constraint: Member must satisfy enum "
                                                   "value set: [Active, History]")
    max_results = self._get_param("MaxResults")
    max_results = 20 if max_results is None else int(max_results)
    if not 1 <= max_results <= 200:
        raise JsonRESTError("ValidationException", f"1 validation error detected: Value '{max_results}' at "
                                                   "'maxResults' failed to satisfy constraint: Member must have "
                                                   "value between 1 and 200")
    checks = []
    for f in self._get_param("Filters") or []:
        key, value = f.get("key"), f.get("value")
        if key not in _FILTER_KEYS:
            raise JsonRESTError("InvalidFilterKey", f"The filter key {key} is not valid.")
        if not isinstance(value, str) or not value:
            raise JsonRESTError("InvalidFilterValue", f"The filter value for {key} is not valid.")
        if key == "InvokedAfter":
            after = _parse_date(value)
            checks.append(lambda r, a=after: r.start_date >= a)
        elif key == "InvokedBefore":
            before = _parse_date(value)
            checks.append(lambda r, b=before: r.start_date <= b)
        elif key == "Status":
            if value not in STATUSES:
                raise JsonRESTError("InvalidFilterValue", f"The filter value {value} is not valid for Status.")
            checks.append(lambda r, v=value: r.status == v)
        else:
            attr = {"Target": "target", "Owner": "owner", "SessionId": "session_id"}[key]
            checks.append(lambda r, v=value, a=attr: getattr(r, a) == v)
    wanted = ACTIVE if state == "Active" else HISTORY
    account, region = self.current_account, self.region
    matched = [r for r in manager.records()
               if r.account_id == account and r.region == region and r.status in wanted
               and all(check(r) for check in checks)]
    matched.sort(key=lambda r: (r.start_date, r.session_id), reverse=True)
    start = 0
    token = self._get_param("NextToken")
    if token:
        try:
            after_id = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
            start = [r.session_id for r in matched].index(after_id) + 1
        except Exception as exc:
            raise JsonRESTError("InvalidNextToken", "The specified token is not valid.") from exc
    page = matched[start : start + max_results]
    result: dict[str, Any] = {"Sessions": [r.describe() for r in page]}
    if start + max_results < len(matched):
        result["NextToken"] = base64.urlsafe_b64encode(json.dumps({"after": page[-1].session_id}).encode()).decode()
    return _dumps(result)


# --------------------------------------------------------------------------------------------
# the extension


class Sessions(Extension):
    """Start/Resume/Terminate/DescribeSessions on the run's :class:`SessionManager` (``Sandbox.sessions``).

    Control: ``GET /_opstui/sessions`` (the data-channel port, refused tokens, the sessions);
    ``/_opstui/session-faults`` POST ``{"kind", "session_id"?, ...params}`` / GET / DELETE;
    ``/_opstui/session-mode`` POST ``{"handshake", "kms"}`` / GET.
    """

    name = "sessions"

    def prepare(self, sandbox: Sandbox) -> None:
        sandbox.sessions.start()
        activate(sandbox.sessions)

    def stop(self, sandbox: Sandbox) -> None:
        activate(None)
        sandbox.sessions.stop()

    def control_snapshot(self) -> dict[str, Any]:
        sb = self.running
        return {"stream_port": sb.stream_port,
                "refused_invalid_token": sb.sessions.server.refused_invalid_token,
                "sessions": sb.sessions.snapshot()}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("POST", "session-faults"): self._add_fault,
                ("DELETE", "session-faults"): self._clear_faults,
                ("GET", "session-faults"): lambda _request: {"rules": self.running.session_faults.rules},
                ("POST", "session-mode"): self._set_mode,
                ("GET", "session-mode"): lambda _request: {"mode": self.running.sessions.settings.as_dict()}}

    def _set_mode(self, request: ControlRequest) -> dict[str, Any]:
        return {"mode": self.running.sessions.configure(**request.payload)}

    def _add_fault(self, request: ControlRequest) -> dict[str, Any]:
        body = request.payload
        params = {k: v for k, v in body.items() if k not in ("kind", "session_id")}
        return {"added": self.running.session_faults.add(body["kind"], body.get("session_id"), **params)}

    def _clear_faults(self, _request: ControlRequest) -> dict[str, bool]:
        self.running.session_faults.clear()
        return {"cleared": True}

    def patch(self) -> None:
        attach(SimpleSystemManagerResponse, start_session, resume_session, terminate_session,
               describe_sessions)


EXTENSION = Sessions()
