"""Stream a segment out of PostgreSQL with COPY into a file: constant memory, checksummed."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from schemas.customer_csv import HEADER
from services.common.segments import SegmentFilters
from services.common.settings import DEFAULT_REGION
from services.export.csvquery import export_query

BOM = "\ufeff".encode()


@dataclass(frozen=True, slots=True)
class Written:
    """What an export produced."""

    rows: int
    bytes: int
    sha256: str


class _Sink:
    """COPY's output callback: write each chunk and hash it as it passes."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.hash.update(chunk)
        self.size += len(chunk)

    async def __call__(self, chunk: bytes) -> None:
        self.write(chunk)


async def write_segment(
    conn: asyncpg.Connection,
    tenant_id: str,
    filters: SegmentFilters,
    path: Path,
    *,
    delimiter: str = ",",
    bom: bool = False,
    region: str = DEFAULT_REGION,
) -> Written:
    """Write the segment's CSV to ``path`` atomically (a ``.part`` file renamed when complete).

    ``conn`` must be in a transaction with the tenant set, so row level security applies.
    """
    query, args = export_query(tenant_id, filters, region)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    sink = _Sink(part)
    try:
        if bom:
            sink.write(BOM)
        sink.write((delimiter.join(HEADER) + "\n").encode())  # COPY ends lines with LF too
        status = await conn.copy_from_query(
            query, *args, output=sink, format="csv", delimiter=delimiter
        )
        sink.file.flush()
        os.fsync(sink.file.fileno())
    finally:
        sink.file.close()
    os.replace(part, path)
    return Written(rows=int(status.split()[-1]), bytes=sink.size, sha256=sink.hash.hexdigest())
