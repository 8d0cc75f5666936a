"""The console's request plumbing: the per-request context (session, language, the signed-in
venue, re-checked on every request), rendering, redirects and the CSRF check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from services.common.settings import Settings
from services.profile.auth import Authenticator, Principal
from services.profile.console import i18n
from services.profile.console.fields import ERROR_LABELS
from services.profile.console.session import COOKIE, MAX_AGE, PATH, Session, Signer, csrf_ok
from services.profile.db import Database


class SignInFirst(Exception):
    """The page needs a signed-in venue (raised before any work; answered with a redirect)."""


class Refused(Exception):
    """A change without the session's CSRF token (answered 403)."""


@dataclass
class Ctx:
    """One console request: its session, language, principal and venue."""

    request: Request
    session: Session
    signer: Signer
    language: str
    principal: Principal | None
    tenant: str | None

    @property
    def db(self) -> Database:
        """The API's database."""
        db: Database = self.request.app.state.db
        return db

    @property
    def settings(self) -> Settings:
        """The app's settings."""
        settings: Settings = self.request.app.state.settings
        return settings

    def gettext(self, message: str) -> str:
        """``message`` in the UI language."""
        return str(i18n.translations(self.language).gettext(message))

    def may(self, scope: str) -> bool:
        """True when the signed-in token has ``scope``."""
        return self.principal is not None and scope in self.principal.scopes

    def venue(self) -> str:
        """The signed-in venue (only called on pages that required one)."""
        if self.tenant is None:
            raise SignInFirst
        return self.tenant

    def finish(self, response: Response) -> Response:
        """Write the cookie again when the session changed."""
        if self.session.dirty:
            response.set_cookie(
                COOKIE,
                self.signer.dump(self.session),
                max_age=MAX_AGE,
                path=PATH,
                httponly=True,
                samesite="strict",
                secure=self.request.url.scheme == "https",
            )
        return response

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """A page in the UI language."""
        language = self.language
        tr = i18n.translations(language)
        page = i18n.environment().get_template(template)
        flash = self.session.get("flash")
        if flash is not None:
            self.session.drop("flash")
        html = page.render(
            gettext=tr.gettext,
            ngettext=tr.ngettext,
            _=tr.gettext,
            lang=language,
            languages=i18n.NAMES,
            csrf=self.session.csrf,
            ctx=self,
            flash=flash,
            path=self.request.url.path,
            here=self.request.url.path
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            when=lambda v: i18n.when(v, language),
            day=lambda v: i18n.day(v, language),
            number=lambda v: i18n.number(v, language),
            url=url,
            error_labels=ERROR_LABELS,
            **values,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, to: str, flash: str | None = None) -> Response:
        """A 303 to another console page, with a message shown there once."""
        if flash is not None:
            self.session.set("flash", flash)
        return self.finish(RedirectResponse(to, status_code=303))

    async def form(self) -> FormData:
        """The posted form, once its CSRF token is checked (Refused otherwise)."""
        form = await self.request.form()
        token = form.get("csrf")
        if not csrf_ok(self.session, token if isinstance(token, str) else None):
            raise Refused
        return form


def url(path: str, **query: Any) -> str:
    """A console URL with a query string (empty values left out)."""
    pairs = [
        (k, v)
        for k, values in query.items()
        for v in (values if isinstance(values, list) else [values])
        if v not in (None, "")
    ]
    return f"/console{path}" + (f"?{urlencode(pairs)}" if pairs else "")


async def context(request: Request) -> Ctx:
    """The request's context; a revoked or expired token ends the session here."""
    signer: Signer = request.app.state.console_signer
    session = signer.load(request.cookies.get(COOKIE))
    language = i18n.pick(session.get("lang"))
    principal = None
    digest = session.get("token")
    if isinstance(digest, str):
        auth: Authenticator = request.app.state.authenticator
        principal = await auth.by_digest(bytes.fromhex(digest))
        if principal is None:
            session.drop("token", "tenant")
            session.set("flash", i18n.N_("Your session has ended. Please sign in again."))
    tenant = session.get("tenant") if principal is not None else None
    if principal is not None and isinstance(tenant, str) and not principal.may_act_for(tenant):
        tenant = None
    return Ctx(request, session, signer, language, principal, tenant)
