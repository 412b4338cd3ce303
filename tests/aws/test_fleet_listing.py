"""Fleet listing through aiobotocore -> HTTP -> the sandbox."""

import math

from opstui.aws import ssm
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
    # six disjoint listings per region: ceil(n/50) pages at least, and at most one more call per extra listing
    ssm_pages = sum(math.ceil(n / 50) for n in per_region.values())
    ec2_pages = sum(max(1, math.ceil(n / 1000)) for n in per_region.values())
    extra = len(ssm.node_partitions()) - 1
    assert ssm_pages <= aws.calls["ssm:DescribeInstanceInformation"] <= ssm_pages + extra * len(per_region)
    assert aws.calls["ec2:DescribeInstances"] == ec2_pages
    assert sum(aws.calls.values()) == aws.calls["ssm:DescribeInstanceInformation"] + ec2_pages
    assert len({n.key for n in snap.nodes}) == 120  # no duplicates across pages
