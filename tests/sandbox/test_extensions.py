"""The extension protocol and registry (opstui.sandbox.extension): once-only patching, the run's order,
routing.

No sandbox is started here: these are the plumbing's own rules; the endpoints' behaviour is tested through a
running sandbox by the other files (tests/sandbox_control.py drives them).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from opstui.sandbox.extension import ControlRequest, Extension, Handler, Registry
from opstui.sandbox.server import EXTENSIONS

#: every control endpoint the sandbox had before the registry (method, path below /_opstui/): none may be lost
ENDPOINTS = {
    ("GET", "health"), ("GET", "calls"), ("DELETE", "calls"), ("POST", "faults"), ("DELETE", "faults"),
    ("GET", "faults"), ("POST", "ping"), ("POST", "session-faults"), ("DELETE", "session-faults"),
    ("GET", "session-faults"), ("POST", "session-mode"), ("GET", "session-mode"), ("GET", "sessions"),
    ("GET", "run-command"), ("POST", "run-command"), ("GET", "clock"), ("POST", "clock"),
    ("GET", "inventory"), ("POST", "inventory"), ("GET", "backup"), ("POST", "backup"),
    ("POST", "backup/run-scheduler"), ("GET", "associations"), ("GET", "webapp"), ("POST", "webapp"),
    ("GET", "synthetics"), ("POST", "synthetics"), ("GET", "sns-outbox"), ("DELETE", "sns-outbox"),
    ("GET", "sns-inbox"), ("POST", "sns"), ("GET", "incident"), ("POST", "incident"), ("GET", "alarms"),
    ("POST", "alarms/evaluate"), ("POST", "alarms/bulk"), ("GET", "cwagent"), ("POST", "cwagent"),
    ("GET", "live-tail"), ("POST", "live-tail"),
    ("GET", "latency"), ("POST", "latency"),
}


def test_every_control_endpoint_is_routed_and_no_other() -> None:
    assert set(EXTENSIONS.endpoints) == ENDPOINTS


def test_start_order_puts_dependencies_first() -> None:
    names = [e.name for e in EXTENSIONS]
    before = [("clock", "inventory"), ("backup", "hostile"), ("webapp", "incident"), ("webapp", "synthetics"),
              ("run-command", "associations"), ("alarms", "incident"), ("sns", "incident"),
              ("metrics", "cwagent"), ("run-command", "cwagent"), ("webapp", "cwagent"), ("insights", "cwagent")]
    for first, then in before:
        assert names.index(first) < names.index(then), (first, then)


class Counting(Extension):
    name = "counting"
    patched = 0

    def patch(self) -> None:
        type(self).patched += 1


def test_install_patches_once_per_process_from_any_thread() -> None:
    ext = Counting()
    threads = [threading.Thread(target=ext.install) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ext.install()
    Counting().install()  # another instance of the same extension: still patched once
    assert Counting.patched == 1


class Knobs(Extension):
    name = "knobs"

    def __init__(self) -> None:
        self.knobs: dict[str, Any] = {}

    def control_snapshot(self) -> dict[str, Any]:
        return {"knobs": self.knobs}

    def configure(self, **knobs: Any) -> dict[str, Any]:
        self.knobs.update(knobs)
        return {"settings": self.knobs}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("POST", "knobs/reset"): lambda _request: self.knobs.clear() or {"reset": True}}


def _request(method: str, path: str, payload: dict[str, Any] | None = None) -> ControlRequest:
    return ControlRequest(method, path, payload or {}, {})


def test_only_overridden_methods_become_endpoints() -> None:
    registry = Registry([Knobs()])
    assert registry.endpoints == [("GET", "knobs"), ("POST", "knobs"), ("POST", "knobs/reset")]
    assert registry.route("DELETE", "knobs") is None  # clear() is not overridden
    post = registry.route("POST", "knobs")
    assert post is not None and post(_request("POST", "knobs", {"speed": 2})) == {"settings": {"speed": 2}}


def test_names_and_routes_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Registry([Knobs(), Knobs()])

    class Clash(Extension):
        name = "clash"

        def routes(self) -> dict[tuple[str, str], Handler]:
            return {("GET", "knobs"): lambda _request: {}}

    with pytest.raises(ValueError, match="GET /_opstui/knobs"):
        Registry([Knobs(), Clash()])


class Recorder(Extension):
    def __init__(self, name: str, log: list[str], fail_stop: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.log, self.fail_stop = log, fail_stop

    def prepare(self, sandbox: Any) -> None:
        self.log.append(f"prepare {self.name}")

    def start(self, sandbox: Any) -> None:
        self.log.append(f"start {self.name}")

    def stop(self, sandbox: Any) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} failed to stop")


def test_run_order_and_a_stop_that_fails_does_not_keep_the_others_running() -> None:
    log: list[str] = []
    a, b, c = Recorder("a", log), Recorder("b", log, fail_stop=True), Recorder("c", log)
    registry = Registry([a, b, c])
    sandbox = object()
    registry.prepare(sandbox)  # type: ignore[arg-type]
    assert all(e.sandbox is sandbox for e in (a, b, c))
    registry.start(sandbox)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="b failed"):
        registry.stop(sandbox)  # type: ignore[arg-type]
    assert log == ["prepare a", "prepare b", "prepare c", "start a", "start b", "start c",
                   "stop c", "stop b", "stop a"]
    assert all(e.sandbox is None for e in (a, b, c))


def test_an_extension_bound_to_no_sandbox_says_so() -> None:
    with pytest.raises(ValueError, match="no sandbox running"):
        _ = Knobs().running
