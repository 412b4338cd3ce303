"""`opstui shell TARGET [-- COMMAND…]`: a drop-in for `aws ssm start-session --target` that needs no plugin.

TARGET is an instance id (i-… / mi-…), a Name tag, or `tag:Key=Value`; it must match exactly one managed
node in the given regions, otherwise the candidates are listed (exit 2).

Without COMMAND: an interactive shell. The local terminal goes into raw mode, input is forwarded as typed,
SIGWINCH sends the new size, and the terminal is restored on every way out. Keys typed before the prompt
appears are kept: the terminal is switched with TCSANOW, which leaves pending input alone (tty.setraw's
default, TCSAFLUSH, throws it away). AWS never tells the client how an interactive shell ended (the agent
sends no ExitCode payload for Standard_Stream or InteractiveCommands sessions, amazon-ssm-agent
agent/session/shell/shell.go), so a session that ends normally exits 0, whatever `exit N` the remote shell ran.

With `-- COMMAND…`: the words are joined with spaces (as ssh does) and run through a non-interactive command
session (AWS-StartNonInteractiveCommand with separateOutputStream=true, the only kind of session whose exit
status the agent sends); its stdout goes to stdout, its stderr to stderr (to a terminal with control
characters made visible, see OutputStream), and opstui exits with the command's exit status. The local terminal is left as it is and stdin is not read (the agent gives the command none).

Exit status: the above, 2 bad usage or no/several matching nodes, 3 refused in read-only mode, 130 on ctrl+c,
255 when the endpoint, the credentials or the session failed (as ssh uses 255 for its own failures).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import json
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.fleet import NOT_MANAGED, load_fleet
from opstui.aws.models import FleetNode
from opstui.cli import check_regions
from opstui.config import ConfigError, load_file, settings_from
from opstui.interrupt import Interrupt
from opstui.safe import clean, clean_block
from opstui.session.channel import DataChannel, SessionError
from opstui.session.shell import open_shell

EXIT_USAGE = 2  # bad arguments, or TARGET names no node or several
EXIT_REFUSED = 3  # read-only mode (like `opstui run`)
EXIT_FAILED = 255  # like ssh: the connection, not the remote command, failed
EXIT_INTERRUPTED = 130  # ctrl+c
NON_INTERACTIVE = "AWS-StartNonInteractiveCommand"

EPILOG = """\
exit status:
  interactive shell  0 when the session ends normally. AWS does not send a shell's exit status to the
                     client (the session-manager-plugin exits 0 too), so `exit 7` on the node still gives 0.
  -- COMMAND         the remote command's exit status (a non-interactive command session, which AWS
                     reports: AWS-StartNonInteractiveCommand with separateOutputStream=true).
  2  bad arguments, or TARGET matches no managed node or several (the candidates are listed)
  3  refused: read-only mode (read_only = true in the config, or --read-only)
  130 interrupted (ctrl+c)
  255 the endpoint, the credentials or the session failed

examples:
  opstui shell prod-web-01
  opstui shell tag:Role=db -- 'systemctl is-active postgresql'
