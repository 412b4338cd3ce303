"""A background thread that keeps the sandbox fleet looking alive.

Why: a console is judged by how it shows change. Every tick (~3 s) this thread

* bumps ``LastPingDateTime`` of nodes that are effectively Online (more often than the agent's 5-minute ping,
  so an Online node's last ping is always within that interval);
* now and then drops one Online node to ConnectionLost and restores it 1-3 ticks later; the lost node's last
  ping is backdated past the interval (:data:`~opstui.sandbox.ssm_nodes.LOST_AFTER`): ConnectionLost means the
  agent missed its pings, so its last one cannot be seconds old;
* now and then stops a running ``Env=stg`` instance and starts it 2-5 ticks later (the SSM
  side follows automatically: a non-running instance reports ConnectionLost).

Choices come from ``random.Random(seed)`` so a run is reproducible for a given tick sequence.
Pinned nodes (those carrying a scenario guarantee: the permanently ConnectionLost node, the
stopped instance, the hybrid node, the outdated agent) are never touched. All changes happen
under the registry lock, which the DescribeInstanceInformation handler also takes.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from dataclasses import dataclass, field

from moto.ec2.models import ec2_backends

from .ec2_fast import instance_index
from .scenarios import Scenario
from .ssm_nodes import LOST_AFTER, NodeRegistry

FLAP_PROBABILITY = 0.35
STOP_PROBABILITY = 0.2


@dataclass
class _Pending:
    due_tick: int
    account: str
    region: str
    instance_id: str
    kind: str  # "ping" (restore Online) or "start" (start the instance)


@dataclass
class LivingState:
    registry: NodeRegistry
    scenario: Scenario
    seed: int = 42
    interval: float = 3.0
    tick_count: int = 0
    _rng: random.Random = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _thread: threading.Thread | None = field(init=False, default=None)
    _pending: list[_Pending] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed * 7919 + 1)
        self._stg = {n.instance_id for n in self.scenario.nodes if n.tags.get("Env") == "stg"}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="opstui-sandbox-living", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a bad tick must not kill the thread (or spam the terminal)
                continue

    def tick(self, now: dt.datetime | None = None) -> None:
        """Advance the fleet by one step. Public so tests can drive it without sleeping."""
        now = now or dt.datetime.now(dt.UTC)
        self.tick_count += 1
        rng = self._rng
        with self.registry.lock:
            due = [p for p in self._pending if p.due_tick <= self.tick_count]
            self._pending = [p for p in self._pending if p.due_tick > self.tick_count]
            busy = {p.instance_id for p in self._pending}
            for p in due:
                self._resolve(p, now)
            flap_candidates: list[tuple[str, str, str]] = []
            stop_candidates: list[tuple[str, str, str]] = []
            for account, region in self.registry.regions():
                index = instance_index(ec2_backends[account][region])
                for node in self.registry.nodes(account, region):
                    instance = None if node.is_hybrid else index.get(node.instance_id)
                    running = node.is_hybrid or (instance is not None and instance._state.name == "running")
                    if node.ping_status == "Online" and running:
                        node.last_ping = now
                        if not node.pinned and node.instance_id not in busy:
                            flap_candidates.append((account, region, node.instance_id))
                            if instance is not None and node.instance_id in self._stg:
                                stop_candidates.append((account, region, node.instance_id))
            if flap_candidates and rng.random() < FLAP_PROBABILITY:
                account, region, iid = rng.choice(flap_candidates)
                node = self.registry.get(account, region, iid)
                if node is not None:
                    node.ping_status = "ConnectionLost"
                    node.last_ping = now - LOST_AFTER
                    self._pending.append(_Pending(self.tick_count + rng.randint(1, 3), account, region, iid, "ping"))
                    busy.add(iid)
            stop_candidates = [c for c in stop_candidates if c[2] not in busy]
            if stop_candidates and rng.random() < STOP_PROBABILITY:
                account, region, iid = rng.choice(stop_candidates)
                instance = instance_index(ec2_backends[account][region]).get(iid)
                if instance is not None:
                    instance.stop()
                    self._pending.append(_Pending(self.tick_count + rng.randint(2, 5), account, region, iid, "start"))

    def _resolve(self, p: _Pending, now: dt.datetime) -> None:
        node = self.registry.get(p.account, p.region, p.instance_id)
        if p.kind == "ping":
            if node is not None and node.ping_status == "ConnectionLost":
                node.ping_status = "Online"
                node.last_ping = now
        elif p.kind == "start":
            instance = instance_index(ec2_backends[p.account][p.region]).get(p.instance_id)
            if instance is not None and instance._state.name == "stopped":
                instance.start()
                if node is not None:
                    node.last_ping = now
