"""Drive a sandbox over its /_opstui/ control endpoints (faults, ping status), with the run's bearer token.

Tests never use a fixed key pair: every sandbox makes its own (``opstui.sandbox.credentials``) and the tests
use the pair it hands out, so a test that forgets to sign is refused like any stranger.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from opstui.aws.clients import StaticCredentials
from opstui.sandbox.credentials import SandboxCredentials


class SandboxControl:
    def __init__(self, endpoint: str, regions: list[str], credentials: SandboxCredentials) -> None:
        self.endpoint = endpoint
        self.regions = regions
        self.credentials = credentials

    @classmethod
    def of(cls, sandbox: Any) -> SandboxControl:
        """For an in-process ``Sandbox`` or a ``SandboxProcess`` (both have endpoint, regions, credentials)."""
        return cls(sandbox.endpoint, list(sandbox.regions), sandbox.credentials)

    @property
    def aws_credentials(self) -> StaticCredentials:
        """The pair for ``AwsClients(credentials=...)``."""
        return StaticCredentials(self.credentials.access_key_id, self.credentials.secret_access_key)

    def boto_kwargs(self) -> dict[str, str]:
        """``aws_access_key_id`` / ``aws_secret_access_key`` for ``boto3.client(...)``."""
        return {"aws_access_key_id": self.credentials.access_key_id,
                "aws_secret_access_key": self.credentials.secret_access_key}

    def env(self) -> dict[str, str]:
        """Environment variables that point botocore (a CLI child process) at this sandbox."""
        return {"AWS_ACCESS_KEY_ID": self.credentials.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.credentials.secret_access_key}

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.endpoint}/_opstui/{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {self.credentials.control_token()}")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def health(self) -> Any:
        return self._send("GET", "health")

    def add_fault(self, error: str, *, service: str | None = None, region: str | None = None,
                  action: str | None = None, count: int | None = None) -> None:
        self._send("POST", "faults", {"error": error, "service": service, "region": region,
                                      "action": action, "count": count})

    def clear_faults(self) -> None:
        self._send("DELETE", "faults")

    def set_ping(self, region: str, instance_id: str, status: str) -> None:
        self._send("POST", "ping", {"region": region, "instance_id": instance_id, "status": status})

    def latency(self, latency: str | None = None, *, region: str | None = None) -> Any:
        """Set the network latency (``"120ms±40ms"``; with ``region`` that region's only, ``None`` there drops
        the override) and return the knob's snapshot; with no argument, only reads."""
        if latency is None and region is None:
            return self._send("GET", "latency")
        return self._send("POST", "latency", {"latency": latency, "region": region})

    # -- Session Manager knobs ------------------------------------------------------------------------------
    def add_session_fault(self, kind: str, session_id: str | None = None, **params: Any) -> None:
        self._send("POST", "session-faults", {"kind": kind, "session_id": session_id, **params})

    def clear_session_faults(self) -> None:
        self._send("DELETE", "session-faults")

    def session_mode(self, *, handshake: bool = False, kms: bool = False) -> None:
        self._send("POST", "session-mode", {"handshake": handshake, "kms": kms})

    def sessions(self) -> Any:
        return self._send("GET", "sessions")

    # -- Run Command knobs ----------------------------------------------------------------------------------
    def run_command_stats(self) -> Any:
        """``{"peak_concurrency": {command_id: n}, "executions": n, "running_processes": n, "settings": {...}}``."""
        return self._send("GET", "run-command")

    def run_command_configure(self, **knobs: Any) -> Any:
        """E.g. ``delivery_timeout_scale=0.01`` (a 30 s delivery timeout takes 0.3 s), ``delivery_delay=0``."""
        return self._send("POST", "run-command", knobs)["settings"]

    def cwagent(self, **knobs: Any) -> Any:
        """The CloudWatch agents' log shipping: ``flush_seconds=0.2`` (flush sooner), ``flush=True`` (ship now),
        ``write=True`` (the fleet's log writers write up to now); with no argument, only reads."""
        return self._send("POST", "cwagent", knobs) if knobs else self._send("GET", "cwagent")

    # -- sandbox clock, Inventory and State Manager knobs ---------------------------------------------------
    def clock(self, speed: float | None = None, advance: float | None = None) -> Any:
        """``{"now": iso, "speed": n}``; ``speed=600`` runs sandbox time 600x (a 30-minute schedule every 3 s),
        ``advance=1800`` jumps it 30 minutes. With no argument, only reads."""
        body = {k: v for k, v in (("speed", speed), ("advance", advance)) if v is not None}
        return self._send("POST", "clock", body) if body else self._send("GET", "clock")

    def inventory_configure(self, **knobs: Any) -> Any:
        """E.g. ``apps_per_node=500``: every scenario node reports exactly 500 applications (``None`` restores)."""
        return self._send("POST", "inventory", knobs)["settings"]

    def inventory_stats(self) -> Any:
        """``{"settings": ..., "nodes_with_inventory": n, "pending": n, "distinct_entries": {type: n}}``."""
        return self._send("GET", "inventory")

    def associations(self) -> Any:
        """The associations the scheduler knows, with their next due time (sandbox clock)."""
        return self._send("GET", "associations")

    # -- Monitoring: the storefront web app and the canaries ------------------------------------------------
    def webapp(self, health: str | None = None, latency: list[float] | None = None) -> Any:
        """``{"url", "mode", "health", ...}``; ``health="down"`` (or ok/slow, auto = its live schedule) sets it,
        ``latency=[lo, hi]`` the slow band in sandbox seconds."""
        body = {k: v for k, v in (("health", health), ("latency", latency)) if v is not None}
        return self._send("POST", "webapp", body) if body else self._send("GET", "webapp")

    def canary_run(self, name: str, region: str = "ap-northeast-1") -> Any:
        """Run a canary now (outside its schedule) and return the run as GetCanaryRuns shows it."""
        return self._send("POST", "synthetics", {"run": name, "region": region})["run"]

    def synthetics(self) -> Any:
        """The canaries the scheduler knows: state, URLs, navigation timeout, run count, next due."""
        return self._send("GET", "synthetics")

    # -- AWS Backup knobs -----------------------------------------------------------------------------------
    def backup_configure(self, **knobs: Any) -> Any:
        """E.g. ``fail_rate=0``, ``outcomes={"i-...": "FAILED"}``, ``history_days=30, jobs=10000`` (replaces the
        seeded job history of the ``daily-ec2`` plan), ``reset=True``."""
        return self._send("POST", "backup", knobs)

    def backup_stats(self) -> Any:
        """Knobs, job counts by state, copy jobs, recovery points per vault and the rules' next due times."""
        return self._send("GET", "backup")

    def backup_run_scheduler(self) -> int:
        """Fire every plan rule that is due now (sandbox clock); returns the number of jobs created."""
        return self._send("POST", "backup/run-scheduler", {})["created"]

    # -- calls the sandbox served ---------------------------------------------------------------------------
    def calls(self) -> dict[str, int]:
        """``{"ssm:SendCommand": n, ...}``: every AWS call served since start (or the last ``clear_calls``)."""
        return self._send("GET", "calls")["calls"]

    def peak_per_second(self) -> dict[str, int]:
        """``{"ssm:DescribeInstanceInformation@ap-northeast-1": n, ...}``: the most calls served in any second."""
        return self._send("GET", "calls")["peak_per_second"]

    def clear_calls(self) -> None:
        self._send("DELETE", "calls")

    # -- CloudWatch Logs Live Tail ----------------------------------------------------------------------------
    def live_tail(self, supported: bool | None = None) -> Any:
        """The Live Tail knob (``supported=False``: StartLiveTail answers UnknownOperationException) and the
        open sessions; with no argument, only reads."""
        if supported is None:
            return self._send("GET", "live-tail")
        return self._send("POST", "live-tail", {"supported": supported})
