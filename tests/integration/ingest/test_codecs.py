"""Every compression codec, and batches that cannot be read, through the real broker.

Websites produce with librdkafka (confluent-kafka) in any ``compression.type``; the ingest
worker (aiokafka 0.14 inside faust) must read them all, and a record batch that cannot be read
(a corrupt compressed payload, a CRC mismatch, a codec library missing from the image) must go
to the DLQ as ``event.unreadable`` while the partition moves on. The embedded broker refuses a
batch with an unknown codec attribute (as Apache Kafka does) but stores corrupt payloads and
bad CRCs, so those are produced here as raw ProduceRequests.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import confluent_kafka
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition

from services.common.db import with_database
from services.common.infra import free_port
from services.common.kafka import Topics
from tests.support.batches import v2_batch
from tests.support.builders import event
from tests.support.processes import IngestProcess, consume_all, create_topics, event_bytes, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 4


class Worker:
    """One `contacts ingest` subprocess with its own database, topics and metrics port."""

    def __init__(self, db_url: str, topics: Topics, proc: IngestProcess, metrics_url: str):
        self.db_url, self.topics, self.proc, self.metrics_url = db_url, topics, proc, metrics_url

    async def fetchval(self, sql: str, *args: object) -> Any:
        conn = await asyncpg.connect(self.db_url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def landed(self, doc: dict[str, Any]) -> bool:
        return bool(
            await self.fetchval(
                "SELECT count(*) FROM history WHERE tenant_id = $1 AND event_id = $2",
                doc["tenant_id"],
                uuid.UUID(doc["event_id"]),
            )
        )

    def log(self) -> str:
        return Path(self.proc.log_path).read_text(errors="replace")


async def start_worker(stack: Stack, template_db: str, tmp: Path, **env: str) -> Worker:
    name = f"c_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    await admin.close()
    prefix = f"c{uuid.uuid4().hex[:8]}."
    topics = await create_topics(stack.bootstrap, prefix, PARTITIONS)
    port = free_port()
    proc = IngestProcess(
        with_database(stack.admin_url, name),
        stack.bootstrap,
        prefix,
        tmp / "log",
        CONTACTS_INGEST_METRICS_PORT=str(port),
        **env,
    )
    proc.start()
    return Worker(
        proc.env["CONTACTS_DATABASE_URL"], topics, proc, f"http://127.0.0.1:{port}/metrics"
    )


def stop(worker: Worker) -> None:
    assert worker.proc.stop() == 0, worker.log()[-3000:]


@pytest.fixture(scope="module")
async def worker(
    stack: Stack, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Worker]:
    """The ingest worker as deployed: aiokafka with its codec extras (cramjam)."""
    w = await start_worker(stack, template_db, tmp_path_factory.mktemp("codecs"))
    yield w
    stop(w)


def librdkafka_send(
    bootstrap: str, topic: str, partition: int, codec: str, docs: list[dict[str, Any]]
) -> int:
    """Produce as a website's stack does: librdkafka, one compressed batch per flush; the
    offset of the first event."""
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "enable.idempotence": False,  # the embedded broker has no InitProducerId
            "acks": "all",
            "linger.ms": 50,  # the events travel in one batch
            "log_level": 3,
        }
    )
    delivered: list[tuple[object, int]] = []
    for doc in docs:
        key, value = event_bytes(doc)
        producer.produce(
            topic,
            value,
            key,
            partition=partition,
            on_delivery=lambda err, msg: delivered.append((err, msg.offset())),
        )
    assert producer.flush(30) == 0
    assert [err for err, _ in delivered] == [None] * len(docs), delivered
    return min(offset for _, offset in delivered)


async def aiokafka_send(bootstrap: str, topic: str, partition: int, doc: dict[str, Any]) -> None:
    """A plain (uncompressed) aiokafka event to the same partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        key, value = event_bytes(doc)
        await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


def claiming(data: bytearray, codec: int) -> bytearray:
    """The batch's attributes claim ``codec`` over a payload that is not (a valid CRC)."""
    struct.pack_into(">h", data, 21, codec)
    struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return data


