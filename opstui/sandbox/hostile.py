"""The hostile scenario beyond the nodes: alarms, notifications and files whose text attacks the renderer.

The hostile scenario (:mod:`.scenarios`) puts markup, escape sequences, strings as long as AWS allows and double-width text in
the nodes' names and tags. This module carries the same strings into what the other tabs show, so the UI-wide
hostile sweep (``tests/views/test_hostile_sweep.py``) finds them on every tab:

* CloudWatch alarms on an application metric of the first node whose names carry markup and wide text (AWS
  allows any printable name) and whose state reason carries escape sequences (SetAlarmState takes free text),
  kept in ALARM: the metric has no data and missing data is ignored, so the evaluator keeps the state, as AWS
  does;
* an SNS topic with an http subscription whose URL path carries markup;
* an S3 bucket whose object keys carry markup, wide text and C0 control characters -- an OSC title sequence
  (``\x1b]0;pwned\x07``) and a clear-screen (``\x1b[2J``) inside key names, as any UTF-8 is a valid S3 key;
  they reach the app URL-encoded (``encoding-type=url``, :mod:`.s3_listing`) and botocore decodes them back to
  the raw characters -- and in versions (the bucket is versioned), so the Backup tab's version view meets them;
* backup jobs of the hostile nodes (their names come from the Name tags: markup, U+FFFD for what EC2 cannot
  carry), failed or completed with issues, whose status message quotes a Windows VSS writer's name as the
  machine reports it: text from a machine we don't control, escape sequences included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends

from .extension import Extension
from .scenarios import HOSTILE_STRINGS, PRIMARY, Scenario

if TYPE_CHECKING:
    from .server import Sandbox

TOPIC = "hostile-alerts"
BUCKET = "opstui-hostile-{account}"
#: S3 keys with terminal control sequences inside their names (a "folder" and plain objects)
CONTROL_KEYS = (f"logs/{HOSTILE_STRINGS['osc_title']}/app.log",
                f"backup-{HOSTILE_STRINGS['clear_screen']}-{HOSTILE_STRINGS['osc_title']}.tar.gz",
                f"{HOSTILE_STRINGS['sgr_red']}\x07bell.txt")


def seed(scenario: Scenario) -> dict[str, Any]:
    """Only for the hostile scenario; a no-op otherwise."""
    if scenario.name != "hostile":
        return {}
    h = HOSTILE_STRINGS
    account = scenario.account_id
    iid = scenario.nodes[0].instance_id
    topic = sns_backends[account][PRIMARY].create_topic(TOPIC)
    sns_backends[account][PRIMARY].subscribe(topic.arn, f"http://127.0.0.1:9/{h['markup']}", "http")
    cw = cloudwatch_backends[account][PRIMARY]
    names = [f"{h['markup']} cpu", f"{h['rich_link']} {h['wide']}", f"{h['rich_bold']} cpu"]
    for name in names:
        cw.put_metric_alarm(
            name=name, namespace="Storefront/App", metric_name="Errors",
            comparison_operator="GreaterThanThreshold", evaluation_periods=1, datapoints_to_alarm=1, period=300,
            threshold=80.0, statistic="Average", description=h["osc_title"] + h["clear_screen"] + h["markup"],
            dimensions=[{"Name": "InstanceId", "Value": iid}], alarm_actions=[topic.arn], ok_actions=[],
            unit=None, treat_missing_data="ignore")
        cw.set_alarm_state(name, h["osc_title"] + h["sgr_red"] + h["markup"] + h["newlines"], None, "ALARM")
    s3 = s3_backends[account]["global"]
    bucket = BUCKET.format(account=account)
    s3.create_bucket(bucket, PRIMARY)
    s3.put_bucket_versioning(bucket, "Enabled")
    for key in (f"{h['markup']}/report.txt", f"{h['rich_link']}.log", f"{h['wide']}/{h['rich_red']}.tar.gz",
                *CONTROL_KEYS):
        s3.put_object(bucket, key, b"hostile\n")
    for key in CONTROL_KEYS:  # a second version of each: the version list shows them twice
        s3.put_object(bucket, key, b"hostile, again\n")
    jobs = _backup_jobs(account, h)
    return {"alarms": names, "topic": topic.arn, "bucket": bucket, "backup_jobs": jobs}


def _backup_jobs(account: str, h: dict[str, str]) -> int:
    from . import backup, clock

    store = backup.store(account, PRIMARY)
    role = f"arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"
    created = clock.now().timestamp() - 3 * 3600
    resources = backup.ec2_resources(account, PRIMARY)[:3]
    for n, res in enumerate(resources):  # for each: a failed job and one completed with issues (a point)
        for m, outcome in enumerate(("FAILED", "ISSUES")):
            job = backup.create_job(store, res, "Default", role, created + (2 * n + m) * 60, 60, 180, None, None,
                                    [], start_delay=60, forced=outcome, backup_options={"WindowsVSS": "enabled"})
            job.message = f"Windows VSS writer {h['osc_title']}{h['clear_screen']}{h['markup']} failed: {h['sgr_red']}"
    return 2 * len(resources)


class Hostile(Extension):
    """Seeds the hostile strings once the endpoint answers (after Backup in start order: it adds jobs)."""

    name = "hostile"

    def start(self, sandbox: Sandbox) -> None:
        if sandbox.scenario_data is not None:
            seed(sandbox.scenario_data)


EXTENSION = Hostile()
