"""Response bodies of the HTTP routes, as pydantic models: /openapi.json documents every body.

Timestamps are RFC 3339 strings (the routes format them). Bodies built from the engine's state
(segment properties, the risk code, warning areas) name the fields clients use and allow the rest
(``extra="allow"``): the state's entries carry more than the API promises. Models whose routes
return pre-serialised bytes or a file (``RiskOut``, ``GeographyOut``) document the body only.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from haixun.api.alarms import AlarmOut

T = TypeVar("T")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Items(BaseModel, Generic[T]):
    items: list[T]


# ---------------------------------------------------------------- health
class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    ready: bool
    checks: dict[str, dict[str, Any]] = Field(description="database, broker, engine_leader, data_freshness: "
                                                          "each with ``ok`` and its detail")


# ---------------------------------------------------------------- auth
class LoginOut(BaseModel):
    access_token: str
    token_type: str
    expires_at: str | None
    role: str
    username: str


class MeOut(BaseModel):
    username: str
    role: str
    via: str


# ---------------------------------------------------------------- overrides, thresholds, audit
class OverrideOut(BaseModel):
    id: int
    segment_id: str
    level: str
    reason: str
    created_by: str
    created_at: str
    expires_at: str
    cleared_at: str | None
    cleared_by: str | None


class ThresholdVersionOut(BaseModel):
    id: int | None
    version: str
    format: str
    sha256: str | None = None
    active: bool
    created_at: str | None
    created_by: str
    comment: str


class ThresholdsOut(ThresholdVersionOut):
    text: str


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    comment: str | None


# ---------------------------------------------------------------- official feeds
class FeedOut(BaseModel):
    """A stored bulletin, with its CAP names (identifier, references, msgType, sent) too."""

    id: int
    source: str
    external_id: str | None
    issuer: str
    kind: str
    level: str
    area: Any = Field(description='{"segments": [...]} or {"polygon": [[lon, lat], ...]}')
    valid_from: str
    valid_to: str
    text_zh: str
    text_en: str
    issued_at: str
    received_at: str
    received_by: str
    msg_type: str
    refs: list[str]
    surge_m: float | None
    peak_level_m: float | None
    peak_at: str | None
    identifier: str | None
    references: list[str]
    msgType: str  # noqa: N815 - CAP's name
    sent: str


class FeedStatusOut(FeedOut):
    status: str | None = Field(description="effective, superseded, cancelled, cancel, expired or pending (now)")
    superseded_by: str | None


# ---------------------------------------------------------------- places
class ShelterOut(BaseModel):
    id: str
    village_id: str | None
    name: str
    name_en: str | None
    capacity: int | None
    address: str | None
    lat: float
    lon: float
    open: bool
    status_updated_at: str | None
    status_updated_by: str | None


class RoadOut(BaseModel):
    id: str
    name: str
    name_en: str | None
    closed: bool
    status_updated_at: str | None
    status_updated_by: str | None
    geometry: dict[str, Any]
    low_points: list[dict[str, Any]]


# ---------------------------------------------------------------- segments
class SegmentProperties(_Open):
    id: str
    name: str
    level: str
    floor: str
    label: str
    override: dict[str, Any] | None
    history: list[dict[str, Any]] | None = Field(default=None, description="GET /segments/{id} only: decisions")
    alarms: list[AlarmOut] | None = Field(default=None, description="GET /segments/{id} only: alarms")


class SegmentFeature(BaseModel):
    type: str
    id: str
    geometry: dict[str, Any]
    properties: SegmentProperties


class SegmentsOut(BaseModel):
    type: str
    seq: int
    updated_at: str | None
    features: list[SegmentFeature]


# ---------------------------------------------------------------- stations, readings, tide
class LatestValueOut(BaseModel):
    value: float | None
    ts: str | None
    qc: int | None
    age_s: float


class StationOut(_Open):
    id: str
    kind: str
    name: str
    latest: dict[str, LatestValueOut] = Field(description="quantity -> newest value")
    age_s: float | None


class StationsOut(BaseModel):
    items: list[StationOut]
    server_now: str | None


class ReadingPoint(BaseModel):
    ts: str | None
    value: float | None
    qc: int | None = None
    min: float | None = None
    max: float | None = None
    n: int | None = None


class ReadingsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    station_id: str
    quantity: str
    resolution: str
    from_: str | None = Field(alias="from")
    to: str | None
    points: list[ReadingPoint]


class TideModelOut(BaseModel):
    method: str
    fitted_at: str | None
    data_start: str | None
    data_end: str | None
    n_obs: int
    span_days: float
    rms_residual_m: float | None


class TidePoint(BaseModel):
    ts: str | None
    predicted_m: float
    observed_m: float | None
    surge_m: float | None


class TideOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    station_id: str
    from_: str | None = Field(alias="from")
    to: str | None
    step_s: int
    datum: str
    model: TideModelOut
    points: list[TidePoint]


# ---------------------------------------------------------------- warnings
class AreaWarning(_Open):
    id: str
    name: str
    level: str
    floor: str
    label: str
    grade: Any
    floor_grade: Any


class TownWarning(AreaWarning):
    counts: dict[str, int]
    villages: list[AreaWarning]


class CityWarning(AreaWarning):
    counts: dict[str, int]
    towns: list[TownWarning]


class WarningsOut(BaseModel):
    seq: int
    updated_at: str | None
    city: CityWarning
    official: list[FeedStatusOut]


class AlarmsPage(BaseModel):
    items: list[AlarmOut]
    next_before_id: int | None


# ---------------------------------------------------------------- CAP, risk, web
class CapAlertOut(BaseModel):
    identifier: str
    sent: str | None
    msg_type: str
    references: Any
    fingerprint: str


class RiskOut(_Open):
    """The location risk code (docs/api.md "Risk"): the code, the reasons, advice, shelters, roads."""

    code: str
    level: str
    floor: str | None = Field(default=None, description="the colour an unknown code is at least")
    label: str | None = None
    lang: str
    seq: int
    updated_at: str | None
    reasons: list[dict[str, Any]]
    advice: dict[str, Any]


class WebConfigOut(BaseModel):
    basemap: dict[str, str] | None
    chart_lines: dict[str, Any]
    staleness_s: dict[str, float]
    clock: dict[str, Any]
