"""SSM State Manager for the sandbox: associations, their schedules, and a scheduler that runs them.

moto 5.2.5 has no State Manager. This module installs CreateAssociation, DescribeAssociation, ListAssociations,
UpdateAssociation, DeleteAssociation, DescribeAssociationExecutions and DescribeAssociationExecutionTargets on
moto's ``SimpleSystemManagerResponse`` (technique B). Behaviour, chosen to match AWS (botocore's model, the API
reference, the user guide's "Cron and rate expressions for associations"):

Schedules (``ScheduleExpression``), read by :func:`opstui.schedule.association_schedule` (the Systems Manager
user guide's "Reference: Cron and rate expressions for Systems Manager"):
  * ``rate(N minute|minutes|hour|hours|day|days)``: singular unit iff N is 1; like AWS, associations accept
    intervals of 30 minutes or more and less than 31 days -- so AWS-GatherSoftwareInventory (any document) at
    ``rate(10 minutes)`` is refused with ``InvalidSchedule``.
  * ``cron(min hour day-of-month month day-of-week year)`` (an optional leading seconds field must be 0), with
    EventBridge's fields and wildcards (``L``, ``W``, ``#`` included); day-of-month or day-of-week must be
    ``?``. Runs more often than every 30 minutes, or expressions that never fire, -> ``InvalidSchedule``.
  * No expression: the association runs once (on create and on update).
  * An association runs at once when created or updated (AWS applies it right away), unless
    ``ApplyOnlyAtCronInterval`` is true with a cron schedule; then on schedule, read from the sandbox clock
    (:mod:`opstui.sandbox.clock`: ``POST /_opstui/clock {"speed": 600}`` makes a 30-minute rate fire every 3 s).
    A run is skipped while the previous execution of the same association is still in progress.

Targets: ``InstanceIds`` (``["*"]``: every managed node of the region), ``tag:<Key>``, ``tag-key``,
``resource-groups:Name`` (+ ``ResourceTypeFilters``), or the legacy ``InstanceId``. Anything else -> ``InvalidTarget``.

Running: the document runs on the targets through the Run Command executor (:mod:`opstui.sandbox.command_exec`:
the same plugins, AWS-GatherSoftwareInventory puts inventory), as a command that is NOT listed by ListCommands
(AWS does not list association runs as commands); each execution target's ``OutputSource`` names that command
(``OutputSourceType`` RunCommand). Targets whose agent is not reachable at the time (ConnectionLost, stopped) are
not sent to; their execution target is ``Pending``/``Pending`` and they do not count against the execution.

Executions: ``Status``/``DetailedStatus`` ``Pending`` -> ``InProgress`` -> ``Success`` (every reached target
succeeded), ``Failed`` (any failed or timed out); ``ResourceCountByStatus`` like AWS's ``{Success=3,Failed=1}``
(Pending targets included). The association's ``Overview`` follows the last execution (``Status``,
``DetailedStatus``, ``AssociationStatusAggregatedCount``), ``LastExecutionDate`` / ``LastSuccessfulExecutionDate``
too; each reached node's ``AssociationStatus`` / ``LastAssociationExecutionDate`` /
``LastSuccessfulAssociationExecutionDate`` in DescribeInstanceInformation is updated (a node is Failed if its last
run of any association failed).

Errors: unknown document ``InvalidDocument``; parameters ``InvalidParameters`` (the executor's checks);
``InvalidSchedule``; ``InvalidTarget``; unknown legacy instance ``InvalidInstanceId``; a second association of
the same document on the same legacy ``InstanceId`` ``AssociationAlreadyExists``; unknown association
``AssociationDoesNotExist``; unknown version ``InvalidAssociationVersion``; UpdateAssociation with a stale
``AssociationVersion`` ``InvalidAssociationVersion``; unknown execution ``AssociationExecutionDoesNotExist``;
bad names/limits ``ValidationException``. ListAssociations filters: the eight keys of the model
(``AssociationStatusName`` is the Overview status, ``LastExecutedBefore/After`` ISO 8601); MaxResults 1-50.

Seeded: each region of the scenario has the console's "Inventory-Association" (AWS-GatherSoftwareInventory on
``InstanceIds=["*"]`` at ``rate(30 minutes)``) with one past execution (recorded, not re-run, so the seeded
capture times stay as they are); its next run is due 30 minutes (sandbox time) after that execution.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError
from moto.ssm.responses import SimpleSystemManagerResponse

from opstui.schedule import Cron, Schedule, ScheduleError, association_schedule

from . import clock, run_command
from .command_exec import Command, reachability
from .extension import Extension, attach
from .inventory import SEED_LAST_RUN_AGO
from .ssm_nodes import REGISTRY

if TYPE_CHECKING:
    from .server import Sandbox

INVENTORY_DOCUMENT = "AWS-GatherSoftwareInventory"
SEED_ASSOCIATION_NAME = "Inventory-Association"
_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
FILTER_KEYS = ("InstanceId", "Name", "AssociationId", "AssociationStatusName", "LastExecutedBefore",
               "LastExecutedAfter", "AssociationName", "ResourceGroupName", "CloudConnectorId")


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)


# --------------------------------------------------------------------------------------------------------
# schedules


def parse_schedule(expression: str) -> Schedule:
    """A validated association schedule (:func:`opstui.schedule.association_schedule`), or
    ``InvalidSchedule``: a bare "is not valid." for a malformed expression, AWS's sentence on the limit for
    one that breaks it."""
    try:
        return association_schedule(expression)
    except ScheduleError as exc:
        reason = f" {exc.reason}" if exc.limit else ""
        raise _error("InvalidSchedule", f"Schedule expression {expression} is not valid.{reason}") from exc


# --------------------------------------------------------------------------------------------------------
# model


@dataclass
class ExecTarget:
    resource_id: str
    status: str = "Pending"
    detailed: str = "Pending"
    date: dt.datetime | None = None
    command_id: str = ""


@dataclass
class Execution:
    execution_id: str
    association: Association = field(repr=False)
    version: str
    created: dt.datetime
    status: str = "Pending"
    detailed: str = "Pending"
    last_date: dt.datetime | None = None
    targets: dict[str, ExecTarget] = field(default_factory=dict)
    command: Command | None = field(default=None, repr=False)
    finished: bool = False

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.targets.values():
            out[t.status] = out.get(t.status, 0) + 1
        return out

    def count_text(self) -> str:
        return "{" + ",".join(f"{k}={v}" for k, v in sorted(self.counts().items())) + "}"


@dataclass
class Association:
    association_id: str
    account: str
    region: str
    name: str
    document_version: str
    parameters: dict[str, list[str]]
    targets: list[dict[str, Any]]
    instance_id: str | None
    schedule: Schedule | None
    association_name: str | None
    max_errors: str | None
    max_concurrency: str | None
    compliance_severity: str | None
    sync_compliance: str | None
    apply_only_at_cron: bool
    output_location: dict[str, Any] | None
    extra: dict[str, Any]
    created: dt.datetime
    updated: dt.datetime
    version: int = 1
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    overview: dict[str, Any] = field(default_factory=lambda: {"Status": "Pending", "DetailedStatus": "Creating"})
    last_execution: dt.datetime | None = None
    last_success: dt.datetime | None = None
    next_due: dt.datetime | None = None
    executions: list[Execution] = field(default_factory=list)  # newest first

    @property
    def running(self) -> bool:
        return bool(self.executions) and not self.executions[0].finished


_lock = threading.RLock()
_associations: dict[str, Association] = {}
# per node: association id -> (status, date) of its last run there
_node_runs: dict[tuple[str, str, str], dict[str, tuple[str, dt.datetime]]] = {}
_thread: threading.Thread | None = None
_stop = threading.Event()


# --------------------------------------------------------------------------------------------------------
# targets


def _resolve(assoc: Association) -> list[str]:
    account, region = assoc.account, assoc.region
    if assoc.instance_id:
        return [assoc.instance_id] if REGISTRY.get(account, region, assoc.instance_id) else []
    targets = assoc.targets
    if any(t.get("Key") == "InstanceIds" and "*" in (t.get("Values") or []) for t in targets):
        ids = [n.instance_id for n in REGISTRY.nodes(account, region)]
        others = [t for t in targets if not (t.get("Key") == "InstanceIds" and "*" in (t.get("Values") or []))]
        if others:
            narrowed = set(run_command._resolve_targets(account, region, others))
            ids = [i for i in ids if i in narrowed]
        return ids
    try:
        return run_command._resolve_targets(account, region, targets)
    except JsonRESTError:
        return []


def _check_targets(targets: list[dict[str, Any]]) -> None:
    if len(targets) > 5:
        raise _error("ValidationException", "1 validation error detected: Value at 'targets' failed to satisfy "
                                            "constraint: Member must have length less than or equal to 5")
    for t in targets:
        key = str(t.get("Key") or "")
        values = t.get("Values") or []
        if not values:
            raise _error("InvalidTarget", f"Target {key} needs at least one value.")
        if key == "InstanceIds":
            if "*" in values and len(values) != 1:
                raise _error("InvalidTarget", "InstanceIds * cannot be combined with instance ids.")
        elif not (key.startswith("tag:") and len(key) > 4) and key not in (
                "tag-key", "resource-groups:Name", "resource-groups:ResourceTypeFilters"):
            raise _error("InvalidTarget", f"Target key {key} is not valid.")


# --------------------------------------------------------------------------------------------------------
# running


def _run(assoc: Association, now: dt.datetime) -> Execution | None:
    """Start one execution: a hidden Run Command command on the reachable targets."""
    if assoc.running:
        return None
    state_dir = run_command._state_dir
    execution = Execution(execution_id=str(uuid.uuid4()), association=assoc, version=str(assoc.version), created=now)
    assoc.executions.insert(0, execution)
    del assoc.executions[200:]
    ids = _resolve(assoc)
    reachable = []
    for iid in ids:
        execution.targets[iid] = ExecTarget(iid)
        if reachability(assoc.account, assoc.region, iid) == "online":
            reachable.append(iid)
    if not reachable or state_dir is None:
        execution.finished = True
        execution.status = execution.detailed = "Success" if not ids else "Pending"
        execution.last_date = now
        _finish(assoc, execution, now)
        return execution
    try:
        content = run_command._document(assoc.account, assoc.region, assoc.name, assoc.document_version)
        params = run_command._parameters(assoc.name, content, assoc.parameters)
    except JsonRESTError as exc:
        for t in execution.targets.values():
            t.status = t.detailed = "Failed"
            t.date = now
        execution.status, execution.detailed, execution.finished = "Failed", str(exc.message)[:200], True
        _finish(assoc, execution, now)
        return execution
    cmd = Command(
        command_id=str(uuid.uuid4()), account_id=assoc.account, region=assoc.region, document_name=assoc.name,
        document_version=assoc.document_version or "$DEFAULT", comment=f"State Manager association "
        f"{assoc.association_id}", parameters=dict(assoc.parameters), instance_ids=[], targets=assoc.targets,
        timeout_seconds=3600, max_concurrency=assoc.max_concurrency or "100%", max_errors=assoc.max_errors or "100%",
        output_s3_bucket="", output_s3_prefix="", output_s3_region=assoc.region, cw_enabled=False, cw_config={},
        cw_group="", service_role="", notification_config={}, state_dir=state_dir, effective_parameters=params)
    for iid in reachable:
        cmd.invocations[iid] = run_command._invocation(cmd, iid, content, params)
        execution.targets[iid].command_id = cmd.command_id
    execution.command = cmd
    execution.status = execution.detailed = "InProgress"
    run_command.ENGINE.submit(cmd)
    return execution


def _poll(execution: Execution, now: dt.datetime) -> None:
    cmd = execution.command
    if cmd is None or execution.finished:
        return
    for iid, inv in list(cmd.invocations.items()):
        target = execution.targets[iid]
        if inv.terminal and target.date is None:
            target.status = "Success" if inv.status == "Success" else "Failed"
            target.detailed = inv.details if inv.status != "Success" else "Success"
            target.date = now
        elif inv.status == "InProgress":
            target.status = target.detailed = "InProgress"
    if not cmd.finished:
        return
    ran = [t for t in execution.targets.values() if t.command_id]
    failed = any(t.status != "Success" for t in ran)
    execution.status = execution.detailed = "Failed" if failed else "Success"
    execution.last_date = now
    execution.finished = True
    _finish(execution.association, execution, now)


def _finish(assoc: Association, execution: Execution, now: dt.datetime) -> None:
    counts = execution.counts()
    assoc.overview = {"Status": execution.status if execution.status in ("Success", "Failed") else "Pending",
                      "DetailedStatus": execution.detailed, "AssociationStatusAggregatedCount": counts}
    assoc.last_execution = now
    if execution.status == "Success":
        assoc.last_success = now
    for target in execution.targets.values():
        if not target.command_id and target.status == "Pending":
            continue
        _record_node(assoc, target.resource_id, target.status, target.date or now)


def _record_node(assoc: Association, instance_id: str, status: str, when: dt.datetime) -> None:
    key = (assoc.account, assoc.region, instance_id)
    runs = _node_runs.setdefault(key, {})
    runs[assoc.association_id] = (status, when)
    _apply_node(key)


def _apply_node(key: tuple[str, str, str]) -> None:
    node = REGISTRY.get(*key)
    if node is None:
        return
    runs = _node_runs.get(key) or {}
    with REGISTRY.lock:
        if not runs:
            return
        statuses = [s for s, _ in runs.values()]
        node.association_status = "Failed" if "Failed" in statuses else (
            "Pending" if "Pending" in statuses else "Success")
        node.last_association = max(d for _, d in runs.values())
        ok = [d for s, d in runs.values() if s == "Success"]
        if ok:
            node.last_successful_association = max(ok)


def _loop() -> None:
    while not _stop.is_set():
        now = clock.now()
        wake = 1.0
        with _lock:
            for assoc in list(_associations.values()):
                if assoc.executions and not assoc.executions[0].finished:
                    _poll(assoc.executions[0], now)
                if assoc.next_due is not None and assoc.next_due <= now:
                    if not assoc.running:
                        _run(assoc, now)
                    assoc.next_due = assoc.schedule.next_after(now) if assoc.schedule else None
                if assoc.running:
                    wake = min(wake, 0.1)
                if assoc.next_due is not None:
                    wake = min(wake, clock.until(assoc.next_due))
        if _stop.is_set():
            return
        clock.wait(max(0.02, wake))


# --------------------------------------------------------------------------------------------------------
# the extension: patches, lifecycle, control


class StateManager(Extension):
    """State Manager's actions and its scheduler (after Run Command in start order: it runs documents through
    Run Command's engine, so it must stop first). ``GET /_opstui/associations``: the associations the
    scheduler knows, with their next due time (sandbox clock)."""

    name = "associations"

    def patch(self) -> None:
        attach(SimpleSystemManagerResponse, create_association, describe_association, list_associations,
               update_association, delete_association, describe_association_executions,
               describe_association_execution_targets)

    def start(self, sandbox: Sandbox) -> None:
        """Fresh state for a new Sandbox: the seeded inventory association per region, and the scheduler."""
        global _thread
        self.stop(sandbox)
        scenario = sandbox.scenario_data
        with _lock:
            _associations.clear()
            _node_runs.clear()
            if scenario is not None:
                now = clock.now()
                for region in scenario.regions:
                    _seed_association(scenario.account_id, region, now)
        _stop.clear()
        _thread = threading.Thread(target=_loop, name="opstui-state-manager", daemon=True)
        _thread.start()

    def stop(self, sandbox: Sandbox) -> None:
        global _thread
        _stop.set()
        clock.wake()
        if _thread is not None:
            _thread.join(5)
            _thread = None

    def control_snapshot(self) -> dict[str, Any]:
        with _lock:
            return {"associations": [{"AssociationId": a.association_id, "Region": a.region, "Name": a.name,
                                      "Executions": len(a.executions),
                                      "NextDue": a.next_due.isoformat() if a.next_due else None}
                                     for a in _associations.values()], "clock": clock.snapshot()}


EXTENSION = StateManager()


def _seed_association(account: str, region: str, now: dt.datetime) -> None:
    last = now - SEED_LAST_RUN_AGO  # the seeded captures of its Success nodes are from this run
    assoc = Association(
        association_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"opstui-sandbox/{account}/{region}/inventory")),
        account=account, region=region, name=INVENTORY_DOCUMENT, document_version="$DEFAULT",
        parameters={"applications": ["Enabled"], "awsComponents": ["Enabled"], "networkConfig": ["Enabled"],
                    "windowsUpdates": ["Enabled"], "instanceDetailedInformation": ["Enabled"],
                    "services": ["Enabled"], "windowsRoles": ["Enabled"], "customInventory": ["Enabled"],
                    "billingInfo": ["Enabled"], "files": [""], "windowsRegistry": [""]},
        targets=[{"Key": "InstanceIds", "Values": ["*"]}], instance_id=None,
        schedule=parse_schedule("rate(30 minutes)"), association_name=SEED_ASSOCIATION_NAME, max_errors=None,
        max_concurrency=None, compliance_severity="UNSPECIFIED", sync_compliance="AUTO", apply_only_at_cron=False,
        output_location=None, extra={}, created=now - dt.timedelta(days=41), updated=now - dt.timedelta(days=41))
    assoc.versions["1"] = _describe(assoc)
    execution = Execution(execution_id=str(uuid.uuid4()), association=assoc, version="1", created=last,
                          last_date=last, finished=True)
    for node in REGISTRY.nodes(account, region):
        target = ExecTarget(node.instance_id, date=last, command_id="")
        if node.ping_status != "Online" or node.association_status is None:
            target.status = target.detailed = "Pending"
        else:
            target.status = target.detailed = "Failed" if node.association_status == "Failed" else "Success"
        execution.targets[node.instance_id] = target
    counts = execution.counts()
    execution.status = execution.detailed = "Failed" if counts.get("Failed") else "Success"
    assoc.executions.insert(0, execution)
    assoc.overview = {"Status": execution.status, "DetailedStatus": execution.detailed,
                      "AssociationStatusAggregatedCount": counts}
    assoc.last_execution = last
    assoc.last_success = last if execution.status == "Success" else last - dt.timedelta(minutes=30)
    assoc.next_due = last + dt.timedelta(minutes=30)
    _associations[assoc.association_id] = assoc


# --------------------------------------------------------------------------------------------------------
# describing


def _describe(assoc: Association) -> dict[str, Any]:
    d: dict[str, Any] = {
        "Name": assoc.name, "AssociationVersion": str(assoc.version), "Date": assoc.created,
        "LastUpdateAssociationDate": assoc.updated,
        "Status": {"Date": assoc.updated, "Name": "Associated", "Message": "Associated with " + assoc.name},
        "Overview": assoc.overview, "DocumentVersion": assoc.document_version, "Parameters": assoc.parameters,
        "AssociationId": assoc.association_id, "Targets": assoc.targets,
        "ApplyOnlyAtCronInterval": assoc.apply_only_at_cron,
    }
    optional = {"InstanceId": assoc.instance_id, "ScheduleExpression": assoc.schedule.expression if assoc.schedule
                else None, "OutputLocation": assoc.output_location, "LastExecutionDate": assoc.last_execution,
                "LastSuccessfulExecutionDate": assoc.last_success, "AssociationName": assoc.association_name,
                "MaxErrors": assoc.max_errors, "MaxConcurrency": assoc.max_concurrency,
                "ComplianceSeverity": assoc.compliance_severity, "SyncCompliance": assoc.sync_compliance}
    d.update({k: v for k, v in optional.items() if v is not None})
    d.update(assoc.extra)
    return d


def _summary(assoc: Association) -> dict[str, Any]:
    d: dict[str, Any] = {"Name": assoc.name, "AssociationId": assoc.association_id,
                         "AssociationVersion": str(assoc.version), "DocumentVersion": assoc.document_version,
                         "Targets": assoc.targets, "Overview": assoc.overview}
    optional = {"InstanceId": assoc.instance_id, "LastExecutionDate": assoc.last_execution,
                "ScheduleExpression": assoc.schedule.expression if assoc.schedule else None,
                "AssociationName": assoc.association_name, "ScheduleOffset": assoc.extra.get("ScheduleOffset"),
                "Duration": assoc.extra.get("Duration"), "TargetMaps": assoc.extra.get("TargetMaps")}
    d.update({k: v for k, v in optional.items() if v is not None})
    return d


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


# --------------------------------------------------------------------------------------------------------
# handlers


def _get(self: Any, association_id: str | None) -> Association:
    assoc = _associations.get(association_id or "")
    if assoc is None or assoc.account != self.current_account or assoc.region != self.region:
        raise _error("AssociationDoesNotExist", "The specified association does not exist.")
    return assoc


def _find_legacy(self: Any, name: str | None, instance_id: str | None) -> Association:
    for assoc in _associations.values():
        if (assoc.account, assoc.region) == (self.current_account, self.region) and assoc.name == name and \
                assoc.instance_id == instance_id:
            return assoc
    raise _error("AssociationDoesNotExist", "The specified association does not exist.")


def _validated_fields(self: Any, name: str, current: Association | None = None) -> dict[str, Any]:
    account, region = self.current_account, self.region
    version = self._get_param("DocumentVersion") or (current.document_version if current else "$DEFAULT")
    content = run_command._document(account, region, name, version if version not in ("$DEFAULT", "$LATEST")
                                    else None)
    given = self._get_param("Parameters")
    if given is None:
        given = current.parameters if current else {}
    run_command._parameters(name, content, given)
    schedule_text = self._get_param("ScheduleExpression")
    schedule = (parse_schedule(schedule_text) if schedule_text
                else (current.schedule if current and schedule_text is None else None))
    assoc_name = self._get_param("AssociationName")
    if assoc_name is not None and not _NAME.match(assoc_name):
        raise _error("ValidationException", f"1 validation error detected: Value '{assoc_name}' at 'associationName' "
                                            "failed to satisfy constraint: Member must satisfy regular expression "
                                            "pattern: ^[a-zA-Z0-9_\\-.]{3,128}$")
    for key, pattern in (("MaxConcurrency", run_command._MAX_CONCURRENCY), ("MaxErrors", run_command._MAX_ERRORS)):
        value = self._get_param(key)
        if value is not None and not pattern.match(str(value)):
            raise _error("ValidationException", f"1 validation error detected: Value '{value}' at '{key[0].lower()}"
                                                f"{key[1:]}' failed to satisfy constraint: Member must satisfy regular "
                                                f"expression pattern: {pattern.pattern}")
    severity = self._get_param("ComplianceSeverity")
    if severity is not None and severity not in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED"):
        raise _error("ValidationException", f"Value '{severity}' at 'complianceSeverity' is not valid.")
    sync = self._get_param("SyncCompliance")
    if sync is not None and sync not in ("AUTO", "MANUAL"):
        raise _error("ValidationException", f"Value '{sync}' at 'syncCompliance' is not valid.")
    targets = self._get_param("Targets")
    if targets is not None:
        _check_targets(targets)
    apply_only = self._get_param("ApplyOnlyAtCronInterval")
    if apply_only and not isinstance(schedule, Cron):
        raise _error("InvalidSchedule", "ApplyOnlyAtCronInterval needs a cron schedule expression.")
    extra = {k: self._get_param(k) for k in ("ScheduleOffset", "Duration", "TargetMaps", "CalendarNames",
                                             "TargetLocations", "AlarmConfiguration", "AutomationTargetParameterName",
                                             "AssociationDispatchAssumeRole") if self._get_param(k) is not None}
    return {"version": version, "parameters": {k: v if isinstance(v, list) else [v] for k, v in given.items()},
            "schedule": schedule, "assoc_name": assoc_name, "targets": targets, "apply_only": apply_only,
            "severity": severity, "sync": sync, "extra": extra}


def create_association(self: Any) -> str:
    account, region = self.current_account, self.region
    name = self._get_param("Name") or ""
    instance_id = self._get_param("InstanceId")
    f = _validated_fields(self, name)
    targets = f["targets"]
    if instance_id and targets:
        raise _error("InvalidTarget", "InstanceId and Targets cannot be specified together.")
    if not instance_id and not targets:
        raise _error("InvalidTarget", "Specify Targets (or the legacy InstanceId).")
    if instance_id and REGISTRY.get(account, region, instance_id) is None:
        raise _error("InvalidInstanceId", f"Instance {instance_id} is not a managed node of account {account}.")
    now = clock.now()
    with _lock:
        if instance_id:
            for other in _associations.values():
                if (other.account, other.region, other.name, other.instance_id) == (account, region, name, instance_id):
                    raise _error("AssociationAlreadyExists", "The specified association already exists.")
        assoc = Association(
            association_id=str(uuid.uuid4()), account=account, region=region, name=name,
            document_version=f["version"], parameters=f["parameters"], targets=targets or [],
            instance_id=instance_id, schedule=f["schedule"], association_name=f["assoc_name"],
            max_errors=self._get_param("MaxErrors"), max_concurrency=self._get_param("MaxConcurrency"),
            compliance_severity=f["severity"], sync_compliance=f["sync"], apply_only_at_cron=bool(f["apply_only"]),
            output_location=self._get_param("OutputLocation"), extra=f["extra"], created=now, updated=now)
        assoc.versions["1"] = _describe(assoc)
        _associations[assoc.association_id] = assoc
        _schedule_after_change(assoc, now)
        response = {"AssociationDescription": _describe(assoc)}
    return _dumps(response)


def _schedule_after_change(assoc: Association, now: dt.datetime) -> None:
    if assoc.apply_only_at_cron and assoc.schedule is not None:
        assoc.next_due = assoc.schedule.next_after(now)
    else:
        assoc.next_due = now  # run at once; the scheduler then follows the schedule
    clock.wake()


def describe_association(self: Any) -> str:
    association_id = self._get_param("AssociationId")
    with _lock:
        assoc = _get(self, association_id) if association_id else _find_legacy(
            self, self._get_param("Name"), self._get_param("InstanceId"))
        wanted = self._get_param("AssociationVersion")
        if wanted and wanted != "$LATEST" and wanted != str(assoc.version):
            snapshot = assoc.versions.get(str(wanted))
            if snapshot is None:
                raise _error("InvalidAssociationVersion", f"Association version {wanted} does not exist.")
            return _dumps({"AssociationDescription": snapshot})
        return _dumps({"AssociationDescription": _describe(assoc)})


def _parse_when(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _error("ValidationException", f"The filter value {value} is not a valid date.") from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _page(self: Any, items: list[Any], keys: list[str]) -> tuple[list[Any], str | None]:
    value = self._get_param("MaxResults")
    max_results = 50 if value is None else int(value)
    if not 1 <= max_results <= 50:
        bound = "greater than or equal to 1" if max_results < 1 else "less than or equal to 50"
        raise _error("ValidationException", f"1 validation error detected: Value '{max_results}' at 'maxResults' "
                                            f"failed to satisfy constraint: Member must have value {bound}")
    start = 0
    token = self._get_param("NextToken")
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
            start = keys.index(after) + 1
        except Exception as exc:
            raise _error("InvalidNextToken", "The specified token is not valid.") from exc
    page = items[start : start + max_results]
    nxt = None
    if start + max_results < len(items):
        nxt = base64.urlsafe_b64encode(json.dumps({"after": keys[start + max_results - 1]}).encode()).decode()
    return page, nxt


def list_associations(self: Any) -> str:
    account, region = self.current_account, self.region
    filters = self._get_param("AssociationFilterList") or []
    with _lock:
        rows = [a for a in _associations.values() if (a.account, a.region) == (account, region)]
        for f in filters:
            key, value = f.get("key"), str(f.get("value") or "")
            if key not in FILTER_KEYS:
                raise _error("ValidationException", f"The association filter key {key} is not valid.")
            if key == "InstanceId":
                rows = [a for a in rows if a.instance_id == value or value in _resolve(a)]
            elif key == "Name":
                rows = [a for a in rows if a.name == value]
            elif key == "AssociationId":
                rows = [a for a in rows if a.association_id == value]
            elif key == "AssociationName":
                rows = [a for a in rows if a.association_name == value]
            elif key == "AssociationStatusName":
                rows = [a for a in rows if a.overview.get("Status") == value]
            elif key == "LastExecutedBefore":
                when = _parse_when(value)
                rows = [a for a in rows if a.last_execution is not None and a.last_execution < when]
            elif key == "LastExecutedAfter":
                when = _parse_when(value)
                rows = [a for a in rows if a.last_execution is not None and a.last_execution > when]
            elif key == "ResourceGroupName":
                rows = [a for a in rows if any(t.get("Key") == "resource-groups:Name" and value in (t.get("Values") or [])
                                               for t in a.targets)]
            else:
                rows = []
        rows.sort(key=lambda a: (a.created, a.association_id))
        page, nxt = _page(self, rows, [a.association_id for a in rows])
        body: dict[str, Any] = {"Associations": [_summary(a) for a in page]}
    if nxt:
        body["NextToken"] = nxt
    return _dumps(body)


def update_association(self: Any) -> str:
    with _lock:
        assoc = _get(self, self._get_param("AssociationId"))
        given_version = self._get_param("AssociationVersion")
        if given_version and given_version != "$LATEST" and given_version != str(assoc.version):
            raise _error("InvalidAssociationVersion", f"Association version {given_version} is not the latest "
                                                      f"({assoc.version}).")
        name = self._get_param("Name") or assoc.name
        f = _validated_fields(self, name, assoc)
        now = clock.now()
        assoc.name = name
        assoc.document_version = f["version"]
        assoc.parameters = f["parameters"]
        assoc.schedule = f["schedule"]
        if f["targets"] is not None:
            assoc.targets = f["targets"]
        if f["assoc_name"] is not None:
            assoc.association_name = f["assoc_name"]
        for attr, key in (("max_errors", "MaxErrors"), ("max_concurrency", "MaxConcurrency"),
                          ("output_location", "OutputLocation")):
            if self._get_param(key) is not None:
                setattr(assoc, attr, self._get_param(key))
        if f["severity"] is not None:
            assoc.compliance_severity = f["severity"]
        if f["sync"] is not None:
            assoc.sync_compliance = f["sync"]
        if f["apply_only"] is not None:
            assoc.apply_only_at_cron = bool(f["apply_only"])
        assoc.extra.update(f["extra"])
        assoc.version += 1
        assoc.updated = now
        assoc.versions[str(assoc.version)] = _describe(assoc)
        _schedule_after_change(assoc, now)
        return _dumps({"AssociationDescription": _describe(assoc)})


def delete_association(self: Any) -> str:
    association_id = self._get_param("AssociationId")
    with _lock:
        assoc = _get(self, association_id) if association_id else _find_legacy(
            self, self._get_param("Name"), self._get_param("InstanceId"))
        del _associations[assoc.association_id]
        for key, runs in _node_runs.items():
            if runs.pop(assoc.association_id, None) is not None:
                _apply_node(key)
    return "{}"


def _describe_execution(e: Execution) -> dict[str, Any]:
    d: dict[str, Any] = {"AssociationId": e.association.association_id, "AssociationVersion": e.version,
                         "ExecutionId": e.execution_id, "Status": e.status, "DetailedStatus": e.detailed,
                         "CreatedTime": e.created, "ResourceCountByStatus": e.count_text()}
    if e.last_date is not None:
        d["LastExecutionDate"] = e.last_date
    return d


def describe_association_executions(self: Any) -> str:
    with _lock:
        assoc = _get(self, self._get_param("AssociationId"))
        rows = list(assoc.executions)
        for f in self._get_param("Filters") or []:
            key, value, kind = f.get("Key"), str(f.get("Value") or ""), f.get("Type") or "EQUAL"
            if key == "ExecutionId":
                rows = [e for e in rows if e.execution_id == value]
            elif key == "Status":
                rows = [e for e in rows if e.status == value]
            elif key == "CreatedTime":
                when = _parse_when(value)
                if kind == "LESS_THAN":
                    rows = [e for e in rows if e.created < when]
                elif kind == "GREATER_THAN":
                    rows = [e for e in rows if e.created > when]
                else:
                    rows = [e for e in rows if e.created == when]
            else:
                raise _error("ValidationException", f"The filter key {key} is not valid.")
        page, nxt = _page(self, rows, [e.execution_id for e in rows])
        body: dict[str, Any] = {"AssociationExecutions": [_describe_execution(e) for e in page]}
    if nxt:
        body["NextToken"] = nxt
    return _dumps(body)


def describe_association_execution_targets(self: Any) -> str:
    with _lock:
        assoc = _get(self, self._get_param("AssociationId"))
        execution_id = self._get_param("ExecutionId")
        execution = next((e for e in assoc.executions if e.execution_id == execution_id), None)
        if execution is None:
            raise _error("AssociationExecutionDoesNotExist", f"Execution {execution_id} does not exist.")
        rows = list(execution.targets.values())
        for f in self._get_param("Filters") or []:
            key, value = f.get("Key"), str(f.get("Value") or "")
            if key == "Status":
                rows = [t for t in rows if t.status == value]
            elif key == "ResourceId":
                rows = [t for t in rows if t.resource_id == value]
            elif key == "ResourceType":
                rows = rows if value == "ManagedInstance" else []
            else:
                raise _error("ValidationException", f"The filter key {key} is not valid.")
        page, nxt = _page(self, rows, [t.resource_id for t in rows])
        out = []
        for t in page:
            d: dict[str, Any] = {"AssociationId": assoc.association_id, "AssociationVersion": execution.version,
                                 "ExecutionId": execution.execution_id, "ResourceId": t.resource_id,
                                 "ResourceType": "ManagedInstance", "Status": t.status, "DetailedStatus": t.detailed}
            if t.date is not None:
                d["LastExecutionDate"] = t.date
            if t.command_id:
                d["OutputSource"] = {"OutputSourceId": t.command_id, "OutputSourceType": "RunCommand"}
            out.append(d)
        body: dict[str, Any] = {"AssociationExecutionTargets": out}
    if nxt:
        body["NextToken"] = nxt
    return _dumps(body)
