"""Input and output records of the risk engine (pure data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from haixun.riskcode.levels import Level, Status


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


class SegmentWarningLevels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    blue: float
    yellow: float
    orange: float
    red: float


class SegmentSpec(BaseModel):
    """One ``seawall_segment`` feature of the geography (docs/data-model.md).

    Accepts exactly the documented properties (plus ``layer`` and ``assumed``
    from the common feature schema) and the crest line ``coords`` (lon, lat).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str
    name_en: str
    town_id: str
    structure: Literal["sloped_dike", "vertical_wall"]
    crest_level_m: float
    slope_tan: float = Field(gt=0)
    toe_level_m: float
    foreshore_slope: float = Field(ge=0)
    roughness_gamma_f: float = Field(gt=0, le=1)
    # EurOtop section geometry: a berm on the seaward slope (width 0: none) and a wave wall on the crest
    # (``crest_level_m`` is the wall's top); absent = none, i.e. gamma_b = gamma_v = gamma* = 1.
    berm_width_m: float = Field(default=0.0, ge=0)
    berm_level_m: float | None = None
    wave_wall_height_m: float = Field(default=0.0, ge=0)
    wave_wall_angle_deg: float | None = Field(default=None, gt=0, le=90)
    warning_levels_m: SegmentWarningLevels | None = None
    tide_station: str
    wind_station: str
    wave_station: str
    orientation_deg: float = Field(ge=0, lt=360)
    layer: Literal["seawall_segment"] = "seawall_segment"
    assumed: list[str] = Field(default_factory=list)
    coords: tuple[tuple[float, float], ...] = Field(min_length=2)

    @field_validator("coords")
    @classmethod
    def _lonlat(cls, v: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        for lon, lat in v:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"coordinate ({lon}, {lat}) is not WGS84 lon/lat")
        return v

    @classmethod
    def from_feature(cls, feature: dict[str, Any]) -> SegmentSpec:
        """Build from a GeoJSON Feature (LineString geometry)."""
        geom = feature.get("geometry") or {}
        if geom.get("type") != "LineString":
            raise ValueError(f"segment {feature.get('properties', {}).get('id')!r}: geometry must be a LineString")
        return cls.model_validate({**feature["properties"], "coords": [tuple(c[:2]) for c in geom["coordinates"]]})


@dataclass(frozen=True, slots=True)
class Observation:
    """Latest reading of one quantity at one station."""

    value: float
    ts: datetime
    qc: int = 1


@dataclass(frozen=True, slots=True)
class HazardReason:
    """Why a hazard has its level. ``value``/``threshold`` in ``unit``."""

    hazard: str
    level: Level
    value: float | None
    unit: str
    threshold: float | None
    threshold_source: str
    input_ts: datetime | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "hazard": self.hazard,
            "level": self.level.value,
            "value": None if self.value is None else round(self.value, 4),
            "unit": self.unit,
            "threshold": self.threshold,
            # docs/state.md calls it "source"; the issue calls it threshold_source: both, same value.
            "source": self.threshold_source,
            "threshold_source": self.threshold_source,
            "input_ts": iso(self.input_ts),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class CameraEventInput:
    """``camera_kind``: the camera's sensor kind (geography ``kind``: thermal_ptz, starlight_dome);
    only a camera of another kind corroborates (empty: unknown, taken as the same kind)."""

    camera_id: str
    ts: datetime
    type: str
    confidence: float
    segment_ids: tuple[str, ...]
    camera_kind: str = ""


# The official feed kinds of the domain: the API's POST /api/v1/feeds/{source}
# accepts exactly these, the engine passes them through unchanged.
FeedKind = Literal["surge_forecast", "wave_forecast", "typhoon_warning", "gale_warning", "red_tide"]
FEED_KINDS: tuple[str, ...] = get_args(FeedKind)


MSG_TYPES: tuple[str, ...] = ("Alert", "Update", "Cancel")


