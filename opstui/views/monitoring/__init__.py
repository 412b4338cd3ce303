"""The Monitoring tab: alarms, SNS, canaries and the CloudWatch agent."""

from opstui.views.monitoring.view import MonitoringView

__all__ = ["MonitoringView"]