def flipped(data: bytearray) -> bytearray:
    data[-2] ^= 0xFF  # one payload byte: the CRC no longer matches
    return data


async def to_leader(bootstrap: str, topic: str, partition: int, request: Any) -> Any:
    """Send a raw protocol request to the partition's leader; its response."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client.force_metadata_update()
        leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        return await client.send(leader, request)
    finally:
        await client.close()


async def produce_raw(bootstrap: str, topic: str, partition: int, data: bytes) -> int:
    """Send one record batch as is; the base offset the broker gave it."""
    response = await to_leader(
        bootstrap,
        topic,
        partition,
        ProduceRequest(None, -1, 10_000, [(topic, [(partition, data)])]),
    )
    ((_, ((_, error, offset, *_),)),) = response.topics
    assert error == 0, f"broker refused the batch: error {error}"
    return int(offset)


async def fetch_raw(bootstrap: str, topic: str, partition: int, offset: int) -> bytes:
    """The record batches the broker serves from ``offset``, undecoded."""
    response = await to_leader(
        bootstrap,
        topic,
        partition,
        FetchRequest(100, 1, 1 << 20, 0, [(topic, [(partition, offset, 1 << 20)])]),
    )
    ((_, ((_, error, _, *data),)),) = response.topics
    assert error == 0, f"fetch error {error}"
    return bytes(data[-1])


async def unreadable_in_dlq(bootstrap: str, topics: Topics, partition: int) -> dict[int, Any]:
    """The DLQ's event.unreadable records of ``partition``, by source offset."""
    records = await consume_all(bootstrap, topics.dlq, expect=10**9, timeout=1.0)
    found = {}
    for r in records:
        headers = dict(r.headers)
        if (
            headers["error.code"] == b"event.unreadable"
            and int(headers["source.partition"]) == partition
        ):
            found[int(headers["source.offset"])] = (r, headers)
    return found


@pytest.mark.parametrize("codec", CODECS)
async def test_librdkafka_events_land_with_every_codec_and_ingest_goes_on(
    stack: Stack, worker: Worker, codec: str
) -> None:
    tenant = f"codec-{codec}-{uuid.uuid4().hex[:6]}"
    partition = CODECS.index(codec) % PARTITIONS
    who = {"first_name": "Zoë", "last_name": "Dupré"}
    docs = [
        event(tenant=tenant, at=0, contact=who),
        event("reservation.completed", tenant=tenant, at=60, contact=who),
        event(
            "form.submitted",
            tenant=tenant,
            at=120,
            contact=who,
            message="Tafel bij het raam? " * 40,
        ),
    ]
    first = librdkafka_send(stack.bootstrap, worker.topics.site_events, partition, codec, docs)
    stored = await fetch_raw(stack.bootstrap, worker.topics.site_events, partition, first)
    (attributes,) = struct.unpack_from(">h", stored, 21)  # of the first batch served
    assert attributes & 0x07 == CODECS.index(codec)  # the broker holds it compressed
    after = event("integration.contact", tenant=tenant, at=180, contact=who)
    await aiokafka_send(stack.bootstrap, worker.topics.site_events, partition, after)

    await wait_for(lambda: worker.landed(after), timeout=60)
    for doc in docs:
        assert await worker.landed(doc), (codec, doc["type"])
    conn = await asyncpg.connect(worker.db_url)
    try:
        row = await conn.fetchrow("SELECT * FROM customers WHERE tenant_id = $1", tenant)
        history = await conn.fetchval("SELECT count(*) FROM history WHERE tenant_id = $1", tenant)
    finally:
        await conn.close()
    assert history == 4
    assert (row["first_name"], row["last_name"]) == ("Zoë", "Dupré")
    assert row["email"] == "an.peeters@example.be" and row["phone"] == "+32470123456"
    assert (row["reservations"], row["completed"], row["forms"]) == (1, 1, 1)


