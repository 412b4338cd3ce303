"""Verify the SigV4 signature of every AWS request, and refuse the rest the way AWS does.

The sandbox runs real commands as the local user, so an AWS request is served only if it was signed with the
run's own key pair (:mod:`opstui.sandbox.credentials`). The signature is recomputed with botocore's own
signer classes (``SigV4Auth`` / ``S3SigV4Auth`` and their query-string forms) over the request as received:
its method, raw path and raw query, the headers it names in ``SignedHeaders`` with their received values, and
the payload hash (computed from the body, or the ``x-amz-content-sha256`` header that S3 requests sign, which
is then checked against the body). No crypto is written here; the only comparison is ``hmac.compare_digest``.

What AWS answers, per protocol (``opstui``'s services; codes as botocore parses them):

================  =====================================  =================================  ===================
failure           JSON (ssm, logs, cloudwatch) 400,      query (sts, sns, iam) 403;         S3 (rest-xml) 403
                  REST-JSON (backup, synthetics,         EC2 in its own shape
                  resource-groups) 403
================  =====================================  =================================  ===================
no credentials    MissingAuthenticationTokenException    MissingAuthenticationToken         AccessDenied
unknown key id    UnrecognizedClientException            InvalidClientTokenId (EC2:         InvalidAccessKeyId
                                                         AuthFailure)
bad signature     InvalidSignatureException              SignatureDoesNotMatch              SignatureDoesNotMatch
date > 15 min     InvalidSignatureException "Signature   SignatureDoesNotMatch "Signature   RequestTimeTooSkewed
off               expired: …" / "… not yet current: …"   expired: …" (EC2: RequestExpired)
malformed header  IncompleteSignatureException           IncompleteSignature                AuthorizationHeaderMalformed
presigned URL     --                                     --                                 AccessDenied "Request
past its expiry                                                                             has expired"
================  =====================================  =================================  ===================

Sources: each service's "Common Errors" page, e.g.
https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html (IncompleteSignature,
InvalidClientTokenId, MissingAuthenticationToken, RequestExpired: "more than 15 minutes after the date stamp
... or more than 15 minutes in the future"), https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
(InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed, AuthorizationHeaderMalformed,
XAmzContentSHA256Mismatch), https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
(AuthFailure, MissingAuthenticationToken, RequestExpired, SignatureDoesNotMatch), and the signing guide
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html. JSON services
report a skewed clock as ``InvalidSignatureException: Signature expired: <date> is now earlier than <limit>
(<now> - 15 min.)`` and query services as ``SignatureDoesNotMatch`` with the same text (both seen in the SDKs'
issue trackers); only S3 has the code ``RequestTimeTooSkewed``. The clock compared is the machine's real one,
never the sandbox's simulated clock (:mod:`opstui.sandbox.clock`), which may run fast.

The pair is long-term (no session token), so a request that carries ``X-Amz-Security-Token`` is refused like
AWS refuses a token it did not issue (UnrecognizedClientException / InvalidClientTokenId / InvalidToken).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from .credentials import SandboxCredentials

SKEW = dt.timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800  # seven days, SigV4's limit for presigned URLs
_AUTH_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,"
    r"\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_UNSIGNED = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

#: signing names whose protocol is query/XML; "ec2" has its own error shape; "s3" is REST-XML
_QUERY = {"sts", "sns", "iam", "sqs", "autoscaling", "elasticloadbalancing", "rds", "cloudformation"}
#: signing names whose protocol is REST-JSON (403 for auth failures, code in x-amzn-ErrorType)
_REST_JSON = {"backup", "synthetics", "resource-groups", "tagging"}


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was refused: a kind (for the per-protocol table) and details for the message."""

    kind: str  # missing | unknown-key | signature | skew | future | malformed | expired | payload | token
    detail: str = ""


@dataclass(frozen=True)
class Verified:
    """A request that passed: who signed it and for which service and region."""

    access_key_id: str
    service: str
    region: str


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = name.lower()
    if key == "content-type":
        return environ.get("CONTENT_TYPE")
    if key == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + key.upper().replace("-", "_"))


