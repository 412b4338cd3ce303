"""CloudWatch Logs calls: reading Run Command output while it is produced.

Run Command writes each node's output to a stream `<command-id>/<instance-id>/<plugin>/stdout|stderr`. A
`LogCursor` reads all streams of one command with one paged FilterLogEvents per poll (never a call per
node), from a little before the newest event it has seen (FilterLogEvents is eventually consistent: an
event can become visible after a later one), and drops events it has already returned by eventId. That is
what makes the output incremental without duplicates or gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError

PAGE_SIZE = 10_000  # FilterLogEvents' maximum `limit`
OVERLAP_MS = 10_000  # how far back each poll re-reads, to catch late-visible events


@dataclass(frozen=True, slots=True)
class LogEvent:
    event_id: str
    stream: str
    timestamp: int  # milliseconds since the epoch
    message: str


@dataclass
class LogCursor:
    """Incremental reader of every stream under `prefix` in `group` (one region)."""

    group: str
    prefix: str
    start_ms: int = 0
    overlap_ms: int = OVERLAP_MS
    newest_ms: int = 0
    _seen: dict[str, int] = field(default_factory=dict)  # eventId -> timestamp, pruned behind the overlap
    group_missing: bool = False  # the group does not exist (yet): no node has written output

    async def poll(self, aws: AwsClients, region: str) -> list[LogEvent]:
        """The events not returned before, in timestamp order."""
        start = max(self.start_ms, self.newest_ms - self.overlap_ms)
        params: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": self.prefix,
                                  "PaginationConfig": {"PageSize": PAGE_SIZE}}
        if start:
            params["startTime"] = start
        fresh: list[LogEvent] = []
        try:
            async for page in aws.paginate("logs", region, "filter_log_events", "events", **params):
                for e in page:
                    event_id = e.get("eventId") or f"{e.get('logStreamName')}/{e.get('timestamp')}/{e.get('message')}"
                    if event_id in self._seen:
                        continue
                    ts = int(e.get("timestamp") or 0)
                    self._seen[event_id] = ts
                    fresh.append(LogEvent(event_id, e.get("logStreamName", ""), ts, e.get("message", "")))
        except OpsError as err:
            if err.code == "ResourceNotFoundException":
                self.group_missing = True
                return []
            raise
        self.group_missing = False
        if fresh:
            self.newest_ms = max(self.newest_ms, max(e.timestamp for e in fresh))
            horizon = self.newest_ms - 2 * self.overlap_ms
            if len(self._seen) > 4 * len(fresh) + 1000:
                self._seen = {k: ts for k, ts in self._seen.items() if ts >= horizon}
        return fresh


def split_stream(stream: str) -> tuple[str, str, str, str]:
    """`<command-id>/<instance-id>/<plugin>/<stdout|stderr>` -> its four parts ("" where missing)."""
    parts = stream.split("/")
    if len(parts) < 4:
        parts += [""] * (4 - len(parts))
    return parts[0], parts[1], "/".join(parts[2:-1]), parts[-1]
