"""Taking an import back (issue 17) through the real broker, the real ingest path and PostgreSQL:
after other events arrived for some of the same guests, the undo leaves exactly the cards of
the other events alone; a second undo is 409; the same file imported again is a first import."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from schemas.events import site_event_adapter
from services.common.settings import Settings
from tests.support.api import MakeToken, Seed, bearer
from tests.support.builders import event
from tests.support.expected import fold_all, stored_customers
from tests.support.processes import consume_all, create_topics
from tests.support.stack import Stack
from tests.support.venues import T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
URL = f"/v1/tenants/{T}/imports"
# A new guest (then seen online), an update of chris that links dirk's phone (a merge), a new
# phone-only guest (then seen by a form), and one only the import knows.
FILE = (
    "first_name,last_name,email,phone,language,tags\n"
    "Hélène,Dupré,helene.dupre@example.be,0470 55 66 77,fr,vip\n"
    "Chris,Evans,chris.evans@example.com,+32 471 22 22 22,nl,\n"
    "Jan,Berg,,0486 12 34 56,nl,\n"
    "Piet,Peeters,piet@example.be,,nl,local\n"
).encode()
SHOWN = ("first_name", "last_name", "email", "phone", "language", "reservations", "forms")


@pytest.fixture
async def headers(make_token: MakeToken) -> dict[str, str]:
    return bearer(await make_token(T, "read", "write", "import"))


async def play_ingest(stack: Stack, settings: Settings, seed: Seed, already: int, n: int) -> None:
    """Apply the import's events from the site-events topic with the real ingest path."""
    topic = f"{settings.topic_prefix}contacts.site-events"
    messages = await consume_all(stack.bootstrap, topic, expect=already + n, timeout=30)
    assert len(messages) == already + n
    await seed(*(orjson.loads(m.value) for m in messages[already:]))


def shown(cards: dict[Any, Any]) -> dict[Any, Any]:
    return {k: (*tuple(getattr(c, f) for f in SHOWN), frozenset(c.tags)) for k, c in cards.items()}


async def test_undo_leaves_the_cards_of_the_other_events_alone(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    owner: asyncpg.Connection,
    stack: Stack,
    settings: Settings,
    seed: Seed,
) -> None:
    others = venue_events()
    await seed(*others)
    await create_topics(stack.bootstrap, settings.topic_prefix)
    csv = {**headers, "content-type": "text/csv"}
    dry = (await client.post(URL, params={"dry_run": "true"}, content=FILE, headers=csv)).json()
    assert (dry["would_create"], dry["would_update"], dry["would_merge"]) == (3, 1, 1)
    first = await client.post(URL, content=FILE, headers=csv)
    assert first.status_code == 202, first.text
    import_id = first.json()["import_id"]
    await play_ingest(stack, settings, seed, 0, 4)
    assert await owner.fetchval("SELECT count(*) FROM merges") == 2  # eva's (OTHER) and chris'
    # other events for some of the same guests
    later = [
        event(email="helene.dupre@example.be", phone=None, at=500, contact={"first_name": "H"}),
        event("form.submitted", email=None, phone="0486 12 34 56", at=510),
    ]
    await seed(*later)
    imported = shown(await stored_customers(owner))
    listed = (await client.get(URL, headers=headers)).json()["items"]
    assert [
        (i["import_id"], i["state"], i["cards_removed"], i["cards_changed"]) for i in listed
    ] == [(import_id, "done", 1, 3)]

    undone = await client.post(f"{URL}/{import_id}/undo", headers=headers)

    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert (body["state"], body["rows"], body["cards_removed"], body["cards_changed"]) == (
        "undone",
        4,
        1,
        3,
    )
    assert len(body["merges_undone"]) == 1
    expected = fold_all(site_event_adapter.validate_python(d) for d in [*others, *later])
    assert await stored_customers(owner) == expected  # exactly the fold of the other events
    left = await owner.fetchval(
        "SELECT count(*) FROM history WHERE data ->> 'import_id' = $1", import_id
    )
    assert left == 0
    state = (await client.get(f"{URL}/{import_id}", headers=headers)).json()
    assert state["state"] == "undone"
    again = await client.post(f"{URL}/{import_id}/undo", headers=headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    # the same file again: a first import (new event ids), which gives the same cards
    reimport = await client.post(URL, content=FILE, headers=csv)
    assert reimport.status_code == 202, reimport.text
    assert reimport.json()["published"] == 4
    await play_ingest(stack, settings, seed, 4, 4)
    assert shown(await stored_customers(owner)) == imported


async def test_undo_refusals(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    stack: Stack,
    settings: Settings,
    make_token: MakeToken,
) -> None:
    await create_topics(stack.bootstrap, settings.topic_prefix)
    csv = {**headers, "content-type": "text/csv"}
    applying = (await client.post(URL, content=FILE, headers=csv)).json()["import_id"]
    reader = bearer(await make_token(T, "read"))

    refused = [
        await client.post(f"{URL}/{applying}/undo", headers=headers),  # not applied yet
        await client.post(f"{URL}/00000000-0000-0000-0000-000000000000/undo", headers=headers),
        await client.post(f"{URL}/{applying}/undo", headers=reader),
    ]

    assert [r.status_code for r in refused] == [409, 404, 403]
    assert "still being applied" in refused[0].json()["detail"]
