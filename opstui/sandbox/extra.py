"""Whether the optional ``sandbox`` extra is installed, and the one command that adds it.

Why: ``pip install opstui`` for production pulls in no moto, flask or werkzeug (a console for real accounts
has no use for a fake AWS). ``opstui --demo`` and ``opstui sandbox`` need them, so they ask here first and,
when they are missing, say in one line how to add them instead of failing with an ImportError deep in moto.

Only looks (``importlib.util.find_spec``), never imports: importing moto takes a second, and this module must
import nothing the extra brings.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: what the sandbox imports that only the extra installs (moto[server] brings flask; moto, werkzeug; the
#: documents catalogue reads YAML)
MODULES = ("moto", "flask", "werkzeug", "yaml")


def missing() -> list[str]:
    """The extra's modules this interpreter cannot find."""
    gone = []
    for name in MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            gone.append(name)
    return gone


def _shown(path: Path) -> str:
    """A path as the user would type it here: relative below the working directory, else absolute."""
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative)


def _checkout() -> Path | None:
    """The source checkout this opstui runs from (an editable install), or None for an installed package."""
    root = Path(__file__).resolve().parents[2]
    project = root / "pyproject.toml"
    try:
        if project.is_file() and 'name = "opstui"' in project.read_text(encoding="utf-8"):
            return root
    except OSError:
        return None
    return None


def install_command() -> str:
    """The command that adds the extra to this very interpreter."""
    root = _checkout()
    if root is None:
        return "pip install 'opstui[sandbox]'"
    pip = Path(sys.executable).with_name("pip")  # the venv's own (not resolved: a venv's python is a link)
    runner = _shown(pip) if pip.exists() else f"{_shown(Path(sys.executable))} -m pip"
    return f"{runner} install -e '{_shown(root)}[sandbox]'"


def problem() -> str | None:
    """One line saying what is missing and the command that adds it; None when the extra is installed."""
    gone = missing()
    if not gone:
        return None
    verb = "is" if len(gone) == 1 else "are"
    return (f"the local sandbox is the optional 'sandbox' extra and {', '.join(gone)} {verb} not installed; "
            f"add it with: {install_command()}")
