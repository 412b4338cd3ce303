"""The opstui App: header, the tab registry, global bindings, command palette, notifications.

The App owns the typed context (`views/common/context.py`: the `AwsClients` living on the background
`AwsLoop`, the settings, the generation and the fleet model) and the tab registry: every tab is created,
shown, reloaded and reset the same way (`shown()`, `reload()`, `reset(generation)`), and every command of
the registry runs through one dispatch (`action_command`). Switching profile or regions makes a new context
and bumps the generation, so results of the previous account still in flight are dropped instead of shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from opstui import __version__
from opstui.aws.clients import AwsClients, StaticCredentials
from opstui.aws.errors import OpsError
from opstui.aws.models import FleetSnapshot
from opstui.aws.runner import AwsLoop
from opstui.aws.sts import caller_identity
from opstui.commands import ALL_COMMANDS, BY_ID, GLOBAL_COMMANDS, TABS
from opstui.config import Settings
from opstui.safe import clean
from opstui.views.backup import BackupView
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.context import AppContext, FleetModel
from opstui.views.common.footer import KeyFooter
from opstui.views.common.help import HelpScreen
from opstui.views.common.layout import HORIZONTAL_BREAKPOINTS, VERTICAL_BREAKPOINTS, breakpoint_classes
from opstui.views.common.tab import TabView
from opstui.views.fleet import FLEET_COLUMNS, FleetView
from opstui.views.inventory import InventoryView
from opstui.views.logs import LogsView
from opstui.views.monitoring import MonitoringView
from opstui.views.overview import OverviewView
from opstui.views.runcommand import RunCommandView
from opstui.views.shells import ShellsView

QUIT_WAIT = 1.0  # seconds quitting waits for TerminateSession calls before it exits anyway

COMMON_REGIONS = (
    "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1",
    "ap-northeast-1", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip


class StatusBar(Static):
    """Account, profile, regions, READ-ONLY badge and last refresh time, as literal text, on one line.

    The parts come with a drop rank (:data:`STATUS_DROP_ORDER`); when the line is wider than the terminal the
    highest ranks go first, so at 80 columns the badges (rank 0, never dropped) and the failing regions stay.
    """

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parts: list[tuple[str, Text]] = []

    def show(self, parts: list[tuple[str, Text]]) -> None:
        self.parts = parts
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.content_region.width if self.is_mounted else 0
        parts = list(self.parts)
        for name in STATUS_DROP_ORDER:
            if width <= 0 or sum(p.cell_len for _, p in parts) <= width:
                break
            parts = [(n, p) for n, p in parts if n != name]
        self.update(Text("").join(p for _, p in parts))


#: status bar parts, dropped in this order when the line does not fit (badges and failures are never dropped)
STATUS_DROP_ORDER = ("version", "refreshed", "profile", "account", "regions")


class OpsCommands(Provider):
    """Palette entries for every command of the registry, every column sort, shells, profiles and regions."""

    def _commands(self) -> list[tuple[str, object, str]]:
        app: OpsApp = self.app  # type: ignore[assignment]
        cmds: list[tuple[str, object, str]] = []
        for cmd in ALL_COMMANDS:
            if cmd.action and cmd.id != "jump":
                cmds.append((cmd.title, partial(app.run_action, cmd.app_action), cmd.help))
        for col in FLEET_COLUMNS:
            cmds.append((f"Fleet: sort by {col.label}", partial(app.fleet_sort, col.key), "Sort the fleet table"))
        online = [n for n in app.ctx.fleet.nodes if n.ping_status == "Online"][:2000]
        for node in online:
            title = f"Shell: {clean(node.name or node.instance_id, 60)} ({node.instance_id}, {node.region})"
            cmds.append((title, partial(app.open_shells, [node]), "Open a Session Manager shell"))
        for profile in app.available_profiles():
            cmds.append(
                (f"Switch profile: {clean(profile, 60)}", partial(app.switch, profile=profile), "Use this AWS profile")
            )
        regions = list(dict.fromkeys((*app.settings.regions, *app.initial_regions, *COMMON_REGIONS)))
        for region in regions:
            cmds.append((f"Region: only {region}", partial(app.switch, regions=(region,)), "Show this region alone"))
            if region not in app.settings.regions:
                cmds.append(
                    (f"Region: add {region}", partial(app.switch, regions=(*app.settings.regions, region)),
                     "Show this region too")
                )
        if tuple(app.initial_regions) != tuple(app.settings.regions):
            cmds.append(("Region: back to the configured regions",
                         partial(app.switch, regions=tuple(app.initial_regions)), ""))
        return cmds

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(Content(title), callback, text=title, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, literal_highlight(matcher, title), callback, text=title,  # type: ignore[arg-type]
                          help=help_text)


def literal_highlight(matcher: Matcher, title: str) -> Content:
    """Like `Matcher.highlight`, but the title stays literal text: node names are untrusted, and
    Matcher.highlight parses its argument as markup (a tag named `[link=…]` would become a link)."""
    content = Content(title)
    _, offsets = matcher.fuzzy_search.match(matcher.query, title)
    for offset in offsets:
        if not title[offset].isspace():
            content = content.stylize("bold underline", offset, offset + 1)
    return content


#: app actions a modal screen keeps for itself: it owns the keyboard until it is answered
MODAL_BLOCKED = frozenset({"show_tab", "command", "jump", "help", "refresh", "command_palette"})

#: the tab registry: id (as in the command registry's TABS) -> the view class
TAB_VIEWS: dict[str, type[Widget]] = {
    "overview": OverviewView, "fleet": FleetView, "shells": ShellsView, "run": RunCommandView,
    "inventory": InventoryView, "monitoring": MonitoringView, "backup": BackupView, "logs": LogsView,
}


class OpsApp(App[None]):
    TITLE = "opstui"
    HORIZONTAL_BREAKPOINTS = HORIZONTAL_BREAKPOINTS  # the screen's -narrow / -wide, -short / -tall classes
    VERTICAL_BREAKPOINTS = VERTICAL_BREAKPOINTS  # (views/common/layout.py: 80×24 first)
    COMMANDS = App.COMMANDS | {OpsCommands}
    CSS = """
    Screen { layout: vertical; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS = [
        Binding(cmd.key, cmd.action, cmd.title, show=cmd.show, id=cmd.id, tooltip=cmd.help)
        for cmd in GLOBAL_COMMANDS
    ]

    def __init__(self, settings: Settings, *, credentials: StaticCredentials | None = None,
                 freeze_gc: bool = True) -> None:
        """``freeze_gc=False`` for a process that runs many apps one after another (the test suite): a frozen
        heap is never collected, so each app's leftovers would stay for the rest of the process."""
        super().__init__()
        self._freeze_gc = freeze_gc
        self.initial_regions = tuple(settings.regions)
        self._credentials = credentials
        self.ctx = AppContext(settings=settings, aws=self._make_clients(settings), loop=AwsLoop().start(),
                              fleet=FleetModel(self), nav=self)
        self.account = "…"
        self.last_refresh: datetime | None = None
        self.failing_regions: list[str] = []
        self.closing = ""  # "closing 2 session(s)…" while quitting
        self._gc_frozen = False
        if settings.theme:
            with contextlib.suppress(Exception):
                self.theme = settings.theme

    # the context's parts, for the app's own code (views use `context_of(widget)`)
    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def aws(self) -> AwsClients:
        return self.ctx.aws

    @aws.setter
    def aws(self, clients: AwsClients) -> None:  # tests swap in clients with other retry settings
        self.ctx.aws = clients

    @property
    def aws_loop(self) -> AwsLoop:
        return self.ctx.loop

    @property
    def generation(self) -> int:
        return self.ctx.generation

    def _make_clients(self, settings: Settings) -> AwsClients:
        return AwsClients(
            profile=settings.profile,
            endpoint_url=settings.endpoint_url,
            read_only=settings.read_only,
            credentials=self._credentials,
        )

    # -- layout -----------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with TabbedContent(id="tabs", initial=self.settings.tab):
            for tab_id, title, _ in TABS:
                with TabPane(title, id=tab_id):
                    yield TAB_VIEWS[tab_id](id=f"{tab_id}-view")
        yield KeyFooter()

    def get_default_screen(self) -> Screen:
        """Textual's default screen, born with the size classes its first resize would give it."""
        return Screen(id="_default", classes=" ".join(breakpoint_classes(*self.size)))

    def tab(self, tab_id: str) -> Any:
        """The view of a tab (the registry's lifecycle: shown(), reload(), reset(generation))."""
        return self.query_one(f"#{tab_id}-view")

    @property
    def active_tab(self) -> str:
        return str(self.query_one("#tabs", TabbedContent).active)

    def on_mount(self) -> None:
        keymap = dict(self.settings.keymap)
        unknown = sorted(set(keymap) - set(BY_ID))
        if unknown:
            self.notify(f"keymap: unknown command id(s) {', '.join(unknown)} (see ? for the ids)",
                        severity="warning", markup=False, timeout=15)
        self.set_keymap({k: v for k, v in keymap.items() if k in BY_ID})
        self.ctx.fleet.snapshot_changed.subscribe(self, self._fleet_changed)
        self._render_status()
        if not self.settings.regions:
            self.notify(
                "No region configured: pass --region, set AWS_REGION, or add regions to the config file.",
                severity="error",
                markup=False,
                timeout=30,
            )
            return
        self._load_identity(self.generation)
        self.tab("fleet").refresh_now()

    # views reach the others through the context, never by these (kept for the tests and the bench)
    @property
    def fleet_view(self) -> FleetView:
        return self.query_one(FleetView)

    @property
    def shells_view(self) -> ShellsView:
        return self.query_one(ShellsView)

    @property
    def run_view(self) -> RunCommandView:
        return self.query_one(RunCommandView)

    @property
    def inventory_view(self) -> InventoryView:
        return self.query_one(InventoryView)

    @property
    def monitoring_view(self) -> MonitoringView:
        return self.query_one(MonitoringView)

    @property
    def backup_view(self) -> BackupView:
        return self.query_one(BackupView)

    @property
    def logs_view(self) -> LogsView:
        return self.query_one(LogsView)

    @property
    def overview_view(self) -> OverviewView:
        return self.query_one(OverviewView)

    # -- status bar -------------------------------------------------------------------------------------
    def _render_status(self) -> None:
        """Badges first (an 80-column terminal must never lose READ-ONLY or SANDBOX), then who and where; the
        bar drops the parts of STATUS_DROP_ORDER that do not fit."""
        parts: list[tuple[str, Text]] = [("app", Text("opstui", style="bold"))]
        if self.settings.read_only:
            parts.append(("badge", Text.assemble(" ", (" READ-ONLY ", "bold black on yellow"))))
        if self.settings.demo:
            parts.append(("badge", Text.assemble(" ", (" SANDBOX ", "bold black on cyan"))))
        if self.closing:
            parts.append(("closing", Text.assemble("  ", (self.closing, "bold"))))
            self.query_one(StatusBar).show(parts)
            return
        if self.failing_regions:
            parts.append(("failing", Text.assemble(
                "  ", (f"⚠ {clean(', '.join(self.failing_regions), 80)} failing", "bold red"))))
        parts.append(("account", Text.assemble("  account ", (clean(self.account, 40), "bold"))))
        profile = self.settings.profile or ("demo" if self.settings.demo else "default")
        parts.append(("profile", Text.assemble("  profile ", (clean(profile, 40), "bold"))))
        parts.append(("regions", Text.assemble(
            "  regions ", (clean(", ".join(self.settings.regions) or "none", 120), "bold"))))
        if self.last_refresh:
            parts.append(("refreshed", Text(f"  refreshed {self.last_refresh:%H:%M:%S}")))
        parts.append(("version", Text(f"  v{__version__}", style="dim")))
        self.query_one(StatusBar).show(parts)

    @work(group="identity", exclusive=True, exit_on_error=False)
    async def _load_identity(self, generation: int) -> None:
        region = self.settings.regions[0]
        try:
            ident = await self.aws_loop.run(caller_identity(self.aws, region))
        except OpsError as err:
            if generation == self.generation:
                self.account = "?"
                self._render_status()
                self.notify(str(err), title="Who am I (STS)", severity="warning", markup=False)
            return
        if generation == self.generation:
            self.account = self.ctx.account = ident.account
            self._render_status()

    def _fleet_changed(self, snapshot: FleetSnapshot | None) -> None:
        """Each finished Fleet refresh (the Overview and Monitoring follow the same signal themselves)."""
        if snapshot is None:
            return
        if self._freeze_gc and not self._gc_frozen:
            # Everything alive after the first load (Textual, botocore's models, the app) lives for the whole
            # run: move it out of the cyclic GC's sight, so full collections no longer pause the UI for the
            # time it takes to walk it (hundreds of ms with a big fleet). Refcounting still frees as usual.
            gc.collect()
            gc.freeze()
            self._gc_frozen = True
        self.last_refresh = datetime.now()
        self.failing_regions = [r.region for r in snapshot.errors]
        self._render_status()

    # -- the command registry's dispatch ------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a modal is open it owns the keyboard: no tab switch, palette, help, refresh or command."""
        return not (self.screen.is_modal and action in MODAL_BLOCKED)

    def action_command(self, command_id: str) -> None:
        """Run a registry command from anywhere: its tab (and panel) first, then its action there."""
        cmd = BY_ID[command_id]
        if not cmd.tab:
            self.call_later(self.run_action, cmd.action)
            return
        self.show_tab(cmd.tab)
        view = self.tab(cmd.tab)
        if isinstance(view, TabView):
            view.run_command(cmd)
            return
        target: Any = view
        if cmd.panel and hasattr(view, "panel_named"):
            if getattr(view, "panel", "") != cmd.panel:
                view.show_panel(cmd.panel)
            target = view.panel_named(cmd.panel)
        if not hasattr(target, f"action_{cmd.action}") and target is not view:
            target = view
        result = getattr(target, f"action_{cmd.action}")()
        if asyncio.iscoroutine(result):
            self.run_worker(result, exit_on_error=False)

    def action_show_tab(self, tab_id: str) -> None:
        self.show_tab(tab_id)

    def action_refresh(self) -> None:
        self.tab(self.active_tab).reload()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(dict(self.settings.keymap)))

    def action_jump(self) -> None:
        self.action_command_palette()

    # -- the Navigator the views use (context.nav) --------------------------------------------------------
    def open_shells(self, nodes: list) -> None:
        """One shell tab per node (the Fleet's `s`, the palette's "Shell: <name>")."""
        self.show_tab("shells")

        async def open_all() -> None:
            for node in nodes:
                await self.shells_view.open_shell(node)

        self.run_worker(open_all(), group="open-shells", exit_on_error=False)

    def open_run_command(self, nodes: list) -> None:
        """The Run Command tab with these nodes as the target (the Fleet's `c`)."""
        self.run_view.use_fleet_nodes(nodes)
        self.show_tab("run")

    def open_node_logs(self, nodes: list) -> None:
        """The Logs tab following the nodes' streams in every group (the Fleet's `L`)."""
        self.show_tab("logs")
        self.logs_view.open_nodes(nodes)

    def open_logs(self, targets: list, since_ms: int | None = None) -> None:
        """The Logs tab following these targets (a Run Command node's output stream)."""
        self.show_tab("logs")
        self.logs_view.follow(targets, since_ms=since_ms)

    def open_metric_logs(self, region: str, metric_name: str, namespace: str, at_ms: int | None = None) -> None:
        """The Logs tab following the groups whose metric filters feed this metric (Monitoring's `L`)."""
        self.show_tab("logs")
        self.logs_view.open_metric(region, metric_name, namespace, at_ms)

    def jump_to(self, tab: str, filter_text: str = "", panel: str = "") -> None:
        """The Overview's jumps: the tab that explains a line, filtered to it."""
        if tab == "fleet":
            self.show_tab("fleet")
            self.ctx.fleet.request_filter(filter_text)
        elif tab == "monitoring":
            self.show_tab("monitoring")
            self.monitoring_view.show_panel(panel or "alarms", filter_text)
        elif tab == "logs":
            self.show_tab("logs")
            self.logs_view.show_panel(panel or "groups", filter_text)
        elif tab == "backup":
            self.show_tab("backup")
            self.backup_view.show_panel("jobs")  # failures and completed-with-issues come first

    def refresh_fleet(self) -> None:
        self.fleet_view.refresh_now()

    def fleet_sort(self, column: str) -> None:
        self.show_tab("fleet")
        self.fleet_view.table.sort_by(column)

    def show_tab(self, tab_id: str) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        if tabs.active != tab_id:
            tabs.active = tab_id
        else:
            self.tab(tab_id).shown()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # a late event for a tab the user already left (keys arriving in one burst over a slow link): focusing
        # into it would make Textual switch back to it
        if event.tabbed_content.id == "tabs" and event.pane.id and event.tabbed_content.active == event.pane.id:
            self.tab(event.pane.id).shown()

    # -- quitting -----------------------------------------------------------------------------------------
    def get_system_commands(self, screen: Any) -> Any:
        """Textual's own palette entries, minus its "Quit" (the registry's Quit asks first when work is open)."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command

    def quit_reasons(self) -> list[str]:
        """What quitting would end: open shell sessions, a Run Command still being followed."""
        reasons = []
        open_shells = [s for s in self.shells_view.sessions() if s.state != "closed"]
        if open_shells:
            reasons.append(f"{len(open_shells)} shell session(s) open: they will be terminated")
        run = getattr(self.tab("run"), "run", None)
        if run is not None and not getattr(run, "finished", True):
            reasons.append("a Run Command is still running: it goes on on the nodes, but opstui stops following "
                           "it (its output stays in SSM and CloudWatch Logs)")
        return reasons

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def action_quit(self) -> None:
        """`q`: ask first when shells are open or a run is in progress; then close and exit within ~1 s."""
        reasons = self.quit_reasons()
        if reasons and not await self.push_screen_wait(ConfirmScreen("Quit opstui?", reasons, yes="Quit")):
            return
        await self.shut_down()

    async def shut_down(self) -> None:
        """Terminate the shell sessions (so none is left running on the nodes), saying so, then exit."""
        sessions = [s for s in self.shells_view.sessions() if s.state != "closed"]
        if sessions:
            self.closing = f"closing {len(sessions)} session(s)…"
            self._render_status()
            await asyncio.sleep(0.05)  # let the line paint
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.shells_view.close_all(quick=True), QUIT_WAIT)
        self.exit()

    async def on_unmount(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.shells_view.close_all(quick=True), QUIT_WAIT)

    # -- profile and regions ------------------------------------------------------------------------------
    def available_profiles(self) -> list[str]:
        if self.settings.demo:
            return []
        try:
            return list(self.aws.session.available_profiles)
        except Exception:
            return []

    def switch(self, *, profile: str | None = None, regions: tuple[str, ...] | None = None) -> None:
        """Change profile and/or regions. Nothing of the previous context is shown afterwards."""
        old = self.ctx.aws
        changes: dict[str, Any] = {}
        if profile is not None:
            changes["profile"] = profile
        if regions is not None:
            changes["regions"] = tuple(regions)
        self.ctx.settings = replace(self.settings, **changes)
        self.ctx.generation += 1
        self.ctx.aws = self._make_clients(self.settings)
        self.account, self.ctx.account = "…", ""
        self.last_refresh = None
        self.failing_regions = []
        self._render_status()
        self.run_worker(self.aws_loop.run(old.close()), group="close-clients", exit_on_error=False)
        for tab_id, _, _ in TABS:
            self.tab(tab_id).reset(self.generation)
        self._load_identity(self.generation)
        self.notify(
            f"Now showing profile {self.settings.profile or 'default'} in {', '.join(self.settings.regions)}",
            markup=False,
        )

    def close_aws(self) -> None:
        """Close clients and stop the AWS loop (called once the app has exited; a second call does nothing)."""
        if getattr(self, "_aws_closed", False):
            return
        self._aws_closed = True
        with contextlib.suppress(Exception):
            self.aws_loop.run_sync(self._close_clients(), timeout=5)
        self.aws_loop.stop()

    async def _close_clients(self) -> None:
        await self.aws.close()
