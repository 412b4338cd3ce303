"""A PowerShell-like shim for the sandbox's Windows nodes, where ``pwsh`` is not installed.

Why: a Windows managed node runs Windows PowerShell -- Session Manager starts ``powershell`` in a winpty console
(aws/amazon-ssm-agent ``agent/session/shell/shell_windows.go``) and ``aws:runPowerShellScript`` runs the script
with it -- but the sandbox's nodes are processes of one Linux machine. Where ``pwsh`` is installed the sandbox runs
that; elsewhere this shim answers the few things an operator tries first, in the shapes Windows PowerShell 5.1
on Windows Server 2022 prints them, so that a Windows node never looks like a Linux one:

* ``Write-Output``/``Write-Host``/``echo`` and bare string literals (``"..."`` expands ``$env:X``; ``'...'``
  does not), ``$env:X``;
* ``Get-Date``; ``hostname`` and ``$env:COMPUTERNAME`` (the node's ComputerName, as DescribeInstanceInformation
  reports it); ``whoami`` (``<computer>\\ssm-user`` in a session, ``nt authority\\system`` for Run Command, which
  the agent runs as LocalSystem);
* ``Get-Service [-Name] <name|wildcard>`` over a fixed list of services a Windows Server 2022 EC2 instance runs
  (AmazonSSMAgent, EC2Launch, ...), with PowerShell's "Cannot find any service" error for a name with none;
* ``Get-ChildItem``/``ls``/``dir``/``gci`` of the current location, ``Get-Location``/``pwd``,
  ``Set-Location``/``cd`` between the location the shim maps onto a real folder and ``C:\\Windows\\system32``;
* ``$PSVersionTable`` and ``$PSVersionTable.PSVersion``;
* ``Start-Sleep [-Seconds] N``, ``exit [N]``, several statements joined with ``;`` on one line;
* anything else: PowerShell's CommandNotFoundException text, with ``At line:1 char:N`` in a session and
  ``At <script path>:<line> char:N`` in Run Command; the following statements still run, as in PowerShell.

This module is standard library only so that it runs as a program too (``python -I powershell_shim.py``, the
sandbox's interactive session on a Windows node: a line-oriented REPL over the PTY with the ``PS <location>> ``
prompt). The session starts in ``C:\\Windows\\system32``, where a real Session Manager session on Windows starts
(the agent's own working directory; e.g. the ``PS C:\\Windows\\system32>`` prompt recorded in
https://github.com/rapid7/metasploit-framework/pull/17430).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SYSTEM32 = "C:\\Windows\\system32"
USER_HOME = "C:\\Users\\ssm-user"
PS_VERSION = "5.1.20348.2849"

#: (status, name, display name): services of a Windows Server 2022 EC2 instance an operator looks for first
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("Running", "AmazonSSMAgent", "Amazon SSM Agent"),
    ("Stopped", "AmazonCloudWatchAgent", "Amazon CloudWatch Agent"),
    ("Running", "AWSLiteAgent", "AWS Lite Guest Agent"),
    ("Running", "BFE", "Base Filtering Engine"),
    ("Running", "CryptSvc", "Cryptographic Services"),
    ("Running", "Dhcp", "DHCP Client"),
    ("Running", "Dnscache", "DNS Client"),
    ("Stopped", "EC2Launch", "Amazon EC2Launch"),
    ("Running", "EventLog", "Windows Event Log"),
    ("Running", "LanmanServer", "Server"),
    ("Running", "LanmanWorkstation", "Workstation"),
    ("Running", "MpsSvc", "Windows Defender Firewall"),
    ("Running", "RpcSs", "Remote Procedure Call (RPC)"),
    ("Running", "Schedule", "Task Scheduler"),
    ("Running", "TermService", "Remote Desktop Services"),
    ("Running", "W32Time", "Windows Time"),
    ("Running", "WinRM", "Windows Remote Management (WS-Management)"),
    ("Stopped", "wuauserv", "Windows Update"),
)

_VERSION_TABLE = (
    ("PSVersion", PS_VERSION),
    ("PSEdition", "Desktop"),
    ("PSCompatibleVersions", "{1.0, 2.0, 3.0, 4.0...}"),
    ("BuildVersion", "10.0.20348.2849"),
    ("CLRVersion", "4.0.30319.42000"),
    ("WSManStackVersion", "3.0"),
    ("PSRemotingProtocolVersion", "2.3"),
    ("SerializationVersion", "1.1.0.1"),
)

_WRITE = re.compile(r"^(Write-Output|Write-Host|echo)(\s+(.*))?$", re.IGNORECASE)
_SLEEP = re.compile(r"^(Start-Sleep|sleep)\s+(-Seconds\s+|-s\s+)?(\d+(\.\d+)?)$", re.IGNORECASE)
_EXIT = re.compile(r"^exit(\s+(-?\d+))?$", re.IGNORECASE)
_ENV = re.compile(r"\$env:([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_SERVICE = re.compile(r"^(Get-Service|gsv)(\s+(-Name\s+)?(.+))?$", re.IGNORECASE)
_CHILD_ITEM = re.compile(r"^(Get-ChildItem|gci|ls|dir)(\s+(-Path\s+)?(.+))?$", re.IGNORECASE)
_SET_LOCATION = re.compile(r"^(Set-Location|cd|sl|chdir)(\s+(-Path\s+)?(.+))?$", re.IGNORECASE)


@dataclass
class Outcome:
    """What one statement did: text for stdout/stderr, a pause, or the end of the script/session."""

    out: str = ""
    err: str = ""
    sleep: float = 0.0
    exit: int | None = None


def split_statements(line: str) -> list[tuple[int, str]]:
    """``a; b`` -> [(1, "a"), (4, "b")]: the statements of a line with their 1-based column, ``;`` inside
    quotes kept."""
    out: list[tuple[int, str]] = []
    quote = ""
    start = 0
    for pos, ch in enumerate(line + ";"):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == ";":
            text = line[start:pos]
            stripped = text.lstrip()
            if stripped.strip():
                out.append((start + len(text) - len(stripped) + 1, stripped.rstrip()))
            start = pos + 1
    return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


class PowerShellShim:
    """The state of one PowerShell-like host: environment, current location, whether anything failed."""

    def __init__(self, *, computer_name: str, user: str, location: str, local_dir: Path,
                 env: dict[str, str] | None = None, script_path: str | None = None) -> None:
        self.computer_name = computer_name
        self.user = user
        self.env = {k.upper(): v for k, v in (env or {}).items()}
        self.env.setdefault("COMPUTERNAME", computer_name)
        self.env.setdefault("USERNAME", user)
        #: the location shown to the user and the local folder it stands for (Get-ChildItem lists that)
        self.home_location = location
        self.location = location
        self.local_dir = local_dir
        self.script_path = script_path
        self.failed = False

    # -- expressions ----------------------------------------------------------------------------------------

    def value(self, expr: str) -> str:
        """A PowerShell string expression: ``'literal'``, ``"expands $env:X"``, a bare word or ``$env:X``."""
        expr = expr.strip()
        if len(expr) >= 2 and expr[0] == expr[-1] == "'":
            return expr[1:-1]
        if len(expr) >= 2 and expr[0] == expr[-1] == '"':
            expr = expr[1:-1]
        return _ENV.sub(lambda m: self.env.get(m.group(1).upper(), ""), expr)

    # -- statements -----------------------------------------------------------------------------------------

    def run_line(self, line: str, number: int = 1) -> Iterator[Outcome]:
        """Run every statement of one input line, in order; an ``exit`` ends the line (and the caller's run)."""
        for column, statement in split_statements(line):
            if statement.startswith("#"):
                break
            outcome = self.run(statement, number, column)
            yield outcome
            if outcome.exit is not None:
                return

    def run(self, statement: str, number: int = 1, column: int = 1) -> Outcome:
        """One statement (no ``;``)."""
        lower = statement.lower()
        if m := _EXIT.match(statement):
            return Outcome(exit=int(m.group(2) or 0))
        if m := _SLEEP.match(statement):
            return Outcome(sleep=float(m.group(3)))
        if m := _WRITE.match(statement):
            return Outcome(out=self.value(m.group(3) or "") + "\n")
        if statement[:1] in "'\"" and statement[-1:] == statement[:1] and len(statement) >= 2:
            return Outcome(out=self.value(statement) + "\n")
        if _ENV.fullmatch(statement):
            return Outcome(out=self.value(statement) + "\n")
        if lower == "get-date":
            return Outcome(out=f"\n{_long_date(dt.datetime.now(dt.UTC))}\n\n\n")
        if lower == "hostname":
            return Outcome(out=self.computer_name + "\n")
        if lower == "whoami":
            return Outcome(out=self._whoami() + "\n")
        if lower in ("get-location", "pwd", "gl"):
            return Outcome(out=f"\nPath\n----\n{self.location}\n\n\n")
        if lower == "$psversiontable":
            width = 31
            rows = "".join(f"{k:<{width}}{v}\n" for k, v in _VERSION_TABLE)
            return Outcome(out=f"\n{'Name':<{width}}Value\n{'----':<{width}}-----\n{rows}\n\n")
        if lower == "$psversiontable.psversion":
            major, minor, build, rev = PS_VERSION.split(".")
            return Outcome(out=f"\nMajor  Minor  Build  Revision\n-----  -----  -----  --------\n"
                               f"{major:<7}{minor:<7}{build:<7}{rev}\n\n\n")
        if m := _SERVICE.match(statement):
            return self._get_service(m.group(4), statement, number, column)
        if m := _CHILD_ITEM.match(statement):
            return self._get_child_item(m.group(4), statement, number, column)
        if m := _SET_LOCATION.match(statement):
            return self._set_location(m.group(4), statement, number, column)
        word = statement.split()[0]
        return self._error(f"{word} : The term '{word}' is not recognized as the name of a cmdlet, function, "
                           "script file, or operable program. Check the spelling of the name, or if a path was "
                           "included, verify that the path is correct and try again.",
                           statement, number, column, len(word),
                           f"ObjectNotFound: ({word}:String) [], CommandNotFoundException",
                           "CommandNotFoundException")

    # -- cmdlets ----------------------------------------------------------------------------------------------

    def _whoami(self) -> str:
        if self.user.upper() == "SYSTEM":
            return "nt authority\\system"
        return f"{self.computer_name.lower()}\\{self.user.lower()}"

    def _get_service(self, arg: str | None, statement: str, number: int, column: int) -> Outcome:
        rows = list(SERVICES)
        if arg:
            names = [_unquote(n) for n in arg.split(",") if n.strip()]
            rows = []
            for name in names:
                found = [s for s in SERVICES if fnmatch.fnmatch(s[1].lower(), name.lower())]
                if not found and not any(ch in name for ch in "*?["):
                    return self._error(f"Get-Service : Cannot find any service with service name '{name}'.",
                                       statement, number, column, len(statement),
                                       f"ObjectNotFound: ({name}:String) [Get-Service], ServiceCommandException",
                                       "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand")
                rows.extend(s for s in found if s not in rows)
        if not rows:
            return Outcome()
        width = max(19, max(len(s[1]) for s in rows) + 1)
        lines = [f"{'Status':<9}{'Name':<{width}}DisplayName", f"{'------':<9}{'----':<{width}}-----------"]
        lines += [f"{status:<9}{name:<{width}}{display}" for status, name, display in rows]
        return Outcome(out="\n" + "\n".join(lines) + "\n\n\n")

    def _resolve(self, path: str | None) -> tuple[str, Path | None] | None:
        """(shown location, local folder or None) for a path argument; None when it does not exist.

        Only the home location stands for a real folder (and its direct subfolders); ``C:\\Windows\\system32``
        exists but lists nothing: the sandbox has no Windows files to show."""
        raw = (path or ".").strip()
        target = self.value(raw).rstrip("\\") or raw
        low = target.lower()
        if low == ".":
            shown = self.location
        elif low in ("~", "$home", self.home_location.lower()):
            shown = self.home_location
        elif low == SYSTEM32.lower():
            shown = SYSTEM32
        elif (self.location == self.home_location and re.fullmatch(r"[^\\/:*?\"<>|]+", target)
              and target not in ("..",) and (self.local_dir / target).is_dir()):
            return f"{self.home_location}\\{target}", self.local_dir / target
        else:
            return None
        return shown, self.local_dir if shown == self.home_location else None

    def _get_child_item(self, arg: str | None, statement: str, number: int, column: int) -> Outcome:
        resolved = self._resolve(arg)
        if resolved is None:
            shown = self.value(arg or "")
            return self._error(f"Get-ChildItem : Cannot find path '{shown}' because it does not exist.",
                               statement, number, column, len(statement),
                               f"ObjectNotFound: ({shown}:String) [Get-ChildItem], ItemNotFoundException",
                               "PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand")
        shown, local = resolved
        entries = _listing(local)
        if not entries:
            return Outcome()
        lines = [f"\n    Directory: {shown}\n\n", f"{'Mode':<20}{'LastWriteTime':<21}{'Length':>7} Name",
                 f"{'----':<20}{'-------------':<21}{'------':>7} ----"]
        for mode, when, length, name in entries:
            lines.append(f"{mode:<13}{when:>20}{length:>15} {name}")
        return Outcome(out="\n".join(lines) + "\n\n\n")

    def _set_location(self, arg: str | None, statement: str, number: int, column: int) -> Outcome:
        resolved = self._resolve(arg or "~")
        if resolved is None:
            shown = self.value(arg or "")
            return self._error(f"Set-Location : Cannot find path '{shown}' because it does not exist.",
                               statement, number, column, len(statement),
                               f"ObjectNotFound: ({shown}:String) [Set-Location], ItemNotFoundException",
                               "PathNotFound,Microsoft.PowerShell.Commands.SetLocationCommand")
        self.location = resolved[0]
        return Outcome()

    def _error(self, message: str, statement: str, number: int, column: int, width: int, category: str,
               error_id: str) -> Outcome:
        self.failed = True
        where = f"{self.script_path}:{number}" if self.script_path else f"line:{number}"
        text = (f"{message}\nAt {where} char:{column}\n+ {statement}\n+ {'~' * max(1, width)}\n"
                f"    + CategoryInfo          : {category}\n    + FullyQualifiedErrorId : {error_id}\n \n")
        return Outcome(err=text)


def _long_date(when: dt.datetime) -> str:
    """``Monday, June 2, 2025 9:05:03 AM``: PowerShell's default (en-US) rendering of a DateTime."""
    hour = when.hour % 12 or 12
    return (f"{when.strftime('%A')}, {when.strftime('%B')} {when.day}, {when.year} "
            f"{hour}:{when.minute:02d}:{when.second:02d} {'AM' if when.hour < 12 else 'PM'}")


def _listing(folder: Path | None) -> list[tuple[str, str, str, str]]:
    """Rows (mode, last write time, length, name) of a local folder, folders first, as Get-ChildItem shows."""
    if folder is None or not folder.is_dir():
        return []
    rows: list[tuple[bool, str, tuple[str, str, str, str]]] = []
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue  # hidden (Get-ChildItem without -Force leaves hidden items out)
        try:
            info = entry.stat()
        except OSError:
            continue
        when = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC)
        hour = when.hour % 12 or 12
        stamp = f"{when.month}/{when.day}/{when.year}  {hour:>2}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"
        is_dir = entry.is_dir()
        row = ("d-----" if is_dir else "-a----", stamp, "" if is_dir else str(info.st_size), entry.name)
        rows.append((not is_dir, entry.name.lower(), row))
    return [row for _, _, row in sorted(rows)]


