"""Mutation testing, one target at a time, each against its own fast tests.

    python mutation/run.py                  # every target in [tool.opstui.mutation] of pyproject.toml
    python mutation/run.py guard safe       # some of them
    python mutation/run.py channel --sample 40

Why a script: mutmut reads a single `[tool.mutmut]` table (from the pyproject.toml of the directory it runs in)
with one test selection, and its first step runs that whole selection. Mutating the read-only guard against
the sandbox-backed suite would take hours, so each target gets a directory of its own, `mutation/work/NAME/`,
with links to `opstui/` and `tests/`, a copy of pyproject.toml and a `[tool.mutmut]` table naming the target's
files and tests.

Why a second pass: mutmut 3 mutates only code inside functions. The constants the guard and the sanitiser are
made of (READ_PREFIXES, the control-character regexes, the named replacements) are module-level, so this
script mutates the constants a target lists itself (drop a tuple/set/dict item, mangle a string, +1 a number,
and for `re.compile` patterns drop or narrow each character-class item and drop each quantifier) and runs the
target's tests once per mutant in a copy of the tree.

A surviving mutant is a test that is missing, or a mutant that cannot change behaviour (equivalent); a target
lists its equivalents, each with the reason, under `equivalent`. The exit status is 1 while any survivor is
not listed there.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "mutation" / "work"
PYTEST_ARGS = ["-n0", "-p", "no:cacheprovider"]  # no xdist inside mutmut's forked workers
MUTMUT = [sys.executable, "-c", "import sys; from mutmut.__main__ import cli; sys.exit(cli())"]


@dataclass
class Target:
    name: str
    mutate: list[str]
    tests: list[str]
    functions: list[str] = field(default_factory=list)  # empty: every function of the files
    constants: list[str] = field(default_factory=list)  # module-level names for the second pass; "*": all
    equivalent: dict[str, str] = field(default_factory=dict)  # mutant name -> why it cannot change behaviour

    def files(self) -> list[Path]:
        return sorted({p.relative_to(ROOT) for pattern in self.mutate for p in ROOT.glob(pattern)})


@dataclass
class Outcome:
    status: dict[str, str] = field(default_factory=dict)  # mutant name -> killed | survived | no tests | ...
    diff: dict[str, str] = field(default_factory=dict)  # mutant name -> what changed (survivors only)


def load_targets() -> dict[str, Target]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["opstui"]["mutation"]
    return {name: Target(name=name, **table) for name, table in config.items()}


def module_of(path: Path) -> str:
    return ".".join(path.with_suffix("").parts).removesuffix(".__init__")


def run(cmd: list[str], cwd: Path, log: Path, timeout: float | None = None) -> int:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode


# -- mutmut: functions ------------------------------------------------------------------------------------


def prepare_workdir(target: Target, fresh: bool) -> Path:
    work = WORK / target.name
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in ("opstui", "tests"):
        link = work / name
        if not link.exists():
            link.symlink_to(ROOT / name, target_is_directory=True)
    project = (ROOT / "pyproject.toml").read_text()
    table = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["opstui"]',
            f"only_mutate = {json.dumps([str(p) for p in target.files()])}",
            f"pytest_add_cli_args = {json.dumps(PYTEST_ARGS)}",
            f"pytest_add_cli_args_test_selection = {json.dumps(target.tests)}",
            "",
        ]
    )
    (work / "pyproject.toml").write_text(project + table)
    return work


def mutant_names(target: Target, work: Path) -> list[str]:
    """Every mutant mutmut makes of the target's files, limited to the target's functions."""
    script = (
        "import json, sys\n"
        "from mutmut.mutation.file_mutation import mutate_file_contents\n"
        "path = sys.argv[1]\n"
        "print(json.dumps(list(mutate_file_contents(path, open(path).read()).mutant_names)))\n"
    )
    wanted = {f"x_{f}" if "." not in f else "x\u01c1{}\u01c1{}".format(*f.split(".", 1)) for f in target.functions}
    names: list[str] = []
    for path in target.files():
        out = subprocess.run([sys.executable, "-c", script, str(path)], cwd=work, check=True,
                             capture_output=True, text=True).stdout
        for local in json.loads(out.strip().splitlines()[-1]):
            if not wanted or local.rsplit("__mutmut_", 1)[0] in wanted:
                names.append(f"{module_of(path)}.{local}")
    return names


def run_mutmut(target: Target, work: Path, names: list[str], children: int) -> Outcome:
    log = work / "mutmut.log"
    run([*MUTMUT, "run", "--max-children", str(children), *names], work, log)
    listing = subprocess.run([*MUTMUT, "results", "--all", "true"], cwd=work, capture_output=True, text=True).stdout
    outcome = Outcome()
    chosen = set(names)
    for line in listing.splitlines():
        match = re.fullmatch(r"\s+(\S+): (.+)", line)
        if match and match.group(1) in chosen:
            outcome.status[match.group(1)] = match.group(2)
    for name, status in outcome.status.items():
        if status not in ("killed", "no tests"):  # "no tests": no selected test reaches that function
            shown = subprocess.run([*MUTMUT, "show", name], cwd=work, capture_output=True, text=True).stdout
            outcome.diff[name] = "\n".join(
                line for line in shown.splitlines()
                if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
            )
    return outcome


# -- the second pass: module-level constants --------------------------------------------------------------

_CLASS_ITEM = re.compile(r"\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\.|[^\\\]]")


def _code(item: str) -> int | None:
    if item.startswith(("\\x", "\\u")):
        return int(item[2:], 16)
    if len(item) == 1:
        return ord(item)
    return None


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def regex_mutants(pattern: str) -> list[tuple[str, str]]:
    """(description, mutated pattern): each character-class item dropped, each range narrowed by one at
    either end, each quantifier dropped."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "?*+" and i > 0 and pattern[i - 1] not in "(?":
            out.append((f"drop quantifier {ch!r} at {i}", pattern[:i] + pattern[i + 1:]))
        if ch == "[":
            j = i + 1 + (pattern[i + 1] == "^")
            items: list[tuple[int, int, str, str | None]] = []  # start, end, low, high
            while j < len(pattern) and pattern[j] != "]":
                low = _CLASS_ITEM.match(pattern, j)
                assert low is not None
                end = low.end()
                high = None
                if pattern[end:end + 1] == "-" and pattern[end + 1:end + 2] != "]":
                    high_match = _CLASS_ITEM.match(pattern, end + 1)
                    assert high_match is not None
                    high, end = high_match.group(0), high_match.end()
                items.append((j, end, low.group(0), high))
                j = end
            for start, end, low_text, high_text in items:
                text = pattern[start:end]
                out.append((f"drop {text!r} from a class", pattern[:start] + pattern[end:]))
                lo, hi = _code(low_text), _code(high_text) if high_text else None
                if high_text and lo is not None and hi is not None and hi > lo:
                    out.append((f"{text!r} -> starts one later",
                                pattern[:start] + f"{_escape(lo + 1)}-{high_text}" + pattern[end:]))
                    out.append((f"{text!r} -> ends one earlier",
                                pattern[:start] + f"{low_text}-{_escape(hi - 1)}" + pattern[end:]))
            i = j
        i += 1
    return out


def constant_mutants(path: Path, names: list[str]) -> list[tuple[str, str, str]]:
    """(mutant name, description, mutated source) for the listed module-level assignments."""
    source = (ROOT / path).read_text()
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, col: int) -> int:  # ast columns are UTF-8 byte offsets
        return starts[line - 1] + len(lines[line - 1].encode()[:col].decode())

    def replace(node: ast.AST, text: str) -> str:
        a = offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        b = offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return source[:a] + text + source[b:]

    def segment(node: ast.AST) -> str:
        return ast.get_source_segment(source, node) or ""

    out: list[tuple[str, str, str]] = []
    for stmt in ast.parse(source).body:
        if not isinstance(stmt, ast.Assign | ast.AnnAssign) or stmt.value is None:
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        label = next((t.id for t in targets if isinstance(t, ast.Name)), None)
        if label is None or ("*" not in names and label not in names):
            continue
        found: list[tuple[str, str]] = []
        regexes = {
            id(node.args[0])
            for node in ast.walk(stmt.value)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "compile"
            and node.args
        }
        for node in ast.walk(stmt.value):
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) > 1:
                for k, elt in enumerate(node.elts):
                    kept = [segment(e) for j, e in enumerate(node.elts) if j != k]
                    text = ", ".join(kept) + ("," if isinstance(node, ast.Tuple) and len(kept) == 1 else "")
                    brackets = {ast.Tuple: "()", ast.List: "[]", ast.Set: "{}"}[type(node)]
                    found.append((f"drop {segment(elt)}", replace(node, brackets[0] + text + brackets[1])))
            elif isinstance(node, ast.Dict):
                pairs = [f"{segment(key)}: {segment(value)}" for key, value in zip(node.keys, node.values, strict=True)]
                for k, pair in enumerate(pairs):
                    kept = pairs[:k] + pairs[k + 1:]
                    found.append((f"drop {pair}", replace(node, "{" + ", ".join(kept) + "}")))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                shown = segment(node) if len(segment(node)) <= 20 else segment(node)[:17] + "..."
                found.append((f"{shown} -> 'XX...XX'", replace(node, repr(f"XX{node.value}XX"))))
                if id(node) in regexes:
                    for what, pattern in regex_mutants(node.value):
                        found.append((f"pattern: {what}", replace(node, repr(pattern))))
            elif isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(
                node.value, bool
            ):
                found.append((f"{node.value} -> {node.value + 1}", replace(node, repr(node.value + 1))))
        for k, (what, mutated) in enumerate(found, start=1):
            out.append((f"{module_of(path)}.{label}__const_{k}", f"{label}: {what}", mutated))
    return out


