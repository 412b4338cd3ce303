"""Sandbox Synthetics: canaries really request the local storefront; runs, states, paging, metrics, bad input.

Schedules are driven with the sandbox clock (``advance`` one period = one run) and the control endpoint's
"run now", so nothing here waits a real minute.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import webapp
from opstui.sandbox.server import Sandbox
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"
ROLE = "arn:aws:iam::123456789012:role/service-role/CloudWatchSyntheticsRole-test"
ARTIFACTS = "s3://cw-syn-results-123456789012-ap-northeast-1/canary/ap-northeast-1/test"


def blueprint_zip(url: str, timeout_ms: int = 30000) -> bytes:
    """What the app sends: the console heartbeat blueprint zipped under nodejs/node_modules/."""
    script = (
        "const synthetics = require('Synthetics');\n"
        "// See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries.html\n"
        "const loadBlueprint = async function () {\n"
        f"    const urls = ['{url}'];\n"
        "    const page = await synthetics.getPage();\n"
        "    for (const url of urls) {\n"
        f"        const response = await page.goto(url, {{waitUntil: ['domcontentloaded'], timeout: {timeout_ms}}});\n"
        "    }\n"
        "};\n"
        "exports.handler = async () => { return await loadBlueprint(); };\n"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("nodejs/node_modules/pageLoadBlueprint.js", script)
    return buf.getvalue()


def create(syn: Any, name: str, *, url: str | None = None, code: dict[str, Any] | None = None,
           schedule: str = "rate(1 minute)", **extra: Any) -> dict[str, Any]:
    return syn.create_canary(
        Name=name, Code=code or {"Handler": "pageLoadBlueprint.handler", "ZipFile": blueprint_zip(url or "")},
        ArtifactS3Location=ARTIFACTS, ExecutionRoleArn=ROLE, Schedule={"Expression": schedule},
        RuntimeVersion="syn-nodejs-puppeteer-9.1", **extra)["Canary"]


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.03)


def paged(call: Callable[..., Any], **params: Any) -> list[dict[str, Any]]:
    """Every page (botocore has no paginators for Synthetics)."""
    pages = [call(**params)]
    while pages[-1].get("NextToken"):
        pages.append(call(**params, NextToken=pages[-1]["NextToken"]))
    return pages


def state(syn: Any, name: str) -> str:
    return syn.get_canary(Name=name)["Canary"]["Status"]["State"]


def runs(syn: Any, name: str) -> list[dict[str, Any]]:
    return syn.get_canary_runs(Name=name)["CanaryRuns"]


@pytest.fixture(scope="module")
def ctl(default_sandbox: Sandbox) -> SandboxControl:
    return SandboxControl.of(default_sandbox)


@pytest.fixture(scope="module")
def syn(client: Callable[..., Any]) -> Any:
    return client("synthetics", REGION)


@pytest.fixture(autouse=True)
def healthy_storefront(ctl: SandboxControl) -> Any:
    ctl.webapp(health="ok", latency=[2.0, 5.0])
    yield
    ctl.webapp(health="ok", latency=[2.0, 5.0])
    ctl.clock(speed=1)


def ready(syn: Any, name: str, ctl: SandboxControl) -> None:
    ctl.clock(advance=2)  # CREATING -> READY takes one sandbox second
    wait_for(lambda: state(syn, name) == "READY")


def started(syn: Any, name: str, ctl: SandboxControl) -> None:
    syn.start_canary(Name=name)
    assert state(syn, name) == "STARTING"
    ctl.clock(advance=2)
    wait_for(lambda: state(syn, name) == "RUNNING")


# -- the seeded scenario ---------------------------------------------------------------------------------------


def test_seeded_canaries_run_with_a_day_of_history(syn: Any, ctl: SandboxControl) -> None:
    canaries = {c["Name"]: c for c in syn.describe_canaries()["Canaries"]}
    assert {"storefront-heartbeat", "legacy-api-heartbeat"} <= set(canaries)
    store = canaries["storefront-heartbeat"]
    assert store["Status"]["State"] == "RUNNING"
    assert store["Schedule"]["Expression"] == "rate(1 minute)"
    assert store["Code"]["Handler"] == "pageLoadBlueprint.handler"
    urls = {c["Name"]: c["Urls"] for c in ctl.synthetics()["canaries"]}
    assert urls["storefront-heartbeat"] == [ctl.webapp()["url"]]

    pages = paged(syn.get_canary_runs, Name="storefront-heartbeat", MaxResults=100)
    history = [r for p in pages for r in p["CanaryRuns"]]
    assert len(pages) >= 14 and len(history) >= 1430  # one run a minute for 24 hours
    started_at = [r["Timeline"]["Started"] for r in history]
    assert started_at == sorted(started_at, reverse=True)  # newest first
    assert started_at[0] - started_at[-1] > dt.timedelta(hours=23, minutes=50)
    states = {r["Status"]["State"] for r in history} - {"RUNNING"}  # a scheduled run may be in flight
    assert states == {"PASSED", "FAILED"}  # the storefront's slow spells show in its history
    assert sum(r["Status"]["State"] == "PASSED" for r in history) / len(history) > 0.8

    last = {r["CanaryName"]: r["LastRun"] for r in syn.describe_canaries_last_run()["CanariesLastRun"]}
    legacy = last["legacy-api-heartbeat"]["Status"]
    assert legacy["State"] == "FAILED" and legacy["StateReasonCode"] == "CANARY_FAILURE"
    assert legacy["StateReason"].startswith("Error: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:")
    legacy_runs = runs(syn, "legacy-api-heartbeat")
    assert any(r["Status"]["State"] == "PASSED" for r in
               syn.get_canary_runs(Name="legacy-api-heartbeat", MaxResults=100,
                                   NextToken=syn.get_canary_runs(Name="legacy-api-heartbeat")["NextToken"])
               ["CanaryRuns"])  # it passed before it broke, three hours ago
    assert all(r["Status"]["State"] == "FAILED" for r in legacy_runs[:30])


def test_seeded_history_is_in_the_metrics(client: Callable[..., Any]) -> None:
    cw = client("cloudwatch", REGION)
    now = dt.datetime.now(dt.UTC)
    got = cw.get_metric_statistics(Namespace="CloudWatchSynthetics", MetricName="SuccessPercent",
                                   Dimensions=[{"Name": "CanaryName", "Value": "legacy-api-heartbeat"}],
                                   StartTime=now - dt.timedelta(hours=24), EndTime=now, Period=3600,
                                   Statistics=["Average"])
    points = sorted(got["Datapoints"], key=lambda p: p["Timestamp"])
    assert len(points) >= 23
    assert points[0]["Average"] == 100.0 and points[-1]["Average"] == 0.0
    durations = cw.get_metric_statistics(Namespace="CloudWatchSynthetics", MetricName="Duration",
                                         Dimensions=[{"Name": "CanaryName", "Value": "storefront-heartbeat"}],
                                         StartTime=now - dt.timedelta(hours=3), EndTime=now, Period=300,
                                         Statistics=["Maximum"], Unit="Milliseconds")["Datapoints"]
    assert len(durations) >= 30


# -- runs follow the storefront's health -----------------------------------------------------------------------


def test_runs_pass_and_fail_as_the_storefront_health_changes(syn: Any, ctl: SandboxControl,
                                                             client: Callable[..., Any]) -> None:
    url = ctl.webapp()["url"]
    ok = ctl.canary_run("storefront-heartbeat")
    assert ok["Status"] == {"State": "PASSED", "TestResult": "PASSED"}

    ctl.webapp(health="down")
    down = ctl.canary_run("storefront-heartbeat")
    assert down["Status"]["State"] == "FAILED"
    assert down["Status"]["StateReason"] == f"Error: Failed to load url: {url} 503 Service Unavailable"

    # slow: 40-45 s responses against the heartbeat blueprint's 30000 ms navigation timeout (at 100x: 0.4 s
    # real); the run also takes the runtime's own 1.0-1.5 s (browser launch, report, upload)
    ctl.clock(speed=100)
    ctl.webapp(health="slow", latency=[40.0, 45.0])
    slow = ctl.canary_run("storefront-heartbeat")
    assert slow["Status"]["StateReason"] == "TimeoutError: Navigation timeout of 30000 ms exceeded"
    assert 31.0 <= slow["Timeline"]["Completed"] - slow["Timeline"]["Started"] <= 31.51
    ctl.clock(speed=20)
    ctl.webapp(health="slow", latency=[1.0, 1.5])  # slow but within the timeout: passes, and takes longer
    passed_slowly = ctl.canary_run("storefront-heartbeat")
    assert passed_slowly["Status"]["State"] == "PASSED"
    assert passed_slowly["Timeline"]["Completed"] - passed_slowly["Timeline"]["Started"] >= 1.0
    ctl.clock(speed=1)

    newest = runs(syn, "storefront-heartbeat")[:4]
    assert [r["Id"] for r in newest] == [passed_slowly["Id"], slow["Id"], down["Id"], ok["Id"]]
    last = syn.describe_canaries_last_run(Names=["storefront-heartbeat"])["CanariesLastRun"]
    assert [r["LastRun"]["Id"] for r in last] == [passed_slowly["Id"]]

    cw = client("cloudwatch", REGION)
    now = dt.datetime.now(dt.UTC)
    got = cw.get_metric_data(MetricDataQueries=[{
        "Id": "s", "MetricStat": {"Metric": {"Namespace": "CloudWatchSynthetics", "MetricName": "SuccessPercent",
                                             "Dimensions": [{"Name": "CanaryName", "Value": "storefront-heartbeat"}]},
                                  "Period": 60, "Stat": "SampleCount"}}],
        StartTime=now - dt.timedelta(minutes=2), EndTime=now + dt.timedelta(minutes=1))
    assert sum(got["MetricDataResults"][0]["Values"]) >= 4  # one SuccessPercent point per run


def test_a_created_canary_runs_on_its_schedule(syn: Any, ctl: SandboxControl) -> None:
    url = ctl.webapp()["url"] + "health"
    canary = create(syn, "shop-health", url=url, Tags={"team": "web"})
    assert canary["Status"]["State"] == "CREATING"
    assert canary["Status"]["StateReasonCode"] == "CREATE_IN_PROGRESS"
    assert canary["RunConfig"]["TimeoutInSeconds"] == 60  # the frequency, when not given
    with pytest.raises(ClientError) as err:
        syn.start_canary(Name="shop-health")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    ready(syn, "shop-health", ctl)
    assert runs(syn, "shop-health") == []
    started(syn, "shop-health", ctl)
    first = wait_for(lambda: runs(syn, "shop-health"))  # the first run comes at once
    wait_for(lambda: runs(syn, "shop-health")[0]["Status"]["State"] != "RUNNING")
    assert runs(syn, "shop-health")[0]["Status"]["State"] == "PASSED"
    assert first[0]["ArtifactS3Location"].startswith(ARTIFACTS.removeprefix("s3://") + "/")

    ctl.webapp(health="down")
    ctl.clock(advance=60)  # one period later: the next run, against a storefront that is down now
    wait_for(lambda: len(runs(syn, "shop-health")) == 2 and runs(syn, "shop-health")[0]["Status"]["State"] != "RUNNING")
    failed = runs(syn, "shop-health")[0]["Status"]
    assert failed["StateReason"] == f"Error: Failed to load url: {url} 503 Service Unavailable"

    ctl.webapp(health="ok")
    ctl.clock(advance=3600)  # a jump of an hour: one run, not sixty
    wait_for(lambda: len(runs(syn, "shop-health")) == 3 and runs(syn, "shop-health")[0]["Status"]["State"] != "RUNNING")
    time.sleep(0.3)
    assert len(runs(syn, "shop-health")) == 3
    assert runs(syn, "shop-health")[0]["Status"]["State"] == "PASSED"

    with pytest.raises(ClientError) as err:
        syn.start_canary(Name="shop-health")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as err:
        syn.delete_canary(Name="shop-health")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    syn.stop_canary(Name="shop-health")
    assert state(syn, "shop-health") == "STOPPING"
    ctl.clock(advance=2)
    wait_for(lambda: state(syn, "shop-health") == "STOPPED")
    got = syn.get_canary(Name="shop-health")["Canary"]
    assert got["Timeline"]["LastStopped"] >= got["Timeline"]["LastStarted"]
    ctl.clock(advance=120)
    time.sleep(0.3)
    assert len(runs(syn, "shop-health")) == 3  # stopped: no more runs
    with pytest.raises(ClientError) as err:
        syn.stop_canary(Name="shop-health")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    arn = f"arn:aws:synthetics:{REGION}:123456789012:canary:shop-health"
    assert syn.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "web"}
    syn.delete_canary(Name="shop-health")
    with pytest.raises(ClientError) as err:
        syn.get_canary(Name="shop-health")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rate_zero_runs_once_and_url_from_environment(syn: Any, ctl: SandboxControl, client: Callable[..., Any]) -> None:
    script = b"const u = process.env.TARGET_URL;\nexports.handler = async () => { await page.goto(u); };\n"
    create(syn, "once-env", code={"Handler": "index.handler", "ZipFile": script}, schedule="rate(0 minute)",
           RunConfig={"TimeoutInSeconds": 30, "EnvironmentVariables": {"TARGET_URL": ctl.webapp()["url"]}})
    ready(syn, "once-env", ctl)
    started(syn, "once-env", ctl)
    wait_for(lambda: state(syn, "once-env") == "STOPPED")
    assert [r["Status"]["State"] for r in runs(syn, "once-env")] == ["PASSED"]
    # UpdateCanary: a new environment points the same script elsewhere (a page the storefront does not have)
    missing_page = ctl.webapp()["url"] + "no-such-page"
    syn.update_canary(Name="once-env", RunConfig={"TimeoutInSeconds": 30,
                                                  "EnvironmentVariables": {"TARGET_URL": missing_page}})
    started(syn, "once-env", ctl)
    wait_for(lambda: state(syn, "once-env") == "STOPPED")
    assert runs(syn, "once-env")[0]["Status"]["StateReason"] == (
        f"Error: Failed to load url: {missing_page} 404 Not Found")

    # code from S3 (the handler file found in the zip), a URL that is not valid, a host off this machine
    s3 = client("s3", REGION)
    s3.create_bucket(Bucket="canary-code", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="canary-code", Key="bad.zip", Body=blueprint_zip("htp:/storefront"))
    create(syn, "bad-url", code={"Handler": "pageLoadBlueprint.handler", "S3Bucket": "canary-code",
                                 "S3Key": "bad.zip"})
    create(syn, "far-away", url="https://www.example.com/")
    ready(syn, "far-away", ctl)
    bad = ctl.canary_run("bad-url")["Status"]
    assert bad["State"] == "FAILED"
    assert bad["StateReason"] == "Error: Protocol error (Page.navigate): Cannot navigate to invalid URL"
    far = ctl.canary_run("far-away")["Status"]
    assert far["StateReason"] == "Error: net::ERR_NAME_NOT_RESOLVED at https://www.example.com/"
    missing = {"Handler": "other.handler", "ZipFile": blueprint_zip(ctl.webapp()["url"])}
    create(syn, "no-module", code=missing)
    assert ctl.canary_run("no-module")["Status"]["StateReasonCode"] == "EXECUTION_FAILURE"


# -- reading: filters and paging -------------------------------------------------------------------------------


def test_describe_canaries_names_and_paging(syn: Any) -> None:
    names = [f"page-{i:02d}" for i in range(23)]
    for name in names:
        create(syn, name, url="http://127.0.0.1:9/")
    everything = [c["Name"] for p in paged(syn.describe_canaries) for c in p["Canaries"]]
    assert set(names) <= set(everything) and len(everything) == len(set(everything))
    first = syn.describe_canaries()
    assert len(first["Canaries"]) == 20 and "NextToken" in first
    small = syn.describe_canaries(MaxResults=3)
    assert len(small["Canaries"]) == 3
    picked = syn.describe_canaries(Names=["page-03", "page-07", "nope"])["Canaries"]
    assert [c["Name"] for c in picked] == ["page-03", "page-07"]
    for bad in ({"Names": [f"page-{i:02d}" for i in range(6)]}, {"MaxResults": 21}, {"NextToken": "garbage"}):
        with pytest.raises(ClientError) as err:
            syn.describe_canaries(**bad)
        assert err.value.response["Error"]["Code"] == "ValidationException", bad
    with pytest.raises(ClientError) as err:
        syn.get_canary_runs(Name="storefront-heartbeat", MaxResults=101)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        syn.get_canary_runs(Name="nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # canaries that never ran have no last run
    last = syn.describe_canaries_last_run(Names=["page-01", "storefront-heartbeat"])["CanariesLastRun"]
    assert [r["CanaryName"] for r in last] == ["storefront-heartbeat"]


# -- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "words"), [
    ({"schedule": "rate(30 seconds)"}, "Invalid schedule expression"),
    ({"schedule": "rate(0.5 minutes)"}, "Invalid schedule expression"),
    ({"schedule": "rate(2 hours)"}, "between rate(1 minute) and rate(1 hour)"),
    ({"schedule": "cron(0 12 * * * *)"}, "Invalid schedule expression"),
    ({"name": "Storefront"}, "regular expression"),
    ({"name": "x" * 256}, "regular expression"),
    ({"name": "storefront-heartbeat"}, "already exists"),
    ({"RunConfig": {"TimeoutInSeconds": 120}}, "can't be longer than the frequency"),
    ({"schedule": "rate(1 hour)", "RunConfig": {"TimeoutInSeconds": 900}}, "between 3 and 840"),
    ({"ExecutionRoleArn": "CloudWatchSyntheticsRole"}, "executionRoleArn"),
    ({"RuntimeVersion": "nodejs-18"}, "Invalid runtime version"),
    ({"code": {"Handler": "pageLoadBlueprint.handler"}}, "ZipFile"),
    ({"code": {"Handler": "not a handler", "ZipFile": b"x"}}, "Invalid handler"),
])
def test_create_canary_rejects_like_aws(syn: Any, change: dict[str, Any], words: str) -> None:
    args: dict[str, Any] = {"Name": change.get("name", "bad-input"),
                            "Code": change.get("code", {"Handler": "pageLoadBlueprint.handler",
                                                        "ZipFile": blueprint_zip("http://127.0.0.1:9/")}),
                            "ArtifactS3Location": ARTIFACTS, "ExecutionRoleArn": ROLE,
                            "Schedule": {"Expression": change.get("schedule", "rate(1 minute)")},
                            "RuntimeVersion": "syn-nodejs-puppeteer-9.1"}
    args.update({k: v for k, v in change.items() if k[0].isupper()})
    with pytest.raises(ClientError) as err:
        syn.create_canary(**args)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert words in err.value.response["Error"]["Message"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_good_schedules_accepted(syn: Any) -> None:
    for i, expr in enumerate(["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(0 hour)",
                              "cron(0/10 * * * ? *)", "cron(0 9 ? * MON-FRI *)"]):
        got = create(syn, f"sched-{i}", url="http://127.0.0.1:9/", schedule=expr)
        assert got["Schedule"]["Expression"] == expr


# -- the storefront web app ------------------------------------------------------------------------------------


def test_storefront_health_knob_and_live_schedule(ctl: SandboxControl) -> None:
    url = ctl.webapp()["url"]
    with urllib.request.urlopen(url + "health", timeout=5) as resp:
        assert resp.status == 200 and json.load(resp) == {"status": "ok", "service": "storefront"}
    ctl.webapp(health="down")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 503
    ctl.clock(speed=50)
    ctl.webapp(health="slow", latency=[2.0, 2.0])  # 2 sandbox seconds = 40 ms at 50x
    began = time.monotonic()
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as resp:
        assert resp.status == 200
    # 2 sandbox seconds at 50x: slower than an ok answer, and well under the 2 real seconds it would take unscaled
    assert 0.035 <= time.monotonic() - began < 2.0
    with pytest.raises(urllib.error.HTTPError) as err:
        ctl.webapp(health="sideways")
    assert err.value.code == 400
    assert ctl.webapp(health="auto")["mode"] == "auto"

    # left to itself (live mode): mostly ok, slow spells of 1-3 minutes, now and then a 1-minute outage
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    days = [webapp.scheduled_health(start + dt.timedelta(minutes=m), 42) for m in range(3 * 24 * 60)]
    assert days.count("ok") / len(days) > 0.85
    assert days.count("slow") >= 60 and 0 < days.count("down") <= 60
    assert webapp.WebApp(auto=True).mode == "auto" and webapp.WebApp(auto=False).mode == "ok"