# ------------------------------------------------------------------------------------------------------------
# the interactive host (a Session Manager session on a Windows node)

BANNER = ("Windows PowerShell\nCopyright (C) Microsoft Corporation. All rights reserved.\n\n"
          "Install the latest PowerShell for new features and improvements! https://aka.ms/PSWindows\n\n")


def repl(shim: PowerShellShim, stdin: object = None, stdout: object = None) -> int:
    """Read a line, run it, print, until ``exit`` or end of input; Ctrl-C abandons the line (or a sleep)."""
    inp = stdin or sys.stdin
    out = stdout or sys.stdout
    out.write(BANNER)  # type: ignore[attr-defined]
    while True:
        out.write(f"PS {shim.location}> ")  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]
        try:
            line = inp.readline()  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            out.write("\n")  # type: ignore[attr-defined]
            continue
        if not line:
            return 0
        try:
            for outcome in shim.run_line(line.rstrip("\r\n")):
                if outcome.out:
                    out.write(outcome.out)  # type: ignore[attr-defined]
                if outcome.err:
                    out.write(outcome.err)  # type: ignore[attr-defined]
                out.flush()  # type: ignore[attr-defined]
                if outcome.sleep:
                    time.sleep(outcome.sleep)
                if outcome.exit is not None:
                    return outcome.exit
        except KeyboardInterrupt:
            out.write("\n")  # type: ignore[attr-defined]


