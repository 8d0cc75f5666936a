"""SIGKILL the ingest worker three times mid-stream: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services import demo
from services.common.db import connect
from tests.support.expected import demo_stream, fold_all, reference, stored_customers
from tests.support.processes import IngestProcess, consume_all, create_topics, produce, wait_for
from tests.support.stack import Stack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]
EVENTS = 24_000


async def test_sigkill_three_times_loses_and_duplicates_nothing(
    stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    records, valid, expected_ids = demo_stream(
        seed=11, venues=6, guests_per_venue=400, events=EVENTS
    )
    invalid = {r.value for r in records if not r.valid}
    topics = await create_topics(stack.bootstrap, topic_prefix)
    await produce(stack.bootstrap, topics.site_events, [(r.key, r.value) for r in records])

    worker = IngestProcess(db_url, stack.bootstrap, topic_prefix, tmp_path / "ingest.log")
    conn = await connect(db_url)
    progress: list[int] = []

    async def processed() -> int:
        return int(await conn.fetchval("SELECT count(*) FROM processed_events"))

    try:
        for _ in range(3):
            worker.start()
            start = await processed()
            target = start + len(expected_ids) // 5  # at least 20% more since the restart

            async def advanced(target: int = target) -> bool:
                return await processed() >= target

            await wait_for(advanced, timeout=180, every=0.05)
            worker.kill()
            progress.append(await processed())
        worker.start()

        async def finished() -> bool:
            return await processed() >= len(expected_ids)

        await wait_for(finished, timeout=300, every=0.5)
        time.sleep(1.0)  # a straggling duplicate would show up now
        history = {
            (r["tenant_id"], r["event_id"])
            for r in await conn.fetch("SELECT tenant_id, event_id FROM history")
        }
        total_rows = await conn.fetchval("SELECT count(*) FROM history")
        assert history == expected_ids  # every valid event, exactly once
        assert total_rows == len(expected_ids)
        assert await stored_customers(conn) == fold_all(valid)
        # a stream full of merges (a quarter of the guests are seen by phone first: 3a), each
        # recorded exactly once
        merges = len(reference(valid).state.merges)
        assert merges > 100
        assert await conn.fetchval("SELECT count(*) FROM merges") == merges
        # The kills landed between a database commit and an offset commit: events came again.
        redelivered = sum(
            json.loads(line).get("duplicates", 0)
            for line in (tmp_path / "ingest.log").read_text().splitlines()
            if '"ingest.batch"' in line
        )
        sent_twice = sum(r.valid for r in records) - len(demo.unique_valid_event_ids(records))
        assert redelivered > sent_twice
        dead = await consume_all(stack.bootstrap, topics.dlq, expect=len(invalid), timeout=60)
        assert {m.value for m in dead} == invalid  # every invalid record, at least once
    finally:
        assert worker.stop() == 0, (tmp_path / "ingest.log").read_text()[-3000:]
        await conn.close()
    assert progress == sorted(progress) and progress[0] >= len(expected_ids) // 5
