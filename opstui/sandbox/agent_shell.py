"""The process side of a sandbox Session Manager session: a real PTY shell for a managed node.

Each session runs one local process as the local user (the sandbox is loopback-only for this reason):

* ``Standard_Stream`` (default shell document): ``bash -l`` in a PTY.
* ``InteractiveCommands`` (``AWS-StartInteractiveCommand``): ``bash -lc <command>`` in a PTY.
* ``NonInteractiveCommands`` (``AWS-StartNonInteractiveCommand``): ``bash -lc <command>`` with stdin from
  /dev/null and stdout/stderr on two pipes, so the agent can send them as Output (1) and StdErr (11).
* Windows nodes get PowerShell instead, as the real agent starts ``powershell`` there
  (``agent/session/shell/shell_windows.go``): ``pwsh -NoLogo`` (``-Command <command>``) where pwsh is
  installed, else the sandbox's PowerShell-like host :mod:`opstui.sandbox.powershell_shim` (``PS
  C:\\Windows\\system32>`` REPL; see :func:`shell_argv`).

Each node has its own home directory, ``<state_dir>/nodes/<instance-id>/home``, with a ``.bash_profile``
(written only if missing) whose prompt shows the node's Name tag and id. The name is never written into
a file or spliced into shell code: it reaches bash through the ``OPSTUI_PROMPT_NAME`` environment variable
and PS1 refers to it as ``${OPSTUI_PROMPT_NAME}``; bash does not re-expand the result of a parameter
expansion, so a hostile Name tag (``$(rm -rf ~)``, backslashes, escape sequences) is inert. Control and
format characters are removed from it anyway so the prompt cannot drive the client's terminal.

The child environment is built from scratch (HOME, USER, LOGNAME, SHELL, TERM, LANG, PATH, HOSTNAME,
OPSTUI_NODE_ID, OPSTUI_NODE_NAME, OPSTUI_REGION, SSM_SESSION_ID): nothing else of the sandbox's
environment, in particular no AWS credentials, reaches the shell.

Node identity. On AWS every node answers ``hostname``/``uname -n`` with its own name -- the name SSM reports
as ``ComputerName`` in DescribeInstanceInformation ("The fully qualified host name of the managed node",
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html) -- so a fan-out
of ``hostname`` gives one group per node. The sandbox's nodes are all processes of one machine, run as the
local user, who may not call sethostname(2); a user+UTS namespace would allow it, but maps every other uid to
``nobody`` (``ls -l /`` would show ``nobody``), and plain ``unshare --uts`` needs root. So each node gets
``<state_dir>/nodes/<id>/bin`` (:func:`node_bin`), first on its PATH, with ``hostname`` and ``uname``
wrappers that answer the node's ComputerName (``hostname -s`` its first label, ``hostname -i`` its private
IP, ``uname -n``/``-a`` the name in the nodename field; options they do not know go to the real tools),
and ``HOSTNAME`` in the environment holds the same name (bash keeps an inherited ``HOSTNAME``). Programs
that ask the kernel themselves (``cat /proc/sys/kernel/hostname``, ``python -c 'socket.gethostname()'``)
still see the machine's name: listed in the README (Where the sandbox is not AWS).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import unicodedata
from pathlib import Path

from opstui.private_files import private_dir, write_private

#: what earlier sandboxes wrote; a profile still byte-identical to it was never edited and is upgraded
_PROFILE_V1 = """\
# Written by the opstui sandbox for this simulated managed node (it is never overwritten; edit freely).
# The node's Name tag comes from the environment, so renaming the node changes the prompt.
PS1='[ssm-user@${OPSTUI_PROMPT_NAME} (${OPSTUI_NODE_ID}) \\W]$ '
cd "$HOME" || true
"""

PROFILE = """\
# Written by the opstui sandbox for this simulated managed node (it is never overwritten; edit freely).
# The node's Name tag comes from the environment, so renaming the node changes the prompt.
PS1='[ssm-user@${OPSTUI_PROMPT_NAME} (${OPSTUI_NODE_ID}) \\W]$ '
# The node's own hostname/uname (a login shell's /etc/profile resets PATH, so the node's bin goes first again).
[ -n "${OPSTUI_NODE_BIN:-}" ] && PATH="$OPSTUI_NODE_BIN:$PATH"
cd "$HOME" || true
"""

#: Sets the controlling terminal, then execs. Used only where util-linux ``setsid`` is missing.
_CTTY_HELPER = (
    "import fcntl,os,sys,termios\n"
    "os.setsid()\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)

_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def sanitize_name(name: str | None, fallback: str, limit: int = 64) -> str:
    """A Name tag made safe for a prompt/hostname: printable characters only, spaces collapsed, bounded."""
    text = "".join(" " if ch.isspace() else ch for ch in (name or "")
                   if ch.isspace() or unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    text = " ".join(text.split())[:limit]
    return text or fallback


def node_home(state_dir: Path, instance_id: str) -> Path:
    """``<state_dir>/nodes/<instance-id>/home``, created on demand, with the prompt profile.

    Every folder on the way is 0700 (the state dir, ``nodes``, the node, its home): what a node's commands
    write is the local user's alone."""
    safe_id = "".join(ch for ch in instance_id if ch.isalnum() or ch in "-_.")[:64] or "node"
    root = Path(state_dir)
    home = root / "nodes" / safe_id / "home"
    for folder in (root, root / "nodes", root / "nodes" / safe_id, home):
        private_dir(folder)
    profile = home / ".bash_profile"
    try:
        current = profile.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current is None or current == _PROFILE_V1:
        write_private(profile, PROFILE)
    return home


