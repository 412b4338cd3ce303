"""Which AWS operation a request is, for every protocol, from botocore's own service models.

JSON services name the operation in ``X-Amz-Target`` and query services in ``Action``; the REST services
(S3, Backup, Synthetics, Resource Groups) say it only through the method, the path and, at times, a query key
or a header. Those are matched against each operation's ``http.method`` / ``http.requestUri`` in botocore's
model: the path template (``{Bucket}``, ``{Key+}``), the literal query keys of the URI
(``/{Bucket}?versioning``) and the required members bound to the query string or a header
(UploadPart's ``partNumber`` and ``uploadId``, CopyObject's ``x-amz-copy-source``) must all be there, and the
most specific match wins.

The sandbox uses it to count calls per operation (``GET /_opstui/calls``: the read-only sweep asserts that no
mutating call ever reaches it) and to name the action of a fault rule for any protocol.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import botocore.session

#: the services opstui calls (botocore names), for the signing-name map
SERVICES = ("ssm", "ec2", "sts", "cloudwatch", "sns", "logs", "synthetics", "backup", "s3", "resource-groups",
            "iam", "resourcegroupstaggingapi")


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    return botocore.session.get_session()


@functools.cache
def protocol(service: str) -> str:
    """The service's default protocol in botocore's model (``json``, ``query``, ``rest-xml``, …)."""
    return str(_session().get_service_model(service).metadata["protocol"])


@functools.lru_cache(maxsize=1)
def service_for_signing_name() -> dict[str, str]:
    """SigV4 credential-scope service (``monitoring``) -> botocore service name (``cloudwatch``)."""
    out: dict[str, str] = {}
    for name in SERVICES:
        model = _session().get_service_model(name)
        out.setdefault(model.signing_name or name, name)
    return out


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    literal_chars: int
    query_markers: tuple[tuple[str, str | None], ...]  # (key, value or None) from the requestUri
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]


def _compile(uri: str) -> tuple[re.Pattern[str], int, tuple[tuple[str, str | None], ...]]:
    path, _, query = uri.partition("?")
    regex, literal = "", 0
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            regex += "(.+)" if part.endswith("+}") else "([^/]+)"
        else:
            regex += re.escape(part)
            literal += len(part)
    regex = regex.rstrip("/") + "/?"  # botocore's trailing slash is optional on the wire
    markers = []
    for pair in filter(None, query.split("&")):
        key, sep, value = pair.partition("=")
        if key != "x-id":  # the SDK's own operation marker: optional
            markers.append((key, value if sep else None))
    return re.compile(f"^{regex}$"), literal, tuple(markers)


@functools.lru_cache(maxsize=32)
def _routes(service: str) -> tuple[_Route, ...]:
    model = _session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        pattern, literal, markers = _compile(op.http.get("requestUri", "/"))
        query: list[str] = []
        headers: list[str] = []
        shape = op.input_shape
        if shape is not None:
            for member in shape.required_members:
                ms = shape.members[member]
                loc = ms.serialization.get("location")
                if loc == "querystring":
                    query.append(ms.serialization.get("name", member))
                elif loc == "header":
                    headers.append(ms.serialization.get("name", member).lower())
        routes.append(_Route(name, op.http.get("method", "POST"), pattern, literal, markers, tuple(query),
                             tuple(headers)))
    return tuple(routes)


@functools.cache
def _deprecated(service: str, operation: str) -> bool:
    return bool(_session().get_service_model(service).operation_model(operation).deprecated)


def _rest_operation(service: str, method: str, path: str, query: dict[str, str],
                    headers: set[str]) -> str | None:
    best: tuple[int, str] | None = None
    for route in _routes(service):
        if route.method != method or not route.pattern.match(path):
            continue
        if any(k not in query or (v is not None and query[k] != v) for k, v in route.query_markers):
            continue
        if any(k not in query for k in route.required_query) or any(h not in headers for h in route.required_headers):
            continue
        score = route.literal_chars * 4 + 100 * (len(route.query_markers) + len(route.required_query)
                                                 + len(route.required_headers))
        # GET /{Bucket}?lifecycle is both GetBucketLifecycle (deprecated) and GetBucketLifecycleConfiguration:
        # the SDKs send the current one, so a tie goes to the operation that is not deprecated
        score = score * 2 + (0 if _deprecated(service, route.operation) else 1)
        if best is None or score > best[0]:
            best = (score, route.operation)
    return best[1] if best else None


def identify(environ: dict[str, Any], signing_name: str | None, body: bytes = b"") -> tuple[str | None, str | None]:
    """(botocore service name, operation name) of a request; either may be None when it is not an AWS call."""
    service = service_for_signing_name().get(signing_name or "")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if "Action" in query:
        return service, query["Action"]
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") and body:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if "Action" in form:
            return service, form["Action"]
    if service is None:
        return None, None
    model = _session().get_service_model(service)
    if model.protocol not in ("rest-json", "rest-xml"):
        return service, None
    headers = {k[5:].replace("_", "-").lower() for k in environ if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers.add("content-type")
    path = environ.get("PATH_INFO", "") or "/"  # already percent-decoded by the WSGI server
    return service, _rest_operation(service, environ.get("REQUEST_METHOD", "GET"), path, query, headers)
