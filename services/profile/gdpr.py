"""GDPR use cases on one person: erasure and access (the API routes and the console call them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.common.suppression import suppression_hashes
from services.profile import models
from services.profile.data import consent, customers, history, identity, suppressions
from services.profile.db import Database
from services.profile.deps import card_or_404, customer_or_404


async def anonymize(
    db: Database, secret: str, tenant: str, customer_id: uuid.UUID
) -> models.Anonymized:
    """Remove name, email, phone and free text; keep counters and dates; idempotent."""
    now = datetime.now(UTC)
    async with db.tenant(tenant) as conn:
        row = await customer_or_404(conn, tenant, customer_id, for_update=True)
        if row["anonymized_at"] is not None:
            return models.Anonymized(
                id=customer_id, anonymized=True, anonymized_at=row["anonymized_at"]
            )
        # Older events about any email or phone of the card (every identifier, 3a) are
        # recognised by these hashes and dropped.
        held = await identity.identifiers(conn, tenant, customer_id)
        hashes = suppression_hashes(
            secret,
            email=row["email"],
            phone=row["phone"],
            identity_key=row["identity_key"],
            identifiers=[r["value"] for r in held],
        )
        await suppressions.record(conn, tenant, hashes, now)
        await customers.anonymize(conn, tenant, customer_id, now)
        await identity.drop_identifiers(conn, tenant, [customer_id])
        await history.scrub(conn, tenant, customer_id)
    return models.Anonymized(id=customer_id, anonymized=True, anonymized_at=now)


async def access_export(
    db: Database, tenant: str, customer_id: uuid.UUID, language: str
) -> models.DataExport:
    """The card, the full history with data, the consent ledger and the raw tag state."""
    async with db.tenant(tenant) as conn:
        row, card = await card_or_404(conn, tenant, customer_id, language)
        entries = await history.everything(conn, tenant, customer_id)
        statements = await consent.ledger(conn, tenant, customer_id)
    return models.DataExport(
        exported_at=datetime.now(UTC),
        tenant_id=tenant,
        customer=card,
        history=[models.HistoryEntryFull(**dict(r)) for r in entries],
        consent=[models.ConsentStatement(**dict(r)) for r in statements],
        tags=models.TagState(
            tags=list(row["tags"]), tag_meta=row["tag_meta"], removed_tags=list(row["removed_tags"])
        ),
    )
