"""Speed patches and a lean DescribeInstances for moto's EC2 backend.

Why: moto's stock EC2 code is O(n) per instance lookup and O(n) per tag read (every
``get_tags`` scans every tag in the region), so DescribeInstances over 10,000 instances is
O(n^2) and takes minutes. The sandbox wants a 10k fleet paginated in seconds. The patches:

* ``TaggedEC2Resource.get_tags`` reads ``backend.tags[resource_id]`` directly.
* ``get_instance`` / ``get_instance_by_id`` / ``get_multi_instances_by_id`` use an id index.
* ``EC2Response.describe_instances`` renders the subset of the EC2 XML that botocore parses
  for the fields opstui uses, paginating per *instance* (AWS semantics) rather than per
  reservation, and honours the filters opstui sends. Anything it does not understand
  (another filter name, DryRun) falls back to moto's own implementation.

Everything here reaches into moto 5.2.5 internals; moto is pinned for that reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from moto.ec2.exceptions import InvalidInstanceIdError
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.responses import EC2Response
from moto.ec2.utils import simple_aws_filter_to_re

from .extension import Extension, attach

#: Filter names the lean renderer evaluates itself; others fall back to moto.
LEAN_FILTERS = frozenset(
    {
        "instance-id",
        "instance-state-name",
        "tag-key",
        "availability-zone",
        "instance-type",
        "vpc-id",
        "subnet-id",
        "platform",
        "private-ip-address",
    }
)

_STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

# XML 1.0 cannot carry most C0 control characters, even as character references; botocore's
# expat parser would reject the whole response. Real EC2 forbids them in tags anyway.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(value: Any) -> str:
    text = _XML_INVALID.sub("\ufffd", str(value))
    return _xml_escape(text, {'"': "&quot;", "\r": "&#13;"})


# --------------------------------------------------------------------------------------------
# instance index


def instance_index(backend: Any) -> dict[str, Any]:
    """Return ``{instance_id: Instance}`` for an EC2 region backend, cached.

    The cache key is the number of reservations plus the size of the newest one: moto only
    ever adds reservations (terminated instances stay), and RunInstances appends instances to
    the newest reservation, so either number changing means the index is stale.
    """
    reservations = backend.reservations
    last = next(reversed(reservations.values()), None) if reservations else None
    key = (len(reservations), len(last.instances) if last is not None else 0)
    cached = backend.__dict__.get("_opstui_index")
    if cached is not None and cached[0] == key:
        return cached[1]
    index: dict[str, Any] = {}
    for reservation in list(reservations.values()):
        for instance in reservation.instances:
            index[instance.id] = instance
    backend.__dict__["_opstui_index"] = (key, index)
    return index


def _reservation_of(backend: Any) -> dict[str, str]:
    cached = backend.__dict__.get("_opstui_res_of")
    index = instance_index(backend)
    if cached is not None and cached[0] is index:
        return cached[1]
    res_of = {i.id: r.id for r in list(backend.reservations.values()) for i in r.instances}
    backend.__dict__["_opstui_res_of"] = (index, res_of)
    return res_of


def get_instance(self: Any, instance_id: str) -> Any:
    instance = instance_index(self).get(instance_id)
    if instance is None:
        raise InvalidInstanceIdError(instance_id)
    return instance


def get_instance_by_id(self: Any, instance_id: str) -> Any:
    return instance_index(self).get(instance_id)


def get_multi_instances_by_id(self: Any, instance_ids: list[str], filters: Any = None) -> list[Any]:
    index = instance_index(self)
    missing = [i for i in instance_ids if i not in index]
    if missing:
        raise InvalidInstanceIdError(missing)
    return [index[i] for i in instance_ids if index[i].applies(filters)]


def get_tags(self: Any) -> list[dict[str, str]]:
    rid = getattr(self, "id", None)
    if not rid:
        return []
    tags = self.ec2_backend.tags.get(rid)
    if not tags:
        return []
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    rtype = EC2_PREFIX_TO_RESOURCE.get(get_prefix(rid), "")
    return [{"resource_id": rid, "key": k, "value": v, "resource_type": rtype} for k, v in list(tags.items())]


# --------------------------------------------------------------------------------------------
# lean DescribeInstances


def _compile(values: Iterable[str]) -> list[re.Pattern[str]]:
    return [re.compile(simple_aws_filter_to_re(v)) for v in values]


def _any_match(patterns: list[re.Pattern[str]], value: Any) -> bool:
    if value is None:
        return False
    return any(p.match(str(value)) for p in patterns)


def _instance_matches(instance: Any, tags: dict[str, str], filters: dict[str, list[re.Pattern[str]]]) -> bool:
    for name, patterns in filters.items():
        if name.startswith("tag:"):
            if not _any_match(patterns, tags.get(name[4:])):
                return False
        elif name == "tag-key":
            if not any(_any_match(patterns, k) for k in tags):
                return False
        elif name == "instance-id":
            if not _any_match(patterns, instance.id):
                return False
        elif name == "instance-state-name":
            if not _any_match(patterns, instance._state.name):
                return False
        elif name == "availability-zone":
            if not _any_match(patterns, instance._placement.zone):
                return False
        elif name == "instance-type":
            if not _any_match(patterns, instance.instance_type):
                return False
        elif name == "vpc-id":
            if not _any_match(patterns, instance.vpc_id):
                return False
        elif name == "subnet-id":
            if not _any_match(patterns, instance.subnet_id):
                return False
        elif name == "platform":
            if not _any_match(patterns, instance.platform):
                return False
        elif name == "private-ip-address" and not _any_match(patterns, instance.private_ip_address):
            return False
    return True


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return str(value)


def render_instance(instance: Any, tags: dict[str, str]) -> str:
    """Render one ``<item>`` of an ``instancesSet``: the fields opstui reads, nothing more."""
    state = instance._state
    parts = [
        "<item>",
        f"<instanceId>{instance.id}</instanceId>",
        f"<imageId>{_x(instance.image_id)}</imageId>",
        f"<instanceState><code>{state.code}</code><name>{state.name}</name></instanceState>",
    ]
    try:
        private_ip = instance.private_ip_address
    except Exception:  # no NIC (should not happen for seeded instances)
        private_ip = None
    if private_ip:
        parts.append(f"<privateDnsName>{_x(instance.private_dns_name)}</privateDnsName>")
        parts.append(f"<privateIpAddress>{private_ip}</privateIpAddress>")
    else:
        parts.append("<privateDnsName></privateDnsName>")
    public_ip = None
    try:
        public_ip = instance.public_ip_address
    except Exception:
        public_ip = None
    if public_ip and state.name == "running":
        parts.append(f"<ipAddress>{public_ip}</ipAddress>")
        parts.append(f"<dnsName>{_x(instance.public_dns_name or '')}</dnsName>")
    else:
        parts.append("<dnsName></dnsName>")
    if instance.key_name:
        parts.append(f"<keyName>{_x(instance.key_name)}</keyName>")
    parts.append(f"<amiLaunchIndex>{instance.ami_launch_index}</amiLaunchIndex>")
    parts.append(f"<instanceType>{_x(instance.instance_type)}</instanceType>")
    parts.append(f"<launchTime>{_iso(instance.launch_time)}</launchTime>")
    parts.append(
        f"<placement><availabilityZone>{_x(instance._placement.zone)}</availabilityZone>"
        "<tenancy>default</tenancy></placement>"
    )
    platform = getattr(instance, "platform", None)
    if platform:
        parts.append(f"<platform>{_x(platform)}</platform>")
    details = getattr(instance, "_opstui_platform_details", None) or (
        "Windows" if platform == "windows" else "Linux/UNIX"
    )
    parts.append(f"<platformDetails>{_x(details)}</platformDetails>")
    parts.append(f"<monitoring><state>{_x(instance.monitoring_state)}</state></monitoring>")
    subnet_id = instance.subnet_id
    if subnet_id:
        parts.append(f"<subnetId>{subnet_id}</subnetId>")
    vpc_id = instance.vpc_id
    if vpc_id:
        parts.append(f"<vpcId>{vpc_id}</vpcId>")
    parts.append(f"<architecture>{_x(instance.architecture)}</architecture>")
    parts.append(f"<rootDeviceType>{instance.root_device_type}</rootDeviceType>")
    parts.append(f"<rootDeviceName>{_x(instance.root_device_name)}</rootDeviceName>")
    if state.name != "running" and instance._reason:
        parts.append(f"<reason>{_x(instance._reason)}</reason>")
    profile = getattr(instance, "iam_instance_profile", None)
    if isinstance(profile, dict) and profile.get("Arn"):
        parts.append(
            f"<iamInstanceProfile><arn>{_x(profile['Arn'])}</arn><id>{_x(profile.get('Id', ''))}</id>"
            "</iamInstanceProfile>"
        )
    if tags:
        parts.append("<tagSet>")
        for k, v in tags.items():
            parts.append(f"<item><key>{_x(k)}</key><value>{_x(v)}</value></item>")
        parts.append("</tagSet>")
    parts.append("</item>")
    return "".join(parts)


class _Fallback(Exception):
    """Raised when the lean path cannot answer a request exactly; moto's own code will."""


