"""A record batch the consumer cannot read becomes one dead-letter record, never a stop.

aiokafka decodes a fetched batch lazily, while ``Fetcher.fetched_records`` (faust's getmany)
hands out its records: a codec library missing (``UnsupportedCodecError``), a corrupt
compressed payload (cramjam's ``DecompressionError``, gzip's ``BadGzipFile``...) or a CRC
mismatch (``CorruptRecordException``) raises there, without moving the partition's position.
faust's fetcher task dies with it, the worker crashes, and a restart meets the same batch: the
partition is stuck for good. Apache Kafka refuses unknown codecs and corrupt batches at produce
time (so does the embedded Tansu broker for unknown codecs, but it stores corrupt payloads and
bad CRCs); what reaches a consumer is a codec it lacks, or corruption.

``guard(topics)`` wraps aiokafka's ``PartitionRecords`` (the per-partition view of one fetch
response) for those topics: each batch is read in full before any of its records is handed
out. A batch that raises stands in for its records as a single record, at the batch's last
offset, whose value is an ``UnreadableBatch``: the batch's bytes as fetched, with the error. The
ingest worker dead-letters it like any rejected record (``event.unreadable``); its offset is
acknowledged only after the DLQ write, and faust's gap tracking covers the batch's other
offsets, so the partition moves on and a crash before that redelivers it. Batches that read
cleanly are handed on unchanged (same records, same order; control and aborted batches keep
aiokafka's handling).

It replaces two names in ``aiokafka.consumer.fetcher`` that ``Fetcher._proc_fetch_request``
looks up for each fetch response (``MemoryRecords``, to keep the response's bytes, and
``PartitionRecords``), for the whole process; other topics pass straight through. aiokafka is
pinned (0.14.0); tests/unit/test_unreadable.py runs the hook through aiokafka's own parsing and
tests/integration/test_codecs.py through a real broker and worker.
"""

from __future__ import annotations

import inspect
import struct
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import structlog
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.structs import TopicPartition

from services.ingest import metrics

log = structlog.get_logger(__name__)

CODE = "event.unreadable"
_GUARDED: set[str] = set()
_LOCK = threading.Lock()
_LOG_OVERHEAD = 12  # every batch format starts with offset (int64) and length (int32)
_REASON_MAX = 300
# A batch is at most the topic's max.message.bytes; re-sent as one record's value it gains a
# record's overhead and headers, so the largest ones could exceed the producer's request limit
# (faust: 1,000,000 bytes) and block the partition: those go to the DLQ without their bytes.
KEEP_MAX = 900_000


class UnreadableBatch(bytes):
    """The bytes of a record batch that could not be read, exactly as fetched (a Kafka record
    batch, v2, or message set, v0/v1; empty when larger than ``KEEP_MAX``): the value of the
    record that stands in for the batch's records."""

    reason: str
    first_offset: int
    last_offset: int
    size: int

    def __new__(
        cls, raw: bytes, reason: str, first_offset: int, last_offset: int
    ) -> UnreadableBatch:
        self = super().__new__(cls, raw if len(raw) <= KEEP_MAX else b"")
        self.reason = reason
        self.first_offset = first_offset
        self.last_offset = last_offset
        self.size = len(raw)
        return self

    def describe(self) -> str:
        """The DLQ record's ``error.message``."""
        kept = "" if len(self) == self.size else f" (its {self.size} bytes are not kept)"
        return (
            f"record batch at offsets {self.first_offset}-{self.last_offset} cannot be read"
            f"{kept}: {self.reason}"
        )


def guard(topics: Iterable[str]) -> None:
    """Turn unreadable batches of ``topics`` into ``UnreadableBatch`` records, for every aiokafka
    consumer of this process. Idempotent; call before the consumer starts fetching."""
    with _LOCK:
        _GUARDED.update(topics)
        if getattr(aiokafka_fetcher.PartitionRecords, "contacts_guarded", False):
            return
        memory_records = aiokafka_fetcher.MemoryRecords
        partition_records = aiokafka_fetcher.PartitionRecords
        signature = inspect.signature(partition_records)

        def fetched(bytes_data: bytes) -> Fetched:
            return Fetched(memory_records(bytes_data), bytes_data)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            tp, records = bound.arguments["tp"], bound.arguments["records"]
            if isinstance(records, Fetched):
                bound.arguments["records"] = (
                    GuardedRecords(
                        tp,
                        records,
                        bound.arguments["fetch_offset"],
                        check_crcs=bool(bound.arguments["check_crcs"]),
                    )
                    if tp.topic in _GUARDED
                    else records.inner
                )
            return partition_records(*bound.args, **bound.kwargs)

        guarded.contacts_guarded = True  # type: ignore[attr-defined]
        # both names are looked up by Fetcher._proc_fetch_request at each fetch response
        aiokafka_fetcher.MemoryRecords = fetched
        aiokafka_fetcher.PartitionRecords = guarded