def run_command(shim: PowerShellShim, command: str) -> int:
    """``powershell -Command``: run the lines, print as they go; the exit status is ``exit N``'s, else 1 when a
    statement failed, else 0."""
    for number, line in enumerate(command.splitlines() or [""], start=1):
        for outcome in shim.run_line(line, number):
            if outcome.out:
                sys.stdout.write(outcome.out)
            if outcome.err:
                sys.stderr.write(outcome.err)
            sys.stdout.flush()
            sys.stderr.flush()
            if outcome.sleep:
                time.sleep(outcome.sleep)
            if outcome.exit is not None:
                return outcome.exit
    return 1 if shim.failed else 0


def main(argv: list[str] | None = None) -> int:
    """``powershell_shim.py --computer-name NAME --home DIR [--command TEXT]``: the interactive host (or one
    command, for AWS-StartInteractiveCommand/AWS-StartNonInteractiveCommand), in the node's home."""
    parser = argparse.ArgumentParser(prog="powershell")
    parser.add_argument("--computer-name", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--command")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.update({"USERPROFILE": USER_HOME, "HOMEDRIVE": "C:", "HOMEPATH": "\\Users\\ssm-user"})
    shim = PowerShellShim(computer_name=args.computer_name, user="ssm-user", location=USER_HOME,
                          local_dir=Path(args.home), env=env)
    shim.location = SYSTEM32
    try:
        return repl(shim) if args.command is None else run_command(shim, args.command)
    except (BrokenPipeError, OSError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
