"""S3 listings honour encoding-type=url as S3 does: keys with control characters list through botocore (which
asks for url encoding and decodes the answer itself), and every field S3 encodes comes back intact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.hostile import BUCKET, CONTROL_KEYS
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory


@pytest.fixture(scope="module")
def hostile() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="hostile", live=False)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def s3(hostile: Sandbox) -> Any:
    return make_client_factory(hostile)("s3")


@pytest.fixture(scope="module")
def bucket(hostile: Sandbox) -> str:
    return BUCKET.format(account=hostile.account_id)


def test_object_versions_with_control_characters_in_keys(s3: Any, bucket: str) -> None:
    answer = s3.list_object_versions(Bucket=bucket)
    keys = [v["Key"] for v in answer["Versions"]]
    for key in CONTROL_KEYS:
        assert keys.count(key) == 2, key  # two versions each, the raw characters back after decoding
    assert answer["EncodingType"] == "url"
    # a prefix and a delimiter holding control characters come back decoded too
    prefix = "logs/\x1b]0;pwned\x07"
    one = s3.list_object_versions(Bucket=bucket, Prefix=prefix, Delimiter="\x07")
    assert one["Prefix"] == prefix and one["Delimiter"] == "\x07"
    assert [v["Key"] for v in one["Versions"]] == [CONTROL_KEYS[0]] * 2
    paged = s3.list_object_versions(Bucket=bucket, MaxKeys=1, KeyMarker=CONTROL_KEYS[1])
    assert paged["KeyMarker"] == CONTROL_KEYS[1] and paged["IsTruncated"]
    assert paged["NextKeyMarker"] in {v["Key"] for v in answer["Versions"]}


def test_objects_v2_with_control_characters_and_plus_signs(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plus/a+b c.txt", Body=b"x")
    listed = s3.list_objects_v2(Bucket=bucket)
    assert set(CONTROL_KEYS) <= {o["Key"] for o in listed["Contents"]}
    folders = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert "logs/" in {p["Prefix"] for p in folders["CommonPrefixes"]} and folders["Delimiter"] == "/"
    after = s3.list_objects_v2(Bucket=bucket, Prefix="plus/", StartAfter="plus/a+a")
    assert after["StartAfter"] == "plus/a+a"  # S3 encodes StartAfter: "+" must not come back as a space
    assert [o["Key"] for o in after["Contents"]] == ["plus/a+b c.txt"]
    odd = s3.list_objects_v2(Bucket=bucket, Prefix="plus/", Delimiter="+")
    assert odd["Delimiter"] == "+" and [p["Prefix"] for p in odd["CommonPrefixes"]] == ["plus/a+"]


def test_multipart_uploads_with_control_characters(hostile: Sandbox, s3: Any, bucket: str) -> None:
    # CreateMultipartUpload answers the key in XML, which cannot carry ESC (no encoding-type there): the
    # upload is started inside the sandbox, as another client of the account would have started it
    from moto.s3.models import s3_backends
    from requests.structures import CaseInsensitiveDict

    key = "uploads/\x1b[2J-big+1.bin"
    upload = s3_backends[hostile.account_id]["aws"].create_multipart_upload(
        bucket, key, CaseInsensitiveDict(), "STANDARD", {}, None, "", "")
    try:
        # botocore asks ListMultipartUploads for no encoding by itself (nor decodes it): asked explicitly, S3
        # answers the key percent-encoded
        uploads = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url")
        assert quote(key, safe="/") in {u["Key"] for u in uploads["Uploads"]}
        assert uploads["EncodingType"] == "url" and "%1B%5B2J-big%2B1.bin" in quote(key, safe="/")
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload.id)


def test_unknown_encoding_type_is_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.list_object_versions(Bucket=bucket, EncodingType="base64")
    assert err.value.response["Error"]["Code"] == "InvalidArgument"
