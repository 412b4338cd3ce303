"""Recording every AWS response the sandbox gives, for the contract tests (an explicit opt-in knob).

With ``OPSTUI_SANDBOX_RECORD=<file>`` in its environment the sandbox appends one JSON line per answered AWS
request to that file: service, operation, the protocol the client spoke, status, headers and body. The test
suite sets it for its shared sandboxes and checks every recorded response against botocore's output shape for
that operation (``tests/contract.py``): the sandbox is the only AWS the project is tested against, so a
response that botocore would parse into something AWS never sends (a missing required member, a value outside
an enum, an ``i-`` id of the wrong length) is a sandbox bug that would teach the app a false shape.

Nothing is recorded by default. Control endpoints, refused requests and injected faults are not recorded:
only what moto and the sandbox's own handlers answered.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

RECORD_ENV = "OPSTUI_SANDBOX_RECORD"
#: bodies larger than this are noted, not recorded (a big S3 object or a 1 MB log page says nothing more)
MAX_BODY = 512 * 1024

StartResponse = Callable[..., Any]


def protocol_of(environ: dict[str, Any], default: str) -> str:
    """The wire protocol this request used: the same service can be spoken in several (CloudWatch: CBOR, JSON
    or query), and the response comes back in the protocol of the request."""
    if environ.get("HTTP_SMITHY_PROTOCOL", "").lower() == "rpc-v2-cbor":
        return "smithy-rpc-v2-cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if default in ("query", "ec2", "rest-json", "rest-xml"):
        return default
    # a service spoken in several protocols (CloudWatch): a form body is the query protocol
    return "query" if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") else "json"


class Recorder:
    """Appends records to one file, thread-safe (the server answers on many threads)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> Recorder | None:
        path = os.environ.get(RECORD_ENV, "")
        return cls(path) if path else None

    def wrap(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: StartResponse,
             service: str, operation: str | None, protocol: str) -> Iterable[bytes]:
        """Call ``app`` and record what it answers (the body is joined, so a streamed answer is buffered)."""
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self.write(service, operation, protocol, environ, seen.get("status", "500"), seen.get("headers", []), body)
        return [body]

    def write(self, service: str, operation: str | None, protocol: str, environ: dict[str, Any], status: str,
              headers: list[tuple[str, str]], body: bytes) -> None:
        record: dict[str, Any] = {
            "service": service, "operation": operation, "protocol": protocol,
            "method": environ.get("REQUEST_METHOD", ""), "path": environ.get("PATH_INFO", ""),
            "status": int(status.split()[0]), "headers": dict(headers),
        }
        if len(body) > MAX_BODY:
            record["body_omitted"] = len(body)
        else:
            record["body"] = base64.b64encode(body).decode()
        line = json.dumps(record) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
