"""SSM documents in the sandbox: AWS-owned documents merged with created ones, filters, paging, errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from opstui.sandbox import documents
from opstui.sandbox.documents import document_parameters, document_platforms, find_document

REGION = "ap-northeast-1"
REQUIRED = (
    "AWS-RunShellScript",
    "AWS-RunPowerShellScript",
    "AWS-ConfigureAWSPackage",
    "AmazonCloudWatch-ManageAgent",
    "AWS-GatherSoftwareInventory",
    "AWS-UpdateSSMAgent",
)
CUSTOM = "ops-restart-app"
CUSTOM_CONTENT = {
    "schemaVersion": "2.2",
    "description": "Restart the app",
    "parameters": {"service": {"type": "String", "default": "app", "description": "Unit to restart"}},
    "mainSteps": [
        {"action": "aws:runShellScript", "name": "restart", "inputs": {"runCommand": ["systemctl restart {{ service }}"]}}
    ],
}


@pytest.fixture(scope="module")
def ssm(client: Callable[..., Any]) -> Any:
    ssm = client("ssm", REGION)
    ssm.create_document(
        Name=CUSTOM,
        DocumentType="Command",
        Content=json.dumps(CUSTOM_CONTENT),
        Tags=[{"Key": "team", "Value": "ops"}],
    )
    return ssm


@pytest.fixture(scope="module")
def account(ssm: Any) -> str:
    return ssm.describe_document(Name=CUSTOM)["Document"]["Owner"]


def names(ssm: Any, **kwargs: Any) -> list[str]:
    out: list[str] = []
    token: str | None = None
    while True:
        page = ssm.list_documents(**kwargs, **({"NextToken": token} if token else {}))
        out += [d["Name"] for d in page["DocumentIdentifiers"]]
        token = page.get("NextToken")
        if not token:
            return out


def error(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------------------------------- ListDocuments


def test_list_merges_aws_owned_and_created_documents(ssm: Any, account: str) -> None:
    docs = {d["Name"]: d for d in ssm.list_documents(MaxResults=50)["DocumentIdentifiers"]}
    for name in REQUIRED:
        assert docs[name]["Owner"] == "Amazon"
    shell = docs["AWS-RunShellScript"]
    assert shell["PlatformTypes"] == ["Linux", "MacOS"]
    assert (shell["DocumentType"], shell["SchemaVersion"], shell["DocumentFormat"]) == ("Command", "1.2", "JSON")
    assert shell["DocumentVersion"] == "1" and shell["CreatedDate"].year == 2015 and shell["Tags"] == []
    mine = docs[CUSTOM]
    assert mine["Owner"] == account and mine["PlatformTypes"] == ["Linux", "MacOS"]
    assert mine["Tags"] == [{"Key": "team", "Value": "ops"}]


def test_pagination_walks_everything_once_in_name_order(ssm: Any) -> None:
    everything = [d["Name"] for d in ssm.list_documents(MaxResults=50)["DocumentIdentifiers"]]
    assert everything == sorted(everything)
    first = ssm.list_documents(MaxResults=4)
    assert len(first["DocumentIdentifiers"]) == 4 and first["NextToken"]
    assert names(ssm, MaxResults=4) == everything
    assert "NextToken" not in ssm.list_documents(MaxResults=50)
    code, _, status = error(ssm.list_documents, NextToken="not-a-token")
    assert (code, status) == ("InvalidNextToken", 400)


def test_owner_filter(ssm: Any, account: str) -> None:
    amazon = names(ssm, Filters=[{"Key": "Owner", "Values": ["Amazon"]}])
    assert set(REQUIRED) <= set(amazon) and CUSTOM not in amazon
    mine = names(ssm, Filters=[{"Key": "Owner", "Values": ["Self"]}])
    assert CUSTOM in mine and not set(REQUIRED) & set(mine)
    assert names(ssm, Filters=[{"Key": "Owner", "Values": ["Private"]}]) == mine
    assert names(ssm, Filters=[{"Key": "Owner", "Values": ["ThirdParty"]}]) == []
    assert names(ssm, Filters=[{"Key": "Owner", "Values": ["All"]}]) == names(ssm)
    code, message, _ = error(ssm.list_documents, Filters=[{"Key": "Owner", "Values": ["Amazon", "Self"]}])
    assert code == "ValidationException" and "one value" in message


def test_name_type_platform_keyword_and_tag_filters(ssm: Any) -> None:
    assert names(ssm, Filters=[{"Key": "Name", "Values": ["AWS-Run"]}]) == [
        "AWS-RunPatchBaseline", "AWS-RunPowerShellScript", "AWS-RunRemoteScript", "AWS-RunShellScript"]
    session = names(ssm, Filters=[{"Key": "DocumentType", "Values": ["Session"]}])
    assert "AWS-StartInteractiveCommand" in session and "AWS-RunShellScript" not in session
    automation = names(ssm, Filters=[{"Key": "DocumentType", "Values": ["Automation"]}])
    assert automation and all(n not in automation for n in REQUIRED)
    windows = names(ssm, Filters=[{"Key": "PlatformTypes", "Values": ["Windows"]},
                                  {"Key": "DocumentType", "Values": ["Command"]}])
    assert "AWS-RunPowerShellScript" in windows and "AWS-RunShellScript" not in windows
    assert CUSTOM not in windows
    assert names(ssm, Filters=[{"Key": "SearchKeyword", "Values": ["shellscript"]}]) == [
        "AWS-RunPowerShellScript", "AWS-RunShellScript"]
    assert names(ssm, Filters=[{"Key": "tag:team", "Values": ["ops"]}]) == [CUSTOM]
    assert names(ssm, Filters=[{"Key": "tag:team", "Values": ["dev"]}]) == []
    code, _, status = error(ssm.list_documents, Filters=[{"Key": "Colour", "Values": ["blue"]}])
    assert (code, status) == ("InvalidFilterKey", 400)


def test_legacy_document_filter_list(ssm: Any) -> None:
    legacy = names(ssm, DocumentFilterList=[{"key": "Owner", "value": "Amazon"},
                                            {"key": "PlatformTypes", "value": "Linux"},
                                            {"key": "DocumentType", "value": "Command"}])
    assert "AWS-RunShellScript" in legacy and CUSTOM not in legacy
    assert "AWS-StartInteractiveCommand" not in legacy
    assert names(ssm, DocumentFilterList=[{"key": "Name", "value": "AWS-UpdateSSM"}]) == ["AWS-UpdateSSMAgent"]


# ----------------------------------------------------------------------------- Describe/GetDocument


def test_describe_aws_owned_document(ssm: Any) -> None:
    doc = ssm.describe_document(Name="AWS-RunShellScript")["Document"]
    params = {p["Name"]: p for p in doc["Parameters"]}
    assert list(params) == ["commands", "workingDirectory", "executionTimeout"]
    assert params["commands"]["Type"] == "StringList" and "DefaultValue" not in params["commands"]
    assert params["executionTimeout"]["DefaultValue"] == "3600"
    assert params["workingDirectory"]["DefaultValue"] == ""
    assert (doc["Owner"], doc["Status"], doc["HashType"], doc["SchemaVersion"]) == ("Amazon", "Active", "Sha256", "1.2")
    assert doc["LatestVersion"] == doc["DefaultVersion"] == doc["DocumentVersion"] == "1"
    assert doc["Description"] == "Run a shell script or specify the commands to run."
    content = ssm.get_document(Name="AWS-RunShellScript")["Content"]
    assert doc["Hash"] == hashlib.sha256(content.encode()).hexdigest()
    # by ARN and by explicit version, as AWS accepts
    arn = f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript"
    assert ssm.describe_document(Name=arn, DocumentVersion="$LATEST")["Document"]["Hash"] == doc["Hash"]
    assert ssm.describe_document(Name="AWS-RunShellScript", DocumentVersion="1")["Document"]["Name"] == "AWS-RunShellScript"
    code, _, status = error(ssm.describe_document, Name="AWS-RunShellScript", DocumentVersion="7")
    assert (code, status) == ("InvalidDocumentVersion", 400)


def test_required_documents_have_their_schemas(ssm: Any) -> None:
    def params(name: str) -> dict[str, dict[str, Any]]:
        return {p["Name"]: p for p in ssm.describe_document(Name=name)["Document"].get("Parameters", [])}

    assert set(params("AWS-RunPowerShellScript")) == {"commands", "workingDirectory", "executionTimeout"}
    package = params("AWS-ConfigureAWSPackage")
    assert set(package) == {"action", "installationType", "name", "version", "additionalArguments"}
    assert package["installationType"]["DefaultValue"] == "Uninstall and reinstall"
    assert package["additionalArguments"] == {**package["additionalArguments"], "Type": "StringMap", "DefaultValue": "{}"}
    agent = params("AmazonCloudWatch-ManageAgent")
    assert set(agent) == {"action", "mode", "optionalConfigurationSource", "optionalConfigurationLocation",
                          "optionalRestart"}
    assert (agent["action"]["DefaultValue"], agent["mode"]["DefaultValue"]) == ("configure", "ec2")
    inventory = params("AWS-GatherSoftwareInventory")
    assert {"applications", "awsComponents", "files", "networkConfig", "windowsUpdates",
            "instanceDetailedInformation", "services", "windowsRoles", "customInventory", "billingInfo"} <= set(inventory)
    assert inventory["applications"]["DefaultValue"] == "Enabled"
    update = params("AWS-UpdateSSMAgent")
    assert set(update) == {"version", "allowDowngrade"} and update["allowDowngrade"]["DefaultValue"] == "false"
    # every listed document describes and its content parses
    for name in names(ssm, Filters=[{"Key": "Owner", "Values": ["Amazon"]}]):
        doc = ssm.describe_document(Name=name)["Document"]
        content = json.loads(ssm.get_document(Name=name)["Content"])
        assert str(content["schemaVersion"]) == doc["SchemaVersion"] and doc["PlatformTypes"]


def test_get_document_json_and_yaml(ssm: Any) -> None:
    as_json = ssm.get_document(Name="AWS-ConfigureAWSPackage")
    assert (as_json["DocumentFormat"], as_json["DocumentType"], as_json["Status"]) == ("JSON", "Command", "Active")
    assert as_json["DocumentVersion"] == "1" and as_json["CreatedDate"].year == 2017
    parsed = json.loads(as_json["Content"])
    assert parsed["mainSteps"][0]["action"] == "aws:configurePackage"
    as_yaml = ssm.get_document(Name="AWS-ConfigureAWSPackage", DocumentFormat="YAML")
    assert as_yaml["DocumentFormat"] == "YAML"
    assert yaml.safe_load(as_yaml["Content"]) == parsed
    shell = json.loads(ssm.get_document(Name="AWS-RunShellScript", DocumentVersion="$DEFAULT")["Content"])
    props = shell["runtimeConfig"]["aws:runShellScript"]["properties"][0]
    assert props == {"id": "0.aws:runShellScript", "runCommand": "{{ commands }}",
                     "workingDirectory": "{{ workingDirectory }}", "timeoutSeconds": "{{ executionTimeout }}"}


def test_unknown_document_is_invalid_document(ssm: Any) -> None:
    for call in (ssm.describe_document, ssm.get_document):
        code, message, status = error(call, Name="AWS-DoesNotExist")
        assert (code, status) == ("InvalidDocument", 400)
        assert message == "Document with name AWS-DoesNotExist does not exist."


def test_created_document_answers_like_moto_with_real_platforms(ssm: Any, account: str) -> None:
    doc = ssm.describe_document(Name=CUSTOM)["Document"]
    assert doc["PlatformTypes"] == ["Linux", "MacOS"] and doc["Owner"] == account
    assert doc["Parameters"] == [{"Name": "service", "Type": "String", "Description": "Unit to restart",
                                  "DefaultValue": "app"}]
    got = ssm.get_document(Name=CUSTOM, DocumentFormat="YAML")
    assert yaml.safe_load(got["Content"]) == CUSTOM_CONTENT and got["CreatedDate"]
    arn = f"arn:aws:ssm:{REGION}:{account}:document/{CUSTOM}"
    assert ssm.describe_document(Name=arn)["Document"]["Name"] == CUSTOM


# ------------------------------------------------------------------------------ the executor contract


def test_find_document_and_platforms(ssm: Any, account: str) -> None:
    shell = find_document(account, REGION, "AWS-RunShellScript")
    assert shell is not None and shell["schemaVersion"] == "1.2"
    shell["parameters"].clear()  # a private copy: mutating it changes nothing for the next caller
    assert find_document(account, REGION, "AWS-RunShellScript")["parameters"]  # type: ignore[index]
    assert find_document(account, REGION, f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript") is not None
    assert find_document(account, REGION, "AWS-RunShellScript", "$LATEST") is not None
    assert find_document(account, REGION, "AWS-RunShellScript", "2") is None
    assert find_document(account, REGION, CUSTOM) == CUSTOM_CONTENT
    assert find_document(account, REGION, "nope") is None
    assert document_platforms(account, REGION, "AWS-RunShellScript") == ["Linux", "MacOS"]
    assert document_platforms(account, REGION, "AWS-RunPowerShellScript") == ["Windows", "Linux", "MacOS"]
    assert document_platforms(account, REGION, CUSTOM) == ["Linux", "MacOS"]
    assert document_platforms(account, REGION, "nope") == []
    params = document_parameters(account, REGION, "AWS-RunShellScript")
    assert params is not None and params["executionTimeout"]["default"] == "3600"
    assert "default" not in params["commands"]
    assert document_parameters(account, REGION, "nope") is None


def test_derive_platforms() -> None:
    derive = documents.derive_platforms
    assert derive({"runtimeConfig": {"aws:runPowerShellScript": {}}}) == ("Windows", "Linux", "MacOS")
    assert derive({"mainSteps": [{"action": "aws:runShellScript", "precondition":
                                  {"StringEquals": ["platformType", "Linux"]}}]}) == ("Linux",)
    assert derive({"mainSteps": [{"action": "aws:runShellScript", "precondition":
                                  {"StringEquals": ["platformType", "Windows"]}}]}) == ()
    assert derive({"mainSteps": [{"action": "aws:psModule"}, {"action": "aws:runShellScript"}]}) == (
        "Windows", "Linux", "MacOS")
    assert derive({"sessionType": "Standard_Stream"}) == ("Windows", "Linux", "MacOS")
