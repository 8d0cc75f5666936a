"""The whole bench run: every phase in order on one private stack; returns the raw numbers."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench import data, ingest, sampling, writes
from bench.consume import consume_only
from bench.cpu import postmaster
from bench.infra import BenchStack, fresh_database, server_version
from bench.process import IngestProcess
from services.common.db import fetch_once
from services.demo import generate

PREFIX = "bench."


@dataclass(frozen=True)
class Options:
    """What to run and how big."""

    events: int = 100_000
    tenants: int = 200
    latency_seconds: float = 20.0
    naive_events: int = 5_000
    profile: bool = False
    phone_first: float = 0.25  # share of the guests with email and phone seen by phone first


@dataclass(frozen=True)
class Cards:
    """What the identity rules (contract 3a) made of the corpus in one database."""

    cards: int  # customers rows now (an absorbed card is deleted by its merge)
    merges: int | None  # None: no merges table (the code before identity)
    suggestions: int | None  # duplicate_pairs rows; None as above

    def text(self) -> str:
        """One line for the progress log and the notes."""
        if self.merges is None:
            return f"{self.cards:,} cards (no merges table)"
        return (
            f"{self.cards:,} cards ({self.cards + self.merges:,} created, {self.merges:,} merged"
            f" away), {self.suggestions:,} duplicate suggestions"
        )


@dataclass
class Numbers:
    """Everything measured in one run."""

    pg_version: str = ""
    records: int = 0
    expected: int = 0
    decode: float = 0.0
    unnest: float = 0.0
    copy: float = 0.0
    copy_rows: int = 0
    unnest_cards: Cards | None = None
    cards: Cards | None = None  # the end-to-end database after the first pass
    first: ingest.Pass | None = None
    replay: ingest.Pass | None = None
    two_workers: ingest.Pass | None = None
    latency: ingest.Latency | None = None
    naive: float = 0.0
    naive_events: int = 0
    worker_alone: float = 0.0
    faust_only: float = 0.0
    profile_md: str = ""
    log: list[str] = field(default_factory=list)


def say(n: Numbers, message: str) -> None:
    """Progress on stdout, also kept for the notes."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
    n.log.append(message)


async def _count(url: str) -> int:
    row = await fetch_once(url, "SELECT count(*) FROM processed_events")
    return int(row[0]) if row else 0


async def cards(url: str) -> Cards:
    """Cards, merges and duplicate suggestions in the database at ``url``."""
    conn = await asyncpg.connect(url)
    try:
        count = int(await conn.fetchval("SELECT count(*) FROM customers"))
        if await conn.fetchval("SELECT to_regclass('merges') IS NULL"):
            return Cards(count, None, None)
        merges = int(await conn.fetchval("SELECT count(*) FROM merges"))
        pairs = int(await conn.fetchval("SELECT count(*) FROM duplicate_pairs"))
        return Cards(count, merges, pairs)
    finally:
        await conn.close()


