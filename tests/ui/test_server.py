"""The server's header deadline (ui/api/server.py), against a real uvicorn on loopback."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from qbank.ui.api.server import HeaderTimeoutH11Protocol


class QuickDeadline(HeaderTimeoutH11Protocol):
    header_timeout = 0.5


async def hello(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _serve():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(hello, host="127.0.0.1", port=port, http=QuickDeadline, log_level="error",
                                           timeout_keep_alive=5))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return server, port


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(100) == b""
    except TimeoutError:
        return False


def test_unfinished_headers_are_cut_off_and_complete_requests_are_not():
    server, port = _serve()
    try:
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        silent = socket.create_connection(("127.0.0.1", port))
        assert _closed_within(slow, 3) and _closed_within(silent, 3)
        ok = socket.create_connection(("127.0.0.1", port))
        ok.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        ok.settimeout(3)
        got = b""
        while not got.endswith(b"\r\n\r\nok"):  # the head and the body may arrive apart
            chunk = ok.recv(200)
            assert chunk, got
            got += chunk
        assert got.startswith(b"HTTP/1.1 200")
        # the next request on the same keep-alive connection gets the same deadline
        ok.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert _closed_within(ok, 3)
    finally:
        server.should_exit = True
