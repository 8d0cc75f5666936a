"""Customer file imports: the template, a dry run with a full report, the real run, its state."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from schemas.customer_csv import template_csv
from services.profile.auth import Principal, require
from services.profile.commands import Publisher
from services.profile.csvimport import ColumnMapping, ImportFileError
from services.profile.deps import AppSettings, Db, TenantId
from services.profile.import_runs import import_file
from services.profile.import_runs import import_state as import_state_of
from services.profile.importing import MAX_IMPORT_BYTES, TooLarge, spool
from services.profile.problems import Problem, problem_responses

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
    columns: list[dict[str, str | None]] = Field(
        default=[], description="each column of the header and the field it was read as"
    )
    mapping: Literal["request", "remembered"] | None = Field(
        default=None, description="where the column mapping came from (None: by column names)"
    )
    errors: list[dict[str, Any]]
    errors_truncated: bool


class ImportState(BaseModel):
    """How far ingest got with an import."""

    import_id: uuid.UUID
    state: Literal["applying", "done", "undone"]
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


def _mapping(text: str | None) -> ColumnMapping | None:
    """The request's column mapping; a 422 problem when it is not one."""
    if text is None or not text.strip():
        return None
    try:
        return ColumnMapping.parse(orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        raise Problem(422, "the mapping is not JSON", errors=[_mapping_error(str(exc))]) from exc
    except ImportFileError as exc:
        raise Problem(422, exc.message, errors=[_mapping_error(exc.message)]) from exc


def _mapping_error(message: str) -> dict[str, str]:
    return {"field": "mapping", "code": "mapping.invalid", "message": message}


async def _upload(request: Request) -> tuple[IO[bytes], str, str | None]:
    """The uploaded bytes, from a text/csv body or a multipart ``file`` field, spooled; and a
    multipart ``mapping`` field's text, if any."""
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

            mapping = form.get("mapping")
            return (*await spool(parts()), mapping if isinstance(mapping, str) else None)
        if content_type.split(";")[0].strip() not in (
            "text/csv",
            "application/octet-stream",
            "text/plain",
        ):
            raise Problem(415, "send text/csv or multipart/form-data with a `file` field")
        return (*await spool(request.stream()), None)
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
    mapping: Annotated[
        str | None,
        Query(
            max_length=4_000,
            description='what the file\'s columns are, as JSON: {"GSM": "phone", "Naam klant":'
            ' "name", "date_format": "DD-MM-YYYY", "tag_values": {"Vaste klant": "regular"}}'
            " (or a multipart `mapping` part); remembered for the venue and used again for the"
            " same header; a longer one goes in the multipart part",
        ),
    ] = None,
) -> Any:
    """Validate every row; with ``dry_run`` only report, else publish the rows that change a
    customer as ``contact.imported`` events and answer 202 with the import id."""
    file, sha256, part = await _upload(request)
    publisher: Publisher = request.app.state.publisher
    try:
        columns = _mapping(mapping if mapping is not None else part)
        report, import_id = await import_file(
            db, publisher, settings, tenant, file, sha256, dry_run=dry_run, mapping=columns
        )
    finally:
        file.close()
    body = ImportReport(import_id=import_id, dry_run=dry_run, **report.__dict__)
    if dry_run:
        return JSONResponse(body.model_dump(mode="json"), status_code=200)
    return body


@router.get(
    "/{import_id}",
    response_model=ImportState,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
    summary="Follow an import",
)
async def import_state(tenant: TenantId, import_id: uuid.UUID, _: Importer, db: Db) -> ImportState:
    """Counts, errors, and how many published rows ingest has applied."""
    row = await import_state_of(db, tenant, import_id)
    return ImportState(
        import_id=row["id"],
        state=(
            "undone"
            if row["undone_at"] is not None
            else "done"
            if row["applied"] >= row["published"]
            else "applying"
        ),
        rows=row["rows"],
        valid=row["valid"],
        invalid=row["invalid"],
        published=row["published"],
        applied=row["applied"],
        errors=row["errors"],
        created_at=row["created_at"],
    )
