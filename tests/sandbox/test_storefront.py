"""The storefront web app takes clients that hang up mid-answer quietly (issue 15: BrokenPipeError tracebacks in
the demo's log during the incident, when canaries give up on slow answers): no traceback on stderr, one debug
line per hang-up. A real server on loopback and real sockets; the client closes before the (slow) answer is
written, once politely (FIN: the write then fails with a broken pipe) and once with a reset (RST)."""

from __future__ import annotations

import logging
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest

from opstui.sandbox.webapp import WebApp


@pytest.fixture
def storefront():
    app = WebApp(auto=False).start()
    yield app
    app.stop()


def _hang_up_mid_answer(url: str, reset: bool) -> None:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_a_client_hanging_up_mid_answer_prints_no_traceback(storefront, capfd, caplog, reset):
    storefront.set_health("slow", latency=(0.3, 0.3))  # the answer comes after the client is gone
    caplog.set_level(logging.DEBUG, logger="opstui.sandbox.webapp")
    for _ in range(3):
        _hang_up_mid_answer(storefront.url, reset)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(caplog.records) < 3:
        time.sleep(0.05)
    time.sleep(0.3)  # anything printed late would show up now
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "ConnectionResetError" not in err, err
    lines = [r.getMessage() for r in caplog.records if r.name == "opstui.sandbox.webapp"]
    assert len(lines) == 3 and all("went away mid-answer" in line for line in lines), lines
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "opstui.sandbox.webapp")
    # and the server still answers the next client
    parts = urlsplit(storefront.url)
    storefront.set_health("ok")
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
