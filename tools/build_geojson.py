"""Generate ``haixun/data/pinghu.geojson`` (the Pinghu shoreline geography).

A developer tool, not part of the installed package (only its output is shipped). From the
repository root run ``python -m tools.build_geojson`` (writes the packaged file) or
``python -m tools.build_geojson --out other.geojson``. The output is
deterministic: the same script always writes the same bytes.

Everything here is an approximation drawn from a handful of published anchor
points (see ``ANCHORS`` and the ``meta.sources`` of the output); the seawall is
a plausible crest line through them, not a survey. Areas (towns, villages,
served area) are built in a local metric projection by offsetting the crest line
landward along the normal of the coast's general trend, so that neighbouring
polygons share edges exactly and tile the land behind the wall.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from haixun.data.projection import PINGHU, LocalProjection

VERSION = "1.5.0"
SEGMENT_COUNT = 27
COASTAL_DEPTH_M = 7_000.0      # coastal towns reach this far inland
FRONT_DEPTH_M = 3_000.0        # front-row villages (next to the wall)
INLAND_DEPTH_M = 15_000.0      # the inland town (Danghu street) reaches this far
BEACH_WIDTH_M = 300.0          # foreshore strip seaward of the wall in the served area
VERTEX_SPACING_M = 150.0       # crest-line vertex spacing (~7 per km)
DECIMALS = 6
BEND_FADE_M = 2_500.0         # landward fading of the crest's bends in area boundaries
# Towns and villages start this far landward of the crest line, so that rounding the
# coordinates (DECIMALS = 6, ~0.1 m) never puts a village point a few cm seaward of the
# wall, where riskcode would count it as beach (zone A) and raise the whole roll-up.
AREA_SETBACK_M = 0.5

G = TypeVar("G", bound=BaseGeometry)

# Anchor points (lon, lat) of the domain brief (/work/shared/domain/README.md "Geography"), 1.4.0:
# the crest line passes through the brief's anchors themselves (tests/test_geography_anchors.py
# checks every one against the file); quantang and huanggu are points on the line between them.
# (1.3.0 and before put the headland tip at 30.582 N, 1.4 km south of the brief's 30.595 N, and
# the Zhapu frontage at 30.597 N, ~1 km south of the brief's 30.6058 N.)
ANCHORS: dict[str, tuple[float, float]] = {
    "haiyan_border": (121.030, 30.570),    # brief: Haiyan border ~30.57 N 121.03 E
    "zhapu_port": (121.0911, 30.6058),     # brief: Zhapu port / town centre 30.6058 N 121.0911 E
    "jiulongshan": (121.140, 30.595),      # brief: Jiulongshan headland ~30.595 N 121.14 E
    "quantang": (121.170, 30.6105),        # between the headland and Dushangang (not a brief anchor)
    "dushangang_port": (121.200, 30.630),  # brief: Dushangang ~30.63 N 121.20 E
    "huanggu": (121.240, 30.6575),         # between Dushangang and the border (not a brief anchor)
    "jinshan_border": (121.260, 30.670),   # brief: Jinshan border ~30.67 N 121.26 E
}
# The anchors of the domain brief and how far the crest line may lie from each (m): the
# position error the data README states (the line is drawn through them).
BRIEF_ANCHORS = ("haiyan_border", "zhapu_port", "jiulongshan", "dushangang_port", "jinshan_border")
ANCHOR_TOLERANCE_M = 150.0

# Control points of the crest line, west -> east, through the anchors (each anchor repeated so
# that the Chaikin smoothing keeps the line on it). The wall runs NE from the Haiyan border to the
# Zhapu frontage, then ESE out to the Jiulongshan headland (the seaward bulge: 2.5 km south of the
# borders' straight line) and NE past Quantang, Dushangang and Huanggu to the Jinshan border.
CREST_CONTROL: tuple[tuple[float, float], ...] = (
    (121.030, 30.570), (121.045, 30.580), (121.060, 30.590), (121.075, 30.5995),
    (121.0911, 30.6058), (121.0911, 30.6058), (121.105, 30.6062), (121.118, 30.6035), (121.130, 30.599),
    (121.140, 30.595), (121.140, 30.595), (121.150, 30.5985), (121.160, 30.6045), (121.170, 30.6105),
    (121.180, 30.6165), (121.190, 30.6232), (121.200, 30.630), (121.200, 30.630), (121.212, 30.638),
    (121.225, 30.6475), (121.240, 30.6575), (121.260, 30.670),
)

SOURCES = [
    "Domain brief (docs: /work/shared/domain/README.md): geography anchors Zhapu 30.6058N 121.0911E, "
    "Jiulongshan ~30.595N 121.14E, Dushangang ~30.63N 121.20E, Jinshan border ~30.67N 121.26E, "
    "Haiyan border ~30.57N 121.03E; height datum: CN1985 zero = Qingdao mean sea level 1952-1979, Hangzhou Bay "
    "lows are negative on it",
    "Datum conversion table (1985 national height datum): Wusong = CN1985 + 1.717 m, Huanghai 1956 = CN1985 + 0.029 m",
    "平湖市海洋灾害智防试点项目 news report (晓海讯): 27 km shoreline, thermal PTZ cameras, starlight dome cameras, "
    "tide/wind/wave stations",
    "GB/T 17839-2011 警戒潮位核定规范 (meaning of the four warning tide levels; values not published for Pinghu)",
    "EurOtop 2018 manual (meaning of slope, toe level, roughness factor gamma_f)",
    f"Generated by tools/build_geojson.py version {VERSION}",
]

ASSUMPTIONS = [
    "Seawall crest line is drawn through the domain brief's anchor points (within 150 m of each; smoothed, ~7 "
    "vertices per km), not a survey; between the anchors its error against the real wall is unknown (may exceed 500 m).",
    "Seawall sections: 100-year standard seawall with a wave wall; crest (top of the wave wall) 7.9-8.5 m CN1985 "
    "on sloped dikes, 7.6 m on the port quay walls, 8.0-8.1 m at Jiulongshan; armoured slopes with a berm folded into "
    "an average slope 1:3-1:4; EurOtop roughness gamma_f 0.75 (concrete blocks, west), 0.60 (rock, east), 0.55 "
    "(rock, headland), 1.0 (quay walls); toes on the upper tidal flat -1.2..+0.4 m (quay walls -3.8 m, headland -0.3 m); "
    "order-of-magnitude assumptions, not design values (reasoning in build_geojson.py).",
    "Warning tide levels: blue 3.2 / yellow 3.7 / orange 4.2 / red 4.7 m CN1985 with +/-0.1 m along the coast "
    "(higher up-bay, west), consistent with a tide of mean level +0.2 m and spring high waters 2.7-3.2 m CN1985; "
    "the domain brief's 5.0-6.5 m belong to a tide about 1.8 m higher; official Pinghu values were not found: "
    "ASSUMPTION, edit when known.",
    "Station datums: every station reports on CN1985 except the Huanggu tide gauge HG-T01 (Wusong datum, offset "
    "-1.717 m to CN1985, ASSUMPTION); ingest converts readings to CN1985 (haixun/data/datum.py).",
    "Vertical walls at the Zhapu and Dushangang port frontages; slope_tan = 10.0 is a placeholder for them "
    "(ignored for vertical walls).",
    "Station, camera, shelter and road positions and names are illustrative; gateway ids are invented.",
    "Town and village boundaries are schematic strips behind the wall (coastal towns to ~7 km inland, Danghu "
    "street 7-15 km inland in the west); names are descriptive area names, not official village names.",
    "Populations are order-of-magnitude estimates; community contacts are samples with fake numbers.",
    "Served area (land_boundary) = the coastal towns (Zhapu, Dushangang) plus a ~300 m foreshore strip seaward of "
    "the wall; the inland town is included as a town so inland points resolve, but is outside the served area.",
    "Ground levels of road low points (1.4-2.8 m CN1985) are assumptions.",
]


@dataclass(frozen=True, slots=True)
class Frame:
    """The coast's general trend: t points west -> east along the coast, n landward (left of t)."""

    origin: tuple[float, float]
    t: tuple[float, float]
    n: tuple[float, float]

    def u(self, x: float, y: float) -> float:
        return (x - self.origin[0]) * self.t[0] + (y - self.origin[1]) * self.t[1]

    def offset(self, geom: G, depth: float) -> G:
        """Move ``depth`` metres landward along the trend normal (negative: seaward).

        Landward, the crest's own bends fade with depth (scale ``BEND_FADE_M``), so
        boundaries far behind the wall do not copy the Jiulongshan headland. The
        along-trend coordinate is kept, so offsets of one line never cross.
        """
        fade = math.exp(-depth / BEND_FADE_M) if depth > 0 else 1.0

        def move(c: np.ndarray) -> np.ndarray:
            u = (c[:, 0] - self.origin[0]) * self.t[0] + (c[:, 1] - self.origin[1]) * self.t[1]
            v = (c[:, 0] - self.origin[0]) * self.n[0] + (c[:, 1] - self.origin[1]) * self.n[1]
            v = v * fade + depth
            return np.column_stack((self.origin[0] + u * self.t[0] + v * self.n[0],
                                    self.origin[1] + u * self.t[1] + v * self.n[1]))

        return shapely.transform(geom, move)

    def strip(self, u1: float, u2: float, half_width: float = 100_000.0) -> Polygon:
        """All points whose along-trend coordinate lies in [u1, u2]."""
        ox, oy = self.origin
        (tx, ty), (nx, ny) = self.t, self.n
        corners = [(u1, -half_width), (u2, -half_width), (u2, half_width), (u1, half_width)]
        return Polygon([(ox + u * tx + v * nx, oy + u * ty + v * ny) for u, v in corners])


