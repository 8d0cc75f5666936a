"""Recent flagged bookings: reservations made lately by guests tagged no_show or problem (the
console's alerts; no alert list is stored, so they are read from the history)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

# Flagged guests first (the GIN index on tags), then each one's latest bookings through
# history_by_customer: never a scan of the venue's whole history.
_FLAGGED_BOOKINGS = """
SELECT c.id AS customer_id, c.first_name, c.last_name, c.tags, c.no_shows,
       h.event_id, h.occurred_at, h.source, h.summary, h.data ->> 'starts_at' AS starts_at,
       h.data ->> 'party_size' AS party_size
FROM customers c
CROSS JOIN LATERAL (
    SELECT event_id, occurred_at, source, summary, data FROM history h
    WHERE h.tenant_id = c.tenant_id AND h.customer_id = c.id
      AND h.type = 'reservation.created' AND h.occurred_at >= $2
    ORDER BY h.occurred_at DESC, h.event_id DESC LIMIT $4
) h
WHERE c.tenant_id = $1 AND c.anonymized_at IS NULL AND c.tags && $3::text[]
ORDER BY h.occurred_at DESC, h.event_id DESC LIMIT $4
"""


async def flagged_bookings(
    conn: asyncpg.Connection, tenant_id: str, since: datetime, flags: list[str], limit: int
) -> list[asyncpg.Record]:
    """The newest ``limit`` reservation.created entries since ``since`` of live customers
    carrying one of ``flags``, newest first, with the guest's name, tags and no-shows."""
    return list(await conn.fetch(_FLAGGED_BOOKINGS, tenant_id, since, flags, limit))
