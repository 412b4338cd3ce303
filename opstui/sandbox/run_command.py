"""SSM Run Command for the sandbox: SendCommand that really executes, and the APIs that report on it.

Placeholder: filled in by the Run Command work (issue 5).
"""

from __future__ import annotations


def install() -> None:
    """Install SendCommand / ListCommands / ListCommandInvocations / GetCommandInvocation / CancelCommand."""
