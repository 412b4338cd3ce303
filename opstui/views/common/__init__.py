"""What every tab shares: the app context, the TabView/Panel bases, the table, the dialogs, the formats.

A tab package (``opstui/views/<tab>/``) imports from here and never from another tab's package (an
import-linter contract in pyproject.toml holds that).
"""
