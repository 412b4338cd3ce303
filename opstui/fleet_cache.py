"""The last known fleet on disk, per profile and region, so the Fleet tab paints at once on the next start.

Why: at 10,000 nodes and real AWS latency the first full listing takes seconds; the operator who opens opstui
wants the table they saw last time now, marked stale, and the fresh one as soon as it is there. Only regions
that loaded without error are written (a region's last good rows stay on disk through a failing refresh).

Where: ``<user cache dir>/opstui/fleet/<profile>/<endpoint>/<region>.json`` (platformdirs' cache dir, i.e.
``$XDG_CACHE_HOME/opstui`` or ``~/.cache/opstui`` on Linux): folders 0700, files 0600 from their creation
(:mod:`opstui.private_files`), written whole then renamed, so a crash never leaves half a file. ``<endpoint>``
is ``aws`` or a digest of ``--endpoint-url``, so a sandbox's nodes never show up as a real account's.

What: the rows the table shows and filters (ids, name, region, ping, platform, agent, IP, EC2 state, type,
AZ, last ping, tags), one JSON array per node -- not the SSM and EC2 fields of the detail pane, which are most
of a node's bytes (10,000 nodes: 11 MB and 5 s to read them back on a loaded 2-core machine, against about
2 MB without), and no credentials, tokens or command output: nothing opstui keeps secret is in a FleetNode.
A cached node's detail pane shows its tags until the listing brings the rest. A file that cannot be read, is
of another version or has another shape is ignored (the listing replaces it). Its text is shown through the
same ``clean()`` as fresh text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformdirs import user_cache_path

from opstui.aws.models import FleetNode, FleetSnapshot, RegionFleet
from opstui.private_files import open_private, private_dir

VERSION = 2
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
#: what a row keeps, in this order (the detail pane's ssm_fields and ec2_fields are left out)
_ROW = ("instance_id", "region", "name", "ping_status", "platform", "agent_version", "agent_outdated", "ip",
        "ec2_state", "instance_type", "availability_zone", "last_ping", "tags")
_TEXT = tuple(i for i, name in enumerate(_ROW) if name not in ("agent_outdated", "last_ping", "tags"))
assert set(_ROW) | {"ssm_fields", "ec2_fields"} == {f.name for f in fields(FleetNode)}


def cache_root() -> Path:
    return user_cache_path("opstui") / "fleet"


def _part(text: str) -> str:
    """One path component from a profile or region name: no separator, never ``.`` or ``..``."""
    part = _SAFE.sub("_", text)[:64]
    return "_" + part if not part or part.startswith(".") else part


def region_path(profile: str | None, endpoint_url: str | None, region: str) -> Path:
    endpoint = "aws" if not endpoint_url else "endpoint-" + hashlib.sha256(endpoint_url.encode()).hexdigest()[:16]
    return cache_root() / _part(profile or "default") / endpoint / f"{_part(region)}.json"


def _encode(node: FleetNode) -> list[Any]:
    row: list[Any] = [getattr(node, name) for name in _ROW]
    row[-2] = node.last_ping.isoformat() if node.last_ping else None
    row[-1] = [k for pair in node.tags for k in pair]  # flat: key, value, key, value
    return row


def _decode(row: list[Any]) -> FleetNode:
    if not isinstance(row, list) or len(row) != len(_ROW) or not all(isinstance(row[i], str) for i in _TEXT):
        raise ValueError("not a cached row")
    flat = row[-1]
    if not isinstance(flat, list) or len(flat) % 2 or not all(isinstance(x, str) for x in flat):
        raise ValueError("tags are not text pairs")
    values = dict(zip(_ROW, row, strict=True))
    values["agent_outdated"] = bool(values["agent_outdated"])
    values["last_ping"] = datetime.fromisoformat(row[-2]) if row[-2] else None
    values["tags"] = tuple(zip(flat[0::2], flat[1::2], strict=True))
    return FleetNode(**values)


def save(profile: str | None, endpoint_url: str | None, snapshot: FleetSnapshot) -> list[Path]:
    """Write every region of ``snapshot`` that loaded without error (its file replaced whole)."""
    written: list[Path] = []
    for region in snapshot.regions:
        if region.error is not None or region.stale_since is not None:
            continue
        path = region_path(profile, endpoint_url, region.region)
        body = {"version": VERSION, "region": region.region, "taken_at": snapshot.taken_at.isoformat(),
                "nodes": [_encode(n) for n in region.nodes]}
        private_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open_private(tmp) as fh:
            json.dump(body, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
        written.append(path)
    return written


def load(profile: str | None, endpoint_url: str | None, regions: Iterable[str],
         limit: int | None = None) -> FleetSnapshot | None:
    """The cached regions (each marked stale since it was written), or None when no region is cached; with
    ``limit``, only the first ``limit`` nodes in table order (a first screen costs little of 10,000)."""
    found: list[RegionFleet] = []
    left = limit
    oldest: datetime | None = None
    for region in regions:
        path = region_path(profile, endpoint_url, region)
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            if body.get("version") != VERSION or body.get("region") != region:
                continue
            taken_at = datetime.fromisoformat(body["taken_at"]).astimezone(UTC)
            rows = body["nodes"] if left is None else body["nodes"][:left]
            nodes = tuple(_decode(raw) for raw in rows)
            if left is not None:
                left -= len(nodes)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        found.append(RegionFleet(region=region, nodes=nodes, stale_since=taken_at))
        oldest = taken_at if oldest is None else min(oldest, taken_at)
    if not found or oldest is None:
        return None
    return FleetSnapshot(regions=tuple(found), taken_at=oldest, nodes=tuple(n for r in found for n in r.nodes))


def exists(profile: str | None, endpoint_url: str | None, regions: Iterable[str]) -> bool:
    """Whether any of the regions has a cache file (a stat each: cheap enough for the UI thread)."""
    return any(region_path(profile, endpoint_url, r).is_file() for r in regions)


def forget(profile: str | None, endpoint_url: str | None, regions: Iterable[str]) -> None:
    for region in regions:
        with contextlib.suppress(OSError):
            region_path(profile, endpoint_url, region).unlink()
