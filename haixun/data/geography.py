"""Load and validate the Pinghu geography file (schema: docs/data-model.md).

``load_geography()`` reads the packaged ``pinghu.geojson`` (or a given path),
parses every layer into typed, immutable records and refuses the file, with
every problem listed, if ``validate()`` finds anything wrong. Geometries stay
in WGS84 lon/lat; metric checks use :data:`haixun.data.projection.PINGHU`.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from haixun.contract import QUANTITIES
from haixun.data.datum import datum_problems
from haixun.data.projection import PINGHU, LocalProjection
from haixun.errors import HaixunError

PACKAGED_FILE = "pinghu.geojson"

LEVEL_NAMES = ("blue", "yellow", "orange", "red")
STRUCTURES = ("sloped_dike", "vertical_wall")
WAVE_PERIOD_KINDS = ("Tm-1,0", "Tp", "T1/3", "Tz")  # riskcode.toml [overtopping.tm10_factor]
STATION_KINDS = ("tide_gauge", "weather", "wave_buoy", "multi")
CAMERA_KINDS = ("thermal_ptz", "starlight_dome")
LAYERS = ("seawall_segment", "station", "camera", "town", "village", "shelter", "road", "land_boundary")

# Validation limits (metres unless stated).
SEGMENT_JOIN_TOLERANCE_M = 5.0
SEAWALL_LENGTH_RANGE_M = (25_000.0, 29_000.0)
SEGMENT_LENGTH_RANGE_M = (300.0, 2_500.0)
STATION_MAX_DISTANCE_M = 15_000.0     # wave buoys lie offshore in the bay
CAMERA_MAX_DISTANCE_M = 500.0
VILLAGE_IN_TOWN_TOLERANCE_M = 2.0
SHELTER_IN_VILLAGE_TOLERANCE_M = 10.0
LOW_POINT_MAX_DISTANCE_M = 50.0
SEAWALL_IN_SERVED_AREA_TOLERANCE_M = 5.0


class GeographyError(HaixunError, ValueError):
    """The geography file is malformed or fails validation; ``problems`` lists every finding."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = "\n  - ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"geography {source} refused ({len(problems)} problem(s)):\n  - {shown}{more}")


@dataclass(frozen=True, slots=True)
class Meta:
    version: str
    sources: tuple[str, ...]
    assumptions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WarningLevels:
    """Warning tide levels in metres CN1985 (GB/T 17839-2011 meaning)."""

    blue: float
    yellow: float
    orange: float
    red: float

    def as_dict(self) -> dict[str, float]:
        return {"blue": self.blue, "yellow": self.yellow, "orange": self.orange, "red": self.red}


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    name: str
    name_en: str
    town_id: str
    structure: str
    crest_level_m: float
    slope_tan: float
    toe_level_m: float
    foreshore_slope: float
    roughness_gamma_f: float
    warning_levels: WarningLevels
    tide_station: str
    wind_station: str
    wave_station: str
    orientation_deg: float
    geometry: LineString
    assumed: tuple[str, ...]
    properties: Mapping[str, Any] = field(repr=False, compare=False)
    # EurOtop section geometry (docs/data-model.md): berm (width 0 = none) and a wave wall on the crest
    berm_width_m: float = 0.0
    berm_level_m: float | None = None
    wave_wall_height_m: float = 0.0
    wave_wall_angle_deg: float | None = None


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    kind: str
    name: str
    name_en: str
    quantities: tuple[str, ...]
    segment_id: str
    gateway_id: str
    elevation_m: float | None
    geometry: Point
    assumed: tuple[str, ...]
    wave_period_kind: str | None = None  # which period a wave buoy reports: Tm-1,0, Tp, T1/3 or Tz
    # the datum the station reports levels on, and metres to add to get CN1985 (haixun/data/datum.py)
    datum: str = "CN1985"
    datum_offset_m: float = 0.0

    @property
    def lon(self) -> float:
        return self.geometry.x

    @property
    def lat(self) -> float:
        return self.geometry.y


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    kind: str
    name: str
    segment_ids: tuple[str, ...]
    gateway_id: str
    geometry: Point
    assumed: tuple[str, ...]

    @property
    def lon(self) -> float:
        return self.geometry.x

    @property
    def lat(self) -> float:
        return self.geometry.y


