"""Tide-gauge neighbours of the QC cross-check (qc.toml [tide_crosscheck] max_km, max_neighbours): the
nearest gauges within max_km, as every pair's great-circle distance would give them, without every pair."""

from __future__ import annotations

import random

from haixun.ingest.qc import QcFile
from haixun.ingest.qcstore import _km, tide_neighbours


def _all_pairs(gauges: list[tuple[str, float, float]], max_km: float, most: int) -> dict[str, tuple[str, ...]]:
    out = {}
    for a, la, lo in gauges:
        near = sorted((_km(la, lo, la2, lo2), k, b) for k, (b, la2, lo2) in enumerate(gauges)
                      if b != a and _km(la, lo, la2, lo2) <= max_km)
        out[a] = tuple(b for _, _, b in near[:most])
    return out


def test_the_nearest_within_max_km_as_every_pair_gives_them() -> None:
    rng = random.Random(18)
    gauges = [(f"G{i:03d}", rng.uniform(30.4, 30.9), rng.uniform(120.8, 121.5)) for i in range(300)]
    gauges += [("DUP-A", 30.6, 121.0), ("DUP-B", 30.6, 121.0)]          # the same place
    gauges += [("EDGE-A", 30.7, 121.3), ("EDGE-B", 30.7 + 12.0 / 111.195, 121.3)]  # ~max_km apart
    for max_km, most in ((12.0, 8), (5.0, 3), (40.0, 1000)):
        assert tide_neighbours(gauges, max_km, most) == _all_pairs(gauges, max_km, most)


def test_far_apart_and_single_gauges_have_none() -> None:
    assert tide_neighbours([("A", 30.6, 121.0), ("B", 31.6, 121.0)], 12.0, 8) == {"A": (), "B": ()}
    assert tide_neighbours([], 12.0, 8) == {}


def test_ten_thousand_gauges_on_one_coast_are_bounded() -> None:
    gauges = [(f"L{i:05d}", 30.58 + 0.08 * i / 10_000, 120.95 + 0.30 * i / 10_000) for i in range(10_000)]
    got = tide_neighbours(gauges, 12.0, 8)
    assert len(got) == 10_000 and all(len(v) == 8 for v in got.values())
    assert set(got["L05000"]) == {f"L0{i}" for i in (4996, 4997, 4998, 4999, 5001, 5002, 5003, 5004)}
    assert set(got["L05000"][:2]) == {"L04999", "L05001"}  # nearest first


def test_the_bound_is_configured_in_qc_toml() -> None:
    import tomllib
    from importlib import resources

    text = resources.files("haixun.ingest").joinpath("qc.toml").read_text(encoding="utf-8")
    assert QcFile.model_validate(tomllib.loads(text)).tide_crosscheck.max_neighbours == 8
