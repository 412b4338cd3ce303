"""The app's context, typed, and the fleet model every tab shares.

The App owns one :class:`AppContext`: the AWS clients, the loop they run on, the settings, the generation
(bumped when the profile or the regions change, so results of the previous account still in flight are
dropped), and the :class:`FleetModel`. Views reach it with :func:`context_of` (typed, no cast on the app)
and never read another view's widgets: the Fleet tab writes the snapshot and the selection into the model,
and whoever cares subscribes to its signals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from textual.signal import Signal

from opstui.aws.clients import AwsClients
from opstui.aws.models import FleetNode, FleetSnapshot
from opstui.aws.runner import AwsLoop
from opstui.config import Settings

if TYPE_CHECKING:
    from textual.dom import DOMNode

T = TypeVar("T")


class Stale(Exception):
    """The profile or regions changed while a call was in flight: its result belongs to the old context."""


class FleetModel:
    """The last fleet snapshot, the selection (node keys) and the filter the Fleet tab should show.

    Signals (published on the UI thread): ``snapshot_changed`` (the snapshot), ``selection_changed`` (the
    set of keys), ``filter_requested`` (text the Fleet's filter box should take: a jump from another tab).
    """

    def __init__(self, owner: DOMNode) -> None:
        self.snapshot: FleetSnapshot | None = None
        self.selection: set[str] = set()
        self.cursor_key: str | None = None  # the node under the Fleet's cursor (a new alarm starts from it)
        self.snapshot_changed: Signal[FleetSnapshot | None] = Signal(owner, "fleet-snapshot")
        self.selection_changed: Signal[frozenset[str]] = Signal(owner, "fleet-selection")
        self.filter_requested: Signal[str] = Signal(owner, "fleet-filter")

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[FleetNode]:
        return list(self.snapshot.nodes) if self.snapshot else []

    def by_key(self) -> dict[str, FleetNode]:
        return {n.key: n for n in self.nodes}

    def names(self) -> dict[str, str]:
        """Instance id -> Name tag, for the nodes that have one."""
        return {n.instance_id: n.name for n in self.nodes if n.name}

    @property
    def cursor(self) -> FleetNode | None:
        return self.by_key().get(self.cursor_key or "")

    def selected_nodes(self) -> list[FleetNode]:
        """The selected nodes, in snapshot order (keys no longer in the snapshot are left out)."""
        return [n for n in self.nodes if n.key in self.selection]

    # -- writing (each publishes) -----------------------------------------------------------------------------
    def set_snapshot(self, snapshot: FleetSnapshot | None) -> None:
        self.snapshot = snapshot
        self.snapshot_changed.publish(snapshot)

    def select(self, keys: Iterable[str]) -> None:
        """The selection becomes exactly ``keys``."""
        self.selection = set(keys)
        self.selection_changed.publish(frozenset(self.selection))

    def request_filter(self, text: str) -> None:
        """Ask the Fleet tab to show this filter (the Overview's and the Inventory's jumps)."""
        self.filter_requested.publish(text)


class Navigator(Protocol):
    """What a view may ask of the app to move the user elsewhere (the app implements it)."""

    def show_tab(self, tab_id: str) -> None: ...

    def open_shells(self, nodes: list[FleetNode]) -> None: ...

    def open_run_command(self, nodes: list[FleetNode]) -> None: ...

    def jump_to(self, tab: str, filter_text: str = "", panel: str = "") -> None: ...

    def open_node_logs(self, nodes: list[FleetNode]) -> None: ...

    def open_logs(self, targets: list[Any], since_ms: int | None = None) -> None: ...

    def open_metric_logs(self, region: str, metric_name: str, namespace: str, at_ms: int | None = None) -> None: ...

    def refresh_fleet(self) -> None: ...


@dataclass
class AppContext:
    """What a view needs from the app, typed: clients, loop, settings, generation, fleet, navigation."""

    settings: Settings
    aws: AwsClients
    loop: AwsLoop
    fleet: FleetModel
    nav: Navigator
    generation: int = 0
    account: str = ""  # from STS GetCallerIdentity, once known
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        return list(self.settings.regions)

    @property
    def read_only(self) -> bool:
        return bool(self.settings.read_only)

    async def run(self, coro: Awaitable[T]) -> T:
        """Run an aws-layer coroutine on the AWS loop (never on the UI loop)."""
        return await self.loop.run(coro)  # type: ignore[arg-type]

    async def fresh(self, coro: Awaitable[T], generation: int) -> T:
        """Like :meth:`run`, but raise :class:`Stale` if the context changed meanwhile."""
        result = await self.loop.run(coro)  # type: ignore[arg-type]
        if generation != self.generation:
            raise Stale()
        return result


def context_of(node: DOMNode) -> AppContext:
    """The app's context, for any widget of the app."""
    ctx: Any = getattr(node.app, "ctx", None)
    if not isinstance(ctx, AppContext):
        raise RuntimeError("the app has no AppContext (views run inside OpsApp)")
    return ctx
