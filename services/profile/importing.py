"""Import of a customer file: validate every row, compare it with the customer it names, and
publish the rows that change something as ``contact.imported`` events (ingest stays the only
writer). Re-importing a file, or importing an export back, publishes nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import IO, Any, Literal

import asyncpg
import orjson

from schemas.events import ImportEvent
from services.common import cards, tenants
from services.domain.fold import Customer, apply, identify
from services.domain.routing import route
from services.domain.rows import from_row
from services.profile.commands import Publisher
from services.profile.csvimport import ColumnMapping, CsvImport, ImportRow, RowError, import_event
from services.profile.data import customers

MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_REPORTED_ERRORS = 10_000
CHUNK = 1000
Verdict = Literal["create", "update", "unchanged"]


class TooLarge(Exception):
    """The upload is over MAX_IMPORT_BYTES."""


@dataclass
class Report:
    """The dry-run report (and the record of a real import)."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    would_create: int = 0
    would_update: int = 0
    would_merge: int = 0  # cards an automatic merge (3a) would join to another
    unchanged: int = 0
    published: int = 0
    encoding: str = ""
    delimiter: str = ","
    ignored_columns: list[str] = field(default_factory=list)
    # each column of the header and the field it was read as (None: ignored)
    columns: list[dict[str, str | None]] = field(default_factory=list)
    mapping: str | None = None  # "request", "remembered", or None (recognised by name)
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_truncated: bool = False

    def error(self, e: RowError) -> None:
        """Record a row error (the report keeps the first MAX_REPORTED_ERRORS)."""
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(
                {"row": e.row, "column": e.column, "code": e.code, "message": e.message}
            )
        else:
            self.errors_truncated = True


async def spool(chunks: AsyncIterator[bytes]) -> tuple[IO[bytes], str]:
    """Copy an upload to a temporary file (memory up to 8 MiB, then disk); return it and its
    sha256. Raises TooLarge past MAX_IMPORT_BYTES."""
    file = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned
    digest, size = hashlib.sha256(), 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            file.close()
            raise TooLarge
        digest.update(chunk)
        file.write(chunk)
    file.seek(0)
    return file, digest.hexdigest()


# What folding an import changes without changing the card: the import's own time (the last
# contact, the stamps of last-writer-wins fields, when consent or a tag was stated).
_BOOKKEEPING = frozenset({"stamps", "last_contact_at", "newsletter", "tags"})
_SHOWN = [f.name for f in dataclasses.fields(Customer) if f.name not in _BOOKKEEPING]


def _shown(c: Customer) -> tuple[Any, ...]:
    consent = None if c.newsletter is None else c.newsletter.opt_in
    return (*(getattr(c, name) for name in _SHOWN), consent, frozenset(c.tags))


def verdict(event: ImportEvent | None, current: Customer | None, region: str) -> Verdict:
    """Would ingest's fold of this row's event change the card? Asked of the fold itself; only
    such rows are published."""
    if current is None:
        return "create"
    assert event is not None  # built whenever there is a card to fold it into
    identity = identify(event.data.contact, region)
    if identity is None:  # pragma: no cover - a valid row always has an email or a phone
        return "unchanged"
    folded = apply(current, event, identity).customer
    return "update" if _shown(folded) != _shown(current) else "unchanged"


async def import_pass(
    conn: asyncpg.Connection,
    file: IO[bytes],
    *,
    tenant_id: str,
    import_id: uuid.UUID,
    sha256: str,
    region: str,
    known_tags: set[str],
    publish: tuple[Publisher, str] | None,
    generation: int = 0,
    mapping: ColumnMapping | None = None,
) -> Report:
    """One pass over a spooled upload: a fresh parse (its columns read as ``mapping`` says
    where it says), every row classified (and published when ``publish`` is given, with the
    event ids of ``generation``: ``imports.generation``). Raises ImportFileError when the file
    as a whole cannot be read."""
    opened = CsvImport.open(
        file,  # type: ignore[arg-type]
        region=region,
        known_tags=known_tags,
        now=datetime.now(UTC),
        mapping=mapping,
    )
    with opened:
        return await run_import(
            conn,
            opened,
            tenant_id=tenant_id,
            import_id=import_id,
            sha256=sha256,
            publish=publish,
            generation=generation,
        )


def _chunks(items: Iterator[ImportRow | list[RowError]]) -> Iterator[list[Any]]:
    while chunk := list(islice(items, CHUNK)):
        yield chunk


def _parse_next(chunks: Iterator[list[Any]]) -> asyncio.Future[list[Any] | None]:
    """The next chunk, parsed in a thread (parsing is CPU work) while the caller goes on."""
    return asyncio.ensure_future(asyncio.to_thread(next, chunks, None))


