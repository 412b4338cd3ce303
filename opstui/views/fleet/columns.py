"""The Fleet table's columns (and the order they are dropped in on a narrow screen), and the table cells and
filter index of a snapshot, built off the UI thread."""

from __future__ import annotations

from rich.style import Style

from opstui.aws.fleet import NOT_MANAGED
from opstui.aws.models import FleetNode, FleetSnapshot
from opstui.views.common.format import age
from opstui.views.common.node_table import Column, PreparedRows, drop_order, prepare_rows
from opstui.views.fleet import filter as fleet_filter

PING_STYLES = {
    "Online": Style(color="green"),
    "ConnectionLost": Style(color="red", bold=True),
    "Inactive": Style(color="yellow"),
    NOT_MANAGED: Style(dim=True),
}
STATE_STYLES = {"running": Style(color="green"), "stopped": Style(color="red"), "pending": Style(color="yellow")}


def _agent(n: FleetNode) -> str:
    return f"{n.agent_version} ⚠ old" if n.agent_outdated else n.agent_version


def _last_ping_sort(n: FleetNode) -> float:
    return -(n.last_ping.timestamp()) if n.last_ping else float("inf")


FLEET_COLUMNS: list[Column[FleetNode]] = [
    Column("name", "Name", lambda n: n.name, max_width=32),
    Column("id", "Instance", lambda n: n.instance_id, max_width=20),
    Column("region", "Region", lambda n: n.region, max_width=15),
    Column("ping", "Ping", lambda n: n.ping_status, max_width=15, style=lambda n: PING_STYLES.get(n.ping_status)),
    # as wide as the names (squeezed first when the table is too wide: "Red Hat Enterprise Linux 9.4" whole
    # at 200 columns)
    Column("platform", "Platform", lambda n: n.platform, max_width=52),
    Column(
        "agent",
        "Agent",
        _agent,
        max_width=18,
        style=lambda n: Style(color="yellow") if n.agent_outdated else None,
    ),
    Column("ip", "IP", lambda n: n.ip, max_width=15),
    Column("state", "State", lambda n: n.ec2_state or ("hybrid" if n.instance_id.startswith("mi-") else ""),
           max_width=10, style=lambda n: STATE_STYLES.get(n.ec2_state)),
    Column("type", "Type", lambda n: n.instance_type, max_width=12),
    Column("az", "AZ", lambda n: n.availability_zone, max_width=16),
    Column("last_ping", "Last ping", lambda n: age(n.last_ping), max_width=9, sort_key=_last_ping_sort),
]
#: 80 columns keep Name, Instance, Ping and State; the rest go in this order (enter shows every field); beside
#: the detail pane on a narrow screen, State and Instance go too
FLEET_COLUMNS = drop_order(FLEET_COLUMNS, ("az", "type", "ip", "agent", "platform", "last_ping", "region",
                                           "state", "id"),
                           squeeze={"name": 12, "platform": 14})



def prepare_fleet(snapshot: FleetSnapshot) -> tuple[PreparedRows[FleetNode], fleet_filter.FleetIndex]:
    """Table cells and filter index for a snapshot; pure, so it runs in a thread."""
    nodes = list(snapshot.nodes)
    return prepare_rows(FLEET_COLUMNS, nodes), fleet_filter.FleetIndex.build(nodes)
