"""Layer contracts of docs/data-model.md "Package map", checked on the source.

Every import statement in haixun/ (module level and inside functions: a lazy
import is still a dependency) is read with ``ast``; nothing is imported. The
rules:

- ``haixun/riskcode`` (the pure engine) and ``haixun/contract.py`` import no I/O
  library and no service package;
- ``haixun/store`` imports no service package;
- ``haixun/api`` imports nothing from ``haixun/engine`` (shared names live in
  store: ``store/channels.py``);
- no import cycle between haixun modules;
- the API's router modules (``haixun/api/routes_*.py``, ``health.py``) are leaves:
  only ``haixun/api/app.py`` imports them, and only for their ``router`` (or
  ``install_web``); what routes share lives in other api modules (feeds.py,
  risk_lookup.py, risk_push.py, thresholds.py, places.py);
- ``haixun/engine``, ``haixun/ingest`` and ``haixun/api`` contain no SQL: no string that opens
  with an SQL statement keyword and no ``.execute``/``.executemany`` call (their
  queries live in ``haixun/store`` modules with typed functions);
- in tests/: no module imports a test module (``test_*.py``) or conftest.py;
  shared helpers live in tests/support/, and conftest.py holds fixtures only
  (and pytest hooks).

``scripts/check`` runs this file; tests/test_check_script.py plants violations.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(os.environ.get("HAIXUN_LAYERS_ROOT", Path(__file__).resolve().parents[1] / "haixun"))
TESTS = Path(__file__).resolve().parent

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


def import_statements(package: str, path: Path) -> Iterator[tuple[str, tuple[str, ...] | None]]:
    """(absolute module, names taken) of every import in ``path``, whose package is ``package``
    (relative imports resolved against it); names is None for ``import module``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((a.name, None) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, tuple(a.name for a in node.names)


def imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports (absolute names)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    known = modules()
    for target, names in import_statements(package, path):
        if names is None:
            yield target
        for n in names or ():
            # ``from pkg import submodule`` depends on the submodule; ``from pkg import name`` on pkg
            yield f"{target}.{n}" if f"{target}.{n}" in known else target


ROUTER_MODULE = re.compile(r"haixun\.api\.(routes_\w+|health)")
APP_MODULE = "haixun.api.app"
ROUTER_EXPORTS = {"router", "install_web"}


def router_imports(name: str, path: Path) -> Iterator[tuple[str, str]]:
    """(router module, name taken from it; "" for the module itself) for each import of a router module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for target, names in import_statements(package, path):
        if names is None:
            if ROUTER_MODULE.fullmatch(target):
                yield target, ""
            continue
        for n in names:
            if ROUTER_MODULE.fullmatch(f"{target}.{n}"):
                yield f"{target}.{n}", ""
            elif ROUTER_MODULE.fullmatch(target):
                yield target, n


def router_violations() -> list[tuple[str, str, str]]:
    found = []
    for name, path in modules().items():
        for target, taken in set(router_imports(name, path)):
            if name == target:
                continue
            if name != APP_MODULE:
                found.append((name, target, "a router module is imported by haixun.api.app only"))
            elif taken and taken not in ROUTER_EXPORTS:
                found.append((name, f"{target}.{taken}", "app takes only the router from a router module"))
    return found


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
    found += router_violations()
    return [v for v in found if (v[0], v[1]) not in ALLOWED]


# Packages whose database access goes through haixun/store functions only.
SQL_FREE = {"haixun.engine", "haixun.ingest", "haixun.api"}
# A string that opens with an SQL statement (the code base writes SQL keywords in capitals).
SQL_START = re.compile(r"\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS|CALL|"
                       r"LISTEN|UNLISTEN|NOTIFY|CREATE|ALTER|DROP|TRUNCATE|COPY|SET\s+\w+\s*(=|TO\b))\s")
DB_CALLS = {"execute", "executemany"}
# Modules of SQL_FREE that still hold SQL, each with its reason; an entry with no SQL left fails
# test_sql_allow_list_is_current.
ALLOWED_SQL: dict[str, str] = {}


def sql_in_source(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, what) for every SQL string and every DB-API execute call in ``source``."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(source, filename=filename)
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    for node in ast.walk(tree):
        text: str | None = None
        if id(node) in docstrings:  # prose (a docstring may well say "LISTEN haixun_ingest ...")
            pass
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):  # f"LISTEN {channel}": its literal parts, placeholders as spaces
            text = "".join(v.value if isinstance(v, ast.Constant) else " " for v in node.values)
        if text is not None and SQL_START.match(text + " "):
            found.append((node.lineno, "SQL string " + text.strip().split(None, 1)[0]))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DB_CALLS:
            found.append((node.lineno, f".{node.func.attr}() call"))
    return sorted(set(found))


def sql_violations() -> dict[str, list[tuple[int, str]]]:
    """module -> its SQL, for every module of SQL_FREE that holds SQL (allowed ones left out)."""
    out: dict[str, list[tuple[int, str]]] = {}
    for name, path in modules().items():
        if within(name, SQL_FREE) and name not in ALLOWED_SQL:
            hits = sql_in_source(path.read_text(encoding="utf-8"), str(path))
            if hits:
                out[name] = hits
    return out


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


def _test_module_imports(tests: Path, path: Path) -> Iterator[str]:
    """Every module a file under ``tests`` imports, absolute (``from pkg import x`` gives pkg and pkg.x)."""
    package = ".".join(("tests", *path.parent.relative_to(tests).parts))
    for target, names in import_statements(package, path):
        yield target
        yield from (f"{target}.{n}" for n in names or ())


def _is_fixture_or_hook(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if node.name.startswith("pytest_"):
            return True
        for d in node.decorator_list:
            f = d.func if isinstance(d, ast.Call) else d
            if isinstance(f, ast.Attribute) and f.attr == "fixture":
                return True
    return False


def rule_breaks_in_tests(tests: Path) -> list[tuple[str, str, str]]:
    """(file, what, rule) for every break of the tests' rules under ``tests``."""
    found = []
    test_modules = {f"tests.{p.stem}" for p in tests.glob("test_*.py")} | {p.stem for p in tests.glob("test_*.py")}
    for path in sorted(tests.rglob("*.py")):
        rel = path.relative_to(tests).as_posix()
        for target in set(_test_module_imports(tests, path)):
            if target in {"conftest", "tests.conftest"}:
                found.append((rel, target, "imports conftest (fixtures arrive by name; helpers live in tests/support)"))
            elif target in test_modules:
                found.append((rel, target, "imports a test module (helpers live in tests/support)"))
        if path.name == "conftest.py":
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                if not (docstring or isinstance(node, (ast.Import, ast.ImportFrom)) or _is_fixture_or_hook(node)):
                    found.append((rel, f"line {node.lineno}", "conftest holds fixtures only"))
    return found


@contextlib.contextmanager
def planted_tree(tmp_path: Path, files: dict[str, str]) -> Iterator[Path]:
    """A haixun/ package of ``files`` (path below haixun/ -> text, every folder a package) that the
    checkers read instead of the real tree while the block runs."""
    global ROOT
    pkg = tmp_path / "haixun"
    for rel, text in files.items():
        path = pkg / rel
        for folder in [pkg, *(pkg / p for p in Path(rel).parents if str(p) != ".")]:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").touch()
        path.write_text(text)
    saved, ROOT = ROOT, pkg
    try:
        yield pkg
    finally:
        ROOT = saved


def test_layer_contracts() -> None:
    assert violations() == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_engine_and_ingest_hold_no_sql() -> None:
    assert sql_violations() == {}


def test_sql_allow_list_is_current() -> None:
    mods = modules()
    assert [m for m in ALLOWED_SQL if m not in mods or not sql_in_source(mods[m].read_text(encoding="utf-8"))] == []


def test_the_sql_checker_sees_planted_sql() -> None:
    """Planted queries of every form are found (a plain string, a concatenation, an f-string, an
    execute call on a query built elsewhere); words that merely look alike are not."""
    planted = (
        'Q = "SELECT id FROM stations"\n'
        'async def f(conn, q, ch):\n'
        '    await conn.execute("INSERT INTO readings (a) VALUES (%s)" + " ON CONFLICT DO NOTHING", (1,))\n'
        '    await conn.execute(q)\n'
        '    await conn.execute(f"LISTEN {ch}")\n'
        '    DEL = """\n    DELETE FROM state_log WHERE at < %s"""\n'
        '    W = "WITH ins AS (INSERT INTO x SELECT 1)"\n'
    )
    assert sql_in_source(planted) == [
        (1, "SQL string SELECT"), (3, ".execute() call"), (3, "SQL string INSERT"), (4, ".execute() call"),
        (5, ".execute() call"), (5, "SQL string LISTEN"), (6, "SQL string DELETE"), (8, "SQL string WITH"),
    ]
    harmless = (
        '"""Select the stations; update the cache; the copy is deleted."""\n'
        'def g():\n    """LISTEN haixun_ingest on a dedicated connection."""\n'
        'x = "SELECTED"\n'
        'y = state.copy()\n'
        'msg = "Create a model with the selected data"\n'
        'def set_it(): return "SET"\n'
    )
    assert sql_in_source(harmless) == []


def test_the_sql_rule_covers_engine_and_ingest(tmp_path: Path) -> None:
    """A query planted in an engine module is reported by the rule over the tree; a store module's is not."""
    with planted_tree(tmp_path, {
        "engine/bad.py": 'async def f(conn):\n    await conn.execute("SELECT 1")\n',
        "api/routes_x.py": 'Q = f"SELECT {1} FROM stations"\n',
        "ingest/ok.py": 'from haixun.store import q\n\nasync def f(conn):\n    await q.one(conn)\n',
        "store/q.py": 'async def one(conn):\n    await conn.execute("SELECT 1")\n',
    }):
        assert sql_violations() == {"haixun.engine.bad": [(2, ".execute() call"), (2, "SQL string SELECT")],
                                    "haixun.api.routes_x": [(1, "SQL string SELECT")]}


def test_tests_import_no_test_module_and_conftest_holds_fixtures_only() -> None:
    assert rule_breaks_in_tests(TESTS) == []


def test_allow_list_is_current() -> None:
    mods = modules()
    present = {(n, t) for n, p in mods.items() for t in imports(n, p)}
    assert [k for k in ALLOWED if k not in present] == []


def test_the_checker_sees_a_planted_violation(tmp_path: Path) -> None:
    """The rules are not vacuous: a planted riskcode module importing psycopg, an
    api module importing the engine and a two-module cycle are all found."""
    with planted_tree(tmp_path, {
        "riskcode/bad.py": "import psycopg\n",
        "api/a.py": "def f():\n    from haixun.engine import leader\n    from . import b\n",
        "api/b.py": "from haixun.api import a\n",
        "engine/__init__.py": "",
    }):
        rules = {(n, r) for n, _, r in violations()}
        assert ("haixun.riskcode.bad", "pure module imports an I/O library") in rules
        assert ("haixun.api.a", "api imports engine internals") in rules
        assert cycles(graph()) == [["haixun.api.a", "haixun.api.b"]]


def test_the_checker_sees_routers_that_are_not_leaves(tmp_path: Path) -> None:
    """A router importing another router (the old routes_public -> routes_ops) and app.py taking a helper
    from a router (the old ``from haixun.api.routes_ops import parse_config``) are both found; app.py
    including a router is not."""
    global ROOT
    pkg = tmp_path / "haixun"
    (pkg / "api").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "api" / "__init__.py").write_text("")
    (pkg / "api" / "routes_ops.py").write_text("router = None\ndef parse_config(): pass\n")
    (pkg / "api" / "routes_public.py").write_text("def f():\n    from .routes_ops import parse_config\n")
    (pkg / "api" / "health.py").write_text("router = None\n")
    (pkg / "api" / "app.py").write_text("from haixun.api.routes_ops import parse_config\n"
                                        "from haixun.api import health, routes_public\n"
                                        "from haixun.api.health import router\n")
    saved, ROOT = ROOT, pkg
    try:
        assert sorted(router_violations()) == [
            ("haixun.api.app", "haixun.api.routes_ops.parse_config", "app takes only the router from a router module"),
            ("haixun.api.routes_public", "haixun.api.routes_ops", "a router module is imported by haixun.api.app only"),
        ]
    finally:
        ROOT = saved


