"""The partitioned DescribeInstanceInformation listing is exact: on a 2,000-node sandbox fleet, the six
PlatformTypes x ResourceType listings hold every node once and only once, the same set as one plain listing."""

from __future__ import annotations

import math
import shutil
import tempfile
from collections import Counter

import pytest

from opstui.aws import ssm
from opstui.aws.clients import AwsClients
from opstui.aws.fleet import load_fleet
from opstui.demo import SandboxProcess
from tests.sandbox_control import SandboxControl

NODES = 2000


@pytest.fixture(scope="module")
def large_sandbox():
    state_dir = tempfile.mkdtemp(prefix="opstui-test-state-")
    proc = SandboxProcess(nodes=NODES, live=False, timeout=180, state_dir=state_dir)
    proc.start()
    yield SandboxControl.of(proc)
    proc.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
async def aws(large_sandbox):
    clients = AwsClients(endpoint_url=large_sandbox.endpoint, credentials=large_sandbox.aws_credentials)
    yield clients
    await clients.close()


def test_the_partitions_are_every_combination_of_the_two_keys_once():
    filters = ssm.node_partitions()
    combos = {tuple((f["Key"], tuple(f["Values"])) for f in part) for part in filters}
    assert len(filters) == len(combos) == 6
    assert all(len(part) == 2 and all(len(f["Values"]) == 1 for f in part) for part in filters)


async def test_the_partitioned_listing_is_exact_on_a_large_fleet(aws, large_sandbox):
    for region in large_sandbox.regions:
        listings = await ssm.list_managed_nodes_partitioned(aws, region)
        plain = await ssm.list_managed_nodes(aws, region)
        ids = [n.instance_id for listing in listings for n in listing]
        twice = [i for i, count in Counter(ids).items() if count > 1]
        assert twice == []  # no node in two listings (nor twice in one)
        assert set(ids) == {n.instance_id for n in plain}  # none missing, none extra
        assert len(ids) == len(plain)
        # each listing holds exactly the nodes of its combination
        for filters, listing in zip(ssm.node_partitions(), listings, strict=True):
            want = tuple(f["Values"][0] for f in filters)
            assert all((n.platform_type, n.resource_type) == want for n in listing)
        assert sum(1 for listing in listings if listing) >= 2  # the fleet really spans several listings


async def test_a_full_load_makes_no_more_than_five_extra_calls_per_region(aws, large_sandbox):
    snap = await load_fleet(aws, large_sandbox.regions)
    assert not snap.errors
    per_region = {r.region: sum(1 for n in r.nodes if n.ping_status != "NotManaged") for r in snap.regions}
    assert sum(per_region.values()) >= NODES
    pages = sum(math.ceil(n / 50) for n in per_region.values())
    assert pages <= aws.calls["ssm:DescribeInstanceInformation"] <= pages + 5 * len(per_region)
    assert len({n.key for n in snap.nodes}) == len(snap.nodes)


async def test_progress_hands_out_rows_before_the_listing_ends(aws, large_sandbox):
    seen: list[int] = []
    snap = await load_fleet(aws, large_sandbox.regions, on_progress=lambda s, done: seen.append(len(s.nodes)),
                            progress_interval=0.0)
    assert seen and seen[0] < len(snap.nodes)  # the first rows came while pages were still to come
    assert seen == sorted(seen)  # rows only grow
