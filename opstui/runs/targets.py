"""What a run targets, and who that reaches (the blast radius shown before anything is sent).

Target expressions (the tab's target field and `opstui run --targets`):

    i-0abc,i-0def          instance ids (mi- ids too)
    tag:Role=web           nodes whose tag Role is web (several values: tag:Role=web,api)
    tag-key:Role           nodes that have a tag Role
    resource-groups:Name   the members of a resource group (also `group:Name`)
    web-01,web-02          Name tags (resolved against the fleet)

Tag and resource-group targets are sent as SendCommand `Targets` (one command per region that has matching
nodes), so AWS expands them; ids and names are sent as InstanceIds (50 per command, the API's limit).
The fleet snapshot is used only to show the blast radius: names, regions, environments, prod or not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from opstui.aws.models import FleetNode, FleetSnapshot
from opstui.runs.fold import fold_names

ENV_TAGS = ("Env", "Environment", "env", "environment", "Stage", "stage")
TYPED_CONFIRM_OVER = 10  # more nodes than this (or any prod node) needs the count typed to confirm


class TargetError(ValueError):
    """A target expression that cannot be used; the message says why and what to type instead."""


@dataclass(frozen=True, slots=True)
class TargetSpec:
    kind: str  # ids | names | tag | tag-key | group
    key: str = ""  # tag key or group name
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "tag":
            return f"tag:{self.key}={','.join(self.values)}"
        if self.kind == "tag-key":
            return f"tag-key:{self.key}"
        if self.kind == "group":
            return f"resource-groups:{self.key}"
        return ",".join(self.values)

    def send_targets(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """SendCommand Targets for tag/tag-key/group specs."""
        if self.kind == "tag":
            return ((f"tag:{self.key}", self.values),)
        if self.kind == "tag-key":
            return (("tag-key", (self.key,)),)
        if self.kind == "group":
            return (("resource-groups:Name", (self.key,)),)
        return ()


def _split(values: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in values.split(",") if v.strip())


def parse_target(text: str) -> TargetSpec:
    """Parse a target expression; raises TargetError with a message meant for the user."""
    text = text.strip()
    if not text:
        raise TargetError("no targets: select nodes in the Fleet tab, or give tag:KEY=VALUE, "
                          "resource-groups:NAME or instance ids")
    lower = text.lower()
    if lower.startswith("tag:"):
        key, sep, values = text[4:].partition("=")
        if not key.strip() or not sep or not _split(values):
            raise TargetError(f"bad tag target {text!r}: write tag:KEY=VALUE (e.g. tag:Role=web)")
        return TargetSpec("tag", key.strip(), _split(values))
    if lower.startswith("tag-key:"):
        key = text[8:].strip()
        if not key:
            raise TargetError("bad tag-key target: write tag-key:KEY (e.g. tag-key:Role)")
        return TargetSpec("tag-key", key)
    for prefix in ("resource-groups:name=", "resource-groups:", "group:"):
        if lower.startswith(prefix):
            name = text[len(prefix):].strip()
            if not name:
                raise TargetError("bad resource group target: write resource-groups:NAME")
            return TargetSpec("group", name)
    items = _split(text)
    if items and all(i.startswith(("i-", "mi-")) for i in items):
        return TargetSpec("ids", values=items)
    return TargetSpec("names", values=items)


def platform_type(node: FleetNode) -> str:
    """Linux | Windows | MacOS, as SSM reports it (documents list the platform types they run on)."""
    for key, value in node.ssm_fields:
        if key == "PlatformType":
            return value
    return "Windows" if "windows" in node.platform.lower() else "Linux"


def env_of(node: FleetNode) -> str:
    for key in ENV_TAGS:
        value = node.tag(key)
        if value:
            return value
    return ""


def is_prod(node: FleetNode) -> bool:
    env = env_of(node).lower()
    return env.startswith("prod") or env in ("prd", "live")


def _matches(spec: TargetSpec, node: FleetNode) -> bool:
    if spec.kind == "tag":
        return node.tag(spec.key) in spec.values
    if spec.kind == "tag-key":
        return node.tag(spec.key) is not None
    if spec.kind == "ids":
        return node.instance_id in spec.values
    if spec.kind == "names":
        return node.name in spec.values
    return False


@dataclass(frozen=True)
class BlastRadius:
    """Who a run reaches, before it is sent."""

    nodes: tuple[FleetNode, ...]
    by_region: dict[str, int]
    by_env: dict[str, int]
    not_online: tuple[FleetNode, ...]
    unknown: tuple[str, ...] = ()  # ids or names given that are not in the fleet
    skipped: tuple[FleetNode, ...] = ()  # left out: the document does not run on their platform
    caveats: tuple[str, ...] = ()  # why the count may be incomplete (e.g. hybrid node tags not readable)

    @property
    def count(self) -> int:
        return len(self.nodes)

    @property
    def prod(self) -> bool:
        return any(is_prod(n) for n in self.nodes)

    @property
    def needs_typed_confirmation(self) -> bool:
        return self.count > TYPED_CONFIRM_OVER or self.prod

    @property
    def confirmation_word(self) -> str:
        """What the user must type: the number of nodes, so the number is read, not skimmed."""
        return str(self.count)

    @property
    def names(self) -> str:
        return fold_names(n.name or n.instance_id for n in self.nodes)

    @property
    def name_of(self) -> dict[str, str]:
        """instance id -> Name, for every node the run may report on (the left-out ones too: a tag target
        still lists them, as Invalid Platform)."""
        return {n.instance_id: n.name for n in (*self.nodes, *self.skipped) if n.name}

    def summary(self) -> list[str]:
        """Plain lines (untrusted names included): the caller renders them as literal text."""
        regions = ", ".join(f"{r} {c}" for r, c in sorted(self.by_region.items()))
        envs = ", ".join(f"{e or '(no Env tag)'} {c}" for e, c in sorted(self.by_env.items(), key=lambda kv: -kv[1]))
        lines = [f"{self.count} node{'s' if self.count != 1 else ''} in {regions or 'no region'}",
                 f"environments: {envs or '-'}" + ("  ** includes prod **" if self.prod else ""),
                 f"nodes: {self.names}"]
        if self.not_online:
            lines.append(f"{len(self.not_online)} not Online (will end DeliveryTimedOut): "
                         + fold_names(n.name or n.instance_id for n in self.not_online))
        if self.unknown:
            lines.append("not in the fleet: " + ", ".join(self.unknown))
        if self.skipped:
            lines.append(left_out_line(self.skipped))
        lines.extend(f"warning: {c}" for c in self.caveats)
        return lines


def left_out_line(skipped: tuple[FleetNode, ...] | list[FleetNode]) -> str:
    """The one line the confirmation (tab and `opstui run`) shows for nodes a document cannot run on."""
    return (f"{len(skipped)} left out (the document does not run on their platform): "
            + fold_names(n.name or n.instance_id for n in skipped))


def blast_radius(nodes: list[FleetNode] | tuple[FleetNode, ...], unknown: tuple[str, ...] = (),
                 skipped: tuple[FleetNode, ...] = (), caveats: tuple[str, ...] = ()) -> BlastRadius:
    by_region = Counter(n.region for n in nodes)
    by_env = Counter(env_of(n) for n in nodes)
    not_online = tuple(n for n in nodes if n.ping_status != "Online")
    return BlastRadius(tuple(nodes), dict(by_region), dict(by_env), not_online, unknown, skipped, caveats)


@dataclass(frozen=True)
class Plan:
    """What will be sent: per region, either instance ids or Targets; plus the blast radius."""

    spec: TargetSpec
    ids_by_region: dict[str, tuple[str, ...]] = field(default_factory=dict)
    targets_regions: tuple[str, ...] = ()
    radius: BlastRadius = field(default_factory=lambda: blast_radius(()))

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.ids_by_region) | set(self.targets_regions)))

    def for_platforms(self, platform_types: tuple[str, ...] | list[str]) -> Plan:
        """Leave out the nodes the document cannot run on, the same way for every kind of target (the tab
        and `opstui run` both call this). Explicit ids are dropped from the request: SendCommand refuses the
        whole request (UnsupportedPlatformType) if one of its instance ids is, say, Windows for a shell
        script. Tag and group targets stay `Targets`: AWS expands them and gives such a node the Invalid
        Platform outcome, never delivered and not counted against MaxErrors ("Invalid Platform",
        https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html). Either way the
        radius counts only the nodes that will run it and lists the others as left out."""
        if not platform_types:
            return self
        wanted = set(platform_types)
        keep = [n for n in self.radius.nodes if platform_type(n) in wanted]
        skipped = tuple(n for n in self.radius.nodes if platform_type(n) not in wanted)
        if not skipped:
            return self
        if not keep:
            raise TargetError(f"the document runs on {', '.join(sorted(wanted))} only; none of the "
                              f"{len(skipped)} target node(s) is")
        radius = blast_radius(keep, self.radius.unknown, skipped, self.radius.caveats)
        if not self.ids_by_region:
            return Plan(self.spec, {}, self.targets_regions, radius)
        ids: dict[str, list[str]] = {}
        for n in keep:
            ids.setdefault(n.region, []).append(n.instance_id)
        return Plan(self.spec, {r: tuple(v) for r, v in ids.items()}, self.targets_regions, radius)


def plan_for_nodes(nodes: list[FleetNode] | tuple[FleetNode, ...]) -> Plan:
    """A plan for an explicit set of nodes (the Fleet selection, or the failed nodes of a run)."""
    managed = [n for n in nodes if n.ping_status != "NotManaged"]
    if not managed:
        raise TargetError("none of the selected nodes is a managed node (no SSM agent)")
    by_region: dict[str, list[str]] = {}
    for n in managed:
        by_region.setdefault(n.region, []).append(n.instance_id)
    spec = TargetSpec("ids", values=tuple(n.instance_id for n in managed))
    return Plan(spec, {r: tuple(ids) for r, ids in by_region.items()}, (), blast_radius(managed))


def plan_for(spec: TargetSpec, fleet: FleetSnapshot,
             group_members: dict[str, list[str]] | None = None) -> Plan:
    """Resolve a spec against the fleet. `group_members` (region -> ids, from ListGroupResources) is
    needed for resource-group specs. Raises TargetError when nothing matches."""
    managed = [n for n in fleet.nodes if n.ping_status != "NotManaged"]
    if spec.kind == "group":
        members = group_members or {}
        wanted = {(r, i) for r, ids in members.items() for i in ids}
        hits = [n for n in managed if (n.region, n.instance_id) in wanted]
        if not hits:
            raise TargetError(f"resource group {spec.key!r} has no managed nodes in "
                              f"{', '.join(sorted({r.region for r in fleet.regions})) or 'the selected regions'}")
        regions = tuple(sorted({n.region for n in hits}))
        return Plan(spec, {}, regions, blast_radius(hits))
    hits = [n for n in managed if _matches(spec, n)]
    unknown: tuple[str, ...] = ()
    if spec.kind in ("ids", "names"):
        found = {n.instance_id for n in hits} | {n.name for n in hits}
        unknown = tuple(v for v in spec.values if v not in found)
        if unknown and spec.kind == "names":
            raise TargetError(f"no managed node named {', '.join(unknown)} in the loaded regions")
        if unknown:
            raise TargetError(f"unknown instance id {', '.join(unknown)} (not a managed node in "
                              f"{', '.join(sorted({r.region for r in fleet.regions}))})")
    if not hits:
        raise TargetError(f"{spec.describe()} matches no managed node in "
                          f"{', '.join(sorted({r.region for r in fleet.regions})) or 'the loaded regions'}")
    if spec.kind in ("ids", "names"):
        by_region: dict[str, list[str]] = {}
        for n in hits:
            by_region.setdefault(n.region, []).append(n.instance_id)
        return Plan(spec, {r: tuple(v) for r, v in by_region.items()}, (), blast_radius(hits))
    regions = tuple(sorted({n.region for n in hits}))
    caveats = tuple(r.tags_unread for r in fleet.regions if r.tags_unread and r.region in regions)
    return Plan(spec, {}, regions, blast_radius(hits, caveats=caveats))
