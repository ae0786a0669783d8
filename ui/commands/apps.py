"""The servers: ``qbank serve`` (the HTTP API) and ``qbank ui`` (the Streamlit app)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qbank.errors import QbankError
from qbank.ui.commands.common import add_common, settings_from_args

UI_SCRIPT = Path(__file__).resolve().parents[1] / "app.py"


def cmd_serve(args) -> int:
    import uvicorn

    from qbank.retrieval.engine import open_searcher
    from qbank.ui.api import create_app
    from qbank.ui.api.server import protocol_class, reuseport_supported, serve_workers

    if args.workers < 1 or args.threads < 0:
        raise QbankError("--workers must be at least 1 and --threads at least 0")
    settings = settings_from_args(args)
    if args.threads:
        settings = settings.model_copy(update={"onnx_threads": args.threads})
    elif args.workers > 1:  # one onnxruntime thread per worker: the workers are the parallelism
        settings = settings.model_copy(update={"onnx_threads": 1})
    # the index is opened before the server starts: a missing or broken one is one line and exit 2
    searcher = open_searcher(settings, build_if_missing=args.build, warm=args.workers == 1)
    # idle keep-alive connections close after 5 s, a request's headers must arrive within 10 s and
    # fit in 16 KB, and past --max-connections concurrent connections (per worker) new ones get 503
    # instead of queueing without bound; no access log (it costs ~5% of a request; --log-level info
    # turns it on)
    opts = dict(host=args.host, port=args.port, log_level=args.log_level, timeout_keep_alive=5,
                h11_max_incomplete_event_size=16 * 1024, limit_concurrency=args.max_connections,
                http=protocol_class(), access_log=args.log_level in ("debug", "trace", "info"))
    if args.workers == 1:
        uvicorn.run(create_app(searcher=searcher), **opts)
        return 0
    # several processes: each worker loads the index itself (create_app reads QBANK_* from the
    # environment), so the settings this command resolved travel there
    del searcher
    os.environ.update({"QBANK_INDEX_DIR": str(settings.index_dir.resolve()), "QBANK_BANK": str(settings.bank.resolve()),
                       "QBANK_ONNX_THREADS": str(settings.onnx_threads)})
    if reuseport_supported(args.port):  # a socket per worker: the kernel spreads the connections
        try:
            return serve_workers(args.host, args.port, args.workers, opts)
        except OSError as e:
            raise QbankError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    uvicorn.run("qbank.ui.api:create_app", factory=True, workers=args.workers, **opts)
    return 0


def ui_command(port: int, host: str | None = None, headless: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(UI_SCRIPT), "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    if host:
        cmd += ["--server.address", host]
    if headless:
        cmd += ["--server.headless", "true"]
    return cmd


def cmd_ui(args) -> int:
    env = dict(os.environ)
    # the app reads its settings from the environment (QBANK_*)
    if args.index_dir:
        env["QBANK_INDEX_DIR"] = str(Path(args.index_dir).resolve())
    if args.bank:
        env["QBANK_BANK"] = str(Path(args.bank).resolve())
    try:
        return subprocess.call(ui_command(args.port, args.host, args.headless), env=env)
    except KeyboardInterrupt:
        return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (FastAPI + uvicorn; docs at /docs)")
    add_common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--build", action="store_true", help="build the index first if it is missing")
    p.add_argument("--log-level", default="warning", help="uvicorn's; info also logs every request (default warning)")
    p.add_argument("--max-connections", type=int, default=128,
                   help="concurrent connections per worker before new ones get 503 (default 128)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes, each with its own copy of the index (default: min(2, cores))")
    p.add_argument("--threads", type=int, default=0,
                   help="onnxruntime threads per worker (default: 1 with several workers, else min(2, cores))")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ui", help="run the Streamlit app (search, question, study set, evals)")
    add_common(p)
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", help="address to listen on (default: Streamlit's)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_ui)
