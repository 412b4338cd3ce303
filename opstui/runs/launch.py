"""Check a run request and send it: one SendCommand per region (and per 50 instance ids)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from opstui.aws import ssm
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.models import CommandRequest, CommandSummary, DocumentDetail
from opstui.runs.targets import Plan

_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
_ERRORS = re.compile(r"^([1-9][0-9]*|0|[1-9][0-9]%|[0-9]%|100%)$")
TIMEOUT_RANGE = (30, 2_592_000)  # SendCommand TimeoutSeconds
#: delivery timeout when none is given, the same for the tab (its field's placeholder) and `opstui run`.
#: AWS's own default is 3600 s: an hour of "Delayed" for a node whose agent is gone is too long to wait.
DEFAULT_DELIVERY_TIMEOUT = 600
COMMENT_MAX = 100  # SendCommand Comment


def not_utf8(text: str) -> str | None:
    """Where `text` stops being UTF-8 (it holds bytes smuggled in as lone surrogates, as Python decodes
    a command line or a file that is not UTF-8), said for the user; None when it is fine. The SSM API
    takes JSON strings, which must be Unicode text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        byte = f"byte 0x{ord(bad) - 0xDC00:02x}" if 0xDC80 <= ord(bad) <= 0xDCFF else f"U+{ord(bad):04X}"
        return f"{byte} at character {exc.start + 1}"
    return None


def request_problems(request: CommandRequest, doc: DocumentDetail | None = None) -> list[str]:
    """Everything wrong with a request, as messages for the user (empty: fine). Checked before sending
    so that a typo costs no API call and nothing typed is lost."""
    problems: list[str] = []
    for name, values in request.parameters.items():
        where = next((w for w in map(not_utf8, values) if w), None)
        if where:
            what = "the command" if name == "commands" else f"parameter {name}"
            problems.append(f"{what} is not UTF-8 text ({where}): Run Command sends text only; convert it "
                            "(e.g. iconv -t UTF-8) or pass binary data base64-encoded")
    where = not_utf8(request.comment)
    if where:
        problems.append(f"the comment is not UTF-8 text ({where})")
    if len(request.comment) > COMMENT_MAX:
        problems.append(f"the comment is {len(request.comment)} characters; SendCommand takes up to {COMMENT_MAX}")
    if not request.document.strip():
        problems.append("no document: pick one (e.g. AWS-RunShellScript)")
    if not _CONCURRENCY.match(request.max_concurrency):
        problems.append(f"max concurrency {request.max_concurrency!r}: a number (1, 10) or a percentage (10%)")
    if not _ERRORS.match(request.max_errors):
        problems.append(f"max errors {request.max_errors!r}: a number (0, 5) or a percentage (10%)")
    if request.timeout_seconds is not None and not TIMEOUT_RANGE[0] <= request.timeout_seconds <= TIMEOUT_RANGE[1]:
        problems.append(f"delivery timeout must be {TIMEOUT_RANGE[0]}..{TIMEOUT_RANGE[1]} seconds")
    if doc is not None:
        known = {p.name for p in doc.parameters}
        for p in doc.parameters:
            values = request.parameters.get(p.name)
            if p.required and not any(v.strip() for v in values or ()):
                what = "empty command: type at least one command" if p.name == "commands" else \
                    f"parameter {p.name} is required"
                problems.append(what)
            elif p.allowed_values and values and any(v not in p.allowed_values for v in values):
                problems.append(f"parameter {p.name}: one of {', '.join(p.allowed_values)}")
        for name in request.parameters:
            if name not in known:
                problems.append(f"{doc.name} has no parameter {name!r}")
        empty = "empty command: type at least one command"
        commands = request.parameters.get("commands", ())
        if "commands" in known and not any(v.strip() for v in commands) and empty not in problems:
            problems.append(empty)
    return problems


@dataclass(frozen=True)
class SendResult:
    commands: tuple[CommandSummary, ...]
    errors: tuple[OpsError, ...]  # regions that refused (the others were sent)


async def send_plan(aws: AwsClients, plan: Plan, request: CommandRequest) -> SendResult:
    """Send `request` to every region of the plan. A refused region does not stop the others, except
    read-only mode and invalid requests, which would fail the same everywhere."""
    sent: list[CommandSummary] = []
    errors: list[OpsError] = []
    for region in plan.regions:
        ids = plan.ids_by_region.get(region, ())
        # One SendCommand per 50 ids here (not inside ssm.send_command), so the commands of the chunks that
        # were accepted are tracked even when a later chunk is refused.
        step = ssm.MAX_IDS_PER_COMMAND
        for chunk in [ids[i:i + step] for i in range(0, len(ids), step)] or [()]:
            req = replace(request, instance_ids=chunk, targets=() if chunk else plan.spec.send_targets(),
                          timeout_seconds=request.timeout_seconds or DEFAULT_DELIVERY_TIMEOUT)
            try:
                sent.extend(await ssm.send_command(aws, region, req))
            except OpsError as err:
                if err.kind in ("read-only", "invalid", "expired", "clock") and not sent:
                    raise
                errors.append(err)
    return SendResult(tuple(sent), tuple(errors))
