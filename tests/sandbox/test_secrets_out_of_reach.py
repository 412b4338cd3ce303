"""No secret of the user's is within reach of a node, and what the sandbox writes is the user's alone.

The sandbox runs node commands as the local user, so a command can read ``/proc/<pid>/environ`` of every
process up to the sandbox. These tests start real sandbox child processes with canary values in the user's
AWS variables and walk that chain from a node command.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import boto3
import pytest

from opstui.demo import SandboxProcess
from opstui.sandbox.credentials import CREDENTIALS_FILE_ENV, SandboxCredentials, write_file

CANARY = "CANARY-d1a3f07e"
REGION = "ap-northeast-1"

# prints its own environment, then each process's from itself up to the sandbox (stops at SANDBOX_PID)
WALK = r"""
env
pid=$$
while [ "$pid" -gt 1 ]; do
  echo "== $pid"
  tr '\0' '\n' < /proc/$pid/environ 2>/dev/null
  if [ "$pid" = "{sandbox_pid}" ]; then echo REACHED-SANDBOX; break; fi
  pid=$(awk '{{print $4}}' /proc/$pid/stat)
done
"""


def run_on_node(sandbox: SandboxProcess, script: str) -> str:
    creds = sandbox.credentials
    assert creds is not None
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=sandbox.endpoint,
                       aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key)
    node = next(n["InstanceId"] for n in ssm.describe_instance_information(
        Filters=[{"Key": "PingStatus", "Values": ["Online"]}, {"Key": "PlatformTypes", "Values": ["Linux"]}],
        MaxResults=50)["InstanceInformationList"] if n["ResourceType"] == "EC2Instance")
    command = ssm.send_command(InstanceIds=[node], DocumentName="AWS-RunShellScript",
                               Parameters={"commands": [script]})["Command"]["CommandId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            inv = ssm.get_command_invocation(CommandId=command, InstanceId=node)
        except ssm.exceptions.InvocationDoesNotExist:
            continue
        if inv["Status"] not in ("Pending", "InProgress", "Delayed"):
            assert inv["Status"] == "Success", inv
            return inv["StandardOutputContent"]
    raise AssertionError("the command did not finish")


def assert_no_canary_up_to_the_sandbox(sandbox: SandboxProcess) -> None:
    assert sandbox.proc is not None
    out = run_on_node(sandbox, WALK.format(sandbox_pid=sandbox.proc.pid))
    assert "REACHED-SANDBOX" in out  # the walk did read the sandbox's own environment
    assert CANARY not in out
    assert "AWS_SESSION_TOKEN" not in out and "AWS_SECRET_ACCESS_KEY" not in out


def test_the_demo_starts_the_sandbox_without_the_users_aws_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CANARY)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + CANARY)
    with SandboxProcess(live=False, state_dir=str(tmp_path / "state"), timeout=120) as sandbox:
        assert_no_canary_up_to_the_sandbox(sandbox)
        # and its log, state and node files are private
        assert sandbox.log_path is not None and sandbox.log_path.stat().st_mode & 0o777 == 0o600
        assert_private_tree(tmp_path / "state")


def test_a_sandbox_started_by_hand_from_a_shell_with_aws_keys_re_executes_itself_without_them(tmp_path):
    # extra_env reaches the child's first process as if the user had exported the keys in their shell
    extra = {"AWS_SECRET_ACCESS_KEY": CANARY, "AWS_SESSION_TOKEN": CANARY, "SOME_TOKEN": CANARY}
    with SandboxProcess(live=False, state_dir=str(tmp_path / "state"), timeout=120, extra_env=extra) as sandbox:
        assert sandbox.proc is not None
        environ = Path(f"/proc/{sandbox.proc.pid}/environ").read_bytes()
        assert CANARY.encode() not in environ  # the same pid, re-executed with the allow-listed environment
        assert_no_canary_up_to_the_sandbox(sandbox)


def test_a_chosen_pair_comes_from_a_file_and_is_not_in_the_environment(tmp_path):
    chosen = SandboxCredentials.generate()
    path = write_file(tmp_path / "creds", chosen)
    assert path.stat().st_mode & 0o777 == 0o600
    with SandboxProcess(live=False, state_dir=str(tmp_path / "state"), timeout=120,
                        extra_env={CREDENTIALS_FILE_ENV: str(path)}) as sandbox:
        assert sandbox.credentials == chosen
        assert sandbox.proc is not None
        environ = Path(f"/proc/{sandbox.proc.pid}/environ").read_bytes()
        assert chosen.secret_access_key.encode() not in environ
        cmdline = Path(f"/proc/{sandbox.proc.pid}/cmdline").read_bytes()
        assert chosen.secret_access_key.encode() not in cmdline and chosen.access_key_id.encode() not in cmdline


def test_a_credentials_file_other_users_can_read_is_refused(tmp_path):
    path = write_file(tmp_path / "creds", SandboxCredentials.generate())
    path.chmod(0o644)
    with pytest.raises(Exception, match="exited with code 2"):
        SandboxProcess(live=False, state_dir=str(tmp_path / "state"), timeout=60,
                       extra_env={CREDENTIALS_FILE_ENV: str(path)}).start()


def assert_private_tree(root: Path) -> None:
    """Every folder under the state dir 0700, every file 0600 or 0700 (scripts), none group/other-accessible."""
    found_output = False
    for folder, _dirs, files in os.walk(root):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in files:
            mode = stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
            assert mode & 0o077 == 0, (folder, name, oct(mode))
            found_output = found_output or name == "stdout"
    assert found_output  # the walk above saw a command's output file
