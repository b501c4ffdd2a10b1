"""The weighted latency histogram exposes what prometheus_client's Histogram would."""

from __future__ import annotations

import math
import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from haixun.ingest.metrics import LATENCY_BUCKETS, WeightedHistogram


def test_weighted_histogram_matches_prometheus_histogram():
    plain, weighted = CollectorRegistry(), CollectorRegistry()
    h = Histogram("t_latency_seconds", "doc", buckets=LATENCY_BUCKETS, registry=plain)
    w = WeightedHistogram("t_latency_seconds", "doc", LATENCY_BUCKETS, weighted)
    rng = random.Random(3)
    values = [0.0, *LATENCY_BUCKETS, 1.0000001, 1e6] + [rng.expovariate(0.01) for _ in range(200)]
    for v in values:
        n = rng.randint(1, 6)
        for _ in range(n):
            h.observe(v)
        w.observe(v, n)
    expected = [line for line in generate_latest(plain).decode().splitlines() if "_created" not in line]
    got = generate_latest(weighted).decode().splitlines()
    # value * n and n additions round differently: the sum only to float precision
    sums = [[float(x.split()[-1]) for x in lines if x.startswith("t_latency_seconds_sum")] for lines in (got, expected)]
    assert len(sums[0]) == len(sums[1]) == 1 and math.isclose(sums[0][0], sums[1][0], rel_tol=1e-12)
    assert [x for x in got if "_sum" not in x] == [x for x in expected if "_sum" not in x]
    assert any(line.startswith('t_latency_seconds_bucket{le="+Inf"}') for line in got)
