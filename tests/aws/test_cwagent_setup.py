"""The agent set-up through the aws layer against the sandbox's simulated agent: a preset configuration stored
with PutParameter, applied with ManageAgent from ssm, makes the node ship its files into the chosen groups (one
stream per instance) and publish the chosen metrics; read-only refuses PutParameter before it is sent."""

from __future__ import annotations

import asyncio
import time

import pytest

from opstui import cwagent_presets as presets
from opstui.aws import cloudwatch as cw
from opstui.aws import logs as lg
from opstui.aws import ssm
from opstui.aws.clients import AwsClients
from opstui.aws.errors import ReadOnlyError
from opstui.aws.fleet import load_fleet
from opstui.aws.models import CommandRequest
from opstui.runs.launch import send_plan
from opstui.runs.targets import plan_for_nodes
from opstui.runs.tracker import RunTracker

PRIMARY, DR = "ap-northeast-1", "ap-northeast-3"
INSTALL = ("AWS-ConfigureAWSPackage", {"action": ["Install"], "name": ["AmazonCloudWatchAgent"]})


def configure_step(parameter: str) -> tuple[str, dict[str, list[str]]]:
    return presets.MANAGE_DOC, presets.manage_parameters(parameter)


async def _run(aws: AwsClients, nodes, document: str, params: dict) -> RunTracker:
    result = await send_plan(aws, plan_for_nodes(nodes), CommandRequest(document=document, parameters=params))
    tracker = RunTracker(aws, list(result.commands))
    deadline = time.monotonic() + 30
    while not (await tracker.poll()).finished:
        assert time.monotonic() < deadline, tracker.progress()
        await asyncio.sleep(0.3)
    return tracker


async def _eventually(probe, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.5)


async def test_a_preset_configuration_applied_with_manage_agent_ships_logs_and_metrics(sandbox, aws):
    fleet = await load_fleet(aws, (DR,))
    node = next(n for n in fleet.nodes if n.name == "dr-web-01")
    setup = presets.setup(["system", "nginx", "metrics"], presets.LINUX, "AmazonCloudWatch-opstui-test", "/drtest")
    assert await ssm.put_parameter(aws, DR, setup.parameter, setup.text) >= 1
    assert await ssm.put_parameter(aws, DR, setup.parameter, setup.text) >= 2  # Overwrite: a new version
    install = await _run(aws, [node], *INSTALL)  # the package only: no default config
    assert [s.outcome for s in install.states()] == ["Success"]
    configure = await _run(aws, [node], *configure_step(setup.parameter))
    assert [s.outcome for s in configure.states()] == ["Success"]  # the agent's validation passed
    for group in ("/drtest/system/messages", "/drtest/nginx/access", "/drtest/nginx/error"):
        streams = await _eventually(lambda group=group: _streams(aws, group))
        assert [s.name for s in streams] == [node.instance_id], group  # one stream: this node's
    page = await lg.filter_events(aws, DR, "/drtest/nginx/access", stream_names=[node.instance_id])
    assert page.events and all(e.stream == node.instance_id for e in page.events)
    metrics = await _eventually(lambda: _agent_metrics(aws, node.instance_id))
    assert {"mem_used_percent", "disk_used_percent"} <= set(metrics)


async def test_the_windows_presets_pass_a_windows_agents_validation(sandbox, aws):
    """prod-win-ad-01 runs the agent from the seed: the Windows presets (event logs, Memory, LogicalDisk)
    stored under another name configure it too (the same groups as the seed's, so nothing else changes)."""
    fleet = await load_fleet(aws, (PRIMARY,))
    node = next(n for n in fleet.nodes if n.name == "prod-win-ad-01")
    platform = presets.platform_of([node.platform])
    assert platform == presets.WINDOWS
    setup = presets.setup(["windows_events", "metrics"], platform, "AmazonCloudWatch-opstui-windows-test")
    await ssm.put_parameter(aws, PRIMARY, setup.parameter, setup.text)
    configure = await _run(aws, [node], *configure_step(setup.parameter))
    assert [s.outcome for s in configure.states()] == ["Success"]


async def _streams(aws: AwsClients, group: str):
    try:
        return await lg.describe_log_streams(aws, DR, group)
    except Exception:  # noqa: BLE001 - the group does not exist until the agent's first flush
        return []


async def _agent_metrics(aws: AwsClients, instance_id: str) -> tuple[str, ...]:
    return (await cw.agent_nodes(aws, DR)).get(instance_id, ())


async def test_read_only_refuses_put_parameter_before_anything_is_sent(sandbox):
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, read_only=True)
    before = sandbox.calls().get("ssm:PutParameter", 0)
    try:
        with pytest.raises(ReadOnlyError):
            await ssm.put_parameter(aws, DR, "AmazonCloudWatch-readonly", "{}")
    finally:
        await aws.close()
    assert sandbox.calls().get("ssm:PutParameter", 0) == before
