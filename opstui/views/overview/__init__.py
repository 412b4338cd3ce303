"""The Overview tab, the home screen: is anything wrong?"""

from opstui.views.overview.view import NODE_LINES, Jump, Line, OverviewView, build_lines

__all__ = ["NODE_LINES", "Jump", "Line", "OverviewView", "build_lines"]
