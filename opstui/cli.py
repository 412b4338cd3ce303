"""Command line: parse arguments into Settings and start the app, the demo, or the sandbox."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from opstui import __version__
from opstui.config import ConfigError, Settings, config_path, load_file, settings_from

EPILOG = """\
other commands:
  opstui shell TARGET [--region R] [--profile P] [--endpoint-url URL] [--document D] [--parameters JSON]
                 a Session Manager shell on one node (instance id, Name tag or tag:K=V); no plugin needed;
                 exits 0 when the session ends (AWS reports no shell exit status)
  opstui shell TARGET -- COMMAND
                 run one command there, output to stdout/stderr, exit with the command's status
  opstui run --targets T [--document D] [--max-concurrency N|N%] [--max-errors N|N%] [--yes] [--json] -- COMMAND
                 Run Command on the nodes T names (ids, Name tags, tag:K=V, tag-key:K, resource-groups:NAME);
                 live progress on stderr, grouped output on stdout; exit 1 if any node failed
  opstui iam-policy [--read-only]
                 print the least-privilege IAM policy (JSON) for what opstui calls
  opstui logs tail GROUP... [--node NAME|ID] [--filter PATTERN] [--since 10m] [--follow] [--json FIELDS]
  opstui logs query GROUP... 'QUERY' [--since 1h] [--json]
                 CloudWatch Logs: events of the groups merged by time (and followed), or a Logs Insights query
  opstui sandbox [--host 127.0.0.1] [--port PORT] [--nodes N] [--scenario NAME] [--latency 120ms±40ms]
                 run the local AWS sandbox in the foreground (Ctrl-C stops it)

credentials and defaults come from botocore's chain: AWS_PROFILE, AWS_REGION / AWS_DEFAULT_REGION,
~/.aws/config (SSO profiles too), AWS_ACCESS_KEY_ID/..., AWS_ENDPOINT_URL.
config file: {config}
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="opstui",
        description="A keyboard-driven terminal console for servers on AWS (SSM, EC2, CloudWatch, Backup).",
        epilog=EPILOG.format(config=config_path()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    p.add_argument("--region", action="append", dest="regions", metavar="R",
                   help="region to show; repeat for several (default: the profile's region)")
    p.add_argument("--endpoint-url", help="send every AWS call to this endpoint (e.g. the sandbox)")
    p.add_argument("--read-only", action="store_true", default=None,
                   help="refuse every mutating AWS call before it is sent")
    p.add_argument("--refresh", type=float, metavar="SECONDS", help="auto-refresh interval (default 15)")
    p.add_argument("--theme", help="Textual theme name (e.g. nord, gruvbox)")
    p.add_argument("--tab", help="the tab shown at start: overview (default), fleet, shells, run, inventory, "
                                 "monitoring, backup, logs")
    p.add_argument("--demo", action="store_true", help="run against a local sandbox fleet; no AWS account needed")
    p.add_argument("--nodes", type=int, help="with --demo: size of the generated fleet (up to 10000)")
    p.add_argument("--scenario", default="default", help="with --demo: sandbox scenario (default, hostile)")
    p.add_argument("--version", action="version", version=f"opstui {__version__}")
    return p


def default_region() -> str | None:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    try:
        from botocore.session import get_session

        session = get_session()
        profile = os.environ.get("AWS_PROFILE")
        if profile:
            session.set_config_variable("profile", profile)
        return session.get_config_variable("region")
    except Exception:
        return None


def resolve_settings(argv: list[str]) -> tuple[Settings, argparse.Namespace]:
    args = build_parser().parse_args(argv)
    cli = {
        "profile": args.profile,
        "regions": args.regions,
        "endpoint_url": args.endpoint_url,
        "read_only": args.read_only,
        "refresh": args.refresh,
        "theme": args.theme,
        "tab": args.tab,
    }
    settings = settings_from(load_file(), cli)
    if not settings.regions and not args.demo:
        region = default_region()
        if region:
            settings = replace(settings, regions=(region,))
    check_regions(settings.regions)
    return settings, args


def check_regions(regions: tuple[str, ...]) -> None:
    """Refuse region names botocore's partition data does not know, before any call (ConfigError: exit 2)."""
    from opstui.aws.regions import region_problem

    problem = region_problem(regions)
    if problem:
        raise ConfigError(problem)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        from opstui.sandbox.main import main as sandbox_main

        return sandbox_main(argv[1:])
    if argv and argv[0] == "run":
        from opstui.run_cli import main as run_main

        return run_main(argv[1:])
    if argv and argv[0] == "logs":
        from opstui.logs_cli import main as logs_main

        return logs_main(argv[1:])
    if argv and argv[0] == "shell":
        from opstui.shell_cli import main as shell_main

        return shell_main(argv[1:])
    if argv and argv[0] == "iam-policy":
        return iam_policy(argv[1:])
    try:
        settings, args = resolve_settings(argv)
    except ConfigError as exc:
        print(f"opstui: {exc}", file=sys.stderr)
        return 2
    if args.demo:
        return run_demo(settings, scenario=args.scenario, nodes=args.nodes)
    return run_app(settings)


def iam_policy(argv: list[str]) -> int:
    """`opstui iam-policy [--read-only]`: the least-privilege IAM policy JSON on stdout."""
    p = argparse.ArgumentParser(prog="opstui iam-policy",
                                description="Print the least-privilege IAM policy (JSON) for every AWS call opstui "
                                            "makes; attach it to the role or user that runs opstui.")
    p.add_argument("--read-only", action="store_true",
                   help="only what read-only mode calls: no action that changes anything")
    args = p.parse_args(argv)
    from opstui.aws.permissions import policy_json

    sys.stdout.write(policy_json(read_only=args.read_only))
    return 0


def run_app(settings: Settings, credentials=None) -> int:
    from opstui.app import OpsApp

    app = OpsApp(settings, credentials=credentials)
    try:
        app.run()
    finally:
        app.close_aws()
    return app.return_code or 0


def run_demo(settings: Settings, *, scenario: str = "default", nodes: int | None = None) -> int:
    from opstui.demo import SandboxProcess, SandboxStartError
    from opstui.sandbox.extra import problem

    missing = problem()
    if missing:  # the child would die on its first import of moto: say what to install instead
        print(f"opstui --demo: {missing}", file=sys.stderr)
        return 2
    print("opstui: starting the local sandbox…", file=sys.stderr, flush=True)
    os.environ.pop("AWS_PROFILE", None)  # the demo never touches a real account's profile
    try:
        with SandboxProcess(scenario=scenario, nodes=nodes) as sandbox:
            demo = replace(
                settings,
                endpoint_url=sandbox.endpoint,
                regions=settings.regions or tuple(sandbox.regions),
                profile=None,
                demo=True,
                fleet_cache=False,  # a new sandbox (and endpoint) every run: nothing to remember
            )
            return run_app(demo, credentials=sandbox.aws_credentials())
    except SandboxStartError as exc:
        print(f"opstui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