# --------------------------------------------------------------------------- crest line

def _chaikin(points: list[tuple[float, float]], iterations: int) -> list[tuple[float, float]]:
    for _ in range(iterations):
        out = [points[0]]
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            out.append((0.75 * x0 + 0.25 * x1, 0.75 * y0 + 0.25 * y1))
            out.append((0.25 * x0 + 0.75 * x1, 0.25 * y0 + 0.75 * y1))
        out.append(points[-1])
        points = out
    return points


def build_crest(proj: LocalProjection) -> LineString:
    """The crest line in metres: smoothed control polygon, resampled, with small kinks."""
    smooth = LineString(_chaikin([proj.to_xy(*p) for p in CREST_CONTROL], 3))
    count = max(2, round(smooth.length / VERTEX_SPACING_M))
    pts: list[tuple[float, float]] = []
    for i in range(count + 1):
        s = smooth.length * i / count
        p = smooth.interpolate(s)
        if 0 < i < count:
            # local normal (left) from a short chord, then a deterministic kink pattern of +/- ~20 m
            a, b = smooth.interpolate(max(0.0, s - 20)), smooth.interpolate(min(smooth.length, s + 20))
            dx, dy = b.x - a.x, b.y - a.y
            norm = math.hypot(dx, dy)
            off = 12.0 * math.sin(s / 700.0) + 8.0 * math.sin(s / 230.0 + 1.0)
            pts.append((p.x - dy / norm * off, p.y + dx / norm * off))
        else:
            pts.append((p.x, p.y))
    return LineString(pts)


def trend_frame(crest: LineString) -> Frame:
    (x0, y0), (x1, y1) = crest.coords[0], crest.coords[-1]
    length = math.hypot(x1 - x0, y1 - y0)
    t = ((x1 - x0) / length, (y1 - y0) / length)
    return Frame(origin=(x0, y0), t=t, n=(-t[1], t[0]))


