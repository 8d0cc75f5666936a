"""Staff identity decisions as use cases: merge two cards, undo a merge, "not the same person";
each in one tenant transaction, the merge alert produced after it commits (the API routes and
the console call them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog

from services.common import tenants
from services.common.kafka import Topics
from services.common.settings import Settings
from services.profile import models
from services.profile.commands import Publisher
from services.profile.data import identity
from services.profile.db import Database
from services.profile.deps import card_or_404
from services.profile.identity import IdentityError, Queued, Undone, queue_alert, staff_merge, undo
from services.profile.problems import Problem

log = structlog.get_logger(__name__)


async def merge(
    db: Database,
    publisher: Publisher,
    settings: Settings,
    tenant: str,
    keep: uuid.UUID,
    other: uuid.UUID,
    *,
    token_id: uuid.UUID | None,
    language: str,
) -> models.CustomerCard:
    """Merge ``other`` into ``keep``; the merged card. A Problem when it cannot be done."""
    async with db.tenant(tenant) as conn:
        config = await tenants.rules(conn, tenant, settings.default_region)
        try:
            record = await staff_merge(
                conn,
                tenant,
                keep,
                other,
                token_id=token_id,
                regular_threshold=config.regular_threshold,
            )
        except IdentityError as exc:
            raise Problem(exc.status, exc.detail) from exc
        topic = Topics(settings.topic_prefix).alerts
        queued = await queue_alert(conn, topic, record, "merged")
        card = (await card_or_404(conn, tenant, keep, language))[1]
    await publish(db, publisher, topic, queued)
    log.info("identity.merged", tenant=tenant, merge_id=str(record.id), reason="staff")
    return card


async def undo_merge(
    db: Database,
    publisher: Publisher,
    settings: Settings,
    tenant: str,
    merge_id: uuid.UUID,
    *,
    token_id: uuid.UUID | None,
) -> Undone:
    """Fold both cards again from their own events (3a); a 409 Problem if already undone."""
    async with db.tenant(tenant) as conn:
        config = await tenants.rules(conn, tenant, settings.default_region)
        try:
            done = await undo(
                conn,
                tenant,
                merge_id,
                token_id=token_id,
                at=datetime.now(UTC),
                region=config.region,
                blocked=config.blocked,
                regular_threshold=config.regular_threshold,
            )
        except IdentityError as exc:
            raise Problem(exc.status, exc.detail) from exc
        topic = Topics(settings.topic_prefix).alerts
        queued = await queue_alert(conn, topic, done.merge, "unmerged")
    await publish(db, publisher, topic, queued)
    log.info("identity.unmerged", tenant=tenant, merge_id=str(merge_id))
    return done


async def dismiss(
    db: Database, tenant: str, a: uuid.UUID, b: uuid.UUID, *, token_id: uuid.UUID | None
) -> None:
    """ "Not the same person": never suggested again; 404/308 for a card that is not live."""
    if a == b:
        raise Problem(422, "two different cards are needed")
    async with db.tenant(tenant) as conn:
        for card in (a, b):
            await card_or_404(conn, tenant, card, "en")
        await identity.dismiss(
            conn, tenant, (a, b), reason="shared_phone", at=datetime.now(UTC), by=token_id
        )


async def publish(db: Database, publisher: Publisher, topic: str, queued: Queued) -> None:
    """Produce the queued alerts now, then forget them; if the broker is away they stay in the
    outbox and ingest's relay sends them on its next sweep."""
    try:
        await publisher.publish(topic, queued.messages)
    except Exception as exc:  # noqa: BLE001 - the outbox keeps them
        log.warning("identity.alert_deferred", error=type(exc).__name__)
        return
    async with db.connection() as conn:
        await identity.forget(conn, queued.ids)
