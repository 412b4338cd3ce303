"""Every AWS operation opstui can call, by the part of the app that calls it, and the IAM actions each needs.

One table feeds three things, so they cannot drift apart:

* `opstui iam-policy [--read-only]`: the least-privilege policy (:func:`policy`);
* the README's "IAM permissions" table (:func:`readme_table`; a test checks the README holds it verbatim);
* read-only mode: an operation is a change exactly when the read-only guard refuses it
  (:func:`opstui.aws.clients.is_read_operation`), so `--read-only` drops the same operations from the policy
  that the guard would refuse.

A test scans `opstui/aws/*.py` for every operation a client can be asked for, and checks that this table
lists each of them and nothing else.

IAM action names are the operation's name except where the service authorises it under another name (S3:
ListObjectsV2 is `s3:ListBucket`, multipart uploads are `s3:PutObject`; https://docs.aws.amazon.com/
service-authorization/latest/reference/list_amazons3.html). Some operations need more than their own action:
a backup or restore job passes its IAM role (`iam:PassRole`), and CreateCanary creates the canary's Lambda
function and layer in the caller's name (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Synthetics_Canaries_UserPermissions.html).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from opstui.aws.clients import is_read_operation


@dataclass(frozen=True)
class Area:
    """One part of the app (a README row) and the operations ("service:Operation", botocore names) it calls."""

    name: str
    operations: tuple[str, ...]
    note: str = ""  # said after the actions in the README row


AREAS: tuple[Area, ...] = (
    Area("Header", ("sts:GetCallerIdentity",), "allowed for every identity"),
    Area("Fleet", ("ssm:DescribeInstanceInformation", "ec2:DescribeInstances", "ssm:ListTagsForResource"),
         "ListTagsForResource reads the tags of hybrid `mi-` nodes (a tag target reaches them too)"),
    Area("Shells, `opstui shell`", ("ssm:StartSession", "ssm:ResumeSession", "ssm:TerminateSession",
                                    "ssm:DescribeSessions"),
         "StartSession on the instances and on the document (e.g. `SSM-SessionManagerRunShell`); "
         "`opstui shell` resolves names with the Fleet's permissions"),
    Area("Overview", ("cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics",
                      "synthetics:DescribeCanaries", "synthetics:DescribeCanariesLastRun", "backup:ListBackupJobs",
                      "backup:ListCopyJobs", "logs:DescribeMetricFilters"),
         "and the Fleet's; DescribeMetricFilters finds the alarms in ALARM that a log metric filter feeds (the "
         "\"Errors in logs\" section); a missing one becomes a \"could not check\" line, the rest still show"),
    Area("Inventory", ("ssm:GetInventory", "ssm:ListInventoryEntries", "ssm:GetInventorySchema",
                       "ssm:ListAssociations", "ssm:DescribeAssociation", "ssm:DescribeAssociationExecutions",
                       "ssm:CreateAssociation", "ssm:UpdateAssociation")),
    Area("Monitoring", ("cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory", "cloudwatch:GetMetricData",
                        "cloudwatch:ListMetrics", "sns:ListTopics", "sns:ListSubscriptions",
                        "sns:ListSubscriptionsByTopic", "synthetics:DescribeCanaries",
                        "synthetics:DescribeCanariesLastRun", "synthetics:GetCanary", "synthetics:GetCanaryRuns",
                        "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:EnableAlarmActions",
                        "cloudwatch:DisableAlarmActions", "cloudwatch:SetAlarmState", "sns:CreateTopic",
                        "sns:Subscribe", "sns:Unsubscribe", "sns:Publish", "synthetics:CreateCanary",
                        "synthetics:StartCanary", "synthetics:StopCanary", "ssm:PutParameter"),
         "agent install and set-up: Run Command's permissions; PutParameter on `parameter/AmazonCloudWatch-*` "
         "(the agent's configuration, which the nodes' CloudWatchAgentServerPolicy lets them read)"),
    Area("Backup", ("backup:ListBackupJobs", "backup:ListCopyJobs", "backup:ListRestoreJobs",
                    "backup:DescribeBackupJob", "backup:DescribeCopyJob", "backup:DescribeRestoreJob",
                    "backup:ListBackupPlans", "backup:GetBackupPlan", "backup:ListBackupSelections",
                    "backup:GetBackupSelection", "backup:ListBackupVaults", "backup:DescribeBackupVault",
                    "backup:ListRecoveryPointsByBackupVault", "backup:GetRecoveryPointRestoreMetadata",
                    "s3:ListBuckets", "s3:GetBucketVersioning", "s3:GetBucketLifecycleConfiguration",
                    "s3:GetBucketLocation", "s3:ListObjectsV2", "s3:ListObjectVersions", "s3:GetObject",
                    "backup:CreateBackupPlan", "backup:DeleteBackupPlan", "backup:CreateBackupSelection",
                    "backup:DeleteBackupSelection", "backup:StartBackupJob", "backup:StartRestoreJob",
                    "s3:PutObject", "s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload",
                    "s3:AbortMultipartUpload")),
    Area("Run Command, `opstui run`", ("ssm:ListDocuments", "ssm:DescribeDocument", "ssm:GetDocument",
                                       "ssm:ListCommands", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation",
                                       "logs:FilterLogEvents", "s3:GetObject", "resource-groups:ListGroups",
                                       "resource-groups:ListGroupResources", "ssm:SendCommand",
                                       "ssm:CancelCommand"),
         "SendCommand on the instances and the document; FilterLogEvents on `/aws/ssm/*` or your group; "
         "GetObject on the output bucket (`f`); the nodes' instance profile needs `logs:CreateLogStream`/"
         "`logs:PutLogEvents` (and `s3:PutObject`) for the agent to write the output"),
    Area("Logs, `opstui logs`", ("logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:StartLiveTail",
                                 "logs:FilterLogEvents", "logs:GetLogEvents", "logs:DescribeMetricFilters", "logs:DescribeQueryDefinitions",
                                 "logs:GetQueryResults",
                                 "logs:StartQuery", "logs:StopQuery", "logs:PutMetricFilter",
                                 "logs:DeleteMetricFilter"),
         "StartLiveTail follows (without it, where the endpoint lacks it, or in `--read-only`, following polls "
         "FilterLogEvents); IAM counts StartLiveTail/StartQuery/StopQuery as reads (the managed policy "
         "CloudWatchLogsReadOnlyAccess grants them), but each starts something billed, so the read-only guard "
         "refuses them by name: `--read-only` follows by polling and disables Insights; the metric filter "
         "form's alarm uses Monitoring's `cloudwatch:PutMetricAlarm`; the nodes' instance profile needs "
         "`logs:CreateLogGroup`/`CreateLogStream`/`PutLogEvents` for the agent to ship logs"),
)

#: operations IAM authorises under another action name
_ACTION_NAME: dict[str, str] = {
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
}

#: actions an operation needs besides its own
_ALSO_NEEDS: dict[str, tuple[str, ...]] = {
    "s3:GetObject": ("s3:GetObjectVersion",),  # a point's or an old version's file is read with VersionId
    "backup:StartBackupJob": ("iam:PassRole",),
    "backup:StartRestoreJob": ("iam:PassRole",),
    "backup:CreateBackupSelection": ("iam:PassRole",),
    "synthetics:CreateCanary": ("iam:PassRole", "lambda:CreateFunction", "lambda:AddPermission",
                                "lambda:PublishVersion", "lambda:UpdateFunctionConfiguration",
                                "lambda:GetFunctionConfiguration", "lambda:GetLayerVersionByArn",
                                "lambda:GetLayerVersion", "lambda:PublishLayerVersion"),
}

#: the services a role is passed to (iam:PassRole is limited to them by a condition)
PASS_ROLE_SERVICES = ("backup.amazonaws.com", "lambda.amazonaws.com", "synthetics.amazonaws.com")


def operations() -> list[str]:
    """Every operation of the table, once, sorted."""
    return sorted({op for area in AREAS for op in area.operations})


def is_change(operation: str) -> bool:
    """The read-only guard's own answer: True when read-only mode refuses this operation."""
    return not is_read_operation(operation.split(":", 1)[1])


