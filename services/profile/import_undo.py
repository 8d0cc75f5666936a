"""Taking an import back (issue 17), on one tenant's transaction under the venue's lock.

Every change the import made goes: the merges its rows caused are undone first (newest first,
``identity.undo``); then each card its rows are on is folded again from its other events
(``services.domain.refold``), or deleted when the import alone fed it; the import's rows leave
the history and the consent ledger. Staff tags stay, except the tags the import's own rows set
on a card (an import's tags are manual tags: a tag both imported and set by staff by hand goes
with the import, a documented limit). The events stay claimed in ``processed_events``: a replay
of them changes nothing, and the same file imported again gets new event ids (its generation).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common import cards
from services.domain.merge import StaffTags, staff_tags
from services.domain.refold import event_of, refold
from services.domain.rows import from_row
from services.profile.data import customers, identity, imports
from services.profile.identity import IdentityError, Undone, retie, undo


@dataclass(frozen=True, slots=True)
class UndoneImport:
    """What an import's undo took back."""

    import_id: uuid.UUID
    rows: int  # history rows taken out
    cards_removed: int  # cards only the import fed
    cards_changed: int  # cards folded again from their other events
    merges_undone: list[Undone]


async def undo_import(
    conn: asyncpg.Connection,
    tenant_id: str,
    import_id: uuid.UUID,
    *,
    token_id: uuid.UUID | None,
    at: datetime,
    region: str,
    blocked: Collection[str],
    regular_threshold: int,
) -> UndoneImport:
    """Take back every change of an applied import; IdentityError (404, 409) when it cannot."""
    await cards.lock_venues(conn, [tenant_id])
    record = await imports.for_undo(conn, tenant_id, import_id)
    if record is None:
        raise IdentityError(404, "no such import")
    if record["undone_at"] is not None:
        raise IdentityError(409, f"import {import_id} was undone at {record['undone_at']}")
    if record["applied"] < record["published"]:
        raise IdentityError(
            409,
            f"the import is still being applied ({record['applied']} of {record['published']}"
            " rows): undo it once it is done",
        )
    rows = await imports.event_rows(conn, tenant_id, import_id)
    ids = {r["event_id"] for r in rows}
    undone = []
    for merge_id in await identity.caused_by(conn, tenant_id, sorted(ids)):
        undone.append(
            await undo(
                conn,
                tenant_id,
                merge_id,
                token_id=token_id,
                at=at,
                region=region,
                blocked=blocked,
                regular_threshold=regular_threshold,
                keep_apart=False,
            )
        )
    # after those undos, the import's rows are on the cards they were routed to
    touched = sorted(
        {r["customer_id"] for r in await imports.event_rows(conn, tenant_id, import_id)}
    )
    changed, removed = [], []
    folded = []
    current = {r["id"]: from_row(r) for r in await customers.by_ids(conn, tenant_id, touched)}
    rows_of: dict[uuid.UUID, list[asyncpg.Record]] = {card: [] for card in touched}
    for r in await identity.events_of(conn, tenant_id, touched):
        rows_of[r["customer_id"]].append(r)
    for card_id in touched:
        keep = [event_of(r, tenant_id) for r in rows_of[card_id] if r["event_id"] not in ids]
        if not keep:
            removed.append(card_id)
            continue
        imported_tags = {
            code
            for r in rows_of[card_id]
            if r["event_id"] in ids
            for code in (r["data"].get("tags") or ())
        }
        staff = staff_tags(current[card_id])
        seed = StaffTags(
            {c: d for c, d in staff.tags.items() if c not in imported_tags}, staff.removed
        )
        changed.append(
            refold(
                card_id,
                tenant_id,
                keep,
                seed,
                region=region,
                blocked=blocked,
                regular_threshold=regular_threshold,
            )
        )
        folded.append((card_id, keep))
    gone = await imports.forget_rows(conn, import_id, sorted(ids))
    await cards.save_cards(conn, changed)
    await retie(conn, tenant_id, folded, region=region, blocked=blocked)
    if removed:
        await customers.delete(conn, tenant_id, removed)
    await imports.mark_undone(conn, tenant_id, import_id, at, token_id)
    return UndoneImport(import_id, gone, len(removed), len(changed), undone)
