"""Index generations: every build writes a new, never-rewritten directory and flips one pointer.

``settings.index_dir`` (``data/index``) is a symlink to the current generation in
``.index-generations/<id>/`` beside it. A build, holding an exclusive ``fcntl`` lock
(``.index.lock``), writes ``.index-generations/.building-<id>/``, renames it to ``<id>`` when
complete, then replaces the symlink with ``os.replace`` — one atomic rename, so at every instant
``data/index`` names a complete index (the old one or the new one). Afterwards, still under the
lock, it removes unfinished ``.building-*`` directories and every generation but the newest
:data:`KEEP` (the current one and the previous ones, for rollback and for processes still reading
them). A loaded index resolves the symlink once and reads only that generation's files, so a
rebuild never mixes two generations in one process; a server notices a new generation by
:func:`current_generation` and loads it (``qbank.ui.api.deps``).

An index directory from before generations (a real directory at ``data/index``) is moved into
the generations folder by the next build. If a crash ever leaves no pointer, the next load or build
points it at the newest complete generation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

KEEP = 3  # generations kept: the current one and two before it


def generations_dir(target: Path) -> Path:
    return target.parent / f".{target.name}-generations"


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def build_lock(target: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive lock on ``target``'s builds; yields whether it was taken (always, when blocking)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(target), "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def new_generation_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"


def building_dir(target: Path, gen: str) -> Path:
    root = generations_dir(target)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f".building-{gen}"
    path.mkdir()
    return path


def _complete(d: Path) -> bool:
    return d.is_dir() and not d.name.startswith(".") and (d / "manifest.json").is_file()


def complete_generations(target: Path) -> list[Path]:
    """Finished generations, oldest first (ids sort by time)."""
    root = generations_dir(target)
    return sorted((d for d in root.iterdir() if _complete(d)), key=lambda d: d.name) if root.is_dir() else []


def _point(target: Path, gen_dir: Path) -> None:
    """Make ``target`` a symlink to ``gen_dir`` in one rename (relative, so the folder can move)."""
    link = target.parent / f".{target.name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    os.symlink(os.path.relpath(gen_dir, target.parent), link)
    os.replace(link, target)


def publish(target: Path, building: Path, gen: str) -> Path:
    """Finish a build (caller holds the lock): the building directory becomes generation ``gen``
    and ``target`` points at it; a pre-generations directory at ``target`` is moved aside first."""
    root = generations_dir(target)
    final = root / gen
    os.replace(building, final)
    if target.is_dir() and not target.is_symlink():  # an index from before generations
        os.replace(target, root / f"{new_generation_id()}-legacy")
    _point(target, final)
    return final


def cleanup(target: Path, keep: int = KEEP) -> list[Path]:
    """Remove unfinished builds and all but the newest ``keep`` generations (caller holds the lock);
    never the current one. Returns what was removed."""
    root = generations_dir(target)
    if not root.is_dir():
        return []
    current = target.resolve() if target.is_symlink() else None
    removed = [d for d in root.iterdir() if d.name.startswith(".building-")]
    gens = complete_generations(target)
    removed += [d for d in gens[: max(0, len(gens) - keep)] if d.resolve() != current]
    for d in removed:
        shutil.rmtree(d, ignore_errors=True)
    # a build killed before its first rename can leave a stray pointer file
    for stray in target.parent.glob(f".{target.name}.link-*"):
        with contextlib.suppress(OSError):
            stray.unlink()
    return removed


def recover(target: Path) -> bool:
    """When ``target`` is missing or dangling but a complete generation exists, point it at the
    newest one (only when no build holds the lock). Returns whether it did."""
    if target.exists():
        return False
    with build_lock(target, blocking=False) as mine:
        if not mine or target.exists():
            return False
        gens = complete_generations(target)
        if not gens:
            return False
        if target.is_symlink():
            target.unlink()
        _point(target, gens[-1])
        return True


def current_generation(target: Path) -> str | None:
    """The generation ``target`` points at now (``None`` for a plain directory or nothing)."""
    try:
        return Path(os.readlink(target)).name
    except OSError:
        return None
