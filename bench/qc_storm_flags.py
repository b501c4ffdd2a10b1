"""QC flag rates on the In-fa storm replay (issue 13: "storm data must pass").

Generates the gateway observations of every station every ``--step-s`` seconds
over the storm window (``replay_source``, historical, the same model and noise
the live replay publishes), converts levels to CN1985 like ingest, and runs
them through ``QcEngine`` in order (one batch per step, committed). Prints the
share of suspect and failed readings per quantity.

    PYTHONPATH=. python bench/qc_storm_flags.py [--hours 72] [--step-s 60]
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import timedelta

from haixun.data.datum import to_warning_datum
from haixun.ingest.qc import FAIL, SUSPECT, QcEngine, QcInput, load_qc_config
from haixun.simulators import typhoon as ty
from haixun.simulators.geo import load_sim_geography
from haixun.simulators.source import replay_source


def measure(hours: float, step_s: float, seed: int = 0) -> dict[str, tuple[int, int, int]]:
    geo = load_sim_geography()
    source = replay_source(geo, ty.INFA_LANDFALL_PINGHU, historical=True, peak_in=timedelta(0), seed=seed)
    qc = QcEngine(load_qc_config().with_max_age(0))
    start = ty.INFA_LANDFALL_PINGHU - timedelta(hours=hours / 2)
    n = int(hours * 3600 // step_s)
    total: Counter[str] = Counter()
    suspect: Counter[str] = Counter()
    fail: Counter[str] = Counter()
    for k in range(n):
        ts = start + timedelta(seconds=k * step_s)
        items = []
        for st in geo.stations:
            for q, v in source.observe(st, ts).items():
                items.append(QcInput(st.id, q, ts, to_warning_datum(q, v, st.datum_offset_m), ts))
        res = qc.evaluate(items)
        qc.commit(res)
        for it, f in zip(items, res.flags, strict=False):
            total[it.quantity] += 1
            suspect[it.quantity] += f == SUSPECT
            fail[it.quantity] += f == FAIL
    return {q: (total[q], suspect[q], fail[q]) for q in sorted(total)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=72.0)
    ap.add_argument("--step-s", type=float, default=60.0)
    args = ap.parse_args()
    for q, (n, s, f) in measure(args.hours, args.step_s).items():
        print(f"{q:18} n={n:6d} suspect {100 * s / n:5.1f} %  fail {100 * f / n:5.1f} %")


if __name__ == "__main__":
    main()
