"""`contacts up`: the whole system on embedded defaults, with a live demo and a status line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
from datetime import UTC, datetime

import structlog

from services.common.db import connect, migrate
from services.common.infra import EmbeddedPostgres, TansuBroker
from services.common.kafka import Topics, ensure_topics
from services.common.settings import Settings

log = structlog.get_logger("contacts.up")

_STATUS = """
SELECT (SELECT count(*) FROM tenants) AS venues,
       (SELECT count(*) FROM customers WHERE anonymized_at IS NULL) AS customers,
       (SELECT count(*) FROM history) AS history,
       (SELECT count(*) FROM processed_events WHERE outcome = 'suppressed') AS suppressed
"""


def run_up(settings: Settings, *, demo_events: int) -> int:
    """Start PostgreSQL, the broker and the services; block until Ctrl-C / SIGTERM."""
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pg = EmbeddedPostgres(data_dir / "pg")
    host, _, port = settings.kafka_bootstrap.partition(",")[0].rpartition(":")
    broker = TansuBroker(host or "127.0.0.1", int(port or 9092))
    children: list[subprocess.Popen[bytes]] = []
    try:
        dsn = settings.database_url or pg.start()
        broker.start()
        return asyncio.run(_serve(settings, dsn, children, demo_events))
    finally:
        _stop_children(children)
        broker.stop()
        pg.stop()
        print("contacts: stopped; data kept in", data_dir, flush=True)


async def _serve(
    settings: Settings, dsn: str, children: list[subprocess.Popen[bytes]], demo_events: int
) -> int:
    await migrate(dsn)
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings.kafka_bootstrap, topics.all(), settings.ingest_partitions)
    token = settings.dev_token or f"ct_dev_{secrets.token_urlsafe(24)}"
    env = {
        "CONTACTS_INGEST_METRICS_PORT": "9101",
        "CONTACTS_EXPORT_DIR": str(settings.exports_path.resolve()),
        **os.environ,
        "CONTACTS_DEV_TOKEN": token,
        "CONTACTS_DATABASE_URL": dsn,
        "CONTACTS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
    }
    for command in _service_commands():
        children.append(
            subprocess.Popen(  # noqa: ASYNC220 - long-lived children, started once
                [sys.executable, "-m", "services.cli", *command], env=env, start_new_session=True
            )
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _banner(settings, dsn, token)
    tasks = [asyncio.create_task(_status(dsn, stop))]
    if settings.demo:
        tasks.append(asyncio.create_task(_demo(settings, topics, demo_events)))
    while not stop.is_set():
        for child in children:
            if child.poll() is not None:
                log.error("up.child_exited", pid=child.pid, code=child.returncode)
                stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0


def _service_commands() -> list[list[str]]:
    """The services `up` runs, each in its own process."""
    return [["ingest"], ["profile"], ["export-worker"]]


def _banner(settings: Settings, dsn: str, token: str) -> None:
    api = f"http://{settings.http_host}:{settings.http_port}"
    print(
        "\ncontacts is up\n"
        f"  API         {api}   (docs: {api}/docs)\n"
        f"  ops token   {token}\n"
        f"  try         curl -H 'Authorization: Bearer {token}' "
        f"{api}/v1/tenants/brasserie-leopold/customers\n"
        f"  metrics     {api}/metrics   ingest: http://{settings.http_host}:9101/metrics\n"
        f"  broker      {settings.kafka_bootstrap}\n"
        f"  database    {dsn}\n"
        f"  data        {settings.data_dir.resolve()}\n"
        f"  demo        {'streaming' if settings.demo else 'off (CONTACTS_DEMO=0)'}\n"
        "  Ctrl-C stops everything; the database persists.\n",
        flush=True,
    )


async def _status(dsn: str, stop: asyncio.Event) -> None:
    """Print a one-line status every few seconds: profiles being built, live."""
    last = None
    while not stop.is_set():
        await asyncio.sleep(3)
        try:
            conn = await connect(dsn)
            try:
                row = await conn.fetchrow(_STATUS)
            finally:
                await conn.close()
        except (OSError, ConnectionError) as exc:
            print(f"status: database unreachable ({type(exc).__name__})", flush=True)
            continue
        assert row is not None
        line = (f"status: {row['venues']} venues, {row['customers']} customers, "
                f"{row['history']} history entries, {row['suppressed']} suppressed")
        if line != last:
            print(line, flush=True)
            last = line


async def _demo(settings: Settings, topics: Topics, events: int) -> None:
    """Stream the demo at a pace a person can watch, the first part in a burst."""
    from services import demo

    # A new seed each run: the venues keep trading, new guests and visits arrive.
    now = datetime.now(UTC)
    records = demo.generate(seed=int(now.timestamp()), events=events, start=now)
    burst = len(records) // 2
    sent = await demo.stream(settings.kafka_bootstrap, topics.site_events, records[:burst])
    log.info("demo.burst_sent", events=sent)
    sent = await demo.stream(
        settings.kafka_bootstrap, topics.site_events, records[burst:], rate=20.0
    )
    log.info("demo.done", events=sent)


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
