"""Segment exports: create (202), follow, download; and ops exports across tenants."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import TENANT_PATTERN
from services.common import tenants
from services.common.segments import SegmentFilters
from services.profile import exporting
from services.profile.auth import Principal, require
from services.profile.commands import ExportRequests
from services.profile.deps import AppSettings, Db, TenantId
from services.profile.problems import Problem, problem_responses

router = APIRouter(tags=["exports"])
Exporter = Annotated[Principal, Depends(require("export"))]


class ExportRequest(BaseModel):
    """What to export and how the CSV is written."""

    model_config = ConfigDict(extra="forbid")

    filters: SegmentFilters = Field(default_factory=SegmentFilters)
    delimiter: Literal[",", ";"] = ","
    bom: bool = False


class OpsExportRequest(ExportRequest):
    """An export of the same segment for several tenants, or all (``"*"``)."""

    tenants: list[Annotated[str, Field(pattern=TENANT_PATTERN)]] | Literal["*"]


class ExportCreated(BaseModel):
    """The queued export."""

    export_id: uuid.UUID


class OpsExportsCreated(BaseModel):
    """One export per tenant."""

    exports: dict[str, uuid.UUID]


class ExportStatus(BaseModel):
    """Where an export stands."""

    export_id: uuid.UUID
    state: Literal["queued", "running", "done", "failed"]
    rows: int | None
    bytes: int | None
    sha256: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


async def _queue(db: Db, request: Request, tenant: str, body: ExportRequest) -> uuid.UUID:
    requests: ExportRequests = request.app.state.export_requests
    return await exporting.queue(
        db, requests, tenant, body.filters, delimiter=body.delimiter, bom=body.bom
    )


@router.post(
    "/v1/tenants/{tenant}/exports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportCreated,
    responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 503),
    summary="Export a segment to CSV (asynchronous)",
)
async def create_export(
    tenant: TenantId, body: ExportRequest, _: Exporter, db: Db, request: Request
) -> ExportCreated:
    """Queue an export of the customers matching ``filters`` (the list's filter names)."""
    return ExportCreated(export_id=await _queue(db, request, tenant, body))


@router.get(
    "/v1/tenants/{tenant}/exports/{export_id}",
    response_model=ExportStatus,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
    summary="Follow an export",
)
async def export_status(
    tenant: TenantId, export_id: uuid.UUID, _: Exporter, db: Db
) -> ExportStatus:
    """State, rows, bytes and sha256 of an export."""
    row = await exporting.state(db, tenant, export_id)
    return ExportStatus(
        export_id=row["id"], **{k: row[k] for k in ExportStatus.model_fields if k != "export_id"}
    )


@router.get(
    "/v1/tenants/{tenant}/exports/{export_id}/download",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "the CSV file"},
        **problem_responses(401, 403, 404, 409, 422, 429, 503),
    },
    summary="Download a finished export",
)
async def download_export(
    tenant: TenantId, export_id: uuid.UUID, _: Exporter, db: Db, settings: AppSettings
) -> FileResponse:
    """The CSV of a finished export."""
    path, filename = await exporting.finished_file(
        db, Path(settings.exports_path), tenant, export_id
    )
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=filename)


@router.post(
    "/v1/exports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OpsExportsCreated,
    responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
    summary="Ops: export a segment for many tenants",
)
async def ops_export(
    body: OpsExportRequest, principal: Exporter, db: Db, request: Request
) -> OpsExportsCreated:
    """One export per tenant; needs an ops (``*``) token with the export scope."""
    if principal.tenant_id != "*":
        raise Problem(403, "an ops token is needed")
    if body.tenants == "*":
        async with db.connection() as conn:
            names = await tenants.all_ids(conn)
    else:
        names = sorted(set(body.tenants))
    created = {}
    for tenant in names:
        created[tenant] = await _queue(db, request, tenant, body)
    return OpsExportsCreated(exports=created)
