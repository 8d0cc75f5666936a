"""Sign in (a venue token, or an ops token and then a venue), sign out, the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from services.common import tenants
from services.profile.console import i18n
from services.profile.console.i18n import N_
from services.profile.console.web import Ctx, SignInFirst, context
from services.profile.problems import Problem
from services.profile.tokens import token_hash

router = APIRouter(prefix="/console", include_in_schema=False)
Console = Annotated[Ctx, Depends(context)]


def _local(target: str | None) -> str:
    """A console path to go back to; never another site."""
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return "/console/"


@router.get("/")
async def home(ctx: Console) -> Response:
    """The list when signed in; the sign-in page otherwise."""
    if ctx.principal is None:
        return ctx.redirect("/console/sign-in")
    if ctx.tenant is None:
        return ctx.redirect("/console/venues")
    return ctx.redirect("/console/customers")


@router.get("/sign-in")
async def sign_in_page(ctx: Console) -> Response:
    """The sign-in form."""
    return ctx.render("sign_in.html")


@router.post("/sign-in")
async def sign_in(ctx: Console) -> Response:
    """Check the token with the API's authenticator; keep only its hash in the session."""
    form = await ctx.form()
    token = str(form.get("token") or "").strip()
    request = ctx.request
    client = request.client.host if request.client else "unknown"
    try:
        principal = await request.app.state.authenticator.principal(token or None, client)
    except Problem as exc:
        message = N_("Too many attempts. Wait a minute.") if exc.status == 429 else None
        error = message or N_("This token is not valid.")
        return ctx.render("sign_in.html", status=exc.status, error=error)
    if "read" not in principal.scopes:
        return ctx.render("sign_in.html", status=403, error=N_("This token cannot read."))
    ctx.session.drop("tenant")
    ctx.session.set("token", token_hash(token).hex())
    ctx.session.drop("csrf")  # a fresh CSRF token for the signed-in session
    if principal.tenant_id == "*":
        return ctx.redirect("/console/venues")
    ctx.session.set("tenant", principal.tenant_id)
    return ctx.redirect("/console/customers")


@router.get("/venues")
async def venues(ctx: Console) -> Response:
    """An ops token picks the venue to work on."""
    if ctx.principal is None:
        raise SignInFirst
    if ctx.principal.tenant_id != "*":
        return ctx.redirect("/console/customers")
    async with ctx.db.connection() as conn:
        found = await tenants.venues_page(conn, None, 500)
    return ctx.render("venues.html", venues=[(v["tenant_id"], v["customers"]) for v in found])


@router.post("/venues")
async def pick_venue(ctx: Console) -> Response:
    """Remember the chosen venue."""
    form = await ctx.form()
    if ctx.principal is None:
        raise SignInFirst
    chosen = str(form.get("tenant") or "")
    async with ctx.db.connection() as conn:
        names = await tenants.all_ids(conn)
    if ctx.principal.tenant_id != "*" or chosen not in names:
        return ctx.redirect("/console/venues", flash=N_("Choose a venue from the list."))
    ctx.session.set("tenant", chosen)
    return ctx.redirect("/console/customers")


@router.post("/sign-out")
async def sign_out(ctx: Console) -> Response:
    """Forget the token and the venue; the language stays."""
    await ctx.form()
    ctx.session.drop("token", "tenant", "csrf")
    return ctx.redirect("/console/sign-in", flash=N_("You are signed out."))


@router.post("/language")
async def language(ctx: Console) -> Response:
    """Switch the UI language; back to the page it was asked on."""
    form = await ctx.form()
    ctx.session.set("lang", i18n.pick(str(form.get("lang") or "")))
    return ctx.redirect(_local(str(form.get("next") or "")))