async def run_import(
    conn: asyncpg.Connection,
    opened: CsvImport,
    *,
    tenant_id: str,
    import_id: uuid.UUID,
    sha256: str,
    publish: tuple[Publisher, str] | None,
    generation: int = 0,
) -> Report:
    """Validate and classify every row; publish changing rows when ``publish`` is given."""
    fields = {label: name for name, label in opened.labels.items()}
    report = Report(
        encoding=opened.encoding,
        delimiter=opened.delimiter,
        ignored_columns=list(opened.ignored_columns),
        columns=[{"column": c, "field": fields.get(c)} for c in opened.header],
    )
    now = datetime.now(UTC)
    blocked = (await tenants.rules(conn, tenant_id, opened.region)).blocked
    chunks = _chunks(opened.rows())
    ahead = _parse_next(chunks)
    try:
        # One chunk ahead: the next one is parsed while this one is compared and published.
        while chunk := await asyncio.shield(ahead):
            ahead = _parse_next(chunks)
            await _classify(
                conn,
                chunk,
                report,
                tenant_id=tenant_id,
                import_id=import_id,
                sha256=sha256,
                publish=publish,
                now=now,
                region=opened.region,
                blocked=blocked,
                generation=generation,
            )
    finally:
        # Never return while a thread still reads the file: the caller closes it next.
        await asyncio.wait([ahead])
        if not ahead.cancelled():
            ahead.exception()  # an error of a chunk nobody asked for: not raised, not logged
    report.rows = report.valid + report.invalid
    return report


async def _classify(
    conn: asyncpg.Connection,
    chunk: list[ImportRow | list[RowError]],
    report: Report,
    *,
    tenant_id: str,
    import_id: uuid.UUID,
    sha256: str,
    publish: tuple[Publisher, str] | None,
    now: datetime,
    region: str,
    blocked: frozenset[str],
    generation: int,
) -> None:
    """Count a chunk's errors, route its valid rows to their cards as ingest will (3a),
    compare each with its card, publish changes."""
    rows = [r for r in chunk if isinstance(r, ImportRow)]
    for errors in (c for c in chunk if not isinstance(c, ImportRow)):
        report.invalid += 1
        for e in errors:
            report.error(e)
    held = await cards.holders(
        conn, sorted({(tenant_id, v) for r in rows for v in (r.email, r.phone) if v}), lock=False
    )
    routed = {h["id"]: cards.card_identifiers(h) for h in held}
    by_id = {h["id"]: h for h in held}
    named_ids = [r.customer_id for r in rows if r.customer_id is not None]
    if named_ids:
        by_id.update({f["id"]: f for f in await customers.by_ids(conn, tenant_id, named_ids)})
    changing: list[ImportEvent] = []
    for r in rows:
        found = route(
            r.email,
            r.phone,
            [c for c in routed.values() if r.email in c.emails or r.phone in c.phones],
            blocked=blocked,
        )
        if found is None:
            report.invalid += 1
            column = "email" if r.email else "phone"
            report.error(
                RowError(
                    r.row, column, "contact.placeholder", "a placeholder that identifies nobody"
                )
            )
            continue
        current = by_id.get(found.card) if found.card is not None else None
        if r.customer_id is not None:
            problem = None
            if r.customer_id not in by_id:
                problem = ("customer_id.unknown", "no customer with this id in this venue")
            elif found.card != r.customer_id:
                problem = (
                    "customer_id.mismatch",
                    "this customer id belongs to another email or phone",
                )
            if problem is not None:
                report.invalid += 1
                report.error(RowError(r.row, "customer_id", *problem))
                continue
        report.valid += 1
        event = None
        if current is not None or publish is not None:  # a dry run needs none for a new card
            event = import_event(
                r,
                tenant_id=tenant_id,
                import_id=str(import_id),
                file_sha256=sha256,
                occurred_at=now,
                generation=generation,
            )
        v = verdict(event, None if current is None else from_row(current), region)
        if found.absorb:  # the row links a phone-only card to an email card: a merge
            report.would_merge += len(found.absorb)
            v = "update" if v == "unchanged" else v
        if v == "create":
            report.would_create += 1
        elif v == "update":
            report.would_update += 1
        else:
            report.unchanged += 1
            continue
        if event is not None:
            changing.append(event)
    if publish is not None and changing:
        publisher, topic = publish
        docs = [e.model_dump(mode="json", exclude_none=True) for e in changing]
        report.published += await publisher.publish(
            topic, [(tenant_id.encode(), orjson.dumps(d)) for d in docs]
        )
