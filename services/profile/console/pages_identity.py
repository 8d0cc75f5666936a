"""Duplicates side by side: merge (staff choose the card that lives on), "not the same
person", and the merge history with undo."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.profile import listing, merging
from services.profile.console.i18n import N_
from services.profile.console.pages_customers import Venue
from services.profile.console.web import url
from services.profile.deps import card_or_404
from services.profile.problems import Moved, Problem

router = APIRouter(prefix="/console", include_in_schema=False)
PAIRS = 10
MERGES = 20


@router.get("/duplicates")
async def duplicates(
    ctx: Venue, after: str | None = None, merges_after: str | None = None
) -> Response:
    """One page of suggestions, each pair's two cards side by side; the merge history."""
    tenant, secret = ctx.venue(), ctx.settings.secret
    try:
        suggestions = await listing.duplicates_page(
            db=ctx.db, secret=secret, tenant=tenant, cursor=after, limit=PAIRS
        )
        merges = await listing.merges_page(
            ctx.db, secret, tenant, None, cursor=merges_after, limit=MERGES
        )
    except Problem:  # a stale cursor: the first pages
        return ctx.redirect("/console/duplicates")
    pairs = []
    async with ctx.db.tenant(tenant) as conn:
        for r in suggestions.rows:
            try:
                first = (await card_or_404(conn, tenant, r["first_id"], ctx.language))[1]
                second = (await card_or_404(conn, tenant, r["second_id"], ctx.language))[1]
            except (Moved, Problem):
                continue
            pairs.append((r, first, second))
    more = url("/duplicates", after=suggestions.next_cursor) if suggestions.next_cursor else None
    more_merges = (
        url("/duplicates", merges_after=merges.next_cursor) if merges.next_cursor else None
    )
    return ctx.render(
        "duplicates.html", pairs=pairs, merges=merges.rows, more=more, more_merges=more_merges
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
