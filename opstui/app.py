"""The opstui App: header, tabs, global bindings, command palette, notifications.

The App owns the AWS context (an `AwsClients` living on the background `AwsLoop`) and a generation number:
switching profile or regions makes a new context and bumps the generation, so results of the previous
account that are still in flight are dropped instead of shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import replace
from datetime import datetime
from functools import partial

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from opstui import __version__
from opstui.aws.clients import AwsClients, StaticCredentials
from opstui.aws.errors import OpsError
from opstui.aws.runner import AwsLoop
from opstui.aws.sts import caller_identity
from opstui.commands import (
    BACKUP_COMMANDS,
    FLEET_COMMANDS,
    GLOBAL_COMMANDS,
    INVENTORY_COMMANDS,
    MONITORING_COMMANDS,
    OVERVIEW_COMMANDS,
    RUN_COMMANDS,
    SHELL_COMMANDS,
)
from opstui.config import Settings
from opstui.safe import clean
from opstui.views.backup import BackupView
from opstui.views.common.help import HelpScreen
from opstui.views.fleet import FLEET_COLUMNS, FleetView
from opstui.views.inventory import InventoryView
from opstui.views.monitoring import MonitoringView
from opstui.views.overview import OverviewView
from opstui.views.runcommand import RunCommandView
from opstui.views.shells import ShellsView

COMMON_REGIONS = (
    "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1",
    "ap-northeast-1", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip


class StatusBar(Static):
    """Account, profile, regions, READ-ONLY badge and last refresh time, as literal text."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """


class OpsCommands(Provider):
    """Palette entries for every action, every column sort, and profile/region switching."""

    def _commands(self) -> list[tuple[str, object, str]]:
        app: OpsApp = self.app  # type: ignore[assignment]
        cmds: list[tuple[str, object, str]] = []
        for cmd in (*GLOBAL_COMMANDS, *OVERVIEW_COMMANDS, *FLEET_COMMANDS, *SHELL_COMMANDS, *RUN_COMMANDS,
                    *INVENTORY_COMMANDS, *MONITORING_COMMANDS, *BACKUP_COMMANDS):
            if cmd.action:
                cmds.append((cmd.title, partial(app.run_action, cmd.action), cmd.help))
        for col in FLEET_COLUMNS:
            cmds.append((f"Fleet: sort by {col.label}", partial(app.fleet_sort, col.key), "Sort the fleet table"))
        cmds.append(("Tab: Overview", partial(app.show_tab, "overview"), "Go to the Overview (is anything wrong?)"))
        cmds.append(("Tab: Fleet", partial(app.show_tab, "fleet"), "Go to the Fleet tab"))
        cmds.append(("Tab: Shells", partial(app.show_tab, "shells"), "Go to the Shells tab"))
        cmds.append(("Tab: Run Command", partial(app.show_tab, "run"), "Go to the Run Command tab"))
        cmds.append(("Tab: Inventory", partial(app.show_tab, "inventory"), "Go to the Inventory tab"))
        cmds.append(("Tab: Monitoring", partial(app.show_tab, "monitoring"), "Go to the Monitoring tab"))
        cmds.append(("Tab: Backup", partial(app.show_tab, "backup"), "Go to the Backup tab"))
        online = [n for n in app.fleet_view.table.rows if n.ping_status == "Online"][:2000]
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


