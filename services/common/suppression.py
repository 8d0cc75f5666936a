"""Who an erasure suppresses: the one rule for the keyed hashes of an erased person."""

from __future__ import annotations

from collections.abc import Iterable

from services.common.crypto import keyed_hash


def suppression_hashes(
    secret: str,
    *,
    email: str | None,
    phone: str | None,
    identity_key: str | None = None,
    identifiers: Iterable[str] = (),
) -> list[bytes]:
    """The keyed hashes of a person's normalised email, phone, identity key value (the part
    after ``email:`` / ``phone:``) and every other identifier of their card (3a), one per
    distinct value, in value order: what an erasure records and what an event about the same
    person is checked against."""
    values = {v for v in (email, phone, *identifiers) if v}
    if identity_key:
        values.add(identity_key.partition(":")[2])
    return [keyed_hash(secret, v) for v in sorted(values)]
