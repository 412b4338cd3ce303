"""GetConnectionStatus, DescribeInstancePatchStates and DescribeInstanceAssociationsStatus, which moto lacks.

moto 5.2.5 answers all three with HTTP 500 "not implemented". They are installed on moto's
``SimpleSystemManagerResponse`` (technique B), shapes from botocore's SSM model, behaviour from the API reference:

GetConnectionStatus (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetConnectionStatus.html)
  "Retrieves the Session Manager connection status for a managed node to determine whether it is running and ready
  to receive Session Manager connections": ``connected`` exactly when StartSession would be accepted (a managed node
  of the region whose effective PingStatus is Online), else ``notconnected`` -- also for an unknown target, as the
  operation has no error but InternalServerError. A missing Target is refused by botocore before it is sent.

DescribeInstancePatchStates
  (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstancePatchStates.html)
  ``InstanceIds`` (required, at most 50), ``MaxResults`` 10-100 (the reference gives no default; the sandbox uses
  the minimum, 10), ``NextToken`` (one the sandbox did not issue -> ``InvalidNextToken``). One InstancePatchState
  per requested node that has reported a patch scan; ids without one (unknown, terminated) are left out, as the
  operation has no error for them. Every node of the scenario reports the result of its last ``Scan`` with the
  default patch baseline of its OS (``AWS-<OS>DefaultPatchBaseline``), counts derived from the node's id so they
  are stable across runs; ``PatchGroup`` is the node's ``Patch Group`` tag ("" without one).

DescribeInstanceAssociationsStatus
  (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceAssociationsStatus.html)
  ``InstanceId`` must be a managed node of the region, else ``InvalidInstanceId``; one InstanceAssociationStatusInfo
  per State Manager association that has targeted the node (:mod:`opstui.sandbox.associations`): the status of its
  latest execution there, ``ExecutionSummary`` as the agent words it ("1 out of 1 plugin processed, 1 success,
  0 failed, 0 timedout, 0 skipped. "); ``MaxResults`` 1-50 (default 50), ``NextToken`` -> ``InvalidNextToken``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ssm.responses import SimpleSystemManagerResponse

from . import associations, run_command
from .extension import Extension, attach
from .ssm_nodes import REGISTRY, ManagedNode, effective_view

#: the account that owns AWS's predefined patch baselines in the sandbox's ARNs
AWS_BASELINE_OWNER = "075727635805"
_TOKEN_ERROR = "The specified token isn't valid."


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _validation(value: int, field_name: str, low: int, high: int) -> JsonRESTError:
    bound = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
    return JsonRESTError("ValidationException", f"1 validation error detected: Value '{value}' at '{field_name}' "
                                                f"failed to satisfy constraint: Member must have value {bound}")


def _page(items: list[dict[str, Any]], key: str, token: str | None, size: int) -> tuple[list[dict[str, Any]], str]:
    start = 0
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
            start = [item[key] for item in items].index(after) + 1
        except Exception as exc:
            raise JsonRESTError("InvalidNextToken", _TOKEN_ERROR) from exc
    page = items[start : start + size]
    nxt = ""
    if start + size < len(items):
        nxt = base64.urlsafe_b64encode(json.dumps({"after": page[-1][key]}).encode()).decode()
    return page, nxt


def _live_node(account: str, region: str, instance_id: str) -> tuple[ManagedNode, str, dict[str, str]] | None:
    """(node, effective ping status, tags) of a managed node that is listed (not terminated), else None."""
    with REGISTRY.lock:
        node = REGISTRY.get(account, region, instance_id)
        view = effective_view(account, region, node) if node is not None else None
    if node is None or view is None:
        return None
    return node, view[0], dict(view[1])


# --------------------------------------------------------------------------------------------------------
# GetConnectionStatus


def get_connection_status(self: Any) -> str:
    target = self._get_param("Target") or ""
    live = _live_node(self.current_account, self.region, target)
    status = "connected" if live is not None and live[1] == "Online" else "notconnected"
    return _dumps({"Target": target, "Status": status})


# --------------------------------------------------------------------------------------------------------
# DescribeInstancePatchStates


def _baseline(node: ManagedNode, region: str) -> str:
    name = node.platform_name.replace(" ", "")
    if node.platform_type == "Windows":
        name = "Windows"
    digest = hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:17]
    return f"arn:aws:ssm:{region}:{AWS_BASELINE_OWNER}:patchbaseline/pb-{digest}"


def patch_state(node: ManagedNode, region: str, tags: dict[str, str], now: dt.datetime) -> dict[str, Any]:
    """The node's last patch scan, derived from its id (stable), ending within the last day."""
    seed = int(hashlib.sha256(node.instance_id.encode()).hexdigest(), 16)
    windows = node.platform_type == "Windows"
    missing = (seed >> 8) % 7 if (seed % 3 == 0) else 0
    critical = min(missing, (seed >> 16) % 3)
    security = min(missing - critical, (seed >> 20) % 3)
    pending_reboot = (seed >> 24) % 2 if not missing else 0
    ended = now - dt.timedelta(minutes=20 + (seed >> 28) % (60 * 20))
    started = ended - dt.timedelta(seconds=40 + (seed >> 40) % 200)
    return {
        "InstanceId": node.instance_id,
        "PatchGroup": tags.get("Patch Group", ""),
        "BaselineId": _baseline(node, region),
        "SnapshotId": str(uuid.UUID(hashlib.md5(f"{node.instance_id}/{ended.date()}".encode()).hexdigest())),
        "InstalledCount": (80 if windows else 350) + (seed >> 32) % 200,
        "InstalledOtherCount": (seed >> 44) % 25,
        "InstalledPendingRebootCount": pending_reboot,
        "InstalledRejectedCount": 0,
        "MissingCount": missing,
        "FailedCount": 0,
        "UnreportedNotApplicableCount": 0,
        "NotApplicableCount": (400 if windows else 1100) + (seed >> 52) % 900,
        "OperationStartTime": started,
        "OperationEndTime": ended,
        "Operation": "Scan",
        "RebootOption": "RebootIfNeeded",
        "CriticalNonCompliantCount": critical,
        "SecurityNonCompliantCount": security,
        "OtherNonCompliantCount": missing - critical - security,
    }


