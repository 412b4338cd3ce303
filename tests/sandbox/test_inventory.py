"""Sandbox SSM Inventory: the five APIs (filters with every operator, aggregators, pagination, errors), the
seeded fleet's captured inventory, and the local node's real packages."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.server import Sandbox

R1 = "ap-northeast-1"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _node(sb: Sandbox, name: str) -> str:
    assert sb.scenario_data is not None
    return next(n.instance_id for n in sb.scenario_data.nodes if n.tags.get("Name") == name)


def _all_entities(ssm: Any, **kwargs: Any) -> list[dict[str, Any]]:
    out, token = [], None
    while True:
        page = ssm.get_inventory(**kwargs, **({"NextToken": token} if token else {}))
        out += page["Entities"]
        token = page.get("NextToken")
        if not token:
            return out


def _ids(ssm: Any, filters: list[dict[str, Any]]) -> set[str]:
    return {e["Id"] for e in _all_entities(ssm, Filters=filters)}


@pytest.fixture(scope="module")
def ssm(client: Callable[..., Any]) -> Any:
    return client("ssm", R1)


def test_seeded_inventory_every_online_node_has_the_types(default_sandbox, ssm):
    info = [n for page in ssm.get_paginator("describe_instance_information").paginate()
            for n in page["InstanceInformationList"]]
    online = [n["InstanceId"] for n in info if n["PingStatus"] == "Online"]
    assert len(online) >= 15
    for iid in online:
        for type_name in ("AWS:InstanceInformation", "AWS:Application", "AWS:Network", "AWS:Service",
                          "AWS:InstanceDetailedInformation"):
            r = ssm.list_inventory_entries(InstanceId=iid, TypeName=type_name, MaxResults=1)
            assert r["Entries"], (iid, type_name)
            assert r["CaptureTime"].endswith("Z")
    win = _node(default_sandbox, "prod-win-ad-01")
    assert ssm.list_inventory_entries(InstanceId=win, TypeName="AWS:WindowsUpdate")["Entries"][0]["HotFixId"]
    # capture times: recent for most, days old for the deliberately stale nodes
    now = dt.datetime.now(dt.UTC)
    ages = {iid: now - dt.datetime.fromisoformat(
        ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:InstanceInformation")["CaptureTime"]
        .replace("Z", "+00:00")) for iid in online}
    assert sum(1 for a in ages.values() if a < dt.timedelta(hours=7)) >= len(online) - 3
    assert ages[_node(default_sandbox, "stg-batch-02")] > dt.timedelta(days=3)


def test_get_inventory_entities_and_pagination(ssm):
    first = ssm.get_inventory(MaxResults=5)
    assert len(first["Entities"]) == 5 and first["NextToken"]
    entity = first["Entities"][0]
    item = entity["Data"]["AWS:InstanceInformation"]
    assert set(item) >= {"TypeName", "SchemaVersion", "CaptureTime", "ContentHash", "Content"}
    assert item["Content"][0]["InstanceId"] == entity["Id"]
    everything = _all_entities(ssm, MaxResults=5)
    ids = [e["Id"] for e in everything]
    assert len(ids) == len(set(ids)) == 18  # every node of the region (ConnectionLost and stopped too)
    assert ids == sorted(ids)
    with pytest.raises(ClientError) as exc:
        ssm.get_inventory(NextToken="not-a-token")
    assert _code(exc) == "InvalidNextToken"


def test_filter_operators(default_sandbox, ssm):
    equal = _ids(ssm, [{"Key": "AWS:Application.Name", "Values": ["nginx"], "Type": "Equal"}])
    assert _node(default_sandbox, "prod-web-02") in equal
    assert _node(default_sandbox, "prod-db-01") not in equal
    windows = _ids(ssm, [{"Key": "AWS:InstanceInformation.PlatformType", "Values": ["Windows"]}])
    assert windows == {_node(default_sandbox, "prod-win-ad-01")}
    not_windows = _ids(ssm, [{"Key": "AWS:InstanceInformation.PlatformType", "Values": ["Windows"],
                              "Type": "NotEqual"}])
    assert not_windows and not (not_windows & windows)
    begin = _ids(ssm, [{"Key": "AWS:InstanceInformation.PlatformName", "Values": ["Ubu"], "Type": "BeginWith"}])
    assert _node(default_sandbox, "stg-web-01") in begin and _node(default_sandbox, "prod-web-02") not in begin
    # same type, same entry: openssl older than 3.0.13 (version-aware: 3.0.2 < 3.0.13)
    old = _ids(ssm, [{"Key": "AWS:Application.Name", "Values": ["openssl"], "Type": "Equal"},
                     {"Key": "AWS:Application.Version", "Values": ["3.0.13"], "Type": "LessThan"}])
    assert {_node(default_sandbox, "prod-web-02"), _node(default_sandbox, "prod-app-01")} <= old
    assert _node(default_sandbox, "本番-決済API-01") not in old
    newer = _ids(ssm, [{"Key": "AWS:Application.Name", "Values": ["openssl"]},
                       {"Key": "AWS:Application.Version", "Values": ["3.0.2"], "Type": "GreaterThan"}])
    assert _node(default_sandbox, "本番-決済API-01") in newer and _node(default_sandbox, "prod-web-02") not in newer
    exists = _ids(ssm, [{"Key": "AWS:InstanceInformation.IamRole", "Values": ["x"], "Type": "Exists"}])
    assert exists == {"mi-0123456789abcdef0"}
    typed = _ids(ssm, [{"Key": "TypeName", "Values": ["AWS:WindowsUpdate"], "Type": "Exists"}])
    assert typed == windows
    # cross-type AND
    both = _ids(ssm, [{"Key": "AWS:Application.Name", "Values": ["nginx"]},
                      {"Key": "AWS:InstanceInformation.PlatformVersion", "Values": ["2023"]}])
    assert both and both <= equal
    for bad in ({"Key": "AWS:Nope.Name", "Values": ["x"]}, {"Key": "AWS:Application.Colour", "Values": ["x"]},
                {"Key": "Name", "Values": ["x"]}, {"Key": "AWS:Application.Name", "Values": ["x"], "Type": "Like"},
                {"Key": "AWS:Application.Version", "Values": ["1", "2"], "Type": "LessThan"}):
        with pytest.raises(ClientError) as exc:
            ssm.get_inventory(Filters=[bad])
        assert _code(exc) == "InvalidFilter", bad


def test_result_attributes_like_aws(ssm):
    r = ssm.get_inventory(ResultAttributes=[{"TypeName": "AWS:InstanceInformation"}], MaxResults=2)
    assert list(r["Entities"][0]["Data"]) == ["AWS:InstanceInformation"]
    with pytest.raises(ClientError) as exc:
        ssm.get_inventory(ResultAttributes=[{"TypeName": "AWS:Application"}])
    assert _code(exc) == "InvalidResultAttributeException"
    assert "Supported type names are: AWS:InstanceInformation, AWS:PatchSummary" in str(exc.value)


def test_aggregators(default_sandbox, ssm):
    r = ssm.get_inventory(Aggregators=[{"Expression": "AWS:InstanceInformation.PlatformType"}])
    rows = r["Entities"][0]["Data"]["AWS:InstanceInformation"]["Content"]
    counts = {row["PlatformType"]: int(row["Count"]) for row in rows}
    assert counts["Windows"] == 1 and counts["Linux"] == 17
    assert all(isinstance(row["Count"], str) for row in rows)
    # nested, restricted by the filter on the same type: openssl versions
    r = ssm.get_inventory(Filters=[{"Key": "AWS:Application.Name", "Values": ["openssl"]}],
                          Aggregators=[{"Expression": "AWS:Application.Name",
                                        "Aggregators": [{"Expression": "AWS:Application.Version"}]}])
    rows = r["Entities"][0]["Data"]["AWS:Application"]["Content"]
    assert {row["Name"] for row in rows} == {"openssl"}
    versions = {row["Version"]: int(row["Count"]) for row in rows}
    assert versions["3.0.2"] >= 2 and versions["3.0.13"] >= 5
    # nested across types: platform of the nodes that have nginx
    r = ssm.get_inventory(Filters=[{"Key": "AWS:Application.Name", "Values": ["nginx"]}],
                          Aggregators=[{"Expression": "AWS:Application.Name",
                                        "Aggregators": [{"Expression": "AWS:InstanceInformation.PlatformName"}]}])
    rows = r["Entities"][0]["Data"]["AWS:Application"]["Content"]
    assert rows and all(set(row) == {"Count", "Name", "PlatformName"} for row in rows)
    # groups
    r = ssm.get_inventory(Aggregators=[{"Groups": [
        {"Name": "HasNginx", "Filters": [{"Key": "AWS:Application.Name", "Values": ["nginx"]}]},
        {"Name": "Windows", "Filters": [{"Key": "TypeName", "Values": ["AWS:WindowsUpdate"], "Type": "Exists"}]}]}])
    data = r["Entities"][0]["Data"]
    total = len(_all_entities(ssm))
    win = data["Windows"]["Content"]
    assert win == [{"notMatchingCount": str(total - 1)}, {"matchingCount": "1"}]
    assert int(data["HasNginx"]["Content"][1]["matchingCount"]) == 3  # the web nodes but the local one
    for bad in ({"Expression": "AWS:Application"}, {"Expression": "AWS:Nope.Name"}):
        with pytest.raises(ClientError) as exc:
            ssm.get_inventory(Aggregators=[bad])
        assert _code(exc) == "InvalidAggregatorException"
    with pytest.raises(ClientError) as exc:
        ssm.get_inventory(Aggregators=[{"Groups": [{"Name": "g", "Filters": [{"Key": "Bad", "Values": ["x"]}]}]}])
    assert _code(exc) == "InvalidInventoryGroupException"


def test_list_inventory_entries_filters_and_pages(default_sandbox, ssm):
    iid = _node(default_sandbox, "prod-app-01")
    entries, token = [], None
    while True:
        page = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application", MaxResults=17,
                                          **({"NextToken": token} if token else {}))
        assert page["TypeName"] == "AWS:Application" and page["InstanceId"] == iid
        assert page["SchemaVersion"] == "1.1"
        entries += page["Entries"]
        token = page.get("NextToken")
        if not token:
            break
    assert 60 <= len(entries) <= 210
    assert len({e["Name"] for e in entries}) == len(entries)
    libs = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application",
                                      Filters=[{"Key": "Name", "Values": ["lib"], "Type": "BeginWith"}])["Entries"]
    assert libs and all(e["Name"].startswith("lib") for e in libs)
    ssl = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application",
                                     Filters=[{"Key": "Name", "Values": ["openssl"]},
                                              {"Key": "Version", "Values": ["3.0.13"], "Type": "LessThan"}])
    assert [e["Version"] for e in ssl["Entries"]] == ["3.0.2"]
    none = ssm.list_inventory_entries(InstanceId=iid, TypeName="Custom:Nothing")
    assert none["Entries"] == [] and "CaptureTime" not in none
    with pytest.raises(ClientError) as exc:
        ssm.list_inventory_entries(InstanceId="i-0123456789abcdef9", TypeName="AWS:Application")
    assert _code(exc) == "InvalidInstanceId"
    with pytest.raises(ClientError) as exc:
        ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application",
                                   Filters=[{"Key": "Colour", "Values": ["x"]}])
    assert _code(exc) == "InvalidFilter"


def test_put_inventory_custom_and_content_hash(default_sandbox, ssm):
    iid = _node(default_sandbox, "stg-db-01")
    item = {"TypeName": "Custom:RackInfo", "SchemaVersion": "1.0", "CaptureTime": "2025-05-01T10:00:00Z",
            "ContentHash": "h1", "Content": [{"Rack": "R12", "Slot": "4"}]}
    ssm.put_inventory(InstanceId=iid, Items=[item])
    r = ssm.list_inventory_entries(InstanceId=iid, TypeName="Custom:RackInfo")
    assert r["Entries"] == [{"Rack": "R12", "Slot": "4"}] and r["CaptureTime"] == "2025-05-01T10:00:00Z"
    # same hash: content kept (AWS's short-circuit), capture time moves
    ssm.put_inventory(InstanceId=iid, Items=[{**item, "CaptureTime": "2025-05-02T10:00:00Z",
                                              "Content": [{"Rack": "CHANGED", "Slot": "9"}]}])
    r = ssm.list_inventory_entries(InstanceId=iid, TypeName="Custom:RackInfo")
    assert r["Entries"] == [{"Rack": "R12", "Slot": "4"}] and r["CaptureTime"] == "2025-05-02T10:00:00Z"
    ssm.put_inventory(InstanceId=iid, Items=[{**item, "ContentHash": "h2", "Content": [{"Rack": "R13"}]}])
    assert ssm.list_inventory_entries(InstanceId=iid, TypeName="Custom:RackInfo")["Entries"] == [{"Rack": "R13"}]
    assert _ids(ssm, [{"Key": "Custom:RackInfo.Rack", "Values": ["R13"]}]) == {iid}
    schema = ssm.get_inventory_schema(TypeName="Custom:")["Schemas"]
    assert [s["TypeName"] for s in schema] == ["Custom:RackInfo"]
    cases = [
        ({"InstanceId": "i-0123456789abcdef9", "Items": [item]}, "InvalidInstanceId"),
        ({"InstanceId": iid, "Items": [{**item, "TypeName": "Rack"}]}, "InvalidTypeNameException"),
        ({"InstanceId": iid, "Items": [{**item, "TypeName": "AWS:Rack"}]}, "InvalidTypeNameException"),
        ({"InstanceId": iid, "Items": [{**item, "CaptureTime": "yesterday", "ContentHash": "x"}]},
         "ValidationException"),
        ({"InstanceId": iid, "Items": [{**item, "TypeName": "AWS:Application", "SchemaVersion": "9.9"}]},
         "UnsupportedInventorySchemaVersionException"),
        ({"InstanceId": iid, "Items": [{**item, "TypeName": "AWS:Application", "SchemaVersion": "1.1",
                                        "ContentHash": "z", "Content": [{"Name": "x", "Colour": "red"}]}]},
         "InvalidItemContentException"),
        ({"InstanceId": iid, "Items": [{**item, "ContentHash": "big", "Content": [{"A": "x" * 250_000}]}]},
         "ItemSizeLimitExceededException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as exc:
            ssm.put_inventory(**kwargs)
        assert _code(exc) == code, kwargs


def test_delete_inventory(default_sandbox, ssm):
    a, b = _node(default_sandbox, "stg-web-01"), _node(default_sandbox, "stg-app-01")
    item = {"TypeName": "Custom:Owner", "SchemaVersion": "1.0", "CaptureTime": "2025-05-01T10:00:00Z",
            "Content": [{"Team": "platform"}]}
    for iid in (a, b):
        ssm.put_inventory(InstanceId=iid, Items=[item])
    dry = ssm.delete_inventory(TypeName="Custom:Owner", DryRun=True)
    assert dry["DeletionSummary"]["TotalCount"] == 2 and dry["DeletionSummary"]["RemainingCount"] == 2
    assert ssm.list_inventory_entries(InstanceId=a, TypeName="Custom:Owner")["Entries"]
    done = ssm.delete_inventory(TypeName="Custom:Owner", SchemaDeleteOption="DisableSchema")
    assert done["DeletionId"] and done["TypeName"] == "Custom:Owner"
    assert done["DeletionSummary"]["RemainingCount"] == 0
    assert ssm.list_inventory_entries(InstanceId=a, TypeName="Custom:Owner")["Entries"] == []
    with pytest.raises(ClientError) as exc:
        ssm.put_inventory(InstanceId=a, Items=[item])
    assert _code(exc) == "InvalidTypeNameException"
    for kwargs, code in (({"TypeName": "AWS:Application"}, "InvalidTypeNameException"),
                         ({"TypeName": "Custom:Never"}, "InvalidTypeNameException"),
                         ({"TypeName": "Custom:Owner", "SchemaDeleteOption": "Nuke"}, "InvalidOptionException")):
        with pytest.raises(ClientError) as exc:
            ssm.delete_inventory(**kwargs)
        assert _code(exc) == code


def test_inventory_schema(ssm):
    schemas = {s["TypeName"]: s for s in ssm.get_inventory_schema(MaxResults=200)["Schemas"]}
    app = {a["Name"]: a["DataType"] for a in schemas["AWS:Application"]["Attributes"]}
    assert schemas["AWS:Application"]["Version"] == "1.1"
    assert {"Name", "Version", "Publisher", "Architecture", "InstalledTime", "Release", "Epoch"} <= set(app)
    detailed = {a["Name"]: a["DataType"] for a in schemas["AWS:InstanceDetailedInformation"]["Attributes"]}
    assert detailed["CPUCores"] == "NUMBER" and detailed["CPUModel"] == "STRING"
    agg = {s["TypeName"]: [a["Name"] for a in s["Attributes"]]
           for s in ssm.get_inventory_schema(Aggregator=True)["Schemas"]}
    assert agg["AWS:Application"] == ["Name", "Version"]
    assert "AWS:Network" not in agg
    assert [s["TypeName"] for s in ssm.get_inventory_schema(TypeName="AWS:Net")["Schemas"]] == ["AWS:Network"]
    assert ssm.get_inventory_schema(SubType=True)["Schemas"] == []


def _dpkg_version(package: str) -> str | None:
    if shutil.which("dpkg-query") is None:
        return None
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _rpm_version(package: str) -> str | None:
    if shutil.which("rpm") is None:
        return None
    done = subprocess.run(["rpm", "-q", "--qf", "%{VERSION}", package], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def test_local_node_reports_this_machines_packages(default_sandbox, ssm):
    iid = _node(default_sandbox, "prod-web-01")
    apps = []
    token = None
    while True:
        page = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application",
                                          **({"NextToken": token} if token else {}))
        apps += page["Entries"]
        token = page.get("NextToken")
        if not token:
            break
    by_name = {a["Name"]: a["Version"] for a in apps}
    for package in ("bash", "python3", "coreutils"):
        expected = _dpkg_version(package) or _rpm_version(package)
        if expected is not None:
            assert by_name.get(package) == expected, package
            break
    else:  # no package manager here: the Python distributions (what pip lists) are reported
        import importlib.metadata

        assert by_name.get("boto3") == importlib.metadata.version("boto3")
    nets = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Network")["Entries"]
    assert any(n["Name"] == "lo" and "127.0.0.1" in n["IPV4"] for n in nets)
    # a fleet-wide search finds the local node by a package only this machine has
    found = _ids(ssm, [{"Key": "AWS:Application.Name", "Values": [apps[0]["Name"]]},
                       {"Key": "AWS:Application.Version", "Values": [apps[0]["Version"]]}])
    assert iid in found


def test_seeded_inventory_association_in_each_region(client):
    for region in ("ap-northeast-1", "ap-northeast-3"):
        ssm = client("ssm", region)
        assocs = ssm.list_associations(AssociationFilterList=[{"key": "Name", "value": "AWS-GatherSoftwareInventory"}])
        [assoc] = assocs["Associations"]
        assert assoc["Targets"] == [{"Key": "InstanceIds", "Values": ["*"]}]
        assert assoc["ScheduleExpression"] == "rate(30 minutes)"
        assert assoc["LastExecutionDate"] and assoc["Overview"]["AssociationStatusAggregatedCount"]
        execs = ssm.describe_association_executions(AssociationId=assoc["AssociationId"])["AssociationExecutions"]
        assert execs and execs[0]["ResourceCountByStatus"].startswith("{")


def _os_release() -> tuple[str, str] | None:
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            fields = dict(line.strip().split("=", 1) for line in fh if "=" in line)
    except OSError:
        return None
    return fields["NAME"].strip('"'), fields.get("VERSION_ID", "").strip('"')


def test_local_node_claims_this_machines_os(default_sandbox, ssm):
    """The node that reports this machine's packages says what this machine runs (its /etc/os-release), so a
    Debian package list never comes from a node claiming Amazon Linux 2023."""
    iid = _node(default_sandbox, "prod-web-01")
    expected = _os_release()
    info = next(n for n in ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [iid]}])["InstanceInformationList"])
    inventory = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:InstanceInformation")["Entries"][0]
    if expected is not None:
        assert (info["PlatformName"], info["PlatformVersion"]) == expected
        assert (inventory["PlatformName"], inventory["PlatformVersion"]) == expected
    # every other Amazon Linux 2023 node still says so
    other = _node(default_sandbox, "prod-web-02")
    info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [other]}])
    assert info["InstanceInformationList"][0]["PlatformName"] == "Amazon Linux"
