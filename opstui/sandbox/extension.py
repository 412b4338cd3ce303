"""One shape for every sandbox extension, and the registry that runs them in order.

Why: moto's backends and response classes are process-global, so what an extension patches into moto must be
patched once per process however many Sandboxes start (:meth:`Extension.install`, once-only here and nowhere
else); a Sandbox run then prepares, starts and stops every extension in one order (:class:`Registry`), and
each extension answers its own control endpoints under ``/_opstui/`` (the middleware looks them up here
instead of knowing every endpoint).

An extension's ``name`` is its control endpoint: ``GET /_opstui/<name>`` answers
:meth:`~Extension.control_snapshot`, ``POST`` :meth:`~Extension.configure` with the JSON body as keywords,
``DELETE`` :meth:`~Extension.clear` (then ``{"cleared": true}``) -- each only where the extension overrides
that method; :meth:`~Extension.routes` adds endpoints of other paths. A handler that raises KeyError,
ValueError or TypeError answers 400 with its message.

This module imports no moto: the extensions do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .server import Sandbox


@dataclass(frozen=True)
class ControlRequest:
    """A control request, already authenticated: its method, path below ``/_opstui/``, JSON body, query."""

    method: str
    path: str
    payload: dict[str, Any]
    query: dict[str, list[str]]


Handler = Callable[[ControlRequest], Any]
StreamHandler = Callable[[dict[str, Any], Callable[..., Any], str, str], Iterable[bytes]]

_patched: set[type[Extension]] = set()
_patch_lock = threading.RLock()


def attach(target: type, *handlers: Callable[..., Any]) -> None:
    """Put each handler on a moto class under its own name: moto dispatches an action to the method named
    after it (PutInventory -> ``put_inventory``), so the function's name is the contract."""
    for handler in handlers:
        setattr(target, handler.__name__, handler)


class Extension:
    """Base of every sandbox extension; override what the extension has, leave the rest."""

    #: the control endpoint ``/_opstui/<name>`` (and the extension's id in the registry)
    name: ClassVar[str] = ""

    #: the running Sandbox, from :meth:`Registry.prepare` to :meth:`Registry.stop` (one per process: moto's
    #: state is global)
    sandbox: Sandbox | None = None

    # -- moto, once per process ------------------------------------------------------------------------------

    def patch(self) -> None:
        """What the extension changes in moto (methods, routes). Runs once per process, through install()."""

    def install(self) -> None:
        """Apply :meth:`patch` unless this process already has (safe from any thread, any number of times)."""
        with _patch_lock:
            if type(self) in _patched:
                return
            self.patch()
            _patched.add(type(self))

    # -- control endpoints -----------------------------------------------------------------------------------

    def control_snapshot(self) -> Any:
        """``GET /_opstui/<name>``: the extension's state and knobs, JSON-ready."""
        raise NotImplementedError

    def lenient(self) -> list[str]:
        """Where a knob now makes this extension behave unlike AWS (each in words; empty by default).

        The sandbox is strict by default: a test that wants a departure from AWS (a 30 s delivery timeout that
        takes 0.6 s) turns a knob on, and ``GET /_opstui/health`` lists it under ``lenient``.
        """
        return []

    def configure(self, **knobs: Any) -> Any:
        """``POST /_opstui/<name>``: change knobs (or act); returns the response body."""
        raise NotImplementedError

    def clear(self) -> None:
        """``DELETE /_opstui/<name>``: forget what was recorded."""
        raise NotImplementedError

    def routes(self) -> dict[tuple[str, str], Handler]:
        """Endpoints of other paths: ``(method, path below /_opstui/) -> handler``."""
        return {}

    def streams(self) -> dict[tuple[str, str], StreamHandler]:
        """AWS operations this extension answers itself with a streamed body, which moto cannot give:
        ``(signing name, Operation) -> handler(environ, start_response, account, region)``, a WSGI answer
        whose iterable the server writes (and flushes) chunk by chunk. The middleware calls it after the
        signature check and fault injection, instead of moto, and does not record it (a stream never ends)."""
        return {}

    def endpoints(self) -> dict[tuple[str, str], Handler]:
        """Every endpoint the extension answers: its overridden standard methods, then :meth:`routes`."""
        own: dict[tuple[str, str], Handler] = {}
        cls = type(self)
        if cls.control_snapshot is not Extension.control_snapshot:
            own[("GET", self.name)] = lambda _request: self.control_snapshot()
        if cls.configure is not Extension.configure:
            own[("POST", self.name)] = lambda request: self.configure(**request.payload)
        if cls.clear is not Extension.clear:
            own[("DELETE", self.name)] = self._cleared
        return {**own, **self.routes()}

    def _cleared(self, _request: ControlRequest) -> dict[str, bool]:
        self.clear()
        return {"cleared": True}

    @property
    def running(self) -> Sandbox:
        """The running Sandbox, for extensions whose state is the Sandbox's own (faults, calls, sessions)."""
        if self.sandbox is None:
            raise ValueError("no sandbox running")
        return self.sandbox

    # -- a Sandbox run ---------------------------------------------------------------------------------------

    def prepare(self, sandbox: Sandbox) -> None:
        """Fresh state for a new run, after the scenario is in moto and before the server listens."""

    def start(self, sandbox: Sandbox) -> None:
        """After the endpoint answers: seed what needs the endpoint, start threads and servers."""

    def stop(self, sandbox: Sandbox) -> None:
        """End what :meth:`start` began. Idempotent, and safe after a start that failed half-way."""


