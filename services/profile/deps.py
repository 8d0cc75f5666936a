"""Shared route dependencies and parameter types."""

from __future__ import annotations

import uuid
from typing import Annotated

import asyncpg
from fastapi import Depends, Header, Path, Query, Request

from schemas.events import TENANT_PATTERN
from services.common.settings import Settings
from services.profile import models, views
from services.profile.auth import Principal, require
from services.profile.data import cards, customers, identity
from services.profile.db import Database
from services.profile.problems import Moved, found
from services.profile.tagging import pick_language, vocabulary

TenantId = Annotated[str, Path(pattern=TENANT_PATTERN, description="the venue's tenant id")]
CustomerId = Annotated[uuid.UUID, Path(description="the customer's id")]
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
Gdpr = Annotated[Principal, Depends(require("gdpr"))]


async def get_db(request: Request) -> Database:
    """The API's database."""
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_language(
    lang: Annotated[
        str | None,
        Query(
            pattern=r"^[a-zA-Z]{2}([-_][a-zA-Z0-9]{1,8})*$",
            description="label language: nl, fr or en",
        ),
    ] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """The label language: ``?lang=``, else Accept-Language, else en."""
    return pick_language(lang, accept_language)


Db = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Language = Annotated[str, Depends(get_language)]


async def customer_or_404(
    conn: asyncpg.Connection, tenant: str, customer_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record:
    """The customer's row in this tenant's transaction; a 308 to the card it was merged into,
    or a 404 problem when there is none."""
    row = await customers.get(conn, tenant, customer_id, for_update=for_update)
    return await _found_or_moved(conn, tenant, customer_id, row)


async def _found_or_moved(
    conn: asyncpg.Connection, tenant: str, customer_id: uuid.UUID, row: asyncpg.Record | None
) -> asyncpg.Record:
    """``row``; when there is none, a 308 to the card the id was merged into, or a 404."""
    if row is None and (into := await identity.absorbed_into(conn, tenant, customer_id)):
        raise Moved(customer_id, into)
    return found(row, "customer")


async def card_or_404(
    conn: asyncpg.Connection, tenant: str, customer_id: uuid.UUID, language: str
) -> tuple[asyncpg.Record, models.CustomerCard]:
    """The customer's row and card (tag labels in ``language``, its identifiers and the cards
    merged into it), read in one statement; a 308 or a 404 problem as ``customer_or_404``."""
    row = await _found_or_moved(
        conn, tenant, customer_id, await cards.card(conn, tenant, customer_id)
    )
    vocab = vocabulary(row["card_custom_tags"])
    card = views.card(row, vocab, language)
    card.identifiers = [
        models.Identifier(kind=kind, value=value, since=since)
        for kind, value, since in row["card_identifiers"]
    ]
    card.merged_from = [
        models.MergedFrom(customer_id=absorbed, merge_id=merge, reason=reason, at=at)
        for absorbed, merge, reason, at in row["card_merged_from"]
    ]
    return row, card
