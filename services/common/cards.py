"""Writes that ingest and the API share on the cards of one venue (contract 3a): the venue lock,
recording merges and tying identifiers. Each is set-based: one statement per table for a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from services.domain import rows
from services.domain.fold import Customer
from services.domain.merge import Merged
from services.domain.routing import MAX_CARDS_PER_IDENTIFIER, CardIdentifiers

_TYPED = ", ".join(f"{name} {sql}" for name, sql in rows.COLUMNS.items())
_NAMES = list(rows.COLUMNS)
_UPSERT = f"""
INSERT INTO customers ({", ".join(_NAMES)})
SELECT {", ".join(_NAMES)} FROM jsonb_to_recordset($1::jsonb) AS r({_TYPED})
ON CONFLICT (tenant_id, id) DO UPDATE SET
{", ".join(f"{n} = EXCLUDED.{n}" for n in _NAMES if n not in ("tenant_id", "id"))},
updated_at = now()
"""
# The cards holding some (tenant, identifier) pairs: per identifier its holders with the oldest
# ties, one more than the cap (so routing sees it is passed); each card with all its identifiers
# and the cards staff kept apart from it (dismissed pairs, undone merges).
_HOLDERS = """
WITH k AS (SELECT DISTINCT * FROM unnest($1::text[], $2::text[]) AS k(tenant_id, value)),
held AS (
    SELECT DISTINCT x.tenant_id, x.customer_id FROM k CROSS JOIN LATERAL (
        SELECT i.tenant_id, i.customer_id FROM identifiers i
        WHERE i.tenant_id = k.tenant_id AND i.value = k.value
        ORDER BY i.tied_at, i.customer_id LIMIT $3
    ) AS x
)
SELECT c.*, ids.identifier_values, ids.identifier_ties,
       ARRAY(SELECT d.second_id FROM duplicate_pairs d
             WHERE d.tenant_id = c.tenant_id AND d.first_id = c.id AND d.dismissed_at IS NOT NULL
             UNION ALL
             SELECT d.first_id FROM duplicate_pairs d
             WHERE d.tenant_id = c.tenant_id AND d.second_id = c.id AND d.dismissed_at IS NOT NULL
       ) AS apart
FROM customers c
JOIN held ON c.tenant_id = held.tenant_id AND c.id = held.customer_id
CROSS JOIN LATERAL (
    SELECT array_agg(i.value) AS identifier_values, array_agg(i.tied_at) AS identifier_ties
    FROM identifiers i WHERE i.tenant_id = c.tenant_id AND i.customer_id = c.id
) AS ids
WHERE c.anonymized_at IS NULL
ORDER BY c.tenant_id, c.id
"""
_LOCK = """
SELECT pg_advisory_xact_lock(hashtextextended('contacts.venue:' || t, 0))
FROM (SELECT DISTINCT t FROM unnest($1::text[]) AS t ORDER BY t) AS venues
"""
_MERGES = """
INSERT INTO merges (tenant_id, id, survivor_id, absorbed_id, reason, event_id, token_id,
                    survivor_staff, absorbed_staff)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[],
                     $7::uuid[], $8::jsonb[], $9::jsonb[])
"""
# The stored history rows each merge moves: those of its absorbed card and of the cards merged
# into that one earlier in the batch (all still under their own id until _REHOME runs).
_STORED_MOVES = """
INSERT INTO merge_moves (tenant_id, merge_id, event_id)
SELECT h.tenant_id, m.merge_id, h.event_id
FROM unnest($1::text[], $2::uuid[], $3::uuid[]) AS m(tenant_id, merge_id, card)
JOIN history h ON h.tenant_id = m.tenant_id AND h.customer_id = m.card
"""
_BATCH_MOVES = """
INSERT INTO merge_moves (tenant_id, merge_id, event_id)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[])
"""
_REHOME_HISTORY = """
UPDATE history h SET customer_id = m.final
FROM unnest($1::text[], $2::uuid[], $3::uuid[]) AS m(tenant_id, card, final)
WHERE h.tenant_id = m.tenant_id AND h.customer_id = m.card
"""
_REHOME_CONSENT = """
UPDATE consent_ledger l SET customer_id = m.final
FROM unnest($1::text[], $2::uuid[], $3::uuid[]) AS m(tenant_id, card, final)
WHERE l.tenant_id = m.tenant_id AND l.customer_id = m.card
"""
# An identifier both cards held keeps its oldest tie.
_REHOME_IDENTIFIERS = """
WITH moved AS (
    DELETE FROM identifiers i
    USING unnest($1::text[], $2::uuid[], $3::uuid[]) AS m(tenant_id, card, final)
    WHERE i.tenant_id = m.tenant_id AND i.customer_id = m.card
    RETURNING i.tenant_id, i.value, m.final, i.kind, i.tied_at, i.event_id
)
INSERT INTO identifiers (tenant_id, value, customer_id, kind, tied_at, event_id)
SELECT DISTINCT ON (tenant_id, value, final) tenant_id, value, final, kind, tied_at, event_id
FROM moved ORDER BY tenant_id, value, final, tied_at
ON CONFLICT (tenant_id, value, customer_id) DO UPDATE
SET tied_at = LEAST(identifiers.tied_at, EXCLUDED.tied_at),
    event_id = CASE WHEN EXCLUDED.tied_at < identifiers.tied_at
                    THEN EXCLUDED.event_id ELSE identifiers.event_id END
