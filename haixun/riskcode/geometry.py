"""Exposure zones and location codes: pure geometry (shapely lines, numpy distances).

Coordinates are WGS84 lon/lat in, metres inside: an equirectangular
projection about ``zones.projection_lat_deg`` (30.6 N). Over the ~30 km study
area its scale error is far below the zone widths (< 0.1 %), so no pyproj.

Signed distance to the seawall: distance to the nearest segment's crest line,
negative on the sea side. The sea side of each segment comes from its
``orientation_deg`` (the direction the wall faces); the side of a point is
taken from the local tangent at its nearest point on the line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from haixun.riskcode.config import RiskConfig, ZonesConfig
from haixun.riskcode.levels import Level, Status, combine
from haixun.riskcode.model import SegmentSpec

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class LocalProjection:
    lat0_deg: float
    lon0_deg: float

    def xy(self, lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        k = math.radians(1.0) * EARTH_RADIUS_M
        x = (np.asarray(lon, dtype=float) - self.lon0_deg) * k * math.cos(math.radians(self.lat0_deg))
        y = (np.asarray(lat, dtype=float) - self.lat0_deg) * k
        return x, y

    def line(self, coords: Sequence[tuple[float, float]]) -> LineString:
        a = np.asarray(coords, dtype=float)
        x, y = self.xy(a[:, 0], a[:, 1])
        return LineString(np.column_stack([x, y]))

    def polygon(self, ring: Sequence[tuple[float, float]]) -> Polygon:
        a = np.asarray(ring, dtype=float)
        x, y = self.xy(a[:, 0], a[:, 1])
        return Polygon(np.column_stack([x, y]))


def exposure_zone(distance_m: float, zones: ZonesConfig) -> str:
    """A: d < 0 (seaward); B: 0 <= d < b_max; C: b_max <= d < c_max; D: c_max <= d < d_max; E: d >= d_max."""
    if distance_m < 0:
        return "A"
    if distance_m < zones.b_max_m:
        return "B"
    if distance_m < zones.c_max_m:
        return "C"
    if distance_m < zones.d_max_m:
        return "D"
    return "E"


class SeawallIndex:
    """Projected crest lines of all segments, for signed distances.

    Besides the shapely lines, the crest lines are kept as padded vertex arrays
    (segments x edges) built once here, so the signed distance of a point to
    every segment is a handful of numpy operations instead of shapely calls per
    segment. The arithmetic follows GEOS's (point-to-segment distance, projected
    length along the line, interpolation at a length), so the results are those
    of ``shapely.distance`` / ``line_locate_point`` / ``line_interpolate_point``.
    """

    # points per numpy block in signed_distances_xy: bounds the (points x segments x edges) temporaries
    BLOCK_POINTS = 2048

    def __init__(self, config: RiskConfig, segments: Sequence[SegmentSpec]) -> None:
        if not segments:
            raise ValueError("no seawall segments")
        self.zones = config.zones
        all_lon = [c[0] for s in segments for c in s.coords]
        self.proj = LocalProjection(config.zones.projection_lat_deg, float(np.mean(all_lon)))
        self.segment_ids: tuple[str, ...] = tuple(s.id for s in segments)
        self.lines: tuple[LineString, ...] = tuple(self.proj.line(s.coords) for s in segments)
        sea_left = []
        for s, line in zip(segments, self.lines, strict=False):
            (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
            tx, ty = x1 - x0, y1 - y0
            th = math.radians(s.orientation_deg)
            # left normal of the chord (-ty, tx) vs the facing direction (east = sin, north = cos)
            sea_left.append((-ty) * math.sin(th) + tx * math.cos(th) > 0)
        self.sea_left = np.array(sea_left, dtype=bool)
        self._edges = _EdgeArrays.build(self.lines)
        self._line_array = np.array(self.lines, dtype=object)   # one GEOS call over every line (one point)
        self._lengths = np.asarray(shapely.length(self._line_array), dtype=float)

    def signed_distances_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(n_points, n_segments) signed distances in metres, seaward negative."""
        px = np.atleast_1d(np.asarray(x, dtype=float)).ravel()
        py = np.atleast_1d(np.asarray(y, dtype=float)).ravel()
        if len(px) <= self.BLOCK_POINTS:
            return self._edges.signed(px, py, self.sea_left)
        return np.concatenate([self._edges.signed(px[i:i + self.BLOCK_POINTS], py[i:i + self.BLOCK_POINTS],
                                                  self.sea_left)
                               for i in range(0, len(px), self.BLOCK_POINTS)])

    def signed_distances(self, lon: np.ndarray | float, lat: np.ndarray | float) -> np.ndarray:
        x, y = self.proj.xy(lon, lat)
        return self.signed_distances_xy(np.atleast_1d(x), np.atleast_1d(y))

    def distances_one(self, lon: float, lat: float) -> tuple[np.ndarray, int, float]:
        """One point (a resident's lookup): (unsigned distance in metres to every segment, the index of the
        nearest, its signed distance). What ``signed_distances`` gives for the point, less the sides of the
        other segments, which nothing needs (``exposure_from_row`` signs the nearest only): one GEOS
        distance call over every line, then the side at the nearest line alone."""
        x, y = self.proj.xy(lon, lat)
        px, py = float(x), float(y)
        p = shapely.points(px, py)
        absd = np.asarray(shapely.distance(self._line_array, p), dtype=float)
        j = int(np.argmin(absd))
        d = float(absd[j])
        if d > 0:
            line = self.lines[j]
            s = float(shapely.line_locate_point(line, p))
            a, b, q = shapely.get_coordinates(shapely.line_interpolate_point(
                line, np.array([max(s - 1.0, 0.0), min(s + 1.0, float(self._lengths[j])), s])))
            tx, ty = b[0] - a[0], b[1] - a[1]
            left = tx * (py - q[1]) - ty * (px - q[0]) > 0
            if left == bool(self.sea_left[j]):
                d = -d
        return absd, j, d