def shell_env(*, home: Path, node_id: str, node_name: str, region: str, session_id: str,
              computer_name: str | None = None, bin_dir: Path | None = None) -> dict[str, str]:
    """The child's whole environment (see the module docstring); nothing secret is inherited.

    ``computer_name`` is the node's ComputerName (HOSTNAME; the Name tag when the node has none) and
    ``bin_dir`` the node's :func:`node_bin`, put first on PATH so ``hostname``/``uname`` answer for the node."""
    user = _local_user()
    display = sanitize_name(node_name, node_id)
    path = os.environ.get("PATH") or os.defpath
    extra: dict[str, str] = {}
    if bin_dir is not None:
        path = f"{bin_dir}{os.pathsep}{path}"
        extra["OPSTUI_NODE_BIN"] = str(bin_dir)
    env = {
        "HOME": str(home),
        "USER": user,
        "LOGNAME": user,
        "SHELL": "/bin/bash",
        "TERM": "xterm-256color",
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "PATH": path,
        "HOSTNAME": _no_nul(computer_name) or display,
        "OPSTUI_PROMPT_NAME": display,
        "OPSTUI_NODE_ID": node_id,
        "OPSTUI_NODE_NAME": display,
        "OPSTUI_REGION": region,
        "SSM_SESSION_ID": session_id,
    }
    env.update(extra)
    if os.environ.get("LC_ALL"):
        env["LC_ALL"] = os.environ["LC_ALL"]
    return env


def _no_nul(text: str | None) -> str:
    return (text or "").replace("\0", "")


_HOSTNAME_WRAPPER = """#!/bin/sh
# Written by the opstui sandbox: this managed node's host name (its ComputerName in SSM). The sandbox runs
# every node on one machine and cannot rename it, so this node's PATH answers for the node.
NODE={name}
IP={ip}
case "${{1:-}}" in
  "" | -f | --fqdn | --long | -A | --all-fqdns) printf '%s\\n' "$NODE" ;;
  -s | --short) printf '%s\\n' "${{NODE%%.*}}" ;;
  -d | --domain) case "$NODE" in *.*) printf '%s\\n' "${{NODE#*.}}" ;; *) echo ;; esac ;;
  -i | --ip-address | -I | --all-ip-addresses) printf '%s\\n' "$IP" ;;
  -*) {real_hostname} ;;
  *) echo "hostname: you must be root to change the host name" >&2; exit 1 ;;
esac
"""

