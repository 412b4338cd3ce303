"""SNS email and email-json subscriptions wait for their address to confirm, as on AWS.

https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html (``"pending confirmation"``,
ReturnSubscriptionArn), https://docs.aws.amazon.com/sns/latest/api/API_ConfirmSubscription.html.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory
from tests.sandbox_control import SandboxControl


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(scenario="default", live=False, seed=42)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def sns(sb: Sandbox) -> Any:
    return make_client_factory(sb)("sns")


@pytest.fixture(scope="module")
def ctl(sb: Sandbox) -> SandboxControl:
    return SandboxControl.of(sb)


def _outbox(ctl: SandboxControl, endpoint: str) -> list[dict[str, Any]]:
    return [d for d in ctl._send("GET", "sns-outbox")["deliveries"] if d["endpoint"] == endpoint]


def _rows(sns: Any, topic: str) -> dict[str, dict[str, Any]]:
    return {s["Endpoint"]: s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}


def test_email_subscription_is_pending_until_confirmed(sns: Any, ctl: SandboxControl) -> None:
    topic = sns.create_topic(Name="confirm-email")["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="new-person@example.com")
    assert answer["SubscriptionArn"] == "pending confirmation"
    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="new-person@example.com",
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    assert _rows(sns, topic)["new-person@example.com"]["SubscriptionArn"] == "PendingConfirmation"
    listed = [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == topic]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"

    # the confirmation went to the address (twice: subscribing again while pending resends it), nothing else
    sns.publish(TopicArn=topic, Message="before confirmation")
    mails = _outbox(ctl, "new-person@example.com")
    assert [m["kind"] for m in mails] == ["confirmation", "confirmation"]
    mail = mails[-1]
    assert mail["subject"] == "AWS Notification - Subscription Confirmation"
    assert topic in mail["body"] and "Confirm subscription" in mail["body"]
    assert f"Token={mail['token']}" in mail["body"] and mail["token"] == mails[0]["token"]

    with pytest.raises(ClientError) as err:
        sns.confirm_subscription(TopicArn=topic, Token="0" * 128)
    assert err.value.response["Error"]["Code"] == "InvalidParameter"
    other = sns.create_topic(Name="confirm-other")["TopicArn"]
    with pytest.raises(ClientError) as err:
        sns.confirm_subscription(TopicArn=other, Token=mail["token"])  # a token belongs to its topic
    assert err.value.response["Error"]["Code"] == "InvalidParameter"

    assert sns.confirm_subscription(TopicArn=topic, Token=mail["token"])["SubscriptionArn"] == arn
    assert _rows(sns, topic)["new-person@example.com"]["SubscriptionArn"] == arn
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic, Message="after confirmation", Subject="hello")
    delivered = [m for m in _outbox(ctl, "new-person@example.com") if m["kind"] == "notification"]
    assert [m["message"] for m in delivered] == ["after confirmation"]


def test_email_json_confirmation_carries_token_and_subscribe_url(sns: Any, ctl: SandboxControl) -> None:
    topic = sns.create_topic(Name="confirm-json")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="robot@example.com")
    (mail,) = _outbox(ctl, "robot@example.com")
    body = json.loads(mail["body"])
    assert body["Type"] == "SubscriptionConfirmation" and body["TopicArn"] == topic
    assert body["Token"] == mail["token"]
    assert body["SubscribeURL"].endswith(f"?Action=ConfirmSubscription&TopicArn={topic}&Token={mail['token']}")
    assert _rows(sns, topic)["robot@example.com"]["SubscriptionArn"] == "PendingConfirmation"
    sns.confirm_subscription(TopicArn=topic, Token=body["Token"])
    sns.publish(TopicArn=topic, Message="now")
    assert [m["kind"] for m in _outbox(ctl, "robot@example.com")] == ["confirmation", "notification"]


def test_seeded_oncall_subscription_was_confirmed_long_ago(sns: Any, ctl: SandboxControl) -> None:
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":ops-alerts"))
    row = _rows(sns, topic)["oncall@example.com"]
    assert row["SubscriptionArn"].startswith(topic + ":")
    # no confirmation mail, ever (an alarm of the living sandbox may have notified it meanwhile: that is fine)
    before = _outbox(ctl, "oncall@example.com")
    assert all(m["kind"] == "notification" for m in before)
    sns.publish(TopicArn=topic, Message="demo alarm")
    after = _outbox(ctl, "oncall@example.com")
    new = after[len(before):]
    # ours, and maybe an alarm of the living sandbox that fired at the same moment: notifications all
    assert new and all(m["kind"] == "notification" for m in new), new
    assert any("demo alarm" in str(m) for m in new), new
    assert all(m["kind"] == "notification" for m in after)
