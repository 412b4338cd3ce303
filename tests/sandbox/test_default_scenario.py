"""The default scenario's guarantees and DescribeInstanceInformation's filters, via boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.scenarios import OUTDATED_AGENT, build_scenario

PRIMARY, DR = "ap-northeast-1", "ap-northeast-3"


def all_nodes(ssm, **kwargs):
    out = []
    for page in ssm.get_paginator("describe_instance_information").paginate(**kwargs):
        out.extend(page["InstanceInformationList"])
    return out


def all_instances(ec2, **kwargs):
    return [i for page in ec2.get_paginator("describe_instances").paginate(**kwargs)
            for r in page["Reservations"] for i in r["Instances"]]


def names(instances):
    return {next((t["Value"] for t in i.get("Tags", []) if t["Key"] == "Name"), "") for i in instances}


def test_regions_and_counts(default_sandbox, client):
    assert default_sandbox.regions == [PRIMARY, DR]
    assert default_sandbox.account_id == "123456789012"
    assert default_sandbox.endpoint.startswith("http://127.0.0.1:")
    primary = all_nodes(client("ssm", PRIMARY))
    dr = all_nodes(client("ssm", DR))
    assert len(primary) >= 16 and 6 <= len(dr) <= 8
    assert len(primary) + len(dr) >= 24
    assert client("sts").get_caller_identity()["Account"] == "123456789012"


def test_guarantees(client):
    nodes = all_nodes(client("ssm", PRIMARY)) + all_nodes(client("ssm", DR))
    by_id = {n["InstanceId"]: n for n in nodes}
    assert any(n["PlatformType"] == "Windows" and "2022" in n["PlatformName"] for n in nodes)
    assert any(n["PingStatus"] == "ConnectionLost" for n in nodes)
    hybrid = by_id["mi-0123456789abcdef0"]
    assert hybrid["ResourceType"] == "ManagedInstance" and hybrid["Name"]
    assert hybrid["SourceType"] == "AWS::SSM::ManagedInstance" and hybrid["ActivationId"]
    outdated = [n for n in nodes if not n["IsLatestVersion"]]
    assert any(n["AgentVersion"] == OUTDATED_AGENT for n in outdated)
    assert {n["PlatformName"] for n in nodes} >= {"Amazon Linux", "Ubuntu", "Red Hat Enterprise Linux"}
    assert all(isinstance(n["LastPingDateTime"].year, int) for n in nodes)


def test_ec2_side(client):
    ec2 = client("ec2", PRIMARY)
    instances = all_instances(ec2)
    states = {i["State"]["Name"] for i in instances}
    assert states == {"running", "stopped"}
    windows = [i for i in instances if i.get("Platform") == "windows"]
    assert windows and windows[0]["PlatformDetails"] == "Windows"
    assert any(n == "本番-決済API-01" for n in names(instances))
    assert "ステージング-バッチ" in names(instances)
    stopped = [i for i in instances if i["State"]["Name"] == "stopped"]
    ssm = client("ssm", PRIMARY)
    info = all_nodes(ssm, Filters=[{"Key": "InstanceIds", "Values": [stopped[0]["InstanceId"]]}])
    assert info[0]["PingStatus"] == "ConnectionLost"
    for i in instances:
        assert i["PrivateIpAddress"].startswith("10.") and i["VpcId"] and i["SubnetId"]
        assert i["Placement"]["AvailabilityZone"] in {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}
        assert i["LaunchTime"].year in (2024, 2025)


def test_one_reservation_per_instance_and_paging(client):
    ec2 = client("ec2", PRIMARY)
    total = len(all_instances(ec2))
    pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}))
    assert [sum(len(r["Instances"]) for r in p["Reservations"]) for p in pages[:-1]] == [5] * (len(pages) - 1)
    assert sum(len(r["Instances"]) for p in pages for r in p["Reservations"]) == total
    assert all(len(r["Instances"]) == 1 for p in pages for r in p["Reservations"])


def test_ec2_filters(client):
    ec2 = client("ec2", PRIMARY)
    running = all_instances(ec2, Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
    assert running and all(i["State"]["Name"] == "running" for i in running)
    web = all_instances(ec2, Filters=[{"Name": "tag:Role", "Values": ["web"]}])
    assert web and all({"Key": "Role", "Value": "web"} in i["Tags"] for i in web)
    iid = web[0]["InstanceId"]
    assert [i["InstanceId"] for i in all_instances(ec2, InstanceIds=[iid])] == [iid]
    assert len(all_instances(ec2, Filters=[{"Name": "tag-key", "Values": ["Team"]}])) == len(all_instances(ec2))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"InstanceInformationFilterList": [{"key": "PingStatus", "valueSet": ["ConnectionLost"]}]},
        {"Filters": [{"Key": "PingStatus", "Values": ["ConnectionLost"]}]},
    ],
)
def test_ping_filter_both_forms(client, kwargs):
    nodes = all_nodes(client("ssm", PRIMARY), **kwargs)
    assert nodes and all(n["PingStatus"] == "ConnectionLost" for n in nodes)


def test_other_filters(client):
    ssm = client("ssm", PRIMARY)
    win = all_nodes(ssm, Filters=[{"Key": "PlatformTypes", "Values": ["Windows"]}])
    assert win and all(n["PlatformType"] == "Windows" for n in win)
    legacy = all_nodes(ssm, InstanceInformationFilterList=[{"key": "PlatformTypes", "valueSet": ["Windows"]}])
    assert legacy == win
    hybrid = all_nodes(ssm, Filters=[{"Key": "ResourceType", "Values": ["ManagedInstance"]}])
    assert [n["InstanceId"] for n in hybrid] == ["mi-0123456789abcdef0"]
    old = all_nodes(ssm, Filters=[{"Key": "AgentVersion", "Values": [OUTDATED_AGENT]}])
    assert old and all(n["AgentVersion"] == OUTDATED_AGENT for n in old)
    failed = all_nodes(ssm, Filters=[{"Key": "AssociationStatus", "Values": ["Failed"]}])
    assert failed and all(n["AssociationStatus"] == "Failed" for n in failed)
    roles = all_nodes(ssm, Filters=[{"Key": "IamRole", "Values": ["SSMServiceRole-Hybrid"]}])
    assert [n["InstanceId"] for n in roles] == ["mi-0123456789abcdef0"]
    acts = all_nodes(ssm, Filters=[{"Key": "ActivationIds", "Values": [hybrid[0]["ActivationId"]]}])
    assert len(acts) == 1
    ids = [n["InstanceId"] for n in all_nodes(ssm)][:3]
    by_ids = all_nodes(ssm, InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": ids}])
    assert sorted(n["InstanceId"] for n in by_ids) == sorted(ids)


def test_tag_filters_follow_ec2_tags(client):
    ssm, ec2 = client("ssm", PRIMARY), client("ec2", PRIMARY)
    db = all_nodes(ssm, Filters=[{"Key": "tag:Role", "Values": ["db"]}])
    assert db and all(n["ResourceType"] == "EC2Instance" for n in db)
    target = db[0]["InstanceId"]
    ec2.create_tags(Resources=[target], Tags=[{"Key": "Patch", "Value": "tonight"}])
    tagged = all_nodes(ssm, Filters=[{"Key": "tag:Patch", "Values": ["tonight"]}])
    assert [n["InstanceId"] for n in tagged] == [target]
    keyed = all_nodes(ssm, Filters=[{"Key": "tag-key", "Values": ["Patch"]}])
    assert [n["InstanceId"] for n in keyed] == [target]
    # hybrid nodes keep their tags in SSM
    onprem = all_nodes(ssm, Filters=[{"Key": "tag:Service", "Values": ["tape-backup"]}])
    assert [n["InstanceId"] for n in onprem] == ["mi-0123456789abcdef0"]
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId="mi-0123456789abcdef0",
                             Tags=[{"Key": "Rack", "Value": "B3"}])
    tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId="mi-0123456789abcdef0")["TagList"]
    assert {"Key": "Rack", "Value": "B3"} in tags
    assert len(all_nodes(ssm, Filters=[{"Key": "tag:Rack", "Values": ["B3"]}])) == 1


@pytest.mark.parametrize("value", [4, 51, 100])
def test_max_results_validation(client, value):
    ssm = client("ssm", PRIMARY, parameter_validation=False)
    with pytest.raises(ClientError) as err:
        ssm.describe_instance_information(MaxResults=value)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_without_max_results_a_page_is_10_nodes_with_a_next_token(client):
    ssm = client("ssm", PRIMARY)
    first = ssm.describe_instance_information()
    assert len(first["InstanceInformationList"]) == 10 and first["NextToken"]
    second = ssm.describe_instance_information(NextToken=first["NextToken"])
    ids = [n["InstanceId"] for n in first["InstanceInformationList"] + second["InstanceInformationList"]]
    assert len(set(ids)) == len(ids) == 10 + len(second["InstanceInformationList"])
    assert len(all_nodes(ssm)) > 10


@pytest.mark.parametrize(("kwargs", "code", "message"), [
    ({"Filters": [{"Key": "PingStatus", "Values": ["Online"]}],
      "InstanceInformationFilterList": [{"key": "PingStatus", "valueSet": ["Online"]}]}, "ValidationException", ""),
    ({"Filters": [{"Key": "tag:Role", "Values": ["web"]}, {"Key": "PingStatus", "Values": ["Online"]}]},
     "ValidationException", "Cannot mix tag or inventory filter with any other filter."),
    ({"Filters": [{"Key": "tag-key", "Values": ["Role"]}, {"Key": "PlatformTypes", "Values": ["Linux"]}]},
     "ValidationException", "Cannot mix tag or inventory filter with any other filter."),
    ({"Filters": [{"Key": "ResourceType", "Values": ["EC2Instance", "ManagedInstance"]}]},
     "InvalidInstanceInformationFilterValue", "ResourceType filter may contain only one value."),
    ({"Filters": [{"Key": "ResourceType", "Values": ["Document"]}]},
     "InvalidInstanceInformationFilterValue", "ResourceType filter is invalid, valid values are EC2Instance, "
                                              "ManagedInstance"),
    ({"NextToken": "bm90LWEtdG9rZW4="}, "InvalidNextToken", ""),
    ({"NextToken": "eyJhZnRlciI6ICJpLTAwMDAwMDAwMDAwMDAwMDAwIn0="}, "InvalidNextToken", ""),
])
def test_describe_instance_information_refuses_like_aws(client, kwargs, code, message):
    ssm = client("ssm", PRIMARY)
    with pytest.raises(ClientError) as err:
        ssm.describe_instance_information(**kwargs)
    assert err.value.response["Error"]["Code"] == code
    assert message in err.value.response["Error"]["Message"]


def test_tag_filters_together_and_other_filters_together_are_fine(client):
    ssm = client("ssm", PRIMARY)
    both_tags = all_nodes(ssm, Filters=[{"Key": "tag:Role", "Values": ["web"]}, {"Key": "tag-key", "Values": ["Env"]}])
    assert both_tags and all(n["InstanceId"] for n in both_tags)
    mixed = all_nodes(ssm, Filters=[{"Key": "PingStatus", "Values": ["Online"]},
                                    {"Key": "ResourceType", "Values": ["ManagedInstance"]}])
    assert mixed and all(n["ResourceType"] == "ManagedInstance" for n in mixed)


def test_invalid_filter_key(client):
    ssm = client("ssm", PRIMARY)
    with pytest.raises(ClientError) as err:
        ssm.describe_instance_information(Filters=[{"Key": "Bogus", "Values": ["x"]}])
    assert err.value.response["Error"]["Code"] == "InvalidFilterKey"


def test_set_ping_and_stop_start_consistency(default_sandbox, client):
    ssm, ec2 = client("ssm", PRIMARY), client("ec2", PRIMARY)
    node = all_nodes(ssm, Filters=[{"Key": "tag:Name", "Values": ["prod-web-01"]}])[0]
    iid = node["InstanceId"]
    assert node["PingStatus"] == "Online"
    default_sandbox.set_ping(PRIMARY, iid, "ConnectionLost")
    assert all_nodes(ssm, Filters=[{"Key": "InstanceIds", "Values": [iid]}])[0]["PingStatus"] == "ConnectionLost"
    default_sandbox.nodes.set_ping(default_sandbox.account_id, PRIMARY, iid, "Online")
    ec2.stop_instances(InstanceIds=[iid])
    assert all_nodes(ssm, Filters=[{"Key": "InstanceIds", "Values": [iid]}])[0]["PingStatus"] == "ConnectionLost"
    ec2.start_instances(InstanceIds=[iid])
    assert all_nodes(ssm, Filters=[{"Key": "InstanceIds", "Values": [iid]}])[0]["PingStatus"] == "Online"


def test_send_command_targets_only_requested(client):
    ssm = client("ssm", PRIMARY)
    iid = all_nodes(ssm, Filters=[{"Key": "tag:Name", "Values": ["prod-web-02"]}])[0]["InstanceId"]
    cmd = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                           Parameters={"commands": ["uptime"]})["Command"]
    assert cmd["InstanceIds"] == [iid]
    assert cmd["TargetCount"] == 1


def test_deterministic_given_seed():
    a = build_scenario("default", seed=42, nodes=300)
    b = build_scenario("default", seed=42, nodes=300)
    c = build_scenario("default", seed=7, nodes=300)
    assert [(n.instance_id, n.private_ip, n.tags) for n in a.nodes] == [
        (n.instance_id, n.private_ip, n.tags) for n in b.nodes
    ]
    assert [n.instance_id for n in a.nodes] != [n.instance_id for n in c.nodes]
    assert len({n.instance_id for n in build_scenario("default", nodes=10_000).nodes}) == 10_000


def test_computer_names_follow_ec2_private_hostnames() -> None:
    """ComputerName is the host name each node's OS reports: ip-<dashed IP>.<region>.compute.internal, except
    us-east-1's ec2.internal; Windows AMIs' EC2AMAZ-XXXXXXX, stable per node."""
    from opstui.sandbox.scenarios import NodeSpec, _finish

    def name(region: str, distro: str = "al2023", iid: str = "i-0123456789abcdef0") -> str | None:
        return _finish(NodeSpec(instance_id=iid, region=region, tags={}, distro=distro,
                                private_ip="10.0.1.23")).computer_name

    assert name("us-east-1") == "ip-10-0-1-23.ec2.internal"
    assert name("ap-northeast-1") == "ip-10-0-1-23.ap-northeast-1.compute.internal"
    assert name("eu-west-1", "win2022") == "EC2AMAZ-ABCDEF0"
