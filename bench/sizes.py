"""Problem sizes of the benchmarks: ``--smoke`` (development, seconds) and full (the quiet-machine run)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IngestCase:
    stations: int
    batch: int          # observations per message (2 quantities each)
    readings: int       # readings published in total


@dataclass(frozen=True, slots=True)
class Sizes:
    name: str
    ingest_cases: tuple[IngestCase, ...]
    ingest_offered_per_s: float          # offered load of the publisher, readings/s
    copy_rows: int
    latency_stations: tuple[int, ...]
    latency_normal_s: float              # seconds of normal-rate publishing per case
    latency_normal_period_s: float       # a station's normal reporting period
    latency_storm_rounds: int            # storm: every station publishes this many times back to back
    lookup_requests: int
    lookup_concurrency: int
    fanout_clients: tuple[int, ...]
    fanout_changes: int                  # state changes measured per client count
    recompute_repeats: int
    refit_repeats: int
    store_rows: tuple[int, ...]
    store_query_repeats: int
    time_limit_s: float                  # upper bound for any single wait on the pipeline


SMOKE = Sizes(
    name="smoke",
    ingest_cases=(IngestCase(100, 10, 20_000), IngestCase(1_000, 10, 20_000), IngestCase(10_000, 1, 20_000)),
    ingest_offered_per_s=40_000.0,
    copy_rows=50_000,
    latency_stations=(1_000,),
    latency_normal_s=8.0,
    latency_normal_period_s=10.0,
    latency_storm_rounds=1,
    lookup_requests=1_500,
    lookup_concurrency=32,
    fanout_clients=(200,),
    fanout_changes=5,
    recompute_repeats=20,
    refit_repeats=2,
    store_rows=(100_000, 300_000),
    store_query_repeats=20,
    time_limit_s=60.0,
)

FULL = Sizes(
    name="full",
    ingest_cases=(IngestCase(100, 10, 400_000), IngestCase(1_000, 10, 400_000), IngestCase(10_000, 10, 400_000)),
    ingest_offered_per_s=40_000.0,
    copy_rows=500_000,
    latency_stations=(1_000, 10_000),
    latency_normal_s=30.0,
    latency_normal_period_s=10.0,
    latency_storm_rounds=3,
    lookup_requests=30_000,
    lookup_concurrency=64,
    fanout_clients=(1_000, 5_000),
    fanout_changes=20,
    recompute_repeats=200,
    refit_repeats=5,
    store_rows=(1_000_000, 10_000_000),
    store_query_repeats=50,
    time_limit_s=300.0,
)