"""


class TargetError(OpsError):
    """TARGET names no managed node, or several: a usage problem (exit 2), not a failure of AWS."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="opstui shell",
        usage="opstui shell TARGET [options] [-- COMMAND ...]",
        description="Open a Session Manager shell on one node (no session-manager-plugin needed), or run "
                    "one command there with -- COMMAND and exit with its status.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", help="instance id (i-…, mi-…), Name tag, or tag:Key=Value")
    p.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    p.add_argument("--region", action="append", dest="regions", metavar="R", help="region(s) to look in")
    p.add_argument("--endpoint-url", help="send every AWS call to this endpoint (e.g. the sandbox)")
    p.add_argument("--document", help="session document, e.g. AWS-StartInteractiveCommand (not with -- COMMAND)")
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
    """The one managed node `target` names.

    TargetError listing the candidates when it names several, or none in regions that answered. When a region
    could not be looked in (endpoint unreachable, credentials, access denied), its error is raised instead:
    "no node matches" would be a guess, and the wrong thing to fix."""
    snapshot = await load_fleet(aws, regions)
    found = [n for n in snapshot.nodes if n.ping_status != NOT_MANAGED and matches(n, target)]
    if len(found) == 1:
        return found[0]
    shown = clean(target, 100)
    if not found:
        failed = snapshot.errors
        if failed:
            def cause(error: Exception | None) -> str:
                return clean(error.message if isinstance(error, OpsError) else str(error), 300)

            first = failed[0].error
            others = sorted({cause(r.error) for r in failed[1:]} - {cause(first)})
            also = f"; also {'; '.join(others)}" if others else ""
            answered = [r.region for r in snapshot.regions if r.error is None]
            none_there = f" (no match in {', '.join(answered)})" if answered else ""
            raise OpsError(f"could not look for {shown!r} in {', '.join(r.region for r in failed)}: "
                           f"{cause(first)}{also}{none_there}",
                           kind=getattr(first, "kind", "error"), hint=getattr(first, "hint", ""))
        raise TargetError(f"no managed node matches {shown!r} in {', '.join(regions)}", kind="not-found",
                          hint="use an instance id, a Name tag or tag:Key=Value")
    lines = "\n".join(
        f"  {clean(n.instance_id, 40):20} {clean(n.region, 20):16} {clean(n.ping_status, 16):16} {clean(n.name, 60)}"
        for n in found[:50]
    )
    more = f"\n  … and {len(found) - 50} more" if len(found) > 50 else ""
    raise TargetError(f"{len(found)} nodes match {shown!r}; pick one:\n{lines}{more}", kind="invalid")


def terminal_size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
        return size.columns, size.lines
    except OSError:
        return 80, 24


