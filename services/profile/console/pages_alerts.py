"""Alerts: recent bookings by flagged guests (no_show, problem) in the last 30 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import Response

from schemas.tags import FLAGGING_TAGS
from services.profile.console.pages_customers import Venue
from services.profile.data import alerts, tags
from services.profile.tagging import label, vocabulary

router = APIRouter(prefix="/console", include_in_schema=False)
WINDOW = timedelta(days=30)
SHOWN = 100


@router.get("/alerts")
async def recent_alerts(ctx: Venue) -> Response:
    """The newest bookings of flagged guests."""
    tenant = ctx.venue()
    async with ctx.db.tenant(tenant) as conn:
        rows = await alerts.flagged_bookings(
            conn, tenant, datetime.now(UTC) - WINDOW, sorted(FLAGGING_TAGS), SHOWN
        )
        vocab = vocabulary(await tags.custom(conn, tenant))
    return ctx.render(
        "alerts.html",
        rows=rows,
        flags=FLAGGING_TAGS,
        tag_label=lambda code: label(vocab, code, ctx.language),
        starts=lambda raw: datetime.fromisoformat(raw) if raw else None,
    )
