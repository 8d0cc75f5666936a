"""Imports through the API: template, dry run, real run through ingest, re-import, round trip."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
import pytest

from schemas.customer_csv import HEADER as TEMPLATE_HEADER
from schemas.normalize import normalize_phone
from services.common.db import role_dsn
from services.common.settings import Settings
from services.export.runner import ExportRunner, export_path
from tests.support.api import MakeToken, Seed, bearer
from tests.support.processes import consume_all, create_topics
from tests.support.stack import Stack
from tests.support.venues import T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
URL = f"/v1/tenants/{T}/imports"

# What an old booking tool exports: cp1252, ';', Dutch headers, DD/MM/YYYY, messy values.
MESSY = (
    "Voornaam;Achternaam;E-mail;GSM;Taal;Nieuwsbrief;Klant sinds;Opmerking\r\n"
    "Hélène;Dupré;Helene.Dupre@Example.be ;0470 55 66 77;Frans;ja;03/02/2024;vaste klant\r\n"
    "Jan;Van den Berg;;+32 486 12 34 56;nl;nee;15/08/2023;\r\n"
    "Piet;Fout;piet@@example;;nl;misschien;31/02/2024;\r\n"
    "Ann;Zeeman;ann.zeeman@example.be;;nl;ja;;\r\n"
).encode("cp1252")


def _personal_values(data: bytes) -> tuple[list[str], list[str], list[str]]:
    """Every name, email and phone of a file shaped like MESSY, as written in it."""
    rows = list(csv.DictReader(io.StringIO(data.decode("cp1252")), delimiter=";"))
    names = [r[c] for r in rows for c in ("Voornaam", "Achternaam", "Opmerking") if r[c].strip()]
    emails = [r["E-mail"] for r in rows if r["E-mail"].strip()]
    phones = [r["GSM"] for r in rows if r["GSM"].strip()]
    return names, emails, phones


def _strings(value: object) -> list[str]:
    """Every key, string and number in a JSON document."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def _unaccented(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _echoed_personal_values(text: str, data: bytes = MESSY) -> list[str]:
    """The personal values of ``data`` that the JSON ``text`` repeats, in any spelling.

    Names as words (any case, with or without accents); emails as written, normalised or their
    mailbox name; phones as written, in E.164, or as their subscriber digits inside any value.
    """
    names, emails, phones = _personal_values(data)
    strings = [text, *_strings(orjson.loads(text))]
    found: list[str] = []
    for value in names:
        spellings = {value.strip(), _unaccented(value.strip())}
        if any(
            re.search(rf"(?<!\w){re.escape(v)}(?!\w)", s, re.IGNORECASE)
            for v in spellings
            for s in strings
        ):
            found.append(value)
    for value in emails:
        address = value.strip().lower()
        spellings = {address, address.split("@")[0]}  # the address, and its mailbox name
        if any(v in s.lower() for v in spellings for s in strings):
            found.append(value)
    for value in phones:
        e164 = normalize_phone(value, "BE")
        assert e164 is not None, value
        subscriber = e164[-8:]
        if any(value in s or e164 in s or subscriber in re.sub(r"\D", "", s) for s in strings):
            found.append(value)
    return found


async def test_the_personal_data_check_sees_every_value_of_the_file() -> None:
    """The check above is only as good as what it looks for: every value, every spelling."""
    names, emails, phones = _personal_values(MESSY)
    assert len(names) == 9 and len(emails) == 3 and len(phones) == 2
    for value in [*names, *emails, *phones]:
        assert _echoed_personal_values(orjson.dumps({"message": f"row 2: {value}"}).decode())
    for spelling in [
        "helene",
        "HÉLÈNE",
        "helene.dupre@example.be",
        "Ann.Zeeman",
        "piet",
        "+32470556677",
        "0470556677",
        "486 12 34 56",
        "+32 486 12 34 56",
    ]:
        assert _echoed_personal_values(orjson.dumps({"x": [spelling]}).decode()), spelling
    assert (
        _echoed_personal_values(orjson.dumps({"rows": 4, "code": "email.invalid"}).decode()) == []
    )


@pytest.fixture
async def headers(seed: Seed, make_token: MakeToken) -> dict[str, str]:
    await seed(*venue_events())
    return bearer(await make_token(T, "read", "import", "export"))


def _csv(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "content-type": "text/csv"}


async def _counts(owner: asyncpg.Connection) -> tuple[int, int]:
    row = await owner.fetchrow(
        "SELECT (SELECT count(*) FROM customers) AS c, (SELECT count(*) FROM history) AS h"
    )
    return row["c"], row["h"]


async def _ingest_published(stack: Stack, settings: Settings, seed: Seed, expect: int) -> None:
    """Play ingest: apply what the import put on the site-events topic."""
    topic = f"{settings.topic_prefix}contacts.site-events"
    messages = await consume_all(stack.bootstrap, topic, expect=expect, timeout=30)
    assert len(messages) == expect
    await seed(*(orjson.loads(m.value) for m in messages))


