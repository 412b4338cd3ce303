"""`opstui run`: Run Command for scripts and SSH sessions, with the tab's targeting and confirmation rules.

    opstui run --targets tag:Role=web [--document AWS-RunShellScript] [--max-concurrency 10%]
               [--max-errors 1] [--yes] [--json] -- 'uptime'

Live progress goes to stderr, the grouped output (or `--json`) to stdout. Exit status: 0 when every node
succeeded, 1 when any node failed (or timed out, or was undeliverable), 2 for bad usage or a refused
confirmation, 3 when AWS refused the request (read-only mode, credentials, unknown document ...), 130 on
ctrl+c (the command is cancelled, then every output that finished is printed). While it waits, the progress
line names the nodes still being waited on and why ("Delayed: prod-web-03 (ConnectionLost)"). Output
written to a terminal has its control characters made visible; written to a pipe or file, it is
byte-for-byte what the nodes printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import time
from dataclasses import replace
from typing import TextIO

from opstui.aws import resource_groups, ssm
from opstui.aws.clients import AwsClients, is_read_operation
from opstui.aws.errors import OpsError
from opstui.aws.fleet import load_fleet
from opstui.aws.models import CommandRequest
from opstui.cli import check_regions
from opstui.config import ConfigError, load_file, settings_from
from opstui.interrupt import Interrupt
from opstui.runs.launch import DEFAULT_DELIVERY_TIMEOUT, request_problems, send_plan
from opstui.runs.targets import TYPED_CONFIRM_OVER, Plan, TargetError, parse_target, plan_for
from opstui.runs.tracker import RunTracker, render_groups_text
from opstui.runs.waiting import waiting_on
from opstui.safe import clean, clean_block

EXIT_OK, EXIT_NODES_FAILED, EXIT_USAGE, EXIT_AWS = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
POLL_SECONDS = 1.0
DRAIN_SECONDS = 15.0  # after ctrl+c and CancelCommand: how long to keep reading the outputs that finished


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="opstui run",
        description="Run a command on managed nodes (SSM Run Command) and print the grouped output.",
        epilog="targets: i-…,mi-… ids | Name tags | tag:KEY=V1,V2 | tag-key:KEY | resource-groups:NAME",
    )
    p.add_argument("--targets", "-t", required=True, help="which nodes (see below)")
    p.add_argument("--document", "-d", default="AWS-RunShellScript",
                   help="SSM document to run (default AWS-RunShellScript; AWS-RunPowerShellScript for Windows)")
    p.add_argument("--parameters", help='other document parameters as JSON, e.g. \'{"executionTimeout":["60"]}\'')
    p.add_argument("--max-concurrency", default="50", help="nodes at a time: a number or a percentage (50)")
    p.add_argument("--max-errors", default="0", help="stop after this many errors: number or percentage (0)")
    p.add_argument("--timeout", type=int, default=DEFAULT_DELIVERY_TIMEOUT,
                   help=f"delivery timeout in seconds (30..2592000; default {DEFAULT_DELIVERY_TIMEOUT}, as in the "
                        "tab): a node that has not received the command by then ends DeliveryTimedOut")
    p.add_argument("--execution-timeout", type=int, help="seconds a node may run the command (executionTimeout)")
    p.add_argument("--comment", default="", help="why you run it, up to 100 characters (shown in the history)")
    p.add_argument("--no-cloudwatch", action="store_true", help="don't stream output through CloudWatch Logs")
    p.add_argument("--log-group", default="", help="CloudWatch Logs group (default /aws/ssm/<document>)")
    p.add_argument("--s3-bucket", default="", help="also keep full output in this bucket")
    p.add_argument("--s3-prefix", default="", help="key prefix for --s3-bucket")
    p.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")
    p.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    p.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    p.add_argument("--region", action="append", dest="regions", metavar="R", help="region(s); repeat for several")
    p.add_argument("--endpoint-url", help="send every AWS call to this endpoint (e.g. the sandbox)")
    p.add_argument("--read-only", action="store_true", default=None,
                   help="refuse every mutating call: SendCommand is one, so nothing is sent (exit 3)")
    p.add_argument("command", nargs="*", help="the command (after --); '-' reads the script from stdin")
    return p


class Refused(Exception):
    """Stop before sending: usage problems, nothing matched, the confirmation was not given."""


def build_request(args: argparse.Namespace) -> CommandRequest:
    parameters: dict[str, list[str]] = {}
    if args.parameters:
        try:
            raw = json.loads(args.parameters)
        except ValueError as exc:
            raise Refused(f"--parameters is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise Refused('--parameters must be a JSON object, e.g. {"workingDirectory": ["/tmp"]}')
        parameters = {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in raw.items()}
    script = " ".join(args.command)
    if script == "-":  # bytes that are not UTF-8 are kept (as surrogates) for request_problems to point at
        script = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    if script.strip() or args.document in ("AWS-RunShellScript", "AWS-RunPowerShellScript"):
        parameters["commands"] = script.splitlines() or [script]
    if args.execution_timeout:
        parameters["executionTimeout"] = [str(args.execution_timeout)]
    return CommandRequest(
        document=args.document, parameters=parameters, max_concurrency=args.max_concurrency,
        max_errors=args.max_errors, timeout_seconds=args.timeout, comment=args.comment,
        cloudwatch_output=not args.no_cloudwatch, cloudwatch_group=args.log_group,
        s3_bucket=args.s3_bucket, s3_prefix=args.s3_prefix,
    )


async def make_plan(aws: AwsClients, regions: tuple[str, ...], target: str, err: TextIO) -> Plan:
    try:
        spec = parse_target(target)
    except TargetError as exc:
        raise Refused(str(exc)) from None
    fleet = await load_fleet(aws, regions)
    for failed in fleet.errors:
        print(f"opstui run: warning: {clean(str(failed.error), 300)}", file=err)
    if len(fleet.errors) == len(fleet.regions):
        raise OpsError(f"could not list the managed nodes of {', '.join(regions)}", kind="unreachable")
    members: dict[str, list[str]] | None = None
    if spec.kind == "group":
        members = {}
        for region in regions:
            try:
                members[region] = await resource_groups.list_group_instances(aws, region, spec.key)
            except OpsError as exc:
                if exc.kind not in ("not-found",) and "NotFound" not in exc.code:
                    raise
    try:
        return plan_for(spec, fleet, members)
    except TargetError as exc:
        raise Refused(str(exc)) from None


def confirm(plan: Plan, document: str, err: TextIO, assume_yes: bool) -> None:
    radius = plan.radius
    print(f"opstui run: {document} on:", file=err)
    for line in radius.summary():
        print("  " + clean(line, 2000), file=err)
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise Refused("not confirmed: stdin is not a terminal; pass --yes to run without asking")
    if radius.needs_typed_confirmation:
        why = "prod nodes" if radius.prod else f"more than {TYPED_CONFIRM_OVER} nodes"
        prompt = f"This targets {why}. Type {radius.confirmation_word} to run: "
        expected = radius.confirmation_word
    else:
        prompt, expected = "Run? [y/N] ", "y"
    print(prompt, end="", file=err, flush=True)
    answer = _read_answer().strip().lower()
    if answer != expected.lower() and not (expected == "y" and answer == "yes"):
        raise Refused("not confirmed; nothing was sent")


def _read_answer() -> str:
    """The confirmation answer. ctrl+c here must stop at once: asyncio's own SIGINT handler only cancels
    the task, which a blocking readline would not notice until Enter."""
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread
        return sys.stdin.readline()
    try:
        return sys.stdin.readline()
    finally:
        signal.signal(signal.SIGINT, previous)


def progress_line(tracker: RunTracker) -> str:
    p = tracker.progress()
    counts = " ".join(f"{o}:{c}" for o, c in p.by_outcome)
    return f"{p.done}/{p.total} done  {counts}  {p.elapsed:.0f}s"


async def follow(tracker: RunTracker, err: TextIO, agent_status: dict[str, str] | None = None,
                 stop: Interrupt | None = None) -> None:
    """Poll to the end (or to ctrl+c), keeping one progress line on stderr that names the nodes still waited on."""
    tty = err.isatty()
    last, last_print = "", 0.0
    while stop is None or not stop.fired.is_set():
        update = await tracker.poll()
        for problem in update.errors:
            print(f"\nopstui run: {clean(problem, 400)} (still trying)", file=err)
        line = progress_line(tracker)
        waiting = "" if update.finished else waiting_on(tracker.states(), agent_status)
        if waiting:
            line += "  waiting on " + clean(waiting, 1000)
        now = time.monotonic()
        if tty:
            width = shutil.get_terminal_size().columns
            shown = line if len(line) < width else line[:max(width - 2, 10)] + "…"
            print(f"\r\x1b[2K{shown}", end="", file=err, flush=True)
        elif line != last and (now - last_print >= 5 or update.finished):
            print(line, file=err, flush=True)
            last_print = now
        last = line
        if update.finished:
            if tty:
                print(file=err)
            return
        if stop is None:
            await asyncio.sleep(POLL_SECONDS)
        else:
            await stop.pause(POLL_SECONDS)


async def run(args: argparse.Namespace, aws: AwsClients, regions: tuple[str, ...], out: TextIO, err: TextIO) -> int:
    request = build_request(args)
    doc = await ssm.describe_document(aws, regions[0], request.document)
    problems = request_problems(request, doc)
    if problems:
        raise Refused("; ".join(problems))
    plan = await make_plan(aws, regions, args.targets, err)
    try:
        plan = plan.for_platforms(doc.platform_types)
    except TargetError as exc:
        raise Refused(str(exc)) from None
    confirm(plan, request.document, err, args.yes)
    sent = await send_plan(aws, plan, request)
    for failed in sent.errors:
        print(f"opstui run: {clean(str(failed), 400)}", file=err)
    if not sent.commands:
        raise OpsError("no command was sent", kind="error")
    ids = ", ".join(f"{c.region} {c.command_id}" for c in sent.commands)
    print(f"opstui run: sent {ids}", file=err)
    names = plan.radius.name_of
    agent_status = {n.instance_id: n.ping_status for n in plan.radius.nodes}
    tracker = RunTracker(aws, list(sent.commands), names)
    with Interrupt.installed() as stop:
        with stop.absorbed():  # ctrl+c cancels the main task (see opstui.interrupt)
            await follow(tracker, err, agent_status, stop)
        if stop.fired.is_set():
            stop.settle()
            await interrupted(tracker, err)
            write_result(tracker, args, out, err)
            return EXIT_INTERRUPTED
    write_result(tracker, args, out, err)
    failed = tracker.failed_keys() or sent.errors
    return EXIT_NODES_FAILED if failed else EXIT_OK


async def interrupted(tracker: RunTracker, err: TextIO) -> None:
    """ctrl+c: CancelCommand, then keep polling (at most DRAIN_SECONDS) so that every output that finished
    before, and what the cancelled nodes printed, is read before exiting. A second ctrl+c stops at once."""
    print("\nopstui run: interrupted; cancelling the command…", file=err, flush=True)
    try:
        cancelled = await tracker.cancel()
        if cancelled:
            print(f"opstui run: cancelled {', '.join(cancelled)}", file=err, flush=True)
    except OpsError as exc:
        print(f"opstui run: cancel failed: {clean(str(exc), 300)}", file=err, flush=True)
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        try:
            update = await tracker.poll()
        except OpsError as exc:
            print(f"opstui run: {clean(str(exc), 300)}", file=err, flush=True)
            break
        if update.finished:
            break
        await asyncio.sleep(POLL_SECONDS / 2)


def write_result(tracker: RunTracker, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """The grouped output (or JSON) of every node that finished, then the closing progress line."""
    # json.dumps escapes C0 controls but not C1 (U+009B is a CSI to some terminals) nor bidi overrides
    text = tracker.export_json() + "\n" if args.json else render_groups_text(tracker.groups())
    out.write(clean_block(text) if out.isatty() else text)
    out.flush()
    print(progress_line(tracker) + f"  ({tracker.api_calls()} API calls)", file=err, flush=True)


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if "--" in argv:  # everything after -- is the command, even if it looks like an option
        i = argv.index("--")
        head, tail = argv[:i], argv[i + 1:]
    else:
        head, tail = argv, []
    args = build_parser().parse_args(head)
    args.command = list(args.command) + tail
    try:
        settings = settings_from(load_file(), {"profile": args.profile, "regions": args.regions,
                                              "endpoint_url": args.endpoint_url, "read_only": args.read_only})
    except ConfigError as exc:
        print(f"opstui run: {exc}", file=err)
        return EXIT_USAGE
    if not settings.regions:
        from opstui.cli import default_region

        region = default_region()
        if not region:
            print("opstui run: no region: pass --region or set AWS_REGION", file=err)
            return EXIT_USAGE
        settings = replace(settings, regions=(region,))
    try:
        check_regions(settings.regions)
    except ConfigError as exc:
        print(f"opstui run: {exc}", file=err)
        return EXIT_USAGE
    if settings.read_only and not is_read_operation("SendCommand"):
        print("opstui run: read-only mode: SendCommand was not sent (restart without --read-only to run "
              "commands)", file=err)
        return EXIT_AWS

    async def go() -> int:
        aws = AwsClients(profile=settings.profile, endpoint_url=settings.endpoint_url,
                         read_only=settings.read_only)
        try:
            return await run(args, aws, settings.regions, out, err)
        finally:
            await aws.close()

    try:
        return asyncio.run(go())
    except Refused as exc:
        print(f"opstui run: {clean(str(exc), 2000)}", file=err)
        return EXIT_USAGE
    except OpsError as exc:
        print(f"opstui run: {clean(str(exc), 2000)}", file=err)
        return EXIT_AWS
    except KeyboardInterrupt:  # before anything was sent (the confirmation), or a second ctrl+c
        return EXIT_INTERRUPTED

