"""Hostile inventory strings (the hostile scenario's application names, publishers, versions) reach the client
as literal data through ListInventoryEntries, filters and aggregators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opstui.sandbox.scenarios import HOSTILE_STRINGS
from opstui.sandbox.server import Sandbox

from .conftest import make_client_factory

R1 = "ap-northeast-1"


@pytest.fixture(scope="module")
def hostile() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="hostile", live=False)
    sb.start()
    yield sb
    sb.stop()


def test_hostile_inventory_strings_survive_as_data(hostile):
    ssm = make_client_factory(hostile)("ssm", R1)
    iid = hostile.scenario_data.nodes[0].instance_id
    entries = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application")["Entries"]
    names = {e["Name"] for e in entries}
    for value in HOSTILE_STRINGS.values():
        assert value in names
    assert any(e["Publisher"] == HOSTILE_STRINGS["osc_title"] for e in entries)
    agg = ssm.get_inventory(Filters=[{"Key": "AWS:Application.Name", "Values": [HOSTILE_STRINGS["rich_red"]]}],
                            Aggregators=[{"Expression": "AWS:Application.Name"}])
    rows = agg["Entities"][0]["Data"]["AWS:Application"]["Content"]
    assert rows == [{"Count": str(len(hostile.scenario_data.nodes)), "Name": HOSTILE_STRINGS["rich_red"]}]
    found = ssm.get_inventory(Filters=[{"Key": "AWS:Application.Name", "Values": [HOSTILE_STRINGS["sgr_red"]]}])
    assert len(found["Entities"]) == len(hostile.scenario_data.nodes)
    computer_names = {e["Data"]["AWS:InstanceInformation"]["Content"][0]["ComputerName"] for e in found["Entities"]}
    assert HOSTILE_STRINGS["sgr_red"] in computer_names
