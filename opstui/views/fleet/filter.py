"""The Fleet's `/` filter language (pure Python, no Textual, so it is tested and benchmarked alone).

    web prod            nodes whose any column, tag key or tag value contains "web" AND "prod"
    tag:Role=web        tag Role equals "web" (case-insensitive; * and ? glob)
    tag:Role            nodes that have a tag Role
    state:stopped       EC2 state contains "stopped"; also ping:, region:, platform:, name:, id:, type:,
                        az:, ip:, agent:  (substring, case-insensitive)
    agent:outdated      agent version flagged outdated
    !ping:Online        any term negated with a leading "!"
    "two words"         quotes keep spaces inside one term
All terms must match. Unknown fields (`foo:bar`) are matched as plain text, so nothing typed is rejected.

Speed: a `FleetIndex` holds, per row, the lower-cased text of every column and a `\\x00key=value\\x00` string
of the tags, built once per refresh. Each term then narrows the candidate list with one tight comprehension,
so a 10,000-row filter costs a few milliseconds per term.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opstui.aws.models import FleetNode

FIELDS: dict[str, Callable[[FleetNode], str]] = {
    "name": lambda n: n.name,
    "id": lambda n: n.instance_id,
    "region": lambda n: n.region,
    "ping": lambda n: n.ping_status,
    "platform": lambda n: n.platform,
    "agent": lambda n: n.agent_version,
    "ip": lambda n: n.ip,
    "state": lambda n: n.ec2_state,
    "type": lambda n: n.instance_type,
    "az": lambda n: n.availability_zone,
}
SEP = "\x00"


@dataclass(frozen=True)
class FleetIndex:
    """Lower-cased search text for a list of nodes, in the same order as the nodes."""

    hay: list[str]
    fields: dict[str, list[str]]
    tags: list[str]  # "\x00key=value\x00key2=value2\x00", lower-cased
    outdated: list[bool]

    @classmethod
    def build(cls, nodes: Sequence[FleetNode]) -> FleetIndex:
        fields = {name: [getter(n).lower() for n in nodes] for name, getter in FIELDS.items()}
        tags = [
            SEP + SEP.join(f"{k}={v}" for k, v in n.tags).lower() + SEP if n.tags else SEP for n in nodes
        ]
        hay = [
            SEP.join(col[i] for col in fields.values()) + tags[i] + (" outdated" if n.agent_outdated else "")
            for i, n in enumerate(nodes)
        ]
        return cls(hay=hay, fields=fields, tags=tags, outdated=[n.agent_outdated for n in nodes])

    def take(self, order: Sequence[int]) -> FleetIndex:
        """The same index re-ordered (after the table sorted its rows)."""
        return FleetIndex(
            hay=[self.hay[i] for i in order],
            fields={k: [col[i] for i in order] for k, col in self.fields.items()},
            tags=[self.tags[i] for i in order],
            outdated=[self.outdated[i] for i in order],
        )


@dataclass(frozen=True)
class Term:
    negate: bool
    field: str | None  # None = free text; "tag", "tag-key", or a FIELDS name
    key: str = ""  # tag key (for tag:), lower-cased
    value: str | None = None  # lower-cased; None for "tag:Key" (presence)

    def narrow(self, index: FleetIndex, candidates: list[int]) -> list[int]:
        want = not self.negate
        if self.field is None:
            needle, hay = self.value or "", index.hay
            return [i for i in candidates if (needle in hay[i]) is want]
        if self.field in ("tag", "tag-key"):
            tags = index.tags
            if self.field == "tag-key" or self.value is None:
                key = self.value if self.field == "tag-key" else self.key
                needle = f"{SEP}{key}="
                return [i for i in candidates if (needle in tags[i]) is want]
            if any(c in self.value for c in "*?["):
                return [i for i in candidates if self._glob(tags[i]) is want]
            needle = f"{SEP}{self.key}={self.value}{SEP}"
            return [i for i in candidates if (needle in tags[i]) is want]
        if self.field == "agent" and self.value == "outdated":
            outdated = index.outdated
            return [i for i in candidates if outdated[i] is want]
        needle, col = self.value or "", index.fields[self.field]
        return [i for i in candidates if (needle in col[i]) is want]

    def _glob(self, tags: str) -> bool:
        prefix = f"{self.key}="
        return any(
            fnmatch.fnmatchcase(part[len(prefix):], self.value or "")
            for part in tags.split(SEP)
            if part.startswith(prefix)
        )


def _split(query: str) -> list[str]:
    try:
        return shlex.split(query)
    except ValueError:  # an unbalanced quote while typing: fall back to plain words
        return query.replace('"', " ").replace("'", " ").split()


def parse(query: str) -> list[Term]:
    terms: list[Term] = []
    for raw in _split(query):
        negate = raw.startswith("!")
        token = raw[1:] if negate else raw
        if not token:
            continue
        field, sep, rest = token.partition(":")
        field = field.lower()
        if sep and field == "tag" and rest:
            key, eq, value = rest.partition("=")
            terms.append(Term(negate, "tag", key=key.lower(), value=value.lower() if eq else None))
        elif sep and field == "tag-key" and rest:
            terms.append(Term(negate, "tag-key", value=rest.lower()))
        elif sep and field in FIELDS and rest:
            terms.append(Term(negate, field, value=rest.lower()))
        else:
            terms.append(Term(negate, None, value=token.lower()))
    return terms


def apply_index(query: str, index: FleetIndex) -> list[int]:
    """Indices (into the indexed order) of the rows that match every term."""
    candidates = list(range(len(index.hay)))
    for term in parse(query):
        candidates = term.narrow(index, candidates)
        if not candidates:
            break
    return candidates


def apply(query: str, nodes: Sequence[FleetNode], index: FleetIndex | None = None) -> list[int]:
    """Convenience for tests and scripts: filter plain nodes."""
    return apply_index(query, index or FleetIndex.build(nodes))
