"""Logs, panel 1: the log groups of every region (retention, stored bytes, metric filters) and, under them,
the streams of the group under the cursor (newest last event first). ``enter`` follows the group (or, in the
streams table, the stream); ``space`` selects groups and ``f`` follows every selected group, merged by time."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer

from opstui.aws import logs as lg
from opstui.aws.errors import OpsError
from opstui.aws.logs_models import LogGroup, LogStream
from opstui.aws.regions import per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work
from opstui.views.logs.rows import GROUP_COLUMNS, STREAM_COLUMNS

MAX_STREAMS = 500  # streams listed under a group (newest first); following a group reads all of them anyway


class GroupsPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "groups", "Groups", "1", "logs-groups"
    FILTER_HINT = "filter: words in the group name or region, !negate"
    BINDINGS = bindings_for(commands_of("logs", "groups"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    GroupsPanel #logs-groups { height: 1fr; min-height: 8; }
    GroupsPanel #logs-streams-box { height: 12; }
    Screen.-short GroupsPanel #logs-streams-box { height: 1fr; min-height: 7; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups: list[LogGroup] = []
        self.streams: list[LogStream] = []
        self.streams_of: str | None = None  # the group key whose streams are shown
        self.stream_loads = 0
        self._stream_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield NodeTable(GROUP_COLUMNS, key=lambda g: g.key, id="logs-groups")
        # in a box of its own: when the tab is left, Textual moves the focus from a hidden table to a focusable
        # *sibling*, and a focus inside this tab would switch straight back to it
        with Vertical(id="logs-streams-box"):
            yield NodeTable(STREAM_COLUMNS, key=lambda s: s.key, id="logs-streams")

    def on_mount(self) -> None:
        self.table("logs-groups").border_title = Content("Log groups: open the tab to load")
        self.table("logs-streams").border_title = Content("Streams")

    def reset(self) -> None:
        self.groups, self.streams, self.streams_of = [], [], None
        super().reset()

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        if self.ctx.regions:
            self._load()

    @aws_work
    async def _load(self) -> None:
        ctx = self.ctx
        results = await self.ctx.fresh(per_region(ctx.regions, lambda r: lg.describe_log_groups(ctx.aws, r), "logs"),
                                       ctx.generation)
        groups: list[LogGroup] = []
        errors: list[str] = []
        for region, value, err in results:
            if err is not None:
                errors.append(str(err))
                groups.extend(g for g in self.groups if g.region == region)  # keep what we had
            else:
                groups.extend(value)
        groups.sort(key=lambda g: (g.name.lower(), g.region))
        self.groups, self.errors = groups, errors
        self.show_rows("logs-groups", groups)
        self._retitle()
        self._streams_soon()

    def apply_filter(self, text: str) -> None:
        super().apply_filter(text)
        self._retitle()

    def _retitle(self) -> None:
        table = self.table("logs-groups")
        shown, total = len(table.order_shown), len(self.groups)
        title = f"Log groups {shown}/{total}" if shown != total else f"Log groups {total}"
        if table.selected:
            title += f" · {len(table.selected)} selected (f: follow them)"
        if self.filter_text:
            title += f" · filter: {clean(self.filter_text, 60)}"
        table.border_title = Content(title)

    # -- streams of the group under the cursor ----------------------------------------------------------------
    @on(NodeTable.CursorMoved, "#logs-groups")
    def _group_cursor(self) -> None:
        self._streams_soon()

    def _streams_soon(self) -> None:
        if self._stream_timer is not None:
            self._stream_timer.stop()
        self._stream_timer = self.set_timer(0.25, self._load_streams_now)

    def _load_streams_now(self) -> None:
        self._stream_timer = None
        group = self.table("logs-groups").cursor_row
        if group is None:
            self.table("logs-streams").set_rows([])
            return
        self.streams_of = group.key
        self._load_streams(group)

    @action_work("logs-streams")
    async def _load_streams(self, group: LogGroup) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        table = self.table("logs-streams")
        try:
            streams = await ctx.fresh(lg.describe_log_streams(ctx.aws, group.region, group.name,
                                                              max_streams=MAX_STREAMS), generation)
        except OpsError as err:
            table.set_rows([])
            table.border_title = Content(f"Streams: {clean(str(err), 200)}")
            return
        if self.streams_of != group.key:
            return
        self.streams = streams
        self.stream_loads += 1
        table.set_rows(streams)
        more = f" (newest {MAX_STREAMS})" if len(streams) >= MAX_STREAMS else ""
        table.border_title = Content(clean(f"Streams of {group.name} · {len(streams)}{more} · enter: follow one",
                                           200))

    # -- actions ------------------------------------------------------------------------------------------------
    def action_toggle_select(self) -> None:
        table = self.table("logs-groups")
        table.toggle_selected()
        self._retitle()

    def action_open(self) -> None:
        """enter: follow the stream under the cursor (streams table) or the group under the cursor."""
        streams = self.table("logs-streams")
        if streams.has_focus and streams.cursor_row is not None:
            s = streams.cursor_row
            self.tab.follow([lg.FollowTarget(s.region, s.group, stream_names=(s.name,))])
            return
        group = self.table("logs-groups").cursor_row
        if group is not None:
            self.tab.follow([lg.FollowTarget(group.region, group.name)])

    def action_follow(self) -> None:
        """f: every selected group (or the one under the cursor), merged by time."""
        table = self.table("logs-groups")
        groups = table.selected_rows() or ([table.cursor_row] if table.cursor_row is not None else [])
        if not groups:
            self.app.notify("No log group here to follow.", markup=False)
            return
        self.tab.follow([lg.FollowTarget(g.region, g.name) for g in groups])

    def selected_groups(self) -> list[LogGroup]:
        """What Insights and a new metric filter work on: the selected groups, else the one under the cursor."""
        table = self.table("logs-groups")
        return table.selected_rows() or ([table.cursor_row] if table.cursor_row is not None else [])

    def select_groups(self, region: str, names: tuple[str, ...] | list[str]) -> list[str]:
        """Select exactly these groups of one region (a saved query's) and put the cursor on the first;
        returns the names that are not in the list (deleted, or in a region not shown)."""
        table = self.table("logs-groups")
        known = {g.key: g for g in self.groups}
        keys = {f"{region}|{n}" for n in names}
        table.set_selected({k for k in keys if k in known})
        self._retitle()
        return [n for n in names if f"{region}|{n}" not in known]
