"""Scenario data for the sandbox: which servers exist, what they run, how they are tagged.

Pure data and pure generators (no moto, no I/O) so a scenario can be read, diffed and tested
without starting anything; ``seed.py`` turns a :class:`Scenario` into moto backend state.
Everything is derived from ``random.Random(seed)`` so a given (scenario, nodes, seed) always
yields the same instance ids, addresses and tags.

Scenarios:

* ``default`` -- 25 curated nodes: 18 in ap-northeast-1 (primary), 7 in ap-northeast-3 (DR).
  Guarantees (tests rely on them): a Windows Server 2022 node, a running node whose agent is
  ConnectionLost, a stopped instance (hence ConnectionLost), a hybrid ``mi-`` node with no EC2
  instance, an outdated agent, Japanese Name tags.
* ``default`` with ``nodes=N`` -- the curated nodes (the first ``min(N, 25)``) plus generated
  nodes split 80/20 between the two regions, up to 10,000.
* ``hostile`` -- 8 nodes whose names, tags, computer names and platform names carry Rich markup,
  terminal escape sequences, strings as long as AWS allows, newlines, tabs and double-width text.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

PRIMARY = "ap-northeast-1"
DR = "ap-northeast-3"
ACCOUNT_ID = "123456789012"
LATEST_AGENT = "3.3.1142.0"
OUTDATED_AGENT = "3.1.1732.0"
MAX_NODES = 10_000

#: VPC layout per region: (vpc cidr, {az: subnet cidr}). /19 subnets hold 8k hosts each.
NETWORKS: dict[str, tuple[str, dict[str, str]]] = {
    PRIMARY: (
        "10.0.0.0/16",
        {"ap-northeast-1a": "10.0.0.0/19", "ap-northeast-1c": "10.0.32.0/19", "ap-northeast-1d": "10.0.64.0/19"},
    ),
    DR: (
        "10.1.0.0/16",
        {"ap-northeast-3a": "10.1.0.0/19", "ap-northeast-3b": "10.1.32.0/19", "ap-northeast-3c": "10.1.64.0/19"},
    ),
}

#: (PlatformType, PlatformName, PlatformVersion, image id, computer-name style, arch-agnostic)
DISTROS: dict[str, tuple[str, str, str, str]] = {
    "al2023": ("Linux", "Amazon Linux", "2023", "ami-0a3c14e1ddbe7f23c"),
    "al2": ("Linux", "Amazon Linux", "2", "ami-0bba69335379e17f8"),
    "ubuntu2204": ("Linux", "Ubuntu", "22.04", "ami-0d52744d6551d851e"),
    "ubuntu2404": ("Linux", "Ubuntu", "24.04", "ami-0b20f552f63953f0e"),
    "rhel9": ("Linux", "Red Hat Enterprise Linux", "9.4", "ami-0f1ac8ea5e2ac1f4e"),
    "win2022": ("Windows", "Microsoft Windows Server 2022 Datacenter", "10.0.20348", "ami-05b0e7b3a6bcd5bda"),
}


@dataclass
class NodeSpec:
    """One managed node (and, unless hybrid, its EC2 instance) as the scenario wants it."""

    instance_id: str
    region: str
    tags: dict[str, str]
    distro: str
    private_ip: str
    az: str | None = None
    instance_type: str = "t3.medium"
    ec2_state: str | None = "running"  # None: hybrid/on-prem node, no EC2 instance
    ping_status: str = "Online"  # the agent's own status; a stopped instance shows ConnectionLost
    agent_version: str = LATEST_AGENT
    computer_name: str | None = None
    platform_name: str | None = None  # override the distro's name (hostile scenario, the real host)
    platform_version: str | None = None  # override the distro's version (the real host)
    #: this node is the machine the sandbox runs on: its shells and commands run here, its inventory reports
    #: this machine's packages and interfaces, and its platform is this machine's (/etc/os-release)
    real_host: bool = False
    association_status: str | None = "Success"
    launch_time: dt.datetime = field(default_factory=lambda: dt.datetime(2025, 4, 1, tzinfo=dt.UTC))
    activation_id: str | None = None
    iam_role: str | None = None
    hybrid_name: str | None = None
    key_name: str | None = "ops-2025"
    #: the living thread must not change this node (it carries a scenario guarantee)
    pinned: bool = False

    @property
    def name(self) -> str:
        return self.hybrid_name or self.tags.get("Name", "")

    @property
    def is_hybrid(self) -> bool:
        return self.ec2_state is None

    @property
    def architecture(self) -> str:
        family = self.instance_type.split(".")[0]
        return "arm64" if family.endswith("g") or family.endswith("gd") else "x86_64"


@dataclass
class Scenario:
    name: str
    regions: list[str]
    nodes: list[NodeSpec]
    latest_agent: str = LATEST_AGENT
    account_id: str = ACCOUNT_ID


# --------------------------------------------------------------------------------------------
# helpers


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


class _Allocator:
    """Deterministic ids and private IPs (sequential per subnet, skipping AWS's reserved .0-.3)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used_ids: set[str] = set()
        self.next_host: dict[str, int] = {}

    def instance_id(self) -> str:
        while True:
            iid = "i-0" + _hex(self.rng, 16)
            if iid not in self.used_ids:
                self.used_ids.add(iid)
                return iid

    def ip(self, az: str) -> str:
        region = az[:-1]
        subnet = NETWORKS[region][1][az]
        base = subnet.split("/")[0].split(".")
        n = self.next_host.get(az, 10)
        self.next_host[az] = n + 1
        third = int(base[2]) + n // 256
        return f"{base[0]}.{base[1]}.{third}.{n % 256}"

    def launch_time(self) -> dt.datetime:
        start = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
        return start + dt.timedelta(minutes=self.rng.randrange(0, 60 * 24 * 420))


def _computer_name(spec: NodeSpec) -> str:
    """The host name the node's OS reports (SSM's ComputerName; what ``hostname`` prints on the node).

    Linux EC2: the IP-based private DNS name, ``ip-10-0-0-10.<region>.compute.internal``, except in us-east-1
    where it is ``ip-10-0-0-10.ec2.internal`` ("Private hostnames",
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/hostname-types.html). Windows AMIs name the computer ``EC2AMAZ-`` plus seven characters at first
    boot; here they come from the instance id, so a node keeps its name across runs."""
    if spec.distro == "win2022":
        return "EC2AMAZ-" + spec.instance_id[-7:].upper()
    domain = "ec2.internal" if spec.region == "us-east-1" else f"{spec.region}.compute.internal"
    return f"ip-{spec.private_ip.replace('.', '-')}.{domain}"


def _finish(spec: NodeSpec) -> NodeSpec:
    if spec.computer_name is None:
        spec.computer_name = _computer_name(spec)
    return spec


# --------------------------------------------------------------------------------------------
# default scenario

#: the curated node that is the machine the sandbox runs on (NodeSpec.real_host): it reports this machine's
#: packages, interfaces and OS (PlatformName/Version from /etc/os-release) instead of its row's distro
REAL_HOST_NODE = "prod-web-01"

# (region, az suffix, Name, Role, Env, Team, Service, distro, instance type, extras)
_DEFAULT_ROWS: list[tuple[str, str, str, str, str, str, str, str, str, dict]] = [
    (PRIMARY, "a", "prod-web-01", "web", "prod", "platform", "storefront", "al2023", "t3.large", {}),
    (PRIMARY, "c", "prod-web-02", "web", "prod", "platform", "storefront", "al2023", "t3.large", {}),
    (PRIMARY, "d", "prod-web-03", "web", "prod", "platform", "storefront", "al2023", "t3.large",
     {"ping_status": "ConnectionLost", "pinned": True}),
    (PRIMARY, "a", "prod-app-01", "app", "prod", "payments", "checkout", "al2023", "m6i.xlarge", {}),
    (PRIMARY, "c", "prod-app-02", "app", "prod", "payments", "checkout", "al2", "m6i.xlarge",
     {"agent_version": OUTDATED_AGENT, "pinned": True}),
    (PRIMARY, "a", "本番-決済API-01", "app", "prod", "payments", "payment-api", "al2023", "m6i.large", {}),
    (PRIMARY, "c", "本番-決済API-02", "app", "prod", "payments", "payment-api", "al2023", "m6i.large", {}),
    (PRIMARY, "a", "prod-db-01", "db", "prod", "data", "orders-db", "rhel9", "r6g.2xlarge", {}),
    (PRIMARY, "c", "prod-db-02", "db", "prod", "data", "orders-db", "rhel9", "r6g.2xlarge", {}),
    (PRIMARY, "d", "prod-batch-01", "batch", "prod", "data", "nightly-etl", "ubuntu2204", "m6i.2xlarge", {}),
    (PRIMARY, "a", "prod-win-ad-01", "app", "prod", "corp-it", "active-directory", "win2022", "m6i.large", {}),
    (PRIMARY, "a", "stg-web-01", "web", "stg", "platform", "storefront", "ubuntu2404", "t3.medium", {}),
    (PRIMARY, "c", "stg-app-01", "app", "stg", "payments", "checkout", "ubuntu2404", "t3.medium", {}),
    (PRIMARY, "d", "stg-app-02", "app", "stg", "payments", "checkout", "ubuntu2204", "t3.medium",
     {"ec2_state": "stopped", "pinned": True}),
    (PRIMARY, "a", "stg-db-01", "db", "stg", "data", "orders-db", "rhel9", "r6g.large", {}),
    (PRIMARY, "c", "ステージング-バッチ", "batch", "stg", "data", "nightly-etl", "al2", "t3.large",
     {"association_status": "Failed"}),
    (PRIMARY, "d", "stg-batch-02", "batch", "stg", "data", "reports", "al2023", "t3.small", {}),
    (DR, "a", "dr-web-01", "web", "prod", "platform", "storefront", "al2023", "t3.large", {}),
    (DR, "b", "dr-web-02", "web", "prod", "platform", "storefront", "al2023", "t3.large", {}),
    (DR, "a", "dr-app-01", "app", "prod", "payments", "checkout", "al2023", "m6i.xlarge", {}),
    (DR, "c", "DR-決済API-01", "app", "prod", "payments", "payment-api", "al2023", "m6i.large", {}),
    (DR, "b", "dr-db-01", "db", "prod", "data", "orders-db", "rhel9", "r6g.2xlarge", {}),
    (DR, "c", "dr-batch-01", "batch", "prod", "data", "nightly-etl", "ubuntu2204", "m6i.large",
     {"agent_version": "3.2.2303.0"}),
]


def _curated(alloc: _Allocator) -> list[NodeSpec]:
    nodes: list[NodeSpec] = []
    for region, azs, name, role, env, team, service, distro, itype, extra in _DEFAULT_ROWS:
        az = region + azs
        spec = NodeSpec(
            instance_id=alloc.instance_id(),
            region=region,
            az=az,
            tags={"Name": name, "Role": role, "Env": env, "Team": team, "Service": service},
            distro=distro,
            private_ip=alloc.ip(az),
            instance_type=itype,
            launch_time=alloc.launch_time(),
            **extra,
        )
        if name == REAL_HOST_NODE:
            from .inventory_data import local_platform

            spec.real_host = True
            spec.platform_name, spec.platform_version = local_platform()
        nodes.append(_finish(spec))
    # Hybrid (on-premises) nodes: registered with an activation, no EC2 instance behind them.
    nodes.append(
        _finish(
            NodeSpec(
                instance_id="mi-0123456789abcdef0",
                region=PRIMARY,
                tags={"Name": "onprem-backup-01", "Role": "batch", "Env": "prod", "Team": "corp-it",
                      "Service": "tape-backup"},
                distro="rhel9",
                private_ip="192.168.10.21",
                ec2_state=None,
                computer_name="onprem-backup-01.corp.example.jp",
                hybrid_name="onprem-backup-01",
                activation_id="3d5e0c1a-7b2f-4e8d-9c61-2f0a4b6e8d13",
                iam_role="SSMServiceRole-Hybrid",
                key_name=None,
                pinned=True,
            )
        )
    )
    nodes.append(
        _finish(
            NodeSpec(
                instance_id="mi-0fedcba9876543210",
                region=DR,
                tags={"Name": "大阪DC-監視-01", "Role": "app", "Env": "prod", "Team": "corp-it",
                      "Service": "monitoring"},
                distro="ubuntu2204",
                private_ip="192.168.20.14",
                ec2_state=None,
                computer_name="osaka-mon-01",
                hybrid_name="大阪DC-監視-01",
                activation_id="8a1f2c3d-4e5b-4c6d-8e7f-9a0b1c2d3e4f",
                iam_role="SSMServiceRole-Hybrid",
                key_name=None,
                pinned=True,
            )
        )
    )
    return nodes


_ROLE_TYPES = {
    "web": ["t3.medium", "t3.large", "m6i.large", "t4g.large"],
    "app": ["m6i.large", "m6i.xlarge", "m7g.large", "c6i.xlarge"],
    "db": ["r6g.large", "r6g.xlarge", "r6g.2xlarge", "r6i.xlarge"],
    "batch": ["m6i.2xlarge", "c6i.2xlarge", "t3.xlarge"],
}
_TEAMS = {"web": "platform", "app": "payments", "db": "data", "batch": "data"}
_SERVICES = {
    "web": ["storefront", "cms", "api-gateway"],
    "app": ["checkout", "payment-api", "inventory", "search"],
    "db": ["orders-db", "users-db", "cache"],
    "batch": ["nightly-etl", "reports", "billing-close"],
}
_DISTRO_WEIGHTS = [("al2023", 40), ("al2", 15), ("ubuntu2204", 15), ("ubuntu2404", 12), ("rhel9", 12),
                   ("win2022", 6)]
_JP_NAMES = {"web": "本番-ウェブ", "app": "本番-決済API", "db": "本番-データベース", "batch": "本番-バッチ"}


def _generated(alloc: _Allocator, count: int, start_index: int, primary_count: int | None = None) -> list[NodeSpec]:
    rng = alloc.rng
    distros = [d for d, _ in _DISTRO_WEIGHTS]
    weights = [w for _, w in _DISTRO_WEIGHTS]
    if primary_count is None:
        primary_count = round(count * 0.8)
    primary_count = max(0, min(count, primary_count))
    nodes: list[NodeSpec] = []
    for n in range(count):
        region = PRIMARY if n < primary_count else DR
        azs = list(NETWORKS[region][1])
        az = azs[n % len(azs)]
        role = ("web", "app", "db", "batch")[rng.randrange(4)]
        env = "prod" if rng.random() < 0.65 else "stg"
        seq = start_index + n + 1
        prefix = env if region == PRIMARY else ("dr" if env == "prod" else "dr-stg")
        name = f"{prefix}-{role}-{seq:05d}"
        if env == "prod" and rng.random() < 0.03:
            name = f"{_JP_NAMES[role]}-{seq:05d}"
        distro = rng.choices(distros, weights)[0]
        roll = rng.random()
        extra: dict = {}
        if roll < 0.02:
            extra["ping_status"] = "ConnectionLost"
        elif roll < 0.035 and env == "stg":
            extra["ec2_state"] = "stopped"
        if rng.random() < 0.1:
            extra["agent_version"] = rng.choice([OUTDATED_AGENT, "3.2.2303.0", "3.3.987.0"])
        if rng.random() < 0.02:
            extra["association_status"] = "Failed"
        spec = NodeSpec(
            instance_id=alloc.instance_id(),
            region=region,
            az=az,
            tags={"Name": name, "Role": role, "Env": env, "Team": _TEAMS[role],
                  "Service": rng.choice(_SERVICES[role])},
            distro=distro,
            private_ip=alloc.ip(az),
            instance_type=rng.choice(_ROLE_TYPES[role]) if distro != "win2022" else "m6i.large",
            launch_time=alloc.launch_time(),
            **extra,
        )
        nodes.append(_finish(spec))
    return nodes


def default_scenario(seed: int = 42, nodes: int | None = None) -> Scenario:
    """The curated fleet, or (``nodes`` given) the curated fleet padded/truncated to ``nodes``."""
    alloc = _Allocator(seed)
    curated = _curated(alloc)
    if nodes is None:
        fleet = curated
    else:
        if not 1 <= nodes <= MAX_NODES:
            raise ValueError(f"nodes must be between 1 and {MAX_NODES}")
        head = curated[:nodes]
        # top each region up to an 80/20 split of the whole fleet (so 10,000 nodes are 8,000 + 2,000 and
        # page counts per region are exactly ceil(n/50) and ceil(n/1000))
        primary_target = round(nodes * 0.8)
        primary_have = sum(1 for n in head if n.region == PRIMARY)
        count = max(0, nodes - len(head))
        fleet = head + _generated(alloc, count, len(head), primary_count=primary_target - primary_have)
    return Scenario(name="default", regions=[PRIMARY, DR], nodes=fleet)


# --------------------------------------------------------------------------------------------
# hostile scenario: strings that try to break a terminal UI

HOSTILE_STRINGS: dict[str, str] = {
    "rich_red": "[red]x[/red]",
    "rich_link": "[link=https://evil.example]click[/link]",
    "rich_bold": "[bold]BOLD[/bold] [/] [not closed",
    "osc_title": "\x1b]0;pwned\x07",
    "clear_screen": "\x1b[2J",
    "sgr_red": "\x1b[31mred\x1b[0m",
    # as long as every field it goes in allows: EC2 tag values 256 characters, ComputerName 255
    # (DescribeInstanceInformation's model), inventory values 4,096 (PutInventory's); a longer one is something
    # no account can hold, and the contract check (tests/contract.py) refuses it
    "long": "A" * 255,
    "newlines": "line1\nline2\r\nline3",
    "tabs": "col1\tcol2\t\tcol3",
    "wide": "データベース主系",
    # Rich and Textual markup with a unique word inside each tag: where a word shows without its tag, the
    # markup was interpreted (the UI-wide sweep looks for exactly that); @click would even run an action
    "markup": "[red]MARKUP-RED[/red] [b]MARKUP-BOLD[/b] [$accent]MARKUP-VAR[/] [@click=app.quit]MARKUP-ACTION[/]",
}


def hostile_scenario(seed: int = 42) -> Scenario:
    """Eight nodes whose every free-text field is an attack on the renderer.

    EC2 tags travel in XML, which cannot carry C0 control characters at all (real EC2 refuses
    them too), so the sandbox's EC2 renderer replaces those with U+FFFD; the raw escape
    sequences reach the app through the SSM JSON fields (ComputerName, PlatformName, hybrid
    Name and SSM tags), which can carry them.
    """
    alloc = _Allocator(seed)
    h = HOSTILE_STRINGS
    rows: list[tuple[str, dict[str, str], str | None, str | None]] = [
        # (Name, extra tags, computer name, platform name)
        (h["rich_red"], {"Team": h["rich_link"], "Note": h["markup"]}, h["osc_title"] + "host", None),
        (h["rich_link"], {"Service": h["rich_bold"]}, h["clear_screen"], h["sgr_red"]),
        (h["osc_title"] + "web", {"Role": h["sgr_red"]}, h["sgr_red"], "Amazon Linux" + h["clear_screen"]),
        (h["long"], {"Service": h["long"]}, h["long"], h["long"]),
        (h["newlines"], {"Team": h["tabs"]}, h["newlines"], h["tabs"]),
        (h["wide"], {"Service": h["wide"] + h["wide"]}, h["wide"], h["wide"]),
        ("prod-web-[bold]01[/bold]", {"Owner": h["clear_screen"] + h["rich_red"]}, "ip-ok", None),
    ]
    nodes: list[NodeSpec] = []
    for n, (name, extra_tags, computer, platform) in enumerate(rows):
        az = PRIMARY + "acd"[n % 3]
        tags = {"Name": name, "Role": "web", "Env": "prod", "Team": "platform", "Service": "storefront"}
        tags.update(extra_tags)
        nodes.append(
            _finish(
                NodeSpec(
                    instance_id=alloc.instance_id(),
                    region=PRIMARY,
                    az=az,
                    tags=tags,
                    distro="al2023" if n % 2 == 0 else "ubuntu2404",
                    private_ip=alloc.ip(az),
                    computer_name=computer,
                    platform_name=platform,
                    launch_time=alloc.launch_time(),
                )
            )
        )
    nodes.append(
        _finish(
            NodeSpec(
                instance_id="mi-0badc0ffee0ddf00d",
                region=PRIMARY,
                tags={"Name": h["osc_title"] + h["rich_link"], "Note": h["sgr_red"] + h["newlines"]},
                distro="rhel9",
                private_ip="192.168.66.6",
                ec2_state=None,
                computer_name=h["osc_title"] + h["wide"],
                platform_name=h["rich_red"] + "\x1b[5mblink",
                hybrid_name=h["osc_title"] + h["clear_screen"] + "[red]onprem[/red]" + h["wide"],
                activation_id="00000000-dead-beef-0000-000000000000",
                iam_role="[bold]role[/bold]",
                key_name=None,
                pinned=True,
            )
        )
    )
    return Scenario(name="hostile", regions=[PRIMARY], nodes=nodes)


SCENARIOS = ("default", "hostile")


def build_scenario(name: str, seed: int = 42, nodes: int | None = None) -> Scenario:
    """Return the named scenario; ``nodes`` only applies to ``default``."""
    if name == "default":
        return default_scenario(seed=seed, nodes=nodes)
    if name == "hostile":
        return hostile_scenario(seed=seed)
    raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
