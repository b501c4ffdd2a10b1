"""Wind waves: fetch- and duration-limited growth (JONSWAP, as in the SPM/CEM
deep-water formulas) capped by full development and by depth at the toe.

Pure functions. Hs is the spectral significant height Hm0 (m), Tp the peak
period (s), Tm-1,0 ~ Tp / 1.1 (EurOtop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G = 9.81

# Fetch (km) over Hangzhou Bay / the East China Sea by direction the wind comes
# from, for the Pinghu coast (ASSUMPTION, read off a map): the bay opens to the east.
FETCH_TABLE_KM: tuple[tuple[float, float], ...] = (
    (0.0, 3.0), (45.0, 25.0), (75.0, 120.0), (100.0, 150.0), (135.0, 60.0),
    (180.0, 35.0), (225.0, 30.0), (270.0, 40.0), (315.0, 5.0), (360.0, 3.0),
)


@dataclass(frozen=True, slots=True)
class WaveParams:
    duration_s: float = 6.0 * 3600.0  # how long a storm wind has blown (duration cap)
    breaker_ratio: float = 0.55  # Hs <= ratio x depth at the toe
    nearshore_transmission: float = 0.6  # refraction/shoaling/spreading from the bay to the toe (ASSUMPTION)
    tp_to_tm10: float = 1.1


def fetch_km(dir_from_deg: np.ndarray | float, table: tuple[tuple[float, float], ...] = FETCH_TABLE_KM) -> np.ndarray:
    d = np.mod(np.asarray(dir_from_deg, dtype=float), 360.0)
    return np.interp(d, [a for a, _ in table], [f for _, f in table])


def fetch_limited(speed_ms: np.ndarray | float, fetch_m: np.ndarray | float, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(Hs, Tp) from JONSWAP growth, the shorter of fetch and duration, capped by full development."""
    u = np.maximum(np.asarray(speed_ms, dtype=float), 0.5)
    f = np.maximum(np.asarray(fetch_m, dtype=float), 10.0)
    # Duration-limited: the equivalent fetch reached in duration t (g t / U = 68.8 (g F / U^2)^(2/3)).
    f_dur = (G * duration_s / u / 68.8) ** 1.5 * u * u / G
    f_eff = np.minimum(f, f_dur)
    x = G * f_eff / (u * u)
    hs = 1.6e-3 * np.sqrt(x) * u * u / G
    tp = 0.286 * x ** (1.0 / 3.0) * u / G
    hs = np.minimum(hs, 0.243 * u * u / G)  # Pierson-Moskowitz full development
    tp = np.minimum(tp, 8.13 * u / G)
    return hs, tp


def depth_limited(hs: np.ndarray | float, depth_m: np.ndarray | float, ratio: float = 0.55) -> np.ndarray:
    return np.minimum(np.asarray(hs, dtype=float), ratio * np.maximum(np.asarray(depth_m, dtype=float), 0.0))


def tm10_from_tp(tp: np.ndarray | float, factor: float = 1.1) -> np.ndarray:
    return np.asarray(tp, dtype=float) / factor