def _lean_describe_instances(self: Any) -> str:
    if self._get_param("DryRun") or "InstanceId.1" in self.data and "MaxResults" in self.data:
        raise _Fallback
    raw_filters: dict[str, list[str]] = self._filters_from_querystring() or {}
    for name in raw_filters:
        if name not in LEAN_FILTERS and not name.startswith("tag:"):
            raise _Fallback
    filters = {name: _compile(values) for name, values in raw_filters.items()}
    backend = self.ec2_backend
    index = instance_index(backend)
    res_of = _reservation_of(backend)
    instance_ids: list[str] = self._get_param("InstanceIds", []) or []
    if instance_ids:
        missing = [i for i in instance_ids if i not in index]
        if missing:
            raise InvalidInstanceIdError(missing[0] if len(missing) == 1 else missing)
        wanted = set(instance_ids)
        candidates = [i for i in index.values() if i.id in wanted]
    else:
        candidates = list(index.values())
    all_tags = backend.tags
    matched: list[tuple[Any, dict[str, str]]] = []
    for instance in candidates:
        tags = all_tags.get(instance.id) or {}
        if not filters or _instance_matches(instance, tags, filters):
            matched.append((instance, tags))

    start = 0
    token = self._get_param("NextToken")
    if token:
        try:
            last_id = base64.urlsafe_b64decode(token.encode()).decode()
        except Exception as exc:
            raise _Fallback from exc
        positions = {inst.id: n for n, (inst, _) in enumerate(matched)}
        if last_id not in positions:
            raise _Fallback
        start = positions[last_id] + 1
    max_results_raw = self._get_param("MaxResults")
    max_results = int(max_results_raw) if max_results_raw else len(matched) or 1
    page = matched[start : start + max_results]
    next_token = None
    if start + max_results < len(matched) and page:
        next_token = base64.urlsafe_b64encode(page[-1][0].id.encode()).decode()

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">',
        f"<requestId>{uuid.uuid4()}</requestId><reservationSet>",
    ]
    owner = backend.account_id
    current_res: str | None = None
    for instance, tags in page:
        rid = res_of.get(instance.id, "r-unknown")
        if rid != current_res:
            if current_res is not None:
                out.append("</instancesSet></item>")
            out.append(f"<item><reservationId>{rid}</reservationId><ownerId>{owner}</ownerId><instancesSet>")
            current_res = rid
        out.append(render_instance(instance, tags))
    if current_res is not None:
        out.append("</instancesSet></item>")
    out.append("</reservationSet>")
    if next_token:
        out.append(f"<nextToken>{next_token}</nextToken>")
    out.append("</DescribeInstancesResponse>")
    return "".join(out)


# --------------------------------------------------------------------------------------------
# the extension


class Ec2Fast(Extension):
    """Indexed instance lookup, O(1) tag reads and the lean DescribeInstances (falls back to moto's)."""

    name = "ec2"

    def patch(self) -> None:
        attach(TaggedEC2Resource, get_tags)
        attach(InstanceBackend, get_instance, get_instance_by_id, get_multi_instances_by_id)
        original = EC2Response.describe_instances

        def describe_instances(self: Any) -> Any:
            try:
                return _lean_describe_instances(self)
            except _Fallback:
                return original(self)

        describe_instances.__doc__ = "Lean DescribeInstances (opstui sandbox); falls back to moto's."
        EC2Response.describe_instances = describe_instances  # type: ignore[method-assign]


EXTENSION = Ec2Fast()
