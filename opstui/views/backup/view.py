"""The Backup tab: what failed last night, the plans behind it, the recovery points, and S3 file backups.

Four panels (`1` `2` `3` `4`), each its own module next to this one; the tab itself is the shared TabView
(header, panel switch, filter, status line, refresh):

    jobs    backup, copy and restore jobs of every region in one list, failures and "completed with issues"
            first, with the filter bar (range, state, kind, resource, vault) and the detail of the job
    plans   every plan's rules and selections; `n` creates a plan with the seed's flow in one checked form
    points  vaults and their recovery points; `R` restores the point under the cursor (a new instance)
    files   S3 buckets, the objects and versions under a prefix; `u` uploads, `d` downloads, with progress

`b` backs up the Fleet selection now from any panel (the jobs panel does it: the jobs it starts show there).
`/` filters the table in front of you; in the jobs it types into the filter bar's resource box. Creating a
plan, on-demand backups, restores and uploads are disabled (shown greyed, the header says why) in read-only
mode, and refused by the aws layer's guard besides.
"""

from __future__ import annotations

from typing import Any

from opstui.views.backup.files import FilesPanel
from opstui.views.backup.jobs import JobsPanel
from opstui.views.backup.plans import PlansPanel
from opstui.views.backup.points import PointsPanel
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import TabView


class BackupView(TabView):
    TAB_ID, TITLE = "backup", "Backup"
    PANELS = (JobsPanel, PlansPanel, PointsPanel, FilesPanel)

    # -- the tab's own commands -------------------------------------------------------------------------------
    def action_backup_now(self) -> None:
        """`b` from any panel: back up the Fleet selection (the jobs panel asks, starts and shows the jobs)."""
        self.query_one(JobsPanel).action_backup_now()

    def action_filter(self) -> None:
        """`/`: the jobs have their own filter bar (resource box); the other panels the tab's filter box."""
        if self.panel == JobsPanel.NAME:
            self.query_one(JobsPanel).focus_resource()
        else:
            super().action_filter()

    def action_sort_next(self) -> None:
        """`o`: order the table you are in (or the panel's main table) by its next column."""
        focused = self.app.focused
        table = focused if isinstance(focused, NodeTable) and self in focused.ancestors else None
        if table is None and self.current is not None:
            table = self.current.main_table
        if table is None:
            return
        keys = [c.key for c in table.columns]
        current = table.sort_column
        table.sort_by(keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0], reverse=False)

    # -- what the tests, bench/backup.py and screenshots/make.py read -----------------------------------------
    @property
    def jobs(self) -> JobsPanel:
        return self.query_one(JobsPanel)

    @property
    def files(self) -> FilesPanel:
        return self.query_one(FilesPanel)

    @property
    def job_loads(self) -> int:
        return self.jobs.loads

    @property
    def job_list(self) -> Any:
        return self.jobs.job_list

    @property
    def range(self) -> str:
        return self.jobs.range

    @property
    def detail_fresh(self) -> Any:
        return self.jobs.detail_fresh

    @property
    def backups_started(self) -> int:
        return self.jobs.backups_started

    @property
    def last_jobs_seconds(self) -> float:
        return self.jobs.last_jobs_seconds

    @property
    def last_jobs_render_seconds(self) -> float:
        return self.jobs.last_jobs_render_seconds

    @property
    def plan_loads(self) -> int:
        return self.query_one(PlansPanel).loads

    @property
    def plans_created(self) -> int:
        return self.query_one(PlansPanel).plans_created

    @property
    def point_loads(self) -> int:
        return self.query_one(PointsPanel).point_loads

    @property
    def restores_started(self) -> int:
        return self.query_one(PointsPanel).restores_started

    @property
    def bucket_loads(self) -> int:
        return self.files.bucket_loads

    @property
    def listing_loads(self) -> int:
        return self.files.listing_loads

    @property
    def prefix(self) -> str:
        return self.files.prefix

    @property
    def transfers(self) -> int:
        return self.files.transfer.transfers

    @property
    def last_transfer(self) -> dict[str, Any]:
        return self.files.transfer.last

    def table(self, table_id: str) -> NodeTable:
        return self.query_one(f"#{table_id}", NodeTable)

    def load(self, panel: str) -> None:
        self.panel_named(panel).load()
