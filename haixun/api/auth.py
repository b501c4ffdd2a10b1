"""Passwords, API keys, JWTs and role checks.

Passwords are hashed with argon2id (argon2-cffi) at OWASP's parameters
(m=19 MiB, t=2, p=1). Hashes of older releases (``scrypt$N$r$p$salt$hash``,
N=2^14) still verify and are replaced by an argon2id hash at the next
successful login (``needs_rehash``). Hashing is CPU- and memory-heavy: the
API runs it in a small dedicated thread pool (``PasswordHasherPool``), never on
the event loop. API keys are 32 random bytes, so a single SHA-256 is enough to
store them (a slow hash only helps low-entropy secrets); they are compared in
constant time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from haixun.errors import HaixunError

ROLES = ("viewer", "duty", "admin")
KEY_ROLES = (*ROLES, "feed")
_RANK = {"feed": 0, "viewer": 1, "duty": 2, "admin": 3}

# OWASP Password Storage Cheat Sheet (2023-): argon2id, m=19 MiB, t=2, p=1.
ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM = 2, 19 * 1024, 1
_HASHER = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM)
_LEGACY_SCRYPT_MAXMEM = 256 * 1024 * 1024

# The published default of older releases: never accepted as a signing key.
INSECURE_JWT_SECRETS = frozenset({"", "change-me-in-production", "changeme", "secret"})
MIN_JWT_SECRET_CHARS = 32


class InsecureSecret(HaixunError, ValueError):
    pass


def check_jwt_secret(secret: str) -> None:
    """Raises InsecureSecret unless ``secret`` may sign tokens (set, not a published default, >= 32 chars)."""
    if secret.strip() in INSECURE_JWT_SECRETS:
        raise InsecureSecret("HAIXUN_JWT_SECRET is not set (or is the published default 'change-me-in-production'): "
                             "set it to a random value, e.g. HAIXUN_JWT_SECRET=$(openssl rand -hex 32) "
                             "(docs/operations.md, secrets)")
    if len(secret) < MIN_JWT_SECRET_CHARS:
        raise InsecureSecret(f"HAIXUN_JWT_SECRET has {len(secret)} characters; at least {MIN_JWT_SECRET_CHARS} "
                             "are needed (e.g. $(openssl rand -hex 32))")


# HAIXUN_METRICS_TOKEN, when set, lets any address read /metrics: guessable ones are refused like the JWT's.
MIN_METRICS_TOKEN_CHARS = 16


def check_metrics_token(token: str) -> None:
    """Raises InsecureSecret for a set but weak metrics token (unset is fine: loopback callers only)."""
    if token and (token.strip() in INSECURE_JWT_SECRETS or len(token) < MIN_METRICS_TOKEN_CHARS):
        raise InsecureSecret(f"HAIXUN_METRICS_TOKEN is set but weak ({len(token)} characters, at least "
                             f"{MIN_METRICS_TOKEN_CHARS} random ones are needed, e.g. $(openssl rand -hex 16)); "
                             "leave it unset to serve /metrics to loopback callers only")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    return _HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p),
                            dklen=len(hash_hex) // 2, maxmem=_LEGACY_SCRYPT_MAXMEM)
    return hmac.compare_digest(digest.hex(), hash_hex)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (argon2id, or a legacy scrypt hash). Never raises."""
    try:
        if stored.startswith("$argon2"):
            return _HASHER.verify(stored, password)
        return _verify_scrypt(password, stored)
    except (VerificationError, InvalidHashError, ValueError, TypeError, MemoryError):
        return False


def needs_rehash(stored: str) -> bool:
    """A hash of another scheme or of weaker parameters than today's: replace it at the next login."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


_DUMMY_HASH: str | None = None


def dummy_hash() -> str:
    """A hash of a random password with today's parameters: an unknown user name is verified against it,
    so it costs as long as a wrong password for a known one (no user enumeration by timing)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(24))
    return _DUMMY_HASH


class PasswordHasherPool:
    """Password hashing off the event loop, in ``threads`` worker threads (argon2-cffi releases the GIL;
    each hash holds ARGON2_MEMORY_KIB, so the pool size bounds the memory too)."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = max(1, threads)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="haixun-pwhash")
        return self._executor

    async def verify(self, password: str, stored: str | None) -> bool:
        """``stored`` None: an unknown user, verified against the dummy hash (always False)."""
        loop = asyncio.get_running_loop()
        if stored is None:
            await loop.run_in_executor(self.executor, verify_password, password, dummy_hash())
            return False
        return await loop.run_in_executor(self.executor, verify_password, password, stored)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.executor, hash_password, password)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


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
