"""Byte-level damage for fuzzing: flip, insert, delete a byte, or truncate."""

from __future__ import annotations

from hypothesis import strategies as st

Edit = tuple[str, int, int]


def edits(ops: list[str], max_size: int) -> st.SearchStrategy[list[Edit]]:
    """Lists of (operation, position, byte) edits drawn from ``ops``."""
    return st.lists(
        st.tuples(st.sampled_from(ops), st.integers(0, 10**6), st.integers(0, 255)),
        min_size=1,
        max_size=max_size,
    )


def mutate(raw: bytes, changes: list[Edit]) -> bytes:
    """``raw`` with the edits applied in order (positions wrap around the current length)."""
    data = bytearray(raw)
    for op, where, byte in changes:
        i = where % max(len(data), 1)
        if op == "flip" and data:
            data[i] ^= byte or 1
        elif op == "insert":
            data.insert(i, byte)
        elif op == "truncate":
            del data[i:]
        elif data:
            del data[i]
    return bytes(data)
