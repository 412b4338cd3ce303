"""The Monitoring tab: alarms, SNS, canaries and the CloudWatch agent, one panel each (`1`..`4`).

Each panel is its own module next to this one; the tab itself is the shared TabView (header, panel switch,
filter, status line, refresh). `/` filters the table in front of you (`state:ALARM`, `region:…`, `!word`).
Regions are queried together, and a region that fails is a line in the status area while the others' rows
stay. In read-only mode the changing keys are disabled (shown greyed) and the header says why; the aws layer
refuses them anyway.
"""

from __future__ import annotations

from typing import Any

from opstui.views.common.tab import TabView
from opstui.views.monitoring.agent import AgentPanel
from opstui.views.monitoring.alarms import AlarmsPanel
from opstui.views.monitoring.canaries import CanariesPanel
from opstui.views.monitoring.sns import SnsPanel


class MonitoringView(TabView):
    TAB_ID, TITLE = "monitoring", "Monitoring"
    PANELS = (AlarmsPanel, SnsPanel, CanariesPanel, AgentPanel)

    # -- what the tests and bench/monitoring.py read ---------------------------------------------------------
    @property
    def alarms(self) -> list[Any]:
        return self.query_one(AlarmsPanel).alarms

    @property
    def alarm_loads(self) -> int:
        return self.query_one(AlarmsPanel).loads

    @property
    def detail_loads(self) -> int:
        return self.query_one(AlarmsPanel).detail_loads

    @property
    def sns_loads(self) -> int:
        return self.query_one(SnsPanel).loads

    @property
    def canary_loads(self) -> int:
        return self.query_one(CanariesPanel).loads

    @property
    def agent_loads(self) -> int:
        return self.query_one(AgentPanel).loads

    @property
    def install_running(self) -> bool:
        return self.query_one(AgentPanel).install_running

    @property
    def filters(self) -> dict[str, str]:
        return {p.NAME: p.filter_text for p in self.panels()}

    def table(self, table_id: str) -> Any:
        return self.query_one(f"#{table_id}")

    def load(self, panel: str) -> None:
        self.panel_named(panel).load()
