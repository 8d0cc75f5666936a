"""Process start-up shared by the faust services: the owner's URL, migrations, topics, the
worker loop."""

from __future__ import annotations

import asyncio
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
    worker.execute_from_commandline()
    return 0  # pragma: no cover - execute_from_commandline exits
