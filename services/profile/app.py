"""The FastAPI application factory of the profile service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.db import role_dsn
from services.common.kafka import Topics
from services.common.settings import Settings
from services.profile import (
    docs,
    links,
    problems,
    routes_customers,
    routes_exports,
    routes_gdpr,
    routes_identity,
    routes_import_undo,
    routes_imports,
    routes_ops,
    routes_tags,
)
from services.profile.auth import Authenticator, FailureLimiter, TokenCache
from services.profile.commands import ExportRequests, Publisher
from services.profile.console import mount as console
from services.profile.db import Database
from services.profile.limits import BodyLimitMiddleware
from services.profile.metrics import Metrics, MetricsMiddleware

DESCRIPTION = """
The customer list of each venue, built from its site events.

Authenticate with `Authorization: Bearer <token>` (`contacts token create`). Errors are
`application/problem+json` (RFC 9457). Lists use keyset pagination: pass `next_cursor` back as
`cursor`.
"""


def create_app(settings: Settings, *, dsn: str, api_dsn: str | None = None) -> FastAPI:
    """The API on ``api_dsn`` (the contacts_api role); derived from the owner's ``dsn`` if unset."""
    db = Database(
        api_dsn or settings.api_database_url or role_dsn(dsn), max_size=settings.api_pool_size
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.open()
        try:
            yield
        finally:
            await app.state.publisher.close()
            await db.close()

    app = FastAPI(
        title="contacts profile API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.authenticator = Authenticator(
        db,
        FailureLimiter(settings.auth_failures_per_minute),
        settings.dev_token,
        TokenCache(settings.token_cache_seconds),
    )
    app.state.publisher = Publisher(settings.kafka_bootstrap)
    app.state.export_requests = ExportRequests(
        app.state.publisher, Topics(settings.topic_prefix).export_requests
    )
    app.state.metrics = Metrics()
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    problems.install(app)
    for module in (
        routes_customers,
        routes_tags,
        routes_gdpr,
        routes_identity,
        routes_import_undo,
        routes_imports,
        routes_exports,
        routes_ops,
    ):
        app.include_router(module.router)
    links.install(app)
    docs.install(app)
    console.install(app, settings)
    return app
