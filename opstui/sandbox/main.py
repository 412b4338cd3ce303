"""Body of ``opstui sandbox``: run a Sandbox in the foreground until Ctrl-C / SIGTERM.

Output contract (``opstui --demo`` starts this as a child and waits for it): the first line on
stdout is exactly ``endpoint http://HOST:PORT``, flushed as soon as the sandbox answers; right after it
the run's credentials as ``export AWS_ACCESS_KEY_ID=<id>`` and ``export AWS_SECRET_ACCESS_KEY=<secret>``
(plain, unquoted: tools and people paste them); then more ``export`` lines and hints. Nothing else is
printed per request.

The sandbox never inherits the caller's environment wholesale: run from a shell that holds AWS credentials,
it re-executes itself with an environment built from an allow-list (:func:`clean_environment`), so
``/proc/<pid>/environ`` of the sandbox -- readable by every command its nodes run, since they run as the same
user -- holds none of them. Everything it creates is private to the user (umask 077).
"""

from __future__ import annotations

import argparse
import atexit
import ipaddress
import os
import signal
import sys
import threading
from types import FrameType

from .credentials import CredentialsError, chosen_or_generated
from .environment import clean_environment
from .extra import problem
from .latency import LATENCY_ENV, parse_latency
from .scenarios import MAX_NODES, SCENARIOS


def _reexec_clean(argv: list[str]) -> None:
    """Replace this process with itself under the clean environment, if anything else is set (same pid, same
    stdout: a parent waiting for the ``endpoint`` line does not notice)."""
    clean = clean_environment()
    if set(os.environ) == set(clean):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "opstui.sandbox.main", *argv], clean)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opstui sandbox", description="Run a local AWS sandbox (moto) for opstui.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.0/8 or ::1; default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--nodes", type=int, default=None, help=f"generated fleet size, up to {MAX_NODES}")
    parser.add_argument("--scenario", default="default", choices=SCENARIOS)
    parser.add_argument("--no-live", dest="live", action="store_false", help="freeze the fleet (no living thread)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency", default=os.environ.get(LATENCY_ENV) or "0",
                        help="network latency of every API call and of the data channel's round trip, e.g. 120ms, "
                             f"120ms±40ms (or 120ms+-40ms), 1s; default 0, or ${LATENCY_ENV}")
    parser.add_argument("--state-dir", default=None,
                        help="where simulated nodes keep their home directories (default: the user state dir)")
    return parser


def is_loopback(host: str) -> bool:
    """The sandbox runs shells and commands as the local user: it must never listen beyond this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    missing = problem()
    if missing:
        print(f"opstui sandbox: {missing}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"--host {args.host}: the sandbox listens on loopback only (127.0.0.1, ::1)", file=sys.stderr)
        return 2
    if args.nodes is not None and not 1 <= args.nodes <= MAX_NODES:
        print(f"--nodes must be between 1 and {MAX_NODES}", file=sys.stderr)
        return 2
    try:
        latency = parse_latency(args.latency)
    except ValueError as exc:
        print(f"--latency: {exc}", file=sys.stderr)
        return 2
    _reexec_clean(argv)
    os.umask(0o077)
    try:
        credentials = chosen_or_generated()
    except CredentialsError as exc:
        print(f"opstui sandbox: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    from .server import Sandbox  # after the handlers: importing moto takes a second

    sandbox = Sandbox(host=args.host, port=args.port, scenario=args.scenario, nodes=args.nodes,
                      live=args.live, seed=args.seed, state_dir=args.state_dir, credentials=credentials,
                      latency=latency)
    try:
        if stop.is_set():
            return 0
        sandbox.start()
        endpoint = sandbox.endpoint
        region = sandbox.regions[0]
        region_flags = " ".join(f"--region {r}" for r in sandbox.regions)
        lines = [
            f"endpoint {endpoint}",
            *credentials.export_lines(),
            f"export AWS_ENDPOINT_URL={endpoint}",
            f"export AWS_DEFAULT_REGION={region}",
            "unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN",
            f"# scenario {sandbox.scenario_name}: regions {', '.join(sandbox.regions)}; "
            f"ready in {sandbox.startup_seconds:.1f}s; latency {latency}; Ctrl-C to stop",
            "# then: aws ssm describe-instance-information",
            f"# or:   opstui --endpoint-url {endpoint} {region_flags}",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def exit_now(code: int) -> None:
    """Exit without tearing the heap down. The sandbox is stopped by then (threads, sockets, node processes);
    what is left is freeing moto's state object by object at interpreter shutdown, 1.5 s of a quit that the
    user waits for (``opstui --demo`` waits for this process before it gives the terminal back). The atexit
    handlers still run (temporary folders are removed, logs flushed); only the finalisation is skipped."""
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()  # CPython's own exit step, run here because os._exit skips it
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