_UNAME_WRAPPER = """#!/bin/sh
# Written by the opstui sandbox: uname with this managed node's name in the nodename field (see hostname).
NODE={name}
REAL={real}
[ $# -eq 0 ] && set -- -s
want=""
for arg in "$@"; do
  case "$arg" in
    --all) want="$want a" ;;
    --kernel-name) want="$want s" ;;
    --nodename) want="$want n" ;;
    --kernel-release) want="$want r" ;;
    --kernel-version) want="$want v" ;;
    --machine) want="$want m" ;;
    --processor) want="$want p" ;;
    --hardware-platform) want="$want i" ;;
    --operating-system) want="$want o" ;;
    -?*)
      flags=${{arg#-}}
      while [ -n "$flags" ]; do
        c=${{flags%"${{flags#?}}"}}
        flags=${{flags#?}}
        case "$c" in [asnrvmpio]) want="$want $c" ;; *) exec "$REAL" "$@" ;; esac
      done ;;
    *) exec "$REAL" "$@" ;;
  esac
done
has() {{ case " $want " in *" $1 "*) return 0 ;; esac; return 1; }}
out=""
add() {{ if [ -n "$out" ]; then out="$out $1"; else out=$1; fi; }}
all=false
has a && all=true
for f in s n r v m p i o; do
  if $all; then
    case $f in p|i) v=$("$REAL" -$f); [ "$v" = unknown ] || add "$v"; continue ;; esac
  elif ! has $f; then
    continue
  fi
  if [ $f = n ]; then add "$NODE"; else add "$("$REAL" -$f)"; fi
done
printf '%s\\n' "$out"
"""

_bin_lock = threading.Lock()


def node_bin(state_dir: Path, instance_id: str, computer_name: str, ip_address: str | None = None) -> Path:
    """``<state_dir>/nodes/<instance-id>/bin`` with the node's ``hostname`` and ``uname`` (module docstring).

    Rewritten (atomically: concurrent commands on one node may ask at once) only when the name changed. The
    name reaches the scripts shell-quoted, never as code, so a hostile ComputerName prints as itself."""
    home = node_home(state_dir, instance_id)
    folder = private_dir(home.parent / "bin")
    name = shlex.quote(_no_nul(computer_name))
    real_hostname = shutil.which("hostname")
    fallback = (f'exec {shlex.quote(real_hostname)} "$@"' if real_hostname
                else 'echo "hostname: invalid option -- \'${1#-}\'" >&2; exit 1')
    real_uname = shutil.which("uname") or "/bin/uname"
    scripts = {
        "hostname": _HOSTNAME_WRAPPER.format(name=name, ip=shlex.quote(ip_address or ""),
                                             real_hostname=fallback),
        "uname": _UNAME_WRAPPER.format(name=name, real=shlex.quote(real_uname)),
    }
    with _bin_lock:
        for script, text in scripts.items():
            target = folder / script
            try:
                if target.read_text(encoding="utf-8") == text:
                    continue
            except OSError:
                pass
            tmp = folder / f".{script}.{os.getpid()}.{threading.get_ident()}"
            write_private(tmp, text)
            tmp.chmod(0o700)
            os.replace(tmp, target)
    return folder


SHIM_PATH = Path(__file__).with_name("powershell_shim.py")


