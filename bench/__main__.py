"""`python -m bench`: run the benchmarks on a private stack and write RESULTS.md.

Sections: ingest (broker to PostgreSQL), api (the profile API on a 1M-customer tenant), export
(a 1M-row segment against `psql \\copy`) and import (dry run of a 100k-row CSV). Each figure
comes with a reference measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from pathlib import Path

from bench import api, exporting, identity, importing
from bench.infra import BenchStack, machine, server_version, start_stack
from bench.report import Section, document
from bench.rows import cpu_table, notes, rows
from bench.run import Options, run
from services.common.bootstrap import tune_gc
from services.common.logging import configure

DEFAULT_OUT = Path(__file__).with_name("RESULTS.md")
CPU_NOTE = (
    "CPU seconds (user + system, from /proc) that each process used from the first committed "
    "batch to the last of the one-worker first pass, per 1,000 events committed in that time; "
    "PostgreSQL counts the postmaster and every backend (the bench's 50 ms poll included). "
    "The projection assumes that CPU is the only bound and that it scales linearly: rate = "
    "cores / total CPU per event, with the worker, PostgreSQL and the broker on the same cores; "
    "a worker is one Python process (one core at most), so the workers needed are the rate "
    "times the worker's CPU per event, rounded up, and the topic needs at least as many "
    "partitions (a power of two, 8 at least). On a real deployment PostgreSQL's disk, the "
    "network and the venue lock of a very busy venue can bound it first; docs/operations.md "
    "sizes a deployment from these figures."
)
ANALYSIS = Path(__file__).with_name("ANALYSIS.md")
SECTIONS = ("ingest", "api", "export", "import", "identity")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable; default: all)",
    )
    p.add_argument("--events", type=int, default=100_000, help="ingest: events (100,000)")
    p.add_argument("--tenants", type=int, default=200, help="ingest: venues (200)")
    p.add_argument("--latency-seconds", type=float, default=20.0, help="ingest: latency phase")
    p.add_argument("--profile", action="store_true", help="ingest: py-spy a further pass")
    p.add_argument(
        "--phone-first",
        type=float,
        default=0.25,
        help="ingest: share of the guests with email and phone seen by phone first (0.25)",
    )
    p.add_argument(
        "--api-customers",
        type=int,
        default=1_000_000,
        help="api: customers of the big tenant (1,000,000)",
    )
    p.add_argument("--api-tenants", type=int, default=1_000, help="api: small tenants (1,000)")
    p.add_argument(
        "--api-seconds",
        type=float,
        default=5.0,
        help="api: seconds per scenario and concurrency (5)",
    )
    p.add_argument("--export-rows", type=int, default=1_000_000, help="export: rows (1,000,000)")
    p.add_argument("--import-rows", type=int, default=100_000, help="import: CSV rows (100,000)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown results file")
    p.add_argument("--smoke", action="store_true", help="tiny sizes; finishes in about 1 min")
    return p.parse_args(argv)


async def sections(
    stack: BenchStack, args: argparse.Namespace, only: tuple[str, ...]
) -> tuple[list[Section], str]:
    """Run the chosen benchmarks one after the other; return their sections and PG's version."""
    out: list[Section] = []
    if "ingest" in only:
        if args.smoke:
            opts = Options(
                events=2_000,
                tenants=10,
                latency_seconds=3.0,
                naive_events=1_000,
                profile=args.profile,
                phone_first=args.phone_first,
            )
        else:
            opts = Options(
                args.events,
                args.tenants,
                args.latency_seconds,
                profile=args.profile,
                phone_first=args.phone_first,
            )
        numbers = await run(stack, opts)
        extra = (
            "### CPU per 1,000 events, and what more cores would give (measured)\n\n"
            + cpu_table(numbers)
            + "\n\n"
            + CPU_NOTE
        )
        if numbers.profile_md:
            extra += "\n\n### Where the time goes (py-spy, measured)\n\n" + numbers.profile_md
        out.append(Section("Ingest", rows(numbers), notes(numbers, opts), extra))
    if "api" in only:
        if args.smoke:
            out.append(await api.run(stack, customers=3_000, small_tenants=20, seconds=0.5))
        else:
            out.append(
                await api.run(
                    stack,
                    customers=args.api_customers,
                    small_tenants=args.api_tenants,
                    seconds=args.api_seconds,
                )
            )
    if "export" in only:
        out.append(await exporting.run(stack, rows=3_000 if args.smoke else args.export_rows))
    if "import" in only:
        out.append(await importing.run(stack, rows=2_000 if args.smoke else args.import_rows))
    if "identity" in only:
        out.append(await identity.run(stack, entries=100 if args.smoke else 1_000))
        out.append(await identity.import_undo(stack, rows=500 if args.smoke else 10_000))
    return out, await server_version(stack.admin_url)


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the document, write it to --out; return the exit code."""
    args = parse(argv)
    configure("WARNING")  # the services under test log; the bench process need not
    # In-process figures (the write path alone, faust consumption alone, the SQL references)
    # run with the collector settings of the services' own processes.
    tune_gc()
    only = tuple(args.only or SECTIONS)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    with start_stack() as stack:
        done, pg_version = asyncio.run(sections(stack, args, only))
    if ANALYSIS.exists() and not args.smoke:
        done.append(
            Section(
                "What bounds the figures (hand-written, from the profiles)",
                [],
                [],
                ANALYSIS.read_text(encoding="utf-8"),
            )
        )
    text = document(
        done, machine(pg_version), date=time.strftime("%Y-%m-%d %H:%M %Z"), command=command
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
