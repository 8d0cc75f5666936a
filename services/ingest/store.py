"""The PostgreSQL ``IngestStore`` and ``Outbox``: batched, set-based SQL through asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from uuid import UUID

import asyncpg

from services.common import cards
from services.common.kafka import Topics
from services.common.settings import DEFAULT_REGION
from services.domain import rows
from services.ingest.outbox import alert_message
from services.ingest.ports import Changes, ClaimOutcome, Held, OutboxRecord, TenantConfig

_TENANTS = """
INSERT INTO tenants (tenant_id, region) SELECT t, $2 FROM unnest($1::text[]) AS t
ON CONFLICT (tenant_id) DO NOTHING;
"""
_TENANT_CONFIG = """
SELECT tenant_id, region, regular_threshold, blocked_identifiers FROM tenants
WHERE tenant_id = ANY($1::text[])
"""
_SUPPRESSIONS = """
SELECT s.tenant_id, s.key_hash, s.anonymized_at FROM suppressions s
JOIN unnest($1::text[], $2::bytea[]) AS k(tenant_id, key_hash) USING (tenant_id, key_hash)
"""
# The positions (1-based) of the ids the ledger holds, as one array: a replayed batch answers
# with one row of integers, not a row of text and uuid per event to decode.
_KNOWN = """
SELECT coalesce(array_agg(k.i), '{}') FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY
    AS k(tenant_id, event_id, i)
WHERE EXISTS (SELECT 1 FROM processed_events p
              WHERE p.tenant_id = k.tenant_id AND p.event_id = k.event_id)
"""
_CLAIM = """
INSERT INTO processed_events (tenant_id, event_id, outcome)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[])
ON CONFLICT DO NOTHING RETURNING tenant_id, event_id
"""
# appended with COPY: the events are claimed, so no row can be there already
HISTORY_COLUMNS = (
    "tenant_id",
    "event_id",
    "customer_id",
    "type",
    "occurred_at",
    "source",
    "summary",
    "data",
    "contact",
)
_CONSENT_COLUMNS = ("tenant_id", "event_id", "customer_id", "opt_in", "occurred_at", "source")
_OUTBOX = """
INSERT INTO outbox (topic, key, value) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])
"""
_OUTBOX_PENDING = """
SELECT id, topic, key, value FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""
_OUTBOX_DELETE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"