@dataclass(frozen=True, slots=True)
class Town:
    id: str
    name: str
    name_en: str
    population: int
    population_source: str
    geometry: Polygon
    assumed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str
    role: str
    sample: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "phone": self.phone, "role": self.role, "sample": self.sample}


@dataclass(frozen=True, slots=True)
class Village:
    id: str
    town_id: str
    name: str
    name_en: str
    population: int
    contact: Contact | None
    geometry: Polygon
    assumed: tuple[str, ...]
    ground_level_m: float | None = None  # typical ground level (m, warning datum): flood exposure


@dataclass(frozen=True, slots=True)
class Shelter:
    id: str
    village_id: str
    name: str
    name_en: str
    capacity: int
    open: bool
    address: str
    geometry: Point
    assumed: tuple[str, ...]

    @property
    def lon(self) -> float:
        return self.geometry.x

    @property
    def lat(self) -> float:
        return self.geometry.y


@dataclass(frozen=True, slots=True)
class LowPoint:
    lon: float
    lat: float
    ground_level_m: float

    def as_dict(self) -> dict[str, float]:
        return {"lon": self.lon, "lat": self.lat, "ground_level_m": self.ground_level_m}


@dataclass(frozen=True, slots=True)
class Road:
    id: str
    name: str
    name_en: str
    low_points: tuple[LowPoint, ...]
    closed: bool
    geometry: LineString
    assumed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LandBoundary:
    id: str
    geometry: Polygon
    assumed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Geography:
    """All layers of one geography file, in file order (segments west -> east)."""

    meta: Meta
    segments: tuple[Segment, ...]
    stations: tuple[Station, ...]
    cameras: tuple[Camera, ...]
    towns: tuple[Town, ...]
    villages: tuple[Village, ...]
    shelters: tuple[Shelter, ...]
    roads: tuple[Road, ...]
    land_boundary: LandBoundary
    source: str = "<memory>"

    @property
    def version(self) -> str:
        return self.meta.version

    def segment(self, segment_id: str) -> Segment:
        return _by_id(self.segments, segment_id, "segment")

    def station(self, station_id: str) -> Station:
        return _by_id(self.stations, station_id, "station")

    def town(self, town_id: str) -> Town:
        return _by_id(self.towns, town_id, "town")

    def village(self, village_id: str) -> Village:
        return _by_id(self.villages, village_id, "village")

    def seawall(self) -> LineString:
        """The whole crest line (west -> east), segments joined."""
        coords: list[tuple[float, float]] = []
        for seg in self.segments:
            part = list(seg.geometry.coords)
            coords.extend(part[1:] if coords else part)
        return LineString(coords)

    def seawall_length_m(self, projection: LocalProjection = PINGHU) -> float:
        return sum(projection.forward(s.geometry).length for s in self.segments)


def _by_id(items: Iterable[Any], wanted: str, what: str) -> Any:
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(f"no {what} {wanted!r}")


# --------------------------------------------------------------------------- parsing

