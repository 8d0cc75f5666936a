"""The ``contacts`` command: run the services, the embedded stack, migrations and the demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence

import structlog

from services.common.logging import configure
from services.common.settings import DEV_SECRET, Settings, get_settings

log = structlog.get_logger("contacts")


def _dsn(settings: Settings) -> str:
    if not settings.database_url:
        sys.exit("CONTACTS_DATABASE_URL is not set (or use `contacts up` for the embedded stack)")
    return settings.database_url


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    """Apply pending migrations."""
    from services.common.db import migrate

    applied = asyncio.run(migrate(_dsn(settings)))
    log.info("migrate.done", applied=applied)
    return 0


def cmd_ingest(settings: Settings, _: argparse.Namespace) -> int:
    """Run the ingest worker (faust) until SIGINT / SIGTERM."""
    import faust

    from services.common.db import migrate
    from services.common.kafka import Topics, ensure_topics
    from services.ingest.app import create_app

    dsn = _dsn(settings)
    if settings.secret == DEV_SECRET:
        log.warning("settings.dev_secret", hint="set CONTACTS_SECRET in production")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(migrate(dsn))
    topics = Topics(settings.topic_prefix)
    loop.run_until_complete(
        ensure_topics(settings.kafka_bootstrap, topics.all(), settings.ingest_partitions)
    )
    app = create_app(settings, dsn)
    log.info("ingest.starting", topic=topics.site_events, group=settings.ingest_group)
    worker = faust.Worker(app, loop=loop, override_logging=False, quiet=True)
    worker.spinner = None  # no terminal spinner: logs are JSON lines
    worker.execute_from_commandline()
    return 0  # pragma: no cover - execute_from_commandline exits


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Produce the demo events onto the site-events topic."""
    from services import demo
    from services.common.kafka import Topics, ensure_topics

    topics = Topics(settings.topic_prefix)
    records = demo.generate(seed=args.seed, venues=args.venues, events=args.events)

    async def run() -> int:
        await ensure_topics(settings.kafka_bootstrap, topics.all(), settings.ingest_partitions)
        return await demo.stream(
            settings.kafka_bootstrap, topics.site_events, records, rate=args.rate
        )

    sent = asyncio.run(run())
    log.info("demo.sent", events=sent, topic=topics.site_events)
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    """Start the embedded stack and every service; Ctrl-C stops them all."""
    from services.up import run_up

    return run_up(settings, demo_events=args.events)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="contacts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, tuple[Callable[[Settings, argparse.Namespace], int], str]] = {
        "up": (cmd_up, "embedded PostgreSQL + broker, all services, live demo"),
        "migrate": (cmd_migrate, "apply database migrations"),
        "ingest": (cmd_ingest, "run the ingest worker"),
        "demo": (cmd_demo, "stream demo events"),
    }
    for name, (func, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        if name in ("demo", "up"):
            p.add_argument("--events", type=int, default=3000, help="how many demo events")
        if name == "demo":
            p.add_argument("--seed", type=int, default=7)
            p.add_argument("--venues", type=int, default=4)
            p.add_argument("--rate", type=float, default=None, help="events per second")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``contacts`` console script."""
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure(os.environ.get("CONTACTS_LOG_LEVEL", settings.log_level))
    return int(args.func(settings, args))


if __name__ == "__main__":
    sys.exit(main())
