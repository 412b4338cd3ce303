"""SSM Inventory and State Manager through the aws layer, against the sandbox (aiobotocore -> HTTP -> moto +
the sandbox's inventory and associations): filters, aggregators, pagination, schedules, read-only."""

from __future__ import annotations

import math

import pytest

from opstui.aws import ssm_inventory as inv
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError, ReadOnlyError
from opstui.aws.models import InventoryFilter

REGION = "ap-northeast-1"


async def test_nodes_with_inventory_and_schema(aws, sandbox):
    nodes = await inv.list_inventory_nodes(aws, REGION)
    assert len(nodes) >= 10
    assert all(n.instance_id and n.platform_name and n.agent_version and n.capture_time for n in nodes)
    schemas = {s.type_name: s for s in await inv.get_inventory_schema(aws, REGION)}
    for type_name in ("AWS:InstanceInformation", "AWS:Application", "AWS:Network", "AWS:Service",
                      "AWS:InstanceDetailedInformation"):
        assert type_name in schemas
    assert {"Name", "Version"} <= {name for name, _ in schemas["AWS:Application"].attributes}


async def test_get_inventory_filters_and_pagination(aws, sandbox):
    every, pages = await inv.get_inventory(aws, REGION)
    assert pages == 1
    linux, _ = await inv.get_inventory(
        aws, REGION, filters=[InventoryFilter("AWS:InstanceInformation.PlatformType", ("Linux",))])
    assert 0 < len(linux) < len(every)
    for entity in linux:
        assert entity.item("AWS:InstanceInformation").content[0]["PlatformType"] == "Linux"
    before = aws.calls["ssm:GetInventory"]
    paged, pages = await inv.get_inventory(aws, REGION, page_size=4)
    assert pages == math.ceil(len(every) / 4) and aws.calls["ssm:GetInventory"] - before == pages
    assert sorted(e.instance_id for e in paged) == sorted(e.instance_id for e in every)


async def test_find_application_lists_nodes_and_counts_by_version(aws, sandbox):
    found = await inv.find_application(aws, REGION, "openssl")
    assert found.error is None and found.matches
    assert {m.name for m in found.matches} == {"openssl"}
    per_version: dict[str, set[str]] = {}
    for m in found.matches:
        per_version.setdefault(m.version, set()).add(m.instance_id)
    # the aggregator's counts agree with the nodes listed per version
    assert {c.value: c.count for c in found.by_version} == {v: len(ids) for v, ids in per_version.items()}
    assert len(found.by_version) >= 2  # version skew in the scenario

    older = await inv.find_application(aws, REGION, "openssl", "LessThan", "3.0.13")
    assert older.matches and all(inv.version_key(m.version) < inv.version_key("3.0.13") for m in older.matches)
    assert {m.instance_id for m in older.matches} < {m.instance_id for m in found.matches}
    exact = await inv.find_application(aws, REGION, "openssl", "Equal", "3.0.13")
    assert exact.matches and {m.version for m in exact.matches} == {"3.0.13"}

    prefix = await inv.find_application(aws, REGION, "openss*")
    assert {m.name for m in prefix.matches} >= {"openssl"}
    assert all(c.value.startswith("openss") for c in prefix.by_version)  # "name version" labels
    none = await inv.find_application(aws, REGION, "no-such-package-anywhere")
    assert none.error is None and not none.matches and not none.by_version


async def test_find_application_errors_come_back_per_region(aws, sandbox):
    sandbox.add_fault("AccessDenied", service="ssm", region="ap-northeast-3", action="GetInventory")
    results = await inv.find_application_everywhere(aws, ["ap-northeast-1", "ap-northeast-3"], "openssl")
    by_region = {r.region: r for r in results}
    assert by_region["ap-northeast-1"].error is None and by_region["ap-northeast-1"].matches
    err = by_region["ap-northeast-3"].error
    assert isinstance(err, OpsError) and err.kind == "denied" and err.region == "ap-northeast-3"
    bad = await inv.find_application(aws, REGION, "  ")
    assert bad.error is not None and bad.error.kind == "invalid"


async def test_list_inventory_entries_pages_and_filters(aws, sandbox):
    nodes = {n.computer_name: n for n in await inv.list_inventory_nodes(aws, REGION)}
    web = next(n for n in await inv.list_inventory_nodes(aws, REGION) if n.platform_type == "Linux")
    assert nodes
    apps = await inv.list_inventory_entries(aws, REGION, web.instance_id, "AWS:Application")
    assert apps.complete and apps.capture_time is not None and apps.schema_version
    assert len(apps.entries) > 50 and apps.pages == math.ceil(len(apps.entries) / 50)
    first = await inv.list_inventory_entries(aws, REGION, web.instance_id, "AWS:Application", limit=60)
    assert not first.complete and len(first.entries) == 60
    only = await inv.list_inventory_entries(aws, REGION, web.instance_id, "AWS:Application",
                                            filters=[InventoryFilter("Name", ("openssl",))])
    assert only.entries and {e["Name"] for e in only.entries} == {"openssl"}
    types = {t.type_name for t in await inv.node_inventory_types(aws, REGION, web.instance_id, inv.AWS_TYPES[:6])}
    assert {"AWS:InstanceInformation", "AWS:Application", "AWS:Network", "AWS:Service"} <= types


