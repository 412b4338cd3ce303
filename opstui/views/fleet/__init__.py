"""The Fleet tab: every managed node of every region, filtered, sorted, multi-selected."""

from opstui.views.fleet.view import FLEET_COLUMNS, DetailPane, FleetView

__all__ = ["FLEET_COLUMNS", "DetailPane", "FleetView"]
