"""Every reason riskcode can produce has plain-language zh and en text for residents."""

from __future__ import annotations

import typing
from datetime import UTC, datetime

import pytest

from haixun.api.reasons import hazard_name, is_named, reason_text
from haixun.contract import CameraEventType
from haixun.riskcode import FEED_KINDS, load_config
from haixun.riskcode.config import HazardName
from haixun.riskcode.segment import evaluate_segment


def riskcode_reason_names() -> set[str]:
    """The names riskcode emits: segment hazards, official:<kind>, camera:<type>, override."""
    config = load_config()
    names = set(typing.get_args(HazardName))
    names |= {f"official:{k}" for k in FEED_KINDS}
    names |= {f"camera:{t}" for t in config.camera.types}
    names |= {f"camera:{t.value}" for t in CameraEventType}  # types a configuration may enable
    names.add("override")
    return names


def test_vocabulary_is_not_empty_and_covers_what_a_segment_emits():
    names = riskcode_reason_names()
    assert {"storm_tide", "storm_tide_forecast", "official:surge_forecast", "camera:overtopping"} <= names
    # a segment evaluated with no inputs at all names its hazards from the same vocabulary
    from haixun.data.geography import load_geography
    from haixun.data.riskspecs import segment_specs

    config = load_config()
    spec = segment_specs(load_geography())[0]
    decision = evaluate_segment(config, spec, {}, None, [], [], datetime(2024, 7, 1, tzinfo=UTC))
    emitted = {r.hazard for r in decision.hazards}
    assert emitted and emitted <= names


@pytest.mark.parametrize("hazard", sorted(riskcode_reason_names() | {"stale_data"}))
def test_every_reason_has_zh_and_en_text(hazard: str):
    assert is_named(hazard), f"{hazard}: no plain-language text in haixun/api/reasons.py"
    zh, en = hazard_name(hazard, "zh"), hazard_name(hazard, "en")
    raw = hazard if ("_" in hazard or ":" in hazard) else "\0"  # 'wind' may be a word of the English text
    assert zh != en and raw not in zh and raw not in en
    assert any("\u4e00" <= c <= "\u9fff" for c in zh), zh  # Chinese characters
    assert "_" not in en and en[0].isupper(), en
    for lang in ("zh", "en"):
        for level in ("unknown", "blue", "orange"):
            text = reason_text({"hazard": hazard, "level": level, "value": 6.25, "unit": "m", "threshold": 6.1}, lang)
            assert raw not in text and "_" not in text, text


def test_texts_of_values_and_unavailable_reasons():
    h = {"hazard": "storm_tide", "level": "orange", "value": 6.25, "unit": "m", "threshold": 6.1}
    assert reason_text(h, "zh") == "风暴潮水位 6.25m（阈值 6.1m）"
    assert reason_text(h, "en") == "Storm tide (sea level now) 6.25 m (threshold 6.1 m)"
    # blue by surge: the value is the surge, and the text says so (not "sea level now")
    surge = {"hazard": "storm_tide", "level": "blue", "value": 0.45, "unit": "m", "threshold": 0.3,
             "detail": "surge 0.45 m in [0.3, 0.9) (level 3.10 m, astronomical 2.65 m), no warning tide level reached"}
    assert reason_text(surge, "en") == "Storm surge (above the normal tide) 0.45 m (threshold 0.3 m)"
    assert reason_text(surge, "zh").startswith("风暴增水")
    fc = {"hazard": "storm_tide_forecast", "level": "unknown", "value": None, "unit": "m", "threshold": None}
    assert reason_text(fc, "zh") == "未来12小时最高潮位预报：暂无数据"
    assert reason_text(fc, "en") == "Forecast high water (next 12 hours): not available"
    cam = {"hazard": "camera:water_on_road", "level": "yellow", "value": 0.9, "unit": "confidence", "threshold": 0.8}
    assert reason_text(cam, "en") == "Camera saw water on the road"
    # a name riskcode may add later is still readable, never the raw identifier
    assert hazard_name("camera:seal_on_beach", "en") == "Camera saw a hazard"
    assert hazard_name("new_hazard", "zh") == "其他风险因素"
