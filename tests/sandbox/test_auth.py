"""The sandbox answers only to the holder of its per-run credentials (real HTTP, real signatures).

Each refused request is checked twice: the error AWS gives in that service's protocol (as botocore parses
it), and that it had no effect (no command ran, no state changed).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opstui.sandbox import webapp
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = Sandbox(live=False, seed=42, state_dir=tmp_path_factory.mktemp("auth"))
    box.start()
    SandboxControl.of(box).run_command_configure(delivery_delay=0.02, simulated_step_seconds=0.02)
    yield box
    box.stop()


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> Callable[..., Any]:
    return make_client_factory(sb)


def stranger(sb: Sandbox, service: str, key: str | None = None, secret: str | None = None) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=sb.endpoint, config=NO_RETRY,
                        aws_access_key_id=key or sb.credentials.access_key_id,
                        aws_secret_access_key=secret or sb.credentials.secret_access_key)


def linux_node(sb: Sandbox) -> str:
    return next(n.instance_id for n in sb.scenario_data.nodes
                if n.region == REGION and n.tags.get("Name") == "prod-web-01")


def command_ids(client: Callable[..., Any]) -> set[str]:
    return {c["CommandId"] for c in client("ssm").list_commands()["Commands"]}


def send_touch(ssm: Any, sb: Sandbox, marker: Path) -> None:
    ssm.send_command(InstanceIds=[linux_node(sb)], DocumentName="AWS-RunShellScript",
                     Parameters={"commands": [f"touch {marker}"]})


def raw(sb: Sandbox, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
        port: int | None = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request with exactly these headers (Host included when given), as a browser or a stranger."""
    url = urlsplit(sb.endpoint)
    conn = http.client.HTTPConnection(url.hostname, port or url.port, timeout=10)
    hdrs = dict(headers or {})
    conn.putrequest(method, path, skip_host="Host" in hdrs, skip_accept_encoding=True)
    for k, v in hdrs.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def assert_not_run(client: Callable[..., Any], before: set[str], marker: Path) -> None:
    time.sleep(0.5)  # a command that had been accepted would have run by now (steps take 0.02 s here)
    assert not marker.exists()
    assert command_ids(client) == before


# -- AWS requests ---------------------------------------------------------------------------------------------

def test_a_forged_signature_is_refused_and_the_command_never_runs(sb, client, tmp_path):
    marker = tmp_path / "forged"
    before = command_ids(client)
    body = json.dumps({"InstanceIds": [linux_node(sb)], "DocumentName": "AWS-RunShellScript",
                       "Parameters": {"commands": [f"touch {marker}"]}}).encode()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    host = urlsplit(sb.endpoint).netloc
    status, _, data = raw(sb, "POST", "/", body, {
        "Host": host, "X-Amz-Target": "AmazonSSM.SendCommand", "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Date": stamp,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={sb.credentials.access_key_id}/{stamp[:8]}/{REGION}/ssm/"
                         f"aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature={'0' * 64}"})
    assert status == 400 and json.loads(data)["__type"] == "InvalidSignatureException"
    assert_not_run(client, before, marker)


@pytest.mark.parametrize("key", ["AKIAIOSFODNN7EXAMPLE", "testing"])
def test_an_unknown_access_key_is_refused_and_the_command_never_runs(sb, client, tmp_path, key):
    marker = tmp_path / "unknown-key"
    before = command_ids(client)
    with pytest.raises(ClientError) as err:
        send_touch(stranger(sb, "ssm", key=key, secret="testing"), sb, marker)
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert_not_run(client, before, marker)


def test_the_right_key_with_a_wrong_secret_is_refused_and_the_command_never_runs(sb, client, tmp_path):
    marker = tmp_path / "wrong-secret"
    before = command_ids(client)
    with pytest.raises(ClientError) as err:
        send_touch(stranger(sb, "ssm", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), sb, marker)
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert_not_run(client, before, marker)