class _Props:
    """Typed access to one feature's properties, collecting problems instead of raising."""

    def __init__(self, label: str, props: Mapping[str, Any], problems: list[str]) -> None:
        self.label, self.props, self.problems = label, props, problems

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.props or self.props[key] is None:
            if required:
                self.problems.append(f"{self.label}: missing property {key!r}")
            return None
        return self.props[key]

    def text(self, key: str, *, required: bool = True) -> str:
        value = self._get(key, required)
        if value is None:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.problems.append(f"{self.label}: {key!r} must be a non-empty string, got {value!r}")
            return ""
        return value

    def number(self, key: str, *, required: bool = True) -> float:
        value = self._get(key, required)
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.problems.append(f"{self.label}: {key!r} must be a finite number, got {value!r}")
            return math.nan
        return float(value)

    def integer(self, key: str) -> int:
        value = self._get(key, True)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(f"{self.label}: {key!r} must be an integer, got {value!r}")
            return 0
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key, True)
        if not isinstance(value, bool):
            if value is not None:
                self.problems.append(f"{self.label}: {key!r} must be true or false, got {value!r}")
            return False
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, True)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problems.append(f"{self.label}: {key!r} must be a list of strings, got {value!r}")
            return ()
        return tuple(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self._get(key, True)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{self.label}: {key!r} must be an object, got {value!r}")
            return {}
        return value

    def assumed(self) -> tuple[str, ...]:
        value = self.props.get("assumed", [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problems.append(f"{self.label}: 'assumed' must be a list of field names")
            return ()
        return tuple(value)


def _geometry(label: str, raw: Any, expected: str, problems: list[str]) -> BaseGeometry | None:
    if not isinstance(raw, dict) or raw.get("type") != expected:
        got = raw.get("type") if isinstance(raw, dict) else raw
        problems.append(f"{label}: geometry must be a {expected}, got {got!r}")
        return None
    try:
        geom = shape(raw)
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        problems.append(f"{label}: unreadable {expected} geometry ({exc})")
        return None
    if geom.is_empty:
        problems.append(f"{label}: empty geometry")
        return None
    return geom


def _levels(p: _Props) -> WarningLevels:
    raw = p.mapping("warning_levels_m")
    values = []
    for name in LEVEL_NAMES:
        v = raw.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            if raw:
                p.problems.append(f"{p.label}: warning_levels_m.{name} must be a finite number, got {v!r}")
            values.append(math.nan)
        else:
            values.append(float(v))
    return WarningLevels(*values)


def _contact(p: _Props) -> Contact | None:
    raw = p.props.get("contact")
    if not isinstance(raw, dict):
        return None
    name, phone, role, sample = raw.get("name"), raw.get("phone"), raw.get("role"), raw.get("sample", False)
    if not all(isinstance(v, str) for v in (name, phone, role)) or not isinstance(sample, bool):
        p.problems.append(f"{p.label}: contact needs string name, phone, role and boolean sample, got {raw!r}")
        return None
    return Contact(name=name, phone=phone, role=role, sample=sample)


def _low_points(p: _Props) -> tuple[LowPoint, ...]:
    raw = p._get("low_points", True)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        p.problems.append(f"{p.label}: 'low_points' must be a list")
        return ()
    out = []
    for i, item in enumerate(raw):
        try:
            lp = LowPoint(float(item["lon"]), float(item["lat"]), float(item["ground_level_m"]))
        except (KeyError, TypeError, ValueError):
            p.problems.append(f"{p.label}: low_points[{i}] needs numeric lon, lat, ground_level_m, got {item!r}")
            continue
        if not all(math.isfinite(v) for v in (lp.lon, lp.lat, lp.ground_level_m)):
            p.problems.append(f"{p.label}: low_points[{i}] has a non-finite value")
            continue
        out.append(lp)
    return tuple(out)


def parse_geography(doc: Any, source: str = "<memory>") -> Geography:
    """Build a :class:`Geography` from a decoded GeoJSON document; raise GeographyError if malformed."""
    problems: list[str] = []
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise GeographyError(source, ["the file must be a GeoJSON FeatureCollection with a 'features' list"])
    raw_meta = doc.get("meta")
    if not isinstance(raw_meta, dict) or not isinstance(raw_meta.get("version"), str) or not raw_meta["version"]:
        problems.append("meta: a top-level 'meta' object with a non-empty 'version' is required")
        raw_meta = raw_meta if isinstance(raw_meta, dict) else {}
    meta = Meta(version=str(raw_meta.get("version", "")),
                sources=tuple(str(s) for s in raw_meta.get("sources", []) or []),
                assumptions=tuple(str(s) for s in raw_meta.get("assumptions", []) or []))

    segments: list[Segment] = []
    stations: list[Station] = []
    cameras: list[Camera] = []
    towns: list[Town] = []
    villages: list[Village] = []
    shelters: list[Shelter] = []
    roads: list[Road] = []
    boundaries: list[LandBoundary] = []

    for index, feat in enumerate(doc["features"]):
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict):
            problems.append(f"feature #{index}: not a Feature with properties")
            continue
        layer, fid = props.get("layer"), props.get("id")
        label = f"{layer} {fid}" if fid else f"{layer} (feature #{index})"
        if layer not in LAYERS:
            problems.append(f"feature #{index}: unknown layer {layer!r} (known: {', '.join(LAYERS)})")
            continue
        if not isinstance(fid, str) or not fid:
            problems.append(f"{label}: missing 'id'")
            continue
        p = _Props(label, props, problems)
        raw_geom = feat.get("geometry")
        if layer == "seawall_segment":
            geom = _geometry(label, raw_geom, "LineString", problems)
            seg = Segment(
                id=fid, name=p.text("name"), name_en=p.text("name_en"), town_id=p.text("town_id"),
                structure=p.text("structure"), crest_level_m=p.number("crest_level_m"),
                slope_tan=p.number("slope_tan"), toe_level_m=p.number("toe_level_m"),
                foreshore_slope=p.number("foreshore_slope"), roughness_gamma_f=p.number("roughness_gamma_f"),
                warning_levels=_levels(p), tide_station=p.text("tide_station"),
                wind_station=p.text("wind_station"), wave_station=p.text("wave_station"),
                orientation_deg=p.number("orientation_deg"), geometry=geom,  # type: ignore[arg-type]
                assumed=p.assumed(), properties=dict(props),
                berm_width_m=_optional_number(p, "berm_width_m") or 0.0, berm_level_m=_optional_number(p, "berm_level_m"),
                wave_wall_height_m=_optional_number(p, "wave_wall_height_m") or 0.0,
                wave_wall_angle_deg=_optional_number(p, "wave_wall_angle_deg"))
            if geom is not None:
                segments.append(seg)
        elif layer == "station":
            geom = _geometry(label, raw_geom, "Point", problems)
            st = Station(id=fid, kind=p.text("kind"), name=p.text("name"), name_en=p.text("name_en"),
                         quantities=p.strings("quantities"), segment_id=p.text("segment_id"),
                         gateway_id=p.text("gateway_id"), elevation_m=_optional_number(p, "elevation_m"),
                         geometry=geom, assumed=p.assumed(),  # type: ignore[arg-type]
                         wave_period_kind=props.get("wave_period_kind"),
                         datum=p.text("datum"), datum_offset_m=p.number("datum_offset_m"))
            problems.extend(datum_problems(label, st.datum, st.datum_offset_m))
            if geom is not None:
                stations.append(st)
        elif layer == "camera":
            geom = _geometry(label, raw_geom, "Point", problems)
            cam = Camera(id=fid, kind=p.text("kind"), name=p.text("name"), segment_ids=p.strings("segment_ids"),
                         gateway_id=p.text("gateway_id"), geometry=geom, assumed=p.assumed())  # type: ignore[arg-type]
            if geom is not None:
                cameras.append(cam)
        elif layer == "town":
            geom = _geometry(label, raw_geom, "Polygon", problems)
            town = Town(id=fid, name=p.text("name"), name_en=p.text("name_en"), population=p.integer("population"),
                        population_source=p.text("population_source"), geometry=geom,  # type: ignore[arg-type]
                        assumed=p.assumed())
            if geom is not None:
                towns.append(town)
        elif layer == "village":
            geom = _geometry(label, raw_geom, "Polygon", problems)
            village = Village(id=fid, town_id=p.text("town_id"), name=p.text("name"), name_en=p.text("name_en"),
                              population=p.integer("population"), contact=_contact(p),
                              geometry=geom, assumed=p.assumed(),  # type: ignore[arg-type]
                              ground_level_m=_optional_number(p, "ground_level_m"))
            if geom is not None:
                villages.append(village)
        elif layer == "shelter":
            geom = _geometry(label, raw_geom, "Point", problems)
            shelter = Shelter(id=fid, village_id=p.text("village_id"), name=p.text("name"),
                              name_en=p.text("name_en"), capacity=p.integer("capacity"), open=p.boolean("open"),
                              address=p.text("address"), geometry=geom, assumed=p.assumed())  # type: ignore[arg-type]
            if geom is not None:
                shelters.append(shelter)
        elif layer == "road":
            geom = _geometry(label, raw_geom, "LineString", problems)
            road = Road(id=fid, name=p.text("name"), name_en=p.text("name_en"), low_points=_low_points(p),
                        closed=p.boolean("closed"), geometry=geom, assumed=p.assumed())  # type: ignore[arg-type]
            if geom is not None:
                roads.append(road)
        else:  # land_boundary
            geom = _geometry(label, raw_geom, "Polygon", problems)
            if geom is not None:
                boundaries.append(LandBoundary(id=fid, geometry=geom, assumed=p.assumed()))  # type: ignore[arg-type]

    if len(boundaries) != 1:
        problems.append(f"land_boundary: exactly one feature required, found {len(boundaries)}")
    if problems:
        raise GeographyError(source, problems)
    return Geography(meta=meta, segments=tuple(segments), stations=tuple(stations), cameras=tuple(cameras),
                     towns=tuple(towns), villages=tuple(villages), shelters=tuple(shelters), roads=tuple(roads),
                     land_boundary=boundaries[0], source=source)


def _optional_number(p: _Props, key: str) -> float | None:
    value = p.number(key, required=False)
    return None if math.isnan(value) else value


# --------------------------------------------------------------------------- validation

def _duplicates(ids: Iterable[str]) -> list[str]:
    return sorted(k for k, n in Counter(ids).items() if n > 1)


def _check_ids(geo: Geography, problems: list[str]) -> None:
    layers: dict[str, Iterable[Any]] = {
        "seawall_segment": geo.segments, "station": geo.stations, "camera": geo.cameras, "town": geo.towns,
        "village": geo.villages, "shelter": geo.shelters, "road": geo.roads,
    }
    for layer, items in layers.items():
        for dup in _duplicates(item.id for item in items):
            problems.append(f"{layer}: id {dup!r} is used more than once")


def _check_validity(geo: Geography, problems: list[str]) -> None:
    everything: list[tuple[str, BaseGeometry]] = (
        [(f"seawall_segment {s.id}", s.geometry) for s in geo.segments]
        + [(f"town {t.id}", t.geometry) for t in geo.towns]
        + [(f"village {v.id}", v.geometry) for v in geo.villages]
        + [(f"road {r.id}", r.geometry) for r in geo.roads]
        + [(f"land_boundary {geo.land_boundary.id}", geo.land_boundary.geometry)]
    )
    for label, geom in everything:
        if not geom.is_valid:
            problems.append(f"{label}: invalid geometry ({shapely.is_valid_reason(geom)})")
    for label, geom in everything + [(f"station {s.id}", s.geometry) for s in geo.stations]:
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            problems.append(f"{label}: coordinates are not WGS84 lon/lat")


def _check_segments(geo: Geography, proj: LocalProjection, problems: list[str]) -> None:
    if not geo.segments:
        problems.append("seawall_segment: the file has no seawall segments")
        return
    metric = [proj.forward(s.geometry) for s in geo.segments]
    for prev, cur, a, b in zip(geo.segments, geo.segments[1:], metric, metric[1:], strict=False):
        gap = Point(a.coords[-1]).distance(Point(b.coords[0]))
        if gap > SEGMENT_JOIN_TOLERANCE_M:
            problems.append(f"seawall_segment {cur.id}: starts {gap:.0f} m from the end of {prev.id} "
                            f"(gap; at most {SEGMENT_JOIN_TOLERANCE_M:.0f} m allowed)")
    for (i, s1, g1), (j, s2, g2) in itertools.combinations(zip(itertools.count(), geo.segments, metric), 2):
        if not g1.intersects(g2):
            continue
        inter = g1.intersection(g2)
        if inter.length > 1.0:
            problems.append(f"seawall_segment {s1.id} and {s2.id} overlap for {inter.length:.0f} m")
        elif j - i > 1:
            problems.append(f"seawall_segment {s1.id} and {s2.id} cross (the wall must not self-intersect)")
    total = sum(g.length for g in metric)
    lo, hi = SEAWALL_LENGTH_RANGE_M
    if not lo <= total <= hi:
        problems.append(f"seawall: total length {total / 1000:.2f} km outside {lo / 1000:.0f}-{hi / 1000:.0f} km")
    if metric[0].coords[0][0] > metric[-1].coords[-1][0]:
        problems.append("seawall: segments must be ordered west -> east")

    stations = {s.id: s for s in geo.stations}
    towns = {t.id for t in geo.towns}
    for seg, g in zip(geo.segments, metric, strict=False):
        label = f"seawall_segment {seg.id}"
        slo, shi = SEGMENT_LENGTH_RANGE_M
        if not slo <= g.length <= shi:
            problems.append(f"{label}: length {g.length:.0f} m outside {slo:.0f}-{shi:.0f} m")
        if seg.town_id not in towns:
            problems.append(f"{label}: unknown town_id {seg.town_id!r}")
        if seg.structure not in STRUCTURES:
            problems.append(f"{label}: structure {seg.structure!r} not one of {', '.join(STRUCTURES)}")
        if not seg.crest_level_m > seg.toe_level_m:
            problems.append(f"{label}: crest_level_m {seg.crest_level_m} must be above toe_level_m {seg.toe_level_m}")
        if not seg.slope_tan > 0:
            problems.append(f"{label}: slope_tan must be positive, got {seg.slope_tan}")
        if not seg.foreshore_slope >= 0:
            problems.append(f"{label}: foreshore_slope must be >= 0, got {seg.foreshore_slope}")
        if not 0 < seg.roughness_gamma_f <= 1:
            problems.append(f"{label}: roughness_gamma_f must be in (0, 1], got {seg.roughness_gamma_f}")
        if not 0 <= seg.orientation_deg < 360:
            problems.append(f"{label}: orientation_deg must be in [0, 360), got {seg.orientation_deg}")
        if seg.berm_width_m < 0 or (seg.berm_width_m > 0 and seg.berm_level_m is None):
            problems.append(f"{label}: a berm needs berm_width_m >= 0 and a berm_level_m")
        if seg.berm_level_m is not None and not seg.toe_level_m < seg.berm_level_m < seg.crest_level_m:
            problems.append(f"{label}: berm_level_m {seg.berm_level_m} must lie between the toe and the crest")
        if seg.wave_wall_height_m < 0 or (seg.wave_wall_angle_deg is not None
                                          and not 0 < seg.wave_wall_angle_deg <= 90):
            problems.append(f"{label}: wave wall needs height >= 0 and an angle in (0, 90] degrees")
        levels = [getattr(seg.warning_levels, n) for n in LEVEL_NAMES]
        if any(math.isnan(v) for v in levels):
            problems.append(f"{label}: warning_levels_m needs all of {', '.join(LEVEL_NAMES)}")
        elif not all(a < b for a, b in zip(levels, levels[1:], strict=False)):
            problems.append(f"{label}: warning levels must increase blue < yellow < orange < red, got "
                            + ", ".join(f"{n}={v}" for n, v in zip(LEVEL_NAMES, levels, strict=False)))
        for role, quantity in (("tide_station", "tide_level"), ("wind_station", "wind_speed"),
                               ("wave_station", "wave_height")):
            sid = getattr(seg, role)
            if sid not in stations:
                problems.append(f"{label}: {role} {sid!r} is not a station in the file")
            elif quantity not in stations[sid].quantities:
                problems.append(f"{label}: {role} {sid!r} does not measure {quantity}")


def _check_points(geo: Geography, proj: LocalProjection, problems: list[str]) -> None:
    served = proj.forward(geo.land_boundary.geometry)
    segment_ids = {s.id for s in geo.segments}
    for st in geo.stations:
        label = f"station {st.id}"
        if st.kind not in STATION_KINDS:
            problems.append(f"{label}: kind {st.kind!r} not one of {', '.join(STATION_KINDS)}")
        if not st.quantities:
            problems.append(f"{label}: no quantities")
        for q in st.quantities:
            if q not in QUANTITIES:
                problems.append(f"{label}: unknown quantity {q!r} (see docs/contract.md)")
        if st.segment_id not in segment_ids:
            problems.append(f"{label}: unknown segment_id {st.segment_id!r}")
        if "wave_period" in st.quantities and st.wave_period_kind not in WAVE_PERIOD_KINDS:
            problems.append(f"{label}: reports wave_period, so wave_period_kind must be one of "
                            f"{', '.join(WAVE_PERIOD_KINDS)}, got {st.wave_period_kind!r}")
        d = served.distance(proj.forward(st.geometry))
        if d > STATION_MAX_DISTANCE_M:
            problems.append(f"{label}: {d / 1000:.1f} km from the served area (at most {STATION_MAX_DISTANCE_M / 1000:.0f} km)")
    covered: set[str] = set()
    for cam in geo.cameras:
        label = f"camera {cam.id}"
        if cam.kind not in CAMERA_KINDS:
            problems.append(f"{label}: kind {cam.kind!r} not one of {', '.join(CAMERA_KINDS)}")
        if not cam.segment_ids:
            problems.append(f"{label}: covers no segment")
        for sid in cam.segment_ids:
            if sid not in segment_ids:
                problems.append(f"{label}: unknown segment {sid!r}")
        covered.update(cam.segment_ids)
        d = served.distance(proj.forward(cam.geometry))
        if d > CAMERA_MAX_DISTANCE_M:
            problems.append(f"{label}: {d:.0f} m from the served area (at most {CAMERA_MAX_DISTANCE_M:.0f} m)")
    if geo.cameras:
        for seg in geo.segments:
            if seg.id not in covered:
                problems.append(f"seawall_segment {seg.id}: no camera covers it")


def _check_areas(geo: Geography, proj: LocalProjection, problems: list[str]) -> None:
    towns = {t.id: proj.forward(t.geometry) for t in geo.towns}
    villages = {v.id: proj.forward(v.geometry) for v in geo.villages}
    for town in geo.towns:
        if town.population < 0:
            problems.append(f"town {town.id}: population must be >= 0")
    for v in geo.villages:
        label = f"village {v.id}"
        if v.town_id not in towns:
            problems.append(f"{label}: unknown town_id {v.town_id!r}")
        elif not villages[v.id].within(towns[v.town_id].buffer(VILLAGE_IN_TOWN_TOLERANCE_M)):
            outside = villages[v.id].difference(towns[v.town_id]).area
            problems.append(f"{label}: not inside its town {v.town_id} ({outside:.0f} m2 outside)")
        if v.population < 0:
            problems.append(f"{label}: population must be >= 0")
        if v.contact is None:
            problems.append(f"{label}: no community contact")
        elif not v.contact.name.strip() or not v.contact.phone.strip():
            problems.append(f"{label}: contact needs a name and a phone number")
    for sh in geo.shelters:
        label = f"shelter {sh.id}"
        if sh.village_id not in villages:
            problems.append(f"{label}: unknown village_id {sh.village_id!r}")
        else:
            d = villages[sh.village_id].distance(proj.forward(sh.geometry))
            if d > SHELTER_IN_VILLAGE_TOLERANCE_M:
                problems.append(f"{label}: {d:.0f} m outside its village {sh.village_id}")
        if sh.capacity <= 0:
            problems.append(f"{label}: capacity must be positive")
    for road in geo.roads:
        line = proj.forward(road.geometry)
        for i, lp in enumerate(road.low_points):
            d = line.distance(Point(proj.to_xy(lp.lon, lp.lat)))
            if d > LOW_POINT_MAX_DISTANCE_M:
                problems.append(f"road {road.id}: low_points[{i}] lies {d:.0f} m off the road")
    served = proj.forward(geo.land_boundary.geometry)
    if geo.segments:
        wall = shapely.union_all([proj.forward(s.geometry) for s in geo.segments])
        if not wall.within(served.buffer(SEAWALL_IN_SERVED_AREA_TOLERANCE_M)):
            problems.append("land_boundary: the seawall is not inside the served area")


def validate(geo: Geography, projection: LocalProjection = PINGHU) -> list[str]:
    """Every problem found in ``geo`` (empty list: valid). Messages name the layer and id."""
    problems: list[str] = []
    _check_ids(geo, problems)
    _check_validity(geo, problems)
    if any("invalid geometry" in p for p in problems):
        return problems  # metric checks on broken geometries only add noise
    _check_segments(geo, projection, problems)
    _check_points(geo, projection, problems)
    _check_areas(geo, projection, problems)
    return problems


# --------------------------------------------------------------------------- loading (I/O edge)

def read_document(path: str | Path | None = None) -> tuple[Any, str]:
    """The decoded GeoJSON and a label for messages; ``None`` reads the packaged file."""
    if path is None:
        resource = resources.files("haixun.data") / PACKAGED_FILE
        text, label = resource.read_text(encoding="utf-8"), f"packaged {PACKAGED_FILE}"
    else:
        text, label = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        return json.loads(text), label
    except json.JSONDecodeError as exc:
        raise GeographyError(label, [f"not valid JSON: {exc}"]) from exc


def load_geography(path: str | Path | None = None, *, projection: LocalProjection = PINGHU) -> Geography:
    """Load, parse and validate a geography file; raise :class:`GeographyError` listing every problem."""
    doc, label = read_document(path)
    geo = parse_geography(doc, label)
    problems = validate(geo, projection)
    if problems:
        raise GeographyError(label, problems)
    return geo
