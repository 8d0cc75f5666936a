"""GDPR: erasure (anonymisation) and access (data export) of one person."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.common.crypto import keyed_hash
from services.profile import models, queries, views
from services.profile.deps import (
    AppSettings,
    CustomerId,
    Db,
    Gdpr,
    Language,
    TenantId,
    customer_or_404,
)
from services.profile.problems import problem_responses
from services.profile.tagging import vocabulary

router = APIRouter(prefix="/v1/tenants/{tenant}/customers/{customer_id}", tags=["gdpr"])
_ERRORS = problem_responses(401, 403, 404, 422, 429, 503)


@router.post("/anonymize", response_model=models.Anonymized, responses=_ERRORS,
             summary="Erase a person (irreversible)")
async def anonymize(
    tenant: TenantId, customer_id: CustomerId, _: Gdpr, db: Db, settings: AppSettings
) -> models.Anonymized:
    """Remove name, email, phone and free text; keep counters and dates; idempotent."""
    now = datetime.now(UTC)
    async with db.tenant(tenant) as conn:
        row = await customer_or_404(conn, tenant, customer_id, for_update=True)
        if row["anonymized_at"] is not None:
            return models.Anonymized(id=customer_id, anonymized=True,
                                     anonymized_at=row["anonymized_at"])
        # Older events about this email or phone are recognised by these hashes and dropped.
        values = {v for v in (row["email"], row["phone"]) if v}
        if row["identity_key"]:
            values.add(row["identity_key"].partition(":")[2])
        hashes = [keyed_hash(settings.secret, v) for v in sorted(values)]
        await conn.execute(queries.SUPPRESS, tenant, hashes, now)
        await conn.execute(queries.ANONYMIZE, tenant, customer_id, now)
        await conn.execute(queries.SCRUB_HISTORY, tenant, customer_id, queries.HISTORY_KEEP)
    return models.Anonymized(id=customer_id, anonymized=True, anonymized_at=now)


@router.get("/data-export", response_model=models.DataExport, responses=_ERRORS,
            summary="Everything held about a person (GDPR access)")
async def data_export(
    tenant: TenantId, customer_id: CustomerId, _: Gdpr, db: Db, lang: Language
) -> models.DataExport:
    """The card, the full history with data, the consent ledger and the raw tag state."""
    async with db.tenant(tenant) as conn:
        row = await customer_or_404(conn, tenant, customer_id)
        vocab = vocabulary(await queries.custom_tags(conn, tenant))
        history = await conn.fetch(queries.HISTORY_ALL, tenant, customer_id)
        consent = await conn.fetch(queries.CONSENT_ALL, tenant, customer_id)
    return models.DataExport(
        exported_at=datetime.now(UTC),
        tenant_id=tenant,
        customer=views.card(row, vocab, lang),
        history=[models.HistoryEntryFull(**dict(r)) for r in history],
        consent=[models.ConsentStatement(**dict(r)) for r in consent],
        tags=models.TagState(tags=list(row["tags"]), tag_meta=row["tag_meta"],
                             removed_tags=list(row["removed_tags"])),
    )