def iam_action(operation: str) -> str:
    """The IAM action that authorises one operation (what an AccessDenied error names)."""
    return _ACTION_NAME.get(operation, operation)


def actions_for(operation: str) -> list[str]:
    """The IAM actions one operation needs."""
    return [iam_action(operation), *_ALSO_NEEDS.get(operation, ())]


def actions(read_only: bool = False) -> list[str]:
    """Every IAM action opstui needs (only the reads when `read_only`), sorted."""
    return sorted({a for op in operations() if not (read_only and is_change(op)) for a in actions_for(op)})


def policy(read_only: bool = False) -> dict[str, object]:
    """A least-privilege identity policy: the actions opstui calls and no others. Resources are `*`
    (accounts, regions and resource names differ per user); iam:PassRole only toward the services that
    take a role from opstui."""
    wanted = actions(read_only)
    statements: list[dict[str, object]] = [
        {"Sid": "OpstuiReadOnly" if read_only else "Opstui", "Effect": "Allow",
         "Action": [a for a in wanted if a != "iam:PassRole"], "Resource": "*"},
    ]
    if "iam:PassRole" in wanted:
        statements.append({"Sid": "OpstuiPassRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                           "Condition": {"StringEquals": {"iam:PassedToService": list(PASS_ROLE_SERVICES)}}})
    return {"Version": "2012-10-17", "Statement": statements}


def policy_json(read_only: bool = False) -> str:
    return json.dumps(policy(read_only), indent=2) + "\n"


def readme_table() -> str:
    """The README's IAM table: per part of the app, what it reads, then what it changes (refused in
    read-only mode)."""
    lines = ["| Part | Reads | Changes (refused with `--read-only`) | Notes |", "| --- | --- | --- | --- |"]
    for area in AREAS:
        reads = sorted({a for op in area.operations if not is_change(op) for a in actions_for(op)},
                       key=_order(area))
        changes = sorted({a for op in area.operations if is_change(op) for a in actions_for(op)}, key=_order(area))
        lines.append(f"| {area.name} | {', '.join(f'`{a}`' for a in reads) or '-'} | "
                     f"{', '.join(f'`{a}`' for a in changes) or '-'} | {area.note or '-'} |")
    return "\n".join(lines) + "\n"


def _order(area: Area):
    """Actions in the order the table lists their operations (reads as the app uses them, not A-Z)."""
    ranks: dict[str, int] = {}
    for i, op in enumerate(area.operations):
        for a in actions_for(op):
            ranks.setdefault(a, i)
    return lambda a: (ranks[a], a)
