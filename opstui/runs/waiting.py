"""Which nodes a run is still waiting on, and why: the line `opstui run` keeps on stderr so that a run
never sits at "3/4 done" without saying who is missing.

A node is waited on while its invocation is not terminal. The why is what the operator can act on: the
node's agent status from the fleet when it is not Online (an invocation stays ``Delayed`` while the agent
is ConnectionLost, until the delivery timeout), else the invocation's StatusDetails when they say more than
its status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opstui.runs.fold import fold_names
from opstui.runs.tracker import NodeState


def waiting_on(states: Iterable[NodeState], agent_status: Mapping[str, str] | None = None) -> str:
    """e.g. ``Delayed: prod-web-03 (ConnectionLost) · InProgress: stg-db-01``; "" when nothing is left."""
    agent_status = agent_status or {}
    groups: dict[tuple[str, str], list[str]] = {}
    for s in states:
        if s.done:
            continue
        ping = agent_status.get(s.instance_id, "")
        why = ping if ping and ping != "Online" else (s.details if s.details not in ("", s.status, s.outcome)
                                                      else "")
        groups.setdefault((s.outcome, why), []).append(s.name or s.instance_id)
    order = ("Delayed", "Pending", "InProgress", "Cancelling")
    parts = []
    for (outcome, why), names in sorted(groups.items(), key=lambda kv: (
            order.index(kv[0][0]) if kv[0][0] in order else 9, kv[0])):
        parts.append(f"{outcome}: {fold_names(names)}" + (f" ({why})" if why else ""))
    return " · ".join(parts)