@dataclass(frozen=True, slots=True)
class FeedItem:
    """An official warning/forecast. ``segment_ids`` or ``polygon`` (lon, lat ring); neither = whole shoreline.

    CAP-style series fields (docs/riskcode.md "Bulletin series"): ``source`` (the feed, e.g.
    ``zj_marine``), ``identifier`` (the bulletin id of its source), ``references`` (identifiers of
    the same source it replaces), ``msg_type`` Alert / Update / Cancel, ``sent`` (None: ``valid_from``)
    and ``seq`` (arrival order, breaks ties of ``sent``)."""

    id: str
    issuer: str
    kind: FeedKind
    level: Level
    valid_from: datetime
    valid_to: datetime | None
    text: str = ""
    segment_ids: tuple[str, ...] = ()
    polygon: tuple[tuple[float, float], ...] = ()
    source: str = ""
    identifier: str = ""
    references: tuple[str, ...] = ()
    msg_type: str = "Alert"
    sent: datetime | None = None
    seq: int = 0
    # surge_forecast feeds: the forecast surge (m) for high waters inside the validity window
    # (ranks above the local projection, docs/riskcode.md "Surge forecast"); None: level only
    surge_m: float | None = None
    # ... and its forecast high water (m, CN1985) and time, when the bulletin names them: the surge
    # AT that high water (level minus the astronomical tide then) is what it forecasts for high
    # waters; a bare peak surge may fall at low water (an upper bound only)
    peak_level_m: float | None = None
    peak_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Inside its validity window (supersession aside: see ``riskcode.feeds.effective_feeds``)."""
        return self.valid_from <= now and (self.valid_to is None or now < self.valid_to)

    @property
    def sent_at(self) -> datetime:
        return self.sent if self.sent is not None else self.valid_from

    @property
    def is_cancel(self) -> bool:
        return self.msg_type == "Cancel"


@dataclass(frozen=True, slots=True)
class Override:
    """Duty officer's manual level for a segment (``segment_id=None``: all segments)."""

    segment_id: str | None
    level: Level
    reason: str
    expires_at: datetime
    by: str
    set_at: datetime

    def active(self, now: datetime) -> bool:
        return self.set_at <= now < self.expires_at


@dataclass(frozen=True, slots=True)
class NextHighWater:
    at: datetime
    level_m: float
    predicted_m: float
    surge_m: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": iso(self.at), "level_m": round(self.level_m, 3), "predicted_m": round(self.predicted_m, 3),
                "surge_m": round(self.surge_m, 3), "method": self.method}


@dataclass(frozen=True, slots=True)
class TimeToThreshold:
    level: Level
    threshold_m: float
    at: datetime
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level.value, "threshold_m": self.threshold_m, "at": iso(self.at), "seconds": round(self.seconds)}


@dataclass(frozen=True, slots=True)
class SegmentDecision:
    """Raw decision for one segment at ``decided_at`` (before hysteresis).

    ``raw_level``/``floor``: the raw status (``unknown`` with ``floor`` = worst known level, local
    and official, when a key hazard is unknown; docs/riskcode.md "Unknown and its floor").
    ``unknown_hazards``: key hazards unknown now. ``sensors_offline``: every sensor hazard
    (storm tide, wave, wind) unknown; ``sensors_offline_since``: the newest reading of the
    segment's stations (None: never any)."""

    segment_id: str
    raw_level: Level
    local_level: Level
    hazards: tuple[HazardReason, ...]
    decided_at: datetime
    config_version: str
    overtopping_lpsm: float | None = None
    freeboard_m: float | None = None
    overtopping_equation: str | None = None
    overtopping_design_lpsm: float | None = None  # design/assessment coefficients (upper end of the band)
    next_high_water: NextHighWater | None = None
    time_to_threshold: TimeToThreshold | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # per resident-facing hazard group (flood, wind, red_tide): raw status, before hysteresis
    hazard_status: dict[str, Status] = field(default_factory=dict)
    floor: Level = Level.NONE
    local_floor: Level = Level.NONE
    official_level: Level = Level.NONE
    unknown_hazards: tuple[str, ...] = ()
    sensors_offline: bool = False
    sensors_offline_since: datetime | None = None

    @property
    def raw(self) -> Status:
        return Status(self.raw_level, self.floor)

    @property
    def local(self) -> Status:
        return Status(self.local_level, self.local_floor)

    @property
    def official_only(self) -> bool:
        """Sensors all offline while an official bulletin sets a warning colour."""
        return self.sensors_offline and self.official_level.is_warning
