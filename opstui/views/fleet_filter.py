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


def haystack(node: FleetNode) -> str:
    """Lower-cased text of every column, tag key and tag value, computed once per refresh."""
    parts = [f(node) for f in FIELDS.values()]
    for key, value in node.tags:
        parts.append(key)
        parts.append(value)
    if node.agent_outdated:
        parts.append("outdated")
    return "\x00".join(parts).lower()


@dataclass(frozen=True)
class Term:
    negate: bool
    field: str | None  # None = free text
    key: str = ""  # tag key (for tag:)
    value: str | None = None  # None for "tag:Key" (presence)

    def matches(self, node: FleetNode, hay: str) -> bool:
        result = self._matches(node, hay)
        return not result if self.negate else result

    def _matches(self, node: FleetNode, hay: str) -> bool:
        if self.field is None:
            return (self.value or "") in hay
        if self.field == "tag":
            wanted_key = self.key.lower()
            for k, v in node.tags:
                if k.lower() != wanted_key:
                    continue
                if self.value is None:
                    return True
                if _glob_or_equal(v.lower(), self.value):
                    return True
            return False
        if self.field == "tag-key":
            return any(k.lower() == (self.value or "") for k, _ in node.tags)
        if self.field == "agent" and self.value == "outdated":
            return node.agent_outdated
        getter = FIELDS[self.field]
        return (self.value or "") in getter(node).lower()


def _glob_or_equal(text: str, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(text, pattern)
    return text == pattern


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
            terms.append(Term(negate, "tag", key=key, value=value.lower() if eq else None))
        elif sep and field == "tag-key" and rest:
            terms.append(Term(negate, "tag-key", value=rest.lower()))
        elif sep and field in FIELDS and rest:
            terms.append(Term(negate, field, value=rest.lower()))
        else:
            terms.append(Term(negate, None, value=token.lower()))
    return terms


def compile_filter(query: str) -> Callable[[FleetNode, str], bool]:
    terms = parse(query)
    if not terms:
        return lambda node, hay: True
    if all(t.field is None and not t.negate for t in terms):
        needles = [t.value or "" for t in terms]
        return lambda node, hay: all(n in hay for n in needles)
    return lambda node, hay: all(t.matches(node, hay) for t in terms)


def apply(query: str, nodes: Sequence[FleetNode], hays: Sequence[str]) -> list[int]:
    """Indices of the nodes that match, in their current order."""
    pred = compile_filter(query)
    return [i for i, (node, hay) in enumerate(zip(nodes, hays, strict=True)) if pred(node, hay)]
