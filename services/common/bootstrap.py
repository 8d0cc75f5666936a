"""Process start-up shared by the faust services: the owner's URL, migrations, topics, the
worker loop."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable
from typing import Any

from services.common.db import migrate
from services.common.kafka import Topics, ensure_topics
from services.common.settings import Settings


def owner_dsn(settings: Settings) -> str:
    """The owner's database URL, or exit with a clear message."""
    if not settings.database_url:
        sys.exit(
            f"CONTACTS_DATABASE_URL is not set and no `contacts up` runs on {settings.data_dir}"
            " (start one with `make run`, or set CONTACTS_DATA_DIR to its data dir)"
        )
    return settings.database_url


# Python's cyclic collector runs a young collection every 700 net allocations, and every tenth
# and hundredth of those walks older objects: with the objects a batch builds (cards, history
# rows, their dicts) that was a third of a worker's Python CPU (bench/ANALYSIS.md, issue 16).
# The objects of start-up (faust, pydantic's validators, the app) never become garbage: frozen,
# the collector skips them. Reference counting frees almost everything a batch makes; the
# collector only has cycles left to find, so it may run far less often.
GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> None:
    """Freeze what start-up built and collect cycles less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_faust(settings: Settings, make_app: Callable[[str], Any]) -> int:
    """Migrate, create missing topics, build the app with the owner's URL and run it until
    SIGINT / SIGTERM."""
    import faust

    dsn = owner_dsn(settings)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(migrate(dsn))
    topics = Topics(settings.topic_prefix)
    loop.run_until_complete(
        ensure_topics(settings.kafka_bootstrap, topics.all(), settings.ingest_partitions)
    )
    worker = faust.Worker(make_app(dsn), loop=loop, override_logging=False, quiet=True)
    worker.spinner = None  # no terminal spinner: logs are JSON lines
    tune_gc()
    worker.execute_from_commandline()
    return 0  # pragma: no cover - execute_from_commandline exits
