"""SSM Inventory for the sandbox: PutInventory, GetInventory, ListInventoryEntries, GetInventorySchema,
DeleteInventory (moto has none), the simulated agent's gather, and the seeded fleet's captured inventory.

Installed on moto's ``SimpleSystemManagerResponse`` (technique B). Behaviour, chosen to match AWS (sources:
botocore's SSM model, the API reference, the user guide's "Aggregating inventory data" and "Metadata collected
by Inventory" pages, public reports of real error messages):

PutInventory
  * ``InstanceId`` must be a managed node of the region -> else ``InvalidInstanceId``.
  * 1-30 ``Items``. ``TypeName`` must be ``AWS:<known type>`` or ``Custom:<name>`` -> else
    ``InvalidTypeNameException``; ``SchemaVersion`` must look like ``1.0`` and, for AWS types, be a version
    the type has -> else ``UnsupportedInventorySchemaVersionException``; ``CaptureTime`` must be
    ``YYYY-MM-DDTHH:MM:SSZ`` -> else ``ValidationException``; an AWS type's entries may only use the type's
    attributes, a Custom type at most 50 attributes -> else ``InvalidItemContentException``; an item over
    200 KB -> ``ItemSizeLimitExceededException``; more than 20 Custom types -> ``CustomSchemaCountLimitExceededException``;
    a type disabled by DeleteInventory(DisableSchema) -> ``InvalidTypeNameException``.
  * ``ContentHash`` equal to the stored hash of that type: the content is NOT replaced (AWS's short-circuit),
    only the capture time moves. Otherwise the item replaces the node's previous item of that type.

GetInventory
  * Entities are the nodes that reported ``AWS:InstanceInformation``, by instance id; each is
    ``{"Id": <instance id>, "Data": {"AWS:InstanceInformation": {TypeName, SchemaVersion, CaptureTime,
    ContentHash, Content}}}``.
  * ``ResultAttributes``: like AWS only ``AWS:InstanceInformation`` (the default) and ``AWS:PatchSummary`` ->
    else ``InvalidResultAttributeException`` "Result type name X is not supported. Supported type names are:
    AWS:InstanceInformation, AWS:PatchSummary. Default result type name is AWS:InstanceInformation." (AWS's
    message). Per-node application rows come from ListInventoryEntries, fleet-wide counts from Aggregators.
  * ``Filters`` (1-5): ``Key`` ``<Type>.<Attribute>`` (``AWS:Application.Name``,
    ``AWS:InstanceInformation.PlatformType``, ...) or ``TypeName`` (values are type names; Exists/Equal: the
    node has one of them). ``Type`` Equal (any of the values) / NotEqual (none of them) / BeginWith (any prefix)
    / LessThan / GreaterThan (one value) / Exists (the attribute is present). A node matches a filter when ANY
    of its entries of that type matches; several filters on the SAME type must hold for the same entry (so
    ``Name = openssl`` and ``Version < 3.0.13`` finds nodes whose openssl is older, not nodes that have openssl
    and any older package). Filters on different types are ANDed. LessThan/GreaterThan compare version-aware
    (digit runs as numbers: 3.0.2 < 3.0.13 < 3.0.13-1). Unknown key, type or attribute, or a bad operator ->
    ``InvalidFilter``.
  * ``Aggregators``: the result is ONE entity with no Id whose Data is keyed by the aggregated type, Content
    rows ``{"Count": "<nodes>", "<Attribute>": value, ...}`` (counts as strings, as the user guide shows).
    Nested ``Aggregators`` refine a row: the nested expression's attribute is added to the row (same type:
    the same entry; another type: the node's value). Only entries that pass the request's filters on that
    type are counted (with ``Name = openssl``, aggregating ``AWS:Application.Version`` counts openssl versions).
    ``Groups`` give ``Data[<group name>].Content = [{"notMatchingCount": n}, {"matchingCount": m}]`` among the
    filtered nodes. A bad expression -> ``InvalidAggregatorException``, a bad group -> ``InvalidInventoryGroupException``.
    Aggregated results are not paginated.
  * ``MaxResults`` 1-50 (default 50), ``NextToken`` (unknown -> ``InvalidNextToken``).

ListInventoryEntries
  * ``InstanceId`` must be a managed node or have inventory -> else ``InvalidInstanceId``; ``TypeName`` as above.
  * ``Filters`` keys are attribute names (``Name``, ``Version``...); the operators as in GetInventory, all on
    the same entry. ``MaxResults`` 1-50 (default 50), ``NextToken``. A node without that type answers
    ``Entries: []`` with no SchemaVersion/CaptureTime.

GetInventorySchema
  * AWS types with AWS's attribute names and data types (``STRING``/``NUMBER``, as the real output spells them),
    plus the Custom types seen. ``TypeName`` is a prefix filter; ``Aggregator=true`` lists only the attributes
    that aggregate (AWS:Application Name/Version, AWS:InstanceInformation Platform*, AWS:Service, ...);
    ``SubType=true`` lists nothing (no sub-type schemas here). MaxResults 50-200 (default 50), NextToken.

DeleteInventory
  * Only ``Custom:`` types -> else ``InvalidTypeNameException``; unknown type -> ``InvalidTypeNameException``.
    ``SchemaDeleteOption`` DisableSchema (data deleted, later puts refused) / DeleteSchema (data and schema
    deleted); omitted: the data is deleted, the schema kept. ``DryRun`` deletes nothing. The deletion is done
    at once, so ``DeletionSummary.RemainingCount`` is 0 (``TotalCount`` on a dry run).

The gather (:func:`gather`): what ``aws:softwareInventory`` does on a node (Run Command or an association):
AWS:InstanceInformation, AWS:Application, AWS:AWSComponent (the agent), AWS:Network, AWS:Service,
AWS:InstanceDetailedInformation, and on Windows AWS:WindowsUpdate, each honouring the document's
Enabled/Disabled parameters (``services`` is "Windows OS only" in the document's text; the sandbox reports
Linux systemd units too, so every node has the five types the app shows). The scenario's "local" node
(``prod-web-01`` in the default scenario, ``NodeSpec.real_host``) reports the real packages and interfaces of
this machine -- and, so that they are honest, claims this machine's OS too: its PlatformName/PlatformVersion
(DescribeInstanceInformation, AWS:InstanceInformation) are ``/etc/os-release``'s NAME and VERSION_ID
(:func:`opstui.sandbox.inventory_data.local_platform`), e.g. Debian GNU/Linux 12, not Amazon Linux 2023.

Seeded inventory: every node of the scenario gets a capture at start (for Online nodes the time of the seeded
association's last run, which gathered them; days old for the deliberately stale ones and for
ConnectionLost/stopped nodes), materialised lazily -- a background thread after
start, or the first read, whichever comes first -- so a 10,000-node sandbox does not pay for it at start-up.
Knob: ``POST /_opstui/inventory {"apps_per_node": N}`` makes every scenario node (but the local one) report
exactly N applications (the bench's 1,000 x 500 fleet); ``{"apps_per_node": null}`` restores the scenario's.

Index: entries are shared dicts (see :mod:`opstui.sandbox.inventory_data`) and each type keeps a posting per
distinct entry -> the set of nodes that have it, so a fleet-wide filter or aggregation touches distinct entries
(thousands), not every node's rows (hundreds of thousands).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError
from moto.ec2.models import ec2_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from . import clock, inventory_data
from .ec2_fast import instance_index
from .extension import Extension, attach
from .inventory_data import Entry
from .ssm_nodes import REGISTRY, ManagedNode

if TYPE_CHECKING:
    from .server import Sandbox

# --------------------------------------------------------------------------------------------------------
# schemas

S, N = "STRING", "NUMBER"
SCHEMAS: dict[str, tuple[tuple[str, ...], str, list[tuple[str, str]]]] = {
    # type: (accepted schema versions (first is current), display name, attributes)
    "AWS:InstanceInformation": (("1.0",), "Platform", [
        ("AgentType", S), ("AgentVersion", S), ("ComputerName", S), ("IamRole", S), ("InstanceId", S),
        ("IpAddress", S), ("PlatformName", S), ("PlatformType", S), ("PlatformVersion", S), ("ResourceType", S),
        ("InstanceStatus", S)]),
    "AWS:Application": (("1.1", "1.0"), "Application", [
        ("Name", S), ("ApplicationType", S), ("Publisher", S), ("Version", S), ("InstalledTime", S),
        ("Architecture", S), ("URL", S), ("Summary", S), ("PackageId", S), ("Release", S), ("Epoch", S)]),
    "AWS:AWSComponent": (("1.0",), "AWSComponent", [
        ("Name", S), ("ApplicationType", S), ("Publisher", S), ("Version", S), ("InstalledTime", S),
        ("Architecture", S), ("URL", S)]),
    "AWS:File": (("1.0",), "File", [
        ("Name", S), ("Size", S), ("Description", S), ("FileVersion", S), ("InstalledDate", S),
        ("ModificationTime", S), ("LastAccessTime", S), ("ProductName", S), ("InstalledDir", S),
        ("ProductLanguage", S), ("CompanyName", S), ("ProductVersion", S)]),
    "AWS:WindowsUpdate": (("1.0",), "WindowsUpdate", [
        ("HotFixId", S), ("Description", S), ("InstalledTime", S), ("InstalledBy", S)]),
    "AWS:Network": (("1.0",), "Network", [
        ("Name", S), ("SubnetMask", S), ("Gateway", S), ("DHCPServer", S), ("DNSServer", S), ("MacAddress", S),
        ("IPV4", S), ("IPV6", S)]),
    "AWS:PatchSummary": (("1.0",), "PatchSummary", [
        ("PatchGroup", S), ("BaselineId", S), ("SnapshotId", S), ("OwnerInformation", S), ("InstalledCount", N),
        ("InstalledOtherCount", N), ("NotApplicableCount", N), ("MissingCount", N), ("FailedCount", N),
        ("OperationType", S), ("OperationStartTime", S), ("OperationEndTime", S)]),
    "AWS:InstanceDetailedInformation": (("1.0",), "InstanceDetailedInformation", [
        ("CPUModel", S), ("CPUCores", N), ("CPUs", N), ("CPUSpeedMHz", N), ("CPUSockets", N),
        ("CPUHyperThreadEnabled", S), ("OSServicePack", S)]),
    "AWS:Service": (("1.0",), "Service", [
        ("Name", S), ("DisplayName", S), ("ServiceType", S), ("Status", S), ("DependentServices", S),
        ("ServicesDependedOn", S), ("StartType", S)]),
    "AWS:WindowsRegistry": (("1.0",), "WindowsRegistry", [
        ("KeyPath", S), ("ValueName", S), ("ValueType", S), ("Value", S)]),
    "AWS:WindowsRole": (("1.0",), "WindowsRole", [
        ("Name", S), ("DisplayName", S), ("Path", S), ("FeatureType", S), ("DependsOn", S), ("Description", S),
        ("Installed", S), ("InstalledState", S), ("SubFeatures", S), ("ServerComponentDescriptor", S),
        ("Parent", S)]),
    "AWS:Tag": (("1.0",), "Tag", [("Key", S), ("Value", S)]),
    "AWS:ResourceGroup": (("1.0",), "ResourceGroup", [("Name", S), ("Arn", S)]),
    "AWS:BillingInfo": (("1.0",), "BillingInfo", [("BillingProductId", S)]),
}
#: attributes GetInventorySchema(Aggregator=true) lists (the user guide's output)
AGGREGATABLE: dict[str, tuple[str, ...]] = {
    "AWS:Application": ("Name", "Version"),
    "AWS:InstanceInformation": ("PlatformName", "PlatformType", "PlatformVersion"),
    "AWS:ResourceGroup": ("Name",),
    "AWS:Service": ("Name", "DisplayName", "ServiceType", "Status", "StartType"),
    "AWS:WindowsRole": ("Name", "DisplayName", "FeatureType", "Installed"),
}
RESULT_TYPES = ("AWS:InstanceInformation", "AWS:PatchSummary")
OPERATORS = ("Equal", "NotEqual", "BeginWith", "LessThan", "GreaterThan", "Exists")
ITEM_SIZE_LIMIT = 200 * 1024
MAX_CUSTOM_TYPES = 20
_CAPTURE_TIME = re.compile(r"^(20)[0-9][0-9]-(0[1-9]|1[012])-([12][0-9]|3[01]|0[1-9])(T)(2[0-3]|[0-1][0-9])"
                           r"(:[0-5][0-9])(:[0-5][0-9])(Z)$")
_SCHEMA_VERSION = re.compile(r"^([0-9]{1,6})(\.[0-9]{1,6})$")
_KEY = re.compile(r"^((?:AWS|Custom):[^.]+)\.(.+)$")
_VTOKEN = re.compile(r"\d+|[^\d\W_]+")


def _error(code: str, message: str) -> JsonRESTError:
    return JsonRESTError(code, message)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def version_key(value: str) -> tuple[tuple[int, int | str], ...]:
    """Version-aware sort key: digit runs compare as numbers, words as text, numbers before words."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in _VTOKEN.findall(value))


