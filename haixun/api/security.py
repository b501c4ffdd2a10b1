"""FastAPI dependencies: who is calling (JWT or API key) and may they."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import jwt
from fastapi import Depends, HTTPException, Request, status

from haixun.api.auth import Principal, decode_jwt, key_digest, key_prefix
from haixun.api.context import ApiContext, get_ctx
from haixun.store import accounts

_UNAUTH = {"WWW-Authenticate": "Bearer"}


async def current_principal(request: Request, ctx: ApiContext = Depends(get_ctx)) -> Principal:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return await _from_api_key(ctx, api_key)
    authz = request.headers.get("authorization", "")
    scheme, _, token = authz.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "credentials required (Bearer token or X-API-Key)",
                            headers=_UNAUTH)
    try:
        claims = decode_jwt(ctx.settings.jwt_secret, token.strip())
    except jwt.InvalidTokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers=_UNAUTH) from None
    # The user must still exist and be active; the role is read fresh.
    async with ctx.db().connection() as conn:
        user = await accounts.active_user(conn, claims["sub"])
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "user unknown or disabled", headers=_UNAUTH)
    return Principal(name=user.username, role=user.role, via="jwt")


async def _from_api_key(ctx: ApiContext, key: str) -> Principal:
    prefix = key_prefix(key)
    if prefix is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "malformed API key", headers=_UNAUTH)
    async with ctx.db().connection() as conn:
        holder = await accounts.use_api_key(conn, prefix, key_digest(key))
    if holder is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers=_UNAUTH)
    return Principal(name=holder.name, role=holder.role, via="api_key", sources=tuple(holder.sources))


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    async def dep(p: Principal = Depends(current_principal)) -> Principal:
        if not p.has_role(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {role!r} required (you are {p.role!r})")
        return p
    dep.__name__ = f"require_{role}"
    return dep


async def require_feed_writer(source: str, p: Principal = Depends(current_principal)) -> Principal:
    """duty (or higher) users and keys, or a ``feed`` key allowed for this source."""
    if p.role == "feed":
        if p.sources and source not in p.sources:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this key may not post to source {source!r}")
        return p
    if not p.has_role("duty"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "role 'duty' or a feed API key required")
    return p
