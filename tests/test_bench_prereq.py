"""``python -m bench`` names what a selected section needs and how to get it, before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import prereq
from bench.runner import run_benchmarks


def test_without_wrk_the_lookup_section_does_not_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no wrk (nor anything else) on PATH
    out = tmp_path / "docs" / "performance.md"
    assert run_benchmarks(smoke=True, only="lookup", out=str(out)) == 2
    err = capsys.readouterr().err
    assert "program wrk (section lookup)" in err and "install-bench-tools" in err
    assert not out.exists()  # nothing measured, nothing written


def test_missing_names_modules_and_programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(prereq.MODULES, "fanout", ("haixun_no_such_module", "json"))
    gaps = prereq.missing(["copy", "lookup", "fanout"])
    assert [(g.section, g.kind, g.name) for g in gaps] == [("lookup", "program", "wrk"),
                                                           ("fanout", "module", "haixun_no_such_module")]
    assert "pip install -e '.[bench]'" in prereq.message(gaps)
