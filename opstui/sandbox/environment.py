"""The sandbox's environment: an allow-list, never the caller's environment wholesale.

The sandbox and everything it starts (node shells, Run Command scripts, the package listing of the
inventory gather) run as the local user, so any command sent to a node can read ``/proc/<pid>/environ`` of
every process up to the sandbox. A user who runs ``opstui --demo`` from a shell holding real AWS keys must
not hand them to the sandbox: ``opstui --demo`` starts the child with :func:`clean_environment`, and
``opstui sandbox`` re-executes itself with it when started by hand (:mod:`opstui.sandbox.main`).
No moto here: the demo runner imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .credentials import CREDENTIALS_FILE_ENV

#: the only variables kept: locale, paths, Python's own switches and the sandbox's credentials *file* name
ENV_ALLOW = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
    "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONIOENCODING",
    "VIRTUAL_ENV", CREDENTIALS_FILE_ENV,
    "OPSTUI_SANDBOX_RECORD",  # the contract tests' response recording (a file name, opt-in)
})
ENV_ALLOW_PREFIXES = ("LC_", "XDG_")


def clean_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of ``environ`` (default: this process's)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIXES)}
