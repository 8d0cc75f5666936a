"""A customer file's import as one use case: the dry run or the real run of a spooled upload,
and how far ingest got (the API routes and the console call them)."""

from __future__ import annotations

import uuid
from typing import IO, Any

import asyncpg

from services.common import tenants
from services.common.kafka import Topics
from services.common.settings import Settings
from services.profile.commands import Publisher
from services.profile.csvimport import ColumnMapping, ImportFileError, header_key, peek_header
from services.profile.data import imports, tags
from services.profile.db import Database
from services.profile.importing import Report, import_pass
from services.profile.problems import Problem, found
from services.profile.tagging import vocabulary


async def import_file(
    db: Database,
    publisher: Publisher,
    settings: Settings,
    tenant: str,
    file: IO[bytes],
    sha256: str,
    *,
    dry_run: bool,
    mapping: ColumnMapping | None = None,
) -> tuple[Report, uuid.UUID | None]:
    """Validate every row; with ``dry_run`` only report, else publish the rows that change a
    customer as ``contact.imported`` events and record the import (its id is returned). A 422
    problem when the file as a whole cannot be read."""
    import_id = uuid.uuid4()
    topic = Topics(settings.topic_prefix).site_events
    async with db.tenant(tenant) as conn:
        region = await tenants.region(conn, tenant, settings.default_region)
        known = set(vocabulary(await tags.custom(conn, tenant)))
        # The venue's mapping for this header: the request's (remembered for next time), else
        # the one it gave the last time this header came.
        key = header_key(peek_header(file))
        source = "request" if mapping is not None else None
        if mapping is None and (remembered := await imports.mapping(conn, tenant, key)):
            mapping, source = ColumnMapping.parse(remembered), "remembered"
        report = await _pass(
            conn, file, tenant, import_id, sha256, region, known, None, mapping=mapping
        )
        report.mapping = source
        if source == "request" and mapping is not None:
            await imports.remember_mapping(conn, tenant, key, mapping.to_json())
        if dry_run:
            return report, None
        # A venue's old customer file may come before its first booking: the import
        # (a foreign key) and ingest both need the venue's row, so record it first.
        await tenants.ensure(conn, tenant)
        # A second pass publishes: a file broken half-way publishes nothing. After undos of
        # the same file its events get new ids (its generation): a first import again.
        generation = await imports.generation(conn, tenant, sha256)
        report = await _pass(
            conn,
            file,
            tenant,
            import_id,
            sha256,
            region,
            known,
            (publisher, topic),
            generation,
            mapping=mapping,
        )
        report.mapping = source
        await imports.record(conn, import_id, tenant, sha256, report, generation=generation)
    return report, import_id


async def import_state(db: Database, tenant: str, import_id: uuid.UUID) -> asyncpg.Record:
    """The import's record with ``applied`` (rows ingest has folded); 404 problem if unknown."""
    async with db.tenant(tenant) as conn:
        return found(await imports.state(conn, tenant, import_id), "import")


async def _pass(
    conn: Any,
    file: IO[bytes],
    tenant: str,
    import_id: uuid.UUID,
    sha256: str,
    region: str,
    known: set[str],
    publish: tuple[Publisher, str] | None,
    generation: int = 0,
    *,
    mapping: ColumnMapping | None = None,
) -> Report:
    file.seek(0)
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
            generation=generation,
            mapping=mapping,
        )
    except ImportFileError as exc:
        raise Problem(
            422,
            exc.message,
            errors=[{"row": None, "column": "", "code": exc.code, "message": exc.message}],
        ) from exc
