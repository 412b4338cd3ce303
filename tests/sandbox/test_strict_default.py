"""The sandbox is strict by default: no knob that departs from AWS is on unless a test turns it on, and
``GET /_opstui/health`` says which are on."""

from __future__ import annotations

from opstui.sandbox.run_command import EXTENSION as RUN_COMMAND
from opstui.sandbox.server import EXTENSIONS, Sandbox
from tests.sandbox_control import SandboxControl


def _health(sb: Sandbox) -> dict:
    return next(e for e in EXTENSIONS if e.name == "health").control_snapshot()


def test_a_new_sandbox_has_no_lenient_knob_on(default_sandbox: Sandbox) -> None:
    assert _health(default_sandbox)["lenient"] == []


def test_a_lenient_knob_is_reported_while_on(default_sandbox: Sandbox) -> None:
    RUN_COMMAND.configure(delivery_timeout_scale=0.02)
    try:
        lenient = _health(default_sandbox)["lenient"]
        assert len(lenient) == 1 and "delivery timeouts last 0.02x" in lenient[0]
    finally:
        RUN_COMMAND.configure(delivery_timeout_scale=1.0)
    assert _health(default_sandbox)["lenient"] == []


def test_the_suites_shared_sandbox_says_what_it_opted_into(sandbox: SandboxControl) -> None:
    """tests/conftest.py shortens delivery timeouts on purpose (so ConnectionLost nodes end in 0.6 s): the
    opt-in is visible over HTTP, where the app would see it."""
    assert any("delivery timeouts" in line for line in sandbox.health()["lenient"])
