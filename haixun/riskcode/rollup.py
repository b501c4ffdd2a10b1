"""Tiered roll-up: village -> town -> city.

Village code = worst location code over sample points of its polygon, codes per
hazard included (issue 13: a wind red is red in every village, as for the people in it) (a grid
plus, for every segment, the polygon point nearest to that crest line, so the
most exposed point is always a sample). Each sample's exposure (zone and the
segments that count) is computed once in ``AreaIndex.build``; per cycle only
the matrix lookups run. Town = worst of its villages (its own polygon samples
when it has no villages); city = worst town. Counts: villages and people
(where population is known) per colour.

Levels are statuses (docs/riskcode.md "Unknown and its floor"): a village in
front of an unknown segment is "unknown, at least <floor>", a town or the city
is unknown when any part is (unless red), with the highest floor. ``counts``
and ``population`` count each area once under its shown level (``unknown``
included); ``floor_counts`` / ``floor_population`` count each area under its
floor colour, so "how many villages are at least orange" is never missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.ops import nearest_points

from haixun.riskcode.config import RiskConfig
from haixun.riskcode.geometry import Exposure, Ground, SeawallIndex, exposure_from_row, hazard_codes
from haixun.riskcode.levels import Level, Status, combine

ALL_LEVELS: tuple[Level, ...] = (Level.NONE, Level.UNKNOWN, Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED)


@dataclass(frozen=True, slots=True)
class AreaSpec:
    """A village or town polygon (outer ring, lon/lat). ``parent_id``: the town of a village.
    ``ground``: the lowest ground the geography knows in it (``lowest_ground``), for the flood rule's
    low-ground test; None when it knows none (then the flood code goes by distance alone)."""

    id: str
    kind: str  # "village" | "town"
    ring: tuple[tuple[float, float], ...]
    parent_id: str | None = None
    population: int | None = None
    ground: Ground | None = None


def lowest_ground(area_id: str, ring: Sequence[tuple[float, float]], typical_m: float | None,
                  low_points: Sequence[tuple[float, float, float, str]]) -> Ground | None:
    """The lowest ground of an area: its typical ground level (``typical_m``) and every road low point
    (lon, lat, ground level, source) inside its polygon. A roll-up is the worst code over the area, so
    its lowest ground is where the flood rule bites first (docs/riskcode.md "Roll-up")."""
    cands = [Ground(float(typical_m), f"village {area_id}")] if typical_m is not None else []
    if low_points:
        poly = shapely.Polygon(ring)
        for lon, lat, level, source in low_points:
            if poly.covers(shapely.Point(lon, lat)):
                cands.append(Ground(float(level), source))
    return min(cands, key=lambda g: g.level_m) if cands else None


@dataclass(frozen=True, slots=True)
class AreaExposure:
    """Distinct (zone, counted segments) pairs found among the area's sample points."""

    area: AreaSpec
    exposures: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class AreaIndex:
    villages: tuple[AreaExposure, ...]
    towns: tuple[AreaExposure, ...]

    @classmethod
    def build(cls, config: RiskConfig, seawall: SeawallIndex, villages: Sequence[AreaSpec], towns: Sequence[AreaSpec],
              grid_m: float = 200.0, max_samples: int = 400) -> AreaIndex:
        return cls(tuple(_exposure(seawall, a, grid_m, max_samples) for a in villages),
                   tuple(_exposure(seawall, a, grid_m, max_samples) for a in towns))


def _exposure(seawall: SeawallIndex, area: AreaSpec, grid_m: float, max_samples: int) -> AreaExposure:
    poly = seawall.proj.polygon(area.ring)
    if not poly.is_valid or poly.area <= 0:
        raise ValueError(f"{area.kind} {area.id}: invalid polygon")
    minx, miny, maxx, maxy = poly.bounds
    step = max(grid_m, float(np.sqrt(poly.area / max_samples)))
    gx, gy = np.meshgrid(np.arange(minx + step / 2, maxx, step), np.arange(miny + step / 2, maxy, step))
    cand = shapely.points(np.column_stack([gx.ravel(), gy.ravel()]))
    pts = list(cand[shapely.contains(poly, cand)])
    pts.append(poly.representative_point())
    for line in seawall.lines:
        pts.append(nearest_points(poly, line)[0])
    xy = shapely.get_coordinates(np.array(pts, dtype=object))
    rows = seawall.signed_distances_xy(xy[:, 0], xy[:, 1])
    found = {(e.zone, e.segment_ids) for e in (exposure_from_row(seawall, r) for r in rows)}
    return AreaExposure(area, tuple(sorted(found)))


