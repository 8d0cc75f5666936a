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


class Authenticator:
    """Resolves a bearer token to a principal: the dev token, else the api_tokens table."""

    def __init__(self, db: Database, limiter: FailureLimiter, dev_token: str | None) -> None:
        self.db = db
        self.limiter = limiter
        self.dev_token = dev_token

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
        async with self.db.connection() as conn:
            row = await tokens.lookup(conn, digest)
        if row is None or not hmac.compare_digest(bytes(row["token_hash"]), digest):
            return None
        now = datetime.now(UTC)
        if row["revoked_at"] is not None or (row["expires_at"] and row["expires_at"] <= now):
            return None
        return Principal(row["id"], row["tenant_id"], frozenset(row["scopes"]))


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
