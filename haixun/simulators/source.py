"""Observation sources: the model (calm weather or the In-fa replay) seen on the simulated clock."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

import numpy as np

from haixun.simulators import typhoon as ty
from haixun.simulators.geo import SimGeography, SimStation
from haixun.simulators.scenario import PointState, Scenario, build_scenario, observe

CALM_CHUNK_S = 86400.0
# Calm days are built with their own seed; each is built this far past its end
# and cross-faded into the next day over this span, so the weather noise has
# no step at the day boundary (00:00 UTC). The tide is deterministic and the
# same in both, so the blend leaves it unchanged.
SEAM_BLEND_S = 3 * 3600.0
STORM_MARGIN_S = 6 * 3600.0


@dataclass(slots=True)
class ModelSource:
    """Maps simulated time to model time (``model = sim - offset_s``) and samples the model.

    With a track, the storm window is evaluated once; outside it (and without a
    track) calm weather is evaluated in day-long chunks on demand.
    """

    geo: SimGeography
    offset_s: float = 0.0
    track: tuple[ty.TrackPoint, ...] | None = None
    seed: int = 0
    step_s: float = 300.0
    calm_step_s: float | None = None  # grid of the calm day chunks (default step_s)
    _storm: Scenario | None = None
    _calm: dict[int, Scenario] = field(default_factory=dict)
    _rngs: dict[str, np.random.Generator] = field(default_factory=dict)

    def model_time(self, sim_time: datetime) -> float:
        return sim_time.timestamp() - self.offset_s

    def scenario_at(self, model_s: float) -> Scenario:
        if self.track is not None:
            if self._storm is None:
                t0, t1 = ty.track_span(self.track)
                self._storm = build_scenario(self.geo, t0, t1, track=self.track, step_s=self.step_s, seed=self.seed)
            if self._storm.covers(model_s):
                return self._storm
        return self._calm_chunk(int(model_s // CALM_CHUNK_S))

    def _calm_chunk(self, day: int) -> Scenario:
        sc = self._calm.get(day)
        if sc is None:
            if len(self._calm) > 3:
                self._calm.pop(min(self._calm))
            sc = build_scenario(self.geo, day * CALM_CHUNK_S, (day + 1) * CALM_CHUNK_S + SEAM_BLEND_S, track=None,
                                step_s=self.calm_step_s or self.step_s, seed=self.seed + day)
            self._calm[day] = sc
        return sc

    def _state(self, model_s: float, pick: Callable[[Scenario, float], PointState]) -> PointState:
        sc = self.scenario_at(model_s)
        state = pick(sc, model_s)
        if sc.storm:
            return state
        day = int(model_s // CALM_CHUNK_S)
        into = model_s - day * CALM_CHUNK_S
        if into >= SEAM_BLEND_S:
            return state
        prev = self._calm_chunk(day - 1)
        if not prev.covers(model_s):
            return state
        return blend_states(pick(prev, model_s), state, into / SEAM_BLEND_S)

    def coarse_view(self, calm_step_s: float) -> ModelSource:
        """The same model for history: the storm window is shared (built here if
        needed, so the history joins the live run without a seam), calm days
        are evaluated on a ``calm_step_s`` grid (cheap for weeks of backfill)."""
        if self.track is not None and self._storm is None:
            self.scenario_at(ty.track_span(self.track)[0])
        return ModelSource(self.geo, self.offset_s, self.track, self.seed, self.step_s, calm_step_s=calm_step_s,
                           _storm=self._storm)

    def station_state(self, station_id: str, sim_time: datetime) -> PointState:
        return self._state(self.model_time(sim_time), lambda sc, m: sc.station_state(station_id, m))

    def segment_state(self, segment_id: str, sim_time: datetime) -> PointState:
        return self._state(self.model_time(sim_time), lambda sc, m: sc.segment_state(segment_id, m))

    def observe(self, station: SimStation, sim_time: datetime) -> dict[str, float]:
        rng = self._rngs.get(station.id)
        if rng is None:
            rng = self._rngs[station.id] = np.random.default_rng([self.seed, zlib.crc32(station.id.encode())])
        return observe(station, self.station_state(station.id, sim_time), rng)


def replay_source(geo: SimGeography, sim_start: datetime, *, historical: bool, peak_in: timedelta,
                  seed: int = 0, track: tuple[ty.TrackPoint, ...] = ty.INFA_2021) -> ModelSource:
    """Historical: model time = sim time. Otherwise the landfall appears ``peak_in`` after ``sim_start``."""
    if historical:
        return ModelSource(geo, 0.0, track, seed)
    landfall_sim = sim_start + peak_in
    return ModelSource(geo, landfall_sim.timestamp() - ty.INFA_LANDFALL_PINGHU.timestamp(), track, seed)


def blend_states(a: PointState, b: PointState, w: float) -> PointState:
    """(1 - w) a + w b, field by field; the wind direction through its unit vector."""
    mixed = {f.name: (1.0 - w) * getattr(a, f.name) + w * getattr(b, f.name) for f in fields(PointState)}
    ra, rb = math.radians(a.wind_dir), math.radians(b.wind_dir)
    mixed["wind_dir"] = math.degrees(math.atan2((1 - w) * math.sin(ra) + w * math.sin(rb),
                                                (1 - w) * math.cos(ra) + w * math.cos(rb))) % 360.0
    return replace(b, **mixed)
