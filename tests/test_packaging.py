"""Packaging (issue 17): the runtime dependencies hold nothing that only the demo needs (the ``[demo]``
extra), every dependency of pyproject.toml is pinned in requirements.lock (scripts/lock) at a version its
specifier allows, the install scripts use the lock, and the geography generator is not in the runtime
package while its output still is."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from haixun.demo.cli import DEMO_PACKAGES

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
EXTRAS = {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version and "[" not in name, f"not a plain pin (pip constraints allow no extras): {line!r}"
        pins[canonicalize_name(name)] = version
    return pins


def test_demo_only_packages_are_the_demo_extra_not_runtime():
    demo = {canonicalize_name(r.name) for r in EXTRAS["demo"]}
    assert demo == {canonicalize_name(d) for d in DEMO_PACKAGES.values()}
    assert demo.isdisjoint(canonicalize_name(r.name) for r in RUNTIME)


def test_no_runtime_module_imports_a_demo_package():
    modules = set(DEMO_PACKAGES)
    found = []
    for path in sorted((REPO / "haixun").rglob("*.py")):
        rel = path.relative_to(REPO)
        if rel.parts[:2] == ("haixun", "demo"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{rel}: {n}" for n in names if n.split(".")[0] in modules]
    assert found == []


def test_every_dependency_is_locked_at_an_allowed_version():
    pins = _lock()
    problems = []
    for req in [*RUNTIME, *(r for reqs in EXTRAS.values() for r in reqs)]:
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: not in requirements.lock (run bash scripts/lock)")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} does not satisfy {req}")
    assert problems == []


def test_install_scripts_use_the_lock():
    for script, extras in (("scripts/test.sh", ".[dev,demo]"), ("scripts/demo.sh", ".[demo]")):
        text = (REPO / script).read_text(encoding="utf-8")
        assert f'-c requirements.lock -e "{extras}"' in text, script


def test_the_geography_generator_is_a_tool_and_its_output_is_shipped():
    assert not (REPO / "haixun" / "data" / "build_geojson.py").exists()
    assert (REPO / "tools" / "build_geojson.py").exists()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert package_data["packages"]["find"]["include"] == ["haixun*"]  # tools/ is not installed
    assert "*.geojson" in package_data["package-data"]["*"] and (REPO / "haixun" / "data" / "pinghu.geojson").exists()