def test_an_unsigned_request_is_refused_and_the_command_never_runs(sb, client, tmp_path):
    marker = tmp_path / "unsigned"
    before = command_ids(client)
    body = json.dumps({"InstanceIds": [linux_node(sb)], "DocumentName": "AWS-RunShellScript",
                       "Parameters": {"commands": [f"touch {marker}"]}}).encode()
    status, _, data = raw(sb, "POST", "/", body, {
        "Host": urlsplit(sb.endpoint).netloc, "X-Amz-Target": "AmazonSSM.SendCommand",
        "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400 and json.loads(data)["__type"] == "MissingAuthenticationTokenException"
    assert_not_run(client, before, marker)


@pytest.mark.parametrize("minutes", [-20, 20])
def test_a_request_dated_more_than_15_minutes_off_the_real_clock_is_refused(sb, client, tmp_path, monkeypatch,
                                                                            minutes):
    marker = tmp_path / f"skew{minutes}"
    before = command_ids(client)
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() + dt.timedelta(minutes=minutes))
    with pytest.raises(ClientError) as err:
        send_touch(stranger(sb, "ssm"), sb, marker)
    # SSM (JSON protocol) answers a skewed clock with InvalidSignatureException, S3 with RequestTimeTooSkewed
    error = err.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith("Signature expired" if minutes < 0 else "Signature not yet current")
    with pytest.raises(ClientError) as err:
        stranger(sb, "s3").list_buckets()
    assert err.value.response["Error"]["Code"] == "RequestTimeTooSkewed"
    monkeypatch.setattr(botocore.auth, "get_current_datetime", real)
    assert_not_run(client, before, marker)


def test_fourteen_minutes_of_skew_is_still_accepted(sb, monkeypatch):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - dt.timedelta(minutes=14))
    assert stranger(sb, "sts").get_caller_identity()["Arn"].endswith(":user/sandbox-operator")


@pytest.mark.parametrize(("service", "call", "unknown", "bad_sig"), [
    ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId", "SignatureDoesNotMatch"),
    ("ec2", lambda c: c.describe_instances(), "AuthFailure", "SignatureDoesNotMatch"),
    ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId", "SignatureDoesNotMatch"),
    ("backup", lambda c: c.list_backup_plans(), "UnrecognizedClientException", "InvalidSignatureException"),
    ("cloudwatch", lambda c: c.describe_alarms(), "UnrecognizedClientException", "InvalidSignatureException"),
    ("sns", lambda c: c.list_topics(), "InvalidClientTokenId", "SignatureDoesNotMatch"),
])
def test_each_protocol_refuses_with_its_own_error_codes(sb, service, call, unknown, bad_sig):
    with pytest.raises(ClientError) as err:
        call(stranger(sb, service, key="AKIAIOSFODNN7EXAMPLE"))
    assert err.value.response["Error"]["Code"] == unknown
    with pytest.raises(ClientError) as err:
        call(stranger(sb, service, secret="x" * 40))
    assert err.value.response["Error"]["Code"] == bad_sig
    call(stranger(sb, service))  # and the run's own pair works


def test_a_refused_s3_put_changes_nothing(sb, client):
    s3 = client("s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    with pytest.raises(ClientError):
        stranger(sb, "s3", secret="y" * 40).put_object(Bucket=bucket, Key="forged.txt", Body=b"x")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="forged.txt")


def test_a_body_that_does_not_match_its_signed_hash_is_refused(sb, client):
    s3 = client("s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]

    def swap_body(request: Any, **_: Any) -> None:  # after signing: the bytes on the wire differ
        request.body = b"tampered"
        request.headers["Content-Length"] = "8"

    s3.meta.events.register_last("before-send.s3.PutObject", swap_body)
    try:
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=bucket, Key="tampered.txt", Body=b"original")
    finally:
        s3.meta.events.unregister("before-send.s3.PutObject", swap_body)
    assert err.value.response["Error"]["Code"] == "XAmzContentSHA256Mismatch"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="tampered.txt")


