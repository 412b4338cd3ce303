"""SSM Run Command for the sandbox: SendCommand that really executes, and the APIs that report on it.

moto's SendCommand/ListCommands/GetCommandInvocation report every command Success at once with empty output,
and it has no ListCommandInvocations/CancelCommand. This module replaces all five on moto's
``SimpleSystemManagerResponse`` (technique B) with a command store of its own; the execution is
:mod:`opstui.sandbox.command_exec`. Behaviour, chosen to match AWS (sources: botocore's SSM model and its
status documentation, the SSM Agent's source, public reports of real responses):

SendCommand
  * ``DocumentName`` must resolve through :func:`opstui.sandbox.documents.find_document` -> else
    ``InvalidDocument``; a version that does not exist -> ``InvalidDocumentVersion``.
  * ``Parameters``: names the document does not declare, a missing required parameter (no default), an empty
    StringList (``commands=[]``), several values for a String parameter, or a value outside
    ``allowedValues``/``allowedPattern`` -> ``InvalidParameters``. Defaults fill the rest.
  * Exactly one of ``InstanceIds`` (at most 50) and ``Targets`` (at most 5) -> else ``ValidationException``.
  * ``InstanceIds`` are validated: an id that is no managed node of the region (unknown, or its instance
    terminated) -> ``InvalidInstanceId`` "Instances [[i-1, i-2]] not in a valid state for account <acct>".
    A stopped instance is valid (AWS accepts Stopped/Stopping) and its invocation ends ``Undeliverable``.
    A node whose platform the document does not support -> ``UnsupportedPlatformType`` "Cannot perform
    operation for instance id <id> of platform type <Windows>" (what AWS answers for AWS-RunShellScript sent to
    a Windows instance by id). By ``Targets`` the service cannot refuse up front: such a node's invocation is
    ``Failed``/``InvalidPlatform``/-1 and never delivered ("The command was sent to an instance that didn't
    match the required platforms specified by the chosen document. Invalid Platform doesn't count against the
    parent command's max-errors limit", https://docs.aws.amazon.com/systems-manager/latest/userguide/
    monitor-commands.html), so a Windows node in a Linux fan-out neither fails the command nor cancels the
    healthy nodes.
  * ``Targets`` (ANDed; values ORed): ``InstanceIds`` (unknown ids get an Undeliverable invocation, the
    service resolves targets after accepting the command), ``tag:<Key>``, ``tag-key``,
    ``resource-groups:Name`` (+ ``resource-groups:ResourceTypeFilters``, resolved with
    :func:`opstui.sandbox.resource_groups.group_members`; an unknown group resolves to nothing). Any other key
    -> ``ValidationException``. Only managed nodes are targeted; terminated instances are not.
  * A target set that resolves to nothing still creates the command (AWS resolves targets asynchronously and
    never rejects an empty match): TargetCount 0, and the command goes ``Success``/``NoInstancesInTag`` at once
    ("No Instances In Tag: The tag key-pair value or resource group targeted by the command doesn't match any
    managed instances", monitor-commands.html; real output recorded as ``Success (NoInstancesInTag)``).
  * ``MaxConcurrency`` (default ``50``) and ``MaxErrors`` (default ``0``): counts or percentages of the
    target count (``10%`` of 50 -> 5; concurrency never below 1). ``TimeoutSeconds`` (default 3600) is the
    delivery timeout. The response is the Command with Status ``Pending``.

Statuses (invocation Status / StatusDetails / ResponseCode)
  ``Pending``/``Pending``/-1 -> ``Delayed``/``Delayed`` (agent ConnectionLost) -> ``InProgress``/``InProgress``
  -> one of ``Success``/``Success``/0, ``Failed``/``Failed``/exit code, ``TimedOut``/``ExecutionTimedOut``/137
  (-1 on Windows), ``TimedOut``/``DeliveryTimedOut``/-1, ``Failed``/``Undeliverable``/-1 (stopped or terminated
  instance, Inactive hybrid node, unknown id), ``Failed``/``InvalidPlatform``/-1 (a targeted node whose platform
  the document does not support), ``Cancelling`` -> ``Cancelled``/``Cancelled`` (137 if it was
  running, -1 if it never started), and ``Cancelled``/``Terminated``/-1 for invocations that were never sent
  because the command exceeded MaxErrors (AWS documents the "Terminated" detail; the Status enum has no such
  value, Cancelled is its nearest).

  Errors (for MaxErrors and ErrorCount) are Failed (not Undeliverable/InvalidPlatform) and ExecutionTimedOut
  invocations; a command whose invocations are all Undeliverable/InvalidPlatform ends ``Failed``/``Failed``.
  When ErrorCount exceeds MaxErrors the command stops sending: running invocations finish, unsent ones are
  Terminated. The command's Status/StatusDetails: ``Pending`` until an invocation leaves Pending, then
  ``InProgress``; at the end ``Cancelled`` (CancelCommand; ``Cancelling`` while processes are killed),
  ``Failed``/``Failed`` (errors > MaxErrors), ``TimedOut``/``ExecutionTimedOut`` (the same, all of them
  execution timeouts), ``TimedOut``/``DeliveryTimedOut`` (only delivery timeouts, more than MaxErrors),
  ``Failed``/``Incomplete`` (something other than Success, Undeliverable or InvalidPlatform, within MaxErrors -- the Status
  enum has no Incomplete, so Status says Failed), else ``Success``/``Success``. CompletedCount counts
  terminal invocations, ErrorCount errors, DeliveryTimedOutCount delivery timeouts.

Reading results
  * GetCommandInvocation: ``PluginName`` optional (unknown -> ``InvalidPluginName``; omitted on a
    multi-step document: the steps' output joined, the invocation's status); StandardOutputContent is the
    first 24,000 characters, StandardErrorContent the first 8,000; ExecutionStartDateTime/EndDateTime are
    ISO strings ("" while unknown), ExecutionElapsedTime ``PT<seconds>S``. Unknown command or instance ->
    ``InvocationDoesNotExist``.
  * ListCommandInvocations: ``CommandId``, ``InstanceId``, ``Filters``, ``Details`` (CommandPlugins with Output
    as the agent's TruncateOutput: stdout, ``----------ERROR-------``, stderr within 2,500 characters),
    MaxResults 1-50 (default 50), NextToken; newest command first, invocations in target order.
  * ListCommands: ``CommandId`` (unknown -> ``InvalidCommandId``), ``InstanceId``, Filters InvokedAfter /
    InvokedBefore (ISO 8601) / Status / ExecutionStage (Executing|Complete) / DocumentName (bad key ->
    ``InvalidFilterKey``, bad value -> ``InvalidFilterValue``), MaxResults 1-50 (default 50), newest first.
  * CancelCommand: unknown command -> ``InvalidCommandId``; a finished command is left as it is.

Output locations
  * S3 (``OutputS3BucketName`` [+ ``OutputS3KeyPrefix``]): ``<prefix>/<CommandId>/<InstanceId>/awsrunShellScript/
    0.awsrunShellScript/stdout`` (and ``stderr`` when there is any); 2.x documents use the step name as the
    folder. URLs are ``https://s3.<region>.amazonaws.com/<bucket>/<key>``.
  * CloudWatch Logs (``CloudWatchOutputConfig.CloudWatchOutputEnabled``): group ``CloudWatchLogGroupName`` or
    ``/aws/ssm/<DocumentName>``, streams ``<CommandId>/<InstanceId>/<plugin with ':' -> '-'>/stdout|stderr``.

Control: :class:`RunCommand` answers ``GET``/``POST /_opstui/run-command``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError
from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from . import documents, logs_fast, node_state, resource_groups
from .command_exec import (
    PLUGIN_OUTPUT_LIMIT,
    STDERR_LIMIT,
    STDOUT_LIMIT,
    TERMINAL,
    Command,
    Engine,
    EngineSettings,
    Invocation,
    PluginRun,
    build_plugins,
    truncate_plugin_output,
)
from .ec2_fast import instance_index
from .extension import Extension, attach
from .ssm_nodes import REGISTRY, ManagedNode

if TYPE_CHECKING:
    from .server import Sandbox

COMMAND_STATUSES = ("Pending", "InProgress", "Success", "Cancelled", "Failed", "TimedOut", "Cancelling")
INVOCATION_STATUSES = ("Pending", "InProgress", "Delayed", "Success", "Cancelled", "TimedOut", "Failed",
                       "Cancelling")
FILTER_KEYS = ("InvokedAfter", "InvokedBefore", "Status", "ExecutionStage", "DocumentName")
_MAX_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
_MAX_ERRORS = re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")

ENGINE = Engine()
_commands: dict[str, Command] = {}
_store_lock = threading.Lock()
_state_dir: Path | None = None


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)


# --------------------------------------------------------------------------------------------------------
# the extension: patches, lifecycle, control


class RunCommand(Extension):
    """SendCommand, ListCommands, ListCommandInvocations, GetCommandInvocation, CancelCommand: the executor.

    Control: ``GET /_opstui/run-command`` (peak concurrency per command, executions, running processes,
    knobs); ``POST`` the engine's knobs (``delivery_timeout_scale``, ``delivery_delay``, ...) ->
    ``{"settings": ...}``.
    """

    name = "run-command"

    def patch(self) -> None:
        logs_fast.EXTENSION.install()  # output goes to CloudWatch Logs and is read back with FilterLogEvents
        attach(SimpleSystemManagerResponse, send_command, list_commands, get_command_invocation,
               list_command_invocations, cancel_command)

    def prepare(self, sandbox: Sandbox) -> None:
        """Start fresh for a new Sandbox: forget commands and node software state, start the engine."""
        global _state_dir
        ENGINE.stop()
        ENGINE.settings = EngineSettings()  # a new Sandbox starts strict: no knob of an earlier run is kept
        with _store_lock:
            _commands.clear()
        node_state.clear()
        _state_dir = Path(sandbox.state_dir)
        ENGINE.start()

    def stop(self, sandbox: Sandbox) -> None:
        """Kill every running command process and stop the engine."""
        ENGINE.stop()

    def control_snapshot(self) -> dict[str, Any]:
        return {"peak_concurrency": dict(ENGINE.peaks), "executions": ENGINE.executions,
                "running_processes": ENGINE.running_processes(), "commands": len(_commands),
                "settings": ENGINE.settings.as_dict()}

    def configure(self, **knobs: Any) -> dict[str, Any]:
        ENGINE.settings.update(**knobs)
        return {"settings": ENGINE.settings.as_dict()}

    def lenient(self) -> list[str]:
        s = ENGINE.settings
        out = []
        if s.delivery_timeout_scale != 1.0:
            out.append(f"run-command: delivery timeouts last {s.delivery_timeout_scale}x the TimeoutSeconds asked")
        if s.execution_timeout_scale != 1.0:
            out.append(f"run-command: execution timeouts last {s.execution_timeout_scale}x the executionTimeout")
        return out


EXTENSION = RunCommand()


def get_command(command_id: str) -> Command | None:
    return _commands.get(command_id)


# --------------------------------------------------------------------------------------------------------
# SendCommand helpers


def _dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _document(account: str, region: str, name: str, version: str | None) -> dict[str, Any]:
    find = getattr(documents, "find_document", None)
    content = find(account, region, name, None) if find else None
    if content is None:
        raise _error("InvalidDocument", f"Document {name} does not exist in your account")
    if version and version not in ("$LATEST", "$DEFAULT"):
        content = find(account, region, name, version) if find else None
        if content is None:
            raise _error("InvalidDocumentVersion", f"Document {name} has no version {version}")
    if str(content.get("schemaVersion")) not in ("1.2", "2.0", "2.2"):
        raise _error("InvalidDocument", f"Document {name} is not a Command document")
    return content


def _parameters(name: str, content: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Validated parameters: StringList -> list[str], others -> str (defaults filled in)."""
    declared: dict[str, Any] = content.get("parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise _error("InvalidParameters", f"Document {name} does not support parameters: {', '.join(unknown)}")
    result: dict[str, Any] = {}
    for key, spec in declared.items():
        spec = spec or {}
        kind = spec.get("type", "String")
        if key in given:
            values = given[key]
            if not isinstance(values, list):
                values = [values]
            values = [str(v) for v in values]
            if not values:
                raise _error("InvalidParameters", f"Parameter \"{key}\" of document {name} has an empty value.")
        elif "default" in spec:
            default = spec["default"]
            values = [str(v) for v in default] if isinstance(default, list) else [str(default)]
            if kind != "StringList" and values == [""]:
                result[key] = ""
                continue
        else:
            raise _error("InvalidParameters", f"Document {name} requires the parameter \"{key}\".")
        if kind != "StringList" and len(values) > 1:
            raise _error("InvalidParameters", f"Parameter \"{key}\" of document {name} takes a single value.")
        allowed = spec.get("allowedValues")
        pattern = spec.get("allowedPattern")
        for value in values:
            if allowed and value not in [str(a) for a in allowed] and key in given:
                raise _error("InvalidParameters",
                             f"Parameter \"{key}\" value \"{value}\" is not one of {', '.join(map(str, allowed))}.")
            if pattern and key in given and value and not re.search(pattern, value):
                raise _error("InvalidParameters",
                             f"Parameter \"{key}\" value \"{value}\" does not match pattern {pattern}.")
        result[key] = values if kind == "StringList" else (values[0] if values else "")
    return result


def _node_ok(account: str, region: str, node: ManagedNode | None, index: dict[str, Any]) -> bool:
    if node is None:
        return False
    if node.is_hybrid:
        return True
    instance = index.get(node.instance_id)
    return instance is not None and instance._state.name not in ("terminated", "shutting-down")


def _node_tags(account: str, region: str, node: ManagedNode) -> dict[str, str]:
    if node.is_hybrid:
        return ssm_backends[account][region]._resource_tags["ManagedInstance"].get(node.instance_id) or {}
    return ec2_backends[account][region].tags.get(node.instance_id) or {}


def _resolve_targets(account: str, region: str, targets: list[dict[str, Any]]) -> list[str]:
    index = instance_index(ec2_backends[account][region])
    nodes = [n for n in REGISTRY.nodes(account, region) if _node_ok(account, region, n, index)]
    selected: list[str] | None = None
    rg_name: list[str] | None = None
    rg_types: list[str] | None = None
    for target in targets:
        key = target.get("Key") or ""
        values = [str(v) for v in target.get("Values") or []]
        if key == "resource-groups:Name":
            rg_name = values
            continue
        if key == "resource-groups:ResourceTypeFilters":
            rg_types = values
            continue
        if key == "InstanceIds":
            ids = list(dict.fromkeys(values))
        elif key.startswith("tag:") and len(key) > 4:
            wanted = set(values)
            ids = [n.instance_id for n in nodes if _node_tags(account, region, n).get(key[4:]) in wanted]
        elif key == "tag-key":
            wanted = set(values)
            ids = [n.instance_id for n in nodes if wanted.intersection(_node_tags(account, region, n))]
        else:
            raise _error("ValidationException", f"Target key {key} is not valid.")
        selected = ids if selected is None else [i for i in selected if i in set(ids)]
    if rg_name is not None:
        try:
            members, _ = resource_groups.group_members(account, region, rg_name[0] if rg_name else "",
                                                       rg_types)
            ids = [iid for _, _, iid in members if REGISTRY.get(account, region, iid) is not None]
        except resource_groups.GroupError:
            ids = []
        selected = ids if selected is None else [i for i in selected if i in set(ids)]
    elif rg_types is not None:
        raise _error("ValidationException", "resource-groups:ResourceTypeFilters needs resource-groups:Name.")
    return selected or []


def _platforms(account: str, region: str, name: str, content: dict[str, Any]) -> set[str]:
    fn = getattr(documents, "document_platforms", None)
    if fn is not None:
        found = fn(account, region, name)
        if found:
            return set(found)
    if "runtimeConfig" in content:
        plugins = set(content["runtimeConfig"])
        if plugins <= {"aws:runShellScript"}:
            return {"Linux", "MacOS"}
    return {"Linux", "MacOS", "Windows"}


def _validated_instance_ids(account: str, region: str, ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(ids))
    if len(ids) > 50:
        raise _error("ValidationException", "1 validation error detected: Value at 'instanceIds' failed to "
                                            "satisfy constraint: Member must have length less than or equal to 50")
    index = instance_index(ec2_backends[account][region])
    bad = [i for i in ids if not _node_ok(account, region, REGISTRY.get(account, region, i), index)]
    if bad:
        raise _error("InvalidInstanceId", f"Instances [[{', '.join(bad)}]] not in a valid state for account {account}")
    return ids


def _invocation(cmd: Command, instance_id: str, content: dict[str, Any], params: dict[str, Any]) -> Invocation:
    node = REGISTRY.get(cmd.account_id, cmd.region, instance_id)
    if node is None:
        name = computer = ip = ""
        platform = ""
    else:
        tags = _node_tags(cmd.account_id, cmd.region, node)
        name = node.name if node.is_hybrid and node.name else tags.get("Name", "")
        computer = node.computer_name or ""
        ip = node.ip_address or ""
        platform = node.platform_type
    return Invocation(command=cmd, instance_id=instance_id, instance_name=computer, node_name=name,
                      platform=platform, plugins=build_plugins(content, params), ip_address=ip)


def send_command(self: Any) -> str:
    account, region = self.current_account, self.region
    if _state_dir is None:
        raise _error("InternalServerError", "Run Command is not running in this sandbox")
    name = self._get_param("DocumentName") or ""
    version = self._get_param("DocumentVersion")
    content = _document(account, region, name, version)
    given = self._get_param("Parameters") or {}
    params = _parameters(name, content, given)
    instance_ids = self._get_param("InstanceIds") or []
    targets = self._get_param("Targets") or []
    if instance_ids and targets:
        raise _error("ValidationException", "InstanceIds and Targets cannot be specified together.")
    if not instance_ids and not targets:
        raise _error("ValidationException", "Either InstanceIds or Targets must be specified.")
    if len(targets) > 5:
        raise _error("ValidationException", "1 validation error detected: Value at 'targets' failed to satisfy "
                                            "constraint: Member must have length less than or equal to 5")
    max_concurrency = str(self._get_param("MaxConcurrency") or "50")
    max_errors = str(self._get_param("MaxErrors") or "0")
    if not _MAX_CONCURRENCY.match(max_concurrency):
        raise _error("ValidationException", f"1 validation error detected: Value '{max_concurrency}' at "
                                            "'maxConcurrency' failed to satisfy constraint: Member must satisfy "
                                            f"regular expression pattern: {_MAX_CONCURRENCY.pattern}")
    if not _MAX_ERRORS.match(max_errors):
        raise _error("ValidationException", f"1 validation error detected: Value '{max_errors}' at 'maxErrors' "
                                            "failed to satisfy constraint: Member must satisfy regular "
                                            f"expression pattern: {_MAX_ERRORS.pattern}")
    if instance_ids:
        ids = _validated_instance_ids(account, region, instance_ids)
        supported = _platforms(account, region, name, content)
        for iid in ids:
            node = REGISTRY.get(account, region, iid)
            if node is not None and node.platform_type not in supported:
                raise _error("UnsupportedPlatformType",
                             f"Cannot perform operation for instance id {iid} of platform type {node.platform_type}")
    else:
        ids = _resolve_targets(account, region, targets)
        supported = _platforms(account, region, name, content)
    cw = self._get_param("CloudWatchOutputConfig") or {}
    cw_enabled = bool(cw.get("CloudWatchOutputEnabled"))
    cmd = Command(
        command_id=str(uuid.uuid4()), account_id=account, region=region, document_name=name,
        document_version=version or "$DEFAULT", comment=self._get_param("Comment") or "",
        parameters={k: list(v) if isinstance(v, list) else [v] for k, v in given.items()},
        instance_ids=ids if instance_ids else [], targets=targets,
        timeout_seconds=int(self._get_param("TimeoutSeconds") or 3600),
        max_concurrency=max_concurrency, max_errors=max_errors,
        output_s3_bucket=self._get_param("OutputS3BucketName") or "",
        output_s3_prefix=self._get_param("OutputS3KeyPrefix") or "",
        output_s3_region=self._get_param("OutputS3Region") or region,
        cw_enabled=cw_enabled, cw_config=cw, cw_group=cw.get("CloudWatchLogGroupName") or f"/aws/ssm/{name}",
        service_role=self._get_param("ServiceRoleArn") or "",
        notification_config=self._get_param("NotificationConfig") or {},
        state_dir=_state_dir, effective_parameters=params)
    for iid in ids:
        cmd.invocations[iid] = _invocation(cmd, iid, content, params)
    response = {"Command": _describe_command(cmd)}  # Pending: the service answers before it resolves anything
    for inv in cmd.invocations.values():
        if inv.platform and inv.platform not in supported:
            inv.set("Failed", "InvalidPlatform", -1)
    if targets and not ids:
        cmd.status, cmd.details, cmd.finished = "Success", "NoInstancesInTag", True
    with _store_lock:
        _commands[cmd.command_id] = cmd
    ENGINE.submit(cmd)
    return _dumps(response)


# --------------------------------------------------------------------------------------------------------
# describing


def _cw_config(cmd: Command) -> dict[str, Any]:
    return {"CloudWatchLogGroupName": cmd.cw_config.get("CloudWatchLogGroupName", ""),
            "CloudWatchOutputEnabled": cmd.cw_enabled}


def _describe_command(cmd: Command) -> dict[str, Any]:
    completed, errors, dto, _ = cmd.counts()
    return {
        "CommandId": cmd.command_id, "DocumentName": cmd.document_name, "DocumentVersion": cmd.document_version,
        "Comment": cmd.comment, "ExpiresAfter": cmd.expires_after, "Parameters": cmd.parameters,
        "InstanceIds": cmd.instance_ids, "Targets": cmd.targets, "RequestedDateTime": cmd.requested,
        "Status": cmd.status, "StatusDetails": cmd.details, "OutputS3Region": cmd.output_s3_region,
        "OutputS3BucketName": cmd.output_s3_bucket, "OutputS3KeyPrefix": cmd.output_s3_prefix,
        "MaxConcurrency": cmd.max_concurrency, "MaxErrors": cmd.max_errors,
        "TargetCount": len(cmd.invocations), "CompletedCount": completed, "ErrorCount": errors,
        "DeliveryTimedOutCount": dto, "ServiceRole": cmd.service_role,
        "NotificationConfig": cmd.notification_config or {"NotificationArn": "", "NotificationEvents": [],
                                                          "NotificationType": ""},
        "CloudWatchOutputConfig": _cw_config(cmd), "TimeoutSeconds": cmd.timeout_seconds,
    }


def _plugin_key_prefix(inv: Invocation, plugin: PluginRun) -> str:
    return inv.s3_key(plugin, "stdout").rsplit("/", 1)[0] if inv.command.output_s3_bucket else ""


def _describe_plugin(inv: Invocation, plugin: PluginRun) -> dict[str, Any]:
    cmd = inv.command
    row: dict[str, Any] = {
        "Name": plugin.name, "Status": plugin.status if plugin.status in TERMINAL or plugin.status == "InProgress"
        else "Pending", "StatusDetails": plugin.details, "ResponseCode": plugin.code,
        "Output": truncate_plugin_output(plugin.stdout(), plugin.stderr(), PLUGIN_OUTPUT_LIMIT),
        "StandardOutputUrl": inv.s3_url(plugin, "stdout"), "StandardErrorUrl": inv.s3_url(plugin, "stderr"),
        "OutputS3Region": cmd.output_s3_region, "OutputS3BucketName": cmd.output_s3_bucket,
        "OutputS3KeyPrefix": _plugin_key_prefix(inv, plugin),
    }
    if plugin.start is not None:
        row["ResponseStartDateTime"] = plugin.start
    if plugin.end is not None:
        row["ResponseFinishDateTime"] = plugin.end
    return row


def _describe_invocation(inv: Invocation, details: bool) -> dict[str, Any]:
    cmd = inv.command
    single = inv.plugins[0] if len(inv.plugins) == 1 else None
    return {
        "CommandId": cmd.command_id, "InstanceId": inv.instance_id, "InstanceName": inv.instance_name,
        "Comment": cmd.comment, "DocumentName": cmd.document_name, "DocumentVersion": cmd.document_version,
        "RequestedDateTime": cmd.requested, "Status": inv.status, "StatusDetails": inv.details,
        "TraceOutput": "", "StandardOutputUrl": inv.s3_url(single, "stdout") if single else "",
        "StandardErrorUrl": inv.s3_url(single, "stderr") if single else "",
        "CommandPlugins": [_describe_plugin(inv, p) for p in inv.plugins] if details else [],
        "ServiceRole": cmd.service_role,
        "NotificationConfig": cmd.notification_config or {"NotificationArn": "", "NotificationEvents": [],
                                                          "NotificationType": ""},
        "CloudWatchOutputConfig": _cw_config(cmd),
    }


def _iso(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def get_command_invocation(self: Any) -> str:
    command_id = self._get_param("CommandId") or ""
    instance_id = self._get_param("InstanceId") or ""
    plugin_name = self._get_param("PluginName")
    cmd = _commands.get(command_id)
    if cmd is None or cmd.account_id != self.current_account or cmd.region != self.region:
        raise _error("InvocationDoesNotExist", f"Command {command_id} does not exist.")
    inv = cmd.invocations.get(instance_id)
    if inv is None:
        raise _error("InvocationDoesNotExist", f"Command {command_id} has no invocation on {instance_id}.")
    if plugin_name:
        plugins = [p for p in inv.plugins if p.name == plugin_name]
        if not plugins:
            raise _error("InvalidPluginName", f"The plugin name {plugin_name} is not valid.")
    else:
        plugins = inv.plugins
    if len(plugins) == 1:
        p = plugins[0]
        status, details, code, start, end = (p.status, p.details, p.code, p.start, p.end)
        if inv.status in ("Pending", "Delayed", "Cancelling") or inv.terminal and p.status == "Pending":
            status, details = inv.status, inv.details
        stdout, stderr = p.stdout(), p.stderr()
        out_url, err_url = inv.s3_url(p, "stdout"), inv.s3_url(p, "stderr")
        name = p.name
    else:
        status, details, code, start, end = inv.status, inv.details, inv.code, inv.start, inv.end
        stdout = "\n".join(x for x in (p.stdout() for p in plugins) if x)[:STDOUT_LIMIT]
        stderr = "\n".join(x for x in (p.stderr() for p in plugins) if x)[:STDERR_LIMIT]
        out_url = err_url = ""
        name = ""
    if status not in INVOCATION_STATUSES:
        status = "Pending"
    elapsed = (end - start).total_seconds() if start and end else 0.0
    result = {
        "CommandId": cmd.command_id, "InstanceId": inv.instance_id, "Comment": cmd.comment,
        "DocumentName": cmd.document_name, "DocumentVersion": cmd.document_version, "PluginName": name,
        "ResponseCode": code, "ExecutionStartDateTime": _iso(start), "ExecutionElapsedTime": f"PT{elapsed:.3f}S",
        "ExecutionEndDateTime": _iso(end), "Status": status, "StatusDetails": details,
        "StandardOutputContent": stdout, "StandardOutputUrl": out_url, "StandardErrorContent": stderr,
        "StandardErrorUrl": err_url, "CloudWatchOutputConfig": _cw_config(cmd),
    }
    return _dumps(result)


# --------------------------------------------------------------------------------------------------------
# listing


def _parse_filters(raw: list[dict[str, Any]] | None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for f in raw or []:
        key, value = f.get("key"), f.get("value")
        if key not in FILTER_KEYS:
            raise _error("InvalidFilterKey", f"The filter key {key} is not valid.")
        if not isinstance(value, str) or not value:
            raise _error("InvalidFilterValue", f"The filter value for {key} is not valid.")
        if key in ("InvokedAfter", "InvokedBefore"):
            try:
                when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise _error("InvalidFilterValue", f"The filter value {value} is not a valid date.") from exc
            out.append((key, when if when.tzinfo else when.replace(tzinfo=dt.UTC)))
        elif key == "ExecutionStage":
            if value not in ("Executing", "Complete"):
                raise _error("InvalidFilterValue", f"The filter value {value} is not valid for ExecutionStage.")
            out.append((key, value))
        elif key == "Status":
            if value not in COMMAND_STATUSES and value not in INVOCATION_STATUSES:
                raise _error("InvalidFilterValue", f"The filter value {value} is not valid for Status.")
            out.append((key, value))
        else:
            out.append((key, value))
    return out


def _matches(cmd: Command, status: str, done: bool, filters: list[tuple[str, Any]]) -> bool:
    for key, value in filters:
        if key == "InvokedAfter" and cmd.requested < value:
            return False
        if key == "InvokedBefore" and cmd.requested > value:
            return False
        if key == "Status" and status != value:
            return False
        if key == "ExecutionStage" and done != (value == "Complete"):
            return False
        if key == "DocumentName" and cmd.document_name != value:
            return False
    return True


def _max_results(self: Any) -> int:
    value = self._get_param("MaxResults")
    value = 50 if value is None else int(value)
    if not 1 <= value <= 50:
        bound = "greater than or equal to 1" if value < 1 else "less than or equal to 50"
        raise _error("ValidationException", f"1 validation error detected: Value '{value}' at 'maxResults' failed "
                                            f"to satisfy constraint: Member must have value {bound}")
    return value


def _page(items: list[Any], keys: list[str], max_results: int, token: str | None) -> tuple[list[Any], str | None]:
    start = 0
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
            start = keys.index(after) + 1
        except Exception as exc:
            raise _error("InvalidNextToken", "The specified token is not valid.") from exc
    page = items[start : start + max_results]
    next_token = None
    if start + max_results < len(items):
        next_token = base64.urlsafe_b64encode(json.dumps({"after": keys[start + max_results - 1]}).encode()).decode()
    return page, next_token


def _region_commands(self: Any) -> list[Command]:
    with _store_lock:
        cmds = [c for c in _commands.values() if c.account_id == self.current_account and c.region == self.region]
    cmds.sort(key=lambda c: (c.requested, c.command_id), reverse=True)
    return cmds


def list_commands(self: Any) -> str:
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    filters = _parse_filters(self._get_param("Filters"))
    max_results = _max_results(self)
    cmds = _region_commands(self)
    if command_id:
        cmds = [c for c in cmds if c.command_id == command_id]
        if not cmds:
            raise _error("InvalidCommandId", f"Command {command_id} does not exist.")
    if instance_id:
        cmds = [c for c in cmds if instance_id in c.invocations]
    cmds = [c for c in cmds if _matches(c, c.status, c.finished, filters)]
    page, token = _page(cmds, [c.command_id for c in cmds], max_results, self._get_param("NextToken"))
    result: dict[str, Any] = {"Commands": [_describe_command(c) for c in page]}
    if token:
        result["NextToken"] = token
    return _dumps(result)


def list_command_invocations(self: Any) -> str:
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    details = bool(self._get_param("Details"))
    filters = _parse_filters(self._get_param("Filters"))
    max_results = _max_results(self)
    cmds = _region_commands(self)
    if command_id:
        cmds = [c for c in cmds if c.command_id == command_id]
        if not cmds:
            raise _error("InvalidCommandId", f"Command {command_id} does not exist.")
    rows: list[Invocation] = []
    for cmd in cmds:
        for inv in list(cmd.invocations.values()):
            if instance_id and inv.instance_id != instance_id:
                continue
            if _matches(cmd, inv.status, inv.terminal, filters):
                rows.append(inv)
    keys = [f"{inv.command.command_id}/{inv.instance_id}" for inv in rows]
    page, token = _page(rows, keys, max_results, self._get_param("NextToken"))
    result: dict[str, Any] = {"CommandInvocations": [_describe_invocation(inv, details) for inv in page]}
    if token:
        result["NextToken"] = token
    return _dumps(result)


def cancel_command(self: Any) -> str:
    command_id = self._get_param("CommandId") or ""
    cmd = _commands.get(command_id)
    if cmd is None or cmd.account_id != self.current_account or cmd.region != self.region:
        raise _error("InvalidCommandId", f"Command {command_id} does not exist.")
    ids = self._get_param("InstanceIds") or None
    if not cmd.finished:
        ENGINE.cancel(cmd, ids)
    return "{}"
