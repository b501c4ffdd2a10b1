"""Raw COPY ceiling on its own (section 1's reference, also quick for the smoke test)."""

from __future__ import annotations

from bench.common import BenchContext, Section, rate, scratch_database
from bench.copy_ceiling import copy_rate

TITLE = "Raw COPY ceiling (readings table, no MQTT, no QC)"


def run(ctx: BenchContext) -> Section:
    sizes = ctx.sizes
    sec = Section("copy", TITLE, ["rows", "rows/s"])
    with scratch_database() as url:
        stored, per_s = copy_rate(url, sizes.copy_rows, stations=1000)
    sec.rows.append([f"{stored:,}", rate(per_s)])
    sec.raw.update(rows=stored, rows_per_s=per_s)
    sec.notes.append("One COPY of pre-built rows into `readings` (primary key and BRIN index in place): "
                     "the database's own ceiling for what ingest stores.")
    return sec
