"""Staff replacing a customer's tags, as one use case (the API route and the console call it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.profile import models, views
from services.profile.data import customers, tags
from services.profile.db import Database
from services.profile.problems import Problem
from services.profile.tagging import TagError, replace_tags, vocabulary


async def set_tags(
    db: Database, tenant: str, customer_id: uuid.UUID, desired: list[str], language: str
) -> models.CustomerCard:
    """Replace the manual set with ``desired``; 404 for no live card, 422 for a refused set."""
    async with db.tenant(tenant) as conn:
        row = await customers.get(conn, tenant, customer_id, for_update=True)
        if row is None or row["anonymized_at"] is not None:
            raise Problem(404, "no such customer")
        vocab = vocabulary(await tags.custom(conn, tenant))
        try:
            update = replace_tags(
                desired, row["tag_meta"], list(row["removed_tags"]), set(vocab), datetime.now(UTC)
            )
        except TagError as exc:
            raise Problem(
                422,
                str(exc),
                errors=[{"field": "tags", "message": str(exc), "code": "value_error"}],
            ) from exc
        await customers.set_tags(
            conn,
            tenant,
            customer_id,
            tags=update.tags,
            tag_meta=update.tag_meta,
            removed_tags=update.removed_tags,
        )
        row = await customers.get(conn, tenant, customer_id)
    assert row is not None
    return views.card(row, vocab, language)
