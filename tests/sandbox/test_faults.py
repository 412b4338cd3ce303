"""Each fault kind produces the error code botocore would get from AWS; counts expire."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

CASES = [
    ("ssm", "AccessDenied", "AccessDeniedException"),
    ("ssm", "ExpiredToken", "ExpiredTokenException"),
    ("ssm", "Throttling", "ThrottlingException"),
    ("ssm", "Unavailable", "ServiceUnavailable"),
    ("ec2", "AccessDenied", "UnauthorizedOperation"),
    ("ec2", "ExpiredToken", "ExpiredToken"),
    ("ec2", "Throttling", "RequestLimitExceeded"),
    ("sts", "AccessDenied", "AccessDenied"),
    ("sts", "ExpiredToken", "ExpiredToken"),
    ("sts", "Throttling", "Throttling"),
]


def call(client, service):
    if service == "ssm":
        return client("ssm").describe_instance_information(MaxResults=5)
    if service == "ec2":
        return client("ec2").describe_instances(MaxResults=5)
    return client("sts").get_caller_identity()


@pytest.fixture(autouse=True)
def _clear(default_sandbox):
    yield
    default_sandbox.faults.clear()


@pytest.mark.parametrize("service,error,code", CASES)
def test_fault_codes(default_sandbox, client, service, error, code):
    default_sandbox.faults.add(error=error, service=service)
    with pytest.raises(ClientError) as err:
        call(client, service)
    assert err.value.response["Error"]["Code"] == code
    if error == "AccessDenied":
        assert f"{service}:" in err.value.response["Error"]["Message"]


def test_count_expires(default_sandbox, client):
    default_sandbox.faults.add(error="AccessDenied", service="ssm", region="ap-northeast-1", count=2)
    for _ in range(2):
        with pytest.raises(ClientError):
            call(client, "ssm")
    call(client, "ssm")
    assert default_sandbox.faults.rules == []


def test_matching_by_region_and_action(default_sandbox, client):
    default_sandbox.faults.add(error="AccessDenied", service="ssm", region="ap-northeast-3",
                               action="DescribeInstanceInformation")
    call(client, "ssm")  # other region: fine
    client("ssm", "ap-northeast-3").list_commands()  # other action: fine
    with pytest.raises(ClientError):
        client("ssm", "ap-northeast-3").describe_instance_information()
    default_sandbox.faults.clear()
    default_sandbox.faults.add(error="Throttling", service="ec2", action="DescribeInstances")
    client("ec2").describe_instance_status()  # query action parsed from the form body
    with pytest.raises(ClientError):
        call(client, "ec2")


def test_control_endpoints(default_sandbox, client):
    base = default_sandbox.endpoint + "/_opstui/"

    def send(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {default_sandbox.credentials.control_token()}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.load(r)

    status, health = send("GET", "health")
    assert status == 200 and health["ready"] is True and health["regions"] == default_sandbox.regions
    send("POST", "faults", {"error": "ExpiredToken", "service": "sts", "region": None, "action": None,
                            "count": None})
    with pytest.raises(ClientError) as err:
        call(client, "sts")
    assert err.value.response["Error"]["Code"] == "ExpiredToken"
    send("DELETE", "faults")
    call(client, "sts")
    send("POST", "ping", {"region": "ap-northeast-1", "instance_id": "mi-0123456789abcdef0",
                          "status": "Inactive"})
    info = client("ssm").describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": ["mi-0123456789abcdef0"]}])["InstanceInformationList"]
    assert info[0]["PingStatus"] == "Inactive"
    default_sandbox.set_ping("ap-northeast-1", "mi-0123456789abcdef0", "Online")