@dataclass(frozen=True, slots=True)
class _EdgeArrays:
    """Edges of every crest line, (segments, max edges) arrays padded past each line's last edge.

    ``start``: length along the line where the edge starts (GEOS's running sum of edge lengths,
    so ``start`` of the edge after the last one is the line's length).
    """

    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    len2: np.ndarray
    length: np.ndarray
    start: np.ndarray
    end: np.ndarray          # start + length; +inf on padding
    valid: np.ndarray        # real (not padding) edges
    degenerate: np.ndarray   # zero-length edges
    first_x: np.ndarray      # (segments,) first and last vertex of each line
    first_y: np.ndarray
    last_x: np.ndarray
    last_y: np.ndarray
    total: np.ndarray        # (segments,) line length
    n_edges: np.ndarray      # (segments,)

    @classmethod
    def build(cls, lines: Sequence[LineString]) -> _EdgeArrays:
        coords = [np.asarray(line.coords, dtype=float)[:, :2] for line in lines]
        m, k = len(coords), max(len(c) - 1 for c in coords)
        ax, ay, bx, by = (np.zeros((m, k)) for _ in range(4))
        start, length = np.zeros((m, k)), np.zeros((m, k))
        end = np.full((m, k), np.inf)
        valid = np.zeros((m, k), dtype=bool)
        total = np.zeros(m)
        for j, c in enumerate(coords):
            run = 0.0
            for e in range(len(c) - 1):
                x0, y0, x1, y1 = float(c[e, 0]), float(c[e, 1]), float(c[e + 1, 0]), float(c[e + 1, 1])
                ax[j, e], ay[j, e], bx[j, e], by[j, e] = x0, y0, x1, y1
                seg_len = math.sqrt((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0))
                start[j, e], length[j, e] = run, seg_len
                run += seg_len           # the same running sum as GEOS (line length, locate, interpolate)
                end[j, e] = run
                valid[j, e] = True
            total[j] = run
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        degenerate = valid & (len2 == 0.0)
        # padding and zero-length edges: a harmless divisor; their results are replaced below
        len2 = np.where(len2 == 0.0, 1.0, len2)
        return cls(ax, ay, bx, by, dx, dy, len2, length, start, end, valid, degenerate,
                   np.array([c[0, 0] for c in coords]), np.array([c[0, 1] for c in coords]),
                   np.array([c[-1, 0] for c in coords]), np.array([c[-1, 1] for c in coords]), total,
                   np.array([len(c) - 1 for c in coords]))

    def signed(self, px: np.ndarray, py: np.ndarray, sea_left: np.ndarray) -> np.ndarray:
        m, k = self.ax.shape
        p_x, p_y = px[:, None, None], py[:, None, None]
        # distance to each edge (GEOS Distance::pointToSegment)
        wx, wy = p_x - self.ax, p_y - self.ay
        r = (wx * self.dx + wy * self.dy) / self.len2
        ux, uy = p_x - self.bx, p_y - self.by
        s = ((self.ay - p_y) * self.dx - (self.ax - p_x) * self.dy) / self.len2
        dist = np.where(r <= 0.0, np.sqrt(wx * wx + wy * wy),
                        np.where(r >= 1.0, np.sqrt(ux * ux + uy * uy), np.abs(s) * np.sqrt(self.len2)))
        dist[:, self.degenerate] = np.sqrt(wx * wx + wy * wy)[:, self.degenerate]
        dist[:, ~self.valid] = np.inf
        # nearest edge per segment: the first of equals (GEOS keeps a strictly smaller one)
        flat = np.argmin(dist, axis=2) + np.arange(m)[None, :] * k        # (points, segments) into (m * k)
        rows = np.arange(len(px))[:, None]
        d = dist.reshape(len(px), m * k)[rows, flat]
        rk = r.reshape(len(px), m * k)[rows, flat]
        sk, lk = self.start.ravel()[flat], self.length.ravel()[flat]
        # length along the line of the nearest point (GEOS LengthIndexOfPoint)
        along = np.where(rk <= 0.0, sk, np.where(rk <= 1.0, sk + rk * lk, sk + lk))
        along = np.where(self.degenerate.ravel()[flat], sk, along)
        # tangent over +-1 m about that point and the side of the point
        x, y = self._points_at(np.stack([np.maximum(along - 1.0, 0.0), np.minimum(along + 1.0, self.total),
                                         along], axis=2))
        tx, ty = x[:, :, 1] - x[:, :, 0], y[:, :, 1] - y[:, :, 0]
        vx, vy = px[:, None] - x[:, :, 2], py[:, None] - y[:, :, 2]
        left = tx * vy - ty * vx > 0
        seaward = left == sea_left
        signed: np.ndarray = np.where(seaward & (d > 0), -d, d)
        return signed

    def _points_at(self, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points at ``length`` (points, segments, c) along each line (GEOS LengthIndexedLine.extractPoint)."""
        m, k = self.ax.shape
        # the edge where it falls: the first whose end is beyond it (none: the line's end)
        e = np.sum(self.end[None, :, None, :] <= length[..., None], axis=3)
        n_edges = self.n_edges[None, :, None]
        flat = np.minimum(e, n_edges - 1) + (np.arange(m) * k)[None, :, None]
        x0, y0 = self.ax.ravel()[flat], self.ay.ravel()[flat]
        x1, y1 = self.bx.ravel()[flat], self.by.ravel()[flat]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = (length - self.start.ravel()[flat]) / self.length.ravel()[flat]
        x = np.where(frac <= 0.0, x0, np.where(frac >= 1.0, x1, x0 + frac * (x1 - x0)))
        y = np.where(frac <= 0.0, y0, np.where(frac >= 1.0, y1, y0 + frac * (y1 - y0)))
        past, at_start = e >= n_edges, length <= 0.0
        x = np.where(past, self.last_x[None, :, None], np.where(at_start, self.first_x[None, :, None], x))
        y = np.where(past, self.last_y[None, :, None], np.where(at_start, self.first_y[None, :, None], y))
        return x, y


@dataclass(frozen=True, slots=True)
class Exposure:
    """Where a point is relative to the seawall: zone, signed distance, the segments that count."""

    zone: str
    distance_m: float
    nearest_segment_id: str
    segment_ids: tuple[str, ...]


def exposure_from_row(index: SeawallIndex, row: np.ndarray) -> Exposure:
    absd = np.abs(row)
    j = int(np.argmin(absd))
    near = tuple(index.segment_ids[k] for k in np.nonzero(absd <= absd[j] + index.zones.neighbour_margin_m)[0])
    d = float(row[j])
    return Exposure(exposure_zone(d, index.zones), d, index.segment_ids[j], near)


def exposure_from_distances(index: SeawallIndex, absd: np.ndarray, nearest: int, signed_m: float) -> Exposure:
    """``exposure_from_row`` from ``SeawallIndex.distances_one``'s result (the same Exposure)."""
    near = tuple(index.segment_ids[k] for k in np.nonzero(absd <= absd[nearest] + index.zones.neighbour_margin_m)[0])
    return Exposure(exposure_zone(signed_m, index.zones), signed_m, index.segment_ids[nearest], near)


def locate(index: SeawallIndex, lon: float, lat: float) -> Exposure:
    return exposure_from_distances(index, *index.distances_one(lon, lat))


@dataclass(frozen=True, slots=True)
class LocationCode:
    """``code``/``floor``: the point's code (``unknown`` with ``floor`` = "unknown, at least floor");
    ``segment_level``/``segment_floor``: the worst status of the segments that count."""

    code: Level
    zone: str
    distance_m: float
    segment_level: Level
    segment_ids: tuple[str, ...]
    advice_zh: str
    advice_en: str
    floor: Level = Level.NONE
    segment_floor: Level = Level.NONE

    @property
    def status(self) -> Status:
        return Status(self.code, self.floor)

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "floor": self.floor.value, "label": self.status.label, "zone": self.zone,
                "distance_m": round(self.distance_m, 1),
                "segment_level": self.segment_level.value, "segment_floor": self.segment_floor.value,
                "segment_ids": list(self.segment_ids),
                "advice": {"zh": self.advice_zh, "en": self.advice_en}}


