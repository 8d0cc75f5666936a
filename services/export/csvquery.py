"""The export's COPY query: contract section 6's columns (schemas.customer_csv.HEADER),
formula cells neutralised in SQL.

Every free-text cell goes through ``csv_safe`` (a leading quote before = + - @ tab CR); the phone
through ``csv_phone``: ``+32 485279599``, text with its + in a spreadsheet, no quote, read back
to the same E.164 number by the importer (deploy/migrations/0011_csv_phone.sql).
"""

from __future__ import annotations

from typing import Any

from services.common.segments import SegmentFilters, segment_where


def _iso(column: str) -> str:
    # ISO 8601 in UTC, full precision (to_json drops a zero fraction): lossless on re-import.
    return f"(to_json({column} AT TIME ZONE 'UTC') #>> '{{}}') || 'Z'"


SELECT = f"""
SELECT c.id::text,
       csv_safe(c.first_name), csv_safe(c.last_name), csv_safe(c.email), csv_phone(c.phone),
       csv_safe(c.language),
       CASE c.newsletter WHEN true THEN 'true' WHEN false THEN 'false' END,
       csv_safe(NULLIF(
           array_to_string(ARRAY(SELECT t FROM unnest(c.tags) AS t ORDER BY t), '|'), '')),
       {_iso("c.first_contact_at")}, {_iso("c.last_contact_at")},
       c.reservations, c.no_shows
FROM customers c
"""


def export_query(tenant_id: str, filters: SegmentFilters, region: str) -> tuple[str, list[Any]]:
    """SQL and arguments of a segment's rows, in a stable order."""
    where = segment_where(tenant_id, filters, region)
    return f"{SELECT} WHERE {where.sql()} ORDER BY c.id", where.args