def chainage_at_u(crest: LineString, frame: Frame, u: float) -> float:
    """Chainage (m along the crest) where the along-trend coordinate equals ``u`` (u is monotone)."""
    lo, hi = 0.0, crest.length
    for _ in range(60):
        mid = (lo + hi) / 2
        p = crest.interpolate(mid)
        if frame.u(p.x, p.y) < u:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def band(crest: LineString, frame: Frame, near: float, far: float) -> Polygon:
    """Land between the crest shifted ``near`` and ``far`` metres landward (negative: seaward)."""
    a = frame.offset(crest, near)
    b = frame.offset(crest, far)
    return Polygon(list(a.coords) + list(reversed(b.coords)))


def bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0


# --------------------------------------------------------------------------- output helpers

def _round_coords(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), DECIMALS) for v in obj]
        return [_round_coords(v) for v in obj]
    return obj


def to_geojson(geom_m: BaseGeometry, proj: LocalProjection) -> dict[str, Any]:
    mapping = shapely.geometry.mapping(proj.inverse(geom_m))
    return {"type": mapping["type"], "coordinates": _round_coords(mapping["coordinates"])}


def feature(layer: str, fid: str, geometry: dict[str, Any], props: dict[str, Any], assumed: list[str]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"layer": layer, "id": fid, **props, "assumed": assumed}}


def _only_polygon(geom: BaseGeometry, what: str) -> Polygon:
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    big = max(parts, key=lambda g: g.area)
    if sum(g.area for g in parts) - big.area > 1.0:
        raise ValueError(f"{what} splits into several pieces")
    return big


# --------------------------------------------------------------------------- layers

@dataclass(frozen=True, slots=True)
class Context:
    proj: LocalProjection
    crest: LineString
    frame: Frame
    anchor_ch: dict[str, float]           # chainage of each anchor on the crest
    town_split_ch: float                  # Zhapu | Dushangang boundary
    segments: list[LineString]            # metric, west -> east

    def at(self, chainage: float, landward: float = 0.0) -> Point:
        return self.frame.offset(self.crest.interpolate(chainage), landward)

    def u_of_ch(self, chainage: float) -> float:
        p = self.crest.interpolate(chainage)
        return self.frame.u(p.x, p.y)

    def segment_index_at(self, chainage: float) -> int:
        return min(SEGMENT_COUNT - 1, max(0, int(chainage / (self.crest.length / SEGMENT_COUNT))))


def build_context(proj: LocalProjection) -> Context:
    crest = build_crest(proj)
    frame = trend_frame(crest)
    anchor_ch = {k: crest.project(Point(proj.to_xy(*v))) for k, v in ANCHORS.items()}
    town_split_ch = crest.project(Point(proj.to_xy(121.156, 30.601)))
    step = crest.length / SEGMENT_COUNT
    segments = [substring(crest, i * step, (i + 1) * step if i < SEGMENT_COUNT - 1 else crest.length)
                for i in range(SEGMENT_COUNT)]
    return Context(proj, crest, frame, anchor_ch, town_split_ch, segments)


TOWNS = {
    "T01": ("乍浦镇", "Zhapu town"),
    "T02": ("独山港镇", "Dushangang town"),
    "T03": ("当湖街道", "Danghu street (Pinghu city proper, inland)"),
}

# village id -> (town, zh, en, population estimate, row: front|back|inland, u-fraction range within the town)
VILLAGES: dict[str, tuple[str, str, str, int, str, tuple[float, float]]] = {
    "V0101": ("T01", "乍浦西片（海盐界）", "Zhapu west (Haiyan border)", 12_000, "front", (0.0, 0.33)),
    "V0102": ("T01", "乍浦港区镇区", "Zhapu port and town centre", 32_000, "front", (0.33, 0.70)),
    "V0103": ("T01", "九龙山片", "Jiulongshan", 9_000, "front", (0.70, 1.0)),
    "V0104": ("T01", "乍浦北片西", "Zhapu north-west", 22_000, "back", (0.0, 0.5)),
    "V0105": ("T01", "乍浦北片东", "Zhapu north-east", 20_000, "back", (0.5, 1.0)),
    "V0201": ("T02", "全塘片", "Quantang", 14_000, "front", (0.0, 0.33)),
    "V0202": ("T02", "独山港区片", "Dushangang port area", 18_000, "front", (0.33, 0.62)),
    "V0203": ("T02", "黄姑片（金山界）", "Huanggu (Jinshan border)", 15_000, "front", (0.62, 1.0)),
    "V0204": ("T02", "独山港北片西", "Dushangang north-west", 12_000, "back", (0.0, 0.5)),
    "V0205": ("T02", "独山港北片东", "Dushangang north-east", 11_000, "back", (0.5, 1.0)),
    "V0301": ("T03", "当湖西片", "Danghu west", 60_000, "inland", (0.0, 0.33)),
    "V0302": ("T03", "当湖中心片", "Danghu centre", 70_000, "inland", (0.33, 0.67)),
    "V0303": ("T03", "当湖东片", "Danghu east", 50_000, "inland", (0.67, 1.0)),
}
# Typical ground level of each village (m CN1985; issue 13: flood exposure from the ground's elevation
# vs the expected water, riskcode [flood_exposure]). ASSUMPTION, no survey: the Hangzhou-Jiaxing
# polder plain behind the wall lies ~2-3 m CN1985 (below the red warning tide level 4.7 m, which is
# why it has a seawall), the road low points are lower (1.4-2.8 m), the Jiulongshan area rises
# onto the headland's hills, inland Danghu lies a little higher.
VILLAGE_GROUND_M = {"V0101": 2.4, "V0102": 2.6, "V0103": 3.6, "V0104": 2.6, "V0105": 2.7,
                    "V0201": 2.3, "V0202": 2.5, "V0203": 2.3, "V0204": 2.6, "V0205": 2.6,
                    "V0301": 3.0, "V0302": 3.1, "V0303": 3.0}
ROW_DEPTHS = {"front": (AREA_SETBACK_M, FRONT_DEPTH_M), "back": (FRONT_DEPTH_M, COASTAL_DEPTH_M),
              "inland": (COASTAL_DEPTH_M, INLAND_DEPTH_M)}
DANGHU_CHAINAGE_M = (0.0, 11_000.0)   # the inland town lies behind the western part of the coast


