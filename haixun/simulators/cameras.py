"""Camera analytics simulator: overtopping, water on road, person on seawall.

``camera_events`` is pure: segment states in, event dicts out. A camera sees
overtopping when the EurOtop 2018 mean discharge q at its segment exceeds
1 l/s/m (ASSUMPTION: clearly visible), water on road when q exceeds
10 l/s/m or rain exceeds 30 mm/h near a road low point, and people on the
seawall in calm daytime weather (random, ASSUMPTION).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from haixun.contract import CameraEventType, format_ts
from haixun.riskcode.overtopping import mean_overtopping
from haixun.simulators.geo import SimCamera, SimLowPoint, SimSegment
from haixun.simulators.scenario import PointState

G = 9.81
CST = timezone(timedelta(hours=8))
KM_PER_DEG = 111.2


@dataclass(frozen=True, slots=True)
class CameraParams:
    overtopping_min_lpsm: float = 1.0  # clearly visible green water over the crest (ASSUMPTION)
    road_flood_lpsm: float = 10.0  # enough overtopping water to reach the road behind the wall
    road_rain_mmh: float = 30.0
    road_radius_km: float = 3.0  # low points a camera can see
    person_probability: float = 0.08  # per camera per tick, in calm daytime
    calm_wind_ms: float = 10.8  # below Beaufort 6
    calm_hs_m: float = 1.0


def overtopping_lpsm(segment: SimSegment, level_m: float, hs: float, tm10: float) -> float:
    """Mean overtopping discharge q (l/s per m) of the simulator's toe sea state: riskcode's EurOtop 2018
    calculation (``mean_overtopping``) with the section's geometry (berm, wave wall, roughness; vertical
    walls with the impulsive check), normal incidence. Water over the crest includes the weir overflow."""
    if tm10 <= 0.0:
        hs = 0.0
    return mean_overtopping(
        structure="vertical_wall" if segment.structure == "vertical_wall" else "sloped_dike",
        still_water_m=level_m, crest_level_m=segment.crest_level_m, hm0_m=max(0.0, hs) if hs > 0.05 else 0.0,
        period_s=tm10 if tm10 > 0 else 1.0, slope_tan=segment.slope_tan, toe_level_m=segment.toe_level_m,
        gamma_f=segment.roughness_gamma_f, berm_width_m=segment.berm_width_m, berm_level_m=segment.berm_level_m,
        wave_wall_angle_deg=segment.wave_wall_angle_deg if segment.wave_wall_height_m > 0 else None,
    ).q_lpsm


@dataclass(slots=True)
class RepeatFilter:
    """The replay's repeat suppression: a camera/type/segment is reported at most every ``repeat_s``."""

    repeat_s: float
    _last: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    def admit(self, camera_id: str, event: dict, when: datetime) -> bool:
        key = (camera_id, str(event["type"]), str(event.get("segment_id", "")))
        prev = self._last.get(key)
        if prev is not None and (when - prev).total_seconds() < self.repeat_s:
            return False
        self._last[key] = when
        return True


def _dist_km(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    return math.hypot((lat1 - lat0) * KM_PER_DEG, (lon1 - lon0) * KM_PER_DEG * math.cos(math.radians(lat0)))


def camera_events(camera: SimCamera, when: datetime, segments: dict[str, tuple[SimSegment, PointState]],
                  low_points: list[SimLowPoint], rng: np.random.Generator,
                  params: CameraParams = CameraParams()) -> list[dict]:
    """The events this camera's analytics would report at ``when``."""
    out: list[dict] = []
    ts = format_ts(when)
    q_by_segment: dict[str, float] = {}
    for seg_id in camera.segment_ids:
        if seg_id not in segments:
            continue
        seg, st = segments[seg_id]
        q = overtopping_lpsm(seg, st.level, st.hs, st.tm10)
        q_by_segment[seg_id] = q
        if q >= params.overtopping_min_lpsm:
            conf = min(0.99, 0.6 + 0.1 * math.log10(q / params.overtopping_min_lpsm))
            out.append({"ts": ts, "type": CameraEventType.OVERTOPPING.value, "confidence": round(conf, 2),
                        "segment_id": seg_id, "q_lpsm": round(q, 2), "level_m": round(st.level, 2),
                        "hs_m": round(st.hs, 2)})
    if segments:
        worst_seg = max(q_by_segment, key=q_by_segment.__getitem__) if q_by_segment else next(iter(segments))
        rain = max(st.rain for _, st in segments.values())
        flooded = q_by_segment.get(worst_seg, 0.0) >= params.road_flood_lpsm or rain >= params.road_rain_mmh
        if flooded:
            for lp in low_points:
                if _dist_km(camera.lat, camera.lon, lp.lat, lp.lon) > params.road_radius_km:
                    continue
                conf = min(0.95, 0.6 + 0.1 * math.log10(max(q_by_segment.get(worst_seg, 0.0), 1.0)) + 0.005 * rain)
                out.append({"ts": ts, "type": CameraEventType.WATER_ON_ROAD.value, "confidence": round(conf, 2),
                            "segment_id": worst_seg, "road_id": lp.road_id, "ground_level_m": lp.ground_level_m})
                break  # one road event per camera and tick
        _, first = next(iter(segments.values()))
        local_hour = when.astimezone(CST).hour
        calm = (first.wind_speed < params.calm_wind_ms and first.hs < params.calm_hs_m and first.rain < 1.0)
        if calm and 7 <= local_hour < 19 and rng.random() < params.person_probability:
            seg_id = str(rng.choice(list(segments)))
            out.append({"ts": ts, "type": CameraEventType.PERSON_ON_SEAWALL.value,
                        "confidence": round(float(rng.uniform(0.7, 0.95)), 2), "segment_id": seg_id,
                        "count": int(rng.integers(1, 5))})
    return [{k: v for k, v in e.items() if v is not None} for e in out]