# --------------------------------------------------------------------------------------------------------
# store


@dataclass
class Item:
    type_name: str
    schema_version: str
    capture_time: str
    content_hash: str
    content: list[Entry]

    def as_result(self) -> dict[str, Any]:
        return {"TypeName": self.type_name, "SchemaVersion": self.schema_version, "CaptureTime": self.capture_time,
                "ContentHash": self.content_hash, "Content": self.content}


class Posting:
    """One distinct entry of a type and the nodes that report it."""

    __slots__ = ("entry", "nodes")

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.nodes: set[str] = set()


@dataclass
class Profile:
    """What the gather needs to know about a scenario node (from its NodeSpec)."""

    distro: str
    role: str
    instance_type: str
    arch: str
    outdated_openssl: bool
    hostile: bool = False
    local: bool = False
    capture: dt.datetime | None = None  # the seeded capture time
    fails: str = ""  # the gather fails on this node with this agent error (why its inventory is stale)


class GatherError(Exception):
    """The simulated gatherer failed on a node (the plugin fails with this message)."""


@dataclass
class RegionStore:
    items: dict[str, dict[str, Item]] = field(default_factory=dict)  # instance id -> type -> item
    postings: dict[str, dict[int, Posting]] = field(default_factory=dict)  # type -> id(entry) -> posting
    interned: dict[str, dict[tuple[tuple[str, str], ...], Entry]] = field(default_factory=dict)

    def put(self, instance_id: str, item: Item) -> None:
        node_items = self.items.setdefault(instance_id, {})
        old = node_items.get(item.type_name)
        postings = self.postings.setdefault(item.type_name, {})
        if old is not None:
            for entry in old.content:
                p = postings.get(id(entry))
                if p is not None:
                    p.nodes.discard(instance_id)
                    if not p.nodes:
                        del postings[id(entry)]
        for entry in item.content:
            p = postings.get(id(entry))
            if p is None:
                p = postings[id(entry)] = Posting(entry)
            p.nodes.add(instance_id)
        node_items[item.type_name] = item

    def drop_type(self, type_name: str) -> int:
        count = 0
        for node_items in self.items.values():
            if node_items.pop(type_name, None) is not None:
                count += 1
        self.postings.pop(type_name, None)
        self.interned.pop(type_name, None)
        return count

    def intern(self, type_name: str, entry: Entry) -> Entry:
        table = self.interned.setdefault(type_name, {})
        key = tuple(entry.items())
        found = table.get(key)
        if found is None:
            table[key] = found = entry
        return found


