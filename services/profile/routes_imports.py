"""Customer file imports: the template, a dry run with a full report, the real run, its state."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from schemas.customer_csv import template_csv
from services.common import tenants
from services.common.kafka import Topics
from services.profile.auth import Principal, require
from services.profile.commands import Publisher
from services.profile.csvimport import ImportFileError
from services.profile.data import imports, tags
from services.profile.deps import AppSettings, Db, TenantId
from services.profile.importing import MAX_IMPORT_BYTES, Report, TooLarge, import_pass, spool
from services.profile.problems import Problem, found, problem_responses
from services.profile.tagging import vocabulary

router = APIRouter(prefix="/v1/tenants/{tenant}/imports", tags=["imports"])
Importer = Annotated[Principal, Depends(require("import"))]


class ImportReport(BaseModel):
    """What the file holds and what importing it does (or did)."""

    import_id: uuid.UUID | None = None
    dry_run: bool
    rows: int
    valid: int
    invalid: int
    would_create: int
    would_update: int
    would_merge: int = Field(description="cards the import would merge into others (3a)")
    unchanged: int
    published: int
    encoding: str
    delimiter: str
    ignored_columns: list[str]
    errors: list[dict[str, Any]]
    errors_truncated: bool


class ImportState(BaseModel):
    """How far ingest got with an import."""

    import_id: uuid.UUID
    state: Literal["applying", "done"]
    rows: int
    valid: int
    invalid: int
    published: int
    applied: int
    errors: list[dict[str, Any]]
    created_at: datetime


@router.get(
    "/template.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(401, 403, 422, 429, 503)},
    summary="The import template (same columns as an export)",
)
async def template(tenant: TenantId, _: Importer) -> PlainTextResponse:
    """A CSV with the header and one example row."""
    return PlainTextResponse(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts-template.csv"'},
    )


async def _upload(request: Request) -> tuple[IO[bytes], str]:
    """The uploaded bytes, from a text/csv body or a multipart ``file`` field, spooled."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_IMPORT_BYTES:
        raise Problem(413, f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=5)
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Problem(
                    422,
                    "a multipart upload needs a `file` field",
                    errors=[{"field": "file", "code": "missing", "message": "the CSV file"}],
                )

            async def parts() -> AsyncIterator[bytes]:
                while chunk := await upload.read(1024 * 1024):
                    yield chunk

            return await spool(parts())
        if content_type.split(";")[0].strip() not in (
            "text/csv",
            "application/octet-stream",
            "text/plain",
        ):
            raise Problem(415, "send text/csv or multipart/form-data with a `file` field")
        return await spool(request.stream())
    except TooLarge as exc:
        raise Problem(413, f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MiB") from exc


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportReport,
    responses={
        200: {"model": ImportReport, "description": "the dry-run report"},
        **problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
    },
    summary="Import a customer file (text/csv or multipart `file`)",
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def create_import(
    tenant: TenantId,
    request: Request,
    _: Importer,
    db: Db,
    settings: AppSettings,
    dry_run: bool = False,
) -> Any:
    """Validate every row; with ``dry_run`` only report, else publish the rows that change a
    customer as ``contact.imported`` events and answer 202 with the import id."""
    file, sha256 = await _upload(request)
    import_id = uuid.uuid4()
    publisher: Publisher = request.app.state.publisher
    topic = Topics(settings.topic_prefix).site_events
    try:
        async with db.tenant(tenant) as conn:
            region = await tenants.region(conn, tenant, settings.default_region)
            known = set(vocabulary(await tags.custom(conn, tenant)))
            report = await _pass(conn, file, tenant, import_id, sha256, region, known, None)
            if not dry_run:
                # A venue's old customer file may come before its first booking: the import
                # (a foreign key) and ingest both need the venue's row, so record it first.
                await tenants.ensure(conn, tenant)
                # A second pass publishes: a file broken half-way publishes nothing.
                report = await _pass(
                    conn, file, tenant, import_id, sha256, region, known, (publisher, topic)
                )
                await imports.record(conn, import_id, tenant, sha256, report)
    finally:
        file.close()
    body = ImportReport(
        import_id=None if dry_run else import_id, dry_run=dry_run, **report.__dict__
    )
    if dry_run:
        return JSONResponse(body.model_dump(mode="json"), status_code=200)
    return body


async def _pass(
    conn: Any,
    file: IO[bytes],
    tenant: str,
    import_id: uuid.UUID,
    sha256: str,
    region: str,
    known: set[str],
    publish: tuple[Publisher, str] | None,
) -> Report:
    try:
        return await import_pass(
            conn,
            file,
            tenant_id=tenant,
            import_id=import_id,
            sha256=sha256,
            region=region,
            known_tags=known,
            publish=publish,
        )
    except ImportFileError as exc:
        raise Problem(
            422,
            exc.message,
            errors=[{"row": None, "column": "", "code": exc.code, "message": exc.message}],
        ) from exc


@router.get(
    "/{import_id}",
    response_model=ImportState,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
    summary="Follow an import",
)
async def import_state(tenant: TenantId, import_id: uuid.UUID, _: Importer, db: Db) -> ImportState:
    """Counts, errors, and how many published rows ingest has applied."""
    async with db.tenant(tenant) as conn:
        row = found(await imports.state(conn, tenant, import_id), "import")
    return ImportState(
        import_id=row["id"],
        state="done" if row["applied"] >= row["published"] else "applying",
        rows=row["rows"],
        valid=row["valid"],
        invalid=row["invalid"],
        published=row["published"],
        applied=row["applied"],
        errors=row["errors"],
        created_at=row["created_at"],
    )
