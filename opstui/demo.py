"""`opstui --demo`: run the sandbox in a child process and the app against it.

The child is started in its own session (terminal Ctrl-C goes to the app, not to it), asks the kernel to
SIGTERM it if we die (PR_SET_PDEATHSIG, so even a SIGKILLed opstui leaves no orphan), and is stopped in a
`finally` when the app exits for any reason. It is ready when it prints its `endpoint http://...` line; the
next two lines are the run's own credentials (`export AWS_ACCESS_KEY_ID=…`, `export AWS_SECRET_ACCESS_KEY=…`),
which the app then uses: the user never types them, and they are never shown.

The child gets an environment built from an allow-list (`opstui.sandbox.environment`), never ours: a user
who starts the demo from a shell holding real AWS keys does not hand them to the sandbox, whose nodes run
real commands that can read the sandbox's `/proc/<pid>/environ`. Its log file is private (mkstemp: 0600).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opstui.aws.clients import StaticCredentials
from opstui.sandbox.credentials import SandboxCredentials, parse_pairs
from opstui.sandbox.environment import clean_environment

READY_PREFIX = "endpoint "


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class SandboxStartError(RuntimeError):
    pass


@dataclass
class SandboxProcess:
    """A sandbox child process. Use as a context manager; `endpoint` and `regions` are set once ready."""

    scenario: str = "default"
    nodes: int | None = None
    live: bool = True
    timeout: float = 180.0
    state_dir: str | None = None
    #: ``--latency`` of the child (e.g. "120ms±40ms"); None: the child's default ($OPSTUI_SANDBOX_LATENCY or 0)
    latency: str | None = None
    endpoint: str = ""
    regions: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None
    log_path: Path | None = None
    ready_seconds: float = 0.0
    #: the run's key pair, read from the child's stdout (None until ready)
    credentials: SandboxCredentials | None = field(default=None, repr=False)
    #: extra environment for the child on top of the allow-listed one (tests: OPSTUI_SANDBOX_CREDENTIALS)
    extra_env: dict[str, str] = field(default_factory=dict, repr=False)

    def start(self) -> SandboxProcess:
        args = [sys.executable, "-m", "opstui.sandbox.main", "--host", "127.0.0.1", "--port", "0"]
        args += ["--scenario", self.scenario]
        if self.nodes:
            args += ["--nodes", str(self.nodes)]
        if not self.live:
            args.append("--no-live")
        if self.state_dir:
            args += ["--state-dir", self.state_dir]
        if self.latency is not None:
            args += ["--latency", self.latency]
        fd, log = tempfile.mkstemp(prefix="opstui-sandbox-", suffix=".log")
        self.log_path = Path(log)
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=fd,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**clean_environment(), **self.extra_env},
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        os.close(fd)
        try:
            self.endpoint = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.perf_counter() - started
        threading.Thread(target=self._drain, daemon=True).start()
        self.regions = self._regions()
        return self

    def _wait_ready(self) -> str:
        assert self.proc and self.proc.stdout
        deadline = time.monotonic() + self.timeout
        result: list[str] = []

        def reader() -> None:
            assert self.proc and self.proc.stdout
            endpoint = ""
            seen: list[str] = []
            for line in self.proc.stdout:
                if line.startswith(READY_PREFIX) and not endpoint:
                    endpoint = line[len(READY_PREFIX):].strip()
                    continue
                if endpoint:
                    seen.append(line)
                    creds = parse_pairs(seen)
                    if creds is not None:
                        self.credentials = creds
                        result.append(endpoint)
                        return

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        while time.monotonic() < deadline:
            t.join(0.05)
            if result:
                return result[0]
            if self.proc.poll() is not None:
                raise SandboxStartError(f"the sandbox exited with code {self.proc.returncode}; see {self.log_path}")
        raise SandboxStartError(f"the sandbox was not ready after {self.timeout:.0f}s; see {self.log_path}")

    def _drain(self) -> None:
        if self.proc and self.proc.stdout:
            with contextlib.suppress(Exception):
                for _ in self.proc.stdout:
                    pass

    def aws_credentials(self) -> StaticCredentials:
        """The run's pair in the form ``AwsClients`` and ``OpsApp`` take."""
        assert self.credentials is not None, "the sandbox is not ready"
        return StaticCredentials(self.credentials.access_key_id, self.credentials.secret_access_key)

    def control(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """One call to a control endpoint (``/_opstui/<path>``) with the run's bearer token."""
        assert self.credentials is not None, "the sandbox is not ready"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.endpoint}/_opstui/{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {self.credentials.control_token()}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)

    def _regions(self) -> list[str]:
        with contextlib.suppress(Exception):
            return list(self.control("GET", "health", timeout=5).get("regions", []))
        return ["ap-northeast-1", "ap-northeast-3"]

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.log_path and self.log_path.exists() and self.log_path.stat().st_size == 0:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
