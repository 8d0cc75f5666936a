"""Run the real services as subprocesses, produce events, wait for outcomes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common.infra import start_service, terminate
from services.common.kafka import Topics, ensure_topics

ROOT = Path(__file__).resolve().parents[2]


def spawn(command: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`contacts COMMAND` from the repository, output appended to ``log_path``."""
    return start_service(command, env, log_path=log_path, cwd=ROOT)


class IngestProcess:
    """`contacts ingest` in a subprocess, as production runs it."""

    def __init__(self, db_url: str, bootstrap: str, prefix: str, log_path: Path, **env: str):
        self.env = {
            **os.environ,
            "CONTACTS_DATABASE_URL": db_url,
            "CONTACTS_KAFKA_BOOTSTRAP": bootstrap,
            "CONTACTS_TOPIC_PREFIX": prefix,
            "CONTACTS_INGEST_GROUP": f"{prefix}ingest",
            "CONTACTS_KAFKA_SESSION_TIMEOUT": "6",
            "CONTACTS_SECRET": "test-secret",
            **env,
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the worker (logs appended to ``log_path``)."""
        self.proc = spawn("ingest", self.env, self.log_path)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is committed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait for a clean exit; return the exit code."""
        return terminate(self.proc, timeout=60)


async def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send (key, value) records and wait until the broker has them all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent = 0
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def event_bytes(doc: dict[str, object]) -> tuple[bytes, bytes]:
    """(key, value) of an event document, keyed by tenant as the contract says."""
    return str(doc["tenant_id"]).encode(), orjson.dumps(doc)


async def consume_all(bootstrap: str, topic: str, *, expect: int, timeout: float = 60.0) -> list:
    """Read a topic from the start until ``expect`` records arrived (or time runs out)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                got.extend(messages)
    finally:
        await consumer.stop()
    return got


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 90.0, every: float = 0.2
) -> None:
    """Poll ``check`` until it holds; fail with a clear message when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


async def create_topics(bootstrap: str, prefix: str, partitions: int = 4) -> Topics:
    """The contract's topics under a test's prefix."""
    topics = Topics(prefix)
    await ensure_topics(bootstrap, topics.all(), partitions)
    return topics


def librdkafka_produce(bootstrap: str, topic: str, docs: Iterable[dict[str, object]]) -> int:
    """Send event documents as a website's stack does, with librdkafka (confluent-kafka), in
    order and keyed by tenant; wait until the broker has them all."""
    import confluent_kafka  # a dev dependency: the tests' client, not the product's

    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": False,  # the embedded broker has no InitProducerId
            "acks": "all",
            "log_level": 3,
        }
    )
    failed: list[object] = []
    sent = 0
    for doc in docs:
        key, value = event_bytes(doc)
        producer.produce(
            topic, value, key, on_delivery=lambda err, _: err is not None and failed.append(err)
        )
        sent += 1
    assert producer.flush(30) == 0 and failed == [], failed
    return sent
