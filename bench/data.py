"""The bench's events: demo records, decoded once, and producing them to the broker."""

from __future__ import annotations

import time
from dataclasses import dataclass

from schemas.events import SiteEvent
from services.common.kafka import Topics, ensure_topics
from services.demo import DemoRecord, generate, stream
from services.ingest.decode import Rejection, decode

PARTITIONS = 8


@dataclass(frozen=True)
class Dataset:
    """Raw records in arrival order and the events among them that decode."""

    records: list[DemoRecord]
    events: list[SiteEvent]
    decode_seconds: float


def make_dataset(
    events: int,
    tenants: int,
    *,
    seed: int = 5,
    invalid_ratio: float = 0.02,
    phone_first: float = 0.25,
) -> Dataset:
    """N demo records over T venues, with guests_per_venue = N // T // 4 so most hit a customer;
    ``phone_first`` of the guests with an email and a phone are seen by phone first (issue 14)."""
    guests = max(events // max(tenants, 1) // 4, 4)
    records = generate(
        seed=seed,
        venues=tenants,
        guests_per_venue=guests,
        events=events,
        invalid_ratio=invalid_ratio,
        phone_first=phone_first,
    )
    started = time.perf_counter()
    decoded = [decode(r.value) for r in records]
    elapsed = time.perf_counter() - started
    valid = [d for d in decoded if not isinstance(d, Rejection)]
    return Dataset(records, valid, elapsed)


async def publish(bootstrap: str, prefix: str, records: list[DemoRecord]) -> Topics:
    """Create the contract's topics under ``prefix`` (8 partitions) and produce every record."""
    topics = Topics(prefix)
    await ensure_topics(bootstrap, topics.all(), PARTITIONS)
    await stream(bootstrap, topics.site_events, records)
    return topics
