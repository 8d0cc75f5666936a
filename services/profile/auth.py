"""Bearer-token authentication, scope and tenant checks, and a limit on failed attempts."""

from __future__ import annotations

import hmac
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.profile.data import tokens
from services.profile.db import Database
from services.profile.problems import Problem
from services.profile.tokens import SCOPES, token_hash

log = structlog.get_logger(__name__)

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer ct_...`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="contacts"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's tenant (``*`` for ops) and scopes."""

    token_id: uuid.UUID | None
    tenant_id: str
    scopes: frozenset[str]
    expires_at: datetime | None = None

    def may_act_for(self, tenant_id: str) -> bool:
        """True when the token belongs to ``tenant_id`` or to ops."""
        return self.tenant_id in ("*", tenant_id)


class FailureLimiter:
    """Sliding window of failed authentications per client IP, in memory."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures[client]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) < self.limit:
            if not times:
                self._failures.pop(client, None)
            return 0.0
        return max(times[0] + self.window - now, 1.0)

    def record(self, client: str) -> None:
        """Count one failure."""
        self._recent(client, time.monotonic()).append(time.monotonic())


class TokenCache:
    """Principals of tokens found valid, by token hash, trusted for ``seconds`` (0: never):
    a revocation made elsewhere (the CLI, another replica) is seen within that delay. Only
    valid tokens are kept, so a wrong or revoked token is looked up each time."""

    MAX_ENTRIES = 10_000  # live tokens; beyond it the cache starts again empty

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[bytes, tuple[float, Principal]] = {}

    def get(self, digest: bytes) -> Principal | None:
        """The principal kept for ``digest``, unless its time or the token's expiry is past."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        until, principal = entry
        expires = principal.expires_at
        if until <= self.clock() or (expires is not None and expires <= datetime.now(UTC)):
            del self._entries[digest]
            return None
        return principal

    def put(self, digest: bytes, principal: Principal) -> None:
        """Keep a principal just resolved from the database."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[digest] = (self.clock() + self.seconds, principal)


class Authenticator:
    """Resolves a bearer token to a principal: the dev token, else the api_tokens table (through
    a short-lived cache of the tokens found valid)."""

    def __init__(
        self,
        db: Database,
        limiter: FailureLimiter,
        dev_token: str | None,
        cache: TokenCache | None = None,
    ) -> None:
        self.db = db
        self.limiter = limiter
        self.dev_token = dev_token
        self.cache = cache or TokenCache(0)

    async def principal(self, token: str | None, client: str) -> Principal:
        """The caller behind ``token``; 401 (or 429 after too many failures) otherwise."""
        wait = self.limiter.blocked(client)
        if wait:
            raise Problem(
                429, "too many failed authentications", headers={"Retry-After": str(int(wait) + 1)}
            )
        found = await self._resolve(token) if token else None
        if found is None:
            self.limiter.record(client)
            log.info("auth.failed", client=client, reason="missing" if not token else "invalid")
            raise Problem(401, "a valid bearer token is required", headers=_CHALLENGE)
        return found

    async def _resolve(self, token: str) -> Principal | None:
        if self.dev_token and hmac.compare_digest(token.encode(), self.dev_token.encode()):
            return Principal(None, "*", SCOPES)
        return await self._stored(token_hash(token))

    async def by_digest(self, digest: bytes) -> Principal | None:
        """The principal behind a token known by its hash (a console session keeps the hash,
        never the token, and checks it again on each request); None once revoked or expired."""
        if self.dev_token and hmac.compare_digest(digest, token_hash(self.dev_token)):
            return Principal(None, "*", SCOPES)
        return await self._stored(digest)

    async def _stored(self, digest: bytes) -> Principal | None:
        if (cached := self.cache.get(digest)) is not None:
            return cached
        async with self.db.connection() as conn:
            row = await tokens.lookup(conn, digest)
        if row is None or not hmac.compare_digest(bytes(row["token_hash"]), digest):
            return None
        now = datetime.now(UTC)
        if row["revoked_at"] is not None or (row["expires_at"] and row["expires_at"] <= now):
            return None
        principal = Principal(
            row["id"], row["tenant_id"], frozenset(row["scopes"]), row["expires_at"]
        )
        self.cache.put(digest, principal)
        return principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, allowed ``scope`` on the path's tenant (401 / 403 otherwise)."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        auth: Authenticator = request.app.state.authenticator
        client = request.client.host if request.client else "unknown"
        principal = await auth.principal(credentials.credentials if credentials else None, client)
        tenant = request.path_params.get("tenant")
        if tenant is not None and not principal.may_act_for(tenant):
            raise Problem(403, "this token does not belong to this tenant")
        if tenant is None and principal.tenant_id != "*":
            raise Problem(403, "an ops token is required")
        if scope not in principal.scopes:
            raise Problem(403, f"this token lacks the {scope!r} scope")
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency
