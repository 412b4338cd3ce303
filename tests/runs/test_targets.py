"""Target expressions, their resolution against the fleet, and the blast radius shown before sending."""

from datetime import UTC, datetime

import pytest

from opstui.aws.models import (
    CommandRequest,
    DocumentDetail,
    DocumentParameter,
    FleetNode,
    FleetSnapshot,
    RegionFleet,
)
from opstui.runs.launch import request_problems
from opstui.runs.targets import TargetError, parse_target, plan_for, plan_for_nodes


def node(iid: str, name: str, region: str = "r1", env: str = "dev", ping: str = "Online", role: str = "web"):
    return FleetNode(iid, region, name, ping, "Linux", "3", False, "10.0.0.1", "running", "t3.micro", "r1a", None,
                     tags=(("Name", name), ("Env", env), ("Role", role)))


FLEET = FleetSnapshot(
    (RegionFleet("r1"), RegionFleet("r2")),
    datetime.now(UTC),
    (node("i-1", "web-01"), node("i-2", "web-02"), node("i-3", "db-01", env="prod", role="db"),
     node("i-4", "web-03", region="r2", ping="ConnectionLost"),
     node("i-5", "legacy", ping="NotManaged")),
)


def test_parse_target_kinds():
    assert parse_target("tag:Role=web,api").send_targets() == (("tag:Role", ("web", "api")),)
    assert parse_target("tag-key:Role").send_targets() == (("tag-key", ("Role",)),)
    assert parse_target("resource-groups:web").send_targets() == (("resource-groups:Name", ("web",)),)
    assert parse_target("i-1, mi-2").kind == "ids"
    assert parse_target("web-01").kind == "names"


@pytest.mark.parametrize(("text", "says"), [
    ("", "no targets: select nodes in the Fleet tab"),
    ("   ", "no targets: select nodes in the Fleet tab"),
    ("tag:Role", "bad tag target 'tag:Role': write tag:KEY=VALUE"),
    ("tag:=x", "bad tag target 'tag:=x': write tag:KEY=VALUE"),
    ("tag-key:", "bad tag-key target: write tag-key:KEY"),
    ("resource-groups:", "bad resource group target: write resource-groups:NAME"),
])
def test_bad_target_expressions_explain_themselves(text, says):
    with pytest.raises(TargetError) as err:
        parse_target(text)
    assert str(err.value).startswith(says), str(err.value)


def test_tag_target_plans_one_command_per_region_with_matches():
    plan = plan_for(parse_target("tag:Role=web"), FLEET)
    assert plan.regions == ("r1", "r2")
    assert plan.ids_by_region == {}
    assert plan.radius.count == 3
    assert [n.name for n in plan.radius.not_online] == ["web-03"]
    assert not plan.radius.prod and not plan.radius.needs_typed_confirmation


def test_prod_node_needs_typed_confirmation():
    plan = plan_for(parse_target("tag:Role=db"), FLEET)
    assert plan.radius.prod and plan.radius.needs_typed_confirmation
    assert plan.radius.confirmation_word == "1"
    assert any("prod" in line for line in plan.radius.summary())


def test_more_than_ten_nodes_needs_typed_confirmation():
    nodes = [node(f"i-{i}", f"n-{i:02d}") for i in range(11)]
    assert plan_for_nodes(nodes).radius.needs_typed_confirmation
    assert not plan_for_nodes(nodes[:10]).radius.needs_typed_confirmation


def test_unknown_instance_id_and_empty_match_are_clear_errors():
    with pytest.raises(TargetError, match="unknown instance id i-404"):
        plan_for(parse_target("i-1,i-404"), FLEET)
    with pytest.raises(TargetError, match="matches no managed node"):
        plan_for(parse_target("tag:Role=nothing"), FLEET)
    with pytest.raises(TargetError, match="none of the selected nodes is a managed node"):
        plan_for_nodes([FLEET.nodes[4]])


def test_selection_plan_sends_instance_ids_per_region():
    plan = plan_for_nodes(list(FLEET.nodes))
    assert plan.ids_by_region == {"r1": ("i-1", "i-2", "i-3"), "r2": ("i-4",)}


SHELL_DOC = DocumentDetail("AWS-RunShellScript", "", "Command", ("Linux",), (
    DocumentParameter("commands", "StringList", "", None),
    DocumentParameter("workingDirectory", "String", "", ""),
    DocumentParameter("executionTimeout", "String", "", "3600"),
), "1.2")


def test_request_problems_catch_empty_command_and_bad_limits():
    req = CommandRequest("AWS-RunShellScript", {"commands": ["  "]}, max_concurrency="0", max_errors="x")
    problems = request_problems(req, SHELL_DOC)
    assert "empty command: type at least one command" in problems
    assert any("max concurrency" in p for p in problems) and any("max errors" in p for p in problems)
    assert request_problems(CommandRequest("AWS-RunShellScript", {"commands": ["uptime"]}), SHELL_DOC) == []
    assert any("no parameter 'bogus'" in p for p in request_problems(
        CommandRequest("AWS-RunShellScript", {"commands": ["x"], "bogus": ["1"]}), SHELL_DOC))


async def test_tag_target_radius_equals_what_send_command_targets_hybrid_nodes_included(aws, sandbox):
    """The shared resolver (tab and `opstui run`): a hybrid node's tags come from ListTagsForResource, so a
    tag target's blast radius is exactly the set SendCommand expands."""
    from opstui.aws import ssm
    from opstui.aws.fleet import load_fleet
    from opstui.runs.launch import send_plan

    region = sandbox.regions[0]
    snap = await load_fleet(aws, [region])
    plan = plan_for(parse_target("tag:Role=batch"), snap)
    assert "mi-0123456789abcdef0" in {n.instance_id for n in plan.radius.nodes}
    request = CommandRequest("AWS-RunShellScript", {"commands": ["true"]}, timeout_seconds=30)
    sent = await send_plan(aws, plan, request)
    (command,) = sent.commands
    invocations = await ssm.list_invocations(aws, region, command.command_id)
    assert {i.instance_id for i in invocations} == {n.instance_id for n in plan.radius.nodes}
    assert command.target_count in (0, plan.radius.count)  # 0 while the service still resolves the tags


def test_windows_node_in_a_tag_target_is_left_out_and_said_so():
    win = FleetNode("i-9", "r1", "win-01", "Online", "Microsoft Windows Server 2022", "3", False, "10.0.0.9",
                    "running", "t3.micro", "r1a", None, tags=(("Name", "win-01"), ("Env", "dev"), ("Role", "web")),
                    ssm_fields=(("PlatformType", "Windows"),))
    fleet = FleetSnapshot(FLEET.regions, FLEET.taken_at, (*FLEET.nodes, win))
    plan = plan_for(parse_target("tag:Role=web"), fleet).for_platforms(("Linux", "MacOS"))
    assert plan.radius.count == 3 and [n.name for n in plan.radius.skipped] == ["win-01"]
    assert plan.spec.send_targets() == (("tag:Role", ("web",)),)  # AWS expands it: Invalid Platform there
    assert "1 left out (the document does not run on their platform): win-01" in plan.radius.summary()
    with pytest.raises(TargetError, match="runs on Linux only; none of the 1"):
        plan_for(parse_target("tag:Role=web"), fleet).for_platforms(("Windows",)).for_platforms(("Linux",))
