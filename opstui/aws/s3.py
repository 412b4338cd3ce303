"""S3 calls. Run Command keeps a node's full output in S3 when the service truncated what it returns; the Backup
tab lists the file-backup buckets and moves files in and out of them."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from opstui.aws.backup_models import BucketInfo, S3Entry, S3Listing
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.models import utc as _utc


def parse_s3_url(url: str) -> tuple[str, str] | None:
    """(bucket, key) of an https S3 URL in path style (`https://s3.<region>.amazonaws.com/bucket/key`, what
    Run Command reports) or virtual-hosted style (`https://bucket.s3.<region>.amazonaws.com/key`)."""
    if not url:
        return None
    if url.startswith("s3://"):
        rest = url[5:]
        bucket, _, key = rest.partition("/")
        return (bucket, key) if bucket and key else None
    parsed = urlparse(url)
    host, path = parsed.hostname or "", unquote(parsed.path.lstrip("/"))
    if not path:
        return None
    if host.startswith("s3.") or host.startswith("s3-") or host == "s3.amazonaws.com" or ".s3." not in host:
        bucket, _, key = path.partition("/")
        return (bucket, key) if bucket and key else None
    return host.split(".s3.", 1)[0], path


async def get_object_text(aws: AwsClients, region: str, bucket: str, key: str, max_bytes: int = 16 << 20) -> str:
    """An object's first `max_bytes`, decoded as UTF-8 with replacement (command output is not trusted)."""
    resp = await aws.call("s3", region, "get_object", Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")
    async with resp["Body"] as body:
        data = await body.read()
    return data.decode("utf-8", "replace")


# -- file backups: buckets, versions, upload and download ----------------------------------------------------
# The Backup tab's S3 side. Transfers stream: an upload reads the file 8 MB at a time (one PutObject up to that
# size, a multipart upload above it, parts sent 4 at a time), a download writes the body as it arrives into
# `<dest>.part` and renames it when complete, so a 100 MB file never sits in memory and a broken transfer
# never leaves a half file under the chosen name. botocore has no async transfer manager: this is the small
# part of one that opstui needs. PutObject / CreateMultipartUpload are refused by the read-only guard.

CHUNK = 8 << 20  # bytes per part (S3's minimum part size is 5 MB)
PARTS_IN_FLIGHT = 4
NEWEST_SCAN_CAP = 10_000  # objects looked at to find a bucket's newest object
LISTING_CAP = 5_000  # rows of one prefix listing
MAX_KEY_BYTES = 1024

Progress = Callable[[int, int], None]  # (bytes done, bytes total); called on the AWS loop


def lifecycle_lines(rules: list[dict[str, Any]]) -> tuple[str, ...]:
    """One line per lifecycle rule: id, prefix, status and what it does ("noncurrent expire 35 d")."""
    lines = []
    for rule in rules:
        flt = rule.get("Filter") or {}
        prefix = flt.get("Prefix", rule.get("Prefix", "")) if isinstance(flt, dict) else ""
        acts = []
        exp = rule.get("Expiration") or {}
        if exp.get("Days"):
            acts.append(f"expire {exp['Days']} d")
        for t in rule.get("Transitions") or ():
            acts.append(f"→ {t.get('StorageClass', '?')} {t.get('Days', '?')} d")
        nce = rule.get("NoncurrentVersionExpiration") or {}
        if nce.get("NoncurrentDays"):
            acts.append(f"noncurrent expire {nce['NoncurrentDays']} d")
        for t in rule.get("NoncurrentVersionTransitions") or ():
            acts.append(f"noncurrent → {t.get('StorageClass', '?')} {t.get('NoncurrentDays', '?')} d")
        if rule.get("AbortIncompleteMultipartUpload"):
            acts.append("abort uploads")
        status = "" if rule.get("Status") == "Enabled" else f" [{rule.get('Status', '?')}]"
        where = f" ({prefix})" if prefix else ""
        lines.append(f"{rule.get('ID', 'rule')}{where}{status}: {', '.join(acts) or 'no actions'}")
    return tuple(lines)


async def bucket_region(aws: AwsClients, region: str, bucket: str) -> str:
    resp = await aws.call("s3", region, "get_bucket_location", Bucket=bucket)
    return str(resp.get("LocationConstraint") or "us-east-1")


async def newest_object(aws: AwsClients, region: str, bucket: str, cap: int = NEWEST_SCAN_CAP,
                        ) -> tuple[datetime | None, int, bool]:
    """(newest LastModified, objects scanned, complete): ListObjectsV2 has no order by time, so this pages
    through the bucket, up to `cap` objects (then `complete` is False and the time is of those only)."""
    newest: datetime | None = None
    scanned = 0
    async for page in aws.paginate("s3", region, "list_objects_v2", "Contents", Bucket=bucket):
        for obj in page:
            when = _utc(obj.get("LastModified"))
            if when is not None and (newest is None or when > newest):
                newest = when
        scanned += len(page)
        if scanned >= cap:
            return newest, scanned, False
    return newest, scanned, True


async def bucket_info(aws: AwsClients, region: str, name: str, created: datetime | None = None,
                      bucket_region_hint: str = "", scan_cap: int = NEWEST_SCAN_CAP) -> BucketInfo:
    """Versioning, lifecycle rules and newest object of one bucket (asked in the bucket's own region)."""
    try:
        where = bucket_region_hint or await bucket_region(aws, region, name)
        versioning, lifecycle, newest = await asyncio.gather(
            aws.call("s3", where, "get_bucket_versioning", Bucket=name),
            _lifecycle(aws, where, name),
            newest_object(aws, where, name, scan_cap))
    except OpsError as err:
        return BucketInfo(name, bucket_region_hint, created, "", (), None, 0, False, error=str(err))
    return BucketInfo(name=name, region=where, created=created, versioning=str(versioning.get("Status", "") or ""),
                      lifecycle=lifecycle, newest=newest[0], scanned=newest[1], complete=newest[2])


async def _lifecycle(aws: AwsClients, region: str, bucket: str) -> tuple[str, ...]:
    try:
        resp = await aws.call("s3", region, "get_bucket_lifecycle_configuration", Bucket=bucket)
    except OpsError as err:
        if err.code == "NoSuchLifecycleConfiguration":
            return ()
        raise
    return lifecycle_lines(resp.get("Rules") or [])


async def list_buckets(aws: AwsClients, region: str, scan_cap: int = NEWEST_SCAN_CAP) -> list[BucketInfo]:
    """Every bucket of the account with versioning, lifecycle and newest object time, 8 buckets at a time."""
    raw: list[dict[str, Any]] = []
    async for page in aws.paginate("s3", region, "list_buckets", "Buckets"):
        raw += page
    gate = asyncio.Semaphore(8)

    async def one(b: dict[str, Any]) -> BucketInfo:
        async with gate:
            return await bucket_info(aws, region, str(b["Name"]), _utc(b.get("CreationDate")),
                                     str(b.get("BucketRegion") or ""), scan_cap)

    return sorted(await asyncio.gather(*(one(b) for b in raw)), key=lambda b: b.name)


async def list_versions(aws: AwsClients, region: str, bucket: str, prefix: str = "", limit: int = LISTING_CAP,
                        ) -> S3Listing:
    """Sub-prefixes ("folders"), object versions and delete markers directly under `prefix`
    (ListObjectVersions with Delimiter "/"). Hand-paged: botocore's paginator yields one result key per call
    of `AwsClients.paginate`, and a page here has three (Versions, DeleteMarkers, CommonPrefixes)."""
    entries: list[S3Entry] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": 1000}
    calls = 0
    complete = True
    while True:
        resp = await aws.call("s3", region, "list_object_versions", **params)
        calls += 1
        entries += [S3Entry(str(p["Prefix"]), "prefix") for p in resp.get("CommonPrefixes") or ()]
        for v in resp.get("Versions") or ():
            entries.append(S3Entry(str(v["Key"]), "version", str(v.get("VersionId") or ""), bool(v.get("IsLatest")),
                                   int(v.get("Size") or 0), _utc(v.get("LastModified")),
                                   str(v.get("StorageClass") or ""), str(v.get("ETag") or "").strip('"')))
        for d in resp.get("DeleteMarkers") or ():
            entries.append(S3Entry(str(d["Key"]), "delete-marker", str(d.get("VersionId") or ""),
                                   bool(d.get("IsLatest")), None, _utc(d.get("LastModified"))))
        if not resp.get("IsTruncated"):
            break
        if len(entries) >= limit:
            complete = False
            break
        params["KeyMarker"] = resp.get("NextKeyMarker", "")
        if resp.get("NextVersionIdMarker"):
            params["VersionIdMarker"] = resp["NextVersionIdMarker"]
        else:  # a page that ends on a common prefix has none: the previous page's marker would skip the rest
            params.pop("VersionIdMarker", None)
    entries.sort(key=lambda e: (e.kind != "prefix", e.key, not e.is_latest,
                                -(e.last_modified.timestamp() if e.last_modified else 0.0)))
    return S3Listing(bucket, prefix, tuple(entries[:limit]), complete, calls)


def key_problem(key: str) -> str:
    if not key:
        return "type the object key (e.g. hosts/web-01/etc.tar.gz)"
    if len(key.encode()) > MAX_KEY_BYTES:
        return f"an object key is at most {MAX_KEY_BYTES} bytes"
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return "an object key cannot contain control characters"
    return ""


def upload_path_problem(path: Path) -> str:
    """Why this local file cannot be uploaded ("" when it can): missing, a directory, unreadable."""
    if not str(path):
        return "type the path of a local file"
    if not path.exists():
        return f"no such file: {path}"
    if path.is_dir():
        return f"{path} is a directory: choose a file"
    if not os.access(path, os.R_OK):
        return f"cannot read {path} (permission denied)"
    return ""


def download_path_problem(path: Path) -> str:
    """Why the download cannot be written there ("" when it can): a directory, a file in the way of a folder,
    or a folder that cannot be written. A folder that does not exist yet is no problem: the download creates
    it (:func:`opstui.private_files.create_folders`), so its nearest existing ancestor must be writable."""
    if not str(path):
        return "type the local path to write to"
    if path.is_dir():
        return f"{path} is a directory: add a file name"
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write into {existing} (permission denied)"
    return ""


async def upload_file(aws: AwsClients, region: str, bucket: str, key: str, path: Path, *,
                      progress: Progress | None = None, chunk: int = CHUNK) -> str:
    """Upload a local file; returns the new version id ("" when the bucket is not versioned)."""
    size = path.stat().st_size
    report = progress or (lambda done, total: None)
    report(0, size)
    if size <= chunk:
        data = await asyncio.to_thread(path.read_bytes)
        resp = await aws.call("s3", region, "put_object", Bucket=bucket, Key=key, Body=data)
        report(size, size)
        return str(resp.get("VersionId") or "")
    created = await aws.call("s3", region, "create_multipart_upload", Bucket=bucket, Key=key)
    upload_id = created["UploadId"]
    done = 0
    gate = asyncio.Semaphore(PARTS_IN_FLIGHT)
    count = (size + chunk - 1) // chunk

    def read_part(number: int) -> bytes:
        with path.open("rb") as fh:
            fh.seek((number - 1) * chunk)
            return fh.read(chunk)

    async def part(number: int) -> dict[str, Any]:
        nonlocal done
        async with gate:
            data = await asyncio.to_thread(read_part, number)
            resp = await aws.call("s3", region, "upload_part", Bucket=bucket, Key=key, UploadId=upload_id,
                                  PartNumber=number, Body=data)
            done += len(data)
            report(done, size)
            return {"PartNumber": number, "ETag": resp["ETag"]}

    try:
        parts = await asyncio.gather(*(part(n) for n in range(1, count + 1)))
        resp = await aws.call("s3", region, "complete_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id,
                              MultipartUpload={"Parts": sorted(parts, key=lambda p: p["PartNumber"])})
    except BaseException:
        with contextlib.suppress(Exception):
            await aws.call("s3", region, "abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return str(resp.get("VersionId") or "")


async def download_file(aws: AwsClients, region: str, bucket: str, key: str, dest: Path, *,
                        version_id: str = "", progress: Progress | None = None, chunk: int = 1 << 20) -> int:
    """Stream an object (or one version of it) to `dest`; returns the bytes written."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    resp = await aws.call("s3", region, "get_object", **params)
    total = int(resp.get("ContentLength") or 0)
    report = progress or (lambda done, total: None)
    report(0, total)
    partial = dest.with_name(dest.name + ".part")
    written = 0

    def cannot_write(exc: OSError) -> OpsError:
        return OpsError(f"cannot write {dest}: {exc.strerror or exc}", kind="invalid", service="s3", region=region,
                        operation="GetObject", hint="choose another local path")

    try:
        fh = partial.open("wb")
    except OSError as exc:
        raise cannot_write(exc) from None
    try:
        with fh:
            async with resp["Body"] as body:
                async for data in body.iter_chunks(chunk):
                    try:
                        fh.write(data)
                    except OSError as exc:
                        raise cannot_write(exc) from None
                    written += len(data)
                    report(written, total)
        os.replace(partial, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        if isinstance(exc, Exception) and not isinstance(exc, OpsError):
            raise aws._map(exc, "s3", region, "GetObject") from None  # a connection lost mid-body
        raise
    return written
