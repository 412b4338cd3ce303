"""`opstui logs`: CloudWatch Logs for scripts and SSH sessions, with the Logs tab's reading rules.

    opstui logs tail GROUP... [--node NAME|ID] [--filter PATTERN] [--since 10m] [--follow] [--json FIELDS]
    opstui logs query GROUP... 'QUERY' [--since 1h] [--json]

``tail`` prints the events of every group (every region given), merged by time, one line each:
``TIME SOURCE MESSAGE``; ``--node`` narrows each group to the node's streams (the agent names a stream after
the instance), ``--filter`` is AWS's filter pattern (applied by the service: ``ERROR``, ``{ $.level =
"ERROR" }``), ``--json level,msg`` prints those fields of JSON events instead of the whole message, and
``--follow`` keeps printing until ctrl+c: through Live Tail (StartLiveTail) where the endpoint has it, else by
polling (one FilterLogEvents per group per poll, as the tab), saying why on stderr.
``query`` runs a Logs Insights query and prints its results as a table (``--json``: one JSON object a row).

On a terminal the output has colours (time, source, and the events' own SGR colours) and every other
control character of an event is made visible; to a pipe or a file the messages are byte-for-byte what was
logged and nothing is added. Exit status: 0, 2 for bad usage, 3 when AWS refused (read-only mode,
credentials, a group that does not exist anywhere), 130 on ctrl+c. Same credentials and read-only rules as
the TUI: in read-only mode ``query`` is refused (StartQuery is not a read by the guard's rule).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TextIO

from opstui.aws import logs as lg
from opstui.aws.clients import AwsClients, is_read_operation
from opstui.aws.errors import OpsError
from opstui.config import ConfigError, Settings, load_file, settings_from
from opstui.interrupt import Interrupt
from opstui.safe import clean, clean_block, json_text

EXIT_OK, EXIT_USAGE, EXIT_AWS, EXIT_INTERRUPTED = 0, 2, 3, 130
POLL_SECONDS = 2.0
LIVE_WAIT_SECONDS = 1.5  # a Live Tail update comes every second
_SINCE = re.compile(r"^(\d+)\s*([smhdw])$")
_SGR = re.compile(r"(\x1b\[[0-9;]*m)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SOURCE_COLOURS = (36, 35, 32, 33, 34, 96, 95, 92)


class Usage(Exception):
    """Bad arguments: a message and exit 2, nothing sent."""


def parse_since(text: str) -> int:
    """`10m`, `2h`, `1d`, `30s`, `1w` -> seconds."""
    m = _SINCE.match(text.strip().lower())
    if not m or int(m.group(1)) <= 0:
        raise Usage(f"--since {text!r}: a number and a unit, e.g. 30s, 10m, 2h, 1d")
    return int(m.group(1)) * _UNITS[m.group(2)]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opstui logs", description="CloudWatch Logs: tail (and follow) groups, or "
                                "run a Logs Insights query.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile")
    common.add_argument("--region", action="append", dest="regions", metavar="R", help="region(s); repeat for several")
    common.add_argument("--endpoint-url")
    common.add_argument("--read-only", action="store_true", default=None)
    sub = p.add_subparsers(dest="command", required=True)
    tail = sub.add_parser("tail", parents=[common], help="print (and follow) the events of log groups, merged by time")
    tail.add_argument("groups", nargs="+", metavar="GROUP")
    tail.add_argument("--node", help="only this node's streams (instance id, or its Name tag)")
    tail.add_argument("--filter", default="", help="AWS filter pattern, e.g. ERROR or '{ $.level = \"ERROR\" }'")
    tail.add_argument("--since", default="10m", help="how far back to start (30s, 10m, 2h, 1d; default 10m)")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new events until ctrl+c")
    tail.add_argument("--json", dest="fields", default="", metavar="FIELDS",
                      help="print these comma-separated fields of JSON events (e.g. level,msg)")
    query = sub.add_parser("query", parents=[common], help="run a Logs Insights query over groups")
    query.add_argument("args", nargs="+", metavar="GROUP... QUERY", help="the groups, then the query (quoted)")
    query.add_argument("--since", default="1h", help="time range back from now (default 1h)")
    query.add_argument("--json", action="store_true", help="one JSON object per result row")
    return p


# -- output ---------------------------------------------------------------------------------------------------


def tty_message(message: str) -> str:
    """For a terminal: SGR colour sequences kept, every other control character visible, colours reset after."""
    parts = _SGR.split(message)
    out = [p if i % 2 else clean_block(p) for i, p in enumerate(parts)]
    return "".join(out) + ("\x1b[0m" if len(parts) > 1 else "")


def json_fields(message: str, fields: list[str]) -> str | None:
    """The chosen fields of a JSON event as `field=value` pairs (None when it is not a JSON object)."""
    try:
        obj = json.loads(message)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    pairs = []
    for name in fields:
        value: object = obj
        for part in name.removeprefix("$.").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        pairs.append(f"{name}={value if isinstance(value, str) else json_text(value)}")
    return " ".join(pairs)


class Printer:
    def __init__(self, out: TextIO, fields: list[str], multi_group: bool) -> None:
        self.out = out
        self.tty = out.isatty()
        self.fields = fields
        self.multi_group = multi_group
        self._colours: dict[str, int] = {}

    def source(self, e: lg.LogEvent) -> str:
        if not self.multi_group:
            return e.stream
        return f"{e.group.rstrip('/').rsplit('/', 1)[-1] or e.group}:{e.stream}"

    def line(self, e: lg.LogEvent) -> str:
        when = datetime.fromtimestamp(e.timestamp / 1000, UTC)
        stamp = f"{when:%Y-%m-%dT%H:%M:%S}.{e.timestamp % 1000:03d}Z"
        message = e.message.rstrip("\n")
        if self.fields:
            message = json_fields(message, self.fields) or message
        source = self.source(e)
        if not self.tty:
            return f"{stamp} {source} {message}"
        colour = self._colours.setdefault(source, _SOURCE_COLOURS[len(self._colours) % len(_SOURCE_COLOURS)])
        return f"\x1b[2m{stamp}\x1b[0m \x1b[{colour}m{clean(source, 80)}\x1b[0m {tty_message(message)}"

    def print(self, events: list[lg.LogEvent]) -> None:
        for e in events:
            self.out.write(self.line(e) + "\n")
        self.out.flush()


# -- commands ---------------------------------------------------------------------------------------------------


async def resolve_node(aws: AwsClients, regions: tuple[str, ...], node: str) -> str:
    """An instance id as is; a Name tag through the fleet (exactly one node must have it)."""
    if re.match(r"^(i|mi)-[0-9a-f]{8,17}$", node):
        return node
    from opstui.aws.fleet import load_fleet

    fleet = await load_fleet(aws, regions)
    found = sorted({n.instance_id for n in fleet.nodes if n.name == node})
    if not found:
        raise Usage(f"--node {node!r}: no managed node has this Name tag in {', '.join(regions)}")
    if len(found) > 1:
        raise Usage(f"--node {node!r}: {len(found)} nodes have this Name ({', '.join(found)}); give the instance id")
    return found[0]


async def tail(args: argparse.Namespace, aws: AwsClients, regions: tuple[str, ...], out: TextIO, err: TextIO) -> int:
    since = parse_since(args.since)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    prefix = await resolve_node(aws, regions, args.node) if args.node else ""
    targets = [lg.FollowTarget(r, g, stream_prefix=prefix) for r in regions for g in args.groups]
    start_ms = int((time.time() - since) * 1000)
    # --follow: Live Tail where the endpoint has it (polling FilterLogEvents where it is refused); a one-shot
    # read is one FilterLogEvents pass
    follower: lg.LiveTailFollower | lg.LogFollower = (
        lg.LiveTailFollower(targets, pattern=args.filter, start_ms=start_ms) if args.follow
        else lg.LogFollower(targets, pattern=args.filter, start_ms=start_ms))
    printer = Printer(out, fields, len(args.groups) > 1)
    with Interrupt.installed() as stop:
        try:
            with stop.absorbed():  # ctrl+c cancels the main task (see opstui.interrupt)
                return await _tail_loop(args, aws, follower, targets, printer, err, stop)
            return EXIT_INTERRUPTED
        finally:
            if isinstance(follower, lg.LiveTailFollower):
                await follower.close()  # ends the Live Tail session (billed by the minute) before exiting


async def _tail_loop(args: argparse.Namespace, aws: AwsClients, follower: lg.LiveTailFollower | lg.LogFollower,
                     targets: list[lg.FollowTarget], printer: Printer, err: TextIO, stop: Interrupt) -> int:
    """Read and print until done (one pass without --follow); ctrl+c ends a follow with exit 130, after what
    was read is printed (``stop.fired`` is checked every round, whether the cancellation arrived or not)."""
    warned: set[lg.FollowTarget] = set()
    while not stop.fired.is_set():
        live = isinstance(follower, lg.LiveTailFollower) and follower.mode == "live tail"
        update = await (follower.poll(aws, wait=LIVE_WAIT_SECONDS) if live else follower.poll(aws))
        printer.print(update.events)
        if isinstance(follower, lg.LiveTailFollower) and follower.reason and follower.polls == 1:
            print(f"opstui logs: {clean(follower.reason, 400)}; polling every {POLL_SECONDS:.0f} s", file=err,
                  flush=True)
        failed = set(update.errors)
        for target, problem in update.errors.items():
            if target not in warned:
                print(f"opstui logs: {clean(target.group, 200)} in {target.region}: {clean(str(problem), 400)}",
                      file=err, flush=True)
                warned.add(target)
        if failed and len(failed) == len(targets) and follower.polls == 1:
            return EXIT_AWS  # nothing can be read anywhere: say so instead of waiting forever
        if not args.follow:
            return EXIT_OK
        if not (isinstance(follower, lg.LiveTailFollower) and follower.mode == "live tail"):
            await stop.pause(POLL_SECONDS)
    return EXIT_INTERRUPTED


async def query(args: argparse.Namespace, aws: AwsClients, regions: tuple[str, ...], out: TextIO,
                err: TextIO) -> int:
    if len(args.args) < 2:
        raise Usage("give at least one GROUP and then the QUERY, e.g. opstui logs query /app 'fields @message'")
    *groups, text = args.args
    since = parse_since(args.since)
    end = int(time.time())
    results = await lg.run_query(aws, regions[0], groups, text, end - since, end + 1)
    if results.status != "Complete":
        print(f"opstui logs: the query ended {results.status}", file=err)
    fields = results.fields
    if args.json:
        for row in results.rows:
            out.write(json_text({k: v for k, v in row if k != "@ptr"}) + "\n")
    else:
        rows = [[next((v for k, v in row if k == f), "") for f in fields] for row in results.rows]
        if out.isatty():
            rows = [[clean(c, 2000) for c in r] for r in rows]
            widths = [min(max([len(f)] + [len(r[i]) for r in rows]), 80) for i, f in enumerate(fields)]
            out.write("  ".join(f.ljust(w) for f, w in zip(fields, widths, strict=True)).rstrip() + "\n")
            for r in rows:
                out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
        else:
            out.write("\t".join(fields) + "\n")
            for r in rows:
                out.write("\t".join(r) + "\n")
    out.flush()
    stats = results.statistics
    print(f"opstui logs: {len(results.rows)} rows, {stats.records_matched:.0f} matched of "
          f"{stats.records_scanned:.0f} scanned", file=err)
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from(load_file(), {"profile": args.profile, "regions": args.regions,
                                          "endpoint_url": args.endpoint_url, "read_only": args.read_only})
    if not settings.regions:
        from opstui.cli import default_region

        region = default_region()
        if not region:
            raise Usage("no region: pass --region or set AWS_REGION")
        settings = replace(settings, regions=(region,))
    return settings


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except (ConfigError, Usage) as exc:
        print(f"opstui logs: {exc}", file=err)
        return EXIT_USAGE
    if args.command == "query" and settings.read_only and not is_read_operation("StartQuery"):
        print("opstui logs: read-only mode: logs:StartQuery was not sent (the read-only guard lets only "
              "Describe/List/Get/Filter… calls through; restart without --read-only to query)", file=err)
        return EXIT_AWS

    async def go() -> int:
        aws = AwsClients(profile=settings.profile, endpoint_url=settings.endpoint_url, read_only=settings.read_only)
        try:
            if args.command == "tail":
                return await tail(args, aws, settings.regions, out, err)
            return await query(args, aws, settings.regions, out, err)
        finally:
            await aws.close()

    try:
        return asyncio.run(go())
    except Usage as exc:
        print(f"opstui logs: {clean(str(exc), 2000)}", file=err)
        return EXIT_USAGE
    except OpsError as exc:
        print(f"opstui logs: {clean(str(exc), 2000)}", file=err)
        return EXIT_AWS
    except KeyboardInterrupt:  # a second ctrl+c, or one before the follow began
        return EXIT_INTERRUPTED
