"""Two ingest workers in one consumer group; one is SIGKILLed mid-stream.

Its partitions move to the survivor, which resumes from the last committed offsets: the events
of the uncommitted window come again and are recognised as duplicates. Afterwards every valid
event is in history exactly once and the profiles equal the pure fold.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.common.db import connect
from tests.support.expected import demo_stream, fold_all, stored_customers
from tests.support.faults import log_events, stream
from tests.support.processes import IngestProcess, create_topics, wait_for
from tests.support.stack import Stack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]


def _partitions(path: Path, offset: int = 0) -> set[int]:
    return {
        int(p)
        for e in log_events(path, offset)
        if e.get("event") == "ingest.batch"
        for p in e.get("partitions", [])  # type: ignore[union-attr]
    }


async def test_sigkill_one_of_two_workers_moves_its_partitions_without_loss_or_duplicates(
    stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    records, valid, expected_ids = demo_stream(seed=5, venues=12, guests_per_venue=60, events=6_000)
    topics = await create_topics(stack.bootstrap, topic_prefix, partitions=4)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [IngestProcess(db_url, stack.bootstrap, topic_prefix, p) for p in logs]
    conn = await connect(db_url)
    producer: asyncio.Task[int] | None = None

    async def processed() -> int:
        return int(await conn.fetchval("SELECT count(*) FROM processed_events"))

    try:
        for w in workers:
            w.start()
        # Both in the group before the stream starts (the second join rebalances once).
        await asyncio.sleep(8)
        producer = asyncio.create_task(
            stream(
                stack.bootstrap,
                topics.site_events,
                [(r.key, r.value) for r in records],
                chunk=200,
                pause=0.4,
            )
        )

        async def both_busy() -> bool:
            return all(_partitions(p) for p in logs) and await processed() >= len(expected_ids) // 4

        await wait_for(both_busy, timeout=120, every=0.2)
        owned = [_partitions(p) for p in logs]
        victim = 0 if len(owned[0]) >= len(owned[1]) else 1
        survivor = 1 - victim
        mark = logs[survivor].stat().st_size
        at_kill = await processed()
        workers[victim].kill()
        assert at_kill < len(expected_ids), "the stream ended before the kill"
        await producer

        async def finished() -> bool:
            return await processed() >= len(expected_ids)

        await wait_for(finished, timeout=240, every=0.5)
        await asyncio.sleep(1.5)  # a straggling duplicate would show up now
        history = {
            (r["tenant_id"], r["event_id"])
            for r in await conn.fetch("SELECT tenant_id, event_id FROM history")
        }
        assert history == expected_ids  # nothing lost
        assert await conn.fetchval("SELECT count(*) FROM history") == len(expected_ids)
        assert await stored_customers(conn) == fold_all(valid)
        # The victim's partitions were taken over by the survivor after the kill.
        assert owned[victim] <= _partitions(logs[survivor], mark), (owned, victim)
    finally:
        if producer is not None:
            producer.cancel()
        codes = [w.stop() for w in workers]
        await conn.close()
    assert codes[survivor] == 0, logs[survivor].read_text()[-3000:]
