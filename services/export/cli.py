"""`contacts export-worker` and `contacts export` (ops: segments of one or all tenants to files)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
from pathlib import Path
from typing import Any

import structlog

from services.common import tenants
from services.common.bootstrap import owner_dsn, run_faust
from services.common.db import connect, migrate, role_dsn
from services.common.settings import Settings

log = structlog.get_logger("contacts.export")


def cmd_export_worker(settings: Settings, _: argparse.Namespace) -> int:
    """Run the export worker (faust) until SIGINT / SIGTERM."""
    from services.export.app import create_app

    log.info("export.starting", dir=str(settings.exports_path))
    return run_faust(
        settings,
        lambda dsn: create_app(settings, dsn, settings.api_database_url or role_dsn(dsn)),
    )


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Export a segment of one tenant, or of every tenant, into --out; no broker needed."""
    from services.common import exportjobs as jobs
    from services.export.runner import ExportRunner, export_path

    dsn = owner_dsn(settings)
    filters: dict[str, Any] = {
        k: v
        for k, v in {
            "language": args.language,
            "newsletter": args.newsletter,
            "tag": args.tag,
            "min_reservations": args.min_reservations,
            "min_no_shows": args.min_no_shows,
            "q": args.q,
        }.items()
        if v not in (None, [])
    }

    async def run() -> int:
        await migrate(dsn)
        conn = await connect(dsn)
        try:
            names = sorted(await tenants.all_ids(conn)) if args.all_tenants else [args.tenant]
            ids = [
                (t, await jobs.create(conn, t, filters, delimiter=args.delimiter, bom=args.bom))
                for t in names
            ]
        finally:
            await conn.close()
        runner = ExportRunner(
            dsn,
            settings.api_database_url or role_dsn(dsn),
            args.out,
            default_region=settings.default_region,
        )
        for tenant, export_id in ids:
            await runner.run(export_id)
            produced = export_path(args.out, tenant, export_id)
            final = args.out / f"{tenant}.csv"
            shutil.move(produced, final)
            with contextlib.suppress(OSError):
                produced.parent.rmdir()  # the per-tenant folder the runner made
            print(f"{tenant}: {final}", flush=True)
        return 0

    return asyncio.run(run())


def add_export_parsers(sub: Any) -> None:
    """Register `export-worker` and `export` on the main parser."""
    worker = sub.add_parser("export-worker", help="run the export worker")
    worker.set_defaults(func=cmd_export_worker)
    p = sub.add_parser("export", help="export segments to CSV files (ops)")
    p.set_defaults(func=cmd_export)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant")
    who.add_argument("--all-tenants", action="store_true")
    p.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    p.add_argument("--language", action="append", default=[])
    p.add_argument("--newsletter", choices=["true", "false", "unknown"])
    p.add_argument("--tag", action="append", default=[])
    p.add_argument("--min-reservations", type=int)
    p.add_argument("--min-no-shows", type=int)
    p.add_argument("--q")
    p.add_argument("--delimiter", choices=[",", ";"], default=",")
    p.add_argument("--bom", action="store_true")
