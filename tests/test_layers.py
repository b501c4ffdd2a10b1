"""Layer contracts of docs/data-model.md "Package map", checked on the source.

Every import statement in haixun/ (module level and inside functions: a lazy
import is still a dependency) is read with ``ast``; nothing is imported. The
rules:

- ``haixun/riskcode`` (the pure engine) and ``haixun/contract.py`` import no I/O
  library and no service package;
- ``haixun/store`` imports no service package;
- ``haixun/api`` imports nothing from ``haixun/engine`` (shared names live in
  store: ``store/channels.py``);
- no import cycle between haixun modules.

``scripts/check`` runs this file; tests/test_check_script.py plants violations.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(os.environ.get("HAIXUN_LAYERS_ROOT", Path(__file__).resolve().parents[1] / "haixun"))

IO_LIBS = {"psycopg", "psycopg_pool", "aiomqtt", "paho", "fastapi", "starlette", "uvicorn", "httpx", "requests",
           "websockets", "socket", "asyncio", "urllib", "http", "subprocess", "apscheduler", "prometheus_client"}
SERVICES = {"haixun.store", "haixun.api", "haixun.engine", "haixun.ingest", "haixun.demo", "haixun.simulators",
            "haixun.gateways", "haixun.web"}

# Imports that break a rule today, each with its reason. Keep this short; an entry
# that no longer occurs fails test_allow_list_is_current.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def _modules(root: Path) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(root.rglob("*.py")) if "static" not in p.parts and "npm" not in p.parts}


def modules() -> dict[str, Path]:
    return _modules(ROOT)


def imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports (absolute names)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            known = modules()
            for a in node.names:
                # ``from pkg import submodule`` depends on the submodule; ``from pkg import name`` on pkg
                yield f"{target}.{a.name}" if f"{target}.{a.name}" in known else target


def within(target: str, prefixes: set[str]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def violations() -> list[tuple[str, str, str]]:
    """(importer, imported, rule) for every import that breaks a contract."""
    found = []
    for name, path in modules().items():
        for target in set(imports(name, path)):
            if within(name, {"haixun.riskcode", "haixun.contract"}):
                if target.split(".")[0] in IO_LIBS:
                    found.append((name, target, "pure module imports an I/O library"))
                if within(target, SERVICES):
                    found.append((name, target, "pure module imports a service package"))
            if within(name, {"haixun.store"}) and within(target, SERVICES - {"haixun.store"}):
                found.append((name, target, "store imports a service package"))
            if within(name, {"haixun.api"}) and within(target, {"haixun.engine"}):
                found.append((name, target, "api imports engine internals"))
    return [v for v in found if (v[0], v[1]) not in ALLOWED]


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges[name] = {t for t in imports(name, path) if t in mods and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_layer_contracts() -> None:
    assert violations() == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_allow_list_is_current() -> None:
    mods = modules()
    present = {(n, t) for n, p in mods.items() for t in imports(n, p)}
    assert [k for k in ALLOWED if k not in present] == []


def test_the_checker_sees_a_planted_violation(tmp_path: Path) -> None:
    """The rules are not vacuous: a planted riskcode module importing psycopg, an
    api module importing the engine and a two-module cycle are all found."""
    global ROOT
    pkg = tmp_path / "haixun"
    for sub in ("riskcode", "api", "engine"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "riskcode" / "bad.py").write_text("import psycopg\n")
    (pkg / "api" / "a.py").write_text("def f():\n    from haixun.engine import leader\n    from . import b\n")
    (pkg / "api" / "b.py").write_text("from haixun.api import a\n")
    saved, ROOT = ROOT, pkg
    try:
        rules = {(n, r) for n, _, r in violations()}
        assert ("haixun.riskcode.bad", "pure module imports an I/O library") in rules
        assert ("haixun.api.a", "api imports engine internals") in rules
        assert cycles(graph()) == [["haixun.api.a", "haixun.api.b"]]
    finally:
        ROOT = saved
