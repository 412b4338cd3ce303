"""The Overview tab, the home screen: is anything wrong?"""

from opstui.views.overview.lines import NODE_LINES, Jump, Line, build_lines
from opstui.views.overview.view import OverviewView

__all__ = ["NODE_LINES", "Jump", "Line", "OverviewView", "build_lines"]
