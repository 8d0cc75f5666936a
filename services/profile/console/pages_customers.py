"""The list, the card, one history entry, tags, the GDPR access export and anonymisation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from schemas.tags import MAX_TAGS_PER_CUSTOMER
from services.profile import gdpr, staff_tags
from services.profile.console import filters
from services.profile.console.i18n import N_
from services.profile.console.web import Ctx, SignInFirst, context, url
from services.profile.data import consent, history, tags
from services.profile.deps import card_or_404
from services.profile.listing import customer_page, history_page
from services.profile.problems import Moved, Problem
from services.profile.tagging import label, vocabulary

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE = 50  # rows of the list per request: one page, never more
# Counting a segment reads every customer that may match: 0.3-0.9 s of CPU on a 1M-guest venue,
# seconds at busy hours. The page counts exactly when the planner costs the count at most this
# (a venue of some ten thousand guests, a few ms), else shows its estimate ("about 440,000")
# with the exact count one click away.
EXACT_COUNT_COST = 5_000.0
HISTORY_PAGE = 20
CONFIRM_WORDS = {"nl": "ANONIMISEREN", "fr": "ANONYMISER", "en": "ANONYMISE"}


async def signed_in(ctx: Annotated[Ctx, Depends(context)]) -> Ctx:
    """The context of a page that needs a venue."""
    if ctx.principal is None:
        raise SignInFirst
    if ctx.tenant is None:
        raise SignInFirst
    return ctx


Venue = Annotated[Ctx, Depends(signed_in)]


@router.get("/customers")
async def customer_list(
    ctx: Venue,
    cursor: str | None = None,
    n: str | None = None,
    about: str | None = None,
    count: str | None = None,
) -> Response:
    """One page of the filtered, sorted list and the size of the whole segment: counted when
    that is cheap or asked for, else the planner's estimate; with a free text, on request only
    (counting every fuzzy match of a big venue costs far more than a page)."""
    query = filters.read(ctx.request.query_params)
    counted = cursor is None and (query.filters.q is None or count == "1")
    try:
        async with ctx.db.tenant(ctx.venue()) as conn:  # one transaction for the whole page
            vocab = vocabulary(await tags.custom(conn, ctx.venue()))
            page = await customer_page(
                ctx.db,
                ctx.settings,
                ctx.venue(),
                query.filters,
                sort=query.sort,  # type: ignore[arg-type]
                limit=PAGE,
                cursor=cursor,
                include_total=counted,  # later pages carry the count along
                exact_cost=None if count == "1" else EXACT_COUNT_COST,
                conn=conn,
            )
    except Problem:
        return ctx.redirect(url("/customers", **query.query()), flash=N_("That page has expired."))
    total = page.total if page.total is not None else _carried(n)
    guess = _rounded(page.about) if page.about is not None else _carried(about)
    next_url = None
    if page.next_cursor:
        size = {"n": total} if total is not None else {"about": guess}
        next_url = url("/customers", **query.query(cursor=page.next_cursor, **size))
    tag_options = [(code, label(vocab, code, ctx.language)) for code in vocab]
    return ctx.render(
        "list.html",
        rows=page.rows,
        total=total,
        about=guess if total is None else None,
        query=query,
        next_url=next_url,
        first_url=url("/customers", **query.query()) if cursor else None,
        count_url=url("/customers", **query.query(count="1")) if total is None else None,
        tag_options=tag_options,
        labels={code: text for code, text in tag_options},
        sort_url=lambda key: url("/customers", **query.query(sort=key)),
    )


def _carried(raw: str | None) -> int | None:
    """A count carried along in a page link."""
    return int(raw) if raw and raw.isdigit() else None


def _rounded(estimate: int) -> int:
    """An estimate to two significant digits (440,000 rather than 437,312)."""
    return round(estimate, 2 - len(str(estimate))) if estimate >= 100 else estimate


async def _card(ctx: Ctx, customer_id: uuid.UUID) -> tuple[Any, Any] | Response:
    """The row and card, or a redirect to the card it was merged into."""
    try:
        async with ctx.db.tenant(ctx.venue()) as conn:
            return await card_or_404(conn, ctx.venue(), customer_id, ctx.language)
    except Moved as moved:
        return ctx.redirect(f"/console/customers/{moved.new}")
    except Problem:
        return ctx.render("error.html", status=404, message=N_("This customer does not exist."))


@router.get("/customers/{customer_id}")
async def customer_card(ctx: Venue, customer_id: uuid.UUID, after: str | None = None) -> Response:
    """The card: contact, identifiers, consent and ledger, tags, counters, flags, history."""
    found = await _card(ctx, customer_id)
    if isinstance(found, Response):
        return found
    row, card = found
    try:
        page = await history_page(
            ctx.db, ctx.settings.secret, ctx.venue(), customer_id, cursor=after, limit=HISTORY_PAGE
        )
    except Problem:  # a stale or foreign cursor: the newest entries
        page = await history_page(
            ctx.db, ctx.settings.secret, ctx.venue(), customer_id, cursor=None, limit=HISTORY_PAGE
        )
    async with ctx.db.tenant(ctx.venue()) as conn:
        ledger = await consent.ledger(conn, ctx.venue(), customer_id)
        vocab = vocabulary(await tags.custom(conn, ctx.venue()))
    more = url(f"/customers/{customer_id}", after=page.next_cursor) if page.next_cursor else None
    return ctx.render(
        "card.html",
        card=card,
        row=row,
        ledger=ledger,
        entries=page.rows,
        more=more,
        vocab=[(code, label(vocab, code, ctx.language)) for code in vocab],
        max_tags=MAX_TAGS_PER_CUSTOMER,
    )


@router.get("/customers/{customer_id}/history/{entry_id}")
async def history_entry(ctx: Venue, customer_id: uuid.UUID, entry_id: uuid.UUID) -> Response:
    """One history entry in full, its data as a readable list."""
    async with ctx.db.tenant(ctx.venue()) as conn:
        entry = await history.entry(conn, ctx.venue(), customer_id, entry_id)
    if entry is None:
        return ctx.render("error.html", status=404, message=N_("This entry does not exist."))
    data = entry["data"] if isinstance(entry["data"], dict) else {}
    return ctx.render(
        "entry.html",
        entry=entry,
        customer_id=customer_id,
        data=[
            (k, orjson.dumps(v).decode() if isinstance(v, dict | list) else v)
            for k, v in data.items()
        ],
    )


@router.post("/customers/{customer_id}/tags")
async def set_tags(ctx: Venue, customer_id: uuid.UUID) -> Response:
    """Replace the customer's tags with the ticked ones (at most 9)."""
    form = await ctx.form()
    back = f"/console/customers/{customer_id}"
    if not ctx.may("write"):
        return ctx.redirect(back, flash=N_("This token may not change customers."))
    chosen = [str(v) for v in form.getlist("tag")]
    if len(set(chosen)) > MAX_TAGS_PER_CUSTOMER:
        return ctx.redirect(back, flash=N_("At most 9 tags per customer."))
    try:
        await staff_tags.set_tags(ctx.db, ctx.venue(), customer_id, chosen, ctx.language)
    except Problem:
        return ctx.redirect(back, flash=N_("These tags could not be saved."))
    return ctx.redirect(back, flash=N_("Tags saved."))


