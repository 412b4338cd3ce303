"""The Logs tab: CloudWatch Logs from the group list to the line, four panels (`1`..`4`).

    groups    log groups of every region and the streams of the one under the cursor; follow with enter/f
    viewer    the followed lines, merged by time across groups and streams (opstui/views/logs/viewer.py)
    insights  a Logs Insights query and its results
    filters   metric filters: create (the seed's "errors in the log -> metric"), delete, their alarms

Other tabs send the user here through the navigator: the Fleet's ``L`` (a node's stream in each group of its
region: :meth:`LogsView.open_nodes`) and Monitoring's ``L`` on an alarm over a log metric (the groups of the
metric filters feeding it, from a few minutes before the alarm changed state: :meth:`LogsView.open_metric`).
In read-only mode the changing keys (new and delete metric filter, and Insights, see insights.py) are
greyed and the header says why; the aws layer refuses them anyway.
"""

from __future__ import annotations

from textual.widgets import ContentSwitcher

from opstui.aws import logs as lg
from opstui.aws.errors import OpsError
from opstui.aws.models import FleetNode
from opstui.safe import clean
from opstui.views.common.tab import TabView
from opstui.views.common.work import action_work
from opstui.views.logs.filters import FiltersPanel
from opstui.views.logs.follow import FollowPanel
from opstui.views.logs.groups import GroupsPanel
from opstui.views.logs.insights import InsightsPanel


class LogsView(TabView):
    TAB_ID, TITLE = "logs", "Logs"
    PANELS = (GroupsPanel, FollowPanel, InsightsPanel, FiltersPanel)

    @property
    def viewer_panel(self) -> FollowPanel:
        return self.query_one(FollowPanel)

    @property
    def groups_panel(self) -> GroupsPanel:
        return self.query_one(GroupsPanel)

    def follow(self, targets: list[lg.FollowTarget], *, at_ms: int | None = None, since_ms: int | None = None) -> None:
        """Follow these targets in the viewer, and show it."""
        self.viewer_panel.follow(targets, at_ms=at_ms, since_ms=since_ms)
        self.front(FollowPanel.NAME)

    def front(self, name: str) -> None:
        """Bring a panel to the front; focus it only if the tab is shown (a jump finishing after the user
        went elsewhere must not pull them back: focusing inside a hidden tab would switch to it)."""
        if self.is_active:
            self.show_panel(name)
            return
        self.panel = name
        self.query_one(f"#{self.TAB_ID}-panels", ContentSwitcher).current = f"panel-{name}"

    # -- jumps from other tabs ----------------------------------------------------------------------------------
    @action_work("logs-jump", what="finding the node's log streams")
    async def open_nodes(self, nodes: list[FleetNode]) -> None:
        """The nodes' streams in every group of their regions (the agent names streams after the instance)."""
        ctx, generation = self.ctx, self.ctx.generation
        by_region: dict[str, list[str]] = {}
        for n in nodes:
            by_region.setdefault(n.region, []).append(n.instance_id)
        names = ", ".join(n.name or n.instance_id for n in nodes[:4]) + ("…" if len(nodes) > 4 else "")
        self.front(FollowPanel.NAME)
        self.app.notify(clean(f"Looking for the log streams of {names}…", 200), markup=False)
        targets: list[lg.FollowTarget] = []
        for region, ids in by_region.items():
            try:
                targets += await ctx.fresh(lg.node_streams(ctx.aws, region, ids), generation)
            except OpsError as err:
                self.app.notify(str(err), title="Logs", severity="error", markup=False)
                return
        if not targets:
            self.app.notify(clean(f"No log stream of {names} in any group: is the CloudWatch agent shipping its "
                                  "logs (Monitoring, agent panel)?", 300), severity="warning", markup=False)
            return
        self.follow(targets)

    @action_work("logs-jump", what="finding the logs behind the alarm")
    async def open_metric(self, region: str, metric_name: str, namespace: str, at_ms: int | None = None) -> None:
        """An alarm on a log metric: follow the groups whose metric filters feed it, from before ``at_ms``."""
        ctx, generation = self.ctx, self.ctx.generation
        try:
            groups = await ctx.fresh(lg.metric_groups(ctx.aws, region, metric_name, namespace), generation)
        except OpsError as err:
            self.app.notify(str(err), title="Logs", severity="error", markup=False)
            return
        if not groups:
            self.app.notify(clean(f"No metric filter feeds {namespace}/{metric_name} in {region}: this alarm is "
                                  "not on a log metric.", 300), severity="warning", markup=False)
            return
        self.follow([lg.FollowTarget(region, g) for g in groups], at_ms=at_ms)
