"""The HTTP server's own guards: a connection must finish its request headers in time, and they
must fit in 16 KB.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but never a connection that
sends part of a request's headers and then nothing (slowloris): the probe held 900 such connections
open for 30 s. Each protocol here arms a timer when a connection opens and after each response; a
request whose headers complete in time cancels it; otherwise the connection is closed.

``qbank serve`` runs :class:`HeaderTimeoutHttpToolsProtocol` when httptools is installed (a C
parser, a dependency: ~1.2× the requests/s of h11's pure-Python one here, README "HTTP API"), and
:class:`HeaderTimeoutH11Protocol` otherwise. h11 bounds a request's head itself
(``h11_max_incomplete_event_size``); httptools buffers a head of any size, so its protocol counts
the bytes before the head is complete and answers 431 past :data:`MAX_HEAD_BYTES`.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 16 * 1024


def protocol_class():
    """The HTTP protocol ``qbank serve`` runs: httptools' when installed, else h11's."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return HeaderTimeoutH11Protocol
    return HeaderTimeoutHttpToolsProtocol


class _HeaderDeadline:
    """The timer both protocols share: armed when a connection opens and after each response,
    cancelled when a request's headers complete; on expiry an idle connection is closed."""

    header_timeout = HEADER_TIMEOUT_S

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
        self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()


class HeaderTimeoutH11Protocol(_HeaderDeadline, H11Protocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:  # a request's headers arrived
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        self._arm_header_timer()  # the next request on this connection gets the same deadline
        super().on_response_complete()  # (a pipelined request already buffered cancels it at once)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: h11 serves
    HttpToolsProtocol = None

if HttpToolsProtocol is not None:

    class HeaderTimeoutHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with the header deadline and a bound on a request's head."""

        max_head_bytes = MAX_HEAD_BYTES

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_bytes = 0
            self._in_head = True
            self._arm_header_timer()

        def connection_lost(self, exc) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._cancel_header_timer()
                msg = b"Request head too large."
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; "
                                     b"charset=utf-8\r\ncontent-length: " + str(len(msg)).encode() +
                                     b"\r\nconnection: close\r\n\r\n" + msg)
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._cancel_header_timer()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            self._in_head = not self.pipeline  # a pipelined request queued has its head already
            self._head_bytes = 0
            self._arm_header_timer()  # the next request on this connection gets the same deadline
            super().on_response_complete()  # (a pipelined request already buffered cancels it at once)
else:  # pragma: no cover - httptools is a dependency
    HeaderTimeoutHttpToolsProtocol = None


# ---------------------------------------------------------------------------------------- workers
def reuseport_supported(port: int) -> bool:
    """Whether ``serve_workers`` can give each worker a socket of its own (Linux; not port 0)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT") and port != 0


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, opts: dict) -> None:  # in a spawned process
    import uvicorn

    sock = _listen(host, port, reuse_port=True)
    sock.listen(2048)
    uvicorn.Server(uvicorn.Config("qbank.ui.api:create_app", factory=True, **opts)).run(sockets=[sock])


def serve_workers(host: str, port: int, workers: int, opts: dict) -> int:
    """Run ``workers`` uvicorn processes, each listening on its own ``SO_REUSEPORT`` socket, so the
    kernel spreads new connections over them.

    uvicorn's own ``--workers`` share one listening socket, and an idle worker accepts every
    connection waiting at once: 16 clients connecting together landed 16/0, 15/1 or 14/2 as often
    as evenly here, and with one search slot per worker a 16/0 split served half the requests per
    second (71 against 140–160; README, "HTTP API"). The port is checked to be free first (a plain
    bind), so a second server is refused rather than sharing the port. Ctrl-C or SIGTERM stops
    every worker; a worker that dies stops the others (exit 1)."""
    import multiprocessing
    import multiprocessing.connection

    probe = _listen(host, port, reuse_port=False)  # EADDRINUSE here: something listens on the port
    probe.close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(host, port, opts), name=f"qbank-worker-{i}") for i in range(workers)]
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for p in procs:
            p.start()
        while True:
            alive = [p for p in procs if p.exitcode is None]
            if not alive:
                break
            multiprocessing.connection.wait([p.sentinel for p in alive], timeout=1.0)
            if not stopping and any(p.exitcode is not None for p in procs):  # one died: stop the rest
                print("error: a server worker exited; stopping the others", file=sys.stderr)
                stop(None, None)
                for p in procs:
                    p.join(timeout=30)
                return 1
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0
