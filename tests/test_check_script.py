"""scripts/check fails on a planted violation of each of its three checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLEAN = "from __future__ import annotations\n\n\ndef f(x: int) -> int:\n    return x + 1\n"


def run_check(tmp_path: Path, files: list[Path], layers_root: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HAIXUN_CHECK_PATHS=" ".join(str(f) for f in files),
               HAIXUN_VENV=str(Path(sys.executable).parent.parent), MYPY_CACHE_DIR=str(tmp_path / "mypy-cache"))
    if layers_root is not None:
        env["HAIXUN_LAYERS_ROOT"] = str(layers_root)
    return subprocess.run(["bash", str(ROOT / "scripts" / "check")], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120)


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    f = tmp_path / "clean.py"
    f.write_text(CLEAN)
    return f


def test_clean_file_passes(tmp_path: Path, clean: Path) -> None:
    r = run_check(tmp_path, [clean])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all checks passed" in r.stdout


def test_lint_violation_fails(tmp_path: Path) -> None:
    bad = tmp_path / "unused.py"
    bad.write_text("import os\n" + CLEAN.split("\n", 1)[1])
    r = run_check(tmp_path, [bad])
    assert r.returncode != 0
    assert "F401" in r.stdout + r.stderr and "all checks passed" not in r.stdout


def test_type_violation_fails(tmp_path: Path) -> None:
    bad = tmp_path / "typed.py"
    bad.write_text(CLEAN + "\n\nY: int = f('one')\n")
    r = run_check(tmp_path, [bad])
    assert r.returncode != 0
    assert "arg-type" in r.stdout + r.stderr and "all checks passed" not in r.stdout


def test_layer_violation_fails(tmp_path: Path, clean: Path) -> None:
    pkg = tmp_path / "tree" / "haixun"
    (pkg / "riskcode").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "riskcode" / "__init__.py").write_text("")
    (pkg / "riskcode" / "talks.py").write_text("import aiomqtt\n")
    r = run_check(tmp_path, [clean], layers_root=pkg)
    assert r.returncode != 0
    assert "pure module imports an I/O library" in r.stdout and "all checks passed" not in r.stdout
