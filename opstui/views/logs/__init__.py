"""The Logs tab: log groups and streams, a viewer that follows, Logs Insights, metric filters."""

from opstui.views.logs.view import LogsView

__all__ = ["LogsView"]
