"""Authenticated endpoints: login, alarm ack, overrides, thresholds, feeds,
shelter/road status, audit. Every change writes audit_log in the same transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from haixun.api.alarms import AlarmOut, alarm_json
from haixun.api.auth import Principal, issue_jwt, needs_rehash
from haixun.api.context import ApiContext, get_ctx
from haixun.api.errors import check_text, check_ts
from haixun.api.feeds import feed_json, list_feeds
from haixun.api.live import iso
from haixun.api.models import (
    AuditOut,
    FeedOut,
    FeedStatusOut,
    Items,
    LoginOut,
    MeOut,
    OverrideOut,
    RoadOut,
    ShelterOut,
    ThresholdsOut,
    ThresholdVersionOut,
)
from haixun.api.places import road_items, shelter_items
from haixun.api.rows import opt_row_json, row_json
from haixun.api.security import current_principal, require, require_feed_writer
from haixun.api.thresholds import parse_config, parse_stored_config
from haixun.errors import Conflict, InvalidInput, NotFound
from haixun.riskcode import FeedKind
from haixun.store import accounts, bulletins
from haixun.store import alarms as store_alarms
from haixun.store import audit as store_audit
from haixun.store import overrides as store_overrides
from haixun.store import places as store_places
from haixun.store import thresholds as store_thresholds
from haixun.store.audit import write_audit
from haixun.store.bulletins import FeedValues, ReferencedFeed
from haixun.store.places import Place

router = APIRouter(prefix="/api/v1", tags=["duty and admin"])

# Text PostgreSQL can store (no NUL) and timestamps it and Python can convert (errors.check_ts).
SafeStr = Annotated[str, AfterValidator(lambda v: check_text(v))]
SafeTs = Annotated[datetime, AfterValidator(lambda v: check_ts(v) if v.tzinfo is not None else v)]

SetLevel = Literal["none", "blue", "yellow", "orange", "red"]
MAX_OVERRIDE = timedelta(days=7)


# ---------------------------------------------------------------- auth
class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)

    @field_validator("username", "password")
    @classmethod
    def _no_nul(cls, v: str) -> str:
        return check_text(v, "username and password")


def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies, --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


async def _audit_login_failure(ctx: ApiContext, username: str, addr: str, reason: str) -> None:
    async with ctx.db().connection() as conn:
        await write_audit(conn, actor=f"anon:{addr}", action="auth.login.failed", target=f"user:{username}",
                          before=None, after={"reason": reason, "address": addr})


@router.post("/auth/login", tags=["auth"], summary="User + password -> JWT",
             responses={401: {"description": "wrong user name or password"},
                        429: {"description": "too many failed logins for this user name or address"}},
             response_model=LoginOut)
async def login(body: LoginIn, request: Request, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    addr = client_address(request)
    wait, who = ctx.login_limiter.retry_after(body.username, addr)
    if wait > 0:
        ctx.metrics.logins.labels("throttled").inc()
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed logins for this {who}; try again in {int(wait) + 1} s",
                            headers={"Retry-After": str(int(wait) + 1)})
    async with ctx.db().connection() as conn:
        row = await accounts.login_user(conn, body.username)
    # An unknown user name costs one hash like a known one (dummy hash): no enumeration by timing.
    ok = await ctx.hasher.verify(body.password, row.password_hash if row else None)
    if not ok or row is None:
        ctx.login_limiter.failed(body.username, addr)
        ctx.metrics.logins.labels("failed").inc()
        await _audit_login_failure(ctx, body.username, addr, "wrong password" if row else "unknown user")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    ctx.login_limiter.succeeded(body.username)
    ctx.metrics.logins.labels("ok").inc()
    # an older scheme or weaker parameters: today's hash from now on
    new_hash = await ctx.hasher.hash(body.password) if needs_rehash(row.password_hash) else None
    async with ctx.db().connection() as conn:
        await accounts.record_login(conn, row, new_hash)
    token, exp = issue_jwt(ctx.settings.jwt_secret, row.username, row.role, ctx.options.jwt_ttl_s)
    return {"access_token": token, "token_type": "bearer", "expires_at": iso(exp), "role": row.role,
            "username": row.username}


@router.get("/auth/me", tags=["auth"], response_model=MeOut)
async def me(p: Principal = Depends(current_principal)) -> dict[str, Any]:
    return {"username": p.name, "role": p.role, "via": p.via}


# ---------------------------------------------------------------- alarms
class AckIn(BaseModel):
    comment: SafeStr = Field(default="", max_length=2000)


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge an alarm (duty)", response_model=AlarmOut)
async def ack_alarm(alarm_id: int, body: AckIn, p: Principal = Depends(require("duty")),
                    ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    async with ctx.db().connection() as conn, conn.transaction():
        before = await store_alarms.alarm(conn, alarm_id, for_update=True)
        if before is None:
            raise NotFound(f"unknown alarm {alarm_id}")
        if before.acknowledged_at is not None:
            raise Conflict(f"alarm {alarm_id} already acknowledged by {before.acknowledged_by}")
        after = await store_alarms.acknowledge(conn, alarm_id, actor=p.actor, comment=body.comment)
        await write_audit(conn, actor=p.actor, action="alarm.ack", target=f"level_changes:{alarm_id}",
                          before=alarm_json(before), after=alarm_json(after), comment=body.comment)
    return alarm_json(after)


# ---------------------------------------------------------------- overrides
class OverrideIn(BaseModel):
    level: SetLevel
    reason: SafeStr = Field(min_length=3, max_length=2000)
    expires_at: SafeTs | None = None
    duration_min: int | None = Field(default=None, ge=1, le=int(MAX_OVERRIDE.total_seconds() // 60))

    @model_validator(mode="after")
    def _expiry(self) -> OverrideIn:
        if (self.expires_at is None) == (self.duration_min is None):
            raise ValueError("give exactly one of expires_at or duration_min")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a UTC offset")
        return self


# Override times are on the system clock (settings.clock: a replay clock during a replay), the time the
# engine judges validity by (store/overrides.py); the audit log keeps wall-clock times.
@router.post("/segments/{segment_id}/override", status_code=201, summary="Manual level override (duty)",
             response_model=OverrideOut)
async def set_override(segment_id: str, body: OverrideIn, p: Principal = Depends(require("duty")),
                       ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    if segment_id not in ctx.geo.segments:
        raise NotFound(f"unknown segment {segment_id!r}")
    now = ctx.settings.clock.now()
    expires = body.expires_at or now + timedelta(minutes=body.duration_min or 0)
    if not now < expires <= now + MAX_OVERRIDE:
        raise InvalidInput("expires_at must be in the future and at most 7 days ahead")
    async with ctx.db().connection() as conn, conn.transaction():
        before = await store_overrides.active_override(conn, segment_id, now, for_update=True)
        if before:  # one active override per segment: the new one replaces it
            await store_overrides.clear_override(conn, before.id, now=now, actor=p.actor)
        after = await store_overrides.insert_override(conn, segment_id=segment_id, level=body.level,
                                                      reason=body.reason, actor=p.actor, now=now, expires_at=expires)
        await write_audit(conn, actor=p.actor, action="segment.override.set", target=f"segment:{segment_id}",
                          before=opt_row_json(before), after=row_json(after), comment=body.reason)
    return row_json(after)


class ClearIn(BaseModel):
    reason: SafeStr = Field(default="", max_length=2000)


@router.delete("/segments/{segment_id}/override", summary="Clear the active override (duty)",
               response_model=OverrideOut)
async def clear_override(segment_id: str, body: ClearIn | None = None, p: Principal = Depends(require("duty")),
                         ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    reason = body.reason if body else ""
    now = ctx.settings.clock.now()
    async with ctx.db().connection() as conn, conn.transaction():
        before = await store_overrides.active_override(conn, segment_id, now, for_update=True)
        if before is None:
            raise NotFound(f"no active override on {segment_id!r}")
        after = await store_overrides.clear_override(conn, before.id, now=now, actor=p.actor)
        await write_audit(conn, actor=p.actor, action="segment.override.clear", target=f"segment:{segment_id}",
                          before=row_json(before), after=row_json(after), comment=reason)
    return row_json(after)


@router.get("/overrides", summary="Active overrides (viewer)", response_model=Items[OverrideOut])
async def get_overrides(_: Principal = Depends(require("viewer")), ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    async with ctx.db().connection() as conn:
        rows = await store_overrides.active_overrides(conn, ctx.settings.clock.now())
    return {"items": [row_json(r) for r in rows]}


# ---------------------------------------------------------------- thresholds
class ThresholdsIn(BaseModel):
    format: Literal["toml", "json"]
    text: SafeStr = Field(min_length=1, max_length=1_000_000)
    comment: SafeStr = Field(default="", max_length=2000)


@router.get("/thresholds", summary="Active threshold configuration (viewer)", response_model=ThresholdsOut,
            response_model_exclude_unset=True)
async def get_thresholds(_: Principal = Depends(require("viewer")), ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    async with ctx.db().connection() as conn:
        row = await store_thresholds.active_text(conn)
    if row is None:
        from haixun.riskcode.config import DEFAULT_CONFIG_PATH
        return {"id": None, "version": ctx.risk_config.version, "format": "toml", "active": True,
                "text": DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), "created_at": None,
                "created_by": "packaged default", "comment": "riskcode.toml shipped with the code"}
    return row_json(row)


@router.get("/thresholds/versions", summary="All threshold versions, newest first (viewer)",
            response_model=Items[ThresholdVersionOut])
async def get_threshold_versions(_: Principal = Depends(require("viewer")),
                                 ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    async with ctx.db().connection() as conn:
        rows = await store_thresholds.versions(conn)
    return {"items": [row_json(r) for r in rows]}


@router.post("/thresholds", status_code=201, summary="Save and activate a new threshold version (admin)",
             response_model=ThresholdVersionOut)
async def post_thresholds(body: ThresholdsIn, p: Principal = Depends(require("admin")),
                          ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    cfg = parse_config(body.format, body.text)  # ConfigError: the 422 of the domain-error handler
    digest = hashlib.sha256(body.text.encode()).hexdigest()
    async with ctx.db().connection() as conn, conn.transaction():
        before = await store_thresholds.lock_versions(conn)
        # on commit, its NOTIFY: every API process reloads the active version (app._reload_thresholds)
        after = await store_thresholds.save_active(conn, version=cfg.version, fmt=body.format, text=body.text,
                                                   sha256=digest, actor=p.actor, comment=body.comment)
        await write_audit(conn, actor=p.actor, action="thresholds.save", target=f"threshold_versions:{after.id}",
                          before=opt_row_json(before), after=row_json(after), comment=body.comment)
    ctx.use_config(cfg, (after.id, after.sha256))
    return row_json(after)


@router.post("/thresholds/versions/{version_id}/activate", summary="Re-activate an older version (admin)",
             response_model=ThresholdVersionOut)
async def activate_thresholds(version_id: int, p: Principal = Depends(require("admin")),
                              ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    async with ctx.db().connection() as conn, conn.transaction():
        before = await store_thresholds.lock_versions(conn)
        stored = await store_thresholds.version_body(conn, version_id)
        if stored is None:
            raise NotFound(f"unknown threshold version {version_id}")
        # valid when saved, but riskcode's rules may have changed since: StoredConfigInvalid, a 422
        cfg = parse_stored_config(stored.format, stored.body)
        after = await store_thresholds.activate(conn, version_id)
        await write_audit(conn, actor=p.actor, action="thresholds.activate", target=f"threshold_versions:{version_id}",
                          before=opt_row_json(before), after=row_json(after))
    ctx.use_config(cfg, (after.id, after.sha256))
    return row_json(after)


# ---------------------------------------------------------------- official feeds
class FeedArea(BaseModel):
    segments: list[str] | None = Field(default=None, min_length=1)
    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=3)

    @model_validator(mode="after")
    def _one(self) -> FeedArea:
        if (self.segments is None) == (self.polygon is None):
            raise ValueError("area needs exactly one of 'segments' or 'polygon'")
        if self.polygon is not None:
            for lon, lat in self.polygon:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError("polygon points are [lon, lat] in WGS84")
            if self.polygon[0] != self.polygon[-1]:
                self.polygon.append(self.polygon[0])
            if len(self.polygon) < 4:
                raise ValueError("polygon needs at least 3 distinct points")
        return self


def _reference_ids(v: Any) -> list[str]:
    """CAP ``references``: a space-separated string or a list; each entry an identifier or a CAP
    triple ``sender,identifier,sent`` (the identifier is taken)."""
    if v is None:
        return []
    items = v.split() if isinstance(v, str) else v
    if not isinstance(items, list):
        raise ValueError("references: a list of identifiers or a space-separated string")
    out: list[str] = []
    for it in items:
        if not isinstance(it, str) or not it.strip():
            raise ValueError("references: every entry is a non-empty identifier")
        parts = it.strip().split(",")
        ident = parts[1] if len(parts) == 3 else it.strip()
        check_text(ident, "references")
        if not ident or len(ident) > 200:
            raise ValueError("references: identifiers have 1 to 200 characters")
        if ident not in out:
            out.append(ident)
    if len(out) > 50:
        raise ValueError("references: at most 50 identifiers")
    return out


class FeedForecast(BaseModel):
    """Numbers of a forecast bulletin; only ``peak_surge_m`` of a surge_forecast is used (issue 13:
    it ranks above the local surge projection). Other keys are kept out of the store."""

    peak_surge_m: float | None = Field(default=None, ge=-3.0, le=10.0, allow_inf_nan=False)
    # the forecast high water (m, CN1985) and its time: riskcode uses the surge at that high water
    peak_level_m: float | None = Field(default=None, ge=-10.0, le=15.0, allow_inf_nan=False)
    peak_at: SafeTs | None = None


class FeedIn(BaseModel):
    """A bulletin, CAP style (docs/api.md "Bulletin series"). ``identifier`` (alias ``external_id``),
    ``references``, ``msgType`` (alias ``msg_type``) and ``sent`` (alias ``issued_at``)."""

    model_config = ConfigDict(populate_by_name=True)

    issuer: SafeStr = Field(min_length=1, max_length=200)
    kind: FeedKind  # riskcode's vocabulary, the one the engine evaluates
    level: SetLevel | None = None
    area: FeedArea | None = None
    valid_from: SafeTs | None = None
    valid_to: SafeTs | None = None
    text_zh: SafeStr = Field(default="", max_length=10_000)
    text_en: SafeStr = Field(default="", max_length=10_000)
    sent: SafeTs = Field(validation_alias=AliasChoices("sent", "issued_at"))
    identifier: SafeStr | None = Field(default=None, min_length=1, max_length=200,
                                       validation_alias=AliasChoices("identifier", "external_id"))
    references: Annotated[list[str], BeforeValidator(_reference_ids)] = Field(default_factory=list)
    msg_type: Literal["Alert", "Update", "Cancel"] = Field(default="Alert",
                                                           validation_alias=AliasChoices("msgType", "msg_type"))
    forecast: FeedForecast | None = None

    @field_validator("valid_from", "valid_to", "sent")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("timestamp needs a UTC offset")
        return v

    @model_validator(mode="after")
    def _series(self) -> FeedIn:
        if self.msg_type in ("Update", "Cancel") and not self.references:
            raise ValueError(f"msgType {self.msg_type} needs references: the identifier(s) of the bulletin(s) it "
                             "replaces")
        if self.identifier is not None and self.identifier in self.references:
            raise ValueError("a bulletin cannot reference itself")
        if self.msg_type == "Cancel":
            if self.level not in (None, "none"):
                raise ValueError("a Cancel holds no level: leave level out (or 'none')")
            self.level = "none"
            if self.valid_from is None:
                self.valid_from = self.sent
        else:
            missing = [k for k in ("level", "area", "valid_from", "valid_to") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"msgType {self.msg_type} needs {', '.join(missing)}")
        if self.valid_from is not None and self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


FEED_SOURCE_PATTERN = r"^[a-z0-9_]{1,40}$"  # {source} of POST /feeds/{source}


async def _referenced(conn: Any, source: str, body: FeedIn) -> list[ReferencedFeed]:
    """The stored bulletins ``body`` references; Conflict/InvalidInput with a message when a reference is wrong."""
    if not body.references:
        return []
    found = await bulletins.referenced(conn, source, body.references)
    unknown = [r for r in body.references if r not in found]
    if unknown:
        raise Conflict(f"references unknown bulletin(s) of source {source!r}: {', '.join(unknown)} "
                       "(post the bulletin it replaces first, with that identifier)")
    for ident, r in found.items():
        if r.kind != body.kind:
            raise InvalidInput(f"bulletin {ident!r} is a {r.kind}: an {body.msg_type} of a {body.kind} "
                               "can only replace bulletins of the same kind")
        if r.msg_type == "Cancel":
            raise Conflict(f"bulletin {ident!r} is a Cancel: that series has ended (start a new one with an Alert)")
        if r.issued_at > body.sent:
            raise InvalidInput(f"bulletin {ident!r} was sent at {iso(r.issued_at)}, after this one "
                               f"({iso(body.sent)}): a bulletin only replaces earlier ones")
    return [found[i] for i in body.references]


@router.post("/feeds/{source}", status_code=201, summary="Official forecast or warning (duty or feed key)",
             response_model=FeedOut)
async def post_feed(body: FeedIn, source: str = Path(pattern=FEED_SOURCE_PATTERN),
                    p: Principal = Depends(require_feed_writer), ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    if body.area is not None and body.area.segments:
        unknown = [s for s in body.area.segments if s not in ctx.geo.segments]
        if unknown:
            raise InvalidInput(f"unknown segment(s): {', '.join(unknown)}")
    async with ctx.db().connection() as conn, conn.transaction():
        refs = await _referenced(conn, source, body)
        area = body.area.model_dump(exclude_none=True) if body.area is not None else None
        valid_from, valid_to = body.valid_from, body.valid_to
        if area is None:  # a Cancel without an area: the area of what it cancels
            segs = [sg for r in refs for sg in (r.area or {}).get("segments") or []]
            if refs and all((r.area or {}).get("segments") for r in refs):
                area = {"segments": list(dict.fromkeys(segs))}
            else:
                area = refs[0].area
        assert valid_from is not None
        if valid_to is None:  # a Cancel: its own validity does not matter (it holds no level)
            valid_to = max([r.valid_to for r in refs] + [valid_from + timedelta(seconds=1)])
        fc = body.forecast if body.kind == "surge_forecast" else None
        surge_m = fc.peak_surge_m if fc is not None else None
        peak_level_m, peak_at = (fc.peak_level_m, fc.peak_at) if fc is not None and fc.peak_at is not None else (None, None)
        values = FeedValues(source=source, external_id=body.identifier, issuer=body.issuer, kind=body.kind,
                            level=body.level, area=area, valid_from=valid_from, valid_to=valid_to,
                            text_zh=body.text_zh, text_en=body.text_en, issued_at=body.sent, received_by=p.actor,
                            msg_type=body.msg_type, refs=body.references, surge_m=surge_m,
                            peak_level_m=peak_level_m, peak_at=peak_at)
        before = None
        if body.identifier:
            before = await bulletins.feed_by_identifier(conn, source, body.identifier, for_update=True)
        if before:
            after = await bulletins.replace_feed(conn, before.id, values)
        else:
            after = await bulletins.insert_feed(conn, values)
        await write_audit(conn, actor=p.actor, action="feed.update" if before else "feed.create",
                          target=f"official_feeds:{after.id}", before=opt_row_json(before), after=row_json(after))
        # the engine recomputes at once (it LISTENs on the ingest channel), not at its next validity check
        await bulletins.announce_feed(conn, after.id)
    return feed_json(after)


@router.get("/feeds", summary="Official feeds (viewer)", response_model=Items[FeedStatusOut])
async def get_feeds(active: bool = True, _: Principal = Depends(require("viewer")),
                    ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    return {"items": await list_feeds(ctx, active_only=active)}


# ---------------------------------------------------------------- shelters and roads
class ShelterStatusIn(BaseModel):
    open: bool
    comment: SafeStr = Field(default="", max_length=2000)


class RoadStatusIn(BaseModel):
    closed: bool
    comment: SafeStr = Field(default="", max_length=2000)


async def _set_status(ctx: ApiContext, p: Principal, *, kind: Place, item_id: str, value: bool,
                      comment: str) -> None:
    """One transaction: the status column (migration 010, which load-geo then keeps because updated_by is
    not 'load-geo'), the audit row, and NOTIFY so every API process reloads its status."""
    column = store_places.status_column(kind)
    async with ctx.db().connection() as conn, conn.transaction():
        current = await store_places.lock_status(conn, kind, item_id)
        if current is None:
            raise Conflict(f"{kind} {item_id!r} is not in the database yet: run `haixun load-geo`")
        await store_places.set_status(conn, kind, item_id, value, p.actor)
        await write_audit(conn, actor=p.actor, action=f"{kind}.status", target=f"{kind}:{item_id}",
                          before={column: current}, after={column: value}, comment=comment)
    await ctx.reload_ops()


@router.post("/shelters/{shelter_id}/status", summary="Open or close a shelter (duty)", response_model=ShelterOut)
async def set_shelter(shelter_id: str, body: ShelterStatusIn, p: Principal = Depends(require("duty")),
                      ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    if shelter_id not in ctx.geo.shelters:
        raise NotFound(f"unknown shelter {shelter_id!r}")
    await _set_status(ctx, p, kind="shelter", item_id=shelter_id, value=body.open,
                      comment=body.comment)
    return next(s for s in await shelter_items(ctx) if s["id"] == shelter_id)


@router.post("/roads/{road_id}/status", summary="Close or reopen a road (duty)", response_model=RoadOut)
async def set_road(road_id: str, body: RoadStatusIn, p: Principal = Depends(require("duty")),
                   ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    if road_id not in ctx.geo.roads:
        raise NotFound(f"unknown road {road_id!r}")
    await _set_status(ctx, p, kind="road", item_id=road_id, value=body.closed,
                      comment=body.comment)
    return next(r for r in await road_items(ctx) if r["id"] == road_id)


# ---------------------------------------------------------------- audit
@router.get("/audit", summary="Audit log, newest first (admin)", response_model=Items[AuditOut])
async def get_audit(limit: Annotated[int, Query(ge=1, le=1000)] = 100, p: Principal = Depends(require("admin")),
                    ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    async with ctx.db().connection() as conn:
        rows = await store_audit.recent_audit(conn, limit)
    return {"items": [row_json(r) for r in rows]}
