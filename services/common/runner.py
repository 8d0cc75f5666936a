"""Start-up shared by the faust services: settings check, migrations, topics, the worker loop."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.common.db import migrate
from services.common.kafka import Topics, ensure_topics
from services.common.settings import Settings

if TYPE_CHECKING:
    import faust


def owner_dsn(settings: Settings) -> str:
    """The owner's database URL, or exit with a clear message."""
    if not settings.database_url:
        sys.exit("CONTACTS_DATABASE_URL is not set (or use `contacts up` for the embedded stack)")
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


def faust_app(settings: Settings, app_id: str, **overrides: Any) -> faust.App:
    """A faust app set up the way every contacts service runs: no web server, no leader
    topic, in-memory tables, offsets from the start, the configured session timeout."""
    import faust

    from services.common.kafka import broker_url

    options: dict[str, Any] = {
        "broker": broker_url(settings.kafka_bootstrap),
        "store": "memory://",
        "autodiscover": False,
        "web_enabled": False,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": settings.kafka_session_timeout,
        "broker_heartbeat_interval": max(settings.kafka_session_timeout / 5, 0.5),
        "topic_partitions": settings.ingest_partitions,
    }
    return faust.App(app_id, **{**options, **overrides})


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic whose keys and values stay bytes (decoding is the service's own job)."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
