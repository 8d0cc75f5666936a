"""Column mapping (issue 17): a file whose headers the importer cannot read imports with the
venue's mapping; the next upload of the same headers needs none."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
import pytest

from services.common.settings import Settings
from tests.support.api import MakeToken, Seed, bearer
from tests.support.processes import consume_all, create_topics
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")
T = "brasserie-leopold"
URL = f"/v1/tenants/{T}/imports"
# Headers in no language the importer knows; one name column; dates day-month-year with
# dashes; tags in the venue's own words.
FILE = (
    "Klant;Mobiel nr;E-post;Taalcode;Sinds;Soort\r\n"
    "Hélène Dupré;0470 55 66 77;helene@example.be;FR;03-02-2024;Vaste klant\r\n"
    "Jan Van den Berg;0486 12 34 56;;NL;15-08-2023;Lastig, Vaste klant\r\n"
).encode("cp1252")
MAPPING = {
    "Klant": "name",
    "Mobiel nr": "phone",
    "E-post": "email",
    "Taalcode": "language",
    "Sinds": "first_contact_at",
    "Soort": "tags",
    "date_format": "DD-MM-YYYY",
    "tag_values": {"Vaste klant": "regular", "Lastig": "problem"},
}


@pytest.fixture
async def headers(make_token: MakeToken) -> dict[str, str]:
    return bearer(await make_token(T, "read", "import"))


async def test_a_file_the_importer_cannot_read_imports_with_a_mapping(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    owner: asyncpg.Connection,
    stack: Stack,
    settings: Settings,
    seed: Seed,
) -> None:
    csv = {**headers, "content-type": "text/csv"}
    unknown = await client.post(URL, params={"dry_run": "true"}, content=FILE, headers=csv)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "file.no_identity_column"

    mapped = await client.post(
        URL,
        params={"dry_run": "true", "mapping": orjson.dumps(MAPPING).decode()},
        content=FILE,
        headers=csv,
    )

    assert mapped.status_code == 200, mapped.text
    report = mapped.json()
    assert (report["valid"], report["invalid"], report["would_create"]) == (2, 0, 2)
    assert report["mapping"] == "request"
    assert report["columns"] == [
        {"column": "Klant", "field": "name"},
        {"column": "Mobiel nr", "field": "phone"},
        {"column": "E-post", "field": "email"},
        {"column": "Taalcode", "field": "language"},
        {"column": "Sinds", "field": "first_contact_at"},
        {"column": "Soort", "field": "tags"},
    ]

    # the next upload of the same headers: no mapping needed, as a multipart upload this time
    await create_topics(stack.bootstrap, settings.topic_prefix)
    real = await client.post(
        URL, files={"file": ("klanten.csv", FILE, "text/csv")}, headers=headers
    )
    assert real.status_code == 202, real.text
    assert (real.json()["mapping"], real.json()["published"]) == ("remembered", 2)
    topic = f"{settings.topic_prefix}contacts.site-events"
    messages = await consume_all(stack.bootstrap, topic, expect=2, timeout=30)
    await seed(*(orjson.loads(m.value) for m in messages))
    rows = {
        r["phone"]: r
        for r in await owner.fetch(
            "SELECT first_name, last_name, email, phone, language, tags, first_contact_at"
            " FROM customers WHERE tenant_id = $1",
            T,
        )
    }
    helene, jan = rows["+32470556677"], rows["+32486123456"]
    assert (helene["first_name"], helene["last_name"], helene["email"]) == (
        "Hélène",
        "Dupré",
        "helene@example.be",
    )
    assert (jan["first_name"], jan["last_name"], jan["language"]) == ("Jan", "Van den Berg", "nl")
    assert helene["first_contact_at"] == datetime(2024, 2, 3, tzinfo=ZoneInfo("Europe/Brussels"))
    assert sorted(helene["tags"]) == ["regular"] and sorted(jan["tags"]) == ["problem", "regular"]


async def test_a_bad_mapping_is_a_problem(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    csv = {**headers, "content-type": "text/csv"}
    cases = [
        "not json",
        orjson.dumps({"Klant": "shoe_size"}).decode(),
        orjson.dumps({"Not a column": "email", "E-post": "email"}).decode(),
    ]
    answers = [
        await client.post(URL, params={"dry_run": "true", "mapping": m}, content=FILE, headers=csv)
        for m in cases
    ]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert answers[1].json()["errors"][0]["code"] == "mapping.invalid"
    assert answers[2].json()["errors"][0]["code"] == "mapping.unknown_column"