@router.get("/customers/{customer_id}/data-export")
async def data_export(ctx: Venue, customer_id: uuid.UUID) -> Response:
    """Everything held about the person, as a JSON file (GDPR access)."""
    if not ctx.may("gdpr"):
        return ctx.render("error.html", status=403, message=N_("This token lacks the gdpr scope."))
    try:
        body = await gdpr.access_export(ctx.db, ctx.venue(), customer_id, ctx.language)
    except Moved as moved:
        return ctx.redirect(f"/console/customers/{moved.new}/data-export")
    return Response(
        body.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'},
    )


@router.get("/customers/{customer_id}/anonymise")
async def anonymise_page(ctx: Venue, customer_id: uuid.UUID) -> Response:
    """The confirmation page: the word to type and what will be lost."""
    found = await _card(ctx, customer_id)
    if isinstance(found, Response):
        return found
    return ctx.render("anonymise.html", card=found[1], word=CONFIRM_WORDS[ctx.language])


@router.post("/customers/{customer_id}/anonymise")
async def anonymise(ctx: Venue, customer_id: uuid.UUID) -> Response:
    """Erase the person once the word is typed and the box ticked."""
    form = await ctx.form()
    if not ctx.may("gdpr"):
        return ctx.render("error.html", status=403, message=N_("This token lacks the gdpr scope."))
    typed = str(form.get("confirm") or "").strip().upper()
    if typed not in CONFIRM_WORDS.values() or form.get("understood") != "yes":
        found = await _card(ctx, customer_id)
        if isinstance(found, Response):
            return found
        return ctx.render(
            "anonymise.html",
            status=422,
            card=found[1],
            word=CONFIRM_WORDS[ctx.language],
            error=N_("Type the word and tick the box to confirm."),
        )
    await gdpr.anonymize(ctx.db, ctx.settings.secret, ctx.venue(), customer_id)
    return ctx.redirect(
        f"/console/customers/{customer_id}", flash=N_("The customer is anonymised.")
    )
