"""GDPR: erasure (anonymisation) and access (data export) of one person."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.common.suppression import suppression_hashes
from services.profile import models
from services.profile.data import consent, customers, history, identity, suppressions
from services.profile.deps import (
    AppSettings,
    CustomerId,
    Db,
    Gdpr,
    Language,
    TenantId,
    card_or_404,
    customer_or_404,
)
from services.profile.problems import problem_responses

router = APIRouter(prefix="/v1/tenants/{tenant}/customers/{customer_id}", tags=["gdpr"])
_ERRORS = problem_responses(401, 403, 404, 422, 429, 503)


@router.post(
    "/anonymize",
    response_model=models.Anonymized,
    responses=_ERRORS,
    summary="Erase a person (irreversible)",
)
async def anonymize(
    tenant: TenantId, customer_id: CustomerId, _: Gdpr, db: Db, settings: AppSettings
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
            settings.secret,
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


@router.get(
    "/data-export",
    response_model=models.DataExport,
    responses=_ERRORS,
    summary="Everything held about a person (GDPR access)",
)
async def data_export(
    tenant: TenantId, customer_id: CustomerId, _: Gdpr, db: Db, lang: Language
) -> models.DataExport:
    """The card, the full history with data, the consent ledger and the raw tag state."""
    async with db.tenant(tenant) as conn:
        row, card = await card_or_404(conn, tenant, customer_id, lang)
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
