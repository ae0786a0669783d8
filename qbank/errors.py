"""One small exception hierarchy. Messages say what went wrong and what to do."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 400


class QbankError(Exception):
    """Base class of every error qbank raises on purpose (user-facing, one line)."""

    def short(self) -> str:
        """The message on one line and bounded: a huge echoed input is cut in its middle, so the
        start (what went wrong) and the end (what to do) both survive."""
        msg = " ".join(str(self).split("\n"))
        if len(msg) <= MAX_MESSAGE_CHARS:
            return msg
        return f"{msg[:220]} … [{len(msg) - 340:,} characters cut] … {msg[-120:]}"


class BankParseError(QbankError):
    """The question bank (or a chapter file) cannot be read or parsed."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class IndexMissingError(QbankError):
    """No index where one was expected."""


class IndexMismatchError(QbankError):
    """An index exists but was built with other settings, another corpus or a broken file."""


class InvalidQueryError(QbankError):
    """An empty, oversized or otherwise unusable query, k or filter."""


class UnknownIdError(QbankError):
    """A question or chapter id that the bank does not hold."""


class UnknownNameError(QbankError):
    """A name (mode, fusion method, format) outside a registry."""

    def __init__(self, what: str, name: str, valid: list[str] | tuple[str, ...]) -> None:
        self.what = what
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown {what} {name!r}; choose one of: {', '.join(self.valid)}")


class UnavailableError(QbankError):
    """A feature that needs something not present here (e.g. a trained reranker)."""


class EvalDataError(QbankError):
    """Malformed or inconsistent evaluation data (queries, qrels, runs)."""
