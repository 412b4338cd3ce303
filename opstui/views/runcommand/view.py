"""The Run Command tab: compose a command, confirm its blast radius, follow it live, read it grouped.

Three panels on the shared TabView (views/common/tab.py): the form (`form.py`), the live run (`run.py`, its
actions in `run_actions.py`) and the history (`history.py`). They are not switched with number keys: `n`
brings the form back as it was left, a run sent, re-run or reopened brings up the run panel (each panel
posts :class:`RunStarted`), `h` the history, and esc goes back from there. Everything non-visual is the
`opstui.runs` package: target parsing and blast radius (`targets`), request checks and sending (`launch`),
polling, output and grouping (`tracker`).

The targets come from the Fleet through the app's fleet model: its selection (whenever the tab is shown, or
changes while it is) and its snapshot. The tab has no filter and no refresh timer: the form holds what is
being typed, a run polls itself every POLL_INTERVAL, and `r` reloads the panel in front (the history also
reloads whenever it comes up) and, outside the history, the Fleet the targets are read from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on

from opstui.aws.models import FleetNode
from opstui.commands import BY_ID, key_label
from opstui.views.common.tab import TabView
from opstui.views.runcommand.active import ActiveRun, RunStarted
from opstui.views.runcommand.fields import RunForm
from opstui.views.runcommand.form import FormPanel
from opstui.views.runcommand.history import HistoryPanel
from opstui.views.runcommand.run import RunPanel

#: the registry command that brings each panel up (the run panel comes up with a run)
SWITCHES = {"form": "run-new", "history": "run-history"}


class RunCommandView(TabView):

    #: no periodic reload: the form must not change under the user's hands, and a run polls itself
    AUTO_REFRESH = False
    TAB_ID, TITLE = "run", "Run Command"
    PANELS = (FormPanel, RunPanel, HistoryPanel)
    HAS_FILTER = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent_runs = 0  # runs started (tests wait on it)

    def on_mount(self) -> None:
        super().on_mount()
        self.ctx.fleet.selection_changed.subscribe(self, self._selection_changed)

    def header_text(self) -> Text:
        """The panels with the key that brings each up (n, h; not numbers), then the base's read-only line."""
        text = Text()
        for cls in self.PANELS:
            key = key_label(BY_ID[SWITCHES[cls.NAME]].key) if cls.NAME in SWITCHES else ""
            text.append(f" {cls.TITLE}{f' ({key})' if key else ''} ",
                        style="bold reverse" if self.panel == cls.NAME else "")
            text.append(" ")
        text.append_text(super().header_text())
        return text

    # -- the lifecycle the app calls ---------------------------------------------------------------------------
    def shown(self) -> None:
        self.sync_fleet_selection()
        super().shown()

    def reload(self) -> None:
        """`r`: the panel in front reloads (the form its document list, the history its commands; a run polls
        itself); outside the history the Fleet too, since the targets come from its snapshot."""
        super().reload()
        if self.panel != HistoryPanel.NAME:
            self.ctx.nav.refresh_fleet()

    def reset(self, generation: int) -> None:
        """Every panel forgets the previous profile or regions (the run stops, the form reloads its documents).
        Unlike the base, the Fleet is not asked to reload here: it refreshes itself after a switch."""
        self.errors, self.failures = [], []
        for panel in self.panels():
            panel.reset()
        self.render_header()
        self.render_status()
        if self.is_active and self.panel == HistoryPanel.NAME:
            self.history.load()

    # -- panels and keys -------------------------------------------------------------------------------------
    def show_panel(self, name: str, filter_text: str | None = None) -> None:
        if name == HistoryPanel.NAME and self.panel != name:
            self.history.back_to = self.panel
        super().show_panel(name, filter_text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new":
            return self.panel != FormPanel.NAME
        return super().check_action(action, parameters)

    def action_new(self) -> None:
        """n: back to the form, as it was left."""
        self.show_panel(FormPanel.NAME)

    @on(RunStarted)
    def _run_started(self, event: RunStarted) -> None:
        event.stop()
        self.start_run(event.run)

    def start_run(self, run: ActiveRun) -> None:
        """Follow this run in the run panel (the bench starts one here directly)."""
        self.sent_runs += 1
        self.run_panel.start(run)
        self.show_panel(RunPanel.NAME)

    # -- targets ----------------------------------------------------------------------------------------------
    def use_fleet_nodes(self, nodes: list[FleetNode], *, select: bool = True) -> None:
        """Target these Fleet nodes (the app's open_run_command: the Fleet's and the Inventory's `c`)."""
        self.query_one(FormPanel).use_fleet_nodes(nodes, select=select)

    def sync_fleet_selection(self) -> None:
        """A non-empty Fleet selection becomes the Fleet target (an empty one keeps the nodes picked before,
        so `c` on one node survives a look at another tab)."""
        selected = self.ctx.fleet.selected_nodes()
        if selected and {n.key for n in selected} != {n.key for n in self.fleet_nodes}:
            self.use_fleet_nodes(selected)

    def _selection_changed(self, keys: frozenset[str]) -> None:
        if self.is_active:  # otherwise it is read when the tab is shown
            self.sync_fleet_selection()

    # -- what the tests, the sweeps, the bench and the screenshots read --------------------------------------------
    @property
    def form(self) -> RunForm:
        return self.query_one(RunForm)

    @property
    def run_panel(self) -> RunPanel:
        return self.query_one(RunPanel)

    @property
    def history(self) -> HistoryPanel:
        return self.query_one(HistoryPanel)

    @property
    def fleet_nodes(self) -> list[FleetNode]:
        return self.query_one(FormPanel).fleet_nodes

    @property
    def run(self) -> ActiveRun | None:
        return self.run_panel.run

    @run.setter
    def run(self, run: ActiveRun | None) -> None:  # None stops the polling
        self.run_panel.run = run

    @property
    def shown_key(self) -> str | None:
        return self.run_panel.shown_key

    @property
    def export_dir(self) -> Path:
        return self.run_panel.export_dir

    @export_dir.setter
    def export_dir(self, directory: Path) -> None:
        self.run_panel.export_dir = directory

    @property
    def last_export(self) -> tuple[Path, Path] | None:
        return self.run_panel.last_export

    def action_open_history(self) -> None:
        """The history's enter, by its old name (the hostile sweep reopens a command with it)."""
        self.history.action_open()
