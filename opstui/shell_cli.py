"""`opstui shell TARGET`: a drop-in for `aws ssm start-session --target` that needs no plugin.

TARGET is an instance id (i-… / mi-…), a Name tag, or `tag:Key=Value`; it must match exactly one managed
node in the given regions, otherwise the candidates are listed. The local terminal goes into raw mode, input
is forwarded as typed, SIGWINCH sends the new size, and the terminal is restored on every way out. The exit
status is the remote shell's when the agent reports one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import termios
import tty
from dataclasses import replace

from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.fleet import NOT_MANAGED, load_fleet
from opstui.aws.models import FleetNode
from opstui.cli import check_regions
from opstui.config import ConfigError, load_file, settings_from
from opstui.safe import clean
from opstui.session.channel import SessionError
from opstui.session.shell import open_shell

EXIT_USAGE = 2
EXIT_REFUSED = 3  # read-only mode (like `opstui run`)
EXIT_FAILED = 255  # like ssh: the connection, not the remote command, failed


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="opstui shell",
        description="Open a Session Manager shell on one node (no session-manager-plugin needed).",
    )
    p.add_argument("target", help="instance id (i-…, mi-…), Name tag, or tag:Key=Value")
    p.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    p.add_argument("--region", action="append", dest="regions", metavar="R", help="region(s) to look in")
    p.add_argument("--endpoint-url", help="send every AWS call to this endpoint (e.g. the sandbox)")
    p.add_argument("--document", help="session document, e.g. AWS-StartInteractiveCommand")
    p.add_argument("--parameters", help='document parameters as JSON, e.g. \'{"command":["top"]}\'')
    p.add_argument("--reason", help="why you open this session, up to 256 characters (StartSession Reason: "
                                    "kept in the session's history and its EventBridge event)")
    p.add_argument("--read-only", action="store_true", default=None,
                   help="refuse every mutating call; a shell (StartSession) is one, so nothing is opened")
    return p


def matches(node: FleetNode, target: str) -> bool:
    if target.startswith("tag:"):
        key, _, value = target[4:].partition("=")
        return node.tag(key) == value if value else node.tag(key) is not None
    return target in (node.instance_id, node.name)


async def resolve(aws: AwsClients, regions: tuple[str, ...], target: str) -> FleetNode:
    """The one managed node `target` names; OpsError listing candidates otherwise."""
    snapshot = await load_fleet(aws, regions)
    found = [n for n in snapshot.nodes if n.ping_status != NOT_MANAGED and matches(n, target)]
    if len(found) == 1:
        return found[0]
    failing = "; ".join(clean(str(r.error), 200) for r in snapshot.errors)
    if not found:
        hint = f" ({failing})" if failing else ""
        raise OpsError(f"no managed node matches {clean(target, 100)!r} in {', '.join(regions)}{hint}",
                       kind="not-found", hint="use an instance id, a Name tag or tag:Key=Value")
    lines = "\n".join(
        f"  {clean(n.instance_id, 40):20} {clean(n.region, 20):16} {clean(n.ping_status, 16):16} {clean(n.name, 60)}"
        for n in found[:50]
    )
    more = f"\n  … and {len(found) - 50} more" if len(found) > 50 else ""
    raise OpsError(f"{len(found)} nodes match {clean(target, 100)!r}; pick one:\n{lines}{more}", kind="invalid")


def terminal_size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
        return size.columns, size.lines
    except OSError:
        return 80, 24


async def run_shell(aws: AwsClients, regions: tuple[str, ...], args: argparse.Namespace) -> int:
    node = await resolve(aws, regions, args.target)
    parameters = json.loads(args.parameters) if args.parameters else None
    loop = asyncio.get_running_loop()
    stdin_fd = sys.stdin.fileno()
    out = sys.stdout.buffer
    is_tty = os.isatty(stdin_fd)
    saved = termios.tcgetattr(stdin_fd) if is_tty else None
    try:
        async with open_shell(aws, node.region, node.instance_id, document=args.document, parameters=parameters,
                              size=terminal_size()) as shell:
            if saved is not None:
                tty.setraw(stdin_fd)
            sends: list[asyncio.Task[None]] = []
            stdin_open = True

            def on_input() -> None:
                nonlocal stdin_open
                try:
                    data = os.read(stdin_fd, 1024)
                except OSError:
                    data = b""
                if not data:
                    stdin_open = False
                    loop.remove_reader(stdin_fd)
                    return
                sends.append(loop.create_task(shell.send(data)))
                sends[:] = [t for t in sends if not t.done()]

            loop.add_reader(stdin_fd, on_input)
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGWINCH, lambda: shell.resize(*terminal_size()))
            try:
                async for chunk in shell:
                    out.write(chunk)
                    out.flush()
            finally:
                if stdin_open:
                    loop.remove_reader(stdin_fd)
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(signal.SIGWINCH)
            if shell.error is not None:
                raise shell.error
            return shell.exit_code if shell.exit_code is not None else 0
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.parameters:
            json.loads(args.parameters)
        settings = settings_from(load_file(), {"profile": args.profile, "regions": args.regions,
                                              "endpoint_url": args.endpoint_url, "read_only": args.read_only})
    except (ConfigError, ValueError) as exc:
        print(f"opstui shell: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not settings.regions:
        from opstui.cli import default_region

        region = default_region()
        if not region:
            print("opstui shell: no region: pass --region or set AWS_REGION", file=sys.stderr)
            return EXIT_USAGE
        settings = replace(settings, regions=(region,))
    try:
        check_regions(settings.regions)
    except ConfigError as exc:
        print(f"opstui shell: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def go() -> int:
        aws = AwsClients(profile=settings.profile, endpoint_url=settings.endpoint_url, read_only=settings.read_only)
        try:
            return await run_shell(aws, settings.regions, args)
        finally:
            await aws.close()

    try:
        code = asyncio.run(go())
    except (OpsError, SessionError) as err:
        # the reason can carry text from the service (channel_closed Output): no escape bytes to the terminal
        message = "\n".join(clean(line, 400) for line in str(err).splitlines())
        print(f"\r\nopstui shell: {message}", file=sys.stderr)
        return EXIT_REFUSED if getattr(err, "kind", "") == "read-only" else EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return code