def _raw_path(environ: dict[str, Any]) -> str:
    """The path exactly as the client sent it (percent-encoding kept), without the query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = raw.split("?", 1)[0]
        if path.startswith(("http://", "https://")):  # absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path or "/"
    from urllib.parse import quote

    return quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/~!$&'()*+,;=:@%") or "/"


def _parse_amz_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, _AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _scope(credential: str) -> tuple[str, str, str, str] | None:
    """(access key id, yyyymmdd, region, service) from ``AKID/20250101/region/service/aws4_request``."""
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        return None
    return parts[0], parts[1], parts[2], parts[3]


def verify(environ: dict[str, Any], body: bytes, creds: SandboxCredentials,
           now: dt.datetime | None = None) -> Verified | AuthFailure:
    """Check the request's SigV4 signature (header or presigned query form) against ``creds``."""
    now = now or dt.datetime.now(dt.UTC)
    auth = _header(environ, "Authorization")
    query = environ.get("QUERY_STRING", "")
    qparams = dict(parse_qsl(query, keep_blank_values=True))
    presigned = "X-Amz-Signature" in qparams or "X-Amz-Credential" in qparams
    if not auth and not presigned and "AWSAccessKeyId" in qparams and "Signature" in qparams:
        return _verify_v2_query(environ, qparams, creds, now)
    if not auth and not presigned:
        return AuthFailure("missing")
    if auth and presigned:
        return AuthFailure("malformed", "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                                        "parameter or the Authorization header should be specified")
    if auth:
        m = _AUTH_HEADER.match(auth.strip())
        if not m:
            return AuthFailure("malformed", "Authorization header requires 'Credential', 'Signature' and "
                                            "'SignedHeaders' parameters (AWS4-HMAC-SHA256)")
        credential, signed, signature = m.group("cred"), m.group("signed"), m.group("sig").lower()
        date_value = _header(environ, "X-Amz-Date")
        token = _header(environ, "X-Amz-Security-Token")
    else:
        if qparams.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            return AuthFailure("malformed", "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'")
        credential = qparams.get("X-Amz-Credential", "")
        signed = qparams.get("X-Amz-SignedHeaders", "")
        signature = qparams.get("X-Amz-Signature", "").lower()
        date_value = qparams.get("X-Amz-Date")
        token = qparams.get("X-Amz-Security-Token")
        if not credential or not signed or not signature:
            return AuthFailure("malformed", "Query-string authentication requires the X-Amz-Algorithm, "
                                            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders "
                                            "and X-Amz-Expires parameters")
    scope = _scope(credential)
    if scope is None:
        return AuthFailure("malformed", f"Credential should be scoped to a valid region and service: {credential!r}")
    key_id, scope_date, region, service = scope
    if not hmac.compare_digest(key_id.encode(), creds.access_key_id.encode()):
        return AuthFailure("unknown-key")
    if token is not None:
        return AuthFailure("token")
    signed_names = signed.lower().split(";")
    if "host" not in signed_names:
        return AuthFailure("malformed", "'Host' must be a signed header")
    when = _parse_amz_date(date_value)
    if when is None:
        return AuthFailure("malformed", "Authorization requires an X-Amz-Date in the form yyyyMMddTHHmmssZ")
    if when.strftime("%Y%m%d") != scope_date:
        return AuthFailure("signature", "the credential scope's date does not match X-Amz-Date")
    if presigned:
        try:
            expires = int(qparams.get("X-Amz-Expires", ""))
        except ValueError:
            return AuthFailure("malformed", "X-Amz-Expires should be a number")
        if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
            return AuthFailure("malformed", "X-Amz-Expires must be between 1 and 604800 seconds")
        if now > when + dt.timedelta(seconds=expires):
            return AuthFailure("expired", f"{when.strftime(_AMZ_DATE)}|{now.strftime(_AMZ_DATE)}")
        if when - now > SKEW:
            return AuthFailure("future", f"{when.strftime(_AMZ_DATE)}|{now.strftime(_AMZ_DATE)}")
    elif now - when > SKEW:
        return AuthFailure("skew", f"{when.strftime(_AMZ_DATE)}|{now.strftime(_AMZ_DATE)}")
    elif when - now > SKEW:
        return AuthFailure("future", f"{when.strftime(_AMZ_DATE)}|{now.strftime(_AMZ_DATE)}")

    headers: dict[str, str] = {}
    for name in signed_names:
        value = _header(environ, name)
        if value is None:
            return AuthFailure("signature", f"signed header {name!r} is not in the request")
        headers[name] = value
    content_sha = headers.get("x-amz-content-sha256")
    if content_sha is not None and content_sha not in _UNSIGNED and not content_sha.startswith("STREAMING-"):
        if not _HEX64.match(content_sha):
            return AuthFailure("payload", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER or a SHA-256 in hex")
        if not hmac.compare_digest(content_sha, hashlib.sha256(body).hexdigest()):
            return AuthFailure("payload", "The provided 'x-amz-content-sha256' header does not match what was "
                                          "computed.")
    raw_query = query
    if presigned:
        raw_query = "&".join(p for p in query.split("&") if unquote(p.partition("=")[0]) != "X-Amz-Signature")
    url = f"http://{headers['host']}{_raw_path(environ)}" + (f"?{raw_query}" if raw_query else "")
    method = environ.get("REQUEST_METHOD", "GET")
    botocore_creds = Credentials(creds.access_key_id, creds.secret_access_key)
    signer: SigV4Auth
    if presigned:
        cls = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
        signer = cls(botocore_creds, service, region, expires=int(qparams["X-Amz-Expires"]))
    else:
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(botocore_creds, service, region)
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    request.context["timestamp"] = when.strftime(_AMZ_DATE)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signature):
        return AuthFailure("signature")
    return Verified(key_id, service, region)


class _FixedExpiryV2(HmacV1QueryAuth):
    """botocore's SigV2 query signer with the ``Expires`` of the request received instead of now + 3600."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._fixed = expires

    def _get_date(self) -> str:
        return self._fixed


def _verify_v2_query(environ: dict[str, Any], qparams: dict[str, str], creds: SandboxCredentials,
                     now: dt.datetime) -> Verified | AuthFailure:
    """An S3 presigned URL in the older SigV2 query form (``AWSAccessKeyId``, ``Signature``, ``Expires``): what
    boto3's ``generate_presigned_url`` makes for S3 unless told ``signature_version="s3v4"``. S3 still accepts it
    in the regions that predate SigV4-only (ap-northeast-1 among them); recomputed with botocore's signer."""
    if not hmac.compare_digest(qparams["AWSAccessKeyId"].encode(), creds.access_key_id.encode()):
        return AuthFailure("unknown-key")
    if "x-amz-security-token" in {k.lower() for k in qparams}:
        return AuthFailure("token")
    try:
        expires = int(qparams.get("Expires", ""))
    except ValueError:
        return AuthFailure("malformed", "Expires must be a number of seconds since the epoch")
    if now.timestamp() > expires:
        return AuthFailure("expired")
    headers = HTTPHeaders()
    for key, value in qparams.items():
        if key.lower().startswith("x-amz-") or key.lower() in ("content-type", "content-md5"):
            headers[key.lower()] = value
    split = urlsplit(f"http://{_header(environ, 'Host') or ''}{_raw_path(environ)}?{environ.get('QUERY_STRING', '')}")
    signer = _FixedExpiryV2(Credentials(creds.access_key_id, creds.secret_access_key), str(expires))
    expected = signer.get_signature(environ.get("REQUEST_METHOD", "GET"), split, headers)
    if not hmac.compare_digest(expected.encode(), qparams["Signature"].encode()):
        return AuthFailure("signature")
    return Verified(creds.access_key_id, "s3", "")


# -- refusals in each protocol's wire shape ------------------------------------------------------------------

def protocol_of(environ: dict[str, Any], service: str | None) -> str:
    """json | rest-json | query | ec2 | s3, from the credential scope or, unsigned, from the request's shape."""
    target = _header(environ, "X-Amz-Target")
    content_type = (_header(environ, "Content-Type") or "").lower()
    if service == "s3":
        return "s3"
    if service == "ec2":
        return "ec2"
    if target or "x-amz-json" in content_type:
        return "json"
    if service in _QUERY:
        return "query"
    if service in _REST_JSON:
        return "rest-json"
    if service is None:
        query = environ.get("QUERY_STRING", "")
        if "x-www-form-urlencoded" in content_type or "Action=" in query:
            return "query"
        if "json" in content_type:
            return "rest-json"
        return "s3"
    return "rest-json"


def _expired_text(detail: str, future: bool = False) -> str:
    when, now = (detail.split("|") + ["", ""])[:2]
    try:
        now_dt = dt.datetime.strptime(now, _AMZ_DATE)
    except ValueError:
        return "Signature expired"
    if future:
        limit = (now_dt + SKEW).strftime(_AMZ_DATE)
        return f"Signature not yet current: {when} is still later than {limit} ({now} + 15 min.)"
    limit = (now_dt - SKEW).strftime(_AMZ_DATE)
    return f"Signature expired: {when} is now earlier than {limit} ({now} - 15 min.)"


_SIG_TEXT = ("The request signature we calculated does not match the signature you provided. Check your AWS "
             "Secret Access Key and signing method. Consult the service documentation for details.")
_INVALID_TOKEN = "The security token included in the request is invalid."


def _codes(protocol: str, failure: AuthFailure) -> tuple[int, str, str]:
    kind, detail = failure.kind, failure.detail
    if protocol == "s3":
        return {
            "missing": (403, "AccessDenied", "Access Denied"),
            "unknown-key": (403, "InvalidAccessKeyId",
                            "The AWS Access Key Id you provided does not exist in our records."),
            "token": (400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
            "signature": (403, "SignatureDoesNotMatch", _SIG_TEXT),
            "skew": (403, "RequestTimeTooSkewed",
                     "The difference between the request time and the current time is too large."),
            "future": (403, "RequestTimeTooSkewed",
                       "The difference between the request time and the current time is too large."),
            "expired": (403, "AccessDenied", "Request has expired"),
            "payload": (400, "XAmzContentSHA256Mismatch", detail),
            "malformed": (400, "AuthorizationHeaderMalformed", detail),
        }[kind]
    if protocol == "ec2":
        return {
            "missing": (401, "MissingAuthenticationToken",
                        "The request must contain either a valid (registered) AWS access key ID or X.509 "
                        "certificate."),
            "unknown-key": (401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
            "token": (401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
            "signature": (403, "SignatureDoesNotMatch", _SIG_TEXT),
            "skew": (400, "RequestExpired", "Request has expired."),
            "future": (400, "RequestExpired", "Request has expired."),
            "expired": (400, "RequestExpired", "Request has expired."),
            "payload": (400, "IncompleteSignature", detail),
            "malformed": (400, "IncompleteSignature", detail),
        }[kind]
    if protocol == "query":
        return {
            "missing": (403, "MissingAuthenticationToken", "Request is missing Authentication Token"),
            "unknown-key": (403, "InvalidClientTokenId", _INVALID_TOKEN),
            "token": (403, "InvalidClientTokenId", _INVALID_TOKEN),
            "signature": (403, "SignatureDoesNotMatch", _SIG_TEXT),
            "skew": (403, "SignatureDoesNotMatch", _expired_text(detail)),
            "future": (403, "SignatureDoesNotMatch", _expired_text(detail, future=True)),
            "expired": (403, "SignatureDoesNotMatch", _expired_text(detail)),
            "payload": (400, "IncompleteSignature", detail),
            "malformed": (400, "IncompleteSignature", detail),
        }[kind]
    status = 400 if protocol == "json" else 403
    return {
        "missing": (status, "MissingAuthenticationTokenException", "Missing Authentication Token"),
        "unknown-key": (status, "UnrecognizedClientException", _INVALID_TOKEN),
        "token": (status, "UnrecognizedClientException", _INVALID_TOKEN),
        "signature": (status, "InvalidSignatureException", _SIG_TEXT),
        "skew": (status, "InvalidSignatureException", _expired_text(detail)),
        "future": (status, "InvalidSignatureException", _expired_text(detail, future=True)),
        "expired": (status, "InvalidSignatureException", _expired_text(detail)),
        "payload": (400, "IncompleteSignatureException", detail),
        "malformed": (400, "IncompleteSignatureException", detail),
    }[kind]


def render_refusal(environ: dict[str, Any], failure: AuthFailure,
                   service: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of AWS's answer to a refused request, in the request's protocol."""
    if service is None:
        auth = _header(environ, "Authorization") or ""
        m = re.search(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request", auth)
        if not m:
            qp = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
            scope = _scope(qp.get("X-Amz-Credential", ""))
            service = scope[3] if scope else None
        else:
            service = m.group(1)
    protocol = protocol_of(environ, service)
    status, code, message = _codes(protocol, failure)
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        return status, [("Content-Type", ctype), ("x-amzn-RequestId", request_id),
                        ("x-amzn-ErrorType", f"{code}:")], body
    if protocol == "ec2":
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
               f"</Errors><RequestID>{request_id}</RequestID></Response>")
    elif protocol == "query":
        xml = (f'<ErrorResponse xmlns="https://{service or "sts"}.amazonaws.com/doc/2011-06-15/">'
               f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
               f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    else:
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
               f"<RequestId>{request_id}</RequestId></Error>")
    return status, [("Content-Type", "application/xml" if protocol == "s3" else "text/xml"),
                    ("x-amzn-RequestId", request_id)], xml.encode()