SegmentLevels = Mapping[str, "Level | Status"]


def segment_level_for(exposure: Exposure, segment_levels: SegmentLevels) -> Status:
    """Combined shown status of the segments that count; a segment with no level is unknown."""
    return combine(segment_levels.get(s, Level.UNKNOWN) for s in exposure.segment_ids)


def code_for(config: RiskConfig, exposure: Exposure, segment_levels: SegmentLevels) -> LocationCode:
    seg = segment_level_for(exposure, segment_levels)
    code = config.code_status(seg, exposure.zone)
    a_code, a_zone = config.advice.code[code.level], config.advice.zone[exposure.zone]  # type: ignore[index]
    zh, en = f"{a_code.zh}{a_zone.zh}", f"{a_code.en} {a_zone.en}"
    if code.is_unknown and code.floor.is_warning:
        # unknown with a floor: the floor's advice applies at the least
        f_code = config.advice.code[code.floor]
        zh, en = f"{a_code.zh}至少{f_code.zh}{a_zone.zh}", f"{a_code.en} At least: {f_code.en} {a_zone.en}"
    return LocationCode(code.level, exposure.zone, exposure.distance_m, seg.level, exposure.segment_ids, zh, en,
                        code.floor, seg.floor)


def location_code(config: RiskConfig, index: SeawallIndex, lon: float, lat: float,
                  segment_levels: SegmentLevels) -> LocationCode:
    """The risk code of a point (resident's phone) given the segments' shown statuses (Level or Status)."""
    return code_for(config, locate(index, lon, lat), segment_levels)


