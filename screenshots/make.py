"""Regenerate the README's screenshots from the demo sandbox: `.venv/bin/python screenshots/make.py`.

Runs the real app headless against a frozen (no churn) default-scenario sandbox and saves Textual SVG
screenshots next to this file: the README's at 170×44, and `small-*.svg` at 80×24 (the SSH user's terminal,
the size the layouts are designed for first). `make.py small` makes only the 80×24 ones; `make.py logs`
the Logs tab's, `make.py logs-insights` only the Insights histogram.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from opstui.app import OpsApp  # noqa: E402
from opstui.aws.errors import OpsError  # noqa: E402
from opstui.config import Settings  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402

SIZE = (170, 44)
SMALL = (80, 24)


async def shoot() -> list[Path]:
    made: list[Path] = []
    with SandboxProcess(live=False) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=SIZE) as pilot:
            view = app.fleet_view
            while view.refreshes < 1:
                await asyncio.sleep(0.05)
            app.show_tab("fleet")  # the Overview is the home screen
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("fleet.svg", str(HERE))))
            await pilot.press("down", "down", "space", "down", "space", "enter")
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("fleet-detail.svg", str(HERE))))
            await pilot.press("enter", "slash", *"tag:Env=prod !ping:Online")
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("fleet-filter.svg", str(HERE))))
            await pilot.press("escape", "question_mark")
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("help.svg", str(HERE))))
            await pilot.press("escape")
            made.append(await shell_shot(app, pilot))
            made.append(await run_shot(app, pilot, sandbox))
            made.append(await inventory_shot(app, pilot))
            made.append(await backup_shot(app, pilot))
            made.extend(await monitoring_shots(app, pilot, sandbox))
            made.append(await logs_shot(app, pilot))
            made.append(await logs_insights_shot(app, pilot))
        app.close_aws()
        made.extend(await small_shots(sandbox, settings))
    return made


async def shoot_small() -> list[Path]:
    """Only the 80×24 screenshots (`make.py small`)."""
    with SandboxProcess(live=False) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        return await small_shots(sandbox, settings)


async def small_shots(sandbox: SandboxProcess, settings: Settings) -> list[Path]:
    """80×24: the Fleet, the alarms with their chart, the backup jobs, the Run Command form."""
    made: list[Path] = []
    app = OpsApp(settings, credentials=sandbox.aws_credentials())
    async with app.run_test(size=SMALL) as pilot:
        while app.fleet_view.refreshes < 1:
            await asyncio.sleep(0.05)
        app.fleet_view.table.clear_selection()
        app.show_tab("fleet")
        await pilot.pause(0.3)
        made.append(await settled_shot(app, pilot, "small-fleet.svg"))
        app.show_tab("monitoring")
        view = app.monitoring_view
        while view.alarm_loads < 1 or view.detail_loads < 1:
            await asyncio.sleep(0.05)
        made.append(await settled_shot(app, pilot, "small-monitoring.svg"))
        app.show_tab("backup")
        while app.backup_view.job_loads < 1:
            await asyncio.sleep(0.05)
        app.backup_view.table("bk-jobs").focus()
        made.append(await settled_shot(app, pilot, "small-backup.svg"))
        app.show_tab("run")
        while app.run_view.form.commands_area() is None:
            await asyncio.sleep(0.05)
        app.run_view.form.commands_area().text = "uptime\ndf -h /"
        made.append(await settled_shot(app, pilot, "small-runcommand.svg"))
    app.close_aws()
    return made


async def settled_shot(app: OpsApp, pilot, name: str) -> Path:
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.pause(0.2)
    return Path(app.save_screenshot(name, str(HERE)))


async def shell_shot(app: OpsApp, pilot) -> Path:
    """A Shells tab with coloured output: `ls --color` and a top-like screen."""
    node = next(n for n in app.fleet_view.table.rows if n.name == "prod-web-01")
    app.open_shells([node])
    while not app.shells_view.sessions() or app.shells_view.sessions()[0].state != "connected":
        await asyncio.sleep(0.05)
    session = app.shells_view.sessions()[0]
    view = session.terminal
    script = (
        "clear; mkdir -p demo/logs demo/bin && touch demo/bin/deploy.sh demo/app.tar.gz && chmod +x demo/bin/deploy.sh; "
        "ls --color=always -l /etc | head -12; ls --color=always -F demo demo/bin; "
        "printf '\\e[1;32m  OK  \\e[0m nginx.service   \\e[1;31mFAIL\\e[0m backup.timer   "
        "\\e[33mWARN\\e[0m disk /var 83%%\\n'; uptime\r"
    )
    session.post_message(view.Input(view, script.encode()))
    await asyncio.sleep(1.5)
    await pilot.pause(0.3)
    return Path(app.save_screenshot("shell.svg", str(HERE)))


async def run_shot(app: OpsApp, pilot, sandbox: SandboxProcess) -> Path:
    """Run Command, grouped: one command on the app nodes of both regions; the Windows node refuses a shell
    script and the ConnectionLost node times out, so the result reads as a few blocks."""
    # a 30 s delivery timeout takes 0.3 s in the sandbox, so the ConnectionLost node ends without a wait
    sandbox.control("POST", "run-command", {"delivery_timeout_scale": 0.01})
    view = app.run_view
    app.fleet_view.table.clear_selection()  # target by tag, not the nodes selected for the Fleet shots
    app.show_tab("run")
    while view.form.commands_area() is None:
        await asyncio.sleep(0.05)
    await pilot.pause(0.2)
    view.form.commands_area().text = 'echo "checkout $(uname -sm) in $AWS_SSM_REGION_NAME"\necho "config: ok"'
    view.form.query_one("#rc-target").value = "tag:Role=app"
    view.form.query_one("#rc-timeout").value = "30"
    view.form.query_one("#rc-comment").value = "pre-release check"
    await pilot.pause(0.2)
    await pilot.press("ctrl+s")
    while not hasattr(app.screen, "radius"):
        await asyncio.sleep(0.05)
    await pilot.press(*app.screen.radius.confirmation_word, "enter")
    while view.run is None or not view.run.finished:
        await asyncio.sleep(0.1)
    await pilot.press("g")
    await pilot.pause(0.5)
    app.clear_notifications()
    await pilot.pause(0.2)
    return Path(app.save_screenshot("runcommand.svg", str(HERE)))


async def shoot_inventory() -> list[Path]:
    """Only the Inventory tab (`make.py inventory`): a fleet-wide search for openssl, versions skewed."""
    with SandboxProcess(live=False) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=SIZE) as pilot:
            path = await inventory_shot(app, pilot)
        app.close_aws()
    return [path]


async def inventory_shot(app: OpsApp, pilot) -> Path:
    while app.fleet_view.refreshes < 1:
        await asyncio.sleep(0.05)
    app.show_tab("inventory")
    view = app.inventory_view
    while view.node_loads < 1 or view.setup_loads < 1:
        await asyncio.sleep(0.05)
    await pilot.press("f")
    view.start_search("openssl")
    while view.searches < 1:
        await asyncio.sleep(0.05)
    await pilot.pause(0.2)
    view.table("inv-versions").focus()
    view.table("inv-versions").move_cursor(1)
    await pilot.press("enter")
    view.table("inv-matches").focus()
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.pause(0.2)
    return Path(app.save_screenshot("inventory.svg", str(HERE)))


async def shoot_monitoring() -> list[Path]:
    """Only the Overview and Monitoring tabs (`make.py monitoring`), during the scripted incident."""
    with SandboxProcess(live=False) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=SIZE) as pilot:
            paths = await monitoring_shots(app, pilot, sandbox)
        app.close_aws()
    return paths


async def monitoring_shots(app: OpsApp, pilot, sandbox: SandboxProcess) -> list[Path]:
    """The scripted incident (prod-web-02's CPU climbs, its alarm fires, the storefront slows down), started
    20 minutes in so the alarm is in ALARM at the next evaluation: the Overview, then the alarm's chart."""
    def control(path: str, body: dict) -> None:
        sandbox.control("POST", path, body, timeout=30)

    while app.fleet_view.refreshes < 1:
        await asyncio.sleep(0.05)
    control("incident", {"action": "start", "elapsed": 1800, "duration": 3600})  # 3 full breaching periods
    overview = app.overview_view
    for _ in range(20):
        control("alarms/evaluate", {})
        loads = overview.loads
        app.fleet_view.refresh_now()
        while overview.loads <= loads:
            await asyncio.sleep(0.05)
        if any("prod-web-02 high CPU" in line.text.plain for line in overview.lines):
            break
        await asyncio.sleep(0.5)
    app.show_tab("overview")
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.pause(0.2)
    made = [Path(app.save_screenshot("overview.svg", str(HERE)))]
    app.jump_to("monitoring", "state:ALARM", "alarms")
    view = app.monitoring_view
    while view.alarm_loads < 1:
        await asyncio.sleep(0.05)
    view.show_panel("alarms", "")
    table = view.table("mon-alarms")
    position = next((i for i, row in enumerate(table.visible_rows()) if row.name == "prod-web-02 high CPU"), 0)
    table.move_cursor(position)
    view.panel_named("alarms").action_open()
    loads = view.detail_loads
    while view.detail_loads <= loads:
        await asyncio.sleep(0.05)
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.pause(0.2)
    made.append(Path(app.save_screenshot("monitoring.svg", str(HERE))))
    control("incident", {"action": "stop"})
    return made


async def shoot_backup() -> list[Path]:
    """Only the Backup tab (`make.py backup`): the last 7 days of jobs, failures first, one failure's detail."""
    with SandboxProcess(live=False) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=SIZE) as pilot:
            path = await backup_shot(app, pilot)
        app.close_aws()
    return [path]


