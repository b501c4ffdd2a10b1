"""riskcode configuration: loading, validation and its error messages."""

from __future__ import annotations

import copy
import tomllib

import pytest

from haixun.riskcode.config import DEFAULT_CONFIG_PATH, ConfigError, RiskConfig, load_config
from haixun.riskcode.levels import Level


def _raw() -> dict:
    with DEFAULT_CONFIG_PATH.open("rb") as fh:
        return tomllib.load(fh)


def test_packaged_config_loads_with_version_and_brief_numbers() -> None:
    c = load_config()
    assert c.version
    assert (c.wave.thresholds_m.blue, c.wave.thresholds_m.red) == (2.5, 6.0)
    # EurOtop 2018 Table 3.3: people on the crest 1 l/s/m at Hm0 2 m, 0.3 at 3 m
    assert c.overtopping.thresholds(2.0, violent=False).get(Level.YELLOW) == 1.0
    assert c.overtopping.thresholds(3.0, violent=False).get(Level.YELLOW) == 0.3
    assert c.wind.mps(c.wind.typhoon.red.gust_bft) == 41.5
    assert c.storm_tide.surge_blue_min_m == 0.3


def test_every_threshold_block_names_a_source() -> None:
    c = load_config()
    for src in (c.storm_tide.warning_levels_source, c.storm_tide.surge_source, c.wave.source, c.wind.typhoon.source,
                c.wind.gale.source, c.wind.beaufort_source, c.overtopping.source):
        assert len(src) > 10


def test_from_dict_round_trip_equals_file() -> None:
    assert RiskConfig.from_dict(_raw()) == load_config()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["wave"]["thresholds_m"].update(orange=3.0), "wave.thresholds_m: thresholds not increasing: orange=3.0 must be > yellow=3.5"),
        (lambda d: d["storm_tide"]["default_warning_levels_m"].update(red=4.1), "storm_tide.default_warning_levels_m: thresholds not increasing: red=4.1"),
        (lambda d: d["overtopping"]["limits"].update(blue=[1.0, 0.0, 0.03]), "overtopping.limits.blue.1: Input should be greater than 0"),
        (lambda d: d["overtopping"]["limits"].update(orange=[75.0, 0.5, 5.0]), "overtopping.limits: thresholds not increasing: orange=0.5"),
        (lambda d: d["overtopping"]["tm10_factor"].pop("Tp"), "overtopping.tm10_factor: missing factor for ['Tp']"),
        (lambda d: d["qc"].update(accepted_flags=[1, 4]), "qc.accepted_flags: QC flag 4"),
        (lambda d: d["wind"]["gale"].update(yellow={"mean_bft": 6, "gust_bft": 9}), "wind.gale: thresholds not increasing: yellow"),
        (lambda d: d["zones"].update(c_max_m=100.0), "zones: zone bounds not increasing"),
        (lambda d: d["staleness"]["max_age_s"].pop("tide_level"), "staleness.max_age_s: missing max age for ['tide_level']"),
        (lambda d: d["wave"].update(typo=1), "wave.typo: Extra inputs are not permitted"),
        (lambda d: d.pop("version"), "version: Field required"),
        (lambda d: d["storm_tide"].update(surge_blue_max_m=0.2), "surge_blue_max_m=0.2 must be > surge_blue_min_m=0.3"),
    ],
)
def test_invalid_config_names_key_and_problem(edit, expected: str) -> None:
    d = copy.deepcopy(_raw())
    edit(d)
    with pytest.raises(ConfigError) as ei:
        RiskConfig.from_dict(d)
    assert any(expected in e for e in ei.value.errors), ei.value.errors


@pytest.mark.parametrize(
    ("row", "cells", "expected"),
    [
        ("yellow", ["orange", "yellow", "blue", "yellow", "none"], "matrix.yellow: zone C=blue is lower than more distant zone D=yellow"),
        ("orange", ["red", "yellow", "yellow", "yellow", "blue"], "matrix.orange: zone B=yellow is below the segment level"),
        ("blue", ["orange", "orange", "orange", "orange", "yellow"], "matrix.yellow: zone E=none is lower than matrix.blue zone E=yellow"),
        ("unknown", ["none", "none", "none", "none", "none"], "matrix.unknown: zones A-D must be unknown"),
        ("red", ["red", "red", "red", "unknown", "none"], "unknown is only allowed in the unknown row"),
    ],
)
def test_matrix_rules(row: str, cells: list[str], expected: str) -> None:
    d = copy.deepcopy(_raw())
    d["matrix"][row] = cells
    with pytest.raises(ConfigError) as ei:
        RiskConfig.from_dict(d)
    assert expected in str(ei.value)


def test_toml_syntax_error_is_config_error() -> None:
    with pytest.raises(ConfigError, match="TOML syntax"):
        RiskConfig.from_toml("version = ")


def test_load_config_from_edited_file(tmp_path) -> None:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").replace('version = "', 'version = "test-', 1)
    p = tmp_path / "rc.toml"
    p.write_text(text, encoding="utf-8")
    assert load_config(p).version.startswith("test-")
