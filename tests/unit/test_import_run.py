"""run_import parses the next chunk while the current one is compared: same report, same order.

A stand-in connection answers the customer lookup (no customers), so no I/O is involved.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import pytest

from services.profile import importing
from services.profile.commands import Publisher
from services.profile.csvimport import CsvImport, ImportFileError, RowError, parse
from services.profile.importing import CHUNK, run_import

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TAGS = {"vip", "regular"}


class Lookup:
    """The customer lookup of run_import: nobody is a customer yet; can fail on a given call."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.calls += 1
        await asyncio.sleep(0.001)  # the database's turn: the next chunk is parsed meanwhile
        if self.calls == self.fail_on:
            raise ConnectionResetError("lost the database")
        return []

    async def fetchrow(self, query: str, *args: Any) -> None:
        return None  # the venue's settings: none, the defaults


class Sink:
    """A publisher that keeps the rows of each call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def publish(self, topic: str, records: list[tuple[bytes, bytes]]) -> int:
        self.calls.append(len(records))
        return len(records)


def _file(rows: int, *, broken_at: int | None = None) -> bytes:
    lines = ["email;phone;language;tags"]
    for i in range(rows):
        if broken_at is not None and i == broken_at:
            lines.append('late@example.be;"' + "x" * 200_000)  # a quote never closed
            break
        bad = i % 97 == 0
        lines.append(
            f"guest{i}@example.be;{'0470' if bad else ''};"
            f"{'xx-' if i % 89 == 0 else 'nl'};{'gold' if i % 83 == 0 else ''}"
        )
    return ("\n".join(lines) + "\n").encode()


async def _run(data: bytes, conn: Lookup, publish: Any = None) -> importing.Report:
    with CsvImport.open(io.BytesIO(data), known_tags=TAGS, now=NOW) as opened:
        return await run_import(
            cast(asyncpg.Connection, conn),
            opened,
            tenant_id="t",
            import_id=uuid.uuid4(),
            sha256="00",
            publish=publish,
        )


async def test_report_is_the_parsers_rows_and_errors_in_file_order() -> None:
    data = _file(3 * CHUNK + 123)
    expected = [
        (e.row, e.column, e.code, e.message)
        for e in parse(io.BytesIO(data), known_tags=TAGS, now=NOW)
        if isinstance(e, RowError)
    ]
    conn = Lookup()
    report = await _run(data, conn)
    assert conn.calls == 4
    assert [(e["row"], e["column"], e["code"], e["message"]) for e in report.errors] == expected
    assert report.rows == 3 * CHUNK + 123 and report.invalid == len({e[0] for e in expected})
    assert report.would_create == report.valid == report.rows - report.invalid


async def test_a_file_broken_half_way_raises_after_the_chunks_before_it() -> None:
    sink = Sink()
    with pytest.raises(ImportFileError) as caught:
        await _run(
            _file(3 * CHUNK, broken_at=2 * CHUNK + 10), Lookup(), (cast(Publisher, sink), "topic")
        )
    assert caught.value.code == "file.malformed"
    assert len(sink.calls) == 2  # as when parsing waited for each chunk: two chunks went out


async def test_a_database_error_is_raised_and_no_thread_reads_on() -> None:
    data = _file(5 * CHUNK)
    binary = io.BytesIO(data)
    with (
        pytest.raises(ConnectionResetError),
        CsvImport.open(binary, known_tags=TAGS, now=NOW) as opened,
    ):
        await run_import(
            cast(asyncpg.Connection, Lookup(fail_on=2)),
            opened,
            tenant_id="t",
            import_id=uuid.uuid4(),
            sha256="00",
            publish=None,
        )
    read = binary.tell()
    await asyncio.sleep(0.2)
    assert binary.tell() == read < len(data)  # the read-ahead had finished; nothing reads on
