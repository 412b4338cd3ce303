"""`opstui iam-policy`: one table for the policy, the README and read-only mode, covering every call."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import botocore.session
from botocore import xform_name

from opstui.aws import permissions
from opstui.aws.clients import is_read_operation

ROOT = Path(__file__).resolve().parents[2]


def called_operations() -> set[str]:
    """Every "service:Operation" a client in opstui/aws can be asked for: `aws.call`/`aws.paginate` with a
    literal operation, and for an operation held in a variable, every operation name of that service
    written anywhere in the module (e.g. "enable_alarm_actions" if ... else "disable_alarm_actions")."""
    session = botocore.session.get_session()
    names: dict[str, dict[str, str]] = {}
    found: set[str] = set()
    for path in sorted((ROOT / "opstui" / "aws").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("call", "paginate") and len(node.args) >= 3
                    and isinstance(node.args[0], ast.Constant)):
                continue
            service = node.args[0].value
            if service not in names:
                model = session.get_service_model(service)
                names[service] = {xform_name(op): op for op in model.operation_names}
            op = node.args[2]
            if isinstance(op, ast.Constant):
                assert op.value in names[service], f"{path.name}: {service} has no operation {op.value}"
                found.add(f"{service}:{names[service][op.value]}")
            else:
                found |= {f"{service}:{names[service][c]}" for c in literals if c in names[service]}
    return found


def test_every_operation_the_code_can_call_is_in_the_table_and_nothing_else():
    called = called_operations()
    assert len(called) > 60  # the scan does find the calls
    assert called - set(permissions.operations()) == set(), "missing from opstui/aws/permissions.py"
    assert set(permissions.operations()) - called == set(), "listed but never called"


def test_the_policy_grants_every_action_and_read_only_grants_no_change():
    full = json.loads(subprocess.run([sys.executable, "-m", "opstui", "iam-policy"], capture_output=True,
                                     text=True, timeout=30, check=True).stdout)
    ro = json.loads(subprocess.run([sys.executable, "-m", "opstui", "iam-policy", "--read-only"],
                                   capture_output=True, text=True, timeout=30, check=True).stdout)

    def granted(doc) -> set[str]:
        out: set[str] = set()
        for statement in doc["Statement"]:
            assert statement["Effect"] == "Allow"
            action = statement["Action"]
            out |= {action} if isinstance(action, str) else set(action)
        return out

    for op in called_operations():
        assert set(permissions.actions_for(op)) <= granted(full), op
        if is_read_operation(op.split(":")[1]):
            assert set(permissions.actions_for(op)) <= granted(ro), op
    changes = {a for op in permissions.operations() if permissions.is_change(op)
               for a in permissions.actions_for(op)}
    reads = {a for op in permissions.operations() if not permissions.is_change(op)
             for a in permissions.actions_for(op)}
    assert granted(ro) == reads and not (granted(ro) & (changes - reads))
    for mutating in ("ssm:SendCommand", "ssm:StartSession", "cloudwatch:PutMetricAlarm", "backup:StartRestoreJob",
                     "s3:PutObject", "iam:PassRole", "lambda:CreateFunction"):
        assert mutating in granted(full) and mutating not in granted(ro)
    assert "ssm:ListTagsForResource" in granted(ro) and "s3:ListBucket" in granted(ro)
    assert "s3:ListObjectsV2" not in granted(full)  # IAM knows it as s3:ListBucket


def test_the_readme_iam_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert permissions.readme_table() in readme
    assert "opstui iam-policy" in readme