def town_chainage(ctx: Context, town_id: str) -> tuple[float, float]:
    return {"T01": (0.0, ctx.town_split_ch), "T02": (ctx.town_split_ch, ctx.crest.length),
            "T03": DANGHU_CHAINAGE_M}[town_id]


def town_depth(town_id: str) -> tuple[float, float]:
    return (COASTAL_DEPTH_M, INLAND_DEPTH_M) if town_id == "T03" else (AREA_SETBACK_M, COASTAL_DEPTH_M)


def area_polygon(ctx: Context, ch: tuple[float, float], depth: tuple[float, float], what: str) -> Polygon:
    strip = ctx.frame.strip(ctx.u_of_ch(ch[0]), ctx.u_of_ch(ch[1]))
    return _only_polygon(band(ctx.crest, ctx.frame, *depth).intersection(strip), what)


def build_towns(ctx: Context) -> tuple[list[dict[str, Any]], dict[str, Polygon]]:
    features, polys = [], {}
    for tid, (zh, en) in TOWNS.items():
        poly = area_polygon(ctx, town_chainage(ctx, tid), town_depth(tid), tid)
        polys[tid] = poly
        population = sum(v[3] for v in VILLAGES.values() if v[0] == tid)
        features.append(feature("town", tid, to_geojson(poly, ctx.proj), {
            "name": zh, "name_en": en, "population": population,
            "population_source": "estimate (sum of village estimates), order of magnitude only: ASSUMPTION",
        }, ["geometry", "population"]))
    return features, polys


def village_chainage(ctx: Context, vid: str) -> tuple[float, float]:
    town_id, *_rest, (f0, f1) = VILLAGES[vid]
    c0, c1 = town_chainage(ctx, town_id)
    return (c0 + (c1 - c0) * f0, c0 + (c1 - c0) * f1)


def build_villages(ctx: Context) -> tuple[list[dict[str, Any]], dict[str, Polygon]]:
    features, polys = [], {}
    for n, (vid, (tid, zh, en, pop, row, _frac)) in enumerate(VILLAGES.items(), start=1):
        poly = area_polygon(ctx, village_chainage(ctx, vid), ROW_DEPTHS[row], vid)
        polys[vid] = poly
        contact = {"name": f"{zh}值班联系人（示例）", "phone": f"0573-8500-{n:04d}",
                   "role": "村（社区）防汛防台责任人 / flood duty contact", "sample": True}
        features.append(feature("village", vid, to_geojson(poly, ctx.proj), {
            "town_id": tid, "name": zh, "name_en": en, "population": pop, "contact": contact,
            "ground_level_m": VILLAGE_GROUND_M[vid],
        }, ["geometry", "population", "contact", "name", "ground_level_m"]))
    return features, polys


# Height datum (issue 13). Every level in this file (crest, toe, warning tide levels, ground
# levels) is on the WARNING DATUM, the 1985 national height datum (CN1985), whose zero is the
# Qingdao mean sea level 1952-1979: a Hangzhou Bay tide swings above and below it (lows are
# negative). 1.1.0 had its levels on a datum about 1.8 m lower (mean tide +2.0 m): 1.3.0
# re-bases every level by LEVEL_REBASE_M, so the In-fa replay's warnings are unchanged.
WARNING_DATUM = "CN1985"
LEVEL_REBASE_M = -1.8
# Warning tide levels (m CN1985), ASSUMPTION (official Pinghu values not public): the brief's
# 5.0/5.5/6.0/6.5 are on the old ~+2 m tide; re-based: blue 3.2 (just above the spring high
# waters of the re-based tide, ~2.7-3.2 m), yellow 3.7, orange 4.2 (spring high water +
# about 1.2 m surge, In-fa's overnight high water at Zhapu), red 4.7. +/-0.1 m along the coast.
WARNING_LEVELS_BASE_M = {"blue": 3.2, "yellow": 3.7, "orange": 4.2, "red": 4.7}
# Datum each station REPORTS its levels on and the offset to add to a reading to get CN1985.
# Default: CN1985 (offset 0). Huanggu, at the Shanghai (Jinshan) border, reports on the Wusong
# datum: Wusong = CN1985 + 1.717 m (common conversion table, 1985 national height datum vs
# Wusong; local values differ by a few cm: ASSUMPTION until the gauge's levelling is known).
STATION_DATUMS: dict[str, tuple[str, float]] = {"HG-T01": ("Wusong", -1.717)}

