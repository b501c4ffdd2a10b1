"""GET /api/v1/cap: the current warnings as CAP 1.2."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from haixun.api.cap.builder import current_alert
from haixun.api.context import ApiContext, get_ctx
from haixun.api.live import iso
from haixun.api.models import CapAlertOut, Items
from haixun.errors import NotFound
from haixun.store import cap_alerts

router = APIRouter(prefix="/api/v1/cap", tags=["CAP"])
CAP_MEDIA = "application/cap+xml"


@router.get("", summary="Current warnings as one CAP 1.2 alert (Alert/Update/Cancel)",
            responses={200: {"content": {CAP_MEDIA: {"schema": {"type": "string"}}}, "description": "CAP 1.2 XML"},
                       204: {"description": "no warning, nothing to cancel"}})
async def get_cap(ctx: ApiContext = Depends(get_ctx)) -> Response:
    async with ctx.db().connection() as conn:
        alert = await current_alert(conn, ctx.geo, ctx.live.body)
    if alert is None:
        return Response(status_code=204)
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + alert.xml, media_type=CAP_MEDIA)


@router.get("/alerts", summary="Issued CAP alerts, newest first", response_model=Items[CapAlertOut])
async def list_alerts(ctx: ApiContext = Depends(get_ctx)) -> dict[str, object]:
    async with ctx.db().connection() as conn:
        rows = await cap_alerts.recent_alerts(conn, 200)
    return {"items": [{"identifier": r.identifier, "sent": iso(r.sent), "msg_type": r.msg_type,
                       "references": r.refs, "fingerprint": r.fingerprint} for r in rows]}


@router.get("/alerts/{identifier}", summary="One issued CAP alert",
            responses={200: {"content": {CAP_MEDIA: {"schema": {"type": "string"}}}, "description": "CAP 1.2 XML"}})
async def get_alert(identifier: str, ctx: ApiContext = Depends(get_ctx)) -> Response:
    async with ctx.db().connection() as conn:
        xml = await cap_alerts.alert_xml(conn, identifier)
    if xml is None:
        raise NotFound(f"unknown alert {identifier!r}")
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + xml, media_type=CAP_MEDIA)
