"""Fleet listing through aiobotocore -> HTTP -> the sandbox."""

import math

from opstui.aws.clients import AwsClients
from opstui.aws.fleet import NOT_MANAGED, load_fleet


async def test_default_scenario_lists_both_regions_with_its_guarantees(aws, sandbox):
    snap = await load_fleet(aws, sandbox.regions)
    assert not snap.errors
    regions = {n.region for n in snap.nodes}
    assert regions == {"ap-northeast-1", "ap-northeast-3"}
    managed = [n for n in snap.nodes if n.ping_status != NOT_MANAGED]
    assert len(managed) >= 24
    assert any(n.ping_status == "ConnectionLost" for n in snap.nodes)
    assert any(n.ec2_state == "stopped" for n in snap.nodes)
    assert any(n.instance_id.startswith("mi-") and n.ec2_state == "" for n in snap.nodes)
    assert any(n.agent_outdated for n in snap.nodes)
    assert any("Windows" in n.platform for n in snap.nodes)
    assert any(any("\u3040" <= ch <= "\u9fff" for ch in n.name) for n in snap.nodes)
    joined = next(n for n in snap.nodes if n.instance_id.startswith("i-") and n.ec2_state == "running")
    assert joined.instance_type and joined.availability_zone and joined.name and joined.ip


async def test_listing_paginates_with_no_per_node_calls(big_sandbox):
    aws = AwsClients(endpoint_url=big_sandbox.endpoint, credentials=big_sandbox.aws_credentials)
    try:
        snap = await load_fleet(aws, big_sandbox.regions)
    finally:
        await aws.close()
    assert not snap.errors
    assert len(snap.nodes) == 120
    per_region = {r.region: len(r.nodes) for r in snap.regions}
    assert max(per_region.values()) > 50  # really more than one SSM page
    ssm_pages = sum(math.ceil(n / 50) for n in per_region.values())
    ec2_pages = sum(max(1, math.ceil(n / 1000)) for n in per_region.values())
    assert aws.calls["ssm:DescribeInstanceInformation"] == ssm_pages
    assert aws.calls["ec2:DescribeInstances"] == ec2_pages
    hybrid = sum(1 for n in snap.nodes if n.instance_id.startswith("mi-"))  # their tags: one call each
    assert aws.calls["ssm:ListTagsForResource"] == hybrid
    assert sum(aws.calls.values()) == ssm_pages + ec2_pages + hybrid
    assert len({n.key for n in snap.nodes}) == 120  # no duplicates across pages


async def test_hybrid_nodes_carry_their_tags_from_list_tags_for_resource(aws, sandbox):
    """DescribeInstanceInformation has no tags and a mi- node has no EC2 instance: ListTagsForResource
    (ResourceType ManagedInstance) is where a tag target's hybrid members are found."""
    snap = await load_fleet(aws, sandbox.regions)
    onprem = next(n for n in snap.nodes if n.instance_id == "mi-0123456789abcdef0")
    assert (onprem.tag("Role"), onprem.tag("Env"), onprem.tag("Service")) == ("batch", "prod", "tape-backup")
    hybrid = sum(1 for n in snap.nodes if n.instance_id.startswith("mi-"))
    assert aws.calls["ssm:ListTagsForResource"] == hybrid  # one call per hybrid node, none for EC2 nodes
    assert not any(r.tags_unread for r in snap.regions)


async def test_unreadable_hybrid_tags_keep_the_fleet_and_say_the_count_may_be_low(aws, sandbox):
    sandbox.add_fault("AccessDenied", service="ssm", action="ListTagsForResource")
    snap = await load_fleet(aws, sandbox.regions)
    assert not snap.errors and any(n.instance_id.startswith("mi-") for n in snap.nodes)
    notes = [r.tags_unread for r in snap.regions if r.tags_unread]
    assert notes and "may reach more nodes" in notes[0]
