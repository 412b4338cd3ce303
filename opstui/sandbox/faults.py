"""Fault injection: make chosen AWS calls fail exactly as AWS would fail them.

A rule matches on (service, region, action) -- each ``None`` meaning any -- and fails either
forever or the first ``count`` matching requests. The error bodies follow each protocol's real
wire format so botocore raises ``ClientError`` with the genuine code, and the app's error
handling is exercised as it would be against AWS:

=============  ==============================  =========================  ======================
error          JSON (ssm, logs, ...)           EC2 (query/XML)            STS (query/XML)
=============  ==============================  =========================  ======================
AccessDenied   400 AccessDeniedException       403 UnauthorizedOperation  403 AccessDenied
ExpiredToken   400 ExpiredTokenException       400 ExpiredToken           403 ExpiredToken
Throttling     400 ThrottlingException         503 RequestLimitExceeded   400 Throttling
Unavailable    503 ServiceUnavailable          503 Unavailable            503 ServiceUnavailable
=============  ==============================  =========================  ======================
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from .extension import Extension

ERRORS = ("AccessDenied", "ExpiredToken", "Throttling", "Unavailable")
PRINCIPAL = "arn:aws:sts::{account}:assumed-role/Operator/jane"

#: services whose botocore protocol is query/XML rather than JSON
_EC2_STYLE = {"ec2"}
_QUERY_XML = {"sts", "iam", "sns", "sqs", "cloudwatch", "monitoring", "autoscaling", "elasticloadbalancing",
              "rds", "cloudformation"}
#: services whose protocol is REST-JSON (synthetics, backup, ...): same JSON body, error in header too
_SIGNING_TO_IAM = {"monitoring": "cloudwatch"}


@dataclass
class FaultRule:
    error: str
    service: str | None = None
    region: str | None = None
    action: str | None = None
    count: int | None = None  # remaining failures; None = forever

    def matches(self, service: str | None, region: str | None, action: str | None) -> bool:
        return (
            (self.service is None or self.service == service)
            and (self.region is None or self.region == region)
            and (self.action is None or self.action == action)
        )


@dataclass
class FaultResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class FaultRegistry:
    """The active rules. Thread-safe: the server's request threads consume counts concurrently."""

    def __init__(self, account_id: str = "123456789012") -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self.account_id = account_id

    def add(
        self,
        error: str,
        service: str | None = None,
        region: str | None = None,
        action: str | None = None,
        count: int | None = None,
    ) -> FaultRule:
        if error not in ERRORS:
            raise ValueError(f"error must be one of {ERRORS}, not {error!r}")
        if count is not None and count < 1:
            raise ValueError("count must be positive or None")
        rule = FaultRule(error=error, service=service, region=region, action=action, count=count)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, service: str | None, region: str | None, action: str | None) -> FaultRule | None:
        """Return the first matching rule, consuming one of its ``count`` (expired rules go)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(service, region, action):
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def render(self, rule: FaultRule, service: str | None, region: str | None, action: str | None,
               json_protocol: bool) -> FaultResponse:
        return render_error(rule.error, service, region, action, json_protocol, self.account_id)


def _denied_message(service: str, region: str, action: str, account: str) -> str:
    iam_service = _SIGNING_TO_IAM.get(service, service)
    return (
        f"User: {PRINCIPAL.format(account=account)} is not authorized to perform: {iam_service}:{action} "
        f"on resource: arn:aws:{iam_service}:{region}:{account}:* because no identity-based policy "
        f"allows the {iam_service}:{action} action"
    )


def render_error(error: str, service: str | None, region: str | None, action: str | None,
                 json_protocol: bool, account: str = "123456789012") -> FaultResponse:
    """Build the HTTP response AWS sends for ``error`` on this service's protocol."""
    service = service or "unknown"
    region = region or "us-east-1"
    action = action or "UnknownOperation"
    request_id = str(uuid.uuid4())
    if json_protocol or (service not in _EC2_STYLE and service not in _QUERY_XML):
        code, status, message = {
            "AccessDenied": ("AccessDeniedException", 400, _denied_message(service, region, action, account)),
            "ExpiredToken": ("ExpiredTokenException", 400, "The security token included in the request is expired"),
            "Throttling": ("ThrottlingException", 400, "Rate exceeded"),
            "Unavailable": ("ServiceUnavailable", 503, "Service Unavailable"),
        }[error]
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        return FaultResponse(status, headers, body)
    if service in _EC2_STYLE:
        code, status, message = {
            "AccessDenied": (
                "UnauthorizedOperation",
                403,
                "You are not authorized to perform this operation. "
                + _denied_message(service, region, action, account),
            ),
            "ExpiredToken": ("ExpiredToken", 400, "The provided token has expired."),
            "Throttling": ("RequestLimitExceeded", 503, "Request limit exceeded."),
            "Unavailable": ("Unavailable", 503, "The server is overloaded and can't handle the request."),
        }[error]
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    else:
        code, status, message = {
            "AccessDenied": ("AccessDenied", 403, _denied_message(service, region, action, account)),
            "ExpiredToken": ("ExpiredToken", 403, "The security token included in the request is expired"),
            "Throttling": ("Throttling", 400, "Rate exceeded"),
            "Unavailable": ("ServiceUnavailable", 503, "Service Unavailable"),
        }[error]
        kind = "Receiver" if error == "Unavailable" else "Sender"
        xml = (
            f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return FaultResponse(status, headers, xml.encode())


class Faults(Extension):
    """The running Sandbox's fault rules (``sandbox.faults``) over ``/_opstui/faults``: ``POST {"error",
    "service"?, "region"?, "action"?, "count"?}`` adds one -> ``{"added": rule}``; ``GET`` ->
    ``{"rules": [...]}``; ``DELETE`` clears them."""

    name = "faults"

    def configure(self, **payload: Any) -> dict[str, Any]:
        rule = self.running.faults.add(error=payload["error"], service=payload.get("service"),
                                       region=payload.get("region"), action=payload.get("action"),
                                       count=payload.get("count"))
        return {"added": rule.__dict__}

    def control_snapshot(self) -> dict[str, Any]:
        return {"rules": [r.__dict__ for r in self.running.faults.rules]}

    def clear(self) -> None:
        self.running.faults.clear()


EXTENSION = Faults()
