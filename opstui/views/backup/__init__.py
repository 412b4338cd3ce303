"""The Backup tab: jobs, plans, recovery points and S3 file backups."""

from opstui.views.backup.view import BackupView

__all__ = ["BackupView"]