class OpsApp(App[None]):
    TITLE = "opstui"
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

    def __init__(self, settings: Settings, *, credentials: StaticCredentials | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.initial_regions = tuple(settings.regions)
        self._credentials = credentials
        self.aws_loop = AwsLoop().start()
        self.aws = self._make_clients()
        self.generation = 0
        self.account = "…"
        self.last_refresh: datetime | None = None
        self.failing_regions: list[str] = []
        self._gc_frozen = False
        if settings.theme:
            with contextlib.suppress(Exception):
                self.theme = settings.theme

    def _make_clients(self) -> AwsClients:
        return AwsClients(
            profile=self.settings.profile,
            endpoint_url=self.settings.endpoint_url,
            read_only=self.settings.read_only,
            credentials=self._credentials,
        )

    # -- layout -----------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="overview"):
                yield OverviewView(id="overview-view")
            with TabPane("Fleet", id="fleet"):
                yield FleetView(id="fleet-view")
            with TabPane("Shells", id="shells"):
                yield ShellsView(id="shells-view")
            with TabPane("Run Command", id="run"):
                yield RunCommandView(id="run-view")
            with TabPane("Inventory", id="inventory"):
                yield InventoryView(id="inventory-view")
            with TabPane("Monitoring", id="monitoring"):
                yield MonitoringView(id="monitoring-view")
            with TabPane("Backup", id="backup"):
                yield BackupView(id="backup-view")
        yield Footer()

    def on_mount(self) -> None:
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
        self.fleet_view.refresh_now()

    @property
    def fleet_view(self) -> FleetView:
        return self.query_one(FleetView)

    # -- status bar -------------------------------------------------------------------------------------
    def _render_status(self) -> None:
        text = Text()
        text.append(f"opstui {__version__}", style="bold")
        text.append("  account ")
        text.append(clean(self.account, 40), style="bold")
        text.append("  profile ")
        text.append(clean(self.settings.profile or ("demo" if self.settings.demo else "default"), 40), style="bold")
        text.append("  regions ")
        text.append(clean(", ".join(self.settings.regions) or "none", 120), style="bold")
        if self.settings.read_only:
            text.append("  ")
            text.append(" READ-ONLY ", style="bold black on yellow")
        if self.settings.demo:
            text.append("  ")
            text.append(" SANDBOX ", style="bold black on cyan")
        if self.last_refresh:
            text.append(f"  refreshed {self.last_refresh:%H:%M:%S}")
        if self.failing_regions:
            text.append("  ")
            text.append(f"⚠ {clean(', '.join(self.failing_regions), 80)} failing", style="bold red")
        self.query_one(StatusBar).update(text)

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
            self.account = ident.account
            self._render_status()

    def on_fleet_view_refreshed(self, message: FleetView.Refreshed) -> None:
        if message.generation != self.generation:
            return
        if not self._gc_frozen:
            # Everything alive after the first load (Textual, botocore's models, the app) lives for the whole
            # run: move it out of the cyclic GC's sight, so full collections no longer pause the UI for the
            # time it takes to walk it (hundreds of ms with a big fleet). Refcounting still frees as usual.
            gc.collect()
            gc.freeze()
            self._gc_frozen = True
        self.last_refresh = datetime.now()
        self.failing_regions = [r.region for r in message.snapshot.errors]
        self._render_status()
        self.overview_view.refresh_now()  # the Overview follows the Fleet's refresh interval
        self.monitoring_view.fleet_changed()

    # -- actions ----------------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        if self.query_one("#tabs", TabbedContent).active == "inventory":
            self.inventory_view.reload()
            return
        if self.query_one("#tabs", TabbedContent).active == "monitoring":
            self.monitoring_view.reload()
            return
        if self.query_one("#tabs", TabbedContent).active == "backup":
            self.backup_view.reload()
            return
        self.fleet_view.refresh_now()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_jump(self) -> None:
        self.action_command_palette()

    @property
    def shells_view(self) -> ShellsView:
        return self.query_one(ShellsView)

    def open_shells(self, nodes: list) -> None:
        """One shell tab per node (the Fleet's `s`, the palette's "Shell: <name>")."""
        self.show_tab("shells")

        async def open_all() -> None:
            for node in nodes:
                await self.shells_view.open_shell(node)

        self.run_worker(open_all(), group="open-shells", exit_on_error=False)

    def action_shells(self, name: str) -> None:
        self.show_tab("shells")
        result = getattr(self.shells_view, f"action_{name}")()
        if asyncio.iscoroutine(result):
            self.run_worker(result, exit_on_error=False)

    async def on_unmount(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.shells_view.close_all(), 5)

    async def action_quit(self) -> None:
        """Terminate open sessions (so none is left running on the nodes), then exit."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.shells_view.close_all(), 5)
        self.exit()

    @property
    def run_view(self) -> RunCommandView:
        return self.query_one(RunCommandView)

    def open_run_command(self, nodes: list) -> None:
        """The Run Command tab with these nodes as the target (the Fleet's `c`)."""
        self.run_view.use_fleet_nodes(nodes)
        self.show_tab("run")

    def action_run(self, name: str) -> None:
        self.show_tab("run")
        result = getattr(self.run_view, f"action_{name}")()
        if asyncio.iscoroutine(result):
            self.run_worker(result, exit_on_error=False)

    def action_fleet(self, name: str) -> None:
        self.show_tab("fleet")
        getattr(self.fleet_view, f"action_{name}")()

    @property
    def inventory_view(self) -> InventoryView:
        return self.query_one(InventoryView)

    def action_inventory(self, name: str) -> None:
        self.show_tab("inventory")
        getattr(self.inventory_view, f"action_{name}")()

    @property
    def monitoring_view(self) -> MonitoringView:
        return self.query_one(MonitoringView)

    def action_monitoring(self, name: str) -> None:
        self.show_tab("monitoring")
        getattr(self.monitoring_view, f"action_{name}")()

    @property
    def backup_view(self) -> BackupView:
        return self.query_one(BackupView)

    def action_backup(self, name: str) -> None:
        self.show_tab("backup")
        getattr(self.backup_view, f"action_{name}")()

    @property
    def overview_view(self) -> OverviewView:
        return self.query_one(OverviewView)

    def action_overview(self, name: str) -> None:
        self.show_tab("overview")
        getattr(self.overview_view, f"action_{name}")()

    def jump_to(self, tab: str, filter_text: str = "", panel: str = "") -> None:
        """The Overview's jumps: the tab that explains a line, filtered to it."""
        if tab == "fleet":
            self.show_tab("fleet")
            box = self.fleet_view.query_one("#fleet-filter", Input)
            box.value = filter_text
            box.set_class(bool(filter_text), "-shown")
            self.fleet_view.set_filter(filter_text)
            self.fleet_view.table.focus()
        elif tab == "monitoring":
            self.show_tab("monitoring")
            self.monitoring_view.show_panel(panel or "alarms", filter_text)
        elif tab == "backup":
            self.show_tab("backup")
            self.backup_view.show_panel("jobs")  # failures and completed-with-issues come first

    def fleet_sort(self, column: str) -> None:
        self.show_tab("fleet")
        self.fleet_view.table.sort_by(column)

    def show_tab(self, tab_id: str) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        if tabs.active != tab_id:
            tabs.active = tab_id
        else:
            self._focus_tab(tab_id)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # a late event for a tab the user already left (keys arriving in one burst over a slow link): focusing
        # into it would make Textual switch back to it
        if event.tabbed_content.id == "tabs" and event.pane.id and event.tabbed_content.active == event.pane.id:
            self._focus_tab(event.pane.id)

    def _focus_tab(self, tab_id: str) -> None:
        """Put the keyboard where the tab's work is: the fleet table, or the active shell's terminal."""
        if tab_id == "fleet":
            self.fleet_view.table.focus()
        elif tab_id == "shells":
            session = self.shells_view.active
            if session is not None:
                session.terminal.focus()
        elif tab_id == "run":
            self.run_view.sync_fleet_selection()
            self.run_view.focus_current()
        elif tab_id == "inventory":
            self.inventory_view.on_shown()
        elif tab_id == "monitoring":
            self.monitoring_view.on_shown()
        elif tab_id == "backup":
            self.backup_view.on_shown()
        elif tab_id == "overview":
            self.overview_view.focus_list()

    def available_profiles(self) -> list[str]:
        if self.settings.demo:
            return []
        try:
            return list(self.aws.session.available_profiles)
        except Exception:
            return []

    def switch(self, *, profile: str | None = None, regions: tuple[str, ...] | None = None) -> None:
        """Change profile and/or regions. Nothing of the previous context is shown afterwards."""
        old = self.aws
        changes = {}
        if profile is not None:
            changes["profile"] = profile
        if regions is not None:
            changes["regions"] = tuple(regions)
        self.settings = replace(self.settings, **changes)
        self.generation += 1
        self.aws = self._make_clients()
        self.account = "…"
        self.last_refresh = None
        self.failing_regions = []
        self._render_status()
        self.run_worker(self.aws_loop.run(old.close()), group="close-clients", exit_on_error=False)
        self.fleet_view.reset(self.generation)
        self.run_view.reload_documents()
        self.inventory_view.reset(self.generation)
        self.monitoring_view.reset(self.generation)
        self.backup_view.reset(self.generation)
        self.overview_view.reset(self.generation)
        self._load_identity(self.generation)
        self.notify(
            f"Now showing profile {self.settings.profile or 'default'} in {', '.join(self.settings.regions)}",
            markup=False,
        )

    def close_aws(self) -> None:
        """Close clients and stop the AWS loop (called once the app has exited)."""
        with contextlib.suppress(Exception):
            self.aws_loop.run_sync(self._close_clients(), timeout=5)
        self.aws_loop.stop()

    async def _close_clients(self) -> None:
        await self.aws.close()
