"""No silent gaps: every operation opstui can call (the IAM table of ``opstui/aws/permissions.py``, which a
test keeps equal to what the code calls) is served by the sandbox -- answered, or refused with an AWS error --
never "not implemented" (moto's 500), an HTML 404 (no route) or a 5xx.

Each operation is sent with placeholder values for its required members and botocore's own parameter
validation off, so the request reaches the sandbox even where a placeholder is not a valid value: an AWS
validation error is a served answer. What the sandbox serves only approximately is listed in the README's
"Where the sandbox is not AWS".
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import botocore.parsers
import pytest
from botocore import xform_name
from botocore.model import ListShape, MapShape, Shape, StructureShape

from opstui.aws import permissions


def _placeholder(shape: Shape, depth: int = 0) -> Any:
    if isinstance(shape, StructureShape):
        return {name: _placeholder(shape.members[name], depth + 1) for name in shape.required_members}
    if isinstance(shape, ListShape):
        return [_placeholder(shape.member, depth + 1)] if depth < 4 else []
    if isinstance(shape, MapShape):
        return {}
    kind = shape.type_name
    if kind in ("integer", "long"):
        return 1
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return 0
    if kind == "blob":
        return b"x"
    return shape.enum[0] if shape.enum else "placeholder-x"


def _served(exc: BaseException) -> tuple[bool, str]:
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        message = str(exc.response.get("Error", {}).get("Message", ""))
        gap = (status >= 500 or "not been implemented" in message.lower() or "not implemented" in message.lower()
               or (status == 404 and not code))
        return not gap, f"{status} {code}: {message[:200]}"
    if isinstance(exc, botocore.parsers.ResponseParserError):
        return False, f"unparsable answer (an HTML page?): {str(exc)[:200]}"
    return True, type(exc).__name__  # refused before it left (a placeholder botocore cannot serialise)


@pytest.mark.parametrize("qualified", permissions.operations())
def test_every_operation_opstui_calls_is_served(qualified: str, client) -> None:
    service, operation = qualified.split(":", 1)
    c = client(service, parameter_validation=False)
    op_model = c.meta.service_model.operation_model(operation)
    params = _placeholder(op_model.input_shape) if op_model.input_shape is not None else {}
    try:
        getattr(c, xform_name(operation))(**params)
    except Exception as exc:  # noqa: BLE001 - every outcome is classified
        ok, why = _served(exc)
        assert ok, f"{qualified} is not served by the sandbox: {why}"