"""
_DELETE_ABSORBED = """
DELETE FROM customers c USING unnest($1::text[], $2::uuid[]) AS m(tenant_id, card)
WHERE c.tenant_id = m.tenant_id AND c.id = m.card
"""
_TIES = """
INSERT INTO identifiers (tenant_id, value, customer_id, kind, tied_at, event_id)
SELECT DISTINCT ON (t, v, c)
       t, v, c, CASE WHEN position('@' in v) > 0 THEN 'email' ELSE 'phone' END, at, e
FROM unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::uuid[])
    AS x(t, v, c, at, e)
ORDER BY t, v, c, at
ON CONFLICT (tenant_id, value, customer_id) DO UPDATE
SET tied_at = LEAST(identifiers.tied_at, EXCLUDED.tied_at),
    event_id = CASE WHEN EXCLUDED.tied_at < identifiers.tied_at
                    THEN EXCLUDED.event_id ELSE identifiers.event_id END
"""
_SUGGEST = """
INSERT INTO duplicate_pairs (tenant_id, first_id, second_id, reason)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[])
ON CONFLICT DO NOTHING
"""


async def holders(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]], *, lock: bool
) -> list[asyncpg.Record]:
    """The live cards holding these (tenant, identifier) pairs, whole rows plus
    ``identifier_values``, ``identifier_ties`` and ``apart``; locked for update with ``lock``.
    One statement for a whole batch."""
    if not keys:
        return []
    tenants, values = (list(c) for c in zip(*keys, strict=True))
    sql = _HOLDERS + " FOR UPDATE OF c" if lock else _HOLDERS
    return list(await conn.fetch(sql, tenants, values, MAX_CARDS_PER_IDENTIFIER + 1))


def card_identifiers(row: asyncpg.Record) -> CardIdentifiers:
    """A ``holders`` row as routing sees the card."""
    ids = dict(zip(row["identifier_values"], row["identifier_ties"], strict=True))
    return CardIdentifiers(
        row["id"],
        emails={v: t for v, t in ids.items() if "@" in v},
        phones={v: t for v, t in ids.items() if "@" not in v},
        apart=frozenset(row["apart"]),
    )


async def lock_venues(conn: asyncpg.Connection, tenant_ids: Iterable[str]) -> None:
    """Be the only writer of these venues' cards until the transaction ends (sorted: no
    deadlock between two writers of the same venues)."""
    await conn.execute(_LOCK, sorted(set(tenant_ids)))


async def save_cards(conn: asyncpg.Connection, customers: Sequence[Customer]) -> None:
    """Insert or update whole cards (the fold's type) in one statement."""
    if customers:
        await conn.execute(_UPSERT, [rows.to_row(c) for c in customers])


async def record_merges(
    conn: asyncpg.Connection, merges: Sequence[Merged], final: dict[tuple[str, UUID], UUID]
) -> None:
    """Record merges and move what the absorbed cards held to their final survivors.

    ``final`` maps every (tenant, absorbed card) to the card it finally lives on in (a card
    absorbed twice in one batch goes to the last survivor). The survivors' rows must already
    be written; the absorbed rows are deleted.
    """
    if not merges:
        return
    await conn.execute(
        _MERGES,
        [m.tenant_id for m in merges],
        [m.id for m in merges],
        [m.survivor_id for m in merges],
        [m.absorbed_id for m in merges],
        [m.reason for m in merges],
        [m.event_id for m in merges],
        [m.token_id for m in merges],
        [m.survivor_staff.to_json() for m in merges],
        [m.absorbed_staff.to_json() for m in merges],
    )
    stored = [(m.tenant_id, m.id, c) for m in merges for c in m.moved_cards]
    if stored:
        await conn.execute(_STORED_MOVES, *_columns(stored, 3))
    batch = [(m.tenant_id, m.id, e) for m in merges for e in m.moved_events]
    if batch:
        await conn.execute(_BATCH_MOVES, *_columns(batch, 3))
    rehome = [(t, card, to) for (t, card), to in sorted(final.items())]
    columns = _columns(rehome, 3)
    await conn.execute(_REHOME_HISTORY, *columns)
    await conn.execute(_REHOME_CONSENT, *columns)
    await conn.execute(_REHOME_IDENTIFIERS, *columns)
    await conn.execute(_DELETE_ABSORBED, columns[0], columns[1])


async def tie(
    conn: asyncpg.Connection, ties: Sequence[tuple[str, str, UUID, datetime, UUID | None]]
) -> None:
    """Tie identifiers (tenant, value, card, tied_at, event id); an older tie wins."""
    if ties:
        await conn.execute(_TIES, *_columns(ties, 5))


async def suggest(conn: asyncpg.Connection, pairs: Sequence[tuple[str, UUID, UUID, str]]) -> None:
    """Record duplicate suggestions (tenant, smaller id, larger id, reason); known pairs stay
    as they are (a dismissed pair is never suggested again)."""
    if pairs:
        await conn.execute(_SUGGEST, *_columns(pairs, 4))


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
