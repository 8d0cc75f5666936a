"""The unreadable-batch hook against aiokafka's own fetch-response parsing (no broker).

A fetch response is a run of record batches; aiokafka's ``PartitionRecords`` turns it into
consumer records. These tests build responses holding unreadable batches (CRC mismatch, corrupt
compressed payloads, a codec library missing) between readable ones and read them the way
aiokafka's Fetcher does, through the names the hook replaces.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import aiokafka.codec
import pytest
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.legacy_records import LegacyRecordBatchBuilder
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import ConsumerRecord, TopicPartition

from services.ingest import unreadable
from tests.support.batches import v2_batch

GUARDED = "unit.contacts.site-events"
SNAPPY, GZIP = 2, 1


def batch(base: int, values: list[bytes], codec: int = 0) -> bytearray:
    """A v2 record batch at ``base``, as a broker stores it."""
    return v2_batch(values, codec, base)


def with_attributes(data: bytearray, attributes: int) -> bytearray:
    """The same batch claiming another codec, with a CRC that matches (a buggy producer)."""
    struct.pack_into(">h", data, 21, attributes)
    struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return data


def flipped(data: bytearray) -> bytearray:
    """The same batch with one payload byte flipped: the CRC no longer matches."""
    data[-2] ^= 0xFF
    return data


def read(buffer: bytes, topic: str = GUARDED, fetch_offset: int = 0) -> Iterator[ConsumerRecord]:
    """What aiokafka's Fetcher hands out for one fetch response of partition 0."""
    records = aiokafka_fetcher.PartitionRecords(
        TopicPartition(topic, 0),
        aiokafka_fetcher.MemoryRecords(buffer),
        None,
        fetch_offset,
        None,
        None,
        True,
        aiokafka_fetcher.READ_UNCOMMITTED,
    )
    yield from records
    assert records.next_fetch_offset >= fetch_offset


@pytest.fixture(autouse=True, scope="module")
def guarded() -> None:
    unreadable.guard([GUARDED])


def test_unreadable_batches_become_one_record_each_and_readable_ones_pass() -> None:
    bad_crc = flipped(batch(2, [b'{"n": 2}', b'{"n": 3}']))
    bad_snappy = with_attributes(batch(4, [b'{"n": 4}', b'{"n": 5}']), SNAPPY)
    bad_gzip = with_attributes(batch(6, [b'{"n": 6}']), GZIP)
    parts = [
        batch(0, [b'{"n": 0}', b'{"n": 1}']),
        bad_crc,
        bad_snappy,
        bad_gzip,
        batch(7, [b'{"n": 7}'], codec=GZIP),
    ]
    got = list(read(b"".join(bytes(p) for p in parts)))

    assert [r.offset for r in got] == [0, 1, 3, 5, 6, 7]
    assert [r.value for r in got if not isinstance(r.value, unreadable.UnreadableBatch)] == [
        b'{"n": 0}',
        b'{"n": 1}',
        b'{"n": 7}',
    ]
    stand_ins = [r.value for r in got if isinstance(r.value, unreadable.UnreadableBatch)]
    assert [(v.first_offset, v.last_offset) for v in stand_ins] == [(2, 3), (4, 5), (6, 6)]
    assert [bytes(v) for v in stand_ins] == [bytes(bad_crc), bytes(bad_snappy), bytes(bad_gzip)]
    assert "CRC" in stand_ins[0].reason
    assert stand_ins[1].reason.startswith("DecompressionError")
    assert stand_ins[2].reason.startswith("BadGzipFile")
    assert stand_ins[0].describe().startswith("record batch at offsets 2-3 cannot be read: ")
    assert all(r.key is None and r.headers == () for r in got if r.offset in (3, 5, 6))


def test_without_the_hook_aiokafka_raises_and_never_moves_on() -> None:
    buffer = bytes(batch(0, [b"a"])) + bytes(flipped(batch(1, [b"b"])))
    with pytest.raises(CorruptRecordException):
        list(read(buffer, topic="unit.not-guarded"))


def test_a_codec_library_missing_makes_its_batches_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snappy = batch(0, [b'{"n": 0}'], codec=SNAPPY)  # built while cramjam is there
    monkeypatch.setattr(aiokafka.codec, "cramjam", None)  # as in an image without the extras
    got = list(read(bytes(snappy) + bytes(batch(1, [b'{"n": 1}']))))
    assert [r.offset for r in got] == [0, 1]
    assert isinstance(got[0].value, unreadable.UnreadableBatch)
    assert got[0].value.reason == (
        "UnsupportedCodecError: Libraries for snappy compression codec not found"
    )
    assert got[1].value == b'{"n": 1}'


def test_a_corrupt_header_can_neither_swallow_the_next_batch_nor_go_back() -> None:
    bad = flipped(batch(3, [b"x"]))
    struct.pack_into(">i", bad, 23, 1000)  # last offset delta: the batch claims 3..1003
    got = list(read(bytes(bad) + bytes(batch(4, [b"y"])), fetch_offset=3))
    assert [(r.offset, type(r.value).__name__) for r in got] == [
        (3, "UnreadableBatch"),
        (4, "bytes"),
    ]
    behind = flipped(batch(0, [b"x"]))  # claims 0..0 while the position is 9
    got = list(read(bytes(behind), fetch_offset=9))
    assert [r.offset for r in got] == [9]


def test_legacy_message_sets_and_other_topics_read_as_before() -> None:
    builder = LegacyRecordBatchBuilder(magic=1, compression_type=0, batch_size=1 << 20)
    builder.append(0, timestamp=None, key=b"k", value=b"old")
    builder.append(1, timestamp=None, key=b"k", value=b"older")
    legacy = bytes(builder.build())
    assert [r.value for r in read(legacy)] == [b"old", b"older"]
    assert [r.value for r in read(legacy, topic="unit.not-guarded")] == [b"old", b"older"]


def test_guard_is_idempotent() -> None:
    replaced = aiokafka_fetcher.PartitionRecords
    unreadable.guard([GUARDED])
    assert aiokafka_fetcher.PartitionRecords is replaced


def test_a_batch_too_large_to_resend_goes_without_its_bytes() -> None:
    big = flipped(batch(0, [bytes(1000) * 950]))
    (record,) = read(bytes(big))
    assert isinstance(record.value, unreadable.UnreadableBatch)
    assert record.value == b"" and record.value.size == len(big) > unreadable.KEEP_MAX
    assert f"(its {len(big)} bytes are not kept)" in record.value.describe()
