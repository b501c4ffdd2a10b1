import json
import math
from datetime import UTC, datetime

import pytest

from haixun.contract import (
    ContractError,
    Reason,
    TopicKind,
    obs_payload,
    parse_event,
    parse_obs,
    parse_status,
    parse_topic,
)


def test_topic_round_trip():
    t = parse_topic("haixun", "haixun/v1/obs/ZP-T01")
    assert t.kind is TopicKind.OBS and t.source_id == "ZP-T01"


@pytest.mark.parametrize(
    "topic",
    ["haixun/v2/obs/A", "other/v1/obs/A", "haixun/v1/foo/A", "haixun/v1/obs", "haixun/v1/obs/A/B", "haixun/v1/obs/a b"],
)
def test_bad_topics(topic):
    with pytest.raises(ContractError) as e:
        parse_topic("haixun", topic)
    assert e.value.reason is Reason.BAD_TOPIC


def test_single_and_batch():
    ts = datetime(2021, 7, 26, 1, 50, tzinfo=UTC)
    one = json.dumps(obs_payload(ts, {"tide_level": 5.2, "wind_speed": 20}, seq=3)).encode()
    [m] = parse_obs("S1", one)
    assert m.ts == ts and m.seq == 3 and m.values == {"tide_level": 5.2, "wind_speed": 20.0}
    batch = json.dumps([obs_payload(ts, {"tide_level": 1.0}), obs_payload(ts, {"wave_height": 2.0})]).encode()
    assert len(parse_obs("S1", batch)) == 2


def test_offset_is_converted_to_utc():
    [m] = parse_obs("S1", b'{"ts": "2021-07-26T09:50:00+08:00", "obs": {"tide_level": 1}}')
    assert m.ts == datetime(2021, 7, 26, 1, 50, tzinfo=UTC)


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", Reason.BAD_JSON),
        (b"\xff\xfe", Reason.BAD_JSON),
        (b'{"ts": "2021-07-26T01:00:00", "obs": {"tide_level": 1}}', Reason.BAD_TIMESTAMP),
        (b'{"ts": "yesterday", "obs": {"tide_level": 1}}', Reason.BAD_TIMESTAMP),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": "1.0"}}', Reason.BAD_SCHEMA),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": true}}', Reason.BAD_SCHEMA),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": NaN}}', Reason.NOT_A_NUMBER),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": Infinity}}', Reason.NOT_A_NUMBER),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"wind_speed": -3}}', Reason.OUT_OF_PHYSICAL_RANGE),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": 5000}}', Reason.OUT_OF_PHYSICAL_RANGE),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"salinity": 30}}', Reason.UNKNOWN_QUANTITY),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {}}', Reason.BAD_SCHEMA),
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": 1}, "x": 1}', Reason.BAD_SCHEMA),
        (b'[]', Reason.BAD_SCHEMA),
        (b'[{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": 1}}, 5]', Reason.BAD_SCHEMA),
        (b'"hello"', Reason.BAD_SCHEMA),
    ],
)
def test_malformed_obs(payload, reason):
    with pytest.raises(ContractError) as e:
        parse_obs("S1", payload)
    assert e.value.reason is reason
    assert e.value.detail


def test_oversized():
    big = json.dumps({"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": 1}, "pad": "x" * 1000}).encode()
    with pytest.raises(ContractError) as e:
        parse_obs("S1", big, max_bytes=100)
    assert e.value.reason is Reason.OVERSIZED


def test_event_and_status():
    ev = parse_event("CAM1", b'{"ts": "2021-07-26T01:00:00Z", "type": "overtopping", "confidence": 0.9, "segment_id": "S07"}')
    assert ev.type == "overtopping" and math.isclose(ev.confidence, 0.9) and ev.segment_id == "S07"
    with pytest.raises(ContractError):
        parse_event("CAM1", b'{"ts": "2021-07-26T01:00:00Z", "type": "overtopping", "confidence": 1.5}')
    assert parse_status("GW1", b"offline").online is False
    assert parse_status("GW1", b'{"status": "online", "ts": "2021-07-26T01:00:00Z"}').online is True
    with pytest.raises(ContractError):
        parse_status("GW1", b"maybe")


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"ts": "2021-07-26T01:00:00Z", "obs": {"tide_level": ' + b"9" * 400 + b"}}", Reason.OUT_OF_PHYSICAL_RANGE),
        (b'{"ts": "2021-07-26T01:00:00Z", "seq": ' + b"9" * 5000 + b', "obs": {"tide_level": 1}}', Reason.BAD_JSON),
        (b"[" * 100_000 + b"]" * 100_000, Reason.BAD_JSON),
    ],
)
def test_hostile_payloads_are_refused_not_crashing(payload, reason):
    with pytest.raises(ContractError) as e:
        parse_obs("S1", payload, max_bytes=1_000_000)
    assert e.value.reason is reason
