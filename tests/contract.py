"""Checking the sandbox's recorded responses against botocore's output shapes (issue: the sandbox as strict as
AWS). See :mod:`opstui.sandbox.recorder` for the recording.

Each recorded success is parsed with botocore's own parser for the protocol the client spoke, then walked
against the operation's output shape: required members present, every value of its shape's type, enum values
from the enum, string lengths and patterns within the model's limits, and the id formats AWS uses (``i-`` and
``mi-`` + 17 hex digits, UUID command ids, ARNs). Each recorded error must parse to an error code.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.parsers import create_parser

INSTANCE_ID = re.compile(r"^m?i-[0-9a-f]{17}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")
#: member names whose values have a format AWS always keeps
FORMATS = {"InstanceId": INSTANCE_ID, "CommandId": UUID}

#: Values AWS itself sends outside the enum of botocore's model (the models' enums are not exhaustive), by
#: (service, enum shape). Only what AWS's own documentation shows is listed here.
AWS_OUTSIDE_ENUM: dict[tuple[str, str], frozenset[str]] = {
    # "This value is windows for Windows instances; otherwise blank."
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html
    ("ec2", "PlatformValues"): frozenset({"windows"}),
    # NotificationConfig with no notification: "NotificationType": "" in the AWS CLI's examples
    # (aws/aws-cli awscli/examples/ssm/send-command.rst, list-commands.rst)
    ("ssm", "NotificationType"): frozenset({""}),
    # GetInventorySchema attributes are "DataType": "STRING" (aws/aws-cli awscli/examples/ssm/get-inventory-schema.rst)
    ("ssm", "InventoryAttributeDataType"): frozenset({"STRING", "NUMBER"}),
    # CreateAssociation answers Status {"Name": "Associated", "Message": "Associated with AWS-UpdateSSMAgent"}
    # (aws/aws-cli awscli/examples/ssm/create-association.rst)
    ("ssm", "AssociationStatusName"): frozenset({"Associated"}),
}

#: Words AWS puts where an ARN goes: an SNS subscription's ARN before confirmation ("PendingConfirmation",
#: https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html) and after deletion ("Deleted")
AWS_NOT_ARN: dict[tuple[str, str], frozenset[str]] = {
    ("sns", "SubscriptionArn"): frozenset({"PendingConfirmation", "Deleted"}),
}

#: Required members AWS itself leaves out, by (service, operation, path with [] for indexes). GetInventory with
#: Aggregators answers Data entries holding only Content (counts), no TypeName/SchemaVersion; see
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/inventory-aggregate.html
AWS_OMITS_REQUIRED: set[tuple[str, str, str]] = {
    ("ssm", "GetInventory", "GetInventory.Entities[].Data[].TypeName"),
    ("ssm", "GetInventory", "GetInventory.Entities[].Data[].SchemaVersion"),
}


@dataclass(frozen=True)
class Violation:
    service: str
    operation: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.service}:{self.operation} {self.where}: {self.problem}"


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    return botocore.session.get_session()


@functools.cache
def _model(service: str) -> Any:
    return _session().get_service_model(service)


def records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def check_record(record: dict[str, Any]) -> list[Violation]:
    """Every way this one response differs from what botocore's model allows."""
    service, operation = record["service"], record.get("operation")
    if not operation or "body" not in record:
        return []
    model = _model(service)
    try:
        op = model.operation_model(operation)
    except Exception:
        return [Violation(service, operation, "", "not an operation of the service model")]
    if op.has_event_stream_output or op.has_streaming_output:
        return []  # an object's bytes or an event stream: nothing to check against a shape
    headers = record["headers"]
    response = {"status_code": record["status"], "headers": headers, "body": base64.b64decode(record["body"])}
    parser = create_parser(record["protocol"])
    if record["status"] >= 300:
        parsed = parser.parse(response, op.output_shape)
        code = parsed.get("Error", {}).get("Code")
        if not code:
            return [Violation(service, operation, "error", f"status {record['status']} with no parsable error code")]
        return []
    if op.output_shape is None:
        return []
    try:
        parsed = parser.parse(response, op.output_shape)
    except Exception as exc:
        return [Violation(service, operation, "", f"botocore cannot parse it: {exc}")]
    parsed.pop("ResponseMetadata", None)
    out: list[Violation] = []

    def report(where: str, problem: str) -> None:
        if problem == "required member missing":
            generic = re.sub(r"\[[^\]]*\]", "[]", where)
            if (service, operation, generic) in AWS_OMITS_REQUIRED:
                return
        out.append(Violation(service, operation, where, problem))

    _walk(parsed, op.output_shape, operation, report, service=service)
    return out


def _walk(value: Any, shape: Shape, where: str, report: Any, name: str = "", service: str = "") -> None:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            report(where, f"expected a structure, got {type(value).__name__}")
            return
        if shape.metadata.get("union") and len(value) > 1:
            report(where, f"a union with {len(value)} members set")
        for member in shape.required_members:
            if member not in value:
                report(f"{where}.{member}", "required member missing")
        for member, inner in value.items():
            if member in shape.members:
                _walk(inner, shape.members[member], f"{where}.{member}", report, member, service)
        return
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            report(where, f"expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value[:200]):
            _walk(item, shape.member, f"{where}[{i}]", report, name, service)
        return
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            report(where, f"expected a map, got {type(value).__name__}")
            return
        for key, inner in list(value.items())[:200]:
            _walk(inner, shape.value, f"{where}[{key!r}]", report, "", service)
        return
    if kind == "string":
        if not isinstance(value, str):
            report(where, f"expected a string, got {type(value).__name__}")
            return
        enum = shape.enum
        if enum and value not in enum and value not in AWS_OUTSIDE_ENUM.get((service, shape.name), ()):
            report(where, f"{value!r} is not one of {sorted(enum)}")
        fmt = FORMATS.get(name)
        if fmt is not None and value and not fmt.match(value):
            report(where, f"{value!r} is not in AWS's format for {name}")
        if ((name.endswith("Arn") or name.endswith("ARN")) and value and not ARN.match(value)
                and value not in AWS_NOT_ARN.get((service, name), ())):
            report(where, f"{value!r} is not an ARN")
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low and value:
            report(where, f"shorter than the model's min {low}: {value!r}")
        if high is not None and len(value) > high:
            report(where, f"longer than the model's max {high} ({len(value)})")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            report(where, f"expected an integer, got {value!r}")
    elif kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            report(where, f"expected a number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            report(where, f"expected a boolean, got {value!r}")
    elif kind == "timestamp":
        if not isinstance(value, dt.datetime):
            report(where, f"expected a timestamp, got {value!r}")
    elif kind == "blob" and not isinstance(value, (bytes, bytearray)) and not hasattr(value, "read"):
        report(where, f"expected bytes, got {type(value).__name__}")


def check_file(path: Path) -> tuple[int, list[Violation]]:
    """(responses checked, violations, one per distinct (operation, where, problem))."""
    seen: set[tuple[str, str, str, str]] = set()
    out: list[Violation] = []
    count = 0
    for record in records(path):
        count += 1
        for v in check_record(record):
            key = (v.service, v.operation, re.sub(r"\[\d+\]", "[]", v.where), v.problem)
            if key not in seen:
                seen.add(key)
                out.append(v)
    return count, out


def assert_contract(path: str | Path) -> None:
    """Fail (at a shared sandbox's teardown) on any recorded response that botocore's model would not allow."""
    count, violations = check_file(Path(path))
    assert not violations, (f"{len(violations)} sandbox response(s) of {count} differ from botocore's output "
                            "shapes:\n" + "\n".join(f"  {v}" for v in violations[:60]))
