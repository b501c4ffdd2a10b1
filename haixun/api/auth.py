"""Passwords, API keys, JWTs and role checks.

Passwords are hashed with ``hashlib.scrypt`` from the standard library (a
memory-hard KDF; no extra dependency needed). API keys are 32 random bytes,
so a single SHA-256 is enough to store them (a slow hash only helps
low-entropy secrets); they are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ROLES = ("viewer", "duty", "admin")
KEY_ROLES = (*ROLES, "feed")
_RANK = {"feed": 0, "viewer": 1, "duty": 2, "admin": 3}

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p),
                                dklen=len(hash_hex) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), hash_hex)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    prefix: str
    key: str          # shown once
    sha256: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(4)
    key = f"hx_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(prefix=prefix, key=key, sha256=key_digest(key))


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "hx" or not parts[1]:
        return None
    return parts[1]


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    via: str                          # "jwt" | "api_key"
    sources: tuple[str, ...] = ()     # feed restriction for API keys (empty = all)

    @property
    def actor(self) -> str:
        return f"{'user' if self.via == 'jwt' else 'key'}:{self.name}"

    def has_role(self, needed: str) -> bool:
        if self.role == "feed":
            return needed == "feed"
        return _RANK[self.role] >= _RANK[needed]


def issue_jwt(secret: str, username: str, role: str, ttl_s: int, now: datetime | None = None) -> tuple[str, datetime]:
    now = now or datetime.now(UTC)
    exp = now + timedelta(seconds=ttl_s)
    token = jwt.encode({"sub": username, "role": role, "iat": int(now.timestamp()), "exp": int(exp.timestamp()),
                        "iss": "haixun"}, secret, algorithm="HS256")
    return token, exp


def decode_jwt(secret: str, token: str) -> dict[str, Any]:
    """Raises ``jwt.InvalidTokenError`` for anything not valid now."""
    return jwt.decode(token, secret, algorithms=["HS256"], issuer="haixun", options={"require": ["exp", "sub"]})
