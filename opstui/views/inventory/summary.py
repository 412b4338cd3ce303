"""Inventory, panel `u`: how many nodes run which platform, OS version and agent version, all regions together.

Three GetInventory aggregators a region (one page each, whatever the number of nodes), so it counts every node
that ever reported inventory, stopped ones too; a region that fails is a line in the status area and the other
regions are still counted.
"""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.content import Content

from opstui.aws import ssm_inventory as inv
from opstui.aws.models import InventorySummary
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import aws_work, bindings_for
from opstui.views.inventory.panel import InventoryPanel
from opstui.views.inventory.rows import CountRow, count_columns

#: (table id, title, the InventorySummary field it counts)
TABLES = (("inv-by-platform", "By platform", "by_platform"), ("inv-by-os", "By OS version", "by_os_version"),
          ("inv-by-agent", "By agent version", "by_agent"))


class SummaryPanel(InventoryPanel):
    NAME, TITLE, KEY, MAIN_TABLE = "summary", "Summary", "u", "inv-by-platform"
    BINDINGS = bindings_for(commands_of("inventory", "summary"))
    DEFAULT_CSS = """
    SummaryPanel { layout: horizontal; }
    """

    def compose(self) -> ComposeResult:
        yield NodeTable(count_columns("Platform"), key=lambda r: r.key, id="inv-by-platform")
        yield NodeTable(count_columns("OS version", versions=True), key=lambda r: r.key, id="inv-by-os")
        yield NodeTable(count_columns("Agent version", versions=True), key=lambda r: r.key, id="inv-by-agent")

    def on_mount(self) -> None:
        for table_id, title, _ in TABLES:
            self.table(table_id).border_title = Content(title)

    def status_info(self) -> str:
        return "Counts from GetInventory aggregators (AWS:InstanceInformation), every node that reported inventory"

    def load(self) -> None:
        self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        regions = ctx.regions
        if not self.loaded:
            for table_id, _, _ in TABLES:
                self.table(table_id).border_title = Content("loading…")

        async def every_region() -> list[InventorySummary]:
            return list(await asyncio.gather(*(inv.inventory_summary(ctx.aws, r) for r in regions)))

        results = await ctx.fresh(every_region(), generation)
        ok = [r for r in results if r.error is None]
        self.errors = [clean(str(r.error), 400) for r in results if r.error is not None]
        for table_id, title, attr in TABLES:
            counts = inv.merge_counts(*(getattr(r, attr) for r in ok))
            self.show_rows(table_id, [CountRow(c) for c in counts])
            self.table(table_id).border_title = Content(f"{title} ({sum(c.count for c in counts)} nodes)")
