"""From measured numbers to table rows with references, ratios and issue 5's targets."""

from __future__ import annotations

from bench.ingest import Latency
from bench.report import Row
from bench.run import Cards, Numbers, Options

TARGET_RATE = 10_000


def _ev(value: float) -> str:
    return f"{value:,.0f} ev/s"


def _identity_rows(e2e: Cards, alone: Cards) -> list[Row]:
    """Cards, merges and suggestions of the end-to-end database; the write path's for reference
    (the same per-venue order of events, other batches)."""

    def count(value: int | None) -> float:
        return float(value or 0)

    def ref(value: int | None, unit: str) -> str:
        return "no merges table" if value is None else f"write path alone {value:,} {unit}"

    return [
        Row("cards after the first pass", e2e.cards, "cards", ref(alone.cards, "cards")),
        Row(
            "automatic merges (linked_by_event)",
            count(e2e.merges),
            "merges",
            ref(alone.merges, "merges"),
        ),
        Row(
            "duplicate suggestions",
            count(e2e.suggestions),
            "pairs",
            ref(alone.suggestions, "pairs"),
        ),
    ]


def rows(n: Numbers) -> list[Row]:
    """The table, in the order of report.INGEST_FIGURES, with issue 16's targets (ratios to
    references measured in the same run)."""
    assert n.first is not None and n.replay is not None and n.latency is not None
    assert n.two_workers is not None
    assert n.cards is not None and n.unnest_cards is not None
    e2e = n.first.rate
    faust = f"faust consumption alone {_ev(n.faust_only)}"
    p50 = 1000 * Latency.quantile(n.latency.visible, 0.5)
    p99 = 1000 * Latency.quantile(n.latency.visible, 0.99)
    return [
        Row("end-to-end, with faust start-up", n.first.rate_with_startup, "ev/s"),
        Row(
            "end-to-end, steady",
            e2e,
            "ev/s",
            faust,
            e2e / n.faust_only,
            "≥ 0.8\u00d7",
            e2e / n.faust_only >= 0.8,
        ),
        Row(
            "end-to-end, steady, 2 workers in one group",
            n.two_workers.rate,
            "ev/s",
            f"1 worker {_ev(e2e)}",
            n.two_workers.rate / e2e,
            "≥ 1.7\u00d7",
            n.two_workers.rate / e2e >= 1.7,
        ),
        Row(
            "unnest write path alone",
            n.unnest,
            "ev/s",
            f"COPY {_ev(n.copy)}",
            n.unnest / n.copy,
            "≥ 0.25\u00d7",
            n.unnest / n.copy >= 0.25,
        ),
        Row("raw COPY ceiling (history rows)", n.copy, "ev/s"),
        Row(
            "replay (all duplicates), steady",
            n.replay.rate,
            "ev/s",
            faust,
            n.replay.rate / n.faust_only,
            "≥ 0.9\u00d7",
            n.replay.rate / n.faust_only >= 0.9,
        ),
        Row("faust consumption alone (the take, no handling)", n.faust_only, "ev/s"),
        Row(
            "worker.handle alone, no faust",
            n.worker_alone,
            "ev/s",
            f"end-to-end {_ev(e2e)}",
            e2e / n.worker_alone,
        ),
        Row(
            "naive: 1 transaction per event",
            n.naive,
            "ev/s",
            f"end-to-end {_ev(e2e)}",
            e2e / n.naive,
        ),
        Row("decode alone (orjson + pydantic)", n.decode, "ev/s"),
        Row("latency p50 at half load", p50, "ms", f"at {_ev(n.latency.rate)}"),
        Row(
            "latency p99 at half load",
            p99,
            "ms",
            f"at {_ev(n.latency.rate)}",
            target="≤ 300 ms",
            met=p99 <= 300,
        ),
        *_identity_rows(n.cards, n.unnest_cards),
    ]


PROJECTED_CORES = (8, 32)


