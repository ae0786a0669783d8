"""The server's header deadline (ui/api/server.py), against a real uvicorn on loopback."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from qbank.ui.api.server import HeaderTimeoutH11Protocol, HeaderTimeoutHttpToolsProtocol, protocol_class


class QuickDeadline(HeaderTimeoutH11Protocol):
    header_timeout = 0.5


class QuickDeadlineHttpTools(HeaderTimeoutHttpToolsProtocol):
    header_timeout = 0.5
    max_head_bytes = 2048


PROTOCOLS = [QuickDeadline, QuickDeadlineHttpTools]


async def hello(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _serve(protocol=QuickDeadline):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(hello, host="127.0.0.1", port=port, http=protocol, log_level="error",
                                           timeout_keep_alive=5, h11_max_incomplete_event_size=2048))
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


def _response(sock: socket.socket, until: bytes) -> bytes:
    sock.settimeout(3)
    got = b""
    while not got.endswith(until):  # the head and the body may arrive apart
        chunk = sock.recv(200)
        assert chunk, got
        got += chunk
    return got


def test_serve_runs_the_c_parser():
    assert protocol_class() is HeaderTimeoutHttpToolsProtocol  # httptools is a dependency


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["h11", "httptools"])
def test_a_head_past_the_bound_is_refused_and_a_large_body_is_not(protocol):
    server, port = _serve(protocol)
    try:
        big = socket.create_connection(("127.0.0.1", port))
        big.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 4000 + b"\r\n")  # no end of head yet
        big.settimeout(3)
        reply = big.recv(200)
        assert reply.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")) or reply == b""  # refused, or cut off
        assert _closed_within(big, 3)
        ok = socket.create_connection(("127.0.0.1", port))  # a body larger than the bound is not a head
        ok.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8000\r\n\r\n" + b"b" * 8000)
        assert _response(ok, b"\r\n\r\nok").startswith(b"HTTP/1.1 200")
        ok.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # and the connection goes on
        assert _response(ok, b"\r\n\r\nok").startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["h11", "httptools"])
def test_unfinished_headers_are_cut_off_and_complete_requests_are_not(protocol):
    server, port = _serve(protocol)
    try:
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        silent = socket.create_connection(("127.0.0.1", port))
        assert _closed_within(slow, 3) and _closed_within(silent, 3)
        ok = socket.create_connection(("127.0.0.1", port))
        ok.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _response(ok, b"\r\n\r\nok").startswith(b"HTTP/1.1 200")
        # the next request on the same keep-alive connection gets the same deadline
        ok.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert _closed_within(ok, 3)
    finally:
        server.should_exit = True


def test_serve_with_two_workers_answers_search_and_eval_polls_and_the_load_script_reports_it(tiny_index, tiny_settings):
    """``qbank serve --workers 2`` (each worker loads the index from QBANK_* set by the command): searches
    answer, an evaluation job started on one worker is polled over fresh connections (either worker), and
    ``qbank.eval.load`` drives it with no errors."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    from qbank.eval.load import run_load

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QBANK_EMBEDDING_MODEL": "hashing-256", "QBANK_USE_CORELEVANCE": "false",
           "QBANK_CACHE_DIR": str(tiny_settings.cache_dir), "QBANK_RERANKER_PATH": str(tiny_settings.reranker_path)}
    proc = subprocess.Popen([sys.executable, "-m", "qbank.ui.cli", "serve", "--port", str(port), "--workers", "2",
                             "--index-dir", str(tiny_settings.index_dir), "--bank", str(tiny_settings.bank)],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> dict:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return json.loads(r.read())

    try:
        for _ in range(200):
            try:
                get("/healthz")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-500:]
                time.sleep(0.1)
        hits = get("/search?q=product+quantization&k=3")["hits"]
        assert hits and hits[0]["id"] == "E3-82"  # the tiny bank's product-quantization question
        body = json.dumps({"modes": ["bm25"], "queries": {"q1": "product quantization"},
                           "qrels": {"q1": {"E3-82": 2}}}).encode()
        req = urllib.request.Request(base + "/eval", body, {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            url = json.loads(r.read())["url"]
        states = []
        for _ in range(100):  # each poll is a new connection: the kernel spreads them over the workers
            states.append(get(url)["status"])
            if states[-1] == "done" and states.count("done") >= 6:
                break
            time.sleep(0.05)
        assert states[-1] == "done"
        from qbank.eval.load import make_requests

        r = run_load(base, 4, make_requests({"search": 1.0}, 40))
        assert r["completed"] == 40 and r["error_count"] == 0 and r["p50_ms"] <= r["p99_ms"]
        # the load script's related ids are the shipped bank's: on the tiny bank each is a 404, counted as such
        r = run_load(base, 2, make_requests({"related": 1.0}, 10))
        assert r["errors"] == {"404": 10}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_work_slots_serve_requests_one_at_a_time_in_arrival_order():
    """WorkSlots(1): work that finds the slot taken waits, and the slot goes to the waiting work in the
    order it came (three queued behind a holder run 1, 2, 3, one at a time); an error reaches its
    caller; WorkSlots(0) never waits (two pieces of work run side by side)."""
    import asyncio

    from qbank.ui.api.deps import WorkSlots

    order, inside = [], []
    release = threading.Event()

    def holder():
        inside.append("holder")
        release.wait(5)
        inside.remove("holder")
        return "held"

    def waiter(i):
        assert not inside  # nobody else inside: the holder is done, one waiter at a time
        inside.append(i)
        order.append(i)
        time.sleep(0.01)
        inside.remove(i)
        return i

    def broken():
        raise ValueError("bad work")

    async def main():
        slots = WorkSlots(1)
        first = asyncio.ensure_future(slots.run(holder))
        while not inside:
            await asyncio.sleep(0.01)
        rest = [asyncio.ensure_future(slots.run(waiter, i)) for i in (1, 2, 3)]
        await asyncio.sleep(0.05)
        assert order == []  # all three wait while the slot is held
        release.set()
        got = await asyncio.gather(first, *rest)
        with pytest.raises(ValueError, match="bad work"):
            await slots.run(broken)
        slots.close()
        both, met = threading.Barrier(2, timeout=5), []

        def meet(i):
            both.wait()  # returns only when the other is running too
            met.append(i)

        free = WorkSlots(0)
        await asyncio.gather(free.run(meet, 1), free.run(meet, 2))
        return got, sorted(met)

    got, met = asyncio.run(main())
    assert got == ["held", 1, 2, 3] and order == [1, 2, 3] and met == [1, 2]
