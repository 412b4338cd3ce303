"""The contract check itself: it must catch what AWS would never send, and pass what AWS does send."""

from __future__ import annotations

import base64
import json

from opstui.sandbox.recorder import RECORD_ENV, Recorder
from tests.contract import check_record


def _record(service: str, operation: str, protocol: str, body: dict) -> dict:
    return {"service": service, "operation": operation, "protocol": protocol, "status": 200,
            "headers": {"Content-Type": "application/x-amz-json-1.1"},
            "body": base64.b64encode(json.dumps(body).encode()).decode()}


def _problems(body: dict, operation: str = "ListCommandInvocations") -> list[str]:
    return [v.problem for v in check_record(_record("ssm", operation, "json", body))]


def test_a_faithful_invocation_passes() -> None:
    body = {"CommandInvocations": [{"CommandId": "0b7c6a2e-1f2d-4e5a-9b8c-7d6e5f4a3b2c",
                                    "InstanceId": "i-0123456789abcdef0", "Status": "Success",
                                    "NotificationConfig": {"NotificationType": ""}}]}
    assert _problems(body) == []


def test_a_value_outside_the_enum_is_caught() -> None:
    body = {"CommandInvocations": [{"Status": "Finished"}]}
    assert any("'Finished' is not one of" in p for p in _problems(body))


def test_an_instance_id_of_the_wrong_length_is_caught() -> None:
    body = {"CommandInvocations": [{"InstanceId": "i-1234"}]}
    assert any("format for InstanceId" in p for p in _problems(body))


def test_a_command_id_that_is_not_a_uuid_is_caught() -> None:
    body = {"CommandInvocations": [{"CommandId": "cmd-1"}]}
    assert any("format for CommandId" in p for p in _problems(body))


def test_a_missing_required_member_is_caught() -> None:
    # DescribeInstanceInformation's InstanceAggregatedAssociationOverview has no required member, so use a
    # shape that has: GetParameter's Parameter needs nothing either; AssociationStatus needs Date/Name/Message
    body = {"AssociationDescription": {"Status": {"Name": "Success"}}}
    problems = _problems(body, "DescribeAssociation")
    assert "required member missing" in problems


def test_what_aws_itself_sends_outside_its_model_passes() -> None:
    body = {"AssociationDescription": {"Status": {"Date": 1.0, "Name": "Associated",
                                                  "Message": "Associated with AWS-UpdateSSMAgent"}}}
    assert _problems(body, "DescribeAssociation") == []


def test_a_wrong_type_is_caught() -> None:
    body = {"InstanceInformationList": [{"IsLatestVersion": "yes"}]}
    problems = _problems(body, "DescribeInstanceInformation")
    assert any("expected a boolean" in p for p in problems)


def test_recording_is_off_unless_asked(monkeypatch) -> None:
    monkeypatch.delenv(RECORD_ENV, raising=False)
    assert Recorder.from_environment() is None
    monkeypatch.setenv(RECORD_ENV, "/tmp/x.jsonl")
    assert Recorder.from_environment() is not None
