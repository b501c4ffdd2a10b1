"""Storm surge: inverse barometer + wind setup on a shallow funnel bay, relaxed in time.

Pure functions on numpy arrays. The setup is driven by the along-bay wind stress
averaged over a few points of Hangzhou Bay (the far-field wind pushes water
up the funnel) plus the local onshore component; the equilibrium surge is
then relaxed with a time constant so the water responds with a lag.
Coefficients are TUNED so that In-fa gives the recorded 1.2-2.4 m surge at the
Pinghu coast overnight 25/26 July (with the high water of about 22:40 CST 25 July),
and less by the morning of the 26th (docs/simulators.md, "Surge calibration").

Hangzhou Bay opens to the east: easterly (NE-E) winds over the outer bay and the
estuary mouth push water into the funnel, westerlies draw it out. The bay axis is
therefore "from 90 deg". The old 135 deg (SE) axis turned the NE winds of the
night into a set-down and put the surge 12 h late, at the landfall high water.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Points over the outer Hangzhou Bay (off Jinshan and the estuary mouth) whose wind
# forces the bay-scale setup (lat, lon); TUNED with the axis and coefficient.
# The outer bay and the estuary mouth (north and south of the fairway), where the
# typhoon's easterlies blew for most of 25 July while the centre crossed Zhoushan.
BAY_POINTS: tuple[tuple[float, float], ...] = ((30.70, 121.90), (30.55, 122.20))


@dataclass(frozen=True, slots=True)
class SurgeParams:
    ambient_hpa: float = 1010.0
    ib_m_per_hpa: float = 0.01  # inverse barometer, 1 cm per hPa
    bay_axis_from_deg: float = 90.0  # the bay opens to the east: wind from E drives water up the bay (TUNED)
    bay_coefficient: float = 2.0e-3  # m per (m/s)^2 of along-axis wind (TUNED: 1.5 m overnight at Zhapu)
    local_coefficient: float = 0.2e-3  # m per (m/s)^2 of local onshore wind (TUNED)
    max_setdown_m: float = 0.4
    relaxation_s: float = 2.0 * 3600.0  # response time of the bay (TUNED; a 70 km funnel, hours)


def inverse_barometer_m(pressure_hpa: np.ndarray | float, params: SurgeParams = SurgeParams()) -> np.ndarray:
    return params.ib_m_per_hpa * (params.ambient_hpa - np.asarray(pressure_hpa, dtype=float))


def directional_stress(speed_ms: np.ndarray, dir_from_deg: np.ndarray, axis_from_deg: float) -> np.ndarray:
    """U^2 cos(theta): the wind-stress component blowing from ``axis_from_deg`` (negative when opposite)."""
    u = np.asarray(speed_ms, dtype=float)
    return u * u * np.cos(np.radians(np.asarray(dir_from_deg, dtype=float) - axis_from_deg))


def equilibrium_surge_m(
    pressure_hpa: np.ndarray,
    bay_stress: np.ndarray,
    local_speed_ms: np.ndarray,
    local_dir_from_deg: np.ndarray,
    shore_faces_deg: float,
    params: SurgeParams = SurgeParams(),
) -> np.ndarray:
    """Surge the bay would reach if the forcing were steady.

    ``bay_stress``: mean U^2 cos over BAY_POINTS along the bay axis;
    ``shore_faces_deg``: direction the seawall faces (to sea); onshore wind comes from there.
    """
    setup = params.bay_coefficient * np.asarray(bay_stress, dtype=float)
    setup += params.local_coefficient * directional_stress(local_speed_ms, local_dir_from_deg, shore_faces_deg)
    setup = np.maximum(setup, -params.max_setdown_m)
    return inverse_barometer_m(pressure_hpa, params) + setup


def relax(epoch_s: np.ndarray, target: np.ndarray, tau_s: float, initial: float = 0.0) -> np.ndarray:
    """First-order lag ds/dt = (target - s)/tau, exact for piecewise-constant target."""
    out = np.empty_like(np.asarray(target, dtype=float))
    s = initial
    prev_t = float(epoch_s[0])
    for i, (t, x) in enumerate(zip(epoch_s, target, strict=False)):
        dt = float(t) - prev_t
        a = 1.0 - math.exp(-dt / tau_s) if tau_s > 0 else 1.0
        s += a * (float(x) - s)
        out[i] = s
        prev_t = float(t)
    return out