# station id -> (kind, zh, en, anchor or chainage, landward offset m, gateway, elevation_m)
STATIONS: dict[str, tuple[str, str, str, str | float, float, str, float]] = {
    "XB-M01": ("multi", "乍浦西（海盐界）综合站", "Zhapu West (Haiyan border) multi-sensor station", 700.0, -25.0, "gw-zp-west", -3.0),
    "ZP-T01": ("tide_gauge", "乍浦潮位站", "Zhapu tide gauge", "zhapu_port", -30.0, "gw-zhapu", -4.0),
    "ZP-W01": ("weather", "乍浦港气象站", "Zhapu port weather station", "zhapu_port+250", 20.0, "gw-zhapu", 18.0),
    "JLS-T01": ("tide_gauge", "九龙山潮位站", "Jiulongshan tide gauge", "jiulongshan", -30.0, "gw-jiulongshan", -2.5),
    "JLS-W01": ("weather", "九龙山气象站", "Jiulongshan weather station (hill)", "jiulongshan", 600.0, "gw-jiulongshan", 45.0),
    "QT-T01": ("tide_gauge", "全塘潮位站", "Quantang tide gauge", "quantang", -30.0, "gw-quantang", -3.0),
    "DSG-T01": ("tide_gauge", "独山港潮位站", "Dushangang tide gauge", "dushangang_port", -30.0, "gw-dushangang", -4.5),
    "DSG-W01": ("weather", "独山港气象站", "Dushangang weather station", "dushangang_port+300", 20.0, "gw-dushangang", 18.0),
    "HG-T01": ("tide_gauge", "黄姑潮位站", "Huanggu tide gauge", "huanggu", -30.0, "gw-huanggu", -3.0),
    "HG-W01": ("weather", "黄姑气象站", "Huanggu weather station", "huanggu+200", 20.0, "gw-huanggu", 18.0),
    "ZP-B01": ("wave_buoy", "乍浦外海浪标", "Zhapu offshore wave buoy", "zhapu_port", -4_000.0, "gw-buoy-zp", 0.0),
    "JLS-B01": ("wave_buoy", "九龙山外海浪标", "Jiulongshan offshore wave buoy", "jiulongshan", -4_500.0, "gw-buoy-jls", 0.0),
    "DSG-B01": ("wave_buoy", "独山港外海浪标", "Dushangang offshore wave buoy", "dushangang_port+1500", -5_000.0, "gw-buoy-dsg", 0.0),
}
# Which wave period each buoy reports (riskcode converts it to Tm-1,0 in one place,
# riskcode.toml [overtopping.tm10_factor]). The simulated buoys report the spectral Tm-1,0
# (haixun/simulators/scenario.py); a real buoy reporting the significant period sets "T1/3",
# the zero-crossing period "Tz", the peak period "Tp".
WAVE_PERIOD_KIND = {"ZP-B01": "Tm-1,0", "JLS-B01": "Tm-1,0", "DSG-B01": "Tm-1,0"}
QUANTITIES_BY_KIND = {
    "tide_gauge": ["tide_level", "water_temperature", "air_pressure"],
    "weather": ["wind_speed", "wind_gust", "wind_dir", "air_pressure", "rainfall", "air_temperature", "visibility"],
    "wave_buoy": ["wave_height", "wave_period", "water_temperature"],
    "multi": ["tide_level", "wind_speed", "wind_gust", "wind_dir", "air_pressure"],
}


def _resolve_chainage(ctx: Context, where: str | float) -> float:
    if isinstance(where, float):
        return where
    name, _, delta = where.partition("+")
    return ctx.anchor_ch[name] + (float(delta) if delta else 0.0)


def station_points(ctx: Context) -> dict[str, Point]:
    return {sid: ctx.at(_resolve_chainage(ctx, spec[3]), spec[4]) for sid, spec in STATIONS.items()}


def nearest_segment(ctx: Context, p: Point) -> int:
    return min(range(SEGMENT_COUNT), key=lambda i: ctx.segments[i].distance(p))


def build_stations(ctx: Context) -> list[dict[str, Any]]:
    features = []
    for sid, p in station_points(ctx).items():
        kind, zh, en, _where, _off, gateway, elevation = STATIONS[sid]
        period = {"wave_period_kind": WAVE_PERIOD_KIND[sid]} if "wave_period" in QUANTITIES_BY_KIND[kind] else {}
        datum, offset = STATION_DATUMS.get(sid, (WARNING_DATUM, 0.0))
        features.append(feature("station", sid, to_geojson(p, ctx.proj), {
            "kind": kind, "name": zh, "name_en": en, "quantities": QUANTITIES_BY_KIND[kind],
            "segment_id": f"PH{nearest_segment(ctx, p) + 1:02d}", "gateway_id": gateway, "elevation_m": elevation,
            "datum": datum, "datum_offset_m": offset, **period,
        }, ["geometry", "elevation_m", "gateway_id", "datum_offset_m"]))
    return features


def _landmark(ctx: Context, mid_ch: float) -> tuple[str, str] | None:
    names = {"haiyan_border": ("海盐交界", "Haiyan border"), "zhapu_port": ("乍浦港区", "Zhapu port"),
             "jiulongshan": ("九龙山", "Jiulongshan"), "quantang": ("全塘", "Quantang"),
             "dushangang_port": ("独山港区", "Dushangang port"), "huanggu": ("黄姑", "Huanggu"),
             "jinshan_border": ("金山交界", "Jinshan border")}
    key, dist = min(((k, abs(c - mid_ch)) for k, c in ctx.anchor_ch.items()), key=lambda kv: kv[1])
    return names[key] if dist < 600 else None


def _station_for(ctx: Context, seg: LineString, quantity: str) -> str:
    points = station_points(ctx)
    mid = seg.interpolate(0.5, normalized=True)
    candidates = [sid for sid, spec in STATIONS.items() if quantity in QUANTITIES_BY_KIND[spec[0]]]
    return min(candidates, key=lambda sid: points[sid].distance(mid))


