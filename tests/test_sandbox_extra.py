"""The sandbox is an optional extra: without moto (flask, werkzeug, PyYAML) the app still imports and runs,
and `opstui --demo` / `opstui sandbox` say in one line what to install, exit 2, no traceback.

"Without the extra" is simulated in a child interpreter whose first import finder refuses those modules, the
way an interpreter without them answers.
"""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import opstui
from opstui.sandbox import extra

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = textwrap.dedent("""
    import sys

    class WithoutTheSandboxExtra:
        BLOCKED = {"moto", "flask", "werkzeug", "yaml"}

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, WithoutTheSandboxExtra())
""")

#: the sandbox modules the app itself imports (the demo's credentials and environment) and the ones that must
#: import to say what is missing; everything else below opstui/sandbox/ may need moto
MOTO_FREE_SANDBOX = {"opstui.sandbox", "opstui.sandbox.credentials", "opstui.sandbox.environment",
                     "opstui.sandbox.extra", "opstui.sandbox.extension", "opstui.sandbox.main",
                     "opstui.sandbox.scenarios"}


def without_extra(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code), *argv], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("argv", [["--demo"], ["sandbox"], ["sandbox", "--port", "0", "--no-live"]])
def test_demo_and_sandbox_say_what_to_install_in_one_line(argv: list[str]) -> None:
    proc = without_extra("""
        from opstui.cli import main
        sys.exit(main(sys.argv[1:]))
    """, *argv)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr and proc.stdout == "", proc.stderr
    assert "moto" in lines[0] and "install" in lines[0] and "[sandbox]" in lines[0]


def test_the_app_imports_no_moto_werkzeug_or_flask() -> None:
    names = [m.name for m in pkgutil.walk_packages(opstui.__path__, "opstui.")
             if not m.name.startswith("opstui.sandbox.") or m.name in MOTO_FREE_SANDBOX]
    names.append("opstui.sandbox")
    proc = without_extra("""
        import importlib
        failed = []
        for name in sys.argv[1:]:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                failed.append(f"{name}: {exc}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
    """, *names)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(names) > 40  # the app's modules were walked, not an empty list


def test_with_the_extra_nothing_is_missing() -> None:
    assert extra.missing() == [] and extra.problem() is None


def test_the_command_names_the_extra() -> None:
    command = extra.install_command()
    assert "install" in command and "[sandbox]" in command


def test_production_dependencies_hold_no_sandbox_and_the_test_extra_holds_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [re.split(r"[\[=<>!~ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]]
    assert not {"moto", "flask", "werkzeug", "pyyaml"} & set(names)
    extras = project["optional-dependencies"]
    assert any(d.startswith("moto[server]==") for d in extras["sandbox"])
    assert "opstui[sandbox]" in extras["test"]


def test_the_readme_commands_and_ci() -> None:
    demo, tests = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)[:2]
    assert "install -q -e '.[sandbox]'" in demo and demo.endswith("opstui --demo")
    assert "install -q -e '.[test]'" in tests
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()  # CI runs exactly it
