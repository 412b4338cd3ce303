"""SNS: the topics alarms notify, their subscriptions, and a test message to prove the path works.

Endpoints are checked before Subscribe is sent (`endpoint_problem`): an e-mail address, an http(s) URL or an
E.164 phone number, as AWS wants them. Subscribing, creating a topic and publishing are mutating calls, so
the read-only guard of `opstui.aws.clients` refuses them before anything is sent.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from opstui.aws.clients import AwsClients
from opstui.aws.monitoring_models import Subscription, Topic

PROTOCOLS = ("email", "email-json", "http", "https", "sms")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MESSAGE_LIMIT = 256 * 1024  # bytes, Publish's limit


async def list_topics(aws: AwsClients, region: str) -> list[Topic]:
    topics: list[Topic] = []
    async for page in aws.paginate("sns", region, "list_topics", "Topics"):
        topics.extend(Topic(str(t.get("TopicArn", "")), region) for t in page)
    return sorted(topics, key=lambda t: t.name.lower())


async def list_subscriptions(aws: AwsClients, region: str, topic_arn: str | None = None) -> list[Subscription]:
    """Every subscription of the region (one paged ListSubscriptions), or of one topic."""
    if topic_arn:
        pages = aws.paginate("sns", region, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn)
    else:
        pages = aws.paginate("sns", region, "list_subscriptions", "Subscriptions")
    subs: list[Subscription] = []
    async for page in pages:
        subs.extend(Subscription(str(s.get("SubscriptionArn", "")), str(s.get("TopicArn", "")),
                                 str(s.get("Protocol", "")), str(s.get("Endpoint", "")), region) for s in page)
    return subs


def topic_name_problem(name: str) -> str | None:
    if not _TOPIC_NAME.match(name.strip()):
        return "topic name: 1 to 256 letters, digits, - or _"
    return None


async def create_topic(aws: AwsClients, region: str, name: str) -> Topic:
    problem = topic_name_problem(name)
    if problem:
        raise ValueError(problem)
    answer = await aws.call("sns", region, "create_topic", Name=name.strip())
    return Topic(str(answer.get("TopicArn", "")), region)


def endpoint_problem(protocol: str, endpoint: str) -> str | None:
    """What is wrong with an endpoint for a protocol, in words for the form; None when it is fine."""
    value = endpoint.strip()
    if protocol not in PROTOCOLS:
        return f"protocol: one of {', '.join(PROTOCOLS)}"
    if not value:
        return "endpoint: required"
    if protocol.startswith("email"):
        return None if _EMAIL.match(value) else f"email: {value!r} is not an e-mail address"
    if protocol in ("http", "https"):
        url = urlparse(value)
        if url.scheme != protocol or not url.netloc:
            return f"{protocol}: the endpoint must be a URL starting with {protocol}://"
        return None
    return None if _E164.match(value) else "sms: a phone number in E.164 form, e.g. +81901234567"


async def subscribe(aws: AwsClients, region: str, topic_arn: str, protocol: str, endpoint: str) -> str:
    """Subscribe an endpoint; returns the subscription ARN ("pending confirmation" for e-mail/http until
    the endpoint confirms)."""
    problem = endpoint_problem(protocol, endpoint)
    if problem:
        raise ValueError(problem)
    answer = await aws.call("sns", region, "subscribe", TopicArn=topic_arn, Protocol=protocol,
                            Endpoint=endpoint.strip(), ReturnSubscriptionArn=True)
    return str(answer.get("SubscriptionArn", ""))


async def unsubscribe(aws: AwsClients, region: str, subscription_arn: str) -> None:
    await aws.call("sns", region, "unsubscribe", SubscriptionArn=subscription_arn)


async def publish(aws: AwsClients, region: str, topic_arn: str, message: str, subject: str = "") -> str:
    """Send a message to every subscriber of the topic; returns the MessageId."""
    if not message.strip():
        raise ValueError("message: required")
    if len(message.encode()) > MESSAGE_LIMIT:
        raise ValueError("message: at most 256 KB")
    params = {"TopicArn": topic_arn, "Message": message}
    if subject.strip():
        params["Subject"] = subject.strip()[:99]
    answer = await aws.call("sns", region, "publish", **params)
    return str(answer.get("MessageId", ""))
