"""Command line, config precedence, and `opstui --demo` leaving no process behind."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opstui import __version__
from opstui.config import ConfigError, load_file, settings_from


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opstui", *args], capture_output=True, text=True, timeout=60)


def test_version_and_help():
    assert run("--version").stdout.strip() == f"opstui {__version__}"
    out = run("--help").stdout
    for flag in ("--profile", "--region", "--endpoint-url", "--read-only", "--refresh", "--demo", "opstui sandbox"):
        assert flag in out


def test_command_line_wins_over_the_config_file(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('profile = "ops"\nregions = ["us-east-1", "eu-west-1"]\nrefresh = 30\ntheme = "nord"\n')
    data = load_file(cfg)
    s = settings_from(data, {"regions": None, "profile": None, "refresh": None})
    assert s.profile == "ops" and s.regions == ("us-east-1", "eu-west-1") and s.refresh == 30 and s.theme == "nord"
    s = settings_from(data, {"regions": ["ap-northeast-1"], "profile": "prod", "refresh": 5.0})
    assert s.profile == "prod" and s.regions == ("ap-northeast-1",) and s.refresh == 5


def test_a_broken_config_file_is_a_clear_error(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("regions = [\n")
    with pytest.raises(ConfigError) as info:
        load_file(cfg)
    assert str(cfg) in str(info.value)
    with pytest.raises(ConfigError):
        settings_from({"colour": "red"}, {})
    env = {**os.environ, "OPSTUI_CONFIG": str(cfg)}
    proc = subprocess.run([sys.executable, "-m", "opstui", "--region", "us-east-1"], capture_output=True,
                          text=True, timeout=30, env=env)
    assert proc.returncode == 2 and "cannot read config file" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [[], ["run", "--targets", "tag:Role=web", "--", "true"], ["shell", "web-01"]])
@pytest.mark.parametrize(("content", "says"), [
    (b'refresh = "abc"\n', "setting 'refresh' must be a number of seconds, not 'abc'"),
    (b"regions = 5\n", "setting 'regions' must be a list of strings, not 5"),
    (b'theme = "caf\xe9"\n', "is not UTF-8 text"),
])
def test_a_bad_config_value_is_one_line_naming_file_key_and_type_and_exit_two(tmp_path: Path, command, content,
                                                                              says):
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(content)
    env = {**os.environ, "OPSTUI_CONFIG": str(cfg)}
    proc = subprocess.run([sys.executable, "-m", "opstui", *command, "--region", "us-east-1"], capture_output=True,
                          text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert says in lines[0] and f"config file {cfg}" in lines[0]


@pytest.mark.parametrize("command", [[], ["run", "--targets", "tag:Role=web", "--yes", "--", "true"],
                                     ["shell", "web-01"]])
def test_an_unknown_region_is_refused_before_any_call(command):
    """Checked against botocore's partition data: nothing is sent (the endpoint is a closed port, so a call
    would have said 'unreachable'), and the message suggests the region meant."""
    env = {**os.environ, "OPSTUI_CONFIG": os.devnull, "AWS_ACCESS_KEY_ID": "AKIAUNUSED",
           "AWS_SECRET_ACCESS_KEY": "unused"}
    flags = ["--region", "us-est-1", "--endpoint-url", "http://127.0.0.1:9"]
    proc = subprocess.run([sys.executable, "-m", "opstui", *command[:1], *flags, *command[1:]], capture_output=True,
                          text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "unknown region 'us-est-1': did you mean" in proc.stderr and "us-east-1" in proc.stderr
    assert "Traceback" not in proc.stderr and "unreachable" not in proc.stderr.lower()


def test_every_partitions_regions_are_known():
    from opstui.aws.regions import region_problem

    assert region_problem(["us-east-1", "ap-northeast-3", "cn-north-1", "us-gov-west-1", "eu-isoe-west-1"]) is None
    assert "unknown region 'nowhere-1'" in region_problem(["us-east-1", "nowhere-1"])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class DemoInPty:
    """`opstui --demo` in a real pseudo-terminal, as a person would run it."""

    def __init__(self) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.environ["TERM"] = "xterm-256color"
            os.environ["COLUMNS"], os.environ["LINES"] = "160", "40"
            os.execv(sys.executable, [sys.executable, "-m", "opstui", "--demo"])
        self.pid, self.fd = pid, fd
        self.output = b""

    def read_until(self, needle: bytes, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:
                    return needle in self.output
                if needle in self.output:
                    return True
        return False

    def sandbox_pid(self) -> int:
        for _ in range(100):
            for child in _children(self.pid):
                cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes()
                if b"opstui.sandbox.main" in cmdline:
                    return child
            time.sleep(0.1)
        raise AssertionError("no sandbox child process")

    def wait(self, timeout: float = 30) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read_until(b"\x00never", timeout=0.1)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        return None


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_demo_starts_shows_the_fleet_and_quits_leaving_no_process():
    demo = DemoInPty()
    try:
        sandbox = demo.sandbox_pid()
        assert demo.read_until(b"prod-web-03", timeout=60), demo.output[-2000:]  # on the Overview: ConnectionLost
        os.write(demo.fd, b"q")
        assert demo.wait() == 0
        assert b"Traceback" not in demo.output
        assert _wait_gone(sandbox), "the sandbox outlived the app"
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.kill(demo.pid, signal.SIGKILL)


def test_demo_killed_hard_still_takes_the_sandbox_down():
    demo = DemoInPty()
    try:
        sandbox = demo.sandbox_pid()
        assert demo.read_until(b"Fleet", timeout=60)
        os.kill(demo.pid, signal.SIGKILL)  # no finally runs in opstui: the kernel's parent-death signal must
        demo.wait()
        assert _wait_gone(sandbox), "orphaned sandbox after SIGKILL"
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.kill(demo.pid, signal.SIGKILL)


def test_sandbox_command_prints_the_endpoint_first_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "opstui", "sandbox", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("endpoint http://127.0.0.1:")
        rest = [proc.stdout.readline() for _ in range(4)]
        # the run's own pair right after the endpoint: plain, unquoted export lines
        assert re.fullmatch(r"export AWS_ACCESS_KEY_ID=AKIA[A-Z2-7]{16}\n", rest[0])
        assert re.fullmatch(r"export AWS_SECRET_ACCESS_KEY=[A-Za-z0-9+/]{40}\n", rest[1])
        assert rest[2].startswith("export AWS_ENDPOINT_URL=http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sandbox_refuses_to_listen_beyond_loopback():
    proc = run("sandbox", "--host", "0.0.0.0")
    assert proc.returncode == 2 and "loopback only" in proc.stderr


def test_sandbox_on_ipv6_loopback_prints_a_bracketed_url_that_works():
    import boto3

    proc = subprocess.Popen([sys.executable, "-m", "opstui", "sandbox", "--host", "::1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert re.fullmatch(r"endpoint http://\[::1\]:\d+\n", first), first
        endpoint = first.split()[1]
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[2] == f"export AWS_ENDPOINT_URL={endpoint}\n"
        key, secret = (line.strip().split("=", 1)[1] for line in lines[:2])
        sts = boto3.client("sts", region_name="ap-northeast-1", endpoint_url=endpoint, aws_access_key_id=key,
                           aws_secret_access_key=secret)
        assert sts.get_caller_identity()["Account"]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_tab_chooses_the_tab_shown_at_start_and_an_unknown_one_is_refused(tmp_path: Path):
    assert settings_from({}, {}).tab == "overview"
    assert settings_from({"tab": "logs"}, {}).tab == "logs"
    assert settings_from({"tab": "logs"}, {"tab": "fleet"}).tab == "fleet"  # the command line wins
    with pytest.raises(ConfigError, match="unknown tab 'fleets': one of overview, fleet"):
        settings_from({}, {"tab": "fleets"})


async def test_the_app_opens_on_the_tab_asked_for_and_loads_it(sandbox):
    from tests.helpers import make_app, wait_for

    app = make_app(sandbox, tab="backup")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.backup_view.table("bk-jobs").rows)
        assert app.active_tab == "backup"  # the Overview, mounted first, did not take the focus and the front
    app.close_aws()
