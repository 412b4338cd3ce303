"""SNS deliveries for the sandbox: http(s) on loopback in the background, email/SMS into an outbox.

Why: moto posts to http subscribers inside Publish, synchronously, so a slow subscriber slows Publish and an
unreachable one makes Publish fail with a 500 (real SNS accepts the message and retries delivery on its own).
It also signs each message with a freshly built certificate (milliseconds per message). Here:

* **http/https**: Publish enqueues; one delivery thread POSTs AWS's JSON envelope (``Type: Notification``,
  ``MessageId``, ``TopicArn``, ``Subject`` when given, ``Message``, ``Timestamp``, ``SignatureVersion`` "1",
  ``Signature`` (a placeholder: nothing here can be verified against a real AWS certificate),
  ``SigningCertURL``, ``UnsubscribeURL``, ``MessageAttributes`` when given) with SNS's headers
  (``x-amz-sns-message-type``, ``x-amz-sns-message-id``, ``x-amz-sns-topic-arn``,
  ``x-amz-sns-subscription-arn``, ``Content-Type: text/plain; charset=UTF-8``); ``RawMessageDelivery`` posts the
  message itself. Only loopback hosts are contacted (the sandbox never reaches the network): another host is
  recorded as failed. A failed attempt (connection refused, timeout, non-2xx) is retried 3 times with backoff
  (1, 2, 4 s x ``retry_scale``), like SNS's default HTTP delivery policy in spirit. Publish never fails because
  of a subscriber.
* **email / email-json / sms** (and Publish with ``PhoneNumber``): recorded in the outbox (email and email-json
  only once confirmed, see below). ``email`` records the
  plain-text body SNS mails (the message, then the unsubscribe footer); ``email-json`` the JSON envelope.
* **Outbox** (the last 1,000 deliveries, every protocol above, newest last): ``GET /_opstui/sns-outbox``
  (``?protocol=email``) -> ``{"deliveries": [{"id", "time", "protocol", "endpoint", "topic_arn",
  "subscription_arn", "message_id", "subject", "message", "body", "status" ("recorded" | "pending" |
  "delivered" | "failed"), "attempts", "http_status", "error", "kind" ("notification" | "confirmation"; a
  confirmation also has "token" and "subscribe_url")}]}``; ``DELETE`` clears it.
* **Inbox**: ``POST /_opstui/sns-inbox/<secret>`` is a loopback http subscriber built into the sandbox (the seeded
  ``ops-alerts`` topic subscribes it); ``GET /_opstui/sns-inbox`` lists what it received (headers + JSON body).

Confirmation (email and email-json), as AWS does it
(https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html,
https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html,
https://docs.aws.amazon.com/sns/latest/api/API_ConfirmSubscription.html): a new email or email-json
subscription is *pending*. Subscribe answers ``SubscriptionArn: "pending confirmation"`` (its real ARN only with
``ReturnSubscriptionArn=true``), ListSubscriptions and ListSubscriptionsByTopic show ``"PendingConfirmation"``
as its ARN, GetSubscriptionAttributes ``PendingConfirmation: "true"``, and nothing published reaches it. The
confirmation goes to the address, i.e. into the outbox (``"kind": "confirmation"``): for ``email`` the mail
"AWS Notification - Subscription Confirmation" with the "Confirm subscription" link
(``https://sns.<region>.amazonaws.com/confirmation.html?TopicArn=...&Token=...&Endpoint=...``), for ``email-json``
the JSON message ``Type: SubscriptionConfirmation`` with ``Token`` and ``SubscribeURL``
(``...?Action=ConfirmSubscription&TopicArn=...&Token=...``); the entry also carries ``token`` and
``subscribe_url``. Subscribing the same address again while pending sends the confirmation again (same token).
``ConfirmSubscription(TopicArn, Token)`` with that token confirms it (``ConfirmationWasAuthenticated`` true:
every sandbox request is signed, even this one, which AWS would also take unsigned from the link); a token
of another topic or none at all is ``InvalidParameter``, an unknown topic ``NotFound``.
:func:`subscribe_confirmed` is for seeding a subscription a person confirmed long ago.
Other protocols (http/https, sms, sqs, ...) stay confirmed at once, as moto has them: AWS sends http(s)
endpoints a SubscriptionConfirmation POST too (a sandbox approximation, listed in the README).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import itertools
import json
import queue
import re
import secrets
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from moto.core.responses import ActionResult
from moto.sns.exceptions import SNSInvalidParameter, TopicNotFound
from moto.sns.models import SNSBackend, Subscription, sns_backends
from moto.sns.responses import SNSResponse

from . import clock
from .extension import ControlRequest, Extension, Handler

if TYPE_CHECKING:
    from .server import Sandbox

OUTBOX_LIMIT = 1000
RETRIES = 3
TIMEOUT_SECONDS = 5.0
_PROTOCOLS = ("http", "https", "email", "email-json", "sms")
CONFIRMED_BY_ADDRESS = ("email", "email-json")  # protocols whose subscriptions wait for the address to confirm
CONFIRMATION_SUBJECT = "AWS Notification - Subscription Confirmation"

_lock = threading.Lock()
_outbox: deque[dict[str, Any]] = deque(maxlen=OUTBOX_LIMIT)
_inbox: deque[dict[str, Any]] = deque(maxlen=OUTBOX_LIMIT)
_ids = itertools.count(1)
_queue: queue.Queue[tuple[float, dict[str, Any]] | None] = queue.Queue()
_thread: threading.Thread | None = None
#: confirmation token -> (account, region, subscription ARN), for ConfirmSubscription
_tokens: dict[str, tuple[str, str, str]] = {}
settings: dict[str, float] = {"retry_scale": 1.0}


def _timestamp() -> str:
    now = clock.now()
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else "us-east-1"


def envelope(sub: Subscription, message: str, message_id: str, subject: str | None,
             message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    region = _region_of(sub.topic.arn)
    signature = base64.b64encode(hashlib.sha256(f"{message_id}{message}".encode()).digest() * 8).decode()
    data: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": sub.topic.arn,
    }
    if subject:
        data["Subject"] = subject
    data.update({
        "Message": message,
        "Timestamp": _timestamp(),
        "SignatureVersion": "1",
        "Signature": signature,
        "SigningCertURL": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-opstui-sandbox.pem",
        "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={sub.arn}",
    })
    if message_attributes:
        data["MessageAttributes"] = {k: {"Type": v.get("Type") or v.get("DataType"),
                                         "Value": v.get("Value") or v.get("StringValue")}
                                     for k, v in message_attributes.items()}
    return data


def _entry(protocol: str, endpoint: str, topic_arn: str | None, subscription_arn: str | None, message_id: str,
           subject: str | None, message: str, body: str, status: str) -> dict[str, Any]:
    entry = {"id": next(_ids), "time": _timestamp(), "protocol": protocol, "endpoint": endpoint,
             "topic_arn": topic_arn, "subscription_arn": subscription_arn, "message_id": message_id,
             "subject": subject, "message": message, "body": body, "status": status, "attempts": 0,
             "http_status": None, "error": None, "kind": "notification"}
    with _lock:
        _outbox.append(entry)
    return entry


def _email_body(sub: Subscription, message: str) -> str:
    region = _region_of(sub.topic.arn)
    return (f"{message}\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit "
            f"the link below to unsubscribe:\nhttps://sns.{region}.amazonaws.com/unsubscribe.html?SubscriptionArn="
            f"{sub.arn}&Endpoint={sub.endpoint}\n\nPlease do not reply directly to this email. If you have any "
            "questions or comments regarding this email, please contact us at https://aws.amazon.com/support")


def _publish(sub: Subscription, message: str, message_id: str, subject: str | None = None,
             message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
             deduplication_id: str | None = None, message_structure: str | None = None) -> None:
    if sub.protocol not in _PROTOCOLS:
        _original_publish(sub, message, message_id, subject=subject, message_attributes=message_attributes,
                          group_id=group_id, deduplication_id=deduplication_id, message_structure=message_structure)
        return
    if pending(sub):
        return  # AWS delivers nothing to a subscription that has not been confirmed
    if sub._filter_policy_matcher is not None and not sub._filter_policy_matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = sub._parse_message_structure(message, sub.protocol)
    raw = str(sub.attributes.get("RawMessageDelivery", "false")).lower() == "true"
    env = envelope(sub, message, message_id, subject, message_attributes)
    if sub.protocol == "email":
        _entry("email", sub.endpoint, sub.topic.arn, sub.arn, message_id, subject or "AWS Notification Message",
               message, _email_body(sub, message), "recorded")
    elif sub.protocol == "email-json":
        _entry("email-json", sub.endpoint, sub.topic.arn, sub.arn, message_id, subject, message,
               json.dumps(env, ensure_ascii=False), "recorded")
    elif sub.protocol == "sms":
        _entry("sms", sub.endpoint, sub.topic.arn, sub.arn, message_id, None, message, message, "recorded")
    else:
        body = message if raw else json.dumps(env, ensure_ascii=False)
        entry = _entry(sub.protocol, sub.endpoint, sub.topic.arn, sub.arn, message_id, subject, message, body,
                       "pending")
        entry["_headers"] = {
            "x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": message_id,
            "x-amz-sns-topic-arn": sub.topic.arn, "x-amz-sns-subscription-arn": sub.arn,
            "Content-Type": "text/plain; charset=UTF-8", "User-Agent": "Amazon Simple Notification Service Agent"}
        if raw:
            entry["_headers"]["x-amz-sns-rawdelivery"] = "true"
        _ensure_thread()
        _queue.put((time.monotonic(), entry))


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _attempt(entry: dict[str, Any]) -> tuple[bool, bool]:
    """One POST. Returns (delivered, retry)."""
    url = urlsplit(entry["endpoint"])
    host = url.hostname or ""
    if not _is_loopback(host):
        entry["error"] = "the sandbox delivers only to loopback endpoints"
        return False, False
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    kwargs: dict[str, Any] = {"timeout": TIMEOUT_SECONDS}
    if url.scheme == "https":
        import ssl

        kwargs["context"] = ssl._create_unverified_context()  # loopback test servers use self-signed certs
    conn = conn_cls(host, url.port, **kwargs)
    try:
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        conn.request("POST", path, body=entry["body"].encode("utf-8"), headers=entry["_headers"])
        resp = conn.getresponse()
        resp.read()
        entry["http_status"] = resp.status
        if 200 <= resp.status < 300:
            return True, False
        entry["error"] = f"HTTP {resp.status}"
        return False, resp.status >= 500 or resp.status == 429
    except OSError as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return False, True
    finally:
        conn.close()


def _worker() -> None:
    waiting: list[tuple[float, dict[str, Any]]] = []
    while True:
        timeout = None
        if waiting:
            waiting.sort(key=lambda w: w[0])
            timeout = max(0.0, waiting[0][0] - time.monotonic())
        try:
            item = _queue.get(timeout=timeout)
            if item is None:
                return
            waiting.append(item)
        except queue.Empty:
            pass
        now = time.monotonic()
        due = [w for w in waiting if w[0] <= now]
        waiting = [w for w in waiting if w[0] > now]
        for _when, entry in due:
            entry["attempts"] += 1
            delivered, retry = _attempt(entry)
            if delivered:
                entry["status"] = "delivered"
                entry["error"] = None
            elif retry and entry["attempts"] <= RETRIES:
                delay = (2 ** (entry["attempts"] - 1)) * settings["retry_scale"]
                waiting.append((time.monotonic() + delay, entry))
            else:
                entry["status"] = "failed"


def _ensure_thread() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_worker, name="opstui-sandbox-sns", daemon=True)
            _thread.start()


def outbox(protocol: str | None = None) -> list[dict[str, Any]]:
    with _lock:
        items = list(_outbox)
    return [{k: v for k, v in e.items() if not k.startswith("_")} for e in items
            if protocol is None or e["protocol"] == protocol]


def receive(headers: dict[str, str], body: bytes) -> None:
    """The built-in loopback subscriber (``POST /_opstui/sns-inbox/<secret>``)."""
    try:
        payload: Any = json.loads(body or b"null")
    except ValueError:
        payload = body.decode("utf-8", "replace")
    with _lock:
        _inbox.append({"received": _timestamp(), "headers": headers, "body": payload})


def inbox() -> list[dict[str, Any]]:
    with _lock:
        return list(_inbox)


def clear() -> None:
    with _lock:
        _outbox.clear()
        _inbox.clear()
        _tokens.clear()
    settings["retry_scale"] = 1.0


_original_publish = Subscription.publish
_original_backend_publish = SNSBackend.publish


def _backend_publish(self: SNSBackend, message: str, arn: str | None, phone_number: str | None = None,
                     subject: str | None = None, **kwargs: Any) -> str:
    message_id = _original_backend_publish(self, message, arn, phone_number=phone_number, subject=subject, **kwargs)
    if phone_number:
        _entry("sms", phone_number, None, None, message_id, None, message, message, "recorded")
    return message_id


# ------------------------------------------------------------------------------------------------------------
# confirmation of email / email-json subscriptions


def pending(sub: Subscription) -> bool:
    """True while an email/email-json subscription waits for its address to confirm."""
    return bool(sub.__dict__.get("_opstui_pending", False))


def _confirmation_message(sub: Subscription, token: str) -> tuple[str, str, str]:
    """(subject, body, SubscribeURL) of the confirmation AWS sends for ``sub``."""
    topic_arn = sub.topic.arn
    region = _region_of(topic_arn)
    subscribe_url = (f"https://sns.{region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}"
                     f"&Token={token}")
    if sub.protocol == "email-json":
        text = (f"You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the "
                "SubscribeURL included in this message.")
        message_id = str(uuid.uuid4())
        body = json.dumps({
            "Type": "SubscriptionConfirmation", "MessageId": message_id, "Token": token, "TopicArn": topic_arn,
            "Message": text, "SubscribeURL": subscribe_url, "Timestamp": _timestamp(), "SignatureVersion": "1",
            "Signature": base64.b64encode(hashlib.sha256(f"{message_id}{token}".encode()).digest() * 8).decode(),
            "SigningCertURL": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-opstui-sandbox.pem",
        }, ensure_ascii=False)
        return CONFIRMATION_SUBJECT, body, subscribe_url
    link = (f"https://sns.{region}.amazonaws.com/confirmation.html?TopicArn={topic_arn}&Token={token}"
            f"&Endpoint={quote(sub.endpoint, safe='@')}")
    body = (f"You have chosen to subscribe to the topic: \n{topic_arn}\n\nTo confirm this subscription, click or "
            f"visit the link below (If this was in error no action is necessary): \nConfirm subscription: {link}"
            "\n\nPlease do not reply directly to this email. If you wish to remove yourself from receiving all "
            "future SNS subscription confirmation requests please send an email to sns-opt-out")
    return CONFIRMATION_SUBJECT, body, link


def _send_confirmation(sub: Subscription) -> None:
    token = sub.__dict__["_opstui_token"]
    subject, body, url = _confirmation_message(sub, token)
    entry = _entry(sub.protocol, sub.endpoint, sub.topic.arn, sub.arn, "", subject, "", body, "recorded")
    entry.update({"kind": "confirmation", "token": token, "subscribe_url": url})


def _mark_pending(sub: Subscription) -> None:
    account, region = sub.account_id, _region_of(sub.topic.arn)
    token = secrets.token_hex(64)  # AWS's tokens are long opaque hex strings
    sub.__dict__["_opstui_pending"] = True
    sub.__dict__["_opstui_token"] = token
    sub.confirmed = False
    sub.attributes["PendingConfirmation"] = "true"
    sub.attributes["ConfirmationWasAuthenticated"] = "false"
    with _lock:
        _tokens[token] = (account, region, sub.arn)


def _confirm(sub: Subscription, authenticated: bool) -> None:
    sub.__dict__["_opstui_pending"] = False
    sub.confirmed = True
    sub.attributes["PendingConfirmation"] = "false"
    sub.attributes["ConfirmationWasAuthenticated"] = "true" if authenticated else "false"


_original_subscribe = SNSBackend.subscribe


def _subscribe(self: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
    known = self._find_subscription(topic_arn, endpoint, protocol)
    sub = _original_subscribe(self, topic_arn, endpoint, protocol)
    if protocol in CONFIRMED_BY_ADDRESS:
        if known is None:
            _mark_pending(sub)
        if pending(sub):
            _send_confirmation(sub)  # a repeated Subscribe while pending sends the confirmation again
    return sub


def subscribe_confirmed(backend: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
    """Seeding: a subscription its address confirmed long ago (clicking the link: not authenticated), without
    a confirmation message in the outbox."""
    sub = _original_subscribe(backend, topic_arn, endpoint, protocol)
    if protocol in CONFIRMED_BY_ADDRESS:
        _confirm(sub, authenticated=False)
    return sub


def _subscription_row(sub: Subscription) -> dict[str, str]:
    return {"SubscriptionArn": "PendingConfirmation" if pending(sub) else sub.arn, "Owner": sub.owner,
            "Protocol": sub.protocol, "Endpoint": sub.endpoint, "TopicArn": sub.topic.arn}


def _response_subscribe(self: Any) -> ActionResult:
    result = _original_response_subscribe(self)
    body = result.result if isinstance(result, ActionResult) else None
    arn = body.get("SubscriptionArn") if isinstance(body, dict) else None
    sub = self.backend.subscriptions.get(arn) if arn else None
    wants_arn = str(self._get_param("ReturnSubscriptionArn") or "false").lower() == "true"
    if sub is not None and pending(sub) and not wants_arn:
        return ActionResult({"SubscriptionArn": "pending confirmation"})
    return result


def _response_list_subscriptions(self: Any) -> ActionResult:
    subs, next_token = self.backend.list_subscriptions(next_token=self._get_param("NextToken"))
    return ActionResult({"Subscriptions": [_subscription_row(s) for s in subs], "NextToken": next_token})


def _response_list_subscriptions_by_topic(self: Any) -> ActionResult:
    subs, next_token = self.backend.list_subscriptions_by_topic(self._get_param("TopicArn"),
                                                                next_token=self._get_param("NextToken"))
    return ActionResult({"Subscriptions": [_subscription_row(s) for s in subs], "NextToken": next_token})


def _response_confirm_subscription(self: Any) -> ActionResult:
    topic_arn = self._get_param("TopicArn")
    token = self._get_param("Token") or ""
    backend = sns_backends[self.current_account][self.region]
    if topic_arn not in backend.topics:
        raise TopicNotFound
    with _lock:
        found = _tokens.get(token)
    sub = backend.subscriptions.get(found[2]) if found and found[:2] == (self.current_account, self.region) else None
    if sub is None or sub.topic.arn != topic_arn:
        raise SNSInvalidParameter("Invalid parameter: Token")
    if pending(sub):
        _confirm(sub, authenticated=True)
    return ActionResult({"SubscriptionArn": sub.arn})


_original_response_subscribe = SNSResponse.subscribe
_original_get_topic = SNSBackend.get_topic
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def _get_topic(self: SNSBackend, arn: str) -> Any:
    """A TopicArn that is not an SNS topic ARN is ``InvalidParameter`` "Invalid parameter: TopicArn" (400), as
    AWS answers it (https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html, and the InvalidParameter error
    of Publish, Subscribe and ListSubscriptionsByTopic), not moto's 500 from an ARN it cannot split."""
    if not isinstance(arn, str) or not _TOPIC_ARN.match(arn):
        raise SNSInvalidParameter("Invalid parameter: TopicArn")
    return _original_get_topic(self, arn)


