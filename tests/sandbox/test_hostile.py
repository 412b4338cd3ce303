"""The hostile scenario really carries the hostile strings to the client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opstui.sandbox.scenarios import HOSTILE_STRINGS
from opstui.sandbox.server import Sandbox

from .conftest import make_client_factory


@pytest.fixture(scope="module")
def hostile() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="hostile", live=False)
    sb.start()
    yield sb
    sb.stop()


def test_ssm_fields_carry_raw_escapes(hostile):
    ssm = make_client_factory(hostile)("ssm", "ap-northeast-1")
    nodes = ssm.describe_instance_information()["InstanceInformationList"]
    assert len(nodes) == 8
    blob = "\n".join(str(v) for n in nodes for v in n.values())
    for key in ("osc_title", "clear_screen", "sgr_red", "long", "newlines", "tabs", "wide", "rich_red"):
        assert HOSTILE_STRINGS[key] in blob, key
    tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId="mi-0badc0ffee0ddf00d")
    assert any("\x1b" in t["Value"] for t in tags["TagList"])


def test_ec2_tags_carry_markup_and_text(hostile):
    ec2 = make_client_factory(hostile)("ec2", "ap-northeast-1")
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    values = [t["Value"] for i in instances for t in i["Tags"]]
    blob = "\n".join(values)
    for key in ("rich_red", "rich_link", "long", "tabs", "wide"):
        assert HOSTILE_STRINGS[key] in blob, key
    assert any("line1\nline2" in v for v in values)
    # XML cannot carry ESC: it arrives as U+FFFD rather than breaking the response
    assert "\ufffd]0;pwned" in blob