async def backup_shot(app: OpsApp, pilot) -> Path:
    while app.fleet_view.refreshes < 1:
        await asyncio.sleep(0.05)
    app.show_tab("backup")
    view = app.backup_view
    while view.job_loads < 1:
        await asyncio.sleep(0.05)
    loads = view.job_loads
    view.query_one("#bk-range").value = "7d"
    while view.job_loads <= loads:
        await asyncio.sleep(0.05)
    view.table("bk-jobs").focus()
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.pause(0.2)
    return Path(app.save_screenshot("backup.svg", str(HERE)))


async def shoot_logs(only_insights: bool = False) -> list[Path]:
    """Only the Logs tab (`make.py logs`), or only its Insights histogram (`make.py logs-insights`)."""
    with SandboxProcess(live=False) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=SIZE) as pilot:
            paths = [] if only_insights else [await logs_shot(app, pilot)]
            paths.append(await logs_insights_shot(app, pilot))
        app.close_aws()
    return paths


def _demo_lines(now_ms: int, web: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """A few minutes of the storefront's nginx access log and the app's JSON log on two web nodes, with the
    incident's 5xx and errors: written with PutLogEvents where the sandbox's agents have not shipped any."""
    import json
    import random

    rnd = random.Random(7)
    paths = ["/", "/cart", "/api/items", "/api/checkout", "/static/app.js", "/health"]
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for n, node in enumerate(web):
        access, app_log = [], []
        for i in range(120):
            ts = now_ms - 300_000 + i * 2500 + n * 700
            path = rnd.choice(paths)
            slow = i > 80 and n == 1
            status = 503 if slow and rnd.random() < 0.4 else 200
            ms = rnd.randint(900, 2400) if slow else rnd.randint(8, 60)
            access.append((ts, f'10.0.{n}.{rnd.randint(2, 250)} - - "GET {path} HTTP/1.1" {status} '
                               f'{rnd.randint(200, 9000)} "-" "Mozilla/5.0" rt={ms / 1000:.3f}'))
            level = "ERROR" if status >= 500 else ("WARN" if ms > 500 else "INFO")
            app_log.append((ts + 3, json.dumps({"level": level, "msg": "upstream timed out" if status >= 500
                                                else "request done", "path": path, "latency_ms": ms,
                                                "request_id": f"req-{n}{i:05d}"})))
        out[("/storefront/nginx/access", node)] = access
        out[("/storefront/app", node)] = app_log
    return out


async def logs_shot(app: OpsApp, pilot) -> Path:
    """Following the storefront's nginx access log and the app's JSON log of both web nodes, merged by time."""
    import time

    from opstui.aws import logs as lg

    while app.fleet_view.refreshes < 1:
        await asyncio.sleep(0.05)
    region = app.settings.regions[0]
    web = [n.instance_id for n in app.fleet_view.table.rows if n.name in ("prod-web-01", "prod-web-02")]

    async def write() -> None:
        for (group, stream), events in _demo_lines(int(time.time() * 1000), web).items():
            for op, params in (("create_log_group", {"logGroupName": group}),
                               ("create_log_stream", {"logGroupName": group, "logStreamName": stream})):
                with contextlib.suppress(OpsError):  # already there
                    await app.aws.call("logs", region, op, **params)
            await app.aws.call("logs", region, "put_log_events", logGroupName=group, logStreamName=stream,
                               logEvents=[{"timestamp": t, "message": m} for t, m in events])

    await app.aws_loop.run(write())
    app.show_tab("logs")
    view = app.logs_view
    view.follow([lg.FollowTarget(region, "/storefront/nginx/access"), lg.FollowTarget(region, "/storefront/app")])
    while view.viewer_panel.polls < 1:
        await asyncio.sleep(0.05)
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.pause(0.2)
    return Path(app.save_screenshot("logs.svg", str(HERE)))


INSIGHTS_GROUP = "/storefront/nginx/history"
INSIGHTS_QUERY = ("parse @message '\"* * *\" * *' as method, path, proto, status, size | filter status >= 500 "
                  "| stats count(*) by bin(1m)")


def _hour_of_access_log(now_ms: int, web: list[str]) -> dict[str, list[tuple[int, str]]]:
    """An hour of the storefront's nginx access log on the web nodes: steady traffic, then the incident
    (prod-web-02 slow, 503s climbing for a quarter of an hour, then recovering)."""
    import random

    rnd = random.Random(11)
    paths = ["/", "/cart", "/api/items", "/api/checkout", "/static/app.js"]
    out: dict[str, list[tuple[int, str]]] = {node: [] for node in web}
    start = now_ms - 60 * 60_000
    for minute in range(60):
        incident = max(0.0, 1 - abs(minute - 42) / 9)  # 0 outside minutes 33-51, 1 at minute 42
        for n, node in enumerate(web):
            for i in range(rnd.randint(18, 26)):
                ts = start + minute * 60_000 + i * 2300 + n * 500
                bad = n == 1 and rnd.random() < 0.9 * incident or rnd.random() < 0.01
                status = rnd.choice((502, 503, 504)) if bad else 200
                out[node].append((ts, f'10.0.{n}.{rnd.randint(2, 250)} - - "GET {rnd.choice(paths)} HTTP/1.1" '
                                      f'{status} {rnd.randint(200, 9000)} "-" "Mozilla/5.0"'))
    return out


async def logs_insights_shot(app: OpsApp, pilot) -> Path:
    """Insights: the storefront's 5xx per minute over the last hour (`stats count(*) by bin(1m)`), drawn as a
    histogram above the results table."""
    import time

    from opstui.views.logs.insights import InsightsPanel

    while app.fleet_view.refreshes < 1:
        await asyncio.sleep(0.05)
    region = app.settings.regions[0]
    web = [n.instance_id for n in app.fleet_view.table.rows if n.name in ("prod-web-01", "prod-web-02")]

    async def write() -> None:
        with contextlib.suppress(OpsError):  # already there
            await app.aws.call("logs", region, "create_log_group", logGroupName=INSIGHTS_GROUP)
        for stream, events in _hour_of_access_log(int(time.time() * 1000) - 5_000, web).items():
            with contextlib.suppress(OpsError):
                await app.aws.call("logs", region, "create_log_stream", logGroupName=INSIGHTS_GROUP,
                                   logStreamName=stream)
            await app.aws.call("logs", region, "put_log_events", logGroupName=INSIGHTS_GROUP, logStreamName=stream,
                               logEvents=[{"timestamp": t, "message": m} for t, m in events])

    await app.aws_loop.run(write())
    app.show_tab("logs")
    view = app.logs_view
    groups = view.groups_panel
    groups.load()
    while not any(g.name == INSIGHTS_GROUP for g in groups.groups):
        await asyncio.sleep(0.05)
    view.show_panel("groups", INSIGHTS_GROUP)
    await pilot.pause(0.3)
    view.show_panel("insights")
    insights = view.query_one(InsightsPanel)
    insights.query_one("#logs-query").value = INSIGHTS_QUERY
    runs = insights.runs
    await pilot.press("ctrl+r")
    while insights.runs <= runs:
        await asyncio.sleep(0.05)
    await pilot.pause(0.3)
    app.clear_notifications()
    await pilot.pause(0.2)
    return Path(app.save_screenshot("logs-insights.svg", str(HERE)))


if __name__ == "__main__":
    only = sys.argv[1:]
    if only == ["inventory"]:
        paths = asyncio.run(shoot_inventory())
    elif only == ["monitoring"]:
        paths = asyncio.run(shoot_monitoring())
    elif only == ["backup"]:
        paths = asyncio.run(shoot_backup())
    elif only == ["small"]:
        paths = asyncio.run(shoot_small())
    elif only == ["logs"]:
        paths = asyncio.run(shoot_logs())
    elif only == ["logs-insights"]:
        paths = asyncio.run(shoot_logs(only_insights=True))
    else:
        paths = asyncio.run(shoot())
    for path in paths:
        print(path)