# ----------------------------------------------------------------------------- codes per hazard (issue 13)

@dataclass(frozen=True, slots=True)
class Ground:
    """Ground elevation at a point (m, warning datum) and where it comes from (a road low point, a village)."""

    level_m: float
    source: str


@dataclass(frozen=True, slots=True)
class HazardCode:
    """One hazard group's code at a point: ``code`` (a Status), the zone its location rule used, the
    segments' combined status for this group, and for flood the elevation test."""

    hazard: str
    code: Status
    zone: str
    segment_status: Status
    advice_zh: tuple[str, ...]
    advice_en: tuple[str, ...]
    low_ground: bool | None = None       # flood: ground below the expected water (None: not known)
    ground: Ground | None = None
    water_level_m: float | None = None

    def to_dict(self, lang: str = "en") -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code.level.value, "floor": self.code.floor.value, "label": self.code.label,
            "grade": self.code.level.official_grade, "zone": self.zone,
            "segment_level": self.segment_status.level.value, "segment_floor": self.segment_status.floor.value,
            "advice": list(self.advice_zh if lang == "zh" else self.advice_en)}
        if self.hazard == "flood":
            out.update({"low_ground": self.low_ground,
                        "ground_level_m": None if self.ground is None else self.ground.level_m,
                        "ground_source": None if self.ground is None else self.ground.source,
                        "water_level_m": None if self.water_level_m is None else round(self.water_level_m, 3)})
        return out


@dataclass(frozen=True, slots=True)
class HazardCodes:
    """Every hazard group's code at a point and the combined code (the worst of them) with its advice."""

    by_hazard: dict[str, HazardCode]
    combined: Status
    advice_zh: tuple[str, ...]
    advice_en: tuple[str, ...]


def _advice_lines(config: RiskConfig, table: Mapping[Level, Any], code: Status) -> tuple[list[str], list[str]]:
    a = table[code.level]
    zh, en = [a.zh], [a.en]
    if code.is_unknown and code.floor.is_warning:
        f = table[code.floor]
        zh.append(f"至少：{f.zh}")
        en.append(f"At least: {f.en}")
    return zh, en


WATER_LEVEL_HAZARDS = ("storm_tide", "storm_tide_forecast")


