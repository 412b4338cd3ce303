"""The Shells tab: Session Manager shells inside the app, one sub-tab per node."""

from opstui.views.shells.session import ShellSession
from opstui.views.shells.view import ShellsView

__all__ = ["ShellSession", "ShellsView"]