@pytest.mark.parametrize("signature_version", [None, "s3v4"])
def test_presigned_urls_made_with_the_runs_pair_work_and_others_do_not(sb, client, signature_version):
    import urllib.error
    import urllib.request

    s3 = client("s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    s3.put_object(Bucket=bucket, Key="dir name/ü+x.txt", Body=b"hello")
    cfg = Config(signature_version=signature_version) if signature_version else None
    signer = boto3.client("s3", region_name=REGION, endpoint_url=sb.endpoint, config=cfg,
                          aws_access_key_id=sb.credentials.access_key_id,
                          aws_secret_access_key=sb.credentials.secret_access_key)
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir name/ü+x.txt"})
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"hello"
    forged = boto3.client("s3", region_name=REGION, endpoint_url=sb.endpoint, config=cfg,
                          aws_access_key_id=sb.credentials.access_key_id, aws_secret_access_key="z" * 40)
    bad = forged.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir name/ü+x.txt"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad, timeout=10)
    assert err.value.code == 403 and b"SignatureDoesNotMatch" in err.value.read()
    expired = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir name/ü+x.txt"},
                                            ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(expired, timeout=10)
    assert err.value.code == 403 and b"Request has expired" in err.value.read()


def test_multipart_upload_with_the_runs_pair_works(sb, client):
    s3 = client("s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    part = b"a" * (5 * 1024 * 1024)
    etags = [s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=n, Body=part)["ETag"]
             for n in (1, 2)]
    s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]})
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == 2 * len(part)


def test_session_ids_never_start_with_the_access_key_id(sb, client):
    resp = client("ssm").start_session(Target=linux_node(sb))
    try:
        assert resp["SessionId"].startswith("sandbox-operator-")
        assert sb.credentials.access_key_id not in resp["SessionId"]
    finally:
        client("ssm").terminate_session(SessionId=resp["SessionId"])


def test_moto_s_own_dashboard_and_reset_api_are_not_open(sb, client):
    before = command_ids(client)
    status, _, _ = raw(sb, "POST", "/moto-api/reset", b"", {"Host": urlsplit(sb.endpoint).netloc})
    assert status in (400, 403)
    assert command_ids(client) == before and client("ssm").describe_instance_information()["InstanceInformationList"]


# -- browsers and foreign hosts -------------------------------------------------------------------------------

def test_a_cors_preflight_from_a_foreign_origin_is_refused_without_cors_headers(sb):
    status, headers, _ = raw(sb, "OPTIONS", "/", b"", {
        "Host": urlsplit(sb.endpoint).netloc, "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, x-amz-target"})
    assert status == 403
    assert not [h for h in headers if h.startswith("access-control-")]


def test_no_response_carries_a_cors_header(sb, client):
    boto = client("sts")
    seen: list[dict[str, str]] = []
    boto.meta.events.register("after-call.sts.GetCallerIdentity",
                              lambda http_response, **_: seen.append(dict(http_response.headers)))
    boto.get_caller_identity()
    assert seen and not [h for h in seen[0] if h.lower().startswith("access-control-")]


