"""What every sandbox listener refuses before anything else: foreign hosts and browsers.

Each listener the sandbox opens (the AWS endpoint, the Session Manager websocket, the storefront web app, and
anything added later) calls :meth:`ListenerGuard.refusal` first and answers 403 with no effect when it returns
a reason:

* **Host.** Only the listener's own loopback address or ``localhost``, with its port, is served. A request for
  any other name reached us through DNS rebinding (a web page's name resolved to 127.0.0.1) and is refused.
* **Browsers.** A CORS preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is refused, and so is any
  request that carries an ``Origin`` header: browsers add it to cross-origin fetches and to every websocket
  handshake, while the SDKs, the aws CLI, the session-manager-plugin and the sandbox's own canaries never send
  it. No response carries an ``Access-Control-*`` header (:func:`strip_cors`), so a page can read nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


def _host_forms(host: str) -> set[str]:
    forms = {host.lower()}
    if ":" in host and not host.startswith("["):  # an IPv6 literal is bracketed in a Host header
        forms.add(f"[{host.lower()}]")
    forms.add("localhost")
    return forms


@dataclass
class ListenerGuard:
    """The Host names one listener answers to (``host`` as bound, plus ``localhost``; both with the port)."""

    host: str
    port: int = 0
    _allowed: frozenset[str] = field(default_factory=frozenset, init=False)

    def bind(self, port: int) -> ListenerGuard:
        """Set the port once the listener knows it (port 0 asks the kernel for a free one)."""
        self.port = port
        self._allowed = frozenset(f"{h}:{port}" for h in _host_forms(self.host))
        return self

    def host_ok(self, value: str | None) -> bool:
        return bool(value) and value.strip().lower() in self._allowed  # type: ignore[union-attr]

    def refusal(self, method: str, host: str | None, headers: Iterable[tuple[str, str]]) -> str | None:
        """Why this request gets 403, or None. ``headers`` are (name, value) pairs, any case."""
        if not self.host_ok(host):
            return "this sandbox answers only to its own loopback address (Host header refused)"
        names = {name.lower() for name, _ in headers}
        if method.upper() == "OPTIONS" or "access-control-request-method" in names:
            return "cross-origin requests are refused"
        if "origin" in names:
            return "requests from web pages (Origin header) are refused"
        return None


def strip_cors(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The response headers without any ``Access-Control-*`` one."""
    return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]


def environ_headers(environ: dict[str, object]) -> list[tuple[str, str]]:
    """(name, value) pairs of a WSGI environ's request headers."""
    out: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out.append((key[5:].replace("_", "-").lower(), str(value)))
    return out
