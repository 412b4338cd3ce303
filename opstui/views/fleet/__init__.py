"""The Fleet tab: every managed node of every region, filtered, sorted, multi-selected."""

from opstui.views.fleet.columns import FLEET_COLUMNS
from opstui.views.fleet.detail import DetailPane
from opstui.views.fleet.view import FleetView

__all__ = ["FLEET_COLUMNS", "DetailPane", "FleetView"]
