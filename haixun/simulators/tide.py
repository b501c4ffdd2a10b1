"""Astronomical tide from harmonic constituents (pure functions).

h(t) = Z0 + sum_k f_k A_k cos(V_k(t) + u_k - g_k)

V_k are the equilibrium arguments from the mean longitudes of the Moon (s),
Sun (h), lunar perigee (p) and the mean solar hour angle (T); f, u are the
usual first-order nodal corrections. Amplitudes and phases for Zhapu are an
ASSUMPTION of Hangzhou Bay order (see docs/simulators.md): spring range about
5.5-6 m, mean range about 4.3 m, mean level +0.2 m CN1985 (the 1985 datum's
zero is close to mean sea level; Zhejiang coastal gauges sit a few decimetres
above it) so that spring high waters reach about 2.7-3.2 m and spring lows
about -2.6 to -3.0 m (until geography 1.3.0 the mean level was +2.0 m, on a
datum 1.8 m too low: every level was re-based by -1.8 m), and the M2 phase is tuned so that a high water
falls about an hour after In-fa's landfall at Pinghu (01:50 UTC 26 July 2021).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

J2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)
J2000_EPOCH_S = J2000.timestamp()

# Mean solar day fraction -> T; the rest are mean longitudes (degrees) at J2000 and rates (deg/day).
_S0, _S_RATE = 218.3164, 13.17639648
_H0, _H_RATE = 280.4661, 0.98564736
_P0, _P_RATE = 83.3535, 0.11140353
_N0, _N_RATE = 125.0445, -0.05295377


@dataclass(frozen=True, slots=True)
class Constituent:
    name: str
    amplitude_m: float
    phase_deg: float  # Greenwich phase lag g


@dataclass(frozen=True, slots=True)
class TideSite:
    """Harmonic constants of one place."""

    mean_level_m: float
    constituents: tuple[Constituent, ...]


# ASSUMPTION (Hangzhou Bay north bank order of magnitude; tuned, not published values).
ZHAPU = TideSite(
    mean_level_m=0.2,
    constituents=(
        Constituent("M2", 1.80, 37.0),
        Constituent("S2", 0.66, 75.0),
        Constituent("N2", 0.30, 19.0),
        Constituent("K1", 0.22, 340.0),
        Constituent("O1", 0.15, 295.0),
        Constituent("M4", 0.14, 78.0),
        Constituent("MS4", 0.09, 117.0),
    ),
)
ZHAPU_LON = 121.0911

# The tide progresses up-bay (east -> west): the west end is later and larger.
PHASE_LAG_MIN_PER_KM_WEST = 0.9  # minutes of M2 time per km westward (ASSUMPTION)
AMPLITUDE_GAIN_PER_KM_WEST = 0.003  # relative amplitude increase per km westward (ASSUMPTION)
KM_PER_DEG_LON = 95.8  # at 30.6 N

M2_DEG_PER_MIN = 28.9841042 / 60.0


def _speed_factor(name: str) -> float:
    """Phase-lag scaling of a time shift: a shift of dt minutes lags a constituent by speed*dt."""
    return {"M2": 1.0, "S2": 30.0 / 28.9841042, "N2": 28.4397295 / 28.9841042, "K1": 15.0410686 / 28.9841042,
            "O1": 13.9430356 / 28.9841042, "M4": 2.0, "MS4": 58.9841042 / 28.9841042}[name]


def site_along_coast(lon: float, reference: TideSite = ZHAPU, reference_lon: float = ZHAPU_LON) -> TideSite:
    """Harmonic constants at another point of the Pinghu coast, shifted from the reference."""
    km_west = (reference_lon - lon) * KM_PER_DEG_LON
    lag_min = PHASE_LAG_MIN_PER_KM_WEST * km_west
    gain = max(0.5, 1.0 + AMPLITUDE_GAIN_PER_KM_WEST * km_west)
    return replace(
        reference,
        constituents=tuple(
            Constituent(c.name, c.amplitude_m * gain, c.phase_deg + lag_min * M2_DEG_PER_MIN * _speed_factor(c.name))
            for c in reference.constituents
        ),
    )


def _arguments(epoch_s: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(V + u in degrees, f) per constituent at the given UTC epoch seconds."""
    d = (epoch_s - J2000_EPOCH_S) / 86400.0
    day_frac = np.mod(epoch_s / 86400.0, 1.0)
    t = 180.0 + 360.0 * day_frac  # mean solar hour angle of Greenwich + 180
    s = _S0 + _S_RATE * d
    h = _H0 + _H_RATE * d
    p = _P0 + _P_RATE * d
    n = np.radians(_N0 + _N_RATE * d)
    f_m2 = 1.0 - 0.037 * np.cos(n)
    u_m2 = -2.1 * np.sin(n)
    f_k1 = 1.006 + 0.115 * np.cos(n)
    u_k1 = -8.9 * np.sin(n)
    f_o1 = 1.009 + 0.187 * np.cos(n)
    u_o1 = 10.8 * np.sin(n)
    m2 = 2 * t - 2 * s + 2 * h
    s2 = 2 * t
    one = np.ones_like(d)
    return {
        "M2": (m2 + u_m2, f_m2),
        "S2": (s2, one),
        "N2": (2 * t - 3 * s + 2 * h + p + u_m2, f_m2),
        "K1": (t + h + 90.0 + u_k1, f_k1),
        "O1": (t - 2 * s + h - 90.0 + u_o1, f_o1),
        "M4": (2 * (m2 + u_m2), f_m2 * f_m2),
        "MS4": (m2 + u_m2 + s2, f_m2),
    }


def tide_levels(epoch_s: np.ndarray | float, site: TideSite = ZHAPU) -> np.ndarray:
    """Astronomical water level (m, CN1985) at UTC epoch seconds."""
    e = np.atleast_1d(np.asarray(epoch_s, dtype=float))
    args = _arguments(e)
    out = np.full_like(e, site.mean_level_m)
    for c in site.constituents:
        v, f = args[c.name]
        out += f * c.amplitude_m * np.cos(np.radians(v - c.phase_deg))
    return out


def tide_level(ts: datetime, site: TideSite = ZHAPU) -> float:
    return float(tide_levels(ts.timestamp(), site)[0])


def high_and_low_waters(epoch_s: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of local maxima and minima of a sampled tide curve."""
    d = np.diff(levels)
    highs = np.where((d[:-1] > 0) & (d[1:] <= 0))[0] + 1
    lows = np.where((d[:-1] < 0) & (d[1:] >= 0))[0] + 1
    return highs, lows
