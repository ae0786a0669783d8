"""The ``qbank`` command line: the parser (built from :data:`qbank.ui.commands.FAMILIES`) and the
error boundary. Heavy libraries load only in the commands that need them."""

from __future__ import annotations

import argparse
import os
import sys

import qbank
from qbank.errors import QbankError


class _Version(argparse.Action):
    """``--version``: the installed metadata is read only when asked (~50 ms on every run otherwise)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):  # noqa: A002
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"qbank {qbank.__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from qbank.ui.commands import FAMILIES

    ap = argparse.ArgumentParser(prog="qbank", description="Search a bank of ML-systems interview questions.")
    ap.add_argument("--version", action=_Version, help="show the version and exit")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for family in FAMILIES:
        family.register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    raw = sys.argv[1:] if argv is None else argv
    bad = next((a for a in raw if any("\udc80" <= ch <= "\udcff" for ch in a)), None)
    if bad is not None:  # bytes that are not UTF-8 arrive as lone surrogates (PEP 383)
        print(f"error: an argument is not valid UTF-8: {bad.encode('utf-8', 'backslashreplace').decode()[:80]!r}",
              file=sys.stderr)
        return 2
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 0
    try:
        return args.func(args) or 0
    except QbankError as e:
        print(f"error: {e.short()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # a file or folder the command cannot read or write: say which, one line
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        print(f"error: cannot use{where}: {e.strerror or type(e).__name__}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the CLI never shows a traceback unless asked
        if os.environ.get("QBANK_DEBUG"):
            raise
        print(f"error: internal error: {type(e).__name__}: {e} (set QBANK_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
