"""qc.toml is validated like riskcode.toml: unknown keys, wrong types and inconsistent limits are refused
at load with the key named (issue 17). Each case edits one line of the packaged file."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from haixun.ingest.qc import QcConfig, QcConfigError, load_qc_config

PACKAGED = (resources.files("haixun.ingest") / "qc.toml").read_text(encoding="utf-8")


def edited(line: str, replacement: str, *, after: str = "") -> str:
    """The packaged file with its first line starting with ``line`` (below the header ``after``) replaced."""
    start = PACKAGED.index(after) if after else 0
    m = re.compile("^" + re.escape(line) + ".*$", re.M).search(PACKAGED, start)
    assert m is not None, f"{line!r} is not a line of qc.toml"
    return PACKAGED[:m.start()] + replacement + PACKAGED[m.end():]


def errors_of(text: str) -> list[str]:
    with pytest.raises(QcConfigError) as info:
        QcConfig.from_toml(text)
    return info.value.errors


def test_packaged_file_is_valid():
    cfg = load_qc_config()
    assert cfg.version and cfg.quantities["tide_level"].fail_span[0] < cfg.quantities["tide_level"].fail_span[1]


@pytest.mark.parametrize(("line", "replacement", "after", "key"), [
    # a misspelled section or key is an error, not silently ignored
    ("[tide_crosscheck]", "[tide_crosscheks]", "", "tide_crosscheks"),
    ("[quantity.tide_level]", "[quantity.tide_level]\nspike_fial = 1.0", "", "quantity.tide_level.spike_fial"),
    ("future_fail_s", "future_fial_s = 30", "", "time.future_fial_s"),
    # limits out of order
    ("fail_span", "fail_span = [12, -6]", "[quantity.tide_level]", "quantity.tide_level.fail_span"),
    ("suspect_span", "suspect_span = [-4.5, 12.0]", "[quantity.tide_level]", "quantity.tide_level.suspect_span"),
    ("spike_suspect", "spike_suspect = 1.5", "[quantity.tide_level]", "quantity.tide_level.spike_fail"),
    ("flat_fail_s", "flat_fail_s = 60", "[quantity.tide_level]", "quantity.tide_level.flat_fail_s"),
    ("surge_band_m", "surge_band_m = [3.0, -1.0]", "[tide_crosscheck]", "tide_crosscheck.surge_band_m"),
    # wrong types: a quoted number or a 1 for true is refused, not coerced
    ("spike_fail", 'spike_fail = "1.0"', "[quantity.tide_level]", "quantity.tide_level.spike_fail"),
    ("spike_trend", "spike_trend = 1", "[quantity.tide_level]", "quantity.tide_level.spike_trend"),
    ("version", "version = 3", "", "version"),
    ("spike_fail", "spike_fail = -1.0", "[quantity.tide_level]", "quantity.tide_level.spike_fail"),
    # a missing version or [time] key is a clear error (it was a KeyError / a silent default)
    ("version", "", "", "version"),
    ("future_fail_s", "", "", "time.future_fail_s"),
])
def test_bad_line_is_refused_with_its_key(line, replacement, after, key):
    errs = errors_of(edited(line, replacement, after=after))
    assert any(e.startswith(key + ":") for e in errs), errs


def test_missing_version_says_so():
    assert errors_of(edited("version", ""))[0] == "version: required key is missing"


def test_toml_syntax_error_is_a_config_error():
    assert errors_of(PACKAGED + "\n[quantity.x\n")[0].startswith("TOML syntax")


def test_load_names_the_file(tmp_path: Path):
    bad = tmp_path / "qc.toml"
    bad.write_text(edited("fail_span", "fail_span = [12, -6]", after="[quantity.tide_level]"), encoding="utf-8")
    with pytest.raises(QcConfigError, match=re.escape(str(bad))):
        load_qc_config(bad)


def test_ingest_refuses_to_start_on_a_bad_file(tmp_path: Path):
    bad = tmp_path / "qc.toml"
    bad.write_text(edited("spike_fail", 'spike_fail = "1.0"', after="[quantity.tide_level]"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "haixun.cli", "ingest", "--qc-config", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "quantity.tide_level.spike_fail" in out.stderr and "Traceback" not in out.stderr


# ---------------------------------------------------------------- admission.toml, the same rules
ADMISSION = (resources.files("haixun.ingest") / "admission.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("line", "replacement", "key"), [
    ("history_max_days", "history_max_dayz = 62", "history.history_max_dayz"),
    ("history_max_days", 'history_max_days = "62"', "history.history_max_days"),
    ("history_max_days", "history_max_days = -1", "history.history_max_days"),
    ("version", "", "version"),
    ("[history]", "[histroy]", "histroy"),
])
def test_admission_file_is_validated_too(line: str, replacement: str, key: str) -> None:
    from haixun.ingest.admission import AdmissionConfig, AdmissionConfigError
    from haixun.ingest.configfile import parse_toml

    m = re.compile("^" + re.escape(line) + ".*$", re.M).search(ADMISSION)
    assert m is not None
    text = ADMISSION[:m.start()] + replacement + ADMISSION[m.end():]
    with pytest.raises(AdmissionConfigError) as info:
        AdmissionConfig.from_dict(parse_toml(text, AdmissionConfigError))
    assert any(e.startswith(key + ":") for e in info.value.errors), info.value.errors


def test_ingest_refuses_to_start_on_a_bad_admission_file(tmp_path: Path) -> None:
    bad = tmp_path / "admission.toml"
    bad.write_text(ADMISSION.replace("history_max_days = 62", "history_max_dayz = 62"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "haixun.cli", "ingest", "--admission-config", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "history.history_max_dayz: unknown key" in out.stderr and "Traceback" not in out.stderr