async def test_summary_counts_by_platform_os_and_agent(aws, sandbox):
    summary = await inv.inventory_summary(aws, REGION)
    assert summary.error is None
    nodes = await inv.list_inventory_nodes(aws, REGION)
    for counts in (summary.by_platform, summary.by_os_version, summary.by_agent):
        assert sum(c.count for c in counts) == len(nodes)
    assert {c.value for c in summary.by_platform} == {n.platform_name for n in nodes}


async def test_seeded_inventory_association_and_its_executions(aws, sandbox):
    found = await inv.find_inventory_association(aws, REGION)
    assert found is not None and found.targets_all_nodes and found.document == inv.INVENTORY_DOCUMENT
    assert found.schedule == "rate(30 minutes)" and found.last_execution is not None
    runs = await inv.describe_association_executions(aws, REGION, found.association_id)
    assert runs and runs[0].status
    assert inv.schedule_period(found.schedule).total_seconds() == 1800


@pytest.mark.parametrize("schedule", ["rate(10 minutes)", "rate(29 minutes)", "cron(*/15 * ? * * *)",
                                      "cron(0,20 * ? * * *)", "every 30 minutes", "rate(2 hour)"])
def test_schedule_problems_are_caught_before_sending(schedule):
    assert inv.schedule_problem(schedule)


@pytest.mark.parametrize("schedule", ["rate(30 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)",
                                      "cron(0 */2 ? * * *)", "cron(0 2 ? * SUN *)", "cron(30 * ? * * *)"])
def test_good_schedules(schedule):
    assert inv.schedule_problem(schedule) is None


async def test_association_below_30_minutes_rejected_before_and_by_the_service(aws, sandbox):
    before = aws.calls["ssm:CreateAssociation"]
    with pytest.raises(OpsError) as raised:
        await inv.create_association(aws, REGION, schedule="rate(10 minutes)",
                                     targets=(("tag:Role", ("no-such-role-i2",)),))
    assert raised.value.kind == "invalid" and "30 minutes" in str(raised.value)
    assert aws.calls["ssm:CreateAssociation"] == before  # nothing was sent
    # and the service refuses it too (AWS's rule, enforced by the sandbox)
    with pytest.raises(OpsError) as refused:
        await aws.call("ssm", REGION, "create_association", Name=inv.INVENTORY_DOCUMENT,
                       Targets=[{"Key": "tag:Role", "Values": ["no-such-role-i2"]}],
                       ScheduleExpression="rate(10 minutes)")
    assert refused.value.code == "InvalidSchedule"


async def test_create_update_and_describe_an_association(aws, sandbox):
    # a tag no node has: the association exists and runs on nobody, so the shared fleet's inventory stays put
    created = await inv.create_association(aws, REGION, schedule="rate(1 hour)", name="i2-test-assoc",
                                           targets=(("tag:Role", ("no-such-role-i2",)),))
    try:
        assert created.association_id and created.schedule == "rate(1 hour)" and not created.targets_all_nodes
        listed = await inv.list_associations(aws, REGION, document=inv.INVENTORY_DOCUMENT)
        assert created.association_id in {a.association_id for a in listed}
        updated = await inv.update_association(aws, REGION, created.association_id, schedule="rate(2 hours)")
        assert updated.schedule == "rate(2 hours)"
        again = await inv.describe_association(aws, REGION, created.association_id)
        assert again.schedule == "rate(2 hours)" and again.name == "i2-test-assoc"
        assert again.targets == (("tag:Role", ("no-such-role-i2",)),)  # kept through the update
        with pytest.raises(OpsError):
            await inv.update_association(aws, REGION, created.association_id, schedule="rate(5 minutes)")
        # the all-nodes association is found, not this one
        seeded = await inv.find_inventory_association(aws, REGION)
        assert seeded.targets_all_nodes and seeded.association_id != created.association_id
    finally:
        await aws.call("ssm", REGION, "delete_association", AssociationId=created.association_id)


async def test_read_only_refuses_create_association(sandbox):
    ro = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, read_only=True, max_attempts=2)
    try:
        with pytest.raises(ReadOnlyError):
            await inv.create_association(ro, REGION, schedule="rate(1 hour)",
                                         targets=(("tag:Role", ("no-such-role-i2",)),))
        with pytest.raises(ReadOnlyError):
            await inv.ensure_inventory_association(ro, REGION, "rate(1 hour)")
        assert ro.calls["ssm:CreateAssociation"] == 0 and ro.calls["ssm:UpdateAssociation"] == 0
        assert (await inv.find_inventory_association(ro, REGION)) is not None  # reads still work
    finally:
        await ro.close()
