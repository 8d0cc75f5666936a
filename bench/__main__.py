"""`python -m bench`: run the ingest benchmark on a private stack and write RESULTS.md."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from pathlib import Path

from bench.infra import machine, start_stack
from bench.report import Row, document
from bench.rows import notes, rows
from bench.run import Numbers, Options, run
from services.common.logging import configure

DEFAULT_OUT = Path(__file__).with_name("RESULTS.md")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--events", type=int, default=100_000, help="events to ingest (100,000)")
    p.add_argument("--tenants", type=int, default=200, help="venues (200)")
    p.add_argument("--only", choices=["ingest"], default="ingest", help="which benchmark")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown results file")
    p.add_argument("--latency-seconds", type=float, default=20.0, help="latency phase length")
    p.add_argument("--profile", action="store_true", help="py-spy a further end-to-end pass")
    p.add_argument("--smoke", action="store_true", help="tiny sizes; finishes in well under 1 min")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the table, write it to --out; return the exit code."""
    args = parse(argv)
    configure("WARNING")  # the worker under test logs; the bench process need not
    if args.smoke:
        opts = Options(events=2_000, tenants=10, latency_seconds=3.0, naive_events=1_000,
                       profile=args.profile)
    else:
        opts = Options(args.events, args.tenants, args.latency_seconds, profile=args.profile)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    with start_stack() as stack:
        numbers: Numbers = asyncio.run(run(stack, opts))
    table: list[Row] = rows(numbers)
    extra = ""
    if numbers.profile_md:
        extra = "## Where the time goes (py-spy, measured)\n\n" + numbers.profile_md
    text = document(table, machine(numbers.pg_version),
                    date=time.strftime("%Y-%m-%d %H:%M %Z"), command=command,
                    notes=notes(numbers, opts), extra=extra)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