# ------------------------------------------------------------------------------------------------------------
# the extension


class SnsDelivery(Extension):
    """SNS deliveries to the outbox and to http endpoints, and the built-in inbox; empty for each run.

    Control: ``POST /_opstui/sns`` knobs (``retry_scale``) -> ``{"settings": ...}``; ``GET
    /_opstui/sns-outbox[?protocol=email]`` -> ``{"deliveries": [...]}``, ``DELETE`` empties the outbox and the
    inbox; ``GET /_opstui/sns-inbox`` -> ``{"received": [...]}`` (what the loopback subscriber got).
    """

    name = "sns"

    def patch(self) -> None:
        Subscription.publish = _publish  # type: ignore[method-assign]
        SNSBackend.publish = _backend_publish  # type: ignore[method-assign]
        SNSBackend.subscribe = _subscribe  # type: ignore[method-assign]
        SNSBackend.get_topic = _get_topic  # type: ignore[method-assign]
        SNSResponse.subscribe = _response_subscribe  # type: ignore[method-assign]
        SNSResponse.list_subscriptions = _response_list_subscriptions  # type: ignore[method-assign]
        SNSResponse.list_subscriptions_by_topic = _response_list_subscriptions_by_topic  # type: ignore
        SNSResponse.confirm_subscription = _response_confirm_subscription  # type: ignore[method-assign]

    def prepare(self, sandbox: Sandbox) -> None:
        clear()

    def configure(self, **knobs: Any) -> dict[str, dict[str, float]]:
        unknown = set(knobs) - set(settings)
        if unknown:
            raise ValueError(f"unknown sns knob(s) {sorted(unknown)}; known: {sorted(settings)}")
        for key, value in knobs.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            settings[key] = float(value)
        return {"settings": dict(settings)}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("GET", "sns-outbox"): self._outbox, ("DELETE", "sns-outbox"): self._empty,
                ("GET", "sns-inbox"): lambda _request: {"received": inbox()}}

    def _outbox(self, request: ControlRequest) -> dict[str, list[dict[str, Any]]]:
        return {"deliveries": outbox((request.query.get("protocol") or [None])[0])}

    def _empty(self, _request: ControlRequest) -> dict[str, bool]:
        clear()
        return {"cleared": True}


EXTENSION = SnsDelivery()
