"""The ``qbank`` command line: the parser (built from :data:`qbank.ui.commands.FAMILIES`) and the
error boundary. Heavy libraries load only in the commands that need them."""

from __future__ import annotations

import argparse
import os
import sys

import qbank
from qbank.errors import QbankError


def build_parser() -> argparse.ArgumentParser:
    from qbank.ui.commands import FAMILIES

    ap = argparse.ArgumentParser(prog="qbank", description="Search a bank of ML-systems interview questions.")
    ap.add_argument("--version", action="version", version=f"qbank {qbank.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for family in FAMILIES:
        family.register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 0
    try:
        return args.func(args) or 0
    except QbankError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the CLI never shows a traceback unless asked
        if os.environ.get("QBANK_DEBUG"):
            raise
        print(f"error: internal error: {type(e).__name__}: {e} (set QBANK_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