def shell_argv(*, platform: str, command: str | None, computer_name: str, home: Path) -> list[str]:
    """What a session runs on a node of ``platform``: bash on Linux/macOS, PowerShell on Windows (module doc).

    The shim runs as a standalone script (``python -I``: no site, no PYTHONPATH, nothing of the sandbox's
    process), standard library only."""
    if platform == "Windows":
        pwsh = shutil.which("pwsh")
        if pwsh:
            return [pwsh, "-NoLogo"] if command is None else [pwsh, "-NoLogo", "-NoProfile", "-Command", command]
        argv = [sys.executable, "-I", str(SHIM_PATH), "--computer-name", computer_name, "--home", str(home)]
        return argv if command is None else [*argv, "--command", command]
    bash = shutil.which("bash") or "/bin/bash"
    return [bash, "-l"] if command is None else [bash, "-lc", command]


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def split_utf8(data: bytes) -> tuple[bytes, bytes]:
    """(complete, tail): ``tail`` is an incomplete UTF-8 sequence at the end, to carry to the next chunk.

    Invalid bytes are not judged here (they pass through); only a *truncated* multibyte sequence is held.
    """
    n = len(data)
    for back in range(1, min(4, n) + 1):
        b = data[n - back]
        if b < 0x80:
            return data, b""  # ASCII: everything before is complete
        if b >= 0xC0:  # a lead byte
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4 if b < 0xF8 else 1
            if back < need:
                return data[: n - back], data[n - back :]
            return data, b""
    return data, b""


class ShellProcess:
    """One local process for a session: PTY mode (``fds == {"out": master}``) or pipe mode (out/err)."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path, pty_mode: bool,
                 cols: int = 80, rows: int = 24) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.pty_mode = pty_mode
        self.cols, self.rows = cols, rows
        self.proc: subprocess.Popen[bytes] | None = None
        self.fds: dict[str, int] = {}

    def start(self) -> None:
        if self.pty_mode:
            master, slave = os.openpty()
            try:
                _set_size(master, self.cols, self.rows)
                setsid = shutil.which("setsid")
                # The child is not a process-group leader, so ``setsid -c`` (util-linux) does not fork:
                # the shell keeps the Popen pid, which is also its session and process-group id.
                prefix = [setsid, "-c"] if setsid else [sys.executable, "-I", "-S", "-c", _CTTY_HELPER]
                self.proc = subprocess.Popen(prefix + self.argv, stdin=slave, stdout=slave, stderr=slave,
                                             cwd=self.cwd, env=self.env, close_fds=True)
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)
            os.set_blocking(master, False)
            self.fds = {"out": master}
        else:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, cwd=self.cwd, env=self.env,
                                         close_fds=True, start_new_session=True)
            assert self.proc.stdout is not None and self.proc.stderr is not None
            out, err = self.proc.stdout.fileno(), self.proc.stderr.fileno()
            os.set_blocking(out, False)
            os.set_blocking(err, False)
            self.fds = {"out": out, "err": err}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def resize(self, cols: int, rows: int) -> None:
        if not self.pty_mode or "out" not in self.fds:
            return
        self.cols, self.rows = cols, rows
        _set_size(self.fds["out"], cols, rows)
        self.signal(signal.SIGWINCH)

    def write(self, data: bytes) -> int:
        """Write what the PTY takes now (non-blocking); returns the number of bytes written."""
        if not self.pty_mode or "out" not in self.fds:
            return len(data)
        try:
            return os.write(self.fds["out"], data)
        except BlockingIOError:
            return 0

    def signal(self, sig: int) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill_session(self) -> int:
        """SIGKILL every process still in the shell's session (disowned/nohup jobs too); Linux /proc only."""
        if self.proc is None:
            return 0
        sid, killed = self.proc.pid, 0
        try:
            entries = os.listdir("/proc")
        except OSError:
            return 0
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read()
                # fields after the parenthesised command: state ppid pgrp session ...
                session = int(stat[stat.rindex(b")") + 2 :].split()[3])
            except (OSError, ValueError, IndexError):
                continue
            if session == sid:
                with contextlib.suppress(OSError):
                    os.kill(int(entry), signal.SIGKILL)
                    killed += 1
        return killed

    def poll(self) -> int | None:
        """The exit status as a shell reports it (128+N for a signal), or None while running."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            return None
        return 128 - code if code < 0 else code

    def close_fds(self) -> None:
        if self.pty_mode:
            for fd in self.fds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
        elif self.proc is not None:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        self.fds = {}


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