async def run(stack: BenchStack, opts: Options) -> Numbers:
    """Measure every figure; the stack is the caller's."""
    n = Numbers(pg_version=await server_version(stack.admin_url))
    ds = data.make_dataset(opts.events, opts.tenants, phone_first=opts.phone_first)
    n.records, n.decode = len(ds.records), len(ds.records) / ds.decode_seconds
    say(n, f"{n.records} records, {len(ds.events)} decode; decode {n.decode:,.0f} ev/s")

    url = await fresh_database(stack.admin_url, "b_unnest")
    n.unnest = await writes.unnest(url, ds.events)
    n.expected = await _count(url)
    say(n, f"unnest {n.unnest:,.0f} ev/s; {n.expected} distinct events applied")
    n.unnest_cards = await cards(url)
    say(n, f"unnest: {n.unnest_cards.text()}")
    n.copy, n.copy_rows = await writes.copy_ceiling(url)
    say(n, f"COPY {n.copy:,.0f} rows/s over {n.copy_rows} rows")

    topics = await data.publish(stack.bootstrap, PREFIX, ds.records)
    say(n, f"produced {n.records} records to {topics.site_events}")
    timeout = max(180.0, opts.events / 200)
    n.faust_only = await consume_only(
        stack.bootstrap, topics.site_events, "bench-faust-only", n.records, timeout
    )
    say(n, f"faust consumption alone {n.faust_only:,.0f} ev/s")

    e2e_url = await fresh_database(stack.admin_url, "b_e2e")
    first = IngestProcess(
        e2e_url, stack.bootstrap, PREFIX, "bench-ingest-1", stack.workdir / "first.log"
    )
    try:
        n.first = await ingest.first_pass(
            [first],
            e2e_url,
            n.expected,
            timeout,
            postgres=postmaster(stack.admin_url),
            broker=stack.broker_pid,
        )
    finally:
        first.stop()
    n.cards = await cards(e2e_url)
    say(
        n,
        f"end-to-end {n.first.rate:,.0f} ev/s steady, {n.first.rate_with_startup:,.0f} "
        f"with start-up ({n.first.total_seconds:.1f} s); {n.cards.text()}",
    )

    second = IngestProcess(
        e2e_url, stack.bootstrap, PREFIX, "bench-ingest-2", stack.workdir / "replay.log"
    )
    try:
        n.replay = await ingest.replay(second, n.records, timeout)
        say(n, f"replay {n.replay.rate:,.0f} ev/s steady")
        rate = n.first.rate / 2
        count = max(int(rate * opts.latency_seconds), 50)
        late = generate(
            seed=11,
            venues=opts.tenants,
            events=count,
            invalid_ratio=0.0,
            guests_per_venue=max(opts.events // max(opts.tenants, 1) // 4, 4),
            phone_first=opts.phone_first,
        )
        n.latency = await ingest.latency(e2e_url, stack.bootstrap, topics.site_events, late, rate)
        say(
            n,
            f"latency at {rate:,.0f} ev/s: p50 {_ms(n.latency, 0.5)} ms,"
            f" p99 {_ms(n.latency, 0.99)} ms",
        )
    finally:
        second.stop()

    url = await fresh_database(stack.admin_url, "b_two")
    pair = [
        IngestProcess(
            url, stack.bootstrap, PREFIX, "bench-ingest-two", stack.workdir / f"two-{i}.log"
        )
        for i in (1, 2)
    ]
    try:
        n.two_workers = await ingest.first_pass(
            pair,
            url,
            n.expected,
            timeout,
            postgres=postmaster(stack.admin_url),
            broker=stack.broker_pid,
        )
    finally:
        for w in pair:
            w.stop()
    say(n, f"end-to-end, two workers: {n.two_workers.rate:,.0f} ev/s steady")

    url = await fresh_database(stack.admin_url, "b_naive")
    n.naive_events = min(opts.naive_events, n.records)
    n.naive = await writes.naive(url, stack.bootstrap, topics.site_events, n.naive_events)
    say(n, f"naive {n.naive:,.0f} ev/s over {n.naive_events} events")

    url = await fresh_database(stack.admin_url, "b_worker")
    n.worker_alone = await writes.worker_alone(url, stack.bootstrap, topics, ds.records)
    say(n, f"worker.handle alone {n.worker_alone:,.0f} ev/s")

    if opts.profile:
        n.profile_md = await _profile(stack, n, timeout)
    return n


async def _profile(stack: BenchStack, n: Numbers, timeout: float) -> str:
    """A further first pass (fresh database, new group) with py-spy attached after start-up."""
    url = await fresh_database(stack.admin_url, "b_profile")
    worker = IngestProcess(
        url, stack.bootstrap, PREFIX, "bench-ingest-profile", stack.workdir / "profile.log"
    )
    raw = stack.workdir / "profile.txt"
    spy = None
    try:
        worker.start()
        deadline = time.monotonic() + timeout
        while await _count(url) == 0 and time.monotonic() < deadline:
            worker.check()
            await asyncio.sleep(0.05)
        spy = sampling.start(worker.pid, raw)
        while await _count(url) < n.expected and time.monotonic() < deadline:
            worker.check()
            await asyncio.sleep(0.05)
    finally:
        if spy is not None:
            sampling.stop(spy)
        worker.stop()
    keep = Path(tempfile.gettempdir()) / "contacts-bench-profile.txt"
    keep.write_bytes(raw.read_bytes())
    say(n, f"profile: {keep}")
    return sampling.summarize(raw)


def _ms(lat: ingest.Latency, q: float) -> str:
    return f"{1000 * ingest.Latency.quantile(lat.visible, q):,.0f}"
