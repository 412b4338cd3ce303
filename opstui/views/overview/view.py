"""The Overview tab, the home screen: one screen that answers "is anything wrong?".

Sections, each line a problem (or one ✓ line when there is none), each line a jump (enter) to the tab that
explains it, already filtered:

    Nodes down          stopped instances, ConnectionLost agents, failed status checks -> Fleet, filtered
    Services down       canaries whose last run failed                                  -> Monitoring canaries
    Alarms in ALARM     every alarm in ALARM with its reason                            -> Monitoring alarms
    Slow or overloaded  CPU, memory, disk of nodes; slow canary runs (latency)          -> Monitoring / Fleet
    Backups             failed backup and copy jobs of the last 24 h, completed-with-issues  -> Backup jobs
    Errors              a region or service that could not be read, as a line

It refreshes after each Fleet refresh (it follows the fleet model's signal), in a worker on the AWS loop;
what it asks each region is `opstui/health.py`'s. When an alarm enters ALARM or a canary starts failing between two
refreshes, a notification says so (and the terminal bell rings when the `bell` setting is on; `b` toggles it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from opstui.aws.models import FleetNode
from opstui.commands import commands_of
from opstui.health import CPU_HIGH, DISK_HIGH, MEMORY_HIGH, SLOW_RUN_MS, RegionHealth, gather_health
from opstui.safe import clean
from opstui.views.common.context import AppContext, context_of
from opstui.views.common.format import age
from opstui.views.common.tab import bindings_for

NODE_LINES = 6  # node lines per kind before "… and N more"


@dataclass(frozen=True)
class Jump:
    """Where a line leads: a tab, and the filter (or panel) to land on."""

    tab: str  # fleet | monitoring
    filter: str = ""
    panel: str = ""  # monitoring panel


@dataclass
class Line:
    text: Content
    jump: Jump | None = None


def _line(icon: str, icon_style: str, *parts: tuple[str, str]) -> Content:
    return Content.assemble((f"  {icon} ", icon_style), *((clean(t, 300), s) for t, s in parts))


def _heading(title: str, count: int, ok: bool) -> Content:
    mark = ("✓", "bold green") if ok else (f"{count}", "bold red")
    return Content.assemble((f"{title} ", "bold"), (mark[0], mark[1]))


def build_lines(nodes: list[FleetNode], health: list[RegionHealth], fleet_errors: list[str]) -> list[Line]:
    """The whole screen as lines (pure: the tests and the bench call it with any data)."""
    lines: list[Line] = []
    names = {(n.region, n.instance_id): n.name or n.instance_id for n in nodes}

    def name(region: str, iid: str) -> str:
        return names.get((region, iid), iid)

    # nodes down
    stopped = [n for n in nodes if n.ec2_state == "stopped"]
    # a stopped instance's agent is ConnectionLost too: count it once, as stopped
    lost = [n for n in nodes if n.ping_status == "ConnectionLost" and n.ec2_state != "stopped"]
    failed_checks = [(h.region, iid) for h in health for iid in sorted(h.status_failed)]
    down = len(stopped) + len(lost) + len(failed_checks)
    lines.append(Line(_heading("Nodes down", down, down == 0)))
    if not down:
        lines.append(Line(_line("✓", "green", (f"all {len(nodes)} nodes running, agents online", "")),
                          Jump("fleet")))
    for label, group, filt in (("agent ConnectionLost", lost, "ping:ConnectionLost !state:stopped"),
                               ("instance stopped", stopped, "state:stopped")):
        if not group:
            continue
        lines.append(Line(_line("✗", "bold red", (f"{len(group)} node(s) {label}", "bold")), Jump("fleet", filt)))
        for n in group[:NODE_LINES]:
            lines.append(Line(_line(" ", "", (f"  {n.name or n.instance_id}", ""), (f"  {n.instance_id} {n.region}",
                                                                                  "dim"),
                                    (f"  last ping {age(n.last_ping)} ago" if n.last_ping else "", "dim")),
                              Jump("fleet", n.instance_id)))
        if len(group) > NODE_LINES:
            lines.append(Line(_line(" ", "", (f"  … and {len(group) - NODE_LINES} more", "dim")), Jump("fleet", filt)))
    for region, iid in failed_checks:
        lines.append(Line(_line("✗", "bold red", (f"{name(region, iid)}", "bold"), (f"  {iid} {region}", "dim"),
                                ("  status check failed", "red")), Jump("fleet", iid)))

    # services down
    canaries = [c for h in health for c in h.canaries]
    failing = [c for c in canaries if c.failing]
    lines.append(Line(Content("")))
    lines.append(Line(_heading("Services down (canaries)", len(failing), not failing)))
    if not canaries:
        lines.append(Line(_line("–", "dim", ("no canaries in these regions", "dim")), Jump("monitoring", "", "canaries")))
    elif not failing:
        lines.append(Line(_line("✓", "green", (f"{len(canaries)} canaries passing", "")),
                          Jump("monitoring", "", "canaries")))
    for c in failing:
        run = c.last_run
        when = f"  {age(run.started)} ago" if run and run.started else ""
        lines.append(Line(_line("✗", "bold red", (c.name, "bold"), (f"  {c.region}", "dim"), (when, "dim"),
                                (f"  {run.reason if run else ''}", "red")),
                          Jump("monitoring", "state:failing", "canaries")))

    # alarms in ALARM
    alarms = sorted((a for h in health for a in h.alarms if a.state == "ALARM"),
                    key=lambda a: a.state_updated or datetime.min.replace(tzinfo=UTC), reverse=True)
    lines.append(Line(Content("")))
    lines.append(Line(_heading("Alarms in ALARM", len(alarms), not alarms)))
    if not alarms:
        lines.append(Line(_line("✓", "green", ("no alarm in ALARM", "")), Jump("monitoring", "", "alarms")))
    for a in alarms:
        since = f"  since {age(a.state_updated)}" if a.state_updated else ""
        lines.append(Line(_line("✗", "bold red", (a.name, "bold"), (f"  {a.region}", "dim"), (since, "dim"),
                                (f"  {a.reason}", "")),
                          Jump("monitoring", "state:ALARM", "alarms")))

    # slow or overloaded
    slow: list[Line] = []
    for h in health:
        for iid, value in sorted(h.cpu.items(), key=lambda kv: -kv[1]):
            if value >= CPU_HIGH:
                slow.append(Line(_line("▲", "bold yellow", (name(h.region, iid), "bold"), (f"  {iid} {h.region}", "dim"),
                                       (f"  CPU {value:.0f}%", "yellow")),
                                 Jump("monitoring", f"instance:{iid}", "alarms")))
        for label, values, limit in (("memory", h.memory, MEMORY_HIGH), ("disk", h.disk, DISK_HIGH)):
            for iid, value in sorted(values.items(), key=lambda kv: -kv[1]):
                if value >= limit:
                    slow.append(Line(_line("▲", "bold yellow", (name(h.region, iid), "bold"),
                                           (f"  {iid} {h.region}", "dim"), (f"  {label} {value:.0f}%", "yellow")),
                                     Jump("monitoring", f"instance:{iid}", "alarms")))
        for c in h.canaries:
            d = c.last_run.duration if c.last_run else None
            if d is not None and d * 1000 >= SLOW_RUN_MS and not c.failing:
                slow.append(Line(_line("▲", "bold yellow", (c.name, "bold"), (f"  {c.region}", "dim"),
                                       (f"  slow: last run took {d:.1f} s", "yellow")),
                                 Jump("monitoring", c.name, "canaries")))
    lines.append(Line(Content("")))
    lines.append(Line(_heading("Slow or overloaded", len(slow), not slow)))
    if not slow:
        measured = sum(len(h.cpu) for h in health)
        lines.append(Line(_line("✓", "green", (f"CPU under {CPU_HIGH:.0f}% on {measured} running node(s); memory, "
                                               f"disk and canary latency normal", ""))))
    lines.extend(slow)

    # backups
    lines.append(Line(Content("")))
    failed_jobs = [j for h in health for j in h.backups_failed]
    issue_jobs = [j for h in health for j in h.backups_with_issues]
    total_jobs = sum(h.backup_jobs for h in health)
    lines.append(Line(_heading("Backup jobs failed (24 h)", len(failed_jobs), not failed_jobs)))
    if not total_jobs:
        lines.append(Line(_line("–", "dim", ("no backup or copy jobs in the last 24 h: is a backup plan set up?",
                                             "dim")), Jump("backup")))
    elif not failed_jobs:
        lines.append(Line(_line("✓", "green", (f"{total_jobs} backup and copy jobs, none failed", "")),
                          Jump("backup")))
    for j in failed_jobs[:NODE_LINES]:
        lines.append(Line(_line("✗", "bold red", (f"{j.kind} {j.state}", "bold"),
                                (f"  {j.resource_name or j.resource_arn}", ""), (f"  {j.region}", "dim"),
                                (f"  {j.status_message}" if j.status_message else "", "red")), Jump("backup")))
    if issue_jobs:
        lines.append(Line(_line("▲", "yellow", (f"{len(issue_jobs)} completed with issues", "bold"),
                                ("  " + ", ".join(sorted({j.resource_name or j.resource_arn for j in issue_jobs})),
                                 "")), Jump("backup")))

    # errors
    errors = list(fleet_errors) + [e for h in health for e in h.errors]
    if errors:
        lines.append(Line(Content("")))
        lines.append(Line(_heading("Could not check", len(errors), False)))
        for e in errors:
            lines.append(Line(_line("⚠", "bold yellow", (e, ""))))
    return lines


class OverviewView(Vertical):
    """The Overview tab."""

    BINDINGS = bindings_for(commands_of("overview"))

    DEFAULT_CSS = """
    OverviewView { height: 1fr; }
    OverviewView #ov-header { height: 1; padding: 0 1; background: $boost; }
    OverviewView #ov-list { height: 1fr; border: round $primary-darken-1; }
    OverviewView #ov-list:focus { border: round $accent; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generation = 0
        self.health: list[RegionHealth] = []
        self.lines: list[Line] = []
        self.checking = False
        self.pending = False
        self.checked: datetime | None = None
        self.loads = 0
        self.bell = False
        self._seen_alarms: set[str] | None = None
        self._seen_failing: set[str] | None = None
        self.notified: list[str] = []  # what was notified (tests read it)

    def compose(self) -> ComposeResult:
        yield Static(id="ov-header")
        yield OptionList(id="ov-list")

    @property
    def ctx(self) -> AppContext:
        return context_of(self)

    def on_mount(self) -> None:
        self.bell = self.ctx.settings.bell
        self.ctx.fleet.snapshot_changed.subscribe(self, self._fleet_refreshed)
        self.query_one("#ov-list", OptionList).set_options([Option(Content("Checking…"), disabled=True)])
        self._render_header()
        self.query_one("#ov-list", OptionList).focus()

    # -- the lifecycle every tab has ------------------------------------------------------------------------
    def shown(self) -> None:
        self.query_one("#ov-list", OptionList).focus()

    def reload(self) -> None:
        """`r`: the Fleet first (the Overview follows its refresh, with the fresh snapshot)."""
        self.ctx.nav.show_tab("overview")
        fleet = self.app.query_one("#fleet-view")
        fleet.reload()

    def _fleet_refreshed(self, snapshot: object) -> None:
        if snapshot is not None:
            self.refresh_now()

    def _render_header(self) -> None:
        text = Text()
        text.append("Is anything wrong?", style="bold")
        if self.checked:
            text.append(f"   checked {self.checked.astimezone():%H:%M:%S}")
        if self.checking:
            text.append("   checking…", style="dim")
        text.append(f"   enter: explain   b: bell {'on' if self.bell else 'off'}", style="dim")
        self.query_one("#ov-header", Static).update(text)

    # -- loading --------------------------------------------------------------------------------------------
    def refresh_now(self) -> None:
        if self.checking:
            self.pending = True
            return
        self.checking = True
        self._render_header()
        self._load(self.generation)

    def reset(self, generation: int) -> None:
        self.generation = generation
        self.health = []
        self._seen_alarms = self._seen_failing = None
        self.query_one("#ov-list", OptionList).set_options([Option(Content("Checking…"), disabled=True)])

    @work(group="overview", exclusive=True, exit_on_error=False)
    async def _load(self, generation: int) -> None:
        ctx = self.ctx
        try:
            health = await ctx.run(gather_health(ctx.aws, ctx.fleet.nodes, ctx.regions))
        except Exception as exc:  # noqa: BLE001 - a bug, not an AWS error (those are lines): shown, and it goes on
            self.app.notify(clean(f"Overview: checking failed unexpectedly: {type(exc).__name__}: {exc}", 400),
                            title="Overview", severity="error", markup=False)
            health = self.health
        finally:
            self.checking = False
        if generation == self.generation:
            self.health = health
            self.checked = datetime.now(UTC)
            self.loads += 1
            self._notify_changes(health)
            self.show_lines()
        if self.pending:
            self.pending = False
            self.refresh_now()
        else:
            self._render_header()

    def show_lines(self) -> None:
        snapshot = self.ctx.fleet.snapshot
        nodes = list(snapshot.nodes) if snapshot else []
        fleet_errors = [clean(str(r.error), 300) for r in snapshot.errors] if snapshot else []
        self.lines = build_lines(nodes, self.health, fleet_errors)
        option_list = self.query_one("#ov-list", OptionList)
        highlighted = option_list.highlighted
        options = [Option(line.text, id=f"l{i}", disabled=line.jump is None) for i, line in enumerate(self.lines)]
        option_list.set_options(options)
        if highlighted is not None and highlighted < len(options) and not options[highlighted].disabled:
            option_list.highlighted = highlighted
        else:
            first = next((i for i, line in enumerate(self.lines) if line.jump is not None
                          and "✗" in line.text.plain), None)
            option_list.highlighted = first if first is not None else next(
                (i for i, line in enumerate(self.lines) if line.jump is not None), None)
        self._render_header()

    def _notify_changes(self, health: list[RegionHealth]) -> None:
        firing = {a.key: a for h in health for a in h.alarms if a.state == "ALARM"}
        failing = {c.key: c for h in health for c in h.canaries if c.failing}
        if self._seen_alarms is not None and self._seen_failing is not None:
            fresh = [a for k, a in firing.items() if k not in self._seen_alarms]
            broken = [c for k, c in failing.items() if k not in self._seen_failing]
            for a in fresh:
                message = f"{a.name} ({a.region}) is in ALARM: {a.reason}"
                self.notified.append(message)
                self.app.notify(clean(message, 300), title="Alarm", severity="error", markup=False, timeout=15)
            for c in broken:
                reason = c.last_run.reason if c.last_run else ""
                message = f"canary {c.name} ({c.region}) is failing: {reason}"
                self.notified.append(message)
                self.app.notify(clean(message, 300), title="Service down", severity="error", markup=False, timeout=15)
            if (fresh or broken) and self.bell:
                self.app.bell()
        self._seen_alarms, self._seen_failing = set(firing), set(failing)

    # -- keys -----------------------------------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#ov-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.open_line(event.option_index)

    def action_open(self) -> None:
        index = self.query_one("#ov-list", OptionList).highlighted
        if index is not None:
            self.open_line(index)

    def open_line(self, index: int) -> None:
        if not 0 <= index < len(self.lines):
            return
        jump = self.lines[index].jump
        if jump is None:
            return
        self.ctx.nav.jump_to(jump.tab, jump.filter, jump.panel)

    def action_toggle_bell(self) -> None:
        self.bell = not self.bell
        self._render_header()
        self.app.notify(f"Bell {'on' if self.bell else 'off'} for new alarms and failing canaries", markup=False)