@dataclass
class InventorySettings:
    apps_per_node: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"apps_per_node": self.apps_per_node}


_lock = threading.RLock()
_stores: dict[tuple[str, str], RegionStore] = {}
_profiles: dict[tuple[str, str, str], Profile] = {}  # (account, region, iid)
_pending: set[tuple[str, str, str]] = set()
_custom: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (account, region) -> type -> schema info
_settings = InventorySettings()
_warmer: threading.Thread | None = None
_generation = 0


def _store(account: str, region: str) -> RegionStore:
    return _stores.setdefault((account, region), RegionStore())


def clear() -> None:
    """Forget everything (Sandbox.start())."""
    global _generation
    with _lock:
        _stores.clear()
        _profiles.clear()
        _pending.clear()
        _custom.clear()
        _settings.apps_per_node = None
        _generation += 1


def content_hash(content: list[Entry]) -> str:
    return hashlib.md5(json.dumps(content, sort_keys=True, ensure_ascii=False).encode(), usedforsecurity=False
                       ).hexdigest()


def _fast_hash(*parts: object) -> str:
    """A content hash for generated items without serialising hundreds of rows."""
    return hashlib.md5("|".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------------------------------------
# the gather


ALL_ENABLED = {"applications": "Enabled", "awsComponents": "Enabled", "networkConfig": "Enabled",
               "windowsUpdates": "Enabled", "instanceDetailedInformation": "Enabled", "services": "Enabled"}


def _enabled(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, "Enabled")
    if isinstance(value, list):
        value = value[0] if value else "Enabled"
    return str(value or "Enabled") != "Disabled"


def _profile_for(account: str, region: str, node: ManagedNode) -> Profile:
    found = _profiles.get((account, region, node.instance_id))
    if found is not None:
        return found
    name = node.platform_name.lower()
    if node.platform_type == "Windows":
        distro = "win2022"
    elif "ubuntu" in name:
        distro = "ubuntu2404" if node.platform_version.startswith("24") else "ubuntu2204"
    elif "red hat" in name:
        distro = "rhel9"
    elif node.platform_version == "2":
        distro = "al2"
    else:
        distro = "al2023"
    return Profile(distro=distro, role="app", instance_type="t3.medium", arch="x86_64", outdated_openssl=False)


def _instance_status(account: str, region: str, node: ManagedNode) -> str:
    if node.is_hybrid:
        return "Active"
    instance = instance_index(ec2_backends[account][region]).get(node.instance_id)
    if instance is None or instance._state.name == "terminated":
        return "Terminated"
    return "Stopped" if instance._state.name in ("stopped", "stopping") else "Active"


def _hostile_apps() -> list[Entry]:
    from .scenarios import HOSTILE_STRINGS

    rows = []
    for key, text in HOSTILE_STRINGS.items():
        rows.append({"Name": text, "Version": f"1.0-{key}", "Publisher": text, "Architecture": "x86_64",
                     "ApplicationType": text, "URL": "https://evil.example/[red]x[/red]", "Summary": text,
                     "PackageId": text, "InstalledTime": "2024-05-02T03:11:09Z", "Release": "", "Epoch": ""})
    return rows


def build_items(account: str, region: str, node: ManagedNode, params: dict[str, Any],
                when: dt.datetime) -> list[Item]:
    """What the agent's gatherer would report for ``node`` now (no storing)."""
    prof = _profile_for(account, region, node)
    windows = node.platform_type == "Windows"
    capture = iso(when)
    items: list[Item] = []
    info: Entry = {"AgentType": "amazon-ssm-agent", "AgentVersion": node.agent_version,
                   "ComputerName": node.computer_name or "", "InstanceId": node.instance_id,
                   "IpAddress": node.ip_address or "", "PlatformName": node.platform_name,
                   "PlatformType": node.platform_type, "PlatformVersion": node.platform_version,
                   "ResourceType": node.resource_type, "InstanceStatus": _instance_status(account, region, node)}
    if node.iam_role:
        info["IamRole"] = node.iam_role
    items.append(Item("AWS:InstanceInformation", "1.0", capture, content_hash([info]), [info]))
    if _enabled(params, "applications"):
        if prof.local:
            apps = inventory_data.local_applications()
            digest = _fast_hash("local", len(apps), apps[0]["Name"] if apps else "")
        else:
            apps = inventory_data.applications(node.instance_id, prof.distro, prof.arch, prof.role,
                                               node.agent_version, outdated_openssl=prof.outdated_openssl,
                                               count=_settings.apps_per_node)
            if prof.hostile:
                apps = _hostile_apps() + apps
            digest = _fast_hash(prof.distro, prof.arch, prof.role, node.agent_version, prof.outdated_openssl,
                                _settings.apps_per_node, node.instance_id, prof.hostile)
        items.append(Item("AWS:Application", "1.1", capture, digest, apps))
    if _enabled(params, "awsComponents"):
        comp = {"Name": "amazon-ssm-agent", "ApplicationType": "", "Publisher": "Amazon Web Services",
                "Version": node.agent_version, "InstalledTime": "", "Architecture": prof.arch, "URL": ""}
        items.append(Item("AWS:AWSComponent", "1.0", capture, content_hash([comp]), [comp]))
    if _enabled(params, "networkConfig"):
        net = (inventory_data.local_network() if prof.local else
               inventory_data.network(node.ip_address or "10.0.0.10", node.instance_id, windows, node.is_hybrid))
        items.append(Item("AWS:Network", "1.0", capture, content_hash(net), net))
    if _enabled(params, "services"):
        svc = inventory_data.services(prof.role, windows)
        items.append(Item("AWS:Service", "1.0", capture, content_hash(svc), svc))
    if _enabled(params, "instanceDetailedInformation"):
        det = (inventory_data.local_detailed_information() if prof.local else
               inventory_data.detailed_information(prof.instance_type, windows))
        items.append(Item("AWS:InstanceDetailedInformation", "1.0", capture, content_hash([det]), [det]))
    if windows and _enabled(params, "windowsUpdates"):
        upd = inventory_data.windows_updates()
        items.append(Item("AWS:WindowsUpdate", "1.0", capture, content_hash(upd), upd))
    return items


def gather(account: str, region: str, instance_id: str, params: dict[str, Any] | None = None,
           when: dt.datetime | None = None) -> int:
    """Run the inventory gatherer on a node and store what it reports; returns the number of types put.
    Called by the Run Command executor's ``aws:softwareInventory`` plugin (plain SendCommand or an association)."""
    node = REGISTRY.get(account, region, instance_id)
    if node is None:
        return 0
    prof = _profiles.get((account, region, instance_id))
    if prof is not None and prof.fails:
        raise GatherError(prof.fails)
    items = build_items(account, region, node, params or ALL_ENABLED, when or clock.now())
    with _lock:
        _pending.discard((account, region, instance_id))
        store = _store(account, region)
        for item in items:
            store.put(instance_id, item)
    return len(items)


# --------------------------------------------------------------------------------------------------------
# seeding (lazy)


def seed(scenario: Any, now: dt.datetime | None = None) -> None:
    """Register the scenario's nodes for a seeded capture (materialised later, see the module docstring)."""
    global _generation
    now = now or clock.now()
    account = scenario.account_id
    stale_names = {"stg-batch-02": 4, "dr-batch-01": 9, "ステージング-バッチ": 2}
    with _lock:
        _generation += 1
        for spec in scenario.nodes:
            h = int(hashlib.blake2b(spec.instance_id.encode(), digest_size=4).hexdigest(), 16)
            online = spec.ping_status == "Online" and spec.ec2_state != "stopped"
            local = spec.real_host  # the machine the sandbox runs on (scenarios.REAL_HOST_NODE)
            if not online:
                capture = now - dt.timedelta(days=2 + h % 4, hours=h % 11)
            elif spec.tags.get("Name") in stale_names:
                capture = now - dt.timedelta(days=stale_names[spec.tags["Name"]], hours=h % 7)
            elif h % 100 < 3 and not local:
                capture = now - dt.timedelta(days=3 + h % 6)
            elif spec.association_status == "Success":
                # gathered by the seeded association's last run, which succeeded on this node: its capture is
                # from then (AWS: the gather runs at each association run), not hours older
                capture = now - SEED_LAST_RUN_AGO + dt.timedelta(seconds=5 + h % 90)
            else:
                capture = now - dt.timedelta(hours=1 + h % 5, minutes=h % 60)
            outdated = spec.tags.get("Env") == "prod" and spec.distro in ("al2023", "al2", "rhel9") and (
                spec.tags.get("Name") in ("prod-web-02", "prod-app-01", "dr-web-02") or
                (spec.tags.get("Name") not in _CURATED_CURRENT and h % 5 == 0))
            _profiles[(account, spec.region, spec.instance_id)] = Profile(
                distro=spec.distro, role=spec.tags.get("Role", "app"), instance_type=spec.instance_type,
                arch=spec.architecture, outdated_openssl=outdated, hostile=scenario.name == "hostile",
                local=local, capture=capture,
                fails=_GATHER_FAILURE if spec.tags.get("Name") in stale_names else "")
            _pending.add((account, spec.region, spec.instance_id))


#: when the seeded inventory association last ran (`associations._seed_association`), before start
SEED_LAST_RUN_AGO = dt.timedelta(minutes=20)

_GATHER_FAILURE = ("Encountered error while collecting inventory: failed to collect AWS:Application: "
                   "rpmdb open failed: database disk image is malformed")

# curated prod nodes that keep the current openssl (the skew is on the named ones only)
_CURATED_CURRENT = {"prod-web-01", "prod-web-03", "prod-app-02", "本番-決済API-01", "本番-決済API-02", "prod-db-01",
                    "prod-db-02", "prod-batch-01", "prod-win-ad-01", "dr-web-01", "dr-app-01", "DR-決済API-01",
                    "dr-db-01", "dr-batch-01", "onprem-backup-01", "大阪DC-監視-01"}


def _materialise(keys: Iterable[tuple[str, str, str]]) -> None:
    for key in keys:
        account, region, iid = key
        prof = _profiles.get(key)
        node = REGISTRY.get(account, region, iid)
        if prof is None or node is None:
            _pending.discard(key)
            continue
        existing = _stores.get((account, region), RegionStore()).items.get(iid, {}).get("AWS:InstanceInformation")
        when = (dt.datetime.strptime(existing.capture_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
                if existing is not None else prof.capture or clock.now())
        items = build_items(account, region, node, ALL_ENABLED, when)
        store = _store(account, region)
        for item in items:
            store.put(iid, item)
        _pending.discard(key)


def ensure(account: str, region: str) -> None:
    """Materialise what is still pending for a region (the read path)."""
    if not _pending:
        return
    with _lock:
        keys = [k for k in _pending if k[0] == account and k[1] == region]
        _materialise(keys)


def _warm(generation: int) -> None:
    inventory_data.local_applications()
    inventory_data.local_network()
    while True:
        with _lock:
            if generation != _generation or not _pending:
                return
            batch = list(_pending)[:200]
            _materialise(batch)


SYNC_MATERIALISE_MAX = 300


def start_warmer() -> None:
    """Materialise the seeded inventory: at once for a small fleet (tens of milliseconds; no background work
    competing with the first requests), in a background thread for a big one (so start-up stays fast)."""
    global _warmer
    if len(_pending) <= SYNC_MATERIALISE_MAX:
        inventory_data.local_applications()
        inventory_data.local_network()
        with _lock:
            _materialise(list(_pending))
        return
    gen = _generation
    _warmer = threading.Thread(target=_warm, args=(gen,), name="opstui-inventory-warm", daemon=True)
    _warmer.start()


def wait_warm(timeout: float = 30.0) -> None:
    if _warmer is not None:
        _warmer.join(timeout)


def node_items(account: str, region: str, instance_id: str) -> dict[str, Item]:
    """A node's stored items (for other sandbox modules and tests)."""
    ensure(account, region)
    with _lock:
        return dict(_store(account, region).items.get(instance_id, {}))


# --------------------------------------------------------------------------------------------------------
# filters


@dataclass
class Filter:
    type_name: str  # "" for a TypeName filter
    attribute: str  # "" for a TypeName filter
    op: str
    values: list[str]

    def test(self, entry: Entry) -> bool:
        value = entry.get(self.attribute)
        op = self.op
        if op == "Exists":
            return value is not None
        if value is None:
            return False
        if op == "Equal":
            return value in self.values
        if op == "NotEqual":
            return value not in self.values
        if op == "BeginWith":
            return any(value.startswith(v) for v in self.values)
        if op == "LessThan":
            return version_key(value) < version_key(self.values[0])
        return version_key(value) > version_key(self.values[0])


def _known_attributes(account: str, region: str, type_name: str) -> set[str] | None:
    if type_name in SCHEMAS:
        return {a for a, _ in SCHEMAS[type_name][2]}
    custom = _custom.get((account, region), {}).get(type_name)
    if custom is not None:
        return set(custom["attributes"])
    return None


def _parse_filter(raw: dict[str, Any], account: str, region: str, *, attribute_only: str | None = None,
                  code: str = "InvalidFilter") -> Filter:
    key = str(raw.get("Key") or "")
    values = [str(v) for v in raw.get("Values") or []]
    op = str(raw.get("Type") or "Equal")
    if op not in OPERATORS:
        raise _error(code, f"The filter type {op} is not valid. Valid types: {', '.join(OPERATORS)}.")
    if not values or len(values) > 40:
        raise _error(code, f"The filter {key} needs 1 to 40 values.")
    if op in ("LessThan", "GreaterThan") and len(values) != 1:
        raise _error(code, f"The filter type {op} takes exactly one value.")
    if attribute_only is not None:  # ListInventoryEntries: keys are attribute names of one type
        known = _known_attributes(account, region, attribute_only)
        if known is not None and key not in known:
            raise _error(code, f"The filter key {key} is not valid for type {attribute_only}.")
        return Filter(attribute_only, key, op, values)
    if key == "TypeName":
        if op not in ("Exists", "Equal"):
            raise _error(code, "The TypeName filter supports the Exists and Equal types only.")
        return Filter("", "", op, values)
    m = _KEY.match(key)
    if not m:
        raise _error(code, f"The filter key {key} is not valid. Use <TypeName>.<Attribute>, for example "
                           "AWS:Application.Name.")
    type_name, attribute = m.group(1), m.group(2)
    known = _known_attributes(account, region, type_name)
    if known is None:
        raise _error(code, f"The type name {type_name} in filter key {key} is not valid.")
    if attribute not in known:
        raise _error(code, f"The attribute {attribute} in filter key {key} is not valid for type {type_name}.")
    return Filter(type_name, attribute, op, values)


def _matching_postings(store: RegionStore, type_name: str, filters: list[Filter]) -> list[Posting]:
    postings = store.postings.get(type_name, {})
    if not filters:
        return list(postings.values())
    # an Equal filter narrows by value before testing the rest
    return [p for p in postings.values() if all(f.test(p.entry) for f in filters)]


def _filtered_nodes(store: RegionStore, filters: list[Filter]) -> tuple[set[str], dict[str, list[Posting]]]:
    """Nodes with AWS:InstanceInformation matching all filters, and per filtered type the matching postings."""
    nodes = {iid for iid, items in store.items.items() if "AWS:InstanceInformation" in items}
    by_type: dict[str, list[Filter]] = {}
    for f in filters:
        if not f.type_name:
            wanted = set(f.values)
            nodes = {iid for iid in nodes if wanted.intersection(store.items.get(iid, {}))}
            continue
        by_type.setdefault(f.type_name, []).append(f)
    matched: dict[str, list[Posting]] = {}
    for type_name, fs in by_type.items():
        postings = _matching_postings(store, type_name, fs)
        matched[type_name] = postings
        have: set[str] = set()
        for p in postings:
            have |= p.nodes
        nodes &= have
    return nodes, matched


# --------------------------------------------------------------------------------------------------------
# aggregation


@dataclass
class _Group:
    row: dict[str, str]
    nodes: set[str]
    postings: dict[str, list[Posting]]  # per type: the entries this row is about


def _parse_expression(expr: str, account: str, region: str) -> tuple[str, str]:
    m = _KEY.match(expr or "")
    if not m:
        raise _error("InvalidAggregatorException", f"The aggregator expression {expr} is not valid. Use "
                                                   "<TypeName>.<Attribute>.")
    type_name, attribute = m.group(1), m.group(2)
    known = _known_attributes(account, region, type_name)
    if known is None or attribute not in known:
        raise _error("InvalidAggregatorException", f"The aggregator expression {expr} is not valid.")
    return type_name, attribute


def _refine(store: RegionStore, group: _Group, type_name: str, attribute: str,
            filtered: dict[str, list[Posting]]) -> list[_Group]:
    base = group.postings.get(type_name)
    if base is None:
        base = filtered.get(type_name)
    if base is None:
        base = list(store.postings.get(type_name, {}).values())
    buckets: dict[str, tuple[set[str], list[Posting]]] = {}
    scope = group.nodes
    for p in base:
        value = p.entry.get(attribute)
        if value is None:
            continue
        inter = p.nodes & scope if len(p.nodes) > len(scope) else {n for n in p.nodes if n in scope}
        if not inter:
            continue
        bucket = buckets.get(value)
        if bucket is None:
            buckets[value] = (inter, [p])
        else:
            bucket[0].update(inter)
            bucket[1].append(p)
    out = []
    for value in sorted(buckets, key=version_key):
        nodes, postings = buckets[value]
        out.append(_Group({**group.row, attribute: value}, nodes, {**group.postings, type_name: postings}))
    return out


def _aggregate(store: RegionStore, spec: dict[str, Any], groups: list[_Group], filtered: dict[str, list[Posting]],
               account: str, region: str, data: dict[str, dict[str, Any]], type_hint: str | None) -> None:
    expr = spec.get("Expression")
    nested = spec.get("Aggregators") or []
    group_specs = spec.get("Groups") or []
    if not expr and not group_specs:
        raise _error("InvalidAggregatorException", "An aggregator needs an Expression or Groups.")
    if len(nested) > 10:
        raise _error("InvalidAggregatorException", "At most 10 nested aggregators.")
    if group_specs:
        if len(group_specs) > 15:
            raise _error("InvalidInventoryGroupException", "At most 15 groups.")
        for g in group_specs:
            name = str(g.get("Name") or "")
            raw_filters = g.get("Filters") or []
            if not name or not raw_filters:
                raise _error("InvalidInventoryGroupException", "A group needs a Name and Filters.")
            gfilters = [_parse_filter(f, account, region, code="InvalidInventoryGroupException") for f in raw_filters]
            matching, _ = _filtered_nodes(store, gfilters)
            for grp in groups:
                inside = len(grp.nodes & matching)
                data[name] = {"Content": [{"notMatchingCount": str(len(grp.nodes) - inside)},
                                          {"matchingCount": str(inside)}]}
    if not expr:
        return
    type_name, attribute = _parse_expression(str(expr), account, region)
    refined: list[_Group] = []
    for grp in groups:
        refined.extend(_refine(store, grp, type_name, attribute, filtered))
    top_type = type_hint or type_name
    if nested:
        for sub in nested:
            _aggregate(store, sub, refined, filtered, account, region, data, top_type)
        return
    target = data.setdefault(top_type, {"Content": []})
    for grp in refined:
        target["Content"].append({"Count": str(len(grp.nodes)), **grp.row})


# --------------------------------------------------------------------------------------------------------
# handlers


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _max_results(self: Any, low: int = 1, high: int = 50, default: int = 50) -> int:
    value = self._get_param("MaxResults")
    value = default if value is None else int(value)
    if not low <= value <= high:
        raise _error("ValidationException", f"1 validation error detected: Value '{value}' at 'maxResults' failed "
                                            f"to satisfy constraint: Member must have value between {low} and {high}")
    return value


def _encode(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode(token: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(value, dict):
            raise ValueError
        return value
    except Exception as exc:
        raise _error("InvalidNextToken", "The specified token is not valid.") from exc


def _check_type_name(type_name: str) -> None:
    if not type_name or len(type_name) > 100 or not re.match(r"^(AWS|Custom):.+$", type_name):
        raise _error("InvalidTypeNameException", f"The parameter type name {type_name} is not valid. Type names "
                                                 "start with AWS: or Custom:.")


def get_inventory(self: Any) -> str:
    account, region = self.current_account, self.region
    ensure(account, region)
    raw_filters = self._get_param("Filters") or []
    if len(raw_filters) > 5:
        raise _error("InvalidFilter", "At most 5 filters.")
    filters = [_parse_filter(f, account, region) for f in raw_filters]
    result_type = "AWS:InstanceInformation"
    attrs = self._get_param("ResultAttributes") or []
    if attrs:
        wanted = str(attrs[0].get("TypeName") or "")
        if len(attrs) != 1 or wanted not in RESULT_TYPES:
            raise _error("InvalidResultAttributeException",
                         f"Result type name {wanted} is not supported. Supported type names are: "
                         "AWS:InstanceInformation, AWS:PatchSummary. Default result type name is "
                         "AWS:InstanceInformation.")
        result_type = wanted
    aggregators = self._get_param("Aggregators") or []
    with _lock:
        store = _store(account, region)
        nodes, filtered = _filtered_nodes(store, filters)
        if aggregators:
            if len(aggregators) > 10:
                raise _error("InvalidAggregatorException", "At most 10 aggregators.")
            data: dict[str, dict[str, Any]] = {}
            root = [_Group({}, nodes, {})]
            for spec in aggregators:
                _aggregate(store, spec, root, filtered, account, region, data, None)
            return _dumps({"Entities": [{"Data": data}]})
        max_results = _max_results(self)
        ids = sorted(iid for iid in nodes if result_type in store.items.get(iid, {}))
        start = 0
        token = self._get_param("NextToken")
        if token:
            after = _decode(token).get("after")
            if not isinstance(after, str):
                raise _error("InvalidNextToken", "The specified token is not valid.")
            start = next((n for n, iid in enumerate(ids) if iid > after), len(ids))
        page = ids[start : start + max_results]
        entities = [{"Id": iid, "Data": {result_type: store.items[iid][result_type].as_result()}} for iid in page]
        body: dict[str, Any] = {"Entities": entities}
        if start + max_results < len(ids):
            body["NextToken"] = _encode({"after": page[-1]})
        return _dumps(body)


def _known_instance(account: str, region: str, instance_id: str) -> bool:
    return REGISTRY.get(account, region, instance_id) is not None or instance_id in _store(account, region).items


def list_inventory_entries(self: Any) -> str:
    account, region = self.current_account, self.region
    instance_id = self._get_param("InstanceId") or ""
    type_name = self._get_param("TypeName") or ""
    _check_type_name(type_name)
    ensure(account, region)
    raw_filters = self._get_param("Filters") or []
    if len(raw_filters) > 5:
        raise _error("InvalidFilter", "At most 5 filters.")
    filters = [_parse_filter(f, account, region, attribute_only=type_name) for f in raw_filters]
    max_results = _max_results(self)
    with _lock:
        if not _known_instance(account, region, instance_id):
            raise _error("InvalidInstanceId", f"Instance Id {instance_id} is not valid for account {account}.")
        item = _store(account, region).items.get(instance_id, {}).get(type_name)
        body: dict[str, Any] = {"TypeName": type_name, "InstanceId": instance_id}
        if item is None:
            body["Entries"] = []
            return _dumps(body)
        rows = [e for e in item.content if all(f.test(e) for f in filters)] if filters else item.content
        start = 0
        token = self._get_param("NextToken")
        if token:
            start = _decode(token).get("offset", -1)
            if not isinstance(start, int) or not 0 <= start <= len(rows):
                raise _error("InvalidNextToken", "The specified token is not valid.")
        page = rows[start : start + max_results]
        body.update({"SchemaVersion": item.schema_version, "CaptureTime": item.capture_time, "Entries": page})
        if start + max_results < len(rows):
            body["NextToken"] = _encode({"offset": start + max_results})
        return _dumps(body)


def put_inventory(self: Any) -> str:
    account, region = self.current_account, self.region
    instance_id = self._get_param("InstanceId") or ""
    raw_items = self._get_param("Items") or []
    if REGISTRY.get(account, region, instance_id) is None:
        raise _error("InvalidInstanceId", f"Instance Id {instance_id} is not valid for account {account}.")
    if not 1 <= len(raw_items) <= 30:
        raise _error("ValidationException", "1 validation error detected: Value at 'items' failed to satisfy "
                                            "constraint: Member must have length between 1 and 30")
    ensure(account, region)
    with _lock:
        store = _store(account, region)
        customs = _custom.setdefault((account, region), {})
        prepared: list[tuple[Item, bool]] = []
        for n, raw in enumerate(raw_items, start=1):
            type_name = str(raw.get("TypeName") or "")
            _check_type_name(type_name)
            version = str(raw.get("SchemaVersion") or "")
            capture = str(raw.get("CaptureTime") or "")
            content = raw.get("Content")
            content = content if isinstance(content, list) else []
            given_hash = str(raw.get("ContentHash") or "")
            if type_name.startswith("AWS:"):
                if type_name not in SCHEMAS:
                    raise _error("InvalidTypeNameException", f"The parameter type name {type_name} is not valid.")
                if version not in SCHEMAS[type_name][0]:
                    raise _error("UnsupportedInventorySchemaVersionException",
                                 f"Inventory type {type_name} does not support schema version {version}. Supported "
                                 f"versions: {', '.join(SCHEMAS[type_name][0])}.")
            elif not _SCHEMA_VERSION.match(version):
                raise _error("UnsupportedInventorySchemaVersionException",
                             f"Schema version {version} is not valid; use a version like 1.0.")
            if type_name.startswith("Custom:"):
                info = customs.get(type_name)
                if info is not None and info.get("disabled"):
                    raise _error("InvalidTypeNameException", f"The inventory type {type_name} is disabled.")
                if info is None and len([t for t, i in customs.items() if not i.get("disabled")]) >= MAX_CUSTOM_TYPES:
                    raise _error("CustomSchemaCountLimitExceededException",
                                 f"You have exceeded the limit of {MAX_CUSTOM_TYPES} custom inventory types.")
            if not _CAPTURE_TIME.match(capture):
                raise _error("ValidationException", f"1 validation error detected: Value '{capture}' at "
                                                    f"'items.{n}.member.captureTime' failed to satisfy constraint: "
                                                    f"Member must satisfy regular expression pattern: "
                                                    f"{_CAPTURE_TIME.pattern}")
            old = store.items.get(instance_id, {}).get(type_name)
            if given_hash and old is not None and old.content_hash == given_hash:
                prepared.append((Item(type_name, version, capture, given_hash, old.content), False))
                continue
            if len(content) > 10_000:
                raise _error("InvalidItemContentException", "An item holds at most 10,000 entries.")
            clean: list[Entry] = []
            attributes: set[str] = set()
            for entry in content:
                if not isinstance(entry, dict):
                    raise _error("InvalidItemContentException", "Each entry must be a map of strings.")
                row = {str(k): str(v) for k, v in entry.items()}
                attributes.update(row)
                clean.append(row)
            if type_name.startswith("AWS:"):
                known = {a for a, _ in SCHEMAS[type_name][2]}
                extra = sorted(attributes - known)
                if extra:
                    raise _error("InvalidItemContentException",
                                 f"The inventory item {type_name} has attributes that are not in its schema: "
                                 f"{', '.join(extra)}.")
            elif len(attributes) > 50:
                raise _error("InvalidItemContentException", "A custom inventory type holds at most 50 attributes.")
            size = len(json.dumps(clean, ensure_ascii=False).encode())
            if size > ITEM_SIZE_LIMIT:
                raise _error("ItemSizeLimitExceededException",
                             f"The inventory item {type_name} is {size} bytes; the limit is {ITEM_SIZE_LIMIT} bytes.")
            clean = [store.intern(type_name, e) for e in clean]
            prepared.append((Item(type_name, version, capture, given_hash or content_hash(clean), clean), True))
        for item, is_new in prepared:
            if item.type_name.startswith("Custom:"):
                info = customs.setdefault(item.type_name, {"version": item.schema_version, "attributes": {}})
                for entry in item.content:
                    for key in entry:
                        info["attributes"].setdefault(key, S)
                info["version"] = item.schema_version
            if is_new:
                store.put(instance_id, item)
            else:
                store.items[instance_id][item.type_name] = item
    return _dumps({"Message": f"{len(prepared)} inventory item(s) accepted."})


def get_inventory_schema(self: Any) -> str:
    account, region = self.current_account, self.region
    prefix = self._get_param("TypeName") or ""
    aggregator = bool(self._get_param("Aggregator"))
    sub_type = bool(self._get_param("SubType"))
    max_results = _max_results(self, 50, 200, 50)
    schemas: list[dict[str, Any]] = []
    if not sub_type:
        for type_name, (versions, display, attrs) in SCHEMAS.items():
            if not type_name.startswith(prefix):
                continue
            if aggregator:
                agg = AGGREGATABLE.get(type_name)
                if not agg:
                    continue
                attrs = [(a, t) for a, t in attrs if a in agg]
            schemas.append({"TypeName": type_name, "Version": versions[0], "DisplayName": display,
                            "Attributes": [{"Name": a, "DataType": t} for a, t in attrs]})
        if not aggregator:
            with _lock:
                for type_name, info in sorted(_custom.get((account, region), {}).items()):
                    if type_name.startswith(prefix) and not info.get("disabled"):
                        schemas.append({"TypeName": type_name, "Version": info["version"],
                                        "Attributes": [{"Name": a, "DataType": t}
                                                       for a, t in info["attributes"].items()]})
    start = 0
    token = self._get_param("NextToken")
    if token:
        start = _decode(token).get("offset", -1)
        if not isinstance(start, int) or not 0 <= start <= len(schemas):
            raise _error("InvalidNextToken", "The specified token is not valid.")
    body: dict[str, Any] = {"Schemas": schemas[start : start + max_results]}
    if start + max_results < len(schemas):
        body["NextToken"] = _encode({"offset": start + max_results})
    return _dumps(body)


def delete_inventory(self: Any) -> str:
    account, region = self.current_account, self.region
    type_name = self._get_param("TypeName") or ""
    option = self._get_param("SchemaDeleteOption")
    dry_run = bool(self._get_param("DryRun"))
    _check_type_name(type_name)
    if not type_name.startswith("Custom:"):
        raise _error("InvalidTypeNameException", f"Only custom inventory types can be deleted; {type_name} is an "
                                                 "AWS type.")
    if option is not None and option not in ("DisableSchema", "DeleteSchema"):
        raise _error("InvalidOptionException", f"The SchemaDeleteOption {option} is not valid. Valid options: "
                                               "DisableSchema, DeleteSchema.")
    ensure(account, region)
    with _lock:
        customs = _custom.setdefault((account, region), {})
        info = customs.get(type_name)
        if info is None:
            raise _error("InvalidTypeNameException", f"The inventory type {type_name} does not exist.")
        store = _store(account, region)
        total = sum(1 for items in store.items.values() if type_name in items)
        version = info.get("version", "1.0")
        if not dry_run:
            store.drop_type(type_name)
            if option == "DeleteSchema":
                customs.pop(type_name, None)
            elif option == "DisableSchema":
                info["disabled"] = True
    remaining = total if dry_run else 0
    return _dumps({"DeletionId": str(uuid.uuid4()), "TypeName": type_name,
                   "DeletionSummary": {"TotalCount": total, "RemainingCount": remaining,
                                       "SummaryItems": [{"Version": version, "Count": total,
                                                         "RemainingCount": remaining}]}})


# --------------------------------------------------------------------------------------------------------
# the extension


class Inventory(Extension):
    """The five inventory actions; the scenario's inventory, seeded and materialised; its knobs.

    Control: ``GET /_opstui/inventory`` (knobs, nodes with inventory, pending, distinct entries per type);
    ``POST {"apps_per_node": N | null}``: every scenario node (but the local one) reports exactly N
    applications (null: the scenario's own sets), re-materialised lazily, capture times kept; answers
    ``{"settings": ...}``.
    """

    name = "inventory"

    def patch(self) -> None:
        attach(SimpleSystemManagerResponse, put_inventory, get_inventory, list_inventory_entries,
               get_inventory_schema, delete_inventory)

    def prepare(self, sandbox: Sandbox) -> None:
        clear()
        seed(sandbox.scenario_data)

    def start(self, sandbox: Sandbox) -> None:
        start_warmer()

    def configure(self, **knobs: Any) -> dict[str, Any]:
        unknown = set(knobs) - {"apps_per_node"}
        if unknown:
            raise ValueError(f"unknown inventory knob(s) {sorted(unknown)}; known: ['apps_per_node']")
        if "apps_per_node" in knobs:
            value = knobs["apps_per_node"]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= 2000):
                raise ValueError("apps_per_node must be an integer 1-2000 or null")
            with _lock:
                _settings.apps_per_node = value
                for key, prof in _profiles.items():
                    if not prof.local:
                        _pending.add(key)
        return {"settings": _settings.as_dict()}

    def control_snapshot(self) -> dict[str, Any]:
        with _lock:
            nodes = sum(len(s.items) for s in _stores.values())
            postings = {t: len(p) for s in _stores.values() for t, p in s.postings.items()}
            return {"settings": _settings.as_dict(), "nodes_with_inventory": nodes, "pending": len(_pending),
                    "distinct_entries": postings}


EXTENSION = Inventory()