def cpu_table(n: Numbers) -> str:
    """CPU seconds per 1,000 events of each process in the steady first pass, and the rate a
    machine of more cores would reach if that CPU were the only bound."""
    assert n.first is not None
    per = 1000 / max(n.first.steady_events, 1)
    used = {k: v * per for k, v in n.first.cpu.items()}
    worker = sum(v for k, v in used.items() if k.startswith("worker"))
    postgres, broker = used.get("postgres", 0.0), used.get("broker", 0.0)
    total = worker + postgres + broker
    lines = [
        "| process | CPU s per 1,000 events |",
        "|---|---:|",
        f"| ingest worker | {worker:.3f} |",
        f"| PostgreSQL (all backends) | {postgres:.3f} |",
        f"| broker (Tansu) | {broker:.3f} |",
        f"| **total** | **{total:.3f}** |",
        f"| bench (the poller; not counted) | {used.get('bench', 0.0):.3f} |",
        "",
        "| cores | projected ev/s | ingest workers (one core each) | partitions |",
        "|---:|---:|---:|---:|",
    ]
    for cores in PROJECTED_CORES:
        rate = cores * 1000 / total if total else 0.0
        workers = max(1, -(-int(rate * worker) // 1000))
        partitions = max(8, 1 << (workers - 1).bit_length())
        lines.append(f"| {cores} | {rate:,.0f} | {workers} | {partitions} |")
    return "\n".join(lines)


def notes(n: Numbers, opts: Options) -> list[str]:
    """What each figure measures, and the sizes of this run."""
    assert n.first is not None and n.replay is not None and n.latency is not None
    stamped99 = 1000 * Latency.quantile(n.latency.stamped, 0.99)
    startup = n.first.total_seconds - n.first.steady_seconds
    mean_batch = sum(n.first.batch_ms) / max(len(n.first.batch_ms), 1)
    assert n.cards is not None
    return [
        f"{n.records:,} records ({opts.events:,} asked, {opts.tenants} venues, guests per venue "
        f"= events // venues // 4, ~2 % invalid, ~1 % redelivered duplicates); "
        f"{n.expected:,} distinct events applied.",
        f"Identity (issue 14): {opts.phone_first:.0%} of the guests with an email and a phone "
        f"are seen by phone first (their first events carry the phone only), a third of those "
        f"also send an email-only form before (an event then links the two cards: a merge); per "
        f"venue one or two phones shared by two emails (a duplicate suggestion) and one or two "
        f"junk placeholder emails with a phone. End-to-end database after the first pass: "
        f"{n.cards.text()}.",
        "Everything (bench process, Tansu broker, embedded PostgreSQL with default settings, "
        "synchronous_commit on, and the worker) shares this machine's cores.",
        f"End-to-end: all records produced first to an 8-partition topic, then ONE "
        f"`contacts ingest` subprocess (fresh migrated database, session timeout 6 s); "
        f"`SELECT count(*) FROM processed_events` polled every 50 ms. Steady = from the first "
        f"committed batch to the last; with start-up = from process start "
        f"({n.first.total_seconds:.1f} s in all, {startup:.1f} s to the first commit). "
        f"{n.first.batches} batches, mean {mean_batch:.0f} ms each "
        f"(worker's own `ingest.batch` timing).",
        "2 workers: the same, with two `contacts ingest` subprocesses in one consumer group "
        "(4 partitions each) on a fresh database.",
        f"Naive: aiokafka consumer, `decode` + `process_batch(store, [event])` (one transaction "
        f"each) on one connection, first {n.naive_events:,} records of the same topic.",
        "Unnest path: the same events decoded in memory first, then `process_batch` over batches "
        "of 2,000 on one connection into a fresh database (the bench process runs with the "
        "workers' collector settings, `tune_gc`, as do the other in-process figures).",
        f"COPY ceiling: the {n.copy_rows:,} history rows the unnest path wrote, "
        "`copy_records_to_table` in chunks of 2,000 into `CREATE TABLE ... (LIKE history "
        "INCLUDING ALL)` (same primary key and index, no foreign key).",
        "worker.handle alone: `IngestWorker.handle` over batches of 2,000 raw records with a real "
        "producer for the DLQ (as the app: a batch's DLQ records sent together, each delivery "
        "awaited), no faust; its ratio is "
        "end-to-end / worker, i.e. what faust's consumption costs.",
        "faust consumption alone: an in-process faust app with the ingest app's settings and "
        "the app's `take_pipelined` (same batch size and window) that drops every batch "
        "(first batch to last); the "
        "ceiling of any faust agent here, whatever the handling costs.",
        f"Replay: a second worker, new consumer group, same topic and filled database (every "
        f"event a duplicate); done when its `ingest.batch` logs account for every record "
        f"({n.replay.total_seconds:.1f} s with start-up).",
        f"Latency: the replay worker, caught up, gets {n.latency.events:,} new events at "
        f"{n.latency.rate:,.0f} ev/s (half the steady end-to-end rate); latency = moment a 50 ms "
        f"poll sees the committed row minus producer send time (`time.time()`). With "
        f"`processed_at` (transaction start) instead: p99 {stamped99:,.0f} ms.",
    ]