def run_constants(target: Target, work: Path, children: int) -> Outcome:
    outcome = Outcome()
    if not target.constants:
        return outcome
    mutants = [(path, *m) for path in target.files() for m in constant_mutants(path, target.constants)]
    if not mutants:
        return outcome
    log = work / "constants.log"
    copies: list[Path] = []
    for k in range(children):
        copy = work / f"constants-{k}"
        if copy.exists():
            shutil.rmtree(copy)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "opstui", copy / "opstui", ignore=ignore)
        shutil.copytree(ROOT / "tests", copy / "tests", ignore=ignore)
        shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
        copies.append(copy)
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", *PYTEST_ARGS, *target.tests]
    started = time.monotonic()
    if run(pytest, copies[0], log) != 0:
        raise SystemExit(f"{target.name}: the tests fail without any mutant (see {log})")
    limit = 10 * (time.monotonic() - started) + 30
    free = list(copies)

    def one(item: tuple[Path, str, str, str]) -> tuple[str, str, str]:
        path, name, what, mutated = item
        copy = free.pop()
        try:
            (copy / path).write_text(mutated)
            try:
                code = run(pytest, copy, log, timeout=limit)
            except subprocess.TimeoutExpired:
                return name, "timeout", what
            finally:
                shutil.copy2(ROOT / path, copy / path)
            return name, {0: "survived", 1: "killed", 2: "killed"}.get(code, f"error {code}"), what
        finally:
            free.append(copy)

    with ThreadPoolExecutor(children) as pool:
        for name, status, what in pool.map(one, mutants):
            outcome.status[name] = status
            if status != "killed":
                outcome.diff[name] = what
    return outcome