def flood_water_m(config: RiskConfig, reasons: Iterable[tuple[str, Level, float | None]]) -> float | None:
    """The expected water level of the low-ground test (m, warning datum), from a segment's hazard
    reasons (hazard, level, value): the highest observed still water (``storm_tide``) or projected
    high water (``storm_tide_forecast``) whose own level is at least ``flood_exposure.min_level``;
    None when no water-level hazard reaches it. Waves over a quay wall or a camera event make the
    flood code red at the wall, not the sea higher than the land behind it: a red from overtopping
    alone must not make every low field 10 km inland red (the replay of 25 July did)."""
    floor = config.flood_exposure.min_level
    vals = [float(v) for h, lv, v in reasons
            if h in WATER_LEVEL_HAZARDS and v is not None and lv is not Level.UNKNOWN and lv.rank >= floor.rank]
    return max(vals) if vals else None


def flood_zone(config: RiskConfig, exposure: Exposure, seg: Status, ground: Ground | None,
               water_m: float | None) -> tuple[str, bool | None]:
    """The zone the flood rule uses and whether the point is low ground (None: elevation or water unknown).
    Low ground (ground < water + margin) takes zone B from ``flood_exposure.min_level`` on."""
    fe = config.flood_exposure
    if ground is None or water_m is None:
        return exposure.zone, None
    low = ground.level_m < water_m + fe.margin_m
    if low and seg.at_least(fe.min_level) and exposure.zone in ("C", "D", "E"):
        return "B", True
    return exposure.zone, low


def hazard_codes(config: RiskConfig, exposure: Exposure, group_levels: Mapping[str, SegmentLevels],
                 ground: Ground | None = None, water_m: float | None = None) -> HazardCodes:
    """Codes per hazard at a point (docs/riskcode.md "Codes per hazard"): flood by distance and, where the
    geography gives the ground's elevation, by ground vs the expected water level; wind by the wind matrix
    (the signal covers the area); other groups (red tide) by the distance matrix. ``group_levels``: group ->
    segment id -> shown status; a segment missing from a group is unknown. Combined = the worst code;
    its advice lists each hazard's advice, the most severe first, and ``advice.both`` when flood and wind
    are both orange or worse."""
    adv = config.advice
    out: dict[str, HazardCode] = {}
    for g in config.hazard_groups:
        seg = segment_level_for(exposure, group_levels.get(g, {}))
        if g == "flood":
            zone, low = flood_zone(config, exposure, seg, ground, water_m)
            code = config.code_status(seg, zone, "flood")
            if low and code.floor in (Level.ORANGE, Level.RED) and seg.at_least(config.flood_exposure.min_level):
                a = adv.flood_low_ground[code.floor.value]
                zh, en = [a.zh], [a.en]
                if code.is_unknown:
                    zh.insert(0, adv.flood[Level.UNKNOWN].zh)
                    en.insert(0, adv.flood[Level.UNKNOWN].en)
            else:
                zh, en = _advice_lines(config, adv.flood, code)
            out[g] = HazardCode(g, code, zone, seg, tuple(zh), tuple(en), low, ground, water_m)
        elif g == "wind":
            code = config.code_status(seg, exposure.zone, "wind")
            zh, en = _advice_lines(config, adv.wind, code)
            if exposure.zone == "A" and code.at_least(Level.YELLOW):
                zh.append(adv.wind_exposed.zh)
                en.append(adv.wind_exposed.en)
            out[g] = HazardCode(g, code, exposure.zone, seg, tuple(zh), tuple(en))
        else:
            code = config.code_status(seg, exposure.zone, "flood")
            zh, en = _advice_lines(config, adv.code, code)
            out[g] = HazardCode(g, code, exposure.zone, seg, tuple(zh), tuple(en))
    combined = combine(h.code for h in out.values())
    ranked = sorted((h for h in out.values() if h.code.severity > 0), key=lambda h: -h.code.severity)
    zh_all = [x for h in ranked for x in h.advice_zh]
    en_all = [x for h in ranked for x in h.advice_en]
    if "flood" in out and "wind" in out and out["flood"].code.at_least(Level.ORANGE) \
            and out["wind"].code.at_least(Level.ORANGE):
        zh_all.append(adv.both.zh)
        en_all.append(adv.both.en)
    if not ranked:
        zh_all, en_all = [adv.code[Level.NONE].zh], [adv.code[Level.NONE].en]
    return HazardCodes(out, combined, tuple(zh_all), tuple(en_all))