async def test_template_has_the_export_columns(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.get(f"{URL}/template.csv", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].split(",") == list(TEMPLATE_HEADER)


async def test_dry_run_reports_every_error_and_writes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    before = await _counts(owner)
    r = await client.post(URL, params={"dry_run": "true"}, content=MESSY, headers=_csv(headers))

    assert r.status_code == 200, r.text
    report = r.json()
    assert report["encoding"] == "cp1252" and report["delimiter"] == ";"
    assert (report["rows"], report["valid"], report["invalid"]) == (4, 3, 1)
    assert (report["would_create"], report["would_update"], report["unchanged"]) == (2, 0, 1)
    assert report["import_id"] is None and report["published"] == 0
    codes = {(e["row"], e["column"], e["code"]) for e in report["errors"]}
    assert codes == {
        (4, "email", "email.invalid"),
        (4, "newsletter_opt_in", "newsletter.invalid"),
        (4, "first_contact_at", "date.invalid"),
    }
    assert _echoed_personal_values(r.text) == []  # the report never repeats personal data
    assert report["ignored_columns"] == ["Opmerking"]
    assert await _counts(owner) == before
    assert await owner.fetchval("SELECT count(*) FROM imports") == 0


async def test_real_run_publishes_changing_rows_and_reimport_changes_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    owner: asyncpg.Connection,
    stack: Stack,
    settings: Settings,
    seed: Seed,
) -> None:
    await create_topics(stack.bootstrap, settings.topic_prefix)
    r = await client.post(URL, content=MESSY, headers=_csv(headers))
    assert r.status_code == 202, r.text
    import_id = r.json()["import_id"]
    assert r.json()["published"] == 2
    pending = (await client.get(f"{URL}/{import_id}", headers=headers)).json()
    assert (pending["state"], pending["applied"]) == ("applying", 0)

    await _ingest_published(stack, settings, seed, expect=2)
    state = (await client.get(f"{URL}/{import_id}", headers=headers)).json()
    helene = await owner.fetchrow(
        "SELECT * FROM customers WHERE email = $1", "helene.dupre@example.be"
    )
    again = await client.post(URL, content=MESSY, headers=_csv(headers))

    assert (state["state"], state["applied"], state["invalid"]) == ("done", 2, 1)
    assert len(state["errors"]) == 3
    assert _echoed_personal_values(orjson.dumps(state).decode()) == []
    assert _echoed_personal_values(again.text) == []
    assert (helene["first_name"], helene["language"], helene["newsletter"]) == (
        "Hélène",
        "fr",
        True,
    )
    assert helene["phone"] == "+32470556677"
    brussels_midnight = datetime(2024, 2, 3, tzinfo=ZoneInfo("Europe/Brussels"))
    assert helene["first_contact_at"] == brussels_midnight
    assert again.status_code == 202
    assert (again.json()["published"], again.json()["unchanged"]) == (0, 3)


async def test_export_then_import_back_changes_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    owner: asyncpg.Connection,
    db_url: str,
    settings: Settings,
) -> None:
    for options in ({"delimiter": ",", "bom": False}, {"delimiter": ";", "bom": True}):
        r = await client.post(f"/v1/tenants/{T}/exports", json=options, headers=headers)
        export_id = uuid.UUID(r.json()["export_id"])
        runner = ExportRunner(db_url, role_dsn(db_url), Path(settings.exports_path))
        assert await runner.run(export_id) == "done"
        data = export_path(Path(settings.exports_path), T, export_id).read_bytes()
        before = await _counts(owner)

        dry = (
            await client.post(URL, params={"dry_run": "true"}, content=data, headers=_csv(headers))
        ).json()
        real = await client.post(URL, content=data, headers=_csv(headers))

        assert (dry["rows"], dry["invalid"]) == (4, 0), dry["errors"]
        assert (dry["would_create"], dry["would_update"], dry["unchanged"]) == (0, 0, 4)
        assert real.status_code == 202 and real.json()["published"] == 0
        assert await _counts(owner) == before


async def test_multipart_upload_and_errors(
    client: httpx.AsyncClient, headers: dict[str, str], make_token: MakeToken
) -> None:
    multipart = await client.post(
        URL,
        params={"dry_run": "true"},
        headers=headers,
        files={"file": ("old.csv", MESSY, "text/csv")},
    )
    no_identity = await client.post(
        URL,
        params={"dry_run": "true"},
        content=b"Voornaam;Achternaam\nAn;P\n",
        headers=_csv(headers),
    )
    unknown_id = await client.post(
        URL,
        params={"dry_run": "true"},
        headers=_csv(headers),
        content=f"customer_id,email\n{uuid.uuid4()},ann.zeeman@example.be\n".encode(),
    )
    wrong_type = await client.post(
        URL, content=b"{}", headers={**headers, "content-type": "application/json"}
    )
    too_big = await client.post(
        URL, content=b"x", headers={**_csv(headers), "content-length": str(2**40)}
    )
    reader = bearer(await make_token(T, "read"))
    no_scope = await client.post(URL, content=MESSY, headers=_csv(reader))

    assert multipart.status_code == 200 and multipart.json()["valid"] == 3
    assert no_identity.status_code == 422
    assert no_identity.json()["errors"][0]["code"] == "file.no_identity_column"
    assert [e["code"] for e in unknown_id.json()["errors"]] == ["customer_id.unknown"]
    assert wrong_type.status_code == 415 and too_big.status_code == 413
    assert no_scope.status_code == 403
    for r in (no_identity, wrong_type, too_big, no_scope):
        assert r.headers["content-type"].startswith("application/problem+json")
