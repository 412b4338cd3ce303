"""SSM managed nodes: a registry plus DescribeInstanceInformation, which moto lacks.

moto 5.2.5 has no notion of managed nodes (no PingStatus, no agent versions), and
DescribeInstanceInformation answers HTTP 500. This module keeps a per-(account, region)
registry of :class:`ManagedNode` and installs ``describe_instance_information`` on moto's
``SimpleSystemManagerResponse`` (technique B: moto looks response methods up per request).

Consistency rules, chosen to match what AWS shows:

* An EC2-backed node reads its tags from the EC2 backend at request time, so CreateTags via
  EC2 is visible to ``tag:`` filters at once.
* An EC2-backed node whose instance is not ``running`` reports ``ConnectionLost`` (the agent
  stopped pinging), whatever the registry says; a terminated instance's node disappears.
* Hybrid (``mi-``) nodes keep their tags in moto's SSM resource-tag store, so
  AddTagsToResource / ListTagsForResource with ResourceType ManagedInstance work.

Paging and refusals of DescribeInstanceInformation, as AWS answers them:

* ``MaxResults`` 5-50; without it a page holds 10 nodes and a NextToken follows when there are more ("The
  default value is 10 items", the MaxResults documentation in botocore's SSM model /
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html).
* ``Filters`` together with ``InstanceInformationFilterList``: "Attempting to use InstanceInformationFilterList
  and Filters leads to an exception error" (API reference) -> ``ValidationException``.
* A ``tag:``/``tag-key`` filter next to a filter of another key: "Tag filters can't be combined with other filter
  types" (API reference) -> ``ValidationException`` "Cannot mix tag or inventory filter with any other filter."
  (the message AWS answers, https://github.com/danmx/sigil/issues/61).
* ``ResourceType`` takes one value, EC2Instance or ManagedInstance -> else ``InvalidInstanceInformationFilterValue``
  "ResourceType filter may contain only one value." / "ResourceType filter is invalid, valid values are
  EC2Instance, ManagedInstance" (https://github.com/boto/boto3/issues/3027, https://github.com/aws/aws-sdk/issues/130).
* A NextToken the service did not issue (or issued for other filters) -> ``InvalidNextToken`` (the operation's
  documented error; the sandbox used to answer ValidationException).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ec2.models import ec2_backends
from moto.ssm import models as ssm_models
from moto.ssm.exceptions import InvalidFilterKey, ValidationException
from moto.ssm.models import ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from .ec2_fast import instance_index
from .extension import ControlRequest, Extension, Handler, attach

PING_STATUSES = ("Online", "ConnectionLost", "Inactive")
#: The agent's health ping (UpdateInstanceInformation) interval: aws/amazon-ssm-agent
#: ``agent/appconfig/constants.go`` ``DefaultSsmHealthFrequencyMinutes = 5``. An Online node's LastPingDateTime is
#: never older than this; a ConnectionLost node's always is (it missed at least one ping). AWS does not publish
#: when exactly the service flips a node to ConnectionLost; the sandbox backdates a lost node's last ping by
#: LOST_AFTER (one interval plus a minute's grace) when it loses its connection.
PING_INTERVAL = dt.timedelta(minutes=5)
LOST_AFTER = PING_INTERVAL + dt.timedelta(minutes=1)
#: DescribeInstanceInformation's page size when the request has no MaxResults
DEFAULT_PAGE_SIZE = 10
_TOKEN_ERROR = "The specified token isn't valid."


@dataclass
class ManagedNode:
    """One row of DescribeInstanceInformation, minus what is derived at request time."""

    instance_id: str
    ping_status: str = "Online"
    last_ping: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    agent_version: str = "3.3.1142.0"
    platform_type: str = "Linux"
    platform_name: str = "Amazon Linux"
    platform_version: str = "2023"
    resource_type: str = "EC2Instance"  # or "ManagedInstance"
    ip_address: str | None = None
    computer_name: str | None = None
    name: str | None = None  # hybrid nodes only
    activation_id: str | None = None
    registration_date: dt.datetime | None = None
    iam_role: str | None = None
    association_status: str | None = "Success"
    last_association: dt.datetime | None = None
    last_successful_association: dt.datetime | None = None
    #: tags of a hybrid node at registration; afterwards moto's SSM tag store is the truth
    tags: dict[str, str] = field(default_factory=dict)
    #: living thread must leave this node alone (it carries a scenario guarantee)
    pinned: bool = False

    @property
    def is_hybrid(self) -> bool:
        return self.resource_type == "ManagedInstance"

    @property
    def source_type(self) -> str:
        return "AWS::SSM::ManagedInstance" if self.is_hybrid else "AWS::EC2::Instance"


class NodeRegistry:
    """Managed nodes per (account, region), guarded by one lock shared with the living thread."""

    def __init__(self, latest_agent: str = "3.3.1142.0") -> None:
        self.lock = threading.RLock()
        self.latest_agent = latest_agent
        self._nodes: dict[tuple[str, str], dict[str, ManagedNode]] = {}

    def add(self, account_id: str, region: str, node: ManagedNode) -> None:
        with self.lock:
            self._nodes.setdefault((account_id, region), {})[node.instance_id] = node
            if node.is_hybrid and node.tags:
                tag_store = ssm_backends[account_id][region]._resource_tags
                tag_store["ManagedInstance"][node.instance_id].update(node.tags)

    def get(self, account_id: str, region: str, instance_id: str) -> ManagedNode | None:
        with self.lock:
            return self._nodes.get((account_id, region), {}).get(instance_id)

    def nodes(self, account_id: str, region: str) -> list[ManagedNode]:
        with self.lock:
            return list(self._nodes.get((account_id, region), {}).values())

    def regions(self) -> Iterator[tuple[str, str]]:
        with self.lock:
            return iter(list(self._nodes))

    def set_ping(self, account_id: str, region: str, instance_id: str, status: str) -> None:
        if status not in PING_STATUSES:
            raise ValueError(f"ping status must be one of {PING_STATUSES}")
        with self.lock:
            node = self._nodes.get((account_id, region), {}).get(instance_id)
            if node is None:
                raise KeyError(f"no managed node {instance_id} in {region}")
            now = dt.datetime.now(dt.UTC)
            if status == "Online":
                node.last_ping = now
            elif node.ping_status == "Online":
                node.last_ping = min(node.last_ping, now - LOST_AFTER)  # the pings stopped a while ago
            node.ping_status = status

    def clear(self) -> None:
        with self.lock:
            self._nodes.clear()


#: The registry the moto patches read. One per process, because moto's backends are too.
REGISTRY = NodeRegistry()


# --------------------------------------------------------------------------------------------
# request handling


def effective_view(account_id: str, region: str, node: ManagedNode, index: dict[str, Any] | None = None,
                   ec2: Any = None) -> tuple[str, dict[str, str]] | None:
    """(effective ping status, current tags) for a node, or None if it should not be listed.

    The tags mapping is the live one from moto (do not mutate it). ``index`` is the region's
    EC2 instance index, passed in by callers that look at many nodes.
    """
    if node.is_hybrid:
        tags = ssm_backends[account_id][region]._resource_tags["ManagedInstance"].get(node.instance_id) or {}
        return node.ping_status, tags
    if ec2 is None:
        ec2 = ec2_backends[account_id][region]
    if index is None:
        index = instance_index(ec2)
    instance = index.get(node.instance_id)
    if instance is None or instance._state.name == "terminated":
        return None
    status = node.ping_status if instance._state.name == "running" else "ConnectionLost"
    return status, ec2.tags.get(node.instance_id) or {}


def reported_ping(node: ManagedNode, status: str, now: dt.datetime) -> dt.datetime:
    """LastPingDateTime consistent with the PingStatus and the agent's 5-minute ping (:data:`PING_INTERVAL`).

    Online: the agent keeps pinging, so a last ping more than an interval old (a sandbox without the living
    thread) moves on by whole intervals. ConnectionLost/Inactive: at least :data:`LOST_AFTER` old, also for a
    node whose instance was stopped through EC2 just now (its registry ping is still fresh)."""
    if status == "Online":
        elapsed = now - node.last_ping
        if elapsed > PING_INTERVAL:
            return node.last_ping + (elapsed // PING_INTERVAL) * PING_INTERVAL
        return node.last_ping
    return min(node.last_ping, now - LOST_AFTER)


def _row(node: ManagedNode, status: str, latest: str, now: dt.datetime | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "InstanceId": node.instance_id,
        "PingStatus": status,
        "LastPingDateTime": reported_ping(node, status, now or dt.datetime.now(dt.UTC)),
        "AgentVersion": node.agent_version,
        "IsLatestVersion": node.agent_version == latest,
        "PlatformType": node.platform_type,
        "PlatformName": node.platform_name,
        "PlatformVersion": node.platform_version,
        "ResourceType": node.resource_type,
        "IPAddress": node.ip_address,
        "ComputerName": node.computer_name,
        "SourceId": node.instance_id,
        "SourceType": node.source_type,
    }
    if node.is_hybrid:
        row.update(
            {
                "Name": node.name,
                "ActivationId": node.activation_id,
                "IamRole": node.iam_role,
                "RegistrationDate": node.registration_date,
            }
        )
    if node.association_status:
        row["AssociationStatus"] = node.association_status
        row["LastAssociationExecutionDate"] = node.last_association
        row["LastSuccessfulAssociationExecutionDate"] = node.last_successful_association
        row["AssociationOverview"] = {
            "DetailedStatus": node.association_status,
            "InstanceAssociationStatusAggregatedCount": {node.association_status: 1},
        }
    return {k: v for k, v in row.items() if v is not None}


_LIST_KEYS = frozenset(
    {"InstanceIds", "AgentVersion", "PingStatus", "PlatformTypes", "ActivationIds", "IamRole", "ResourceType",
     "AssociationStatus"}
)


def _parse_filters(params: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """Normalise both filter forms into (key, values), refusing what AWS refuses (module docstring)."""
    if params.get("InstanceInformationFilterList") and params.get("Filters"):
        raise ValidationException("InstanceInformationFilterList and Filters cannot be used together in the same "
                                  "request.")
    out: list[tuple[str, set[str]]] = []
    for f in params.get("InstanceInformationFilterList") or []:
        key = f.get("key")
        if key not in _LIST_KEYS:
            raise InvalidFilterKey(f"The filter key {key} is not valid.")
        out.append((key, set(f.get("valueSet") or [])))
    for f in params.get("Filters") or []:
        key = f.get("Key", "")
        if key not in _LIST_KEYS and not key.startswith("tag:") and key != "tag-key":
            raise InvalidFilterKey(f"The filter key {key} is not valid.")
        out.append((key, set(f.get("Values") or [])))
    tagged = [k for k, _ in out if k.startswith("tag:") or k == "tag-key"]
    if tagged and len(tagged) != len(out):
        raise ValidationException("Cannot mix tag or inventory filter with any other filter.")
    for key, values in out:
        if key == "ResourceType":
            if len(values) > 1:
                raise _filter_value_error("ResourceType filter may contain only one value.")
            if not values <= {"EC2Instance", "ManagedInstance"}:
                raise _filter_value_error("ResourceType filter is invalid, valid values are EC2Instance, "
                                          "ManagedInstance")
    return out


def _filter_value_error(message: str) -> JsonRESTError:
    return JsonRESTError("InvalidInstanceInformationFilterValue", message)


_FIELD: dict[str, Any] = {
    "InstanceIds": lambda n, st: n.instance_id,
    "AgentVersion": lambda n, st: n.agent_version,
    "PingStatus": lambda n, st: st,
    "PlatformTypes": lambda n, st: n.platform_type,
    "ActivationIds": lambda n, st: n.activation_id,
    "IamRole": lambda n, st: n.iam_role,
    "ResourceType": lambda n, st: n.resource_type,
    "AssociationStatus": lambda n, st: n.association_status,
}


def _matches(node: ManagedNode, status: str, tags: dict[str, str], filters: list[tuple[str, set[str]]]) -> bool:
    for key, values in filters:
        if key.startswith("tag:"):
            if tags.get(key[4:]) not in values:
                return False
        elif key == "tag-key":
            if not values.intersection(tags):
                return False
        elif _FIELD[key](node, status) not in values:
            return False
    return True


def _encode_token(instance_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": instance_id}).encode()).decode()


def _decode_token(token: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except Exception as exc:
        raise JsonRESTError("InvalidNextToken", _TOKEN_ERROR) from exc
    if not isinstance(after, str):
        raise JsonRESTError("InvalidNextToken", _TOKEN_ERROR)
    return after


def describe_instance_information(self: Any) -> str:
    """Answer DescribeInstanceInformation from :data:`REGISTRY` (installed on moto's SSM class)."""
    max_results = self._get_param("MaxResults")
    if max_results is None:
        max_results = DEFAULT_PAGE_SIZE
    max_results = int(max_results)
    if not 5 <= max_results <= 50:
        bound = "greater than or equal to 5" if max_results < 5 else "less than or equal to 50"
        raise ValidationException(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    filters = _parse_filters({"InstanceInformationFilterList": self._get_param("InstanceInformationFilterList"),
                              "Filters": self._get_param("Filters")})
    account, region = self.current_account, self.region
    latest = REGISTRY.latest_agent
    matched: list[tuple[ManagedNode, str]] = []
    with REGISTRY.lock:
        ec2 = ec2_backends[account][region]
        index = instance_index(ec2)
        for node in REGISTRY.nodes(account, region):
            view = effective_view(account, region, node, index, ec2)
            if view is None:
                continue
            status, tags = view
            if _matches(node, status, tags, filters):
                matched.append((node, status))
        start = 0
        token = self._get_param("NextToken")
        if token:
            after = _decode_token(token)
            positions = {node.instance_id: n for n, (node, _) in enumerate(matched)}
            if after not in positions:
                raise JsonRESTError("InvalidNextToken", _TOKEN_ERROR)
            start = positions[after] + 1
        now = dt.datetime.now(dt.UTC)
        page = [_row(node, status, latest, now) for node, status in matched[start : start + max_results]]
    result: dict[str, Any] = {"InstanceInformationList": page}
    if start + max_results < len(matched):
        result["NextToken"] = _encode_token(page[-1]["InstanceId"])
    # Serialised here rather than via ActionResult: moto's generic serializer costs ~20 ms a
    # page, which dominated a 10k-node pagination. The JSON protocol sends timestamps as epoch
    # seconds, which is what _json_default produces.
    return json.dumps(result, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialise {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# the extension


class ManagedNodes(Extension):
    """DescribeInstanceInformation and ManagedInstance tags of hybrid nodes; ``POST /_opstui/ping`` sets a
    node's ping status (``{"region", "instance_id", "status"}``)."""

    name = "nodes"

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("POST", "ping"): self._ping}

    def _ping(self, request: ControlRequest) -> dict[str, bool]:
        body = request.payload
        self.running.set_ping(body["region"], body["instance_id"], body["status"])
        return {"ok": True}

    def patch(self) -> None:
        attach(SimpleSystemManagerResponse, describe_instance_information)

        original_validate = ssm_models.SimpleSystemManagerBackend._validate_resource_type_and_id

        def _validate_resource_type_and_id(self: Any, resource_type: str, resource_id: str) -> str:
            if resource_type == "ManagedInstance":
                node = REGISTRY.get(self.account_id, self.region_name, resource_id)
                if node is not None and node.is_hybrid:
                    return resource_id
            return original_validate(self, resource_type, resource_id)

        ssm_models.SimpleSystemManagerBackend._validate_resource_type_and_id = _validate_resource_type_and_id  # type: ignore[method-assign]


EXTENSION = ManagedNodes()
