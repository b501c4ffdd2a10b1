"""The faster contract checks used by ingest accept and refuse exactly what the old ones did."""

from __future__ import annotations

import sys

import pytest

from haixun.contract import MAX_ID_LEN, QUANTITIES, ContractError, Reason, _valid_id, parse_obs, parse_topic


def _old_valid_id(s: str) -> bool:
    # the per-character rule the precompiled regex replaced
    return 0 < len(s) <= MAX_ID_LEN and all(c.isalnum() or c in "-_." for c in s)


def test_id_regex_equals_the_per_character_rule_for_every_code_point():
    differ = [c for c in map(chr, range(sys.maxunicode + 1)) if _valid_id(c) != _old_valid_id(c)]
    assert differ == []


@pytest.mark.parametrize("s", ["", "a" * MAX_ID_LEN, "a" * (MAX_ID_LEN + 1), "ZP-T01", "a.b_c-d", "a/b", "a b",
                               "站点1", "x\n", "\n", "a\u00b2", "-", "S1\x00", "é" * MAX_ID_LEN])
def test_id_regex_lengths_and_mixed_strings(s: str):
    assert _valid_id(s) == _old_valid_id(s)


def test_topic_kinds_and_errors():
    assert parse_topic("r", "r/v1/status/GW-1").source_id == "GW-1"
    with pytest.raises(ContractError) as e:
        parse_topic("r", "r/v1/OBS/S1")
    assert e.value.reason is Reason.BAD_TOPIC and "unknown message kind 'OBS'" in e.value.detail
    with pytest.raises(ContractError) as e:
        parse_topic("r", "r/v1/obs/" + "a" * (MAX_ID_LEN + 1))
    assert e.value.reason is Reason.BAD_TOPIC and "invalid id" in e.value.detail


@pytest.mark.parametrize(("raw", "reason"), [
    ("NaN", Reason.NOT_A_NUMBER), ("Infinity", Reason.NOT_A_NUMBER), ("-Infinity", Reason.NOT_A_NUMBER),
    ("1e400", Reason.NOT_A_NUMBER), ("true", Reason.BAD_SCHEMA), ('"3"', Reason.BAD_SCHEMA),
    ("30.000001", Reason.OUT_OF_PHYSICAL_RANGE), ("-20.5", Reason.OUT_OF_PHYSICAL_RANGE),
    ("31", Reason.OUT_OF_PHYSICAL_RANGE),
])
def test_value_fast_path_keeps_the_reasons(raw: str, reason: Reason):
    payload = (f'{{"ts": "2026-05-01T00:00:00Z", "obs": {{"tide_level": {raw}}}}}').encode()
    with pytest.raises(ContractError) as e:
        parse_obs("S1", payload)
    assert e.value.reason is reason


def test_value_bounds_are_inclusive_for_floats_and_ints():
    q = QUANTITIES["tide_level"]
    for v in (q.physical_min, q.physical_max, 0.0, -0.0):
        (obs,) = parse_obs("S1", (f'{{"ts": "2026-05-01T00:00:00Z", "obs": {{"tide_level": {v!r}}}}}').encode())
        assert obs.values == {"tide_level": v}
    (obs,) = parse_obs("S1", b'{"ts": "2026-05-01T00:00:00Z", "obs": {"tide_level": 3}}')
    assert obs.values["tide_level"] == 3.0 and type(obs.values["tide_level"]) is float
