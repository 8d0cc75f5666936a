"""The PostgreSQL ``IngestStore`` and ``Outbox``: batched, set-based SQL through asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from uuid import UUID

import asyncpg

from services.common.kafka import Topics
from services.common.settings import DEFAULT_REGION
from services.domain import rows
from services.domain.fold import Customer
from services.ingest.outbox import alert_message
from services.ingest.ports import Changes, ClaimOutcome, OutboxRecord, TenantConfig

_TENANTS = """
INSERT INTO tenants (tenant_id, region) SELECT t, $2 FROM unnest($1::text[]) AS t
ON CONFLICT (tenant_id) DO NOTHING;
"""
_TENANT_CONFIG = """
SELECT tenant_id, region, regular_threshold FROM tenants WHERE tenant_id = ANY($1::text[])
"""
_SUPPRESSIONS = """
SELECT s.tenant_id, s.key_hash, s.anonymized_at FROM suppressions s
JOIN unnest($1::text[], $2::bytea[]) AS k(tenant_id, key_hash) USING (tenant_id, key_hash)
"""
_CLAIM = """
INSERT INTO processed_events (tenant_id, event_id, outcome)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[])
ON CONFLICT DO NOTHING RETURNING tenant_id, event_id
"""
_LOAD = """
SELECT c.* FROM customers c
JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, identity_key) USING (tenant_id, identity_key)
ORDER BY c.tenant_id, c.id
FOR UPDATE OF c
"""
_TYPED = ", ".join(f"{name} {sql}" for name, sql in rows.COLUMNS.items())
_NAMES = list(rows.COLUMNS)
_UPSERT = f"""
INSERT INTO customers ({", ".join(_NAMES)})
SELECT {", ".join(_NAMES)} FROM jsonb_to_recordset($1::jsonb) AS r({_TYPED})
ON CONFLICT (tenant_id, id) DO UPDATE SET
{", ".join(f"{n} = EXCLUDED.{n}" for n in _NAMES if n not in ("tenant_id", "id"))},
updated_at = now()
"""
_HISTORY = """
INSERT INTO history (tenant_id, event_id, customer_id, type, occurred_at, source, summary, data)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[],
                     $6::text[], $7::text[], $8::jsonb[])
"""
_CONSENT = """
INSERT INTO consent_ledger (tenant_id, event_id, customer_id, opt_in, occurred_at, source)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::bool[], $5::timestamptz[], $6::text[])
"""
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
        return {r["tenant_id"]: TenantConfig(r["region"], r["regular_threshold"]) for r in rows}

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

    async def claim(self, events: list[tuple[str, UUID, ClaimOutcome]]) -> set[tuple[str, UUID]]:
        """Insert event ids into the idempotency ledger; return the ones that were new."""
        if not events:
            return set()
        tenants, ids, outcomes = (list(c) for c in zip(*events, strict=True))
        rows = await self.conn.fetch(_CLAIM, tenants, ids, outcomes)
        return {(r["tenant_id"], r["event_id"]) for r in rows}

    async def load(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Customer]:
        """Live customers by (tenant, identity key), locked for this transaction."""
        if not keys:
            return {}
        tenants, identity_keys = (list(c) for c in zip(*sorted(keys), strict=True))
        found = await self.conn.fetch(_LOAD, tenants, identity_keys)
        return {(r["tenant_id"], r["identity_key"]): rows.from_row(r) for r in found}

    async def save(self, changes: Changes) -> None:
        """Write a batch's changes with one statement per table."""
        if changes.customers:
            await self.conn.execute(_UPSERT, [rows.to_row(c) for c in changes.customers])
        if changes.history:
            cols = list(
                zip(
                    *(
                        (
                            t,
                            h.event_id,
                            h.customer_id,
                            h.type,
                            h.occurred_at,
                            h.source,
                            h.summary,
                            h.data,
                        )
                        for t, h in changes.history
                    ),
                    strict=True,
                )
            )
            await self.conn.execute(_HISTORY, *(list(c) for c in cols))
        if changes.consent:
            cols = list(
                zip(
                    *(
                        (t, s.event_id, cid, s.opt_in, s.occurred_at, s.source)
                        for t, cid, s in changes.consent
                    ),
                    strict=True,
                )
            )
            await self.conn.execute(_CONSENT, *(list(c) for c in cols))
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
