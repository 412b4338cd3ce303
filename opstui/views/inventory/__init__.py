"""The Inventory tab: browse nodes' inventory, find an application, the summary, the association set-up."""

from opstui.views.inventory.view import InventoryView

__all__ = ["InventoryView"]
