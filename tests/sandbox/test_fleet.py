"""A generated fleet (nodes=120): pagination of both listing APIs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opstui.sandbox.server import Sandbox

from .conftest import make_client_factory


@pytest.fixture(scope="module")
def fleet() -> Iterator[Sandbox]:
    sb = Sandbox(nodes=120, live=False)
    sb.start()
    yield sb
    sb.stop()


def test_ssm_pagination(fleet):
    client = make_client_factory(fleet)
    total = 0
    for region in fleet.regions:
        ssm = client("ssm", region)
        pages = list(ssm.get_paginator("describe_instance_information").paginate())
        ids = [n["InstanceId"] for p in pages for n in p["InstanceInformationList"]]
        assert len(ids) == len(set(ids))
        assert all(len(p["InstanceInformationList"]) <= 50 for p in pages)
        total += len(ids)
        if region == "ap-northeast-1":
            assert len(pages) >= 2
            small = list(ssm.get_paginator("describe_instance_information").paginate(
                PaginationConfig={"PageSize": 7}))
            assert [n["InstanceId"] for p in small for n in p["InstanceInformationList"]] == ids
    assert total == 120


def test_ec2_pagination_per_instance(fleet):
    ec2 = make_client_factory(fleet)("ec2", "ap-northeast-1")
    pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 10}))
    counts = [sum(len(r["Instances"]) for r in p["Reservations"]) for p in pages]
    assert all(c == 10 for c in counts[:-1])
    ids = [i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]]
    assert len(ids) == len(set(ids)) >= 90
    one = ec2.describe_instances(MaxResults=1000)
    assert "NextToken" not in one
    assert sum(len(r["Instances"]) for r in one["Reservations"]) == len(ids)
