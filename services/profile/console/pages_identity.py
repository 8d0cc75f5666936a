"""Duplicates side by side: merge (staff choose the card that lives on), "not the same
person", and the merge history with undo."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.profile import merging
from services.profile.console.i18n import N_
from services.profile.console.pages_customers import Venue
from services.profile.console.web import Ctx, url
from services.profile.cursor import decode_cursor, encode_cursor
from services.profile.data import identity
from services.profile.deps import card_or_404
from services.profile.problems import Moved, Problem

router = APIRouter(prefix="/console", include_in_schema=False)
PAIRS = 10
MERGES = 20


def _position(ctx: Ctx, scope: str, cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        return decode_cursor(ctx.settings.secret, scope, cursor, arity)
    except Problem:
        return None


@router.get("/duplicates")
async def duplicates(
    ctx: Venue, after: str | None = None, merges_after: str | None = None
) -> Response:
    """One page of suggestions, each pair's two cards side by side; the merge history."""
    tenant = ctx.venue()
    scope, history_scope = f"console-dups\x00{tenant}", f"console-merges\x00{tenant}"
    pos = _position(ctx, scope, after, 3)
    mpos = _position(ctx, history_scope, merges_after, 2)
    async with ctx.db.tenant(tenant) as conn:
        rows = await identity.duplicates_page(
            conn,
            tenant,
            (datetime.fromisoformat(pos[0]), uuid.UUID(pos[1]), uuid.UUID(pos[2])) if pos else None,
            PAIRS + 1,
        )
        pairs = []
        for r in rows[:PAIRS]:
            try:
                first = (await card_or_404(conn, tenant, r["first_id"], ctx.language))[1]
                second = (await card_or_404(conn, tenant, r["second_id"], ctx.language))[1]
            except (Moved, Problem):
                continue
            pairs.append((r, first, second))
        merges = await identity.merges_page(
            conn,
            tenant,
            None,
            (datetime.fromisoformat(mpos[0]), uuid.UUID(mpos[1])) if mpos else None,
            MERGES + 1,
        )
    more = more_merges = None
    if len(rows) > PAIRS:
        last = rows[PAIRS - 1]
        token = encode_cursor(
            ctx.settings.secret,
            scope,
            [last["since"].isoformat(), str(last["first_id"]), str(last["second_id"])],
        )
        more = url("/duplicates", after=token)
    if len(merges) > MERGES:
        merges = merges[:MERGES]
        token = encode_cursor(
            ctx.settings.secret,
            history_scope,
            [merges[-1]["merged_at"].isoformat(), str(merges[-1]["id"])],
        )
        more_merges = url("/duplicates", merges_after=token)
    return ctx.render(
        "duplicates.html", pairs=pairs, merges=merges, more=more, more_merges=more_merges
    )


def _ids(form: Any, *names: str) -> list[uuid.UUID] | None:
    try:
        return [uuid.UUID(str(form.get(n) or "")) for n in names]
    except ValueError:
        return None


@router.post("/duplicates/merge")
async def merge(ctx: Venue) -> Response:
    """Merge the pair into the card staff chose to keep."""
    form = await ctx.form()
    ids = _ids(form, "first", "second")
    if not ctx.may("write") or ids is None:
        return ctx.redirect("/console/duplicates", flash=N_("This merge is not possible."))
    keep_first = form.get("keep") != "second"
    keep, other = (ids[0], ids[1]) if keep_first else (ids[1], ids[0])
    try:
        await merging.merge(
            ctx.db,
            ctx.request.app.state.publisher,
            ctx.settings,
            ctx.venue(),
            keep,
            other,
            token_id=ctx.principal.token_id if ctx.principal else None,
            language=ctx.language,
        )
    except (Problem, Moved):
        return ctx.redirect("/console/duplicates", flash=N_("This merge is not possible."))
    return ctx.redirect("/console/duplicates", flash=N_("The two cards are merged."))


@router.post("/duplicates/dismiss")
async def dismiss(ctx: Venue) -> Response:
    """Not the same person: the pair is never suggested again."""
    form = await ctx.form()
    ids = _ids(form, "first", "second")
    if not ctx.may("write") or ids is None:
        return ctx.redirect("/console/duplicates", flash=N_("This change is not possible."))
    try:
        await merging.dismiss(
            ctx.db,
            ctx.venue(),
            ids[0],
            ids[1],
            token_id=ctx.principal.token_id if ctx.principal else None,
        )
    except (Problem, Moved):
        return ctx.redirect("/console/duplicates", flash=N_("This change is not possible."))
    return ctx.redirect("/console/duplicates", flash=N_("Marked as two different people."))


@router.post("/merges/{merge_id}/undo")
async def undo(ctx: Venue, merge_id: uuid.UUID) -> Response:
    """Undo a merge: both cards come back."""
    await ctx.form()
    if not ctx.may("write"):
        return ctx.redirect("/console/duplicates", flash=N_("This change is not possible."))
    try:
        await merging.undo_merge(
            ctx.db,
            ctx.request.app.state.publisher,
            ctx.settings,
            ctx.venue(),
            merge_id,
            token_id=ctx.principal.token_id if ctx.principal else None,
        )
    except Problem:
        return ctx.redirect("/console/duplicates", flash=N_("This merge was already undone."))
    return ctx.redirect("/console/duplicates", flash=N_("The merge is undone."))