@contextlib.contextmanager
def quiet_terminal(fd: int) -> Iterator[list[int] | None]:
    """Local echo and line editing off from the start (keys typed now wait, unechoed, for the session), the
    terminal's settings back on every way out. TCSANOW everywhere: TCSAFLUSH would discard typeahead.

    ISIG stays on here, so ctrl+c still stops the node lookup; raw mode comes when the session is up."""
    if not os.isatty(fd):
        yield None
        return
    saved = termios.tcgetattr(fd)
    try:
        mode = termios.tcgetattr(fd)
        mode[tty.LFLAG] &= ~(termios.ECHO | termios.ICANON)
        mode[tty.CC][termios.VMIN] = 1
        mode[tty.CC][termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        yield saved
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def run_shell(aws: AwsClients, regions: tuple[str, ...], args: argparse.Namespace) -> int:
    """An interactive session; 0 when it ends normally (AWS sends no exit status for one)."""
    stdin_fd = sys.stdin.fileno()
    with quiet_terminal(stdin_fd) as saved:
        node = await resolve(aws, regions, args.target)
        return await _interactive(aws, node, args, stdin_fd, raw=saved is not None)


async def _interactive(aws: AwsClients, node: FleetNode, args: argparse.Namespace, stdin_fd: int, *,
                       raw: bool) -> int:
    parameters = json.loads(args.parameters) if args.parameters else None
    loop = asyncio.get_running_loop()
    out = sys.stdout.buffer
    async with open_shell(aws, node.region, node.instance_id, document=args.document, parameters=parameters,
                          size=terminal_size()) as shell:
        if raw:
            tty.setraw(stdin_fd, termios.TCSANOW)  # not the default TCSAFLUSH: keys typed ahead are kept
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
        # a custom document could be non-interactive and report one; a shell never does on AWS
        return shell.exit_code if shell.exit_code is not None else 0


class OutputStream:
    """Where one of the command's streams goes: to a pipe or file byte for byte; to a terminal with control
    characters made visible (escape sequences in a node's output must not drive the local terminal), as
    `opstui run` does. No terminal is attached on the node, so a well-behaved command sends none anyway."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace") if stream.isatty() else None

    def write(self, data: bytes) -> None:
        if self.decoder is not None:
            data = clean_block(self.decoder.decode(data)).encode()
        self.stream.write(data)
        self.stream.flush()

    def close(self) -> None:
        """Nothing more will complete a cut UTF-8 sequence: show what is left of one."""
        tail = self.decoder.decode(b"", final=True) if self.decoder is not None else ""
        if tail:
            self.stream.write(clean_block(tail).encode())
            self.stream.flush()


async def run_command(aws: AwsClients, regions: tuple[str, ...], target: str, command: str) -> int:
    """`-- COMMAND`: stdout to stdout, stderr to stderr, and the command's own exit status; ctrl+c ends the
    session (TerminateSession, so the command does not run on) and exits 130."""
    node = await resolve(aws, regions, target)
    out, err = OutputStream(sys.stdout.buffer), OutputStream(sys.stderr.buffer)
    parameters = {"command": [command], "separateOutputStream": ["true"]}

    async def close_on_ctrl_c(stop: Interrupt, session: DataChannel) -> None:
        await stop.fired.wait()
        await session.close(terminate=True, linger=0)

    try:
        with Interrupt.installed() as stop:
            with stop.absorbed():  # ctrl+c cancels the main task (see opstui.interrupt)
                async with open_shell(aws, node.region, node.instance_id, document=NON_INTERACTIVE,
                                      parameters=parameters, on_stderr=err.write) as session:
                    watcher = asyncio.create_task(close_on_ctrl_c(stop, session))
                    try:
                        async for chunk in session:
                            out.write(chunk)
                    finally:
                        watcher.cancel()
                    if stop.fired.is_set():
                        return EXIT_INTERRUPTED
                    if session.error is not None:
                        raise session.error
                    code = session.exit_code
            if stop.fired.is_set():
                return EXIT_INTERRUPTED
    finally:
        out.close()
        err.close()
    if code is None:
        raise SessionError(f"the session on {node.instance_id} ({node.region}) ended without the command's exit "
                           f"status ({clean(session.close_reason, 200) or 'no reason given'})", kind="closed")
    if not 0 <= code <= 255:
        print(f"opstui shell: the command's exit status {code} does not fit in 0-255; exiting 255",
              file=sys.stderr)
        return EXIT_FAILED
    return code


def split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """(options, COMMAND words or None): everything after the first `--` is the command, even `-x` words."""
    if "--" not in argv:
        return argv, None
    i = argv.index("--")
    return argv[:i], argv[i + 1:]


def main(argv: list[str]) -> int:
    head, command = split_command(argv)
    parser = build_parser()
    args = parser.parse_args(head)
    if command is not None:
        if not command or not " ".join(command).strip():
            parser.print_usage(sys.stderr)
            print("opstui shell: nothing after --: give the command to run", file=sys.stderr)
            return EXIT_USAGE
        if args.document or args.parameters:
            print("opstui shell: -- COMMAND runs AWS-StartNonInteractiveCommand; it cannot be combined with "
                  "--document or --parameters", file=sys.stderr)
            return EXIT_USAGE
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
            if command is not None:
                return await run_command(aws, settings.regions, args.target, " ".join(command))
            return await run_shell(aws, settings.regions, args)
        finally:
            await aws.close()

    try:
        code = asyncio.run(go())
    except (OpsError, SessionError) as err:
        # the reason can carry text from the service (channel_closed Output): no escape bytes to the terminal
        message = "\n".join(clean(line, 400) for line in str(err).splitlines())
        print(f"\r\nopstui shell: {message}" if command is None else f"opstui shell: {message}", file=sys.stderr)
        if isinstance(err, TargetError):
            return EXIT_USAGE
        return EXIT_REFUSED if getattr(err, "kind", "") == "read-only" else EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code
