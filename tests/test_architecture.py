"""The shape of the code: imports flow one way (ingest → index → retrieval → eval/training → ui) and
nothing imports in a cycle. Every import counts, the deferred ones inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"qbank": ROOT / "qbank", "qbank.ingest": ROOT / "ingest", "qbank.index": ROOT / "index",
           "qbank.retrieval": ROOT / "retrieval", "qbank.eval": ROOT / "eval", "qbank.ui": ROOT / "ui"}
# a layer may import its own and lower layers only
LAYER = {"qbank": 0, "qbank.ingest": 1, "qbank.index": 2, "qbank.retrieval": 3, "qbank.eval": 4,
         "qbank.training": 5, "qbank.ui": 6}


def modules() -> dict[str, Path]:
    out = {}
    for pkg, folder in FOLDERS.items():
        for p in folder.rglob("*.py"):
            rel = p.relative_to(folder).with_suffix("").parts
            name = ".".join((pkg, *rel))
            if pkg == "qbank" and rel and rel[0] in ("ingest", "index", "retrieval", "eval", "ui"):
                continue
            out[name.removesuffix(".__init__")] = p
    return out


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 2 and f"qbank.{parts[1]}" in LAYER:
        return f"qbank.{parts[1]}"
    return "qbank"


def imports(path: Path, known: set[str]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            if n.split(".")[0] in ("ingest", "index", "retrieval", "eval", "ui"):
                out.add("BARE:" + n)  # an import outside the qbank namespace
            elif n in known:
                out.add(n)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(p, set(mods)) for m, p in mods.items()}


def test_only_namespaced_imports():
    bare = sorted(f"{m} → {i[5:]}" for m, deps in graph().items() for i in deps if i.startswith("BARE:"))
    assert not bare, bare


def test_no_backward_edges():
    back = []
    for m, deps in graph().items():
        for d in deps:
            if LAYER[layer_of(d)] > LAYER[layer_of(m)]:
                back.append(f"{m} → {d}")
    assert not back, back


@pytest.mark.parametrize("low", ["qbank.ingest", "qbank.index", "qbank.retrieval"])
def test_core_never_imports_eval_or_ui(low):
    bad = [f"{m} → {d}" for m, deps in graph().items() if layer_of(m) == low
           for d in deps if layer_of(d) in ("qbank.eval", "qbank.ui", "qbank.training")]
    assert not bad, bad


def test_no_import_cycles():
    g = {m: {d for d in deps if not d.startswith("BARE:") and d != m and d in graph_keys} for m, deps in G.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " → ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)


G = graph()
graph_keys = set(G)
