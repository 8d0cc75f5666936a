"""faust's own consumption rate: the ingest app's settings and take, no handling.

This is the ceiling of any faust agent on this machine: what end-to-end ingest would reach
if handling a batch cost nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

import faust
from faust.types import StreamT

from services.common.faustapp import faust_app, raw_topic
from services.common.settings import Settings
from services.ingest.take import take_pipelined


async def consume_only(
    bootstrap: str, topic: str, group: str, records: int, timeout: float
) -> float:
    """Events/s of an agent that takes batches as the ingest app does and drops them, from
    its first batch to its last (start-up and the group join excluded)."""
    settings = Settings(kafka_bootstrap=bootstrap, kafka_session_timeout=6)
    app = faust_app(
        settings,
        group,
        stream_buffer_maxsize=max(4 * settings.ingest_batch_size, 4096),
        broker_max_poll_records=max(settings.ingest_batch_size, 500),
    )
    seen = 0
    first: tuple[float, int] | None = None
    last = 0.0
    done = asyncio.Event()

    @app.agent(raw_topic(app, topic), concurrency=1)
    async def drop(stream: StreamT[bytes]) -> None:
        nonlocal seen, first, last
        async for events in take_pipelined(
            cast(faust.Stream[bytes], stream),
            settings.ingest_batch_size,
            settings.ingest_batch_within,
        ):
            seen += len(events)
            last = time.monotonic()
            if first is None:
                first = (last, len(events))
            if seen >= records:
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await app.stop()
    assert first is not None
    return (seen - first[1]) / max(last - first[0], 1e-9)