async def test_unreadable_batches_go_to_the_dlq_and_the_partition_moves_on(
    stack: Stack, worker: Worker
) -> None:
    topics, partition = worker.topics, 0
    tenant = f"corrupt-{uuid.uuid4().hex[:6]}"
    before = event(tenant=tenant, at=0)
    await aiokafka_send(stack.bootstrap, topics.site_events, partition, before)
    valid = [orjson.dumps(event(tenant=tenant, at=i)) for i in (1, 2)]
    bad = {
        "crc": flipped(v2_batch(valid)),
        "snappy": claiming(v2_batch(valid), 2),
        "lz4": claiming(v2_batch(valid), 3),
        "zstd": claiming(v2_batch(valid), 4),
        "gzip": claiming(v2_batch(valid), 1),
    }
    sent = {
        name: (await produce_raw(stack.bootstrap, topics.site_events, partition, bytes(data)), data)
        for name, data in bad.items()
    }
    after = event("form.submitted", tenant=tenant, at=10)
    await aiokafka_send(stack.bootstrap, topics.site_events, partition, after)

    await wait_for(lambda: worker.landed(after), timeout=60)
    assert await worker.landed(before)
    assert await worker.fetchval("SELECT count(*) FROM history WHERE tenant_id = $1", tenant) == 2
    found: dict[int, Any] = {}

    async def dead_lettered() -> bool:
        found.update(await unreadable_in_dlq(stack.bootstrap, topics, partition))
        return all(base + 1 in found for base, _ in sent.values())

    await wait_for(dead_lettered, timeout=30, every=0.5)
    for name, (base, data) in sent.items():
        record, headers = found[base + 1]  # a batch stands at its last offset
        assert record.key is None
        assert record.value[16:] == bytes(data)[16:], name  # the batch as stored, magic onwards
        assert headers["source.topic"].decode() == topics.site_events
        message = headers["error.message"].decode()
        assert message.startswith(f"record batch at offsets {base}-{base + 1} cannot be"), message
    assert "CRC" in found[sent["crc"][0] + 1][1]["error.message"].decode()

    async with httpx.AsyncClient() as client:
        text = (await client.get(worker.metrics_url)).text
    assert 'contacts_ingest_dlq_total{code="event.unreadable"} 5.0' in text
    assert "contacts_ingest_unreadable_batches_total{" in text
    assert "ingest.unreadable_batch" in worker.log()
    assert "an.peeters" not in worker.log()  # no event content in the logs

    group = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap, group_id=worker.proc.env["CONTACTS_INGEST_GROUP"]
    )
    await group.start()
    try:
        last_bad = max(base + 1 for base, _ in sent.values())
        tp = TopicPartition(topics.site_events, partition)

        async def committed_past() -> bool:
            return (await group.committed(tp) or 0) > last_bad

        await wait_for(committed_past, timeout=30, every=0.5)
    finally:
        await group.stop()


async def test_a_worker_without_a_codec_library_dead_letters_and_goes_on(
    stack: Stack, template_db: str, tmp_path: Path
) -> None:
    """The original failure: an image without aiokafka's codec extras meets a snappy batch."""
    shadow = tmp_path / "no-cramjam"
    shadow.mkdir()
    (shadow / "cramjam.py").write_text("raise ImportError('cramjam is not installed')\n")
    worker = await start_worker(stack, template_db, tmp_path, PYTHONPATH=str(shadow))
    try:
        tenant = f"slim-{uuid.uuid4().hex[:6]}"
        snappy = event(tenant=tenant, at=0)
        librdkafka_send(stack.bootstrap, worker.topics.site_events, 1, "snappy", [snappy])
        after = event("form.submitted", tenant=tenant, at=10)
        await aiokafka_send(stack.bootstrap, worker.topics.site_events, 1, after)

        await wait_for(lambda: worker.landed(after), timeout=90)
        assert not await worker.landed(snappy)
        found: dict[int, Any] = {}

        async def dead_lettered() -> bool:
            found.update(await unreadable_in_dlq(stack.bootstrap, worker.topics, 1))
            return bool(found)

        await wait_for(dead_lettered, timeout=30, every=0.5)
        ((record, headers),) = found.values()
        assert b"snappy compression codec not found" in headers["error.message"]
        assert struct.unpack_from(">h", record.value, 21)[0] & 0x07 == 2  # the snappy batch
        assert worker.proc.proc is not None and worker.proc.proc.poll() is None  # still up
    finally:
        stop(worker)