class Registry:
    """The extensions in start order: installed and prepared and started in it, stopped in reverse."""

    def __init__(self, extensions: Iterable[Extension]) -> None:
        self.extensions = tuple(extensions)
        names = [e.name for e in self.extensions]
        if len(set(names)) != len(names) or "" in names:
            raise ValueError(f"extension names must be unique and non-empty: {names}")
        self._routes: dict[tuple[str, str], Handler] = {}
        for ext in self.extensions:
            for key, handler in ext.endpoints().items():
                if key in self._routes:
                    raise ValueError(f"two extensions answer {key[0]} /_opstui/{key[1]}")
                self._routes[key] = handler
        self._streams: dict[tuple[str, str], StreamHandler] = {}
        for ext in self.extensions:
            for key, stream in ext.streams().items():
                if key in self._streams:
                    raise ValueError(f"two extensions stream {key[0]}:{key[1]}")
                self._streams[key] = stream

    def __iter__(self) -> Iterator[Extension]:
        return iter(self.extensions)

    def route(self, method: str, path: str) -> Handler | None:
        return self._routes.get((method, path))

    def stream(self, service: str, operation: str | None) -> StreamHandler | None:
        """The streaming handler of an AWS operation, if an extension answers it (see Extension.streams)."""
        return self._streams.get((service, operation or ""))

    @property
    def endpoints(self) -> list[tuple[str, str]]:
        return sorted(self._routes)

    def install(self) -> None:
        for ext in self.extensions:
            ext.install()

    def prepare(self, sandbox: Sandbox) -> None:
        for ext in self.extensions:
            ext.sandbox = sandbox
        for ext in self.extensions:
            ext.prepare(sandbox)

    def start(self, sandbox: Sandbox) -> None:
        for ext in self.extensions:
            ext.start(sandbox)

    def stop(self, sandbox: Sandbox) -> None:
        """Stop every extension, last started first; the first failure is raised once all are stopped."""
        failures: list[BaseException] = []
        for ext in reversed(self.extensions):
            try:
                ext.stop(sandbox)
            except Exception as exc:  # the others must still stop
                failures.append(exc)
        for ext in self.extensions:
            if ext.sandbox is sandbox:
                ext.sandbox = None
        if failures:
            raise failures[0]
