"""`opstui shell` end to end: a real pty on our side, the sandbox's real pty on the other."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.helpers import interrupt_when


def spawn(sandbox, *args: str, cols: int = 100, rows: int = 30):
    pid, fd = pty.fork()
    if pid == 0:
        env = {**os.environ, **sandbox.env(), "TERM": "xterm"}
        os.execve(sys.executable, [sys.executable, "-m", "opstui", "shell", "--endpoint-url", sandbox.endpoint,
                                   "--region", "ap-northeast-1", "--region", "ap-northeast-3", *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def read_until(fd: int, needle: bytes, timeout: float = 20, seen: bytearray | None = None) -> bytes:
    out = seen if seen is not None else bytearray()
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    assert needle in out, bytes(out[-600:])
    return bytes(out)


def wait_exit(pid: int, fd: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with __import__("contextlib").suppress(OSError):
            if select.select([fd], [], [], 0.1)[0]:
                os.read(fd, 65536)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
    os.kill(pid, 9)
    raise AssertionError("opstui shell did not exit")


def test_shell_by_name_runs_commands_follows_resize_and_exits_0_as_on_aws(sandbox):
    pid, fd = spawn(sandbox, "prod-web-01", cols=100, rows=30)
    read_until(fd, b"$ ")
    os.write(fd, b"stty size; echo A$((40+2))\r")
    read_until(fd, b"A42")
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    os.kill(pid, __import__("signal").SIGWINCH)
    time.sleep(0.6)
    os.write(fd, b"stty size\r")
    read_until(fd, b"40 120")
    os.write(fd, b"exit 7\r")
    # an interactive shell's exit status never reaches the client on AWS (no ExitCode payload), so the
    # session ends normally: the session-manager-plugin exits 0 there too
    assert wait_exit(pid, fd) == 0


def test_shell_by_tag_must_match_exactly_one_node_else_exit_2(sandbox):
    """Ambiguous TARGET is bad input (2); 255 is kept for connection failures, as the README says."""
    pid, fd = spawn(sandbox, "tag:Role=web")
    out = read_until(fd, b"pick one")
    assert b"prod-web-01" in out and b"Traceback" not in out
    assert wait_exit(pid, fd) == 2


def run_cli(sandbox, *args: str, endpoint: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, **sandbox.env(), "OPSTUI_CONFIG": os.devnull}
    return subprocess.run([sys.executable, "-m", "opstui", "shell", "--endpoint-url", endpoint or sandbox.endpoint,
                           "--region", "ap-northeast-1", *args], capture_output=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


def test_no_matching_node_exits_2_and_says_what_to_use(sandbox):
    done = run_cli(sandbox, "no-such-node")
    assert done.returncode == 2, done.stderr
    assert b"no managed node matches 'no-such-node' in ap-northeast-1" in done.stderr
    assert b"Name tag" in done.stderr and b"Traceback" not in done.stderr


def test_a_closed_port_is_reported_as_an_unreachable_endpoint_not_as_no_match(sandbox):
    import socket

    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        done = run_cli(sandbox, "--region", "ap-northeast-3", "prod-web-01", endpoint=url)
    err = done.stderr.decode()
    assert done.returncode == 255, err
    assert f"{url} is unreachable" in err and "--endpoint-url" in err, err
    assert err.count("is unreachable") == 1 and "ap-northeast-1, ap-northeast-3" in err  # said once for both
    assert "no managed node matches" not in err and "Traceback" not in err


def test_shell_to_a_connection_lost_node_says_why(sandbox):
    pid, fd = spawn(sandbox, "prod-web-03")  # the scenario's ConnectionLost node
    out = read_until(fd, b"TargetNotConnected")
    assert b"Traceback" not in out
    assert wait_exit(pid, fd) == 255


def test_terminal_is_restored_after_the_session(sandbox):
    pid, fd = pty.fork()
    if pid == 0:
        env = {**os.environ, **sandbox.env(), "TERM": "xterm"}
        cmd = (f"{sys.executable} -m opstui shell --endpoint-url {sandbox.endpoint} --region ap-northeast-1 "
               "prod-web-01; stty -a; echo AFTER-$((1+1))")
        os.execve("/bin/sh", ["/bin/sh", "-c", cmd], env)
    read_until(fd, b"$ ")
    os.write(fd, b"exit 0\r")
    out = read_until(fd, b"AFTER-2")
    tail = out[out.rindex(b"speed"):]
    assert b" icanon" in tail and b" echo" in tail and b"-icanon" not in tail  # cooked mode is back
    wait_exit(pid, fd)


@pytest.mark.parametrize("how", ["config", "flag"])
def test_read_only_refuses_the_shell_before_start_session_is_sent(sandbox, tmp_path, how):
    """`read_only = true` in the config file (or --read-only) holds for `opstui shell` as for the TUI."""
    config = tmp_path / "config.toml"
    config.write_text("read_only = true\n" if how == "config" else "")
    sandbox.clear_calls()
    env = {**os.environ, **sandbox.env(), "OPSTUI_CONFIG": str(config)}
    args = [sys.executable, "-m", "opstui", "shell", "--endpoint-url", sandbox.endpoint,
            "--region", "ap-northeast-1", "prod-web-01", *(["--read-only"] if how == "flag" else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 3, done.stderr
    assert "read-only mode: ssm:StartSession was not sent" in done.stderr
    assert not any(k.startswith("ssm:StartSession") for k in sandbox.calls())


# --- opstui shell TARGET -- COMMAND: a non-interactive command session, whose exit status AWS reports --------

@pytest.mark.parametrize("code", [0, 3])
def test_a_command_exits_with_its_own_status_and_keeps_stdout_and_stderr_apart(sandbox, code):
    sandbox.clear_calls()
    done = run_cli(sandbox, "prod-web-01", "--", "echo", "out-$((6*7));", "echo err-line", ">&2;", f"exit {code}")
    assert done.returncode == code, done.stderr
    assert done.stdout == b"out-42\n"
    assert done.stderr == b"err-line\n"
    starts = [c for c in sandbox.calls() if c.startswith("ssm:StartSession")]
    assert len(starts) == 1
    last = sandbox.sessions()["sessions"][-1]  # in the order they were started
    assert last["document"] == "AWS-StartNonInteractiveCommand" and last["separate_output"] is True


def test_a_command_passes_bytes_through_unchanged(sandbox):
    """Output that is not UTF-8 (and control bytes) reaches a pipe byte for byte, as from ssh."""
    done = run_cli(sandbox, "prod-web-01", "--", r"printf 'caf\xc3\xa9 \xff\xfe raw\x1b[1m\n'; printf '\x00\x01' >&2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "café ".encode() + b"\xff\xfe raw\x1b[1m\n"
    assert done.stderr == b"\x00\x01"


def test_a_command_shown_on_a_terminal_cannot_drive_it(sandbox):
    """To a terminal (as `opstui run` does), escape sequences from the node are made visible, not obeyed."""
    pid, fd = spawn(sandbox, "prod-web-01", "--", r"printf 'A\033]0;pwned\007B\033[2JC-%s\n' $((6*7)); "
                                                  r"printf 'E\033[31mF\n' >&2")
    out = read_until(fd, b"C-42")
    out = read_until(fd, b"F", seen=bytearray(out))
    assert wait_exit(pid, fd) == 0
    assert b"\x1b" not in out and b"\x07" not in out
    assert b"A" in out and b"pwned" in out and b"E" in out


def test_ctrl_c_stops_a_command_and_ends_its_session(sandbox):
    """ctrl+c exits 130 and terminates the session on the way out, so the remote command does not run on."""
    before = {row["id"] for row in sandbox.sessions()["sessions"]}
    proc = subprocess.Popen([sys.executable, "-m", "opstui", "shell", "--endpoint-url", sandbox.endpoint, "--region",
                             "ap-northeast-1", "prod-web-01", "--", "echo started; sleep 60; echo never"],
                            env={**os.environ, **sandbox.env(), "OPSTUI_CONFIG": os.devnull},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = interrupt_when(proc, b"started\n")
    assert proc.returncode == 130 and b"never" not in out
    deadline = time.monotonic() + 10
    while True:
        new = [row for row in sandbox.sessions()["sessions"] if row["id"] not in before]
        if new and new[-1]["status"] in ("Terminated", "Failed"):
            break
        assert time.monotonic() < deadline, new
        time.sleep(0.1)
    assert new[-1]["status"] == "Terminated"


def test_a_command_that_does_not_exist_exits_127(sandbox):
    done = run_cli(sandbox, "prod-web-01", "--", "no-such-command-xyz")
    assert done.returncode == 127, done.stderr
    assert b"no-such-command-xyz" in done.stderr and b"not found" in done.stderr
    assert done.stdout == b""


def test_a_command_that_prints_nothing_still_exits_with_its_status(sandbox):
    done = run_cli(sandbox, "prod-web-01", "--", "exit 5")
    assert (done.returncode, done.stdout, done.stderr) == (5, b"", b"")


def test_a_command_cannot_be_combined_with_document_or_empty(sandbox):
    done = run_cli(sandbox, "prod-web-01", "--document", "AWS-StartInteractiveCommand", "--", "ls")
    assert done.returncode == 2 and b"cannot be combined" in done.stderr
    done = run_cli(sandbox, "prod-web-01", "--")
    assert done.returncode == 2 and b"nothing after --" in done.stderr


@pytest.mark.parametrize("how", ["config", "flag"])
def test_read_only_refuses_a_command_before_start_session_is_sent(sandbox, tmp_path, how):
    config = tmp_path / "config.toml"
    config.write_text("read_only = true\n" if how == "config" else "")
    sandbox.clear_calls()
    env = {**os.environ, **sandbox.env(), "OPSTUI_CONFIG": str(config)}
    args = [sys.executable, "-m", "opstui", "shell", "--endpoint-url", sandbox.endpoint, "--region",
            "ap-northeast-1", *(["--read-only"] if how == "flag" else []), "prod-web-01", "--", "touch", "/tmp/x"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 3, done.stderr
    assert "read-only mode: ssm:StartSession was not sent" in done.stderr
    assert not any(k.startswith("ssm:StartSession") for k in sandbox.calls())


def test_help_says_what_an_interactive_sessions_exit_status_is():
    done = subprocess.run([sys.executable, "-m", "opstui", "shell", "--help"], capture_output=True, text=True,
                          timeout=60)
    text = " ".join(done.stdout.split())
    assert done.returncode == 0
    assert "interactive shell 0 when the session ends normally" in text
    assert "AWS does not send a shell's exit status" in text
    assert "-- COMMAND the remote command's exit status" in text
    assert "255 the endpoint, the credentials or the session failed" in text


# --- typeahead --------------------------------------------------------------------------------------------

def test_keys_typed_before_the_prompt_are_not_lost(sandbox):
    """Typed the instant the process starts, long before the session is up: raw mode set with TCSANOW keeps
    them (tty.setraw's default TCSAFLUSH threw them away), and they run once the shell reads its input."""
    pid, fd = spawn(sandbox, "prod-web-01")
    os.write(fd, b"echo typed-ahead-$((6*7))\r")
    out = read_until(fd, b"typed-ahead-42")
    assert b"Traceback" not in out
    os.write(fd, b"exit\r")
    assert wait_exit(pid, fd) == 0