def area_code(config: RiskConfig, area: AreaExposure, segment_levels: Mapping[str, Level | Status],
              group_levels: Mapping[str, Mapping[str, Level | Status]] | None = None,
              water_m: Mapping[str, float] | None = None) -> Status:
    """The worst location code over the area's samples: per sample the single-colour code of the
    combined segment level and, with ``group_levels`` (group -> segment -> shown status), the codes
    per hazard of ``geometry.hazard_codes`` (a wind red is red in every landward zone; a flood red is
    red on ground below the expected water, ``area.ground`` against the highest ``water_m`` (segment ->
    expected water level, m) of the sample's counted segments), the worse of the two, as a resident
    standing there gets it (``api.risk``)."""
    parts = []
    ground = area.area.ground
    for zone, segs in area.exposures:
        parts.append(config.code_status(combine(segment_levels.get(s, Level.UNKNOWN) for s in segs), zone))
        if group_levels is not None and segs:
            waters = [water_m[s] for s in segs if water_m is not None and s in water_m]
            parts.append(hazard_codes(config, Exposure(zone, 0.0, segs[0], segs), group_levels, ground,
                                      max(waters) if waters else None).combined)
    return combine(parts)


@dataclass(frozen=True, slots=True)
class AreaLevel:
    level: Level
    counts: dict[str, int]
    population: dict[str, int]
    floor: Level = Level.NONE
    floor_counts: dict[str, int] | None = None
    floor_population: dict[str, int] | None = None

    @property
    def status(self) -> Status:
        return Status(self.level, self.floor)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level.value, "floor": self.floor.value, "label": self.status.label,
                "counts": dict(self.counts), "population": dict(self.population),
                "floor_counts": dict(self.floor_counts or {}), "floor_population": dict(self.floor_population or {})}


@dataclass(frozen=True, slots=True)
class Rollup:
    city: AreaLevel
    towns: dict[str, AreaLevel]
    villages: dict[str, AreaLevel]

    def to_dict(self) -> dict[str, Any]:
        return {"city": self.city.to_dict(), "towns": {k: v.to_dict() for k, v in self.towns.items()},
                "villages": {k: v.to_dict() for k, v in self.villages.items()}}


def _tally(items: Sequence[tuple[Status, int | None]]) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]:
    counts = {lv.value: 0 for lv in ALL_LEVELS}
    people = {lv.value: 0 for lv in ALL_LEVELS}
    fcounts = {lv.value: 0 for lv in ALL_LEVELS if lv is not Level.UNKNOWN}
    fpeople = {lv.value: 0 for lv in ALL_LEVELS if lv is not Level.UNKNOWN}
    for st, pop in items:
        counts[st.level.value] += 1
        fcounts[st.floor.value] += 1
        if pop is not None:
            people[st.level.value] += pop
            fpeople[st.floor.value] += pop
    return counts, people, fcounts, fpeople


def _area(st: Status, items: Sequence[tuple[Status, int | None]]) -> AreaLevel:
    counts, people, fcounts, fpeople = _tally(items)
    return AreaLevel(st.level, counts, people, st.floor, fcounts, fpeople)


def roll_up(config: RiskConfig, index: AreaIndex, segment_levels: Mapping[str, Level | Status],
            group_levels: Mapping[str, Mapping[str, Level | Status]] | None = None,
            water_m: Mapping[str, float] | None = None) -> Rollup:
    villages: dict[str, AreaLevel] = {}
    by_town: dict[str, list[tuple[Status, int | None]]] = {}
    for v in index.villages:
        st = area_code(config, v, segment_levels, group_levels, water_m)
        villages[v.area.id] = _area(st, [(st, v.area.population)])
        by_town.setdefault(v.area.parent_id or "", []).append((st, v.area.population))
    towns: dict[str, AreaLevel] = {}
    for t in index.towns:
        items = by_town.get(t.area.id, [])
        st = combine(x for x, _ in items) if items else area_code(config, t, segment_levels, group_levels, water_m)
        if not items:
            items = [(st, t.area.population)]
        towns[t.area.id] = _area(st, items)
    all_items = [x for items in by_town.values() for x in items] or [(t.status, None) for t in towns.values()]
    city = combine([t.status for t in towns.values()] + [v.status for v in villages.values()])
    return Rollup(_area(city, all_items), towns, villages)
