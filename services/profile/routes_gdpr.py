"""GDPR: erasure (anonymisation) and access (data export) of one person."""

from __future__ import annotations

from fastapi import APIRouter

from services.profile import gdpr, models
from services.profile.deps import AppSettings, CustomerId, Db, Gdpr, Language, TenantId
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
    return await gdpr.anonymize(db, settings.secret, tenant, customer_id)


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
    return await gdpr.access_export(db, tenant, customer_id, lang)
