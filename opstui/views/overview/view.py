"""The Overview tab, the home screen: one screen that answers "is anything wrong?".

Sections, each line a problem (or one line saying what was checked when there is none), each line a jump
(enter) to the tab that explains it, already filtered:

    Nodes down          stopped instances, ConnectionLost agents, failed status checks -> Fleet, filtered
    Services down       canaries whose last run failed                                  -> Monitoring canaries
    Alarms in ALARM     every alarm in ALARM with its reason                            -> Monitoring alarms
    Errors in logs      alarms in ALARM fed by a log metric filter                      -> Logs, following the
                                                                                           filter's groups from
                                                                                           before it fired
    Slow or overloaded  CPU, memory, disk of nodes; slow canary runs (latency)          -> Monitoring / Fleet
    Backups             failed backup and copy jobs of the last 24 h, completed-with-issues  -> Backup jobs
    Could not check     a region or service that could not be read, as a line

A section that could not be checked says so in place and never shows a ✓ (`lines.py`). The tab refreshes
after each Fleet refresh (it follows the fleet model's signal; a refresh asked while one runs is queued, never
overlapping), in a worker on the AWS loop; what it asks each region is `opstui/health.py`'s. When an alarm
enters ALARM or a canary starts failing between two refreshes, a notification says so (and the terminal bell
rings when the `bell` setting is on; `b` toggles it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from opstui.health import RegionHealth, gather_health
from opstui.safe import clean
from opstui.views.common.tab import TabView, aws_work
from opstui.views.overview.lines import Line, build_lines


class OverviewList(OptionList):
    """The lines; j/k move like everywhere else."""

    BINDINGS = [Binding("j", "cursor_down", "Down", show=False), Binding("k", "cursor_up", "Up", show=False),
                Binding("g", "first", "First", show=False), Binding("G", "last", "Last", show=False)]


class OverviewView(TabView):
    """The Overview tab."""

    TAB_ID, TITLE = "overview", "Overview"
    HAS_FILTER = False

    DEFAULT_CSS = """
    OverviewView #ov-list { height: 1fr; border: round $primary-darken-1; }
    OverviewView #ov-list:focus { border: round $accent; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.health: list[RegionHealth] = []
        self.lines: list[Line] = []
        self.pending = False
        self.checked: datetime | None = None
        self.bell = False
        self.stale = False  # a Fleet refresh came while another tab was shown and the bell was off
        self._seen_alarms: set[str] | None = None
        self._seen_failing: set[str] | None = None
        self.notified: list[str] = []  # what was notified (tests read it)

    def compose_body(self) -> ComposeResult:
        yield OverviewList(id="ov-list")

    @property
    def checking(self) -> bool:
        return self.busy

    def on_mount(self) -> None:
        super().on_mount()
        self.bell = self.ctx.settings.bell
        self.ctx.fleet.snapshot_changed.subscribe(self, self._fleet_refreshed)
        self.query_one("#ov-list", OptionList).set_options([Option(Content("Checking…"), disabled=True)])
        if self.ctx.settings.tab == self.TAB_ID:  # focusing into a hidden tab would bring it to the front
            self.query_one("#ov-list", OptionList).focus()

    # -- the lifecycle every tab has ------------------------------------------------------------------------
    def shown(self) -> None:
        self.query_one("#ov-list", OptionList).focus()
        if self.stale:  # fleet refreshes came while another tab was shown: check now
            self.refresh_now()

    def reload(self) -> None:
        """`r`: the Fleet first (the Overview follows its refresh, with the fresh snapshot)."""
        self.ctx.nav.refresh_fleet()

    def reset(self, generation: int) -> None:
        self.health = []
        self.lines = []
        self.pending = False
        self._seen_alarms = self._seen_failing = None
        self.query_one("#ov-list", OptionList).set_options([Option(Content("Checking…"), disabled=True)])
        self.errors, self.failures = [], []
        self.render_header()
        self.render_status()

    def schedule(self) -> None:
        """The Fleet's refresh drives this tab: after a check, only a refresh asked meanwhile runs."""
        if self.pending:
            self.pending = False
            self.call_later(self.refresh_now)

    # -- header ---------------------------------------------------------------------------------------------
    def header_text(self) -> Text:
        text = Text()
        text.append("Is anything wrong?", style="bold")
        if self.checked:
            text.append(f"   checked {self.checked.astimezone():%H:%M:%S}")
        text.append(f"   enter: explain   b: bell {'on' if self.bell else 'off'}", style="dim")
        return text

    # -- loading --------------------------------------------------------------------------------------------
    def _fleet_refreshed(self, snapshot: object) -> None:
        """Check after each Fleet refresh while this tab is shown, or while the bell is on (it rings from any
        tab); otherwise only note it: the checks cost a dozen calls per region, and they run when the tab is
        shown again."""
        if snapshot is None:
            return
        if self.bell or self.is_active:
            self.refresh_now()
        else:
            self.stale = True

    def refresh_now(self) -> None:
        self.stale = False
        if self.busy:
            self.pending = True
            return
        self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        health = await ctx.fresh(gather_health(ctx.aws, ctx.fleet.nodes, ctx.regions), generation)
        self.health = health
        self.checked = datetime.now(UTC)
        self._notify_changes(health)
        self.show_lines()

    def show_lines(self) -> None:
        """Draw the lines; the cursor stays on the same item (by its key) when lines move under it."""
        snapshot = self.ctx.fleet.snapshot
        nodes = list(snapshot.nodes) if snapshot else []
        fleet_errors = [clean(str(r.error), 300) for r in snapshot.errors] if snapshot else []
        option_list = self.query_one("#ov-list", OptionList)
        old = option_list.highlighted
        old_key = self.lines[old].key if old is not None and 0 <= old < len(self.lines) else None
        self.lines = build_lines(nodes, self.health, fleet_errors)
        options = [Option(line.text, id=f"l{i}", disabled=line.jump is None) for i, line in enumerate(self.lines)]
        option_list.set_options(options)
        same = next((i for i, line in enumerate(self.lines) if old_key and line.key == old_key), None)
        if same is not None and not options[same].disabled:
            option_list.highlighted = same
        else:
            first = next((i for i, line in enumerate(self.lines) if line.jump is not None
                          and "✗" in line.text.plain), None)
            option_list.highlighted = first if first is not None else next(
                (i for i, line in enumerate(self.lines) if line.jump is not None), None)
        self.render_header()

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
        # a region that could not be read keeps what was seen there: its alarms are not "new" when it is back
        unread = {h.region for h in health if not h.checked("alarms")}
        unread_c = {h.region for h in health if not h.checked("canaries")}
        self._seen_alarms = set(firing) | {k for k in self._seen_alarms or set() if k.split("/", 1)[0] in unread}
        self._seen_failing = set(failing) | {k for k in self._seen_failing or set() if k.split("/", 1)[0] in unread_c}

    # -- keys -----------------------------------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#ov-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.open_line(event.option_index)

    def action_open(self) -> None:
        index = self.query_one("#ov-list", OptionList).highlighted
        if index is not None:
            self.open_line(index)

    def action_panel_action(self, name: str) -> None:
        if name == "open":
            self.action_open()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "panel_action":
            return bool(parameters) and parameters[0] == "open"
        return True

    def open_line(self, index: int) -> None:
        if not 0 <= index < len(self.lines):
            return
        jump = self.lines[index].jump
        if jump is None:
            return
        if jump.tab == "logs":  # Monitoring's `L`: the groups of the metric filters, from before it fired
            namespace, name = jump.metric
            self.ctx.nav.open_metric_logs(jump.region, name, namespace, jump.at_ms)
            return
        self.ctx.nav.jump_to(jump.tab, jump.filter, jump.panel)

    def action_toggle_bell(self) -> None:
        self.bell = not self.bell
        self.render_header()
        self.app.notify(f"Bell {'on' if self.bell else 'off'} for new alarms and failing canaries", markup=False)
