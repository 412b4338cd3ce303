"""send_plan with a fake client: what was accepted is kept when a later SendCommand is refused."""

from __future__ import annotations

import pytest

from opstui.aws.errors import OpsError
from opstui.aws.models import CommandRequest
from opstui.runs.launch import send_plan
from opstui.runs.targets import Plan, TargetSpec


class FakeAws:
    def __init__(self, refuse_call: int) -> None:
        self.refuse_call = refuse_call
        self.sent: list[list[str]] = []

    async def call(self, service: str, region: str, operation: str, **params):
        assert (service, operation) == ("ssm", "send_command")
        if len(self.sent) + 1 == self.refuse_call:
            self.sent.append([])
            raise OpsError("InvalidInstanceId", kind="invalid", service="ssm", region=region)
        self.sent.append(params["InstanceIds"])
        return {"Command": {"CommandId": f"c{len(self.sent)}", "InstanceIds": params["InstanceIds"],
                            "DocumentName": params["DocumentName"], "Status": "Pending"}}


def plan(count: int) -> Plan:
    ids = tuple(f"i-{n:017x}" for n in range(count))
    return Plan(TargetSpec("ids", values=ids), {"eu-west-1": ids})


async def test_a_refused_later_chunk_keeps_the_commands_already_sent():
    aws = FakeAws(refuse_call=2)
    result = await send_plan(aws, plan(120), CommandRequest("AWS-RunShellScript", {"commands": ["uptime"]}))
    assert [len(ids) for ids in aws.sent] == [50, 0, 20]
    assert [c.command_id for c in result.commands] == ["c1", "c3"]  # running on 70 nodes: tracked
    assert [e.kind for e in result.errors] == ["invalid"]


async def test_a_refused_first_chunk_still_raises():
    with pytest.raises(OpsError):
        await send_plan(FakeAws(refuse_call=1), plan(60), CommandRequest("AWS-RunShellScript", {"commands": ["x"]}))


async def test_the_delivery_timeout_default_is_one_constant_for_the_tab_and_the_cli(aws, sandbox):
    """Empty in the form or not given to `opstui run`: 600 s is sent (AWS alone would wait 3600 s), and the
    form's placeholder and `opstui run --help` say the same number."""
    import boto3

    from opstui.run_cli import build_parser
    from opstui.runs.launch import DEFAULT_DELIVERY_TIMEOUT
    from opstui.runs.targets import parse_target

    assert DEFAULT_DELIVERY_TIMEOUT == 600
    assert build_parser().parse_args(["--targets", "x"]).timeout == DEFAULT_DELIVERY_TIMEOUT
    assert "default 600" in build_parser().format_help()
    region = sandbox.regions[0]
    sent = await send_plan(aws, Plan(parse_target("tag:Role=db"), {}, (region,)),
                           CommandRequest("AWS-RunShellScript", {"commands": ["true"]}))
    ssm = boto3.client("ssm", region_name=region, endpoint_url=sandbox.endpoint, **sandbox.boto_kwargs())
    listed = ssm.list_commands(CommandId=sent.commands[0].command_id)["Commands"][0]
    assert listed["TimeoutSeconds"] == DEFAULT_DELIVERY_TIMEOUT


async def test_the_form_placeholder_is_the_default_delivery_timeout():
    from textual.app import App

    from opstui.runs.launch import DEFAULT_DELIVERY_TIMEOUT
    from opstui.views.runcommand.fields import RunForm

    class FormApp(App):
        def compose(self):
            yield RunForm()

    app = FormApp()
    async with app.run_test(size=(160, 40)):
        assert app.query_one("#rc-timeout").placeholder == str(DEFAULT_DELIVERY_TIMEOUT)
