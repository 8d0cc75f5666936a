"""Kafka record batches built by hand, for tests of what the consumer does with odd ones."""

from __future__ import annotations

import struct

from aiokafka.record.default_records import DefaultRecordBatchBuilder


def v2_batch(values: list[bytes], codec: int = 0, base: int = 0) -> bytearray:
    """A record batch (format v2) as a producer sends it; at ``base`` as a broker stores it."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i, value in enumerate(values):
        builder.append(i, timestamp=None, key=b"venue", value=value, headers=[])
    data = bytearray(builder.build())
    if base:
        struct.pack_into(">q", data, 0, base)  # the broker assigns the base offset (not in CRC)
    return data
