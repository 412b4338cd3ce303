"""Resource Groups ``ListGroupResources`` for the sandbox, and the same resolution for Run Command targets.

moto 5.2.5 stores groups (CreateGroup/ListGroups/GetGroupQuery work) but has no route for
``POST /list-group-resources`` (HTML 404). The sandbox middleware hands that path, for requests signed for
service ``resource-groups``, to :func:`handle_list_group_resources` (technique D). SendCommand's
``resource-groups:Name`` target uses :func:`group_members`, so the two always agree.

Behaviour chosen to match AWS:

* ``Group`` (name or ARN; the deprecated ``GroupName`` too). Unknown -> HTTP 404 ``NotFoundException``
  "Cannot find group <name>.".
* ``TAG_FILTERS_1_0``: a resource matches when it has every filter's key, with one of the filter's values
  (no values: any value). Resources considered: EC2 instances of the region that are not terminated
  (``AWS::EC2::Instance``) and hybrid managed nodes (``AWS::SSM::ManagedInstance``, tags from SSM), each only
  when ``ResourceTypeFilters`` holds its type or ``AWS::AllSupported``.
* ``CLOUDFORMATION_STACK_1_0``: the sandbox has no stacks, so the group is empty and ``QueryErrors`` carries
  ``CLOUDFORMATION_STACK_NOT_EXISTING`` as AWS reports for a stack that is gone.
* ``Filters=[{"Name": "resource-type", "Values": [...]}]``; ``MaxResults`` 1-50 (default 50) with an opaque
  ``NextToken``; results ordered by ARN so pages are stable. Both ``Resources`` and the deprecated
  ``ResourceIdentifiers`` are returned.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import Any

from moto.ec2.models import ec2_backends
from moto.resourcegroups.models import resourcegroups_backends
from moto.ssm.models import ssm_backends

from .ec2_fast import instance_index
from .ssm_nodes import REGISTRY

EC2_INSTANCE = "AWS::EC2::Instance"
MANAGED_INSTANCE = "AWS::SSM::ManagedInstance"
ALL = "AWS::AllSupported"

StartResponse = Callable[..., Any]


class GroupError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _group(account_id: str, region: str, name: str) -> Any:
    groups = resourcegroups_backends[account_id][region].groups
    key = name if name in groups or not name.startswith("arn:") else name.rsplit("/", 1)[-1]
    if key not in groups:
        raise GroupError(404, "NotFoundException", f"Cannot find group {name.rsplit('/', 1)[-1]}.")
    return groups[key]


def _tags_match(tags: dict[str, str], filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        key = f.get("Key")
        if key not in tags:
            return False
        values = f.get("Values") or []
        if values and tags[key] not in values:
            return False
    return True


def group_members(account_id: str, region: str, name: str,
                  type_filters: Iterable[str] | None = None) -> tuple[list[tuple[str, str, str]], list[dict[str, str]]]:
    """``([(arn, resource type, id)], query errors)`` of a group; raises :class:`GroupError` if unknown.

    ``type_filters`` narrows the result further (SendCommand's ``resource-groups:ResourceTypeFilters``).
    """
    group = _group(account_id, region, name)
    query = group.resource_query or {}
    errors: list[dict[str, str]] = []
    members: list[tuple[str, str, str]] = []
    try:
        body = json.loads(query.get("Query") or "{}")
    except ValueError:
        body = {}
    types = set(body.get("ResourceTypeFilters") or [ALL])
    want_ec2 = ALL in types or EC2_INSTANCE in types
    want_mi = ALL in types or MANAGED_INSTANCE in types
    if type_filters is not None:
        narrowed = set(type_filters)
        want_ec2 = want_ec2 and EC2_INSTANCE in narrowed
        want_mi = want_mi and MANAGED_INSTANCE in narrowed
    if query.get("Type") == "CLOUDFORMATION_STACK_1_0":
        errors.append({"ErrorCode": "CLOUDFORMATION_STACK_NOT_EXISTING",
                       "Message": f"Stack {body.get('StackIdentifier', '')} does not exist.",
                       "ResourceType": "AWS::CloudFormation::Stack"})
        return members, errors
    tag_filters = body.get("TagFilters") or []
    if want_ec2:
        ec2 = ec2_backends[account_id][region]
        for iid, instance in instance_index(ec2).items():
            if instance._state.name in ("terminated", "shutting-down"):
                continue
            if _tags_match(ec2.tags.get(iid) or {}, tag_filters):
                members.append((f"arn:aws:ec2:{region}:{account_id}:instance/{iid}", EC2_INSTANCE, iid))
    if want_mi:
        tag_store = ssm_backends[account_id][region]._resource_tags["ManagedInstance"]
        for node in REGISTRY.nodes(account_id, region):
            if node.is_hybrid and _tags_match(tag_store.get(node.instance_id) or {}, tag_filters):
                members.append((f"arn:aws:ssm:{region}:{account_id}:managed-instance/{node.instance_id}",
                                MANAGED_INSTANCE, node.instance_id))
    members.sort()
    return members, errors


def list_group_resources(account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("Group") or params.get("GroupName")
    if not name:
        raise GroupError(400, "BadRequestException", "Group or GroupName must be specified.")
    max_results = params.get("MaxResults", 50)
    if not isinstance(max_results, int) or not 1 <= max_results <= 50:
        raise GroupError(400, "BadRequestException",
                         "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
                         "Member must have value between 1 and 50")
    members, errors = group_members(account_id, region, name)
    for f in params.get("Filters") or []:
        if f.get("Name") != "resource-type":
            raise GroupError(400, "BadRequestException", f"Invalid filter name {f.get('Name')}.")
        allowed = set(f.get("Values") or [])
        members = [m for m in members if m[1] in allowed]
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except Exception as exc:
            raise GroupError(400, "BadRequestException", "The NextToken is not valid.") from exc
    page = members[start : start + max_results]
    idents = [{"ResourceArn": arn, "ResourceType": rtype} for arn, rtype, _ in page]
    result: dict[str, Any] = {"Resources": [{"Identifier": i} for i in idents], "ResourceIdentifiers": idents,
                              "QueryErrors": errors}
    if start + max_results < len(members):
        result["NextToken"] = base64.urlsafe_b64encode(json.dumps({"offset": start + max_results}).encode()).decode()
    return result


def handle_list_group_resources(environ: dict[str, Any], start_response: StartResponse, account_id: str,
                                region: str) -> list[bytes]:
    """WSGI answer for ``POST /list-group-resources`` (REST-JSON; errors carry ``x-amzn-ErrorType``)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        params = json.loads(raw or b"{}")
        status, payload, headers = 200, list_group_resources(account_id, region, params), []
    except GroupError as exc:
        status, payload = exc.status, {"Message": exc.message, "__type": exc.code}
        headers = [("x-amzn-ErrorType", exc.code)]
    except ValueError:
        status, payload = 400, {"Message": "Request body is not valid JSON.", "__type": "BadRequestException"}
        headers = [("x-amzn-ErrorType", "BadRequestException")]
    body = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body))), *headers])
    return [body]