class PostgresIngestStore:
    """Ingest storage and its outbox on one asyncpg connection (one writer, batches in sequence)."""

    def __init__(
        self, conn: asyncpg.Connection, topics: Topics, default_region: str = DEFAULT_REGION
    ):
        self.conn = conn
        self.topics = topics
        self.default_region = default_region

    async def tenants(self, tenant_ids: Iterable[str]) -> dict[str, TenantConfig]:
        """Config of each tenant, creating unknown tenants with defaults."""
        ids = sorted(set(tenant_ids))
        rows = await self.conn.fetch(_TENANT_CONFIG, ids)
        if len(rows) < len(ids):
            await self.conn.execute(_TENANTS, ids, self.default_region)
            rows = await self.conn.fetch(_TENANT_CONFIG, ids)
        return {
            r["tenant_id"]: TenantConfig(
                r["region"], r["regular_threshold"], frozenset(r["blocked_identifiers"])
            )
            for r in rows
        }

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One database transaction."""
        async with self.conn.transaction():
            yield

    async def suppressions(self, keys: set[tuple[str, bytes]]) -> dict[tuple[str, bytes], datetime]:
        """Anonymisation time of each suppressed (tenant, identity hash)."""
        if not keys:
            return {}
        tenants, hashes = zip(*keys, strict=True)
        rows = await self.conn.fetch(_SUPPRESSIONS, list(tenants), list(hashes))
        return {(r["tenant_id"], bytes(r["key_hash"])): r["anonymized_at"] for r in rows}

    async def known(self, events: list[tuple[str, UUID]]) -> set[tuple[str, UUID]]:
        """The event ids among these that were claimed before."""
        if not events:
            return set()
        found = await self.conn.fetchval(_KNOWN, [t for t, _ in events], [e for _, e in events])
        return {events[i - 1] for i in found}

    async def claim(self, events: list[tuple[str, UUID, ClaimOutcome]]) -> set[tuple[str, UUID]]:
        """Insert event ids into the idempotency ledger; return the ones that were new."""
        if not events:
            return set()
        tenants, ids, outcomes = (list(c) for c in zip(*events, strict=True))
        rows = await self.conn.fetch(_CLAIM, tenants, ids, outcomes)
        return {(r["tenant_id"], r["event_id"]) for r in rows}

    async def lock(self, tenant_ids: Iterable[str]) -> None:
        """Be the only writer of these venues until the transaction ends."""
        await cards.lock_venues(self.conn, tenant_ids)

    async def holders(self, keys: set[tuple[str, str]]) -> list[Held]:
        """The cards holding these (tenant, identifier) pairs, locked, with their identifiers."""
        if not keys:
            return []
        found = await cards.holders(self.conn, sorted(keys), lock=True)
        return [
            Held(
                rows.from_row(r),
                dict(zip(r["identifier_values"], r["identifier_ties"], strict=True)),
                frozenset(r["apart"]),
            )
            for r in found
        ]

    async def save(self, changes: Changes) -> None:
        """Write a batch's changes with one statement per table."""
        if changes.customers:
            await cards.save_cards(self.conn, changes.customers)
        if changes.merges:
            await cards.record_merges(self.conn, changes.merges, _finals(changes))
        if changes.ties:
            await cards.tie(
                self.conn,
                [
                    (t.tenant_id, t.value, t.customer_id, t.tied_at, t.event_id)
                    for t in changes.ties
                ],
            )
        if changes.history:
            await self.conn.copy_records_to_table(
                "history",
                columns=HISTORY_COLUMNS,
                records=[
                    (
                        t,
                        h.event_id,
                        h.customer_id,
                        h.type,
                        h.occurred_at,
                        h.source,
                        h.summary,
                        h.data,
                        h.contact,
                    )
                    for t, h in changes.history
                ],
            )
        if changes.consent:
            await self.conn.copy_records_to_table(
                "consent_ledger",
                columns=_CONSENT_COLUMNS,
                records=[
                    (t, s.event_id, cid, s.opt_in, s.occurred_at, s.source)
                    for t, cid, s in changes.consent
                ],
            )
        if changes.suggestions:
            await cards.suggest(
                self.conn,
                [(s.tenant_id, *s.cards, s.reason) for s in changes.suggestions],
            )
        if changes.alerts:
            keys, values = zip(*(alert_message(a) for a in changes.alerts), strict=True)
            await self.conn.execute(
                _OUTBOX, [self.topics.alerts] * len(keys), list(keys), list(values)
            )

    async def pending(self, limit: int) -> list[OutboxRecord]:
        """The oldest queued records, locked (``SKIP LOCKED``: another sender's are skipped)."""
        rows = await self.conn.fetch(_OUTBOX_PENDING, limit)
        return [OutboxRecord(r["id"], r["topic"], r["key"], r["value"]) for r in rows]

    async def delete(self, ids: list[int]) -> None:
        """Delete produced records from the outbox."""
        await self.conn.execute(_OUTBOX_DELETE, ids)


def _finals(changes: Changes) -> dict[tuple[str, UUID], UUID]:
    """Each absorbed card and the card it finally lives on in."""
    into = {(m.tenant_id, m.absorbed_id): m.survivor_id for m in changes.merges}
    final = {}
    for tenant_id, card in into:
        to = into[(tenant_id, card)]
        while (tenant_id, to) in into:
            to = into[(tenant_id, to)]
        final[(tenant_id, card)] = to
    return final