# -- main -------------------------------------------------------------------------------------------------


def report(target: Target, parts: dict[str, Outcome], seconds: float) -> tuple[int, dict[str, object]]:
    unexplained = 0
    summary: dict[str, object] = {"target": target.name, "seconds": round(seconds)}
    print(f"\n== {target.name} ({', '.join(map(str, target.files()))} against {' '.join(target.tests)})")
    for part, outcome in parts.items():
        counts: dict[str, int] = {}
        for status in outcome.status.values():
            counts[status] = counts.get(status, 0) + 1
        summary[part] = counts
        print(f"   {part:9} {len(outcome.status):4} mutants: "
              + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        untested = sorted({name.rsplit("__", 1)[0] for name, s in outcome.status.items() if s == "no tests"})
        if untested:
            print(f"     no test reaches: {', '.join(n.rsplit('.', 1)[-1] for n in untested)}")
            unexplained += sum(1 for s in outcome.status.values() if s == "no tests")
        for name, diff in outcome.diff.items():
            status = outcome.status[name]
            if status == "survived" and name in target.equivalent:
                print(f"     equivalent {name}: {target.equivalent[name]}")
                continue
            unexplained += 1
            print(f"   ! {status} {name}\n" + "\n".join(f"       {line}" for line in diff.splitlines()))
    summary["unexplained"] = unexplained
    print(f"   {unexplained} not killed and not listed as equivalent ({seconds:.0f} s)")
    return unexplained, summary


def main() -> int:
    targets = load_targets()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"targets (default: all of {', '.join(targets)})")
    parser.add_argument("--sample", type=int, help="run only N mutmut mutants per target, chosen at random")
    parser.add_argument("--seed", type=int, default=1, help="random seed for --sample")
    parser.add_argument("--children", type=int, default=min(2, os.cpu_count() or 1), help="parallel workers")
    parser.add_argument("--keep", action="store_true", help="reuse mutmut's earlier results in mutation/work/")
    parser.add_argument("--tests", nargs="+", help="run against these tests instead of the target's own")
    parser.add_argument("--no-constants", action="store_true", help="skip the module-level constants pass")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in targets]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(targets)}")
    failed = 0
    summaries = []
    for name in args.names or list(targets):
        target = targets[name]
        if args.tests:
            target.tests = args.tests
        started = time.monotonic()
        work = prepare_workdir(target, fresh=not args.keep)
        names = mutant_names(target, work)
        if args.sample and args.sample < len(names):
            names = sorted(random.Random(args.seed).sample(names, args.sample))
            print(f"{name}: sampling {len(names)} mutmut mutants (seed {args.seed})")
        parts = {"mutmut": run_mutmut(target, work, names, args.children)}
        if not args.no_constants:
            parts["constants"] = run_constants(target, work, args.children)
        unexplained, summary = report(target, parts, time.monotonic() - started)
        summary["sampled"] = bool(args.sample)
        summaries.append(summary)
        failed += unexplained
    (WORK / "summary.json").write_text(json.dumps(summaries, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
