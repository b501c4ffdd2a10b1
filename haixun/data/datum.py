"""Height datums: every water level the system compares is on ONE datum.

The warning datum is the 1985 national height datum (CN1985, 1985国家高程基准):
warning tide levels (GB/T 17839-2011), crest and toe levels, ground levels and
the QC ranges of ``tide_level`` (haixun/ingest/qc.toml) are on it. Its zero is
the Qingdao mean sea level of 1952-1979, so a Hangzhou Bay tide swings above and
below zero (low waters are negative).

A gauge may report on another datum (Wusong, chart datum, a local gauge zero).
The geography gives every station its ``datum`` and ``datum_offset_m``: the
metres to ADD to a reading on the station's datum to get CN1985. The conversion
happens in one place, :func:`to_warning_datum`, called by ingest
(``haixun.ingest.pipeline.process``) before QC, so the readings table, QC,
riskcode and the API only ever see CN1985. The simulators publish each station's
native datum with :func:`from_warning_datum` (the inverse).

Sources of the nominal offsets (``NOMINAL_OFFSETS_M``): the usual conversion
table of the 1985 national height datum (Wusong = CN1985 + 1.717 m, Huanghai
1956 = CN1985 + 0.029 m); local values differ by a few centimetres and the
station's own levelling always wins, which is why the geography carries an
explicit offset per station.
"""

from __future__ import annotations

WARNING_DATUM = "CN1985"

# Quantities that are heights on a datum (converted); everything else passes through.
LEVEL_QUANTITIES = frozenset({"tide_level"})

# metres to add to a level on that datum to get CN1985 (nominal; per-station values in the geography)
NOMINAL_OFFSETS_M: dict[str, float] = {
    "CN1985": 0.0,
    "Huanghai1956": -0.029,
    "Wusong": -1.717,
}
# A station's offset may differ from the nominal one by this much (local levelling) before the
# geography is refused as a likely sign error or wrong datum name.
NOMINAL_TOLERANCE_M = 0.3
MAX_ABS_OFFSET_M = 10.0


def to_warning_datum(quantity: str, value: float, offset_m: float) -> float:
    """The reading ``value`` of ``quantity`` on CN1985 (only level quantities move)."""
    if offset_m == 0.0 or quantity not in LEVEL_QUANTITIES:
        return value
    return round(value + offset_m, 4)


def from_warning_datum(quantity: str, value: float, offset_m: float) -> float:
    """Inverse of :func:`to_warning_datum`: a CN1985 level as the station reports it."""
    if offset_m == 0.0 or quantity not in LEVEL_QUANTITIES:
        return value
    return round(value - offset_m, 4)


def datum_problems(label: str, datum: str, offset_m: float) -> list[str]:
    """Why a station's (datum, offset) pair is not credible (empty: fine)."""
    out: list[str] = []
    if not datum:
        return [f"{label}: datum must be named"]
    if abs(offset_m) > MAX_ABS_OFFSET_M:
        out.append(f"{label}: datum_offset_m {offset_m} is beyond +/-{MAX_ABS_OFFSET_M} m")
    if datum == WARNING_DATUM and offset_m != 0.0:
        out.append(f"{label}: datum {WARNING_DATUM} is the warning datum, its offset must be 0, got {offset_m}")
    nominal = NOMINAL_OFFSETS_M.get(datum)
    if nominal is not None and abs(offset_m - nominal) > NOMINAL_TOLERANCE_M:
        out.append(f"{label}: datum_offset_m {offset_m} is far from the nominal {nominal} m of {datum} "
                   f"(sign error? the offset is ADDED to a reading to get {WARNING_DATUM})")
    return out
