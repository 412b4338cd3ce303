"""One error type for everything that can go wrong talking to AWS.

Views never see botocore or aiohttp exceptions: every failure is mapped here to an `OpsError` that says what
failed (one line), where (service, region, operation) and what to do next (a hint). The message never contains
credentials or session tokens: we build it from error codes and our own words, and only quote the service's
message for AccessDenied (which names the action, never a secret).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from botocore import exceptions as bex

# Error codes, grouped by what the operator has to do about them.
EXPIRED_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
    }
)
#: a request dated more than 15 minutes off the service's clock: S3's own code, EC2's, and the signature
#: errors other services answer with "Signature expired" / "Signature not yet current"
SKEW_CODES = frozenset({"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"})
_SKEW_TEXTS = ("signature expired", "signature not yet current")
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "Forbidden"}
)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
#: request errors the user can fix, with what to do about them
INVALID_HINTS = {
    "InvalidDocument": "check the document name (ListDocuments) and the region",
    "InvalidDocumentVersion": "check the document version",
    "InvalidParameters": "check the document's parameters (names, required values)",
    "InvalidOutputFolder": "check the S3 bucket name and prefix",
    "InvalidCommandId": "the command id is unknown in this region",
    "DuplicateInstanceId": "an instance id is listed twice",
    "InvalidNotificationConfig": "check the notification settings",
    "UnsupportedPlatformType": "the document does not run on this node's platform",
    "ValidationException": "check the values entered",
}
UNAVAILABLE_CODES = frozenset({"ServiceUnavailable", "Unavailable", "InternalError", "InternalFailure"})


@dataclass(eq=False)
class OpsError(Exception):
    """A failure the UI can show as is: `str(err)` is one line naming region, service and cause."""

    message: str
    kind: str = "error"  # expired | clock | denied | throttled | unreachable | unknown-region | read-only | not-found | invalid | error
    service: str = ""
    region: str = ""
    operation: str = ""
    hint: str = ""
    code: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def where(self) -> str:
        parts = [p for p in (self.region, self.service) if p]
        return "/".join(parts)

    def __str__(self) -> str:
        where = f"[{self.where}] " if self.where else ""
        hint = f" — {self.hint}" if self.hint else ""
        return f"{where}{self.message}{hint}"


class ReadOnlyError(OpsError):
    """Raised before a mutating request is sent while opstui runs with --read-only."""


def _first_line(text: str, limit: int = 300) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def credentials_hint(profile: str | None, sso: bool) -> str:
    if sso and profile:
        return f"run `aws sso login --profile {profile}` and press r"
    if sso:
        return "run `aws sso login` and press r"
    if profile:
        return f"refresh the credentials of profile {profile!r} (or export fresh AWS_* variables) and press r"
    return "refresh your credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/…, or `aws configure`) and press r"


def map_error(
    exc: BaseException,
    *,
    service: str,
    region: str,
    operation: str = "",
    profile: str | None = None,
    sso: bool = False,
    endpoint_url: str | None = None,
) -> OpsError:
    """Turn any botocore/aiohttp/asyncio failure into an OpsError with a hint."""
    if isinstance(exc, OpsError):
        return exc
    ctx = {"service": service, "region": region, "operation": operation}
    op = f" {operation}" if operation else ""

    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(err.get("Code", "") or "")
        msg = str(err.get("Message", "") or "")
        operation = exc.operation_name or operation
        ctx["operation"] = operation
        op = f" {operation}" if operation else ""
        if code in SKEW_CODES or (code in EXPIRED_CODES and msg.lower().startswith(_SKEW_TEXTS)):
            return OpsError(
                f"this machine's clock is more than 15 minutes off ({code}) calling{op}",
                kind="clock",
                hint="sync the clock (e.g. `timedatectl set-ntp true`) and press r",
                code=code,
                **ctx,
            )
        if code in EXPIRED_CODES:
            return OpsError(
                f"credentials expired or invalid ({code}) calling{op}",
                kind="expired",
                hint=credentials_hint(profile, sso),
                code=code,
                **ctx,
            )
        if code in DENIED_CODES:
            action = iam_action(f"{service}:{operation}") if operation else service
            return OpsError(
                f"access denied: the role lacks {action}",
                kind="denied",
                hint=f"grant {action} to this identity (see README, IAM permissions)",
                code=code,
                **ctx,
            )
        if code in THROTTLE_CODES:
            return OpsError(
                f"throttled by AWS ({code}) calling{op} after retries",
                kind="throttled",
                hint="wait a few seconds and press r, or raise the refresh interval (--refresh)",
                code=code,
                **ctx,
            )
        if code in UNAVAILABLE_CODES:
            return OpsError(
                f"the service is unavailable ({code}) calling{op}",
                kind="unavailable",
                hint="try again shortly; check the AWS Health Dashboard for this region",
                code=code,
                **ctx,
            )
        if code in {"NotFoundException", "ResourceNotFoundException", "DoesNotExistException"}:
            return OpsError(f"not found calling{op}: {_first_line(msg)}", kind="not-found", code=code, **ctx)
        if code.startswith("InvalidInstanceID") or code in {"InvalidInstanceId", "InvalidTarget"}:
            return OpsError(
                f"unknown instance id: {_first_line(msg)}",
                kind="not-found",
                hint="check the id and the region",
                code=code,
                **ctx,
            )
        if code in INVALID_HINTS:
            return OpsError(
                f"{code} calling{op}: {_first_line(msg)}", kind="invalid", hint=INVALID_HINTS[code], code=code, **ctx
            )
        return OpsError(f"{code or 'error'} calling{op}: {_first_line(msg)}", kind="error", code=code, **ctx)

    if isinstance(exc, bex.NoRegionError):
        return OpsError(
            "no region configured",
            kind="unknown-region",
            hint="pass --region, set AWS_REGION, or set region in ~/.aws/config",
            **ctx,
        )
    if isinstance(exc, bex.UnknownEndpointError | bex.InvalidRegionError):
        return OpsError(
            f"unknown region {region!r}", kind="unknown-region", hint="check the --region value", **ctx
        )
    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return OpsError("no AWS credentials found", kind="expired", hint=credentials_hint(profile, sso), **ctx)
    if isinstance(exc, bex.ProfileNotFound):
        return OpsError(
            f"profile {profile!r} not found",
            kind="invalid",
            hint="check --profile / AWS_PROFILE against ~/.aws/config",
            **ctx,
        )
    sso_errors = tuple(
        getattr(bex, name)
        for name in ("SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError", "SSOError")
        if hasattr(bex, name)
    )
    if sso_errors and isinstance(exc, sso_errors):
        return OpsError(
            "SSO session expired or not logged in", kind="expired", hint=credentials_hint(profile, True), **ctx
        )
    if isinstance(exc, bex.CredentialRetrievalError):
        return OpsError(
            "could not load credentials", kind="expired", hint=credentials_hint(profile, sso), **ctx
        )
    unreachable = (
        bex.EndpointConnectionError,
        bex.ConnectTimeoutError,
        bex.ReadTimeoutError,
        bex.ConnectionClosedError,
        bex.HTTPClientError,
        aiohttp.ClientConnectionError,
        asyncio.TimeoutError,
        ConnectionError,
        OSError,
    )
    if isinstance(exc, unreachable):
        target = endpoint_url or f"the {service} endpoint"
        what = "timed out" if isinstance(exc, bex.ReadTimeoutError | asyncio.TimeoutError) else "is unreachable"
        return OpsError(
            f"{target} {what}",
            kind="unreachable",
            hint="check the network, VPN or proxy (HTTPS_PROXY), or --endpoint-url",
            **ctx,
        )
    if isinstance(exc, bex.ParamValidationError):
        return OpsError(f"invalid request: {_first_line(str(exc))}", kind="invalid", **ctx)
    return OpsError(f"{type(exc).__name__}: {_first_line(str(exc))}", kind="error", **ctx)


def iam_action(operation: str) -> str:
    """The IAM action that authorises "service:Operation" (S3's ListObjectsV2 is s3:ListBucket ...)."""
    from opstui.aws.permissions import iam_action as action  # permissions imports clients, which imports us

    return action(operation)
