"""Liveness, readiness, metrics, and the ops list of venues."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common import tenants
from services.profile import models
from services.profile.cursor import decode_cursor, encode_cursor
from services.profile.data import health
from services.profile.deps import AppSettings, Db, Reader
from services.profile.problems import UNAVAILABLE, Problem, problem_responses

router = APIRouter(tags=["ops"])
_TIMEOUT = 2.0


@router.get(
    "/healthz", response_model=models.Status, response_model_exclude_none=True, summary="Liveness"
)
async def healthz() -> models.Status:
    """Always ok while the process serves requests."""
    return models.Status(status="ok")


async def _broker_reachable(bootstrap: str) -> bool:
    """True when one bootstrap server accepts a TCP connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port or 9092)),
                _TIMEOUT,
            )
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False


async def _database_reachable(db: Db) -> bool:
    try:
        async with db.connection() as conn:
            await asyncio.wait_for(health.ping(conn), _TIMEOUT)
    except UNAVAILABLE:
        return False
    return True


@router.get(
    "/readyz",
    response_model=models.Status,
    responses=problem_responses(503),
    summary="Readiness: database and broker reachable",
)
async def readyz(db: Db, settings: AppSettings) -> models.Status:
    """200 when PostgreSQL answers and the broker accepts connections; 503 otherwise."""
    database, broker = await asyncio.gather(
        _database_reachable(db), _broker_reachable(settings.kafka_bootstrap)
    )
    checks = {
        "database": "ok" if database else "unreachable",
        "broker": "ok" if broker else "unreachable",
    }
    if not (database and broker):
        down = ", ".join(k for k, v in checks.items() if v != "ok")
        raise Problem(503, f"not ready: {down} unreachable")
    return models.Status(status="ok", checks=checks)


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text format"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/v1/tenants",
    response_model=models.VenuePage,
    responses=problem_responses(401, 403, 422, 429, 503),
    summary="Ops: the venues, with their customer counts",
    tags=["ops"],
)
async def list_venues(
    _: Reader,
    db: Db,
    settings: AppSettings,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> models.VenuePage:
    """Every venue (an ops `*` token), in id order, a page at a time (the console's picker)."""
    after = None
    if cursor is not None:
        (after,) = decode_cursor(settings.secret, "venues", cursor, 1)
    async with db.connection() as conn:
        rows = await tenants.venues_page(conn, after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(settings.secret, "venues", [rows[-1]["tenant_id"]])
    return models.VenuePage(items=[models.Venue(**dict(r)) for r in rows], next_cursor=next_cursor)
