"""The faust app factory: the consumer's fetch wait is ours, not faust's hard-coded 1,500 ms."""

from __future__ import annotations

import pytest

from services.common.faustapp import faust_app
from services.common.settings import Settings


@pytest.mark.parametrize(
    ("configured", "expected"), [({}, 100), ({"kafka_fetch_max_wait_ms": 7}, 7)]
)
async def test_the_worker_consumer_takes_the_configured_fetch_wait(
    configured: dict[str, int], expected: int
) -> None:
    """The aiokafka consumer faust builds for the worker waits CONTACTS_KAFKA_FETCH_MAX_WAIT_MS
    (bench/RESULTS.md: with 1,500 ms a broker that holds fetches delays every event)."""
    app = faust_app(Settings(kafka_bootstrap="127.0.0.1:1", **configured), "runner-test")
    consumer = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
    assert consumer._fetch_max_wait_ms == expected
    assert consumer._group_id == "runner-test"  # still faust's own worker consumer