def describe_instance_patch_states(self: Any) -> str:
    ids = self._get_param("InstanceIds") or []
    if len(ids) > 50:
        raise JsonRESTError("ValidationException", "1 validation error detected: Value at 'instanceIds' failed to "
                                                   "satisfy constraint: Member must have length less than or equal "
                                                   "to 50")
    value = self._get_param("MaxResults")
    size = 10 if value is None else int(value)
    if not 10 <= size <= 100:
        raise _validation(size, "maxResults", 10, 100)
    account, region = self.current_account, self.region
    now = dt.datetime.now(dt.UTC)
    states: list[dict[str, Any]] = []
    for iid in dict.fromkeys(ids):
        live = _live_node(account, region, iid)
        if live is not None:
            states.append(patch_state(live[0], region, live[2], now))
    page, nxt = _page(states, "InstanceId", self._get_param("NextToken"), size)
    body: dict[str, Any] = {"InstancePatchStates": page}
    if nxt:
        body["NextToken"] = nxt
    return _dumps(body)


# --------------------------------------------------------------------------------------------------------
# DescribeInstanceAssociationsStatus


def _summary(command_id: str, instance_id: str) -> str | None:
    cmd = run_command.get_command(command_id) if command_id else None
    inv = cmd.invocations.get(instance_id) if cmd is not None else None
    if inv is None or not inv.terminal:
        return None
    plugins = inv.plugins or []
    total = len(plugins)
    ok = sum(1 for p in plugins if p.status == "Success")
    failed = sum(1 for p in plugins if p.status == "Failed")
    timed_out = sum(1 for p in plugins if p.status == "TimedOut")
    return (f"{total} out of {total} plugin{'s' if total != 1 else ''} processed, {ok} success, {failed} failed, "
            f"{timed_out} timedout, 0 skipped. ")


def describe_instance_associations_status(self: Any) -> str:
    instance_id = self._get_param("InstanceId") or ""
    account, region = self.current_account, self.region
    if _live_node(account, region, instance_id) is None:
        raise JsonRESTError("InvalidInstanceId", "Instance Id is invalid")
    value = self._get_param("MaxResults")
    size = 50 if value is None else int(value)
    if not 1 <= size <= 50:
        raise _validation(size, "maxResults", 1, 50)
    rows: list[dict[str, Any]] = []
    with associations._lock:
        for assoc in associations._associations.values():
            if assoc.account != account or assoc.region != region:
                continue
            execution = next((e for e in assoc.executions if instance_id in e.targets), None)
            if execution is None:
                continue
            target = execution.targets[instance_id]
            row: dict[str, Any] = {
                "AssociationId": assoc.association_id, "Name": assoc.name,
                "DocumentVersion": assoc.document_version, "AssociationVersion": execution.version,
                "InstanceId": instance_id, "ExecutionDate": target.date or execution.created,
                "Status": target.status, "DetailedStatus": target.detailed,
            }
            summary = _summary(target.command_id, instance_id)
            if summary is None and target.status in ("Success", "Failed"):
                good = target.status == "Success"
                summary = (f"1 out of 1 plugin processed, {int(good)} success, {int(not good)} failed, 0 timedout, "
                           "0 skipped. ")
            if summary:
                row["ExecutionSummary"] = summary
            if target.status == "Failed":
                row["ErrorCode"] = "1"
            if assoc.association_name:
                row["AssociationName"] = assoc.association_name
            if assoc.output_location and assoc.output_location.get("S3Location"):
                s3 = assoc.output_location["S3Location"]
                row["OutputUrl"] = {"S3OutputUrl": {"OutputUrl": (
                    f"https://s3.{s3.get('OutputS3Region') or region}.amazonaws.com/{s3.get('OutputS3BucketName', '')}/"
                    f"{s3.get('OutputS3KeyPrefix', '')}")}}
            rows.append(row)
    page, nxt = _page(rows, "AssociationId", self._get_param("NextToken"), size)
    body: dict[str, Any] = {"InstanceAssociationStatusInfos": page}
    if nxt:
        body["NextToken"] = nxt
    return _dumps(body)


class SsmStatus(Extension):
    """GetConnectionStatus, DescribeInstancePatchStates, DescribeInstanceAssociationsStatus (module docstring)."""

    name = "ssm-status"

    def patch(self) -> None:
        attach(SimpleSystemManagerResponse, get_connection_status, describe_instance_patch_states,
               describe_instance_associations_status)


EXTENSION = SsmStatus()
