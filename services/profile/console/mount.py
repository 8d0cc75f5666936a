"""Mount the console on the profile app: routes, static files, headers and its two exceptions."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.common.settings import Settings
from services.profile.console import (
    pages_alerts,
    pages_auth,
    pages_customers,
    pages_exports,
    pages_identity,
    pages_imports,
)
from services.profile.console.i18n import HERE
from services.profile.console.security import ConsoleHeaders
from services.profile.console.session import Signer
from services.profile.console.web import Refused, SignInFirst


async def _sign_in_first(_: Request, __: Exception) -> Response:
    return RedirectResponse("/console/", status_code=303)


async def _refused(_: Request, __: Exception) -> Response:
    return PlainTextResponse("403: this form has expired; reload the page", status_code=403)


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the console at /console/ with the app's database and authenticator."""
    app.state.console_signer = Signer(settings.secret)
    for module in (
        pages_auth,
        pages_customers,
        pages_identity,
        pages_alerts,
        pages_exports,
        pages_imports,
    ):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(SignInFirst, _sign_in_first)
    app.add_exception_handler(Refused, _refused)
    app.add_middleware(ConsoleHeaders)