# Seawall cross-sections, ALL ASSUMPTIONS (no design drawings were available); reasoning:
# * Pinghu's first-line seawall is a standard seawall rebuilt after 1997 to the 100-year
#   standard (as on the neighbouring Jinshan, Shanghai, bank: 100-year high water plus
#   force 11-12 waves, now being raised to 200-year): a sloped dike whose crest carries a
#   wave wall. ``crest_level_m`` is the top of that wave wall (EurOtop's Rc is measured to
#   the highest point water must pass): 100-year high water (~5.2 m CN1985, above the
#   assumed red warning level 4.7 m) + ~3 m for wave run-up = 7.9-8.5 m (1.3.0 re-based).
# * Seaward slopes are armoured (concrete blocks / grouted or placed rock, a berm at about
#   the mean high water): EurOtop 2018 roughness gamma_f 0.75 (ribbed/stepped concrete
#   blocks, table 5.1 order) in the west, 0.60 (rock armour on an impermeable core, table 6.2
#   0.55-0.60) in the east. The berm is folded into an average slope of 1:3-1:4
#   (tan 0.25-0.333), because the geography has no berm field.
# * The wall stands on the upper tidal flat: toe (front of the toe protection) at
#   -1.2..-0.4 m in the west (steeper, scoured foreshore off Zhapu) and -0.4..+0.4 m in the
#   east (wider Dushangang flats), CN1985 (1.1.0: +0.6..+2.2 m on the old datum). So waves at the toe are depth-limited (Hs <= 0.55 x depth).
# * Port frontages (Zhapu, Dushangang): vertical quay walls with a parapet, crest 7.6 m,
#   toe -3.8 m (dredged berths), smooth concrete (gamma_f 1).
# * Jiulongshan headland: rock-armoured dike on a rocky platform (toe -0.3 m), gamma_f 0.55.
# 1.3.0: every level re-based by LEVEL_REBASE_M (see below); the numbers here are the re-based ones.
PORT_WALL = (7.6, 10.0, -3.8, 0.05, 1.0)          # crest, slope_tan (placeholder), toe, foreshore, gamma_f
HEADLAND_DIKE = (8.0, 0.333, -0.3, 0.03, 0.55)
DIKE_CREST_M, DIKE_CREST_SPREAD_M = 8.2, 0.3
DIKE_GAMMA_F_WEST, DIKE_GAMMA_F_EAST = 0.75, 0.60
# Berm and wave wall (1.2.0; ASSUMPTIONS, no design drawings): Zhejiang standard seawalls carry
# a wave-dissipating berm (消浪平台) on the seaward slope and a vertical wave wall (防浪墙) on the
# crest. Berm: 6 m wide, 5.0 m below the top of the wave wall (about the blue warning tide level,
# so it works in storm tides); wave wall: 1.0 m high (0.8 m on the headland), vertical (90 deg),
# EurOtop 2018 gamma_v = 1.35 - 0.0078 x 90 = 0.65. ``slope_tan`` is the slope above and below
# the berm (no longer an average with the berm folded in). Quay walls: no berm, their parapet is
# part of the vertical wall (no gamma_v in chapter 7's plain-wall formulas).
BERM_WIDTH_M, BERM_BELOW_CREST_M = 6.0, 5.0
WAVE_WALL_M, HEADLAND_WAVE_WALL_M, WAVE_WALL_ANGLE_DEG = 1.0, 0.8, 90.0


def _nearest_segments(ctx: Context, chainage: float, n: int) -> set[int]:
    step = ctx.crest.length / SEGMENT_COUNT
    return set(sorted(range(SEGMENT_COUNT), key=lambda k: abs((k + 0.5) * step - chainage))[:n])


def segment_properties(ctx: Context, i: int) -> dict[str, Any]:
    seg = ctx.segments[i]
    step = ctx.crest.length / SEGMENT_COUNT
    mid_ch = (i + 0.5) * step
    town_id = "T01" if mid_ch < ctx.town_split_ch else "T02"
    headland = abs(mid_ch - ctx.anchor_ch["jiulongshan"]) < 1_600
    # the port frontages: the two segments nearest Zhapu's anchor and 400 m east of Dushangang's
    vertical = any(i in _nearest_segments(ctx, ctx.anchor_ch[name] + shift, 2)
                   for name, shift in (("zhapu_port", 0.0), ("dushangang_port", 400.0)))
    fraction = mid_ch / ctx.crest.length
    if vertical:
        crest_level, slope, toe, foreshore, gamma_f = PORT_WALL
    elif headland:
        crest_level, slope, toe, foreshore, gamma_f = HEADLAND_DIKE
        crest_level += 0.1 * (i % 2)
    else:
        west = fraction < 0.5
        crest_level = round(DIKE_CREST_M + DIKE_CREST_SPREAD_M * math.sin(1.3 * i), 1)
        slope = (0.286, 0.25, 0.286, 0.333)[i % 4] if west else (0.25, 0.286)[i % 2]
        toe = round(-0.8 + 0.4 * math.cos(0.9 * i), 1) if west else round(0.0 + 0.4 * math.sin(0.7 * i), 1)
        foreshore = 0.02 if west else 0.01
        gamma_f = DIKE_GAMMA_F_WEST if west else DIKE_GAMMA_F_EAST
    delta = 0.1 if fraction < 1 / 3 else (0.0 if fraction < 2 / 3 else -0.1)
    levels = {name: round(base + delta, 2) for name, base in
              WARNING_LEVELS_BASE_M.items()}
    town_zh = TOWNS[town_id][0]
    k = sum(1 for j in range(i + 1) if ((j + 0.5) * step < ctx.town_split_ch) == (town_id == "T01"))
    mark = _landmark(ctx, mid_ch)
    name = f"{town_zh}海塘{k:02d}段" + (f"（{mark[0]}）" if mark else "")
    name_en = f"{TOWNS[town_id][1].split(' (')[0]} seawall section {k}" + (f" ({mark[1]})" if mark else "")
    a, b = seg.coords[0], seg.coords[-1]
    section: dict[str, Any] = {}
    if not vertical:
        section = {"berm_width_m": BERM_WIDTH_M, "berm_level_m": round(crest_level - BERM_BELOW_CREST_M, 2),
                   "wave_wall_height_m": HEADLAND_WAVE_WALL_M if headland else WAVE_WALL_M,
                   "wave_wall_angle_deg": WAVE_WALL_ANGLE_DEG}
    return {
        "name": name, "name_en": name_en, "town_id": town_id,
        "structure": "vertical_wall" if vertical else "sloped_dike",
        "crest_level_m": round(crest_level, 2), "slope_tan": slope, "toe_level_m": toe,
        "foreshore_slope": foreshore, "roughness_gamma_f": gamma_f, **section, "warning_levels_m": levels,
        "tide_station": _station_for(ctx, seg, "tide_level"),
        "wind_station": _station_for(ctx, seg, "wind_speed"),
        "wave_station": _station_for(ctx, seg, "wave_height"),
        "orientation_deg": round((bearing_deg(a, b) + 90.0) % 360.0, 1),
    }


SEGMENT_ASSUMED = ["geometry", "structure", "crest_level_m", "slope_tan", "toe_level_m", "foreshore_slope",
                   "roughness_gamma_f", "berm_width_m", "berm_level_m", "wave_wall_height_m", "wave_wall_angle_deg",
                   "warning_levels_m", "orientation_deg"]


def build_segments(ctx: Context) -> list[dict[str, Any]]:
    return [feature("seawall_segment", f"PH{i + 1:02d}", to_geojson(seg, ctx.proj), segment_properties(ctx, i),
                    SEGMENT_ASSUMED)
            for i, seg in enumerate(ctx.segments)]