class Fetched:
    """aiokafka's ``MemoryRecords`` of one fetch response, with the bytes it reads (the Cython
    implementation does not expose them)."""

    def __init__(self, inner: Any, raw: bytes):
        self.inner = inner
        self.raw = raw

    def size_in_bytes(self) -> int:
        return int(self.inner.size_in_bytes())

    def has_next(self) -> bool:
        return bool(self.inner.has_next())

    def next_batch(self) -> Any:
        return self.inner.next_batch()


class GuardedRecords:
    """aiokafka's ``MemoryRecords`` (the batches of one fetch response for one partition),
    each batch read in full before it is handed on; an unreadable one is replaced."""

    def __init__(
        self, tp: TopicPartition, records: Fetched, fetch_offset: int, *, check_crcs: bool
    ):
        self._tp = tp
        self._records = records.inner
        self._buffer = memoryview(records.raw)
        self._pos = 0  # where the next batch starts, framed as MemoryRecords frames it
        self._next_offset = fetch_offset  # no batch may move the position below this
        self._check_crcs = check_crcs
        self._broken = False

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def has_next(self) -> bool:
        return not self._broken and bool(self._records.has_next())

    def next_batch(self) -> Any:
        raw = self._frame()
        batch: Any = None
        try:
            batch = self._records.next_batch()
            if self._check_crcs and not batch.validate_crc():
                raise CorruptRecordException("CRC mismatch")
            records = list(batch)  # decompresses and parses every record
        except Exception as exc:  # noqa: BLE001 - any failure to parse means: unreadable
            if batch is None:
                self._broken = True  # framing lost: the rest of this response is refetched
            return self._unreadable(batch, raw, exc)
        self._next_offset = max(self._next_offset, batch.next_offset)
        return ReadBatch(batch, records)

    def _frame(self) -> memoryview:
        """The next batch's bytes (a view; copied only when the batch turns out unreadable)."""
        start = self._pos
        if len(self._buffer) - start < _LOG_OVERHEAD:
            return self._buffer[start:start]
        (length,) = struct.unpack_from(">i", self._buffer, start + 8)
        self._pos = start + _LOG_OVERHEAD + max(length, 0)
        return self._buffer[start : self._pos]

    def _unreadable(self, batch: Any, raw: memoryview, exc: Exception) -> UnreadableStandIn:
        first = self._next_offset
        claimed = _safe_int(lambda: batch.next_offset - 1) if batch is not None else None
        following = self._following_base_offset()
        last = first if claimed is None else claimed
        if following is not None:
            last = min(last, following - 1)  # a corrupt header cannot swallow the next batch
        last = max(last, first)  # nor move the position back
        base = _safe_int(lambda: batch.base_offset) if batch is not None else None
        if base is not None and first < base <= last:
            first = base
        reason = _reason(exc)
        value = UnreadableBatch(bytes(raw), reason, first, last)
        self._next_offset = last + 1
        metrics.UNREADABLE.labels(type(exc).__name__).inc()
        log.error(
            "ingest.unreadable_batch",
            topic=self._tp.topic,
            partition=self._tp.partition,
            first_offset=first,
            last_offset=last,
            error=type(exc).__name__,
            reason=reason,
        )
        return UnreadableStandIn(value, batch)

    def _following_base_offset(self) -> int | None:
        if len(self._buffer) - self._pos < _LOG_OVERHEAD:
            return None
        return int(struct.unpack_from(">q", self._buffer, self._pos)[0])


class ReadBatch:
    """A batch whose records were read: hands them out as aiokafka's batch would."""

    def __init__(self, batch: Any, records: list[Any]):
        self._batch = batch
        self._records = iter(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def validate_crc(self) -> bool:
        return True  # checked before the records were read

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._records)


class UnreadableStandIn:
    """An unreadable batch as aiokafka sees it: one record, at the batch's last offset."""

    is_control_batch = False
    is_transactional = False
    producer_id = None

    def __init__(self, value: UnreadableBatch, batch: Any):
        self.next_offset = value.last_offset + 1
        self.base_offset = value.first_offset
        timestamp = _safe_int(lambda: batch.max_timestamp) if batch is not None else None
        self._record: StandInRecord | None = StandInRecord(
            value.last_offset, -1 if timestamp is None else timestamp, value
        )

    def validate_crc(self) -> bool:
        return True

    def __iter__(self) -> Iterator[StandInRecord]:
        return self

    def __next__(self) -> StandInRecord:
        record, self._record = self._record, None
        if record is None:
            raise StopIteration
        return record


class StandInRecord:
    """What aiokafka reads of a record to build its ``ConsumerRecord``."""

    key: bytes | None = None
    timestamp_type = 0
    checksum = None

    def __init__(self, offset: int, timestamp: int, value: UnreadableBatch):
        self.offset = offset
        self.timestamp = timestamp
        self.value = value
        self.headers: list[tuple[str, bytes]] = []


def _safe_int(read: Any) -> int | None:
    try:
        return int(read())
    except Exception:  # noqa: BLE001 - a corrupt header may not even parse
        return None


def _reason(exc: Exception) -> str:
    """The error in one line, its class named once (aiokafka's errors name themselves)."""
    name, text = type(exc).__name__, " ".join(str(exc).split())
    return (text if name in text else f"{name}: {text}")[:_REASON_MAX]