def test_a_signed_request_sent_by_a_web_page_is_refused(sb):
    """A page can target 127.0.0.1:PORT directly (Host is then right); its Origin header gives it away."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    status, headers, _ = raw(sb, "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", {
        "Host": urlsplit(sb.endpoint).netloc, "Origin": "https://evil.example", "X-Amz-Date": stamp,
        "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and not [h for h in headers if h.startswith("access-control-")]


@pytest.mark.parametrize("listener", ["aws", "websocket", "storefront"])
def test_a_foreign_host_header_gets_403_on_every_listener(sb, client, listener):
    ports = {"aws": urlsplit(sb.endpoint).port, "websocket": sb.stream_port,
             "storefront": urlsplit(webapp.webapp_url()).port}
    path = {"aws": "/", "websocket": "/v1/data-channel/x", "storefront": "/"}[listener]
    for host in (f"evil.example:{ports[listener]}", "evil.example", f"127.0.0.1.evil.example:{ports[listener]}"):
        status, _, _ = raw(sb, "GET", path, b"", {"Host": host}, port=ports[listener])
        assert status == 403, (listener, host)
    # the listener's own names still work
    if listener == "storefront":
        for host in (f"127.0.0.1:{ports[listener]}", f"localhost:{ports[listener]}"):
            assert raw(sb, "GET", "/", b"", {"Host": host}, port=ports[listener])[0] in (200, 503)


def test_a_signed_request_with_a_foreign_host_has_no_effect(sb, client, tmp_path):
    """DNS rebinding: the request is signed for the name the page used; it still gets 403 before anything."""
    marker = tmp_path / "rebound"
    before = command_ids(client)
    ssm = stranger(sb, "ssm")

    def rebind(request: Any, **_: Any) -> None:
        request.headers["Host"] = "evil.example"

    ssm.meta.events.register_first("before-sign.ssm.SendCommand", rebind)
    with pytest.raises(ClientError) as err:
        send_touch(ssm, sb, marker)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert_not_run(client, before, marker)


def test_the_websocket_refuses_a_browser_origin(sb, client):
    port = sb.stream_port
    status, _, _ = raw(sb, "GET", "/v1/data-channel/x", b"", {
        "Host": f"127.0.0.1:{port}", "Origin": "https://evil.example", "Upgrade": "websocket",
        "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"},
        port=port)
    assert status == 403


# -- control endpoints ----------------------------------------------------------------------------------------

def test_control_endpoints_refuse_calls_without_the_token(sb):
    host = urlsplit(sb.endpoint).netloc
    body = json.dumps({"error": "AccessDenied"}).encode()
    for headers in ({}, {"Authorization": "Bearer 0000"},
                    {"Authorization": f"Bearer {sb.credentials.secret_access_key}"}):
        status, _, _ = raw(sb, "POST", "/_opstui/faults", body,
                           {"Host": host, "Content-Type": "application/json", **headers})
        assert status == 401
    assert raw(sb, "GET", "/_opstui/health", b"", {"Host": host})[0] == 401
    assert sb.faults.rules == []


def test_control_endpoints_refuse_text_plain_even_with_the_token(sb):
    """A browser sends text/plain without a preflight; the control endpoints never take it."""
    status, _, _ = raw(sb, "POST", "/_opstui/faults", json.dumps({"error": "AccessDenied"}).encode(), {
        "Host": urlsplit(sb.endpoint).netloc, "Content-Type": "text/plain",
        "Authorization": f"Bearer {sb.credentials.control_token()}"})
    assert status == 415 and sb.faults.rules == []


def test_control_endpoints_work_with_the_token(sb):
    ctl = SandboxControl.of(sb)
    assert ctl.health()["ready"] is True
    ctl.add_fault("Throttling", service="sts", count=1)
    assert len(sb.faults.rules) == 1
    ctl.clear_faults()


def test_the_sns_inbox_takes_posts_only_at_its_secret_path(sb):
    host = urlsplit(sb.endpoint).netloc
    before = len(SandboxControl.of(sb)._send("GET", "sns-inbox")["received"])
    for path in ("/_opstui/sns-inbox", f"/_opstui/sns-inbox/{uuid.uuid4().hex}"):
        status, _, _ = raw(sb, "POST", path, b"{}", {"Host": host, "Content-Type": "text/plain"})
        assert status in (401, 403)
    status, _, _ = raw(sb, "POST", f"/_opstui/sns-inbox/{sb.inbox_token}", b"{}",
                       {"Host": host, "Content-Type": "text/plain; charset=UTF-8"})
    assert status == 200
    assert len(SandboxControl.of(sb)._send("GET", "sns-inbox")["received"]) == before + 1