CAMERA_COUNT = 20
CAMERA_REACH_M = {"thermal_ptz": 1_500.0, "starlight_dome": 700.0}


def build_cameras(ctx: Context) -> list[dict[str, Any]]:
    features = []
    step = ctx.crest.length / SEGMENT_COUNT
    stations = station_points(ctx)
    land = {sid: p for sid, p in stations.items() if STATIONS[sid][0] != "wave_buoy"}
    for c in range(CAMERA_COUNT):
        ch = (c + 0.5) * ctx.crest.length / CAMERA_COUNT
        kind = "thermal_ptz" if c % 2 == 0 else "starlight_dome"
        reach = CAMERA_REACH_M[kind]
        seg_ids = [f"PH{i + 1:02d}" for i in range(SEGMENT_COUNT)
                   if i * step < ch + reach and (i + 1) * step > ch - reach]
        p = ctx.at(ch, 15.0)
        gateway = STATIONS[min(land, key=lambda sid: land[sid].distance(p))][5]
        home = ctx.segment_index_at(ch)
        label = "热成像云台" if kind == "thermal_ptz" else "星光球机"
        features.append(feature("camera", f"CAM-{c + 1:02d}", to_geojson(p, ctx.proj), {
            "kind": kind, "name": f"PH{home + 1:02d}{label}{c + 1:02d}", "segment_ids": seg_ids, "gateway_id": gateway,
        }, ["geometry", "segment_ids", "gateway_id"]))
    return features


# shelter id -> (village, zh, en, capacity, open, along fraction within village, landward metres)
SHELTERS: dict[str, tuple[str, str, str, int, bool, float, float]] = {
    "S01": ("V0101", "乍浦西片村文化礼堂", "Zhapu west village cultural hall", 300, True, 0.5, 1_800.0),
    "S02": ("V0102", "乍浦镇中心小学", "Zhapu central primary school", 1_200, True, 0.35, 1_400.0),
    "S03": ("V0102", "乍浦镇文体中心体育馆", "Zhapu sports centre gymnasium", 1_500, True, 0.65, 2_200.0),
    "S04": ("V0102", "乍浦港区社区服务中心", "Zhapu port community centre", 400, True, 0.5, 900.0),
    "S05": ("V0103", "九龙山景区游客中心", "Jiulongshan visitor centre", 500, True, 0.45, 1_500.0),
    "S06": ("V0103", "九龙山村文化礼堂", "Jiulongshan village cultural hall", 250, False, 0.8, 2_400.0),
    "S07": ("V0104", "乍浦北片初级中学", "Zhapu north middle school", 1_000, True, 0.4, 4_500.0),
    "S08": ("V0104", "乍浦北片社区中心", "Zhapu north-west community centre", 350, True, 0.7, 5_800.0),
    "S09": ("V0105", "乍浦北片东小学", "Zhapu north-east primary school", 800, True, 0.5, 4_800.0),
    "S10": ("V0201", "全塘片中心小学", "Quantang central primary school", 900, True, 0.5, 1_900.0),
    "S11": ("V0201", "全塘片文化礼堂", "Quantang cultural hall", 300, True, 0.2, 2_600.0),
    "S12": ("V0202", "独山港镇文体中心体育馆", "Dushangang sports centre gymnasium", 1_500, True, 0.5, 2_500.0),
    "S13": ("V0202", "独山港区社区服务中心", "Dushangang port community centre", 400, False, 0.3, 1_200.0),
    "S14": ("V0203", "黄姑片中心学校", "Huanggu central school", 1_000, True, 0.5, 2_000.0),
    "S15": ("V0203", "黄姑片文化礼堂", "Huanggu cultural hall", 300, True, 0.8, 1_600.0),
    "S16": ("V0204", "独山港北片初级中学", "Dushangang north middle school", 1_100, True, 0.5, 4_600.0),
    "S17": ("V0205", "独山港北片东社区中心", "Dushangang north-east community centre", 350, True, 0.5, 5_200.0),
    "S18": ("V0301", "当湖西片中学体育馆", "Danghu west school gymnasium", 1_200, True, 0.5, 10_000.0),
    "S19": ("V0302", "平湖市体育馆", "Pinghu city gymnasium", 3_000, True, 0.5, 11_500.0),
    "S20": ("V0303", "当湖东片小学", "Danghu east primary school", 800, True, 0.5, 9_500.0),
}


def build_shelters(ctx: Context, villages: dict[str, Polygon]) -> list[dict[str, Any]]:
    features = []
    for sid, (vid, zh, en, capacity, is_open, frac, landward) in SHELTERS.items():
        c0, c1 = village_chainage(ctx, vid)
        p = ctx.at(c0 + (c1 - c0) * frac, landward)
        if not villages[vid].contains(p):
            raise ValueError(f"shelter {sid} falls outside its village {vid}")
        town = TOWNS[VILLAGES[vid][0]][0]
        features.append(feature("shelter", sid, to_geojson(p, ctx.proj), {
            "village_id": vid, "name": zh, "name_en": en, "capacity": capacity, "open": is_open,
            "address": f"{town}{VILLAGES[vid][1]}（示例地址 / sample address）",
        }, ["geometry", "capacity", "address", "name"]))
    return features


