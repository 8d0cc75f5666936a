"""Broker-to-PostgreSQL figures through the real `contacts ingest` worker."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from bench.cpu import Meter
from bench.process import BatchLog, IngestProcess
from services.demo import DemoRecord

POLL = 0.05


@dataclass
class Pass:
    """One consumption of the topic: rates with and without the worker's start-up."""

    events: int
    total_seconds: float  # from process start
    steady_seconds: float  # from the first committed batch
    steady_events: int  # events committed after the first batch
    batches: int = 0
    batch_ms: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of the steady part

    @property
    def rate_with_startup(self) -> float:
        """Events per second, counted from process start."""
        return self.events / self.total_seconds

    @property
    def rate(self) -> float:
        """Events per second after the first batch was committed."""
        return self.steady_events / max(self.steady_seconds, 1e-9)


async def _count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM processed_events"))


async def first_pass(
    workers: list[IngestProcess],
    db_url: str,
    expected: int,
    timeout: float,
    *,
    postgres: int | None = None,
    broker: int | None = None,
) -> Pass:
    """Start the workers (one consumer group) and wait until ``expected`` events are committed
    (polling every 50 ms); the CPU each process used in the steady part (``postgres`` and
    ``broker``: their pids)."""
    conn = await asyncpg.connect(db_url)
    logs = [BatchLog(w.log_path) for w in workers]
    try:
        started = min(w.start() for w in workers)
        meter = Meter(
            postgres=postgres, broker=broker, **{f"worker{i}": w.pid for i, w in enumerate(workers)}
        )
        first_at, first_count, count = 0.0, 0, 0
        deadline = started + timeout
        while count < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} of {expected} events after {timeout:.0f}s")
            for w in workers:
                w.check()
            await asyncio.sleep(POLL)
            count = await _count(conn)
            if count and not first_at:
                first_at, first_count = time.monotonic(), count
                meter.restart()
        done = time.monotonic()
        cpu = meter.used()
    finally:
        await conn.close()
    for log in logs:
        log.poll()
    return Pass(
        count,
        done - started,
        done - first_at,
        count - first_count,
        sum(b.batches for b in logs),
        [ms for b in logs for ms in b.ms],
        cpu,
    )


async def replay(worker: IngestProcess, records: int, timeout: float) -> Pass:
    """Start a worker of a new group on the same topic; wait until its logs account for all."""
    batches = BatchLog(worker.log_path)
    started = worker.start()
    first_at, first_count, seen = 0.0, 0, 0
    deadline = started + timeout
    while seen < records:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{seen} of {records} records replayed after {timeout:.0f}s")
        worker.check()
        await asyncio.sleep(POLL)
        seen = batches.poll()
        if seen and not first_at:
            first_at, first_count = time.monotonic(), seen
    done = time.monotonic()
    return Pass(
        seen, done - started, done - first_at, seen - first_count, batches.batches, batches.ms
    )


@dataclass(frozen=True)
class Latency:
    """Event-to-visible latencies (seconds) at a fixed produce rate."""

    rate: float
    events: int
    visible: list[float]  # commit seen by a 50 ms poll minus producer send time
    stamped: list[float]  # processed_at (transaction start) minus producer send time

    @staticmethod
    def quantile(values: list[float], q: float) -> float:
        """The q-quantile (nearest rank) of ``values``."""
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _ids(records: list[DemoRecord]) -> list[tuple[str, str] | None]:
    out: list[tuple[str, str] | None] = []
    for r in records:
        doc = orjson.loads(r.value) if r.valid else None
        out.append((doc["tenant_id"], doc["event_id"]) if doc else None)
    return out


async def latency(
    db_url: str,
    bootstrap: str,
    topic: str,
    records: list[DemoRecord],
    rate: float,
    *,
    settle: float = 30.0,
) -> Latency:
    """Produce ``records`` at ``rate``/s to a running, caught-up worker; time each to visible."""
    ids = _ids(records)
    sent: dict[tuple[str, str], float] = {}
    seen: dict[tuple[str, str], tuple[float, float]] = {}
    conn = await asyncpg.connect(db_url)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False
    )
    await producer.start()
    watermark = await conn.fetchval(
        "SELECT coalesce(max(processed_at), '-infinity') FROM processed_events"
    )

    async def watch(until: asyncio.Event) -> None:
        # One writer commits its batches in order, so rows newer than the newest seen are new.
        nonlocal watermark
        while not until.is_set() or len(seen) < len(sent):
            rows = await conn.fetch(
                "SELECT tenant_id, event_id::text AS id, extract(epoch FROM processed_at) AS at,"
                " processed_at FROM processed_events WHERE processed_at > $1",
                watermark,
            )
            now = time.time()
            for r in rows:
                seen.setdefault((r["tenant_id"], r["id"]), (now, float(r["at"])))
                watermark = max(watermark, r["processed_at"])
            await asyncio.sleep(POLL)

    produced = asyncio.Event()
    watcher = asyncio.create_task(watch(produced))
    try:
        began = time.monotonic()
        for i, record in enumerate(records):
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            key = ids[i]
            if key is not None and key not in sent:
                sent[key] = time.time()
            await producer.send(topic, key=record.key, value=record.value)
        await producer.flush()
        produced.set()
        await asyncio.wait_for(watcher, timeout=settle)
    except TimeoutError:
        pass  # report what became visible; the missing ones are counted below
    finally:
        watcher.cancel()
        await producer.stop()
        await conn.close()
    visible = [seen[k][0] - t for k, t in sent.items() if k in seen]
    stamped = [seen[k][1] - t for k, t in sent.items() if k in seen]
    if len(visible) < len(sent):
        raise RuntimeError(f"only {len(visible)} of {len(sent)} events became visible")
    return Latency(rate, len(sent), visible, stamped)
