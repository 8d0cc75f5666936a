"""The export writer and runner on the real PostgreSQL: format, safety, segments, recovery."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import asyncpg
import pytest

from schemas.customer_csv import HEADER
from services.common import exportjobs as jobs
from services.common.db import role_dsn
from services.common.segments import SegmentFilters, segment_where
from services.export.runner import ExportRunner, export_path
from tests.support.builders import event
from tests.support.exports import TENANT, run_export, seed

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _guests() -> list[dict[str, object]]:
    return [
        event(
            email="an@example.be",
            at=0,
            contact={
                "first_name": '=HYPERLINK("http://x")',
                "language": "nl",
                "newsletter_opt_in": True,
            },
        ),
        event(
            email="bo@example.be",
            phone=None,
            at=5,
            contact={
                "first_name": "Bo",
                "last_name": "-5+3",
                "language": "fr",
                "newsletter_opt_in": False,
            },
        ),
        event(
            email="cy@example.be",
            phone="0470 99 88 77",
            at=9,
            contact={"first_name": "Cy", "last_name": 'O\'Neil; "Jr"', "language": "nl"},
        ),
        event(
            "reservation.no_show",
            email="cy@example.be",
            phone="0470 99 88 77",
            at=20,
            contact={"first_name": "Cy", "last_name": 'O\'Neil; "Jr"'},
        ),
        event(email="other@example.be", tenant="chez-marie", at=3),
    ]


def _read(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


async def test_export_has_the_contract_columns_and_neutralised_formulas(
    db_url: str, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    await seed(owner, *_guests())
    path = await run_export(db_url, owner, tmp_path)
    rows = _read(path)

    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(HEADER)
    assert len(rows) == 3  # the other venue's guest is not in this tenant's export
    by_email = {r["email"]: r for r in rows}
    assert by_email["an@example.be"]["first_name"] == '\'=HYPERLINK("http://x")'
    assert by_email["bo@example.be"]["last_name"] == "'-5+3"
    assert by_email["cy@example.be"]["last_name"] == 'O\'Neil; "Jr"'  # quoted, not altered
    assert by_email["cy@example.be"]["phone"] == "+32 470998877"  # text in a spreadsheet, no quote
    assert by_email["cy@example.be"]["tags"] == "no_show"
    assert by_email["cy@example.be"]["no_shows"] == "1"
    assert by_email["an@example.be"]["newsletter_opt_in"] == "true"
    assert by_email["bo@example.be"]["newsletter_opt_in"] == "false"
    assert by_email["cy@example.be"]["newsletter_opt_in"] == ""
    assert by_email["an@example.be"]["first_contact_at"] == "2026-11-01T17:00:00Z"


async def test_semicolon_and_bom_as_asked(
    db_url: str, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    await seed(owner, *_guests())
    path = await run_export(db_url, owner, tmp_path, delimiter=";", bom=True)
    raw = path.read_bytes()

    assert raw.startswith(b"\xef\xbb\xbf" + ";".join(HEADER).encode())
    rows = _read(path, ";")
    assert {r["last_name"] for r in rows} >= {'O\'Neil; "Jr"'}


async def test_filtered_segment_has_exactly_the_matching_rows(
    db_url: str, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    await seed(owner, *_guests())
    filters = {"language": ["nl"], "newsletter": "unknown"}
    path = await run_export(db_url, owner, tmp_path, filters=filters)
    exported = {r["customer_id"] for r in _read(path)}

    where = segment_where(TENANT, SegmentFilters.model_validate(filters))
    listed = {
        str(r["id"])
        for r in await owner.fetch(f"SELECT c.id FROM customers c WHERE {where.sql()}", *where.args)
    }
    assert exported == listed
    assert len(exported) == 1


async def test_a_job_whose_runner_died_is_claimed_again_and_completes(
    db_url: str, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    await seed(owner, *_guests())
    export_id = await jobs.create(owner, TENANT, {})
    # The state a SIGKILLed runner leaves: running, a stale heartbeat, a half-written file.
    await owner.execute(
        "UPDATE exports SET state = 'running', attempts = 1,"
        " heartbeat_at = now() - interval '5 minutes' WHERE id = $1",
        export_id,
    )
    part = export_path(tmp_path, TENANT, export_id).with_suffix(".csv.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"customer_id,first_na")

    assert await jobs.unfinished(owner) == [export_id]
    runner = ExportRunner(db_url, role_dsn(db_url), tmp_path)
    assert await runner.run(export_id) == "done"
    assert await runner.run(export_id) is None  # done jobs are never redone
    row = await owner.fetchrow("SELECT state, attempts, rows FROM exports WHERE id = $1", export_id)
    assert (row["state"], row["attempts"], row["rows"]) == ("done", 2, 3)
    assert not part.exists()


async def test_a_running_job_with_a_live_heartbeat_is_not_taken(
    db_url: str, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    await seed(owner, *_guests())
    export_id = await jobs.create(owner, TENANT, {})
    await owner.execute(
        "UPDATE exports SET state = 'running', attempts = 1, heartbeat_at = now() WHERE id = $1",
        export_id,
    )
    runner = ExportRunner(db_url, role_dsn(db_url), tmp_path)
    assert await runner.run(export_id) is None
    assert await jobs.unfinished(owner) == []


async def test_the_reader_role_sees_only_the_jobs_tenant(
    db_url: str, owner: asyncpg.Connection
) -> None:
    await seed(owner, *_guests())
    reader = await asyncpg.connect(role_dsn(db_url))
    try:
        assert await reader.fetchval("SELECT count(*) FROM customers") == 0  # no tenant set
        async with reader.transaction():
            await reader.execute("SELECT set_config('contacts.tenant_id', $1, true)", TENANT)
            assert await reader.fetchval("SELECT count(*) FROM customers") == 3
    finally:
        await reader.close()
