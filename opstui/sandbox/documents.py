"""SSM documents for the sandbox: AWS-owned Command documents with their real parameter schemas.

Placeholder: filled in by the Run Command work (issue 5).
"""

from __future__ import annotations


def install() -> None:
    """Install ListDocuments / DescribeDocument / GetDocument on moto's SSM responses (once per process)."""
