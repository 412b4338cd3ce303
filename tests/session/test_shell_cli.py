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


def test_shell_by_tag_must_match_exactly_one_node(sandbox):
    pid, fd = spawn(sandbox, "tag:Role=web")
    out = read_until(fd, b"pick one")
    assert b"prod-web-01" in out and b"Traceback" not in out
    assert wait_exit(pid, fd) == 255


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
