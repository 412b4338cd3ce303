"""CloudWatch Synthetics: canaries, their runs, start/stop, and the heartbeat canary of the console's blueprint.

A canary is "is the service up, seen from outside": its last run (DescribeCanariesLastRun) says whether the
service answered, GetCanaryRuns gives the history, and the CloudWatchSynthetics SuccessPercent / Duration
metrics (dimension CanaryName) give the last 24 hours as a series.

The heartbeat canary is created the way the console's "Heartbeat monitoring" blueprint does: a Node.js
Puppeteer script (`pageLoadBlueprint.js`, zipped under nodejs/node_modules/) that loads the URL and fails on a
status outside 200-299, an execution role, an S3 location for the artifacts, and a rate schedule. Name, URL
and schedule are checked here first (`heartbeat_problems`) so the form can name each mistake.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from opstui.aws.clients import AwsClients
from opstui.aws.models import utc
from opstui.aws.monitoring_models import Canary, CanaryRun, HeartbeatSpec

READY_WAITS = 20
PAGE = 20  # DescribeCanaries / DescribeCanariesLastRun MaxResults for a Names-less call
HANDLER = "pageLoadBlueprint.handler"
SCRIPT_PATH = "nodejs/node_modules/pageLoadBlueprint.js"
_NAME = re.compile(r"^[0-9a-z_\-]{1,255}$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours)\)$")


def run_from_api(raw: dict[str, Any], name: str = "") -> CanaryRun:
    status = raw.get("Status") or {}
    timeline = raw.get("Timeline") or {}
    return CanaryRun(
        id=str(raw.get("Id", "")),
        name=str(raw.get("Name") or name),
        status=str(status.get("State", "")),
        reason=str(status.get("StateReason") or ""),
        started=utc(timeline.get("Started")),
        completed=utc(timeline.get("Completed")),
        artifact=str(raw.get("ArtifactS3Location") or ""),
    )


def canary_from_api(raw: dict[str, Any], region: str, last_run: CanaryRun | None = None) -> Canary:
    status = raw.get("Status") or {}
    code = raw.get("Code") or {}
    return Canary(
        name=str(raw.get("Name", "")),
        region=region,
        state=str(status.get("State", "")),
        state_reason=str(status.get("StateReason") or ""),
        schedule=str((raw.get("Schedule") or {}).get("Expression", "")),
        runtime=str(raw.get("RuntimeVersion", "")),
        handler=str(code.get("Handler", "")),
        artifact_location=str(raw.get("ArtifactS3Location", "")),
        execution_role=str(raw.get("ExecutionRoleArn", "")),
        last_run=last_run,
    )


async def _paged(aws: AwsClients, region: str, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """botocore has no paginators for Synthetics: follow NextToken here."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = await aws.call("synthetics", region, operation, **params, **({"NextToken": token} if token else {}))
        items.extend(page.get(key) or ())
        token = page.get("NextToken")
        if not token:
            return items


async def last_runs(aws: AwsClients, region: str) -> dict[str, CanaryRun]:
    """Canary name -> its most recent run."""
    runs: dict[str, CanaryRun] = {}
    for item in await _paged(aws, region, "describe_canaries_last_run", "CanariesLastRun", MaxResults=PAGE):
        name = str(item.get("CanaryName", ""))
        if item.get("LastRun"):
            runs[name] = run_from_api(item["LastRun"], name)
    return runs


async def describe_canaries(aws: AwsClients, region: str, *, with_last_run: bool = True) -> list[Canary]:
    """Every canary of the region with its last run (two paged calls, whatever the number of canaries)."""
    raw = await _paged(aws, region, "describe_canaries", "Canaries", MaxResults=PAGE)
    runs = await last_runs(aws, region) if with_last_run and raw else {}
    canaries = [canary_from_api(c, region, runs.get(str(c.get("Name", "")))) for c in raw]
    return sorted(canaries, key=lambda c: c.name)


async def canary_runs(aws: AwsClients, region: str, name: str, *, max_runs: int = 100) -> list[CanaryRun]:
    """The newest runs of one canary, newest first (AWS keeps them for the retention period)."""
    runs: list[CanaryRun] = []
    token: str | None = None
    while len(runs) < max_runs:
        page = await aws.call("synthetics", region, "get_canary_runs", Name=name, MaxResults=min(100, max_runs),
                              **({"NextToken": token} if token else {}))
        runs.extend(run_from_api(r, name) for r in page.get("CanaryRuns") or ())
        token = page.get("NextToken")
        if not token:
            break
    runs.sort(key=lambda r: r.started or datetime.min.replace(tzinfo=UTC), reverse=True)
    return runs[:max_runs]


async def start_canary(aws: AwsClients, region: str, name: str) -> None:
    await aws.call("synthetics", region, "start_canary", Name=name)


async def stop_canary(aws: AwsClients, region: str, name: str) -> None:
    await aws.call("synthetics", region, "stop_canary", Name=name)