# road id -> (zh, en, shape, low points [(fraction along, ground level m)])
# shape: ("along", ch0, ch1, landward) or ("inland", ch, landward0, landward1)
ROADS: dict[str, tuple[str, str, tuple[Any, ...], list[tuple[float, float]]]] = {
    "R01": ("沿海公路（乍浦西段）", "Coastal road (Zhapu west)", ("along", 300.0, "zhapu_port-600", 300.0),
            [(0.3, 1.8), (0.75, 2.1)]),
    "R02": ("乍浦港区滨海路", "Zhapu port seafront road", ("along", "zhapu_port-500", "zhapu_port+900", 120.0),
            [(0.5, 1.6)]),
    "R03": ("乍浦疏港路", "Zhapu port access road", ("inland", "zhapu_port+300", 80.0, 4_000.0),
            [(0.08, 1.7), (0.6, 2.4)]),
    "R04": ("九龙山景区道路", "Jiulongshan scenic road", ("along", "jiulongshan-1800", "jiulongshan+1800", 150.0),
            [(0.2, 1.5), (0.85, 1.7)]),
    "R05": ("全塘海塘巡查路", "Quantang seawall patrol road", ("along", "quantang-1200", "quantang+2500", 25.0),
            [(0.4, 1.4)]),
    "R06": ("沿海公路（独山港段）", "Coastal road (Dushangang)", ("along", "quantang+2600", "huanggu-800", 350.0),
            [(0.25, 2.0), (0.7, 1.8)]),
    "R07": ("独山港疏港路", "Dushangang port access road", ("inland", "dushangang_port+200", 80.0, 5_000.0),
            [(0.06, 1.6), (0.5, 2.6)]),
    "R08": ("黄姑滨海路", "Huanggu seafront road", ("along", "huanggu-700", "jinshan_border-300", 200.0),
            [(0.5, 1.7)]),
    "R09": ("乍浦—平湖公路", "Zhapu-Pinghu road", ("inland", "zhapu_port-1500", 2_000.0, 12_000.0),
            [(0.15, 2.5), (0.55, 2.8)]),
    "R10": ("独山港北向公路", "Dushangang northbound road", ("inland", "huanggu-2500", 600.0, 6_800.0),
            [(0.3, 2.3)]),
}


def _ch_expr(ctx: Context, expr: str | float) -> float:
    if isinstance(expr, float):
        return expr
    for sign in ("+", "-"):
        if sign in expr:
            name, value = expr.split(sign)
            return ctx.anchor_ch[name] + (float(value) if sign == "+" else -float(value))
    return ctx.anchor_ch[expr]


def road_line(ctx: Context, shape: tuple[Any, ...]) -> LineString:
    if shape[0] == "along":
        c0, c1 = _ch_expr(ctx, shape[1]), _ch_expr(ctx, shape[2])
        line = substring(ctx.crest, c0, c1).simplify(10.0)
        return ctx.frame.offset(line, shape[3])
    ch, d0, d1 = _ch_expr(ctx, shape[1]), shape[2], shape[3]
    pts = []
    for k in range(9):
        d = d0 + (d1 - d0) * k / 8
        lateral = 60.0 * math.sin(k * 1.1)  # gentle bends
        base = ctx.at(ch, d)
        pts.append((base.x + ctx.frame.t[0] * lateral, base.y + ctx.frame.t[1] * lateral))
    return LineString(pts)


def build_roads(ctx: Context) -> list[dict[str, Any]]:
    features = []
    for rid, (zh, en, shape, lows) in ROADS.items():
        line = road_line(ctx, shape)
        low_points = []
        for frac, ground in lows:
            lon, lat = ctx.proj.to_lonlat(*line.interpolate(frac, normalized=True).coords[0])
            low_points.append({"lon": round(lon, DECIMALS), "lat": round(lat, DECIMALS), "ground_level_m": ground})
        features.append(feature("road", rid, to_geojson(line, ctx.proj), {
            "name": zh, "name_en": en, "low_points": low_points, "closed": False,
        }, ["geometry", "low_points"]))
    return features


def build_land_boundary(ctx: Context, towns: dict[str, Polygon]) -> dict[str, Any]:
    # The sheared band is narrower where the wall turns away from the coast's trend (Jiulongshan),
    # so add a true perpendicular offset and clip both to the coast's extent.
    perpendicular = ctx.crest.buffer(-BEACH_WIDTH_M, single_sided=True)
    extent = ctx.frame.strip(ctx.u_of_ch(0.0), ctx.u_of_ch(ctx.crest.length))
    beach = band(ctx.crest, ctx.frame, -BEACH_WIDTH_M, 0.0).union(perpendicular).intersection(extent)
    served = _only_polygon(shapely.union_all([towns["T01"], towns["T02"], beach]).buffer(0.5).buffer(-0.5),
                           "land boundary")
    return feature("land_boundary", "pinghu-served-area", to_geojson(served, ctx.proj), {
        "name": "平湖市海洋灾害风险码服务范围", "name_en": "Pinghu risk-code served area",
        "beach_width_m": BEACH_WIDTH_M,
    }, ["geometry"])


def build_document(proj: LocalProjection = PINGHU) -> dict[str, Any]:
    ctx = build_context(proj)
    town_features, town_polys = build_towns(ctx)
    village_features, village_polys = build_villages(ctx)
    features = (build_segments(ctx) + build_stations(ctx) + build_cameras(ctx) + town_features
                + village_features + build_shelters(ctx, village_polys) + build_roads(ctx)
                + [build_land_boundary(ctx, town_polys)])
    return {
        "type": "FeatureCollection",
        "meta": {"version": VERSION, "crs": "WGS84 lon/lat (EPSG:4326)", "height_datum": WARNING_DATUM,
                 "total_length_m": round(ctx.crest.length, 1), "sources": SOURCES, "assumptions": ASSUMPTIONS},
        "features": features,
    }


def dumps(doc: dict[str, Any]) -> str:
    """One feature per line: readable diffs, compact file."""
    head = {k: v for k, v in doc.items() if k != "features"}
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in doc["features"]]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "features": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def default_output() -> Path:
    """The packaged file, ``haixun/data/pinghu.geojson`` of this checkout."""
    return Path(__file__).resolve().parents[1] / "haixun" / "data" / "pinghu.geojson"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="generate the Pinghu geography GeoJSON")
    parser.add_argument("--out", type=Path, default=default_output())
    args = parser.parse_args(argv)
    doc = build_document()
    args.out.write_text(dumps(doc), encoding="utf-8")
    print(f"wrote {args.out} ({len(doc['features'])} features, seawall {doc['meta']['total_length_m'] / 1000:.2f} km)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
