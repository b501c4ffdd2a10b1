"""``haixun tide-import``: official harmonic constants for a tide station.

A 15-28 day record cannot separate N2 from M2 (Rayleigh: 27.6 days), and a new
gauge has no record at all; the port authority or the provincial hydrographic
office publishes harmonic constants from years of data. This command stores
them as the station's tide model (``tide_models.method = 'official'``), which
the engine uses at once and never replaces with its own fit.

File (CSV, UTF-8; ``#`` comments and blank lines ignored)::

    constituent,amplitude_m,phase_deg
    Z0,0.21,            # mean level, on the station's datum unless --z0-datum CN1985
    M2,1.80,37.0
    S2,0.66,75.0
    ...

Phases are Greenwich phase lags g referred to UTC, or to zone time UTC+Z with
``--zone-hours Z`` (Beijing time: 8; converted g = kappa - speed x Z). Names are
utide's (M2, S2, N2, K2, K1, O1, P1, Q1, M4, MS4, ...).
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from haixun.riskcode.tides import model_from_constants
from haixun.store import tide_models as store


def parse_constants(text: str) -> tuple[dict[str, tuple[float, float]], float]:
    """(constituent -> (amplitude m, phase deg), Z0 m); ValueError with the line on bad input."""
    constants: dict[str, tuple[float, float]] = {}
    z0: float | None = None
    lines = [ln.split("#", 1)[0] for ln in text.splitlines()]
    for n, row in enumerate(csv.reader(io.StringIO("\n".join(lines))), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        name = cells[0]
        if name.lower() == "constituent":
            continue
        try:
            amp = float(cells[1])
            phase = float(cells[2]) if len(cells) > 2 and cells[2] else 0.0
        except (IndexError, ValueError):
            raise ValueError(f"line {n}: expected 'name,amplitude_m,phase_deg', got {row!r}") from None
        if not (math.isfinite(amp) and math.isfinite(phase)):
            raise ValueError(f"line {n}: non-finite number")
        if name.upper() == "Z0":
            z0 = amp
        elif name in constants:
            raise ValueError(f"line {n}: {name} given twice")
        else:
            constants[name] = (amp, phase)
    if z0 is None:
        raise ValueError("no Z0 (mean level) row")
    if "M2" not in constants:
        raise ValueError("no M2: not a semidiurnal table for this coast")
    return constants, z0


def import_constants(conn: psycopg.Connection, station_id: str, text: str, *, zone_hours: float = 0.0,
                     z0_on_warning_datum: bool = False, source: str = "") -> dict[str, object]:
    """Store the model; returns a summary. Raises ValueError (bad file, unknown station)."""
    constants, z0 = parse_constants(text)
    station = store.station_datum_sync(conn, station_id)
    if station is None:
        raise ValueError(f"station {station_id!r} is not in the stations table (haixun load-geo)")
    lat, datum, offset = station
    mean = z0 if z0_on_warning_datum else z0 + offset  # the model predicts CN1985 like the readings
    now = datetime.now(UTC)
    model = model_from_constants(constants, mean, lat, valid_from=now, valid_to=now, zone_hours=zone_hours)
    doc = json.loads(model.to_json())
    doc["official"] = {"source": source, "zone_hours": zone_hours, "z0_given_m": z0,
                       "z0_datum": "CN1985" if z0_on_warning_datum else datum, "imported_at": now.isoformat()}
    store.save_model_sync(conn, station_id, store.StoredTideModel(doc, now, now, now, 0, 0.0, None,
                                                                  store.OFFICIAL_METHOD))
    return {"station": station_id, "constituents": len(constants), "mean_cn1985_m": round(mean, 4),
            "datum": datum, "zone_hours": zone_hours}


def run(database_url: str, station_id: str, path: Path, *, zone_hours: float, z0_cn1985: bool, source: str) -> int:
    text = path.read_text(encoding="utf-8")
    with psycopg.connect(database_url, autocommit=True) as conn:
        summary = import_constants(conn, station_id, text, zone_hours=zone_hours, z0_on_warning_datum=z0_cn1985,
                                   source=source or str(path))
    print(json.dumps(summary))
    return 0