def rate_minutes(expression: str) -> float | None:
    """Minutes between runs of `rate(N unit)`; None when the text is not a rate expression."""
    m = _RATE.match(expression.strip())
    if not m:
        return None
    n = int(m.group(1))
    return float(n * 60 if m.group(2).startswith("hour") else n)


def heartbeat_problems(name: str, url: str, schedule: str, role: str = "x", artifacts: str = "s3://x") -> list[str]:
    """Everything wrong with a heartbeat canary's fields, in words for the form (empty: fine)."""
    problems: list[str] = []
    if not _NAME.match(name.strip()):
        problems.append("name: 1 to 255 lowercase letters, digits, - or _ (e.g. storefront-heartbeat)")
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in url.strip()):
        problems.append(f"URL: {url.strip()!r} is not an http:// or https:// URL")
    minutes = rate_minutes(schedule)
    if minutes is None:
        problems.append(f"schedule: {schedule.strip()!r} is not a rate expression like rate(5 minutes)")
    elif minutes < 1:
        problems.append("schedule: at least rate(1 minute) (AWS runs canaries at most once a minute)")
    elif minutes > 60 * 24 * 7:
        problems.append("schedule: at most once a week")
    if not role.strip().startswith("arn:"):
        problems.append("execution role: an IAM role ARN (arn:aws:iam::<account>:role/...)")
    if not artifacts.strip().startswith("s3://"):
        problems.append("artifacts: an S3 location (s3://bucket/prefix/)")
    return problems


def heartbeat_script(url: str) -> str:
    """The console's heartbeat blueprint (page load of one URL), with the URL as a JSON string literal."""
    return f"""const {{ URL }} = require('url');
const synthetics = require('Synthetics');
const log = require('SyntheticsLogger');
const syntheticsConfiguration = synthetics.getConfiguration();
const syntheticsLogHelper = require('SyntheticsLogHelper');

const loadBlueprint = async function () {{
    const urls = [{json.dumps(url)}];
    syntheticsConfiguration.disableStepScreenshots();
    syntheticsConfiguration.setConfig({{ continueOnStepFailure: true }});
    const page = await synthetics.getPage();
    for (const url of urls) {{
        await loadUrl(page, url);
    }}
}};

const loadUrl = async function (page, url) {{
    let stepName = url;
    try {{ stepName = new URL(url).hostname; }} catch (e) {{ log.error(`Invalid URL ${{url}}`); throw e; }}
    await synthetics.executeStep(stepName, async function () {{
        const sanitizedUrl = syntheticsLogHelper.getSanitizedUrl(url);
        const response = await page.goto(url, {{ waitUntil: ['domcontentloaded'], timeout: 30000 }});
        if (!response) {{
            throw new Error(`No response returned for url: ${{sanitizedUrl}}`);
        }}
        if (response.status() < 200 || response.status() > 299) {{
            throw new Error(`Failed to load url: ${{sanitizedUrl}} ${{response.status()}} ${{response.statusText()}}`);
        }}
    }});
}};

exports.handler = async () => {{
    return await loadBlueprint();
}};
"""


def heartbeat_zip(url: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(SCRIPT_PATH, date_time=(2024, 1, 1, 0, 0, 0))
        zf.writestr(info, heartbeat_script(url))
    return buffer.getvalue()


async def create_heartbeat(aws: AwsClients, spec: HeartbeatSpec) -> Canary:
    """CreateCanary with the heartbeat blueprint, then StartCanary when `spec.start` (AWS creates it stopped).
    Raises ValueError listing the problems before anything is sent."""
    problems = heartbeat_problems(spec.name, spec.url, spec.schedule, spec.execution_role, spec.artifact_location)
    if problems:
        raise ValueError("; ".join(problems))
    minutes = rate_minutes(spec.schedule) or 1
    answer = await aws.call(
        "synthetics", spec.region, "create_canary",
        Name=spec.name.strip(),
        Code={"Handler": HANDLER, "ZipFile": heartbeat_zip(spec.url.strip())},
        ArtifactS3Location=spec.artifact_location.strip(),
        ExecutionRoleArn=spec.execution_role.strip(),
        Schedule={"Expression": spec.schedule.strip()},
        RunConfig={"TimeoutInSeconds": int(min(spec.timeout_seconds, minutes * 60, 840))},
        SuccessRetentionPeriodInDays=31,
        FailureRetentionPeriodInDays=31,
        RuntimeVersion=spec.runtime,
        Tags={"opstui:blueprint": "heartbeat", "opstui:url": spec.url.strip()[:256]},
    )
    canary = canary_from_api(answer.get("Canary") or {}, spec.region)
    name = canary.name or spec.name.strip()
    if spec.start:
        # AWS creates the canary in CREATING and refuses StartCanary until it is READY (a few seconds)
        for _ in range(READY_WAITS):
            if canary.state not in ("CREATING", "UPDATING"):
                break
            await asyncio.sleep(1)
            canary = canary_from_api((await aws.call("synthetics", spec.region, "get_canary", Name=name))
                                     .get("Canary") or {}, spec.region)
        await start_canary(aws, spec.region, name)
    return canary
