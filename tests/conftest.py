"""Shared fixtures: real sandboxes in child processes (moto's state is process-global, so each scenario gets
its own process), reached over HTTP exactly as the app reaches AWS."""

from __future__ import annotations

import os
import shutil
import tempfile

import hypothesis  # noqa: F401  # imported now, not by its plugin's end-of-run summary: see below
import pytest

from opstui.aws.clients import AwsClients
from opstui.demo import SandboxProcess
from opstui.sandbox.recorder import RECORD_ENV
from tests.contract import assert_contract
from tests.helpers import close_apps
from tests.sandbox_control import SandboxControl

# Why hypothesis is imported above: when no test module imports it, its pytest plugin imports it while printing
# the summary, and pytest's assertion rewriter then parses it deep in the stack, where CPython 3.11.7's
# ast.parse can raise "SystemError: AST constructor recursion depth mismatch" (a CPython 3.11 bug seen here)
# and turn a green run into a crash.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no IMDS probing on a dev box or CI
for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(var, None)

def _start(scenario: str = "default", nodes: int | None = None):
    state_dir = tempfile.mkdtemp(prefix="opstui-test-state-")
    # every response of the shared sandboxes is recorded and checked against botocore's shapes at the end
    record = os.path.join(state_dir, "responses.jsonl")
    proc = SandboxProcess(scenario=scenario, nodes=nodes, live=False, timeout=120, state_dir=state_dir,
                          extra_env={RECORD_ENV: record}).start()
    proc.record_file = record
    proc.test_state_dir = state_dir
    control = SandboxControl.of(proc)
    # Run Command's delivery timeout (30 s at least, per the API) takes 0.6 s here: ConnectionLost nodes
    # end DeliveryTimedOut without the suite waiting for them.
    control.run_command_configure(delivery_timeout_scale=0.02)
    return proc, control


def _finish(proc) -> None:
    """Stop, check every recorded response against botocore's shapes, then remove the run's state folder (node
    homes, command output, the recording: tens of MB a sandbox); a failed check keeps it to look at."""
    proc.stop()
    assert_contract(proc.record_file)
    shutil.rmtree(proc.test_state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox():
    """The default scenario, frozen (no churn) so assertions are deterministic."""
    proc, control = _start()
    yield control
    _finish(proc)


@pytest.fixture(scope="session")
def big_sandbox():
    """120 generated nodes: more than two DescribeInstanceInformation pages per region."""
    proc, control = _start(nodes=120)
    yield control
    _finish(proc)


@pytest.fixture(scope="session")
def hostile_sandbox():
    proc, control = _start(scenario="hostile")
    yield control
    _finish(proc)


@pytest.fixture(autouse=True)
def _close_apps():
    """Every app a test made has its AWS loop closed, even when the test failed before closing it."""
    yield
    close_apps()


@pytest.fixture(autouse=True)
def _clear_faults(request):
    yield
    for name in ("sandbox", "big_sandbox", "hostile_sandbox"):
        if name in request.fixturenames:
            control = request.getfixturevalue(name)
            control.clear_faults()
            if name == "sandbox" and "shell_target" in request.fixturenames:
                control.clear_session_faults()
                control.session_mode(handshake=False, kms=False)


@pytest.fixture
async def aws(sandbox):
    clients = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, max_attempts=2)
    yield clients
    await clients.close()