def test_the_tests_checker_sees_planted_violations(tmp_path: Path) -> None:
    """A test module importing another test module and conftest, a helper importing a
    test module relatively, and a conftest with a helper function and a constant are found;
    fixtures, hooks and tests/support imports are not."""
    (tmp_path / "support").mkdir()
    (tmp_path / "support" / "__init__.py").write_text("")
    (tmp_path / "support" / "h.py").write_text("from .. import test_b\n")
    (tmp_path / "test_a.py").write_text("from tests.test_b import helper\nfrom tests.conftest import X\n"
                                        "from tests.support.h import y\n")
    (tmp_path / "test_b.py").write_text("def helper():\n    import test_a\n")
    (tmp_path / "conftest.py").write_text('"""doc"""\nimport pytest\nX = 1\n\n@pytest.fixture\ndef f():\n    pass\n\n'
                                          "def pytest_configure(config):\n    pass\n\ndef helper():\n    pass\n")
    assert sorted(rule_breaks_in_tests(tmp_path)) == sorted([
        ("conftest.py", "line 3", "conftest holds fixtures only"),
        ("conftest.py", "line 12", "conftest holds fixtures only"),
        ("support/h.py", "tests.test_b", "imports a test module (helpers live in tests/support)"),
        ("test_a.py", "tests.conftest", "imports conftest (fixtures arrive by name; helpers live in tests/support)"),
        ("test_a.py", "tests.test_b", "imports a test module (helpers live in tests/support)"),
        ("test_b.py", "test_a", "imports a test module (helpers live in tests/support)"),
    ])
