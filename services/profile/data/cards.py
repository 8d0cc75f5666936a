"""The customer card in one round trip: the row, the venue's custom tags, the card's
identifiers and the cards merged into it."""

from __future__ import annotations

import uuid

import asyncpg

from services.profile.data.identity import IDENTIFIERS, MERGED_FROM
from services.profile.data.tags import CUSTOM

# Each list is the rows of its own statement, in its order (a sorted subquery read as is);
# the custom tags as one jsonb object (a jsonb inside a record would skip the jsonb codec).
_CARD = f"""
SELECT c.*,
       (SELECT coalesce(jsonb_object_agg(t.code, t.labels), '{{}}') FROM ({CUSTOM}) t)
           AS card_custom_tags,
       ARRAY(SELECT i FROM ({IDENTIFIERS}) i) AS card_identifiers,
       ARRAY(SELECT m FROM ({MERGED_FROM}) m) AS card_merged_from
FROM customers c WHERE c.tenant_id = $1 AND c.id = $2
"""


async def card(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID
) -> asyncpg.Record | None:
    """The customer's row plus ``card_custom_tags`` (code -> labels), ``card_identifiers`` (kind,
    value, since) and ``card_merged_from`` (customer_id, merge_id, reason, at) as lists of
    tuples; None when there is no such customer."""
    return await conn.fetchrow(_CARD, tenant_id, customer_id)
