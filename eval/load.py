"""A bounded load test of the HTTP API over loopback: ``python -m qbank.eval.load``.

``--clients`` concurrent keep-alive connections each send requests back to back (closed loop)
until ``--requests`` have been sent in all; the figures are throughput, latency p50/p95/p99/max,
errors by kind (HTTP status, dropped connection, timeout) and the server's RSS per process. With
``--serve`` it starts ``qbank serve`` itself (``--workers``, ``--threads``), waits for
``/healthz``, runs, and stops it; otherwise it loads ``--url``.

The client is a few lines of asyncio over raw HTTP/1.1 (one connection per client, ``Content-Length``
bodies), so the load generator costs little of the two cores it shares with the server — an httpx
client spent more CPU per request than the server's search here. Queries are the bank's sample
queries (``data/question_bank.expansions.jsonl``), never an evaluation set. Loopback only: the URL
must name 127.0.0.1 or localhost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from qbank.config import DATA_DIR
from qbank.retrieval.modes import MODE_NAMES

ROUTES = ("search", "related", "studyset")


def sample_queries(path: Path = DATA_DIR / "question_bank.expansions.jsonl", limit: int = 2000) -> tuple[list[str], list[str]]:
    """(queries, question ids) from the sample-query file."""
    queries, ids = [], []
    with path.open(encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            ids.append(e["id"])
            queries.extend(q for q in e["queries"] if len(q) <= 200)
    random.Random(7).shuffle(queries)
    return queries[:limit], ids


def make_requests(mix: dict[str, float], n: int, seed: int = 7,
                  mode: str | None = None) -> list[tuple[str, str, bytes | None]]:
    """``n`` requests (method, path, body) drawn from ``mix`` (route → share); ``/search`` asks for
    ``mode`` (None: the server's default)."""
    rng = random.Random(seed)
    queries, ids = sample_queries()
    routes, weights = zip(*mix.items())
    out = []
    for _ in range(n):
        route = rng.choices(routes, weights)[0]
        if route == "search":
            params = {"q": rng.choice(queries), "k": 10, **({"mode": mode} if mode else {})}
            out.append(("GET", "/search?" + urllib.parse.urlencode(params), None))
        elif route == "related":
            out.append(("GET", f"/questions/{rng.choice(ids)}/related?k=10", None))
        else:
            body = {"topics": rng.sample(queries, 2), "size": 8}
            out.append(("POST", "/studysets", json.dumps(body).encode()))
    return out


async def _client(host: str, port: int, todo: list, lat: list[float], errors: dict, timeout: float) -> None:
    reader = writer = None
    while todo:
        method, path, body = todo.pop()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            t0 = time.perf_counter()
            writer.write(head.encode() + b"\r\n" + (body or b""))
            status, close = await asyncio.wait_for(_response(reader), timeout)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
            if close:
                writer.close()
                reader = writer = None
        except TimeoutError:
            errors["timeout"] = errors.get("timeout", 0) + 1
            writer.close()
            reader = writer = None
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            errors["dropped"] = errors.get("dropped", 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _response(reader) -> tuple[int, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise asyncio.IncompleteReadError(b"", None)
    status = int(status_line.split()[1])
    length, close = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    await reader.readexactly(length)
    return status, close


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run_load(url: str, clients: int, requests: list, timeout: float = 30.0) -> dict:
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("error: the load test runs over loopback only (127.0.0.1 or localhost)")
    todo = list(reversed(requests))
    lat: list[float] = []
    errors: dict[str, int] = {}

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(u.hostname, u.port or 80, todo, lat, errors, timeout) for _ in range(clients)))
        return time.perf_counter() - t0

    wall = asyncio.run(main())
    ms = [x * 1000 for x in lat]
    return {"clients": clients, "requests": len(requests), "completed": len(lat), "wall_s": round(wall, 2),
            "throughput_rps": round(len(lat) / wall, 1), "p50_ms": round(_pct(ms, 50), 1),
            "p95_ms": round(_pct(ms, 95), 1), "p99_ms": round(_pct(ms, 99), 1),
            "max_ms": round(max(ms), 1) if ms else None, "errors": errors, "error_count": sum(errors.values())}


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def server_rss(pid: int) -> dict[str, float]:
    """RSS of the server process and each of its children (uvicorn's workers), MB."""
    out = {str(pid): _rss_mb(pid)}
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    for k in kids:
        out[k] = _rss_mb(int(k))
    return out


def start_server(port: int, workers: int, threads: int | None, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "qbank.ui.cli", "serve", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", *extra]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, start_new_session=True)
    import urllib.request

    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: qbank serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    # every worker answers only once it has loaded the index: knock until all have
                    time.sleep(0.5 * workers)
                    return proc
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("error: qbank serve did not answer /healthz within 120 s")


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, share = part.partition(":")
        if name not in ROUTES:
            raise SystemExit(f"error: unknown route {name!r} in --mix (known: {', '.join(ROUTES)})")
        try:
            mix[name] = float(share or 1)
        except ValueError:
            raise SystemExit(f"error: bad share {share!r} in --mix (e.g. search:8,related:1,studyset:1)") from None
    return mix


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qbank.eval.load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--clients", default="16,50", help="comma-separated client counts, one run each")
    ap.add_argument("--requests", type=int, default=2000, help="requests per run (default 2000)")
    ap.add_argument("--mix", default="search", help="routes and shares, e.g. search:8,related:1,studyset:1")
    ap.add_argument("--mode", help="the mode /search asks for (default: the server's default mode)")
    ap.add_argument("--warmup", type=int, default=200, help="requests sent first and not counted")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as timed out")
    ap.add_argument("--serve", action="store_true", help="start qbank serve on --url's port for the run")
    ap.add_argument("--workers", type=int, default=2, help="with --serve: uvicorn worker processes")
    ap.add_argument("--threads", type=int, default=None, help="with --serve: onnxruntime threads per worker")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    try:
        counts = [int(c) for c in args.clients.split(",")]
    except ValueError:
        print(f"error: --clients takes integers, e.g. 16,50 (got {args.clients!r})", file=sys.stderr)
        return 2
    if args.requests < 1 or any(c < 1 for c in counts):
        print("error: --requests and --clients must be at least 1", file=sys.stderr)
        return 2
    mix = parse_mix(args.mix)
    if args.mode is not None and args.mode not in MODE_NAMES:
        print(f"error: unknown mode {args.mode!r} in --mode (known: {', '.join(MODE_NAMES)})", file=sys.stderr)
        return 2
    port = urllib.parse.urlsplit(args.url).port or 80
    proc = start_server(port, args.workers, args.threads, []) if args.serve else None
    report = {"url": args.url, "mix": mix, "mode": args.mode, "workers": args.workers if proc else None, "runs": []}
    try:
        if args.warmup:
            run_load(args.url, max(counts), make_requests(mix, args.warmup, 1, args.mode), args.timeout)
        for c in counts:
            r = run_load(args.url, c, make_requests(mix, args.requests, c, args.mode), args.timeout)
            if proc:
                r["server_rss_mb"] = server_rss(proc.pid)
            report["runs"].append(r)
            print(json.dumps(r), flush=True)
    finally:
        if proc:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    if args.out:
        from qbank.fileio import write_atomic

        write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
