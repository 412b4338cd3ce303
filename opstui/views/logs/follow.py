"""Logs, panel 2: the viewer following one or more groups (or a node's streams in each), merged by time.

Live Tail where the endpoint has it, FilterLogEvents polling otherwise (``LiveTailFollower``, see
``opstui/aws/logs.py``); the status line says which ("live tail" or "polling every 2 s", and why Live Tail was
not used). Live Tail's sessions push an update a second, which the panel collects every ``LIVE_POLL_SECONDS``
(no AWS call: what the session's reader buffered); polling is one paged FilterLogEvents per followed group
every ``POLL_SECONDS``. While the tab is hidden nothing is collected or polled; the sessions keep buffering
(up to the follower's backlog) and polling reads on from the newest event it has seen, so nothing is lost. The tab's filter box filters the
lines (words, ``!word``, ``level=ERROR``, ``$.status >= 500``), ``p`` pauses and resumes, ``end`` resumes.
``F`` finds without filtering (``n``/``N``: next/previous match, esc: end), ``w`` wraps long lines, and ``J``
(or enter) shows the event on the marked line, or the one at the top, alone: JSON pretty-printed (event.py).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.timer import Timer
from textual.widgets import Static

from opstui.aws import logs as lg
from opstui.commands import commands_of
from opstui.logfilter import FilterError, LineFilter, parse_filter
from opstui.safe import clean
from opstui.views.common.form import Field, ask
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work
from opstui.views.logs.event import EventScreen
from opstui.views.logs.viewer import LogViewer

POLL_SECONDS = 2.0
LIVE_POLL_SECONDS = 0.25  # collecting Live Tail's buffered updates costs no call
SINCE_MS = 15 * 60_000  # a new follow starts this far back
DEBOUNCE_LINES = 20_000
DEBOUNCE_SECONDS = 0.2


def parse_when(text: str, now_ms: int) -> int:
    """``HH:MM[:SS]`` (UTC, today; yesterday if that is in the future) or ``-15m``/``-2h`` -> epoch ms."""
    value = text.strip()
    ago = re.fullmatch(r"-(\d+)([smh])", value)
    if ago:
        return now_ms - int(ago.group(1)) * {"s": 1, "m": 60, "h": 3600}[ago.group(2)] * 1000
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise ValueError("a time like 14:05 or 14:05:30 (UTC), or -15m")
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    when = now.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=int(m.group(3) or 0), microsecond=0)
    if when > now:
        when -= timedelta(days=1)
    return int(when.timestamp() * 1000)


def source_label(event: lg.LogEvent, targets: list[lg.FollowTarget]) -> str:
    """Which group and stream a line came from, as short as still tells them apart."""
    if len({t.group for t in targets}) == 1:
        return event.stream
    short = event.group.rstrip("/").rsplit("/", 1)[-1] or event.group
    return f"{short}:{event.stream}"


class FollowPanel(Panel):
    NAME, TITLE, KEY = "viewer", "Viewer", "2"
    FILTER_HINT = "filter lines: words  !word  level=ERROR  $.status >= 500  $.path = \"/api/*\""
    BINDINGS = bindings_for(commands_of("logs", "viewer"))
    DEFAULT_CSS = """
    FollowPanel #logs-targets { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.follower: lg.LiveTailFollower | None = None
        self.targets: list[lg.FollowTarget] = []
        self.polls = 0
        self.filter_problem = ""
        self.jump_ms: int | None = None
        self._timer: Timer | None = None
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="logs-targets")
        yield LogViewer(id="logs-viewer")

    @property
    def viewer(self) -> LogViewer:
        return self.query_one(LogViewer)

    def on_mount(self) -> None:
        self._show_targets()

    def shown(self) -> None:
        self.viewer.focus()
        if self.follower is not None and not self.busy:
            self.load()

    def reset(self) -> None:
        self.stop()
        self.targets = []
        self.viewer.clear()
        self._show_targets()
        super().reset()

    # -- following ----------------------------------------------------------------------------------------------
    def follow(self, targets: list[lg.FollowTarget], *, since_ms: int | None = None, at_ms: int | None = None) -> None:
        """Start following these targets (the previous ones stop); ``at_ms``: show from that moment, paused."""
        self.stop()
        now = int(time.time() * 1000)
        start = since_ms if since_ms is not None else now - SINCE_MS
        if at_ms is not None:
            start = min(start, at_ms - 5 * 60_000)
        self.targets = list(targets)
        self.follower = lg.LiveTailFollower(self.targets, start_ms=start)
        self.jump_ms = at_ms
        self.errors = []
        self.viewer.clear()
        self._show_targets()
        self.load()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        follower, self.follower = self.follower, None
        if follower is not None and follower.mode == "live tail":
            # end its Live Tail sessions on the AWS loop, where they were opened (best effort: closing the
            # clients at exit ends them too)
            self.run_worker(self.ctx.run(follower.close()), group="logs-live-close", exit_on_error=False)

    def load(self) -> None:
        """Poll now (`r`, the tab's refresh); never while a poll is in flight (a new one would cancel it)."""
        if self.follower is not None and not self.busy:
            self._poll()

    @aws_work
    async def _poll(self) -> None:
        follower = self.follower
        if follower is None:
            return
        try:
            update = await self.ctx.fresh(follower.poll(self.ctx.aws), self.ctx.generation)
            if follower is not self.follower:
                return  # another follow started meanwhile
            self.polls += 1
            targets = self.targets
            self.viewer.append((e.timestamp, source_label(e, targets), e.message) for e in update.events)
            self.errors = [f"{t.label} ({t.region}): {err}" for t, err in update.errors.items()]
            if self.jump_ms is not None:
                self.viewer.jump_to_time(self.jump_ms)
                self.jump_ms = None
        finally:
            if follower is self.follower:
                self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        live = self.follower is not None and self.follower.mode == "live tail"
        self._timer = self.set_timer(LIVE_POLL_SECONDS if live else POLL_SECONDS, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.follower is None:
            return
        if self.tab.is_active and not self.app.screen.is_modal and not self.busy:
            self._poll()
        else:
            self._arm()  # hidden: poll again when shown (the follower catches up from its newest event)

    def _show_targets(self) -> None:
        box = self.query_one("#logs-targets", Static)
        if not self.targets:
            box.update(Text("Nothing followed yet: pick groups in 1 (space, then f), a node in the Fleet (L), "
                            "or an alarm on a log metric in Monitoring (L).", style="dim"))
            return
        regions = sorted({t.region for t in self.targets})
        names = ", ".join(t.label for t in self.targets[:6]) + (f" +{len(self.targets) - 6}" if len(self.targets) > 6 else "")
        box.update(Text(clean(f"following {len(self.targets)} group(s) in {', '.join(regions)}: {names}", 400)))

    # -- the filter box filters the lines -------------------------------------------------------------------------
    def apply_filter(self, text: str) -> None:
        """Filter the lines. Over ``DEBOUNCE_LINES`` lines (a JSON condition costs ~2 µs a line) the filter
        runs once typing pauses, not on every key."""
        self.filter_text = text
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if len(self.viewer.lines) > DEBOUNCE_LINES:
            self._filter_timer = self.set_timer(DEBOUNCE_SECONDS, self._apply_filter_now)
        else:
            self._apply_filter_now()

    def _apply_filter_now(self) -> None:
        self._filter_timer = None
        text = self.filter_text
        try:
            flt = parse_filter(text) if text.strip() else LineFilter()
        except FilterError as err:
            self.filter_problem = str(err)
        else:
            self.filter_problem = ""
            if flt != self.viewer.line_filter:
                self.viewer.set_filter(flt)
        if self.is_mounted:
            self.tab.render_status()

    def status_info(self) -> str:
        parts = []
        found = self.viewer.search_status()
        if found:
            parts.append(found)
        if self.filter_problem:
            parts.append(f"filter not applied: {self.filter_problem}")
        follower = self.follower
        if follower is not None and follower.mode == "live tail":
            parts.append(f"live tail ({follower.sessions} StartLiveTail session{'s' if follower.sessions != 1 else ''})")
        elif follower is not None and follower.mode == "polling":
            parts.append(f"polling every {POLL_SECONDS:.0f} s, one FilterLogEvents per group")
            if follower.reason:
                parts.append(clean(follower.reason, 300))
        return " · ".join(parts)

    # -- keys -------------------------------------------------------------------------------------------------------
    def action_toggle_follow(self) -> None:
        viewer = self.viewer
        viewer.set_following(not viewer.following)

    def action_toggle_sources(self) -> None:
        self.viewer.set_show_source(not self.viewer.show_source)

    def action_columns(self) -> None:
        self._ask_columns()

    @action_work("logs-columns")
    async def _ask_columns(self) -> None:
        viewer = self.viewer
        fields = await ask(self.app, "JSON fields as columns",
                           [Field("fields", "Fields", ",".join(viewer.json_fields),
                                  placeholder="level,msg,latency_ms (empty: whole lines)")],
                           lambda v: [f for f in v["fields"].replace(" ", ",").split(",") if f.strip()],
                           submit_label="Show")
        if fields is not None:
            viewer.set_json_fields(fields)

    def action_jump_time(self) -> None:
        self._ask_time()

    @action_work("logs-time")
    async def _ask_time(self) -> None:
        ms = await ask(self.app, "Jump to a time",
                       [Field("when", "Time (UTC)", "", placeholder="14:05, 14:05:30 or -15m")],
                       lambda v: parse_when(v["when"], int(time.time() * 1000)), submit_label="Jump")
        if ms is not None:
            self.viewer.jump_to_time(ms)

    def action_search(self) -> None:
        self._ask_search()

    @action_work("logs-search")
    async def _ask_search(self) -> None:
        current = self.viewer.search.text if self.viewer.search is not None else ""
        text = await ask(self.app, "Find in the lines",
                         [Field("text", "Text", current, placeholder="plain text, any case (empty: end the search)")],
                         lambda v: v["text"], submit_label="Find",
                         note="Every match is highlighted; n / N go to the next / previous matching line.")
        if text is not None:
            self.viewer.start_search(text)
            self.viewer.focus()

    def action_search_next(self) -> None:
        self._step(1)

    def action_search_prev(self) -> None:
        self._step(-1)

    def _step(self, direction: int) -> None:
        if self.viewer.search is None:
            self.app.notify("Nothing searched yet: F finds a text in the lines.", severity="warning", markup=False)
            return
        self.viewer.search_step(direction)

    def action_toggle_wrap(self) -> None:
        viewer = self.viewer
        viewer.set_wrap(not viewer.wrap)

    def action_event(self) -> None:
        """The event on the marked line (or the top one) alone: JSON pretty-printed."""
        viewer = self.viewer
        line = viewer.current_line()
        if line is None:
            self.app.notify("No line to show yet.", severity="warning", markup=False)
            return
        ts, source, message = line
        self.app.push_screen(EventScreen(ts, viewer.sources[source] if source < len(viewer.sources) else "", message))

    def action_open(self) -> None:
        self.action_event()

    def action_back(self) -> bool:
        """esc: end the search first (then the tab clears the filter)."""
        return self.viewer.end_search()

    @on(LogViewer.SearchChanged)
    def _search_changed(self) -> None:
        self.tab.render_status()

    @on(LogViewer.FollowChanged)
    def _follow_changed(self) -> None:
        self.tab.render_header()

    def header_extra(self) -> Text:
        viewer = self.viewer
        if self.follower is None and not viewer.lines:
            return Text()
        if viewer.following:
            return Text("   ● following", style="bold green")
        return Text(f"   ❚❚ paused · {viewer.unseen:,} new", style="bold yellow")
