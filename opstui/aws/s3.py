"""S3 calls. Run Command keeps a node's full output in S3 when the service truncated what it returns."""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from opstui.aws.clients import AwsClients


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
