"""From what the form holds to a run: the request, the plan of who it reaches, the blast radius confirmation
and SendCommand. Used by the form (ctrl+s) and by the run panel (R: the same request on the failed nodes).

Nothing is sent before the confirmation (:class:`~opstui.views.runcommand.confirm.ConfirmRunScreen`, a typed
count when the radius needs one), and nothing at all in read-only mode. Whatever goes wrong is said in the
form's problems line, so nothing typed is lost.
"""

from __future__ import annotations

from opstui.aws import resource_groups
from opstui.aws.errors import OpsError
from opstui.aws.models import CommandRequest, FleetNode
from opstui.runs.launch import DEFAULT_DELIVERY_TIMEOUT, send_plan
from opstui.runs.targets import Plan, TargetError, parse_target, plan_for, plan_for_nodes
from opstui.runs.tracker import RunTracker
from opstui.safe import clean
from opstui.views.common.context import AppContext
from opstui.views.common.tab import Panel
from opstui.views.runcommand.active import ActiveRun, one_line_title
from opstui.views.runcommand.confirm import ConfirmRunScreen, RunConfirmation
from opstui.views.runcommand.fields import FormValues, RunForm


def build_request(values: FormValues) -> tuple[CommandRequest, list[str]]:
    """The request the form describes, and what is wrong with its timeout (the rest is checked by
    ``request_problems`` against the document)."""
    problems: list[str] = []
    timeout: int | None = None
    if values.timeout:
        try:
            timeout = int(values.timeout)
        except ValueError:
            problems.append(f"delivery timeout {values.timeout!r}: a number of seconds (30..2592000)")
    bucket, _, prefix = values.s3.partition("/")
    request = CommandRequest(
        document=values.document, parameters=values.parameters, max_concurrency=values.max_concurrency,
        max_errors=values.max_errors, timeout_seconds=timeout, comment=values.comment,
        cloudwatch_output=values.cloudwatch, s3_bucket=bucket.strip(), s3_prefix=prefix.strip("/ "),
    )
    return request, problems


async def resolve_plan(ctx: AppContext, values: FormValues, fleet_nodes: list[FleetNode]) -> Plan:
    """Resolve the form's target (resource groups through ListGroupResources). Raises TargetError."""
    if values.target_mode == "fleet":
        if not fleet_nodes:
            parse_target("")  # raises the "no targets" message
        return plan_for_nodes(fleet_nodes)
    spec = parse_target(values.target_text)
    snapshot = ctx.fleet.snapshot
    if snapshot is None:
        raise TargetError("the fleet is still loading: try again in a moment")
    members = None
    if spec.kind == "group":
        members = {}
        for region in ctx.regions:
            try:
                members[region] = await ctx.run(resource_groups.list_group_instances(ctx.aws, region, spec.key))
            except OpsError as err:
                if err.kind != "not-found":  # not-found: no such group in this region
                    raise TargetError(f"resource group {spec.key!r} in {region}: {err}") from None
    return plan_for(spec, snapshot, members)


def confirmation_for(plan: Plan, request: CommandRequest) -> RunConfirmation:
    options = [f"max concurrency {request.max_concurrency}", f"max errors {request.max_errors}",
               "CloudWatch Logs on" if request.cloudwatch_output else "CloudWatch Logs off"]
    options.append(f"delivery timeout {request.timeout_seconds or DEFAULT_DELIVERY_TIMEOUT} s")
    if request.s3_bucket:
        options.append(f"S3 {request.s3_bucket}/{request.s3_prefix}".rstrip("/"))
    if request.comment:
        options.append(f"comment: {clean(request.comment, 100)}")
    preview = "\n".join(request.parameters.get("commands", ())) or one_line_title(request)
    return RunConfirmation(f"Run {request.document}", preview, plan.radius, " · ".join(options))


async def confirm_and_send(panel: Panel, form: RunForm, plan: Plan, request: CommandRequest) -> ActiveRun | None:
    """Blast radius first; sent only when confirmed. The run to follow, or None (declined, refused, or not
    sent: then the form says why and comes to the front)."""
    if panel.refused("sending commands"):
        return None
    ctx, app = panel.ctx, panel.app
    if not await app.push_screen_wait(ConfirmRunScreen(confirmation_for(plan, request))):
        return None
    try:
        result = await ctx.run(send_plan(ctx.aws, plan, request))
    except OpsError as err:
        panel.tab.show_panel("form")
        form.show_problems([f"not sent: {err}"])
        app.notify(f"Not sent: {clean(err, 300)}", severity="error", markup=False)
        return None
    for failure in result.errors:
        app.notify(f"Not sent to {failure.region or 'a region'}: {clean(failure, 300)}", severity="error",
                   markup=False, timeout=15)
    if not result.commands:
        form.show_problems(["not sent: " + "; ".join(str(e) for e in result.errors)])
        return None
    names = plan.radius.name_of
    tracker = RunTracker(ctx.aws, list(result.commands), names=names)
    return ActiveRun(tracker, request, one_line_title(request))
