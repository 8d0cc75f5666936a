"""Fuzzing the CSV importer: it yields rows or row errors, or raises ImportFileError, only.

Arbitrary bytes; arbitrary bytes after a valid header; generated files with hostile cells
(quotes, delimiters, newlines, control characters, NUL, formula prefixes, long values) in
utf-8, utf-8 with BOM, cp1252 and utf-16, with `,` `;` or tab; and byte-level mutations of them.
Every row error has row >= 2, a documented code and a known column.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.customer_csv import HEADER as TEMPLATE_HEADER
from schemas.tags import BUILTIN_TAGS
from services.profile.csvimport import CsvImport, ImportFileError, ImportRow, RowError
from tests.support.mutations import Edit, edits, mutate

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FILE_CODES = {
    "file.empty",
    "file.not_csv",
    "file.header",
    "file.no_identity_column",
    "file.malformed",
}
ROW_CODES = {
    "email.invalid",
    "phone.invalid",
    "contact.missing",
    "language.invalid",
    "newsletter.invalid",
    "tags.unknown",
    "tags.too_many",
    "date.invalid",
    "date.future",
    "customer_id.invalid",
    "value.too_long",
    "value.invalid",
    "row.columns",
    "row.duplicate",
}
COLUMNS = {"", "name", *TEMPLATE_HEADER}
FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def run(raw: bytes) -> list[ImportRow | list[RowError]]:
    """Open and read the whole file, checking every outcome; ImportFileError is allowed."""
    out: list[ImportRow | list[RowError]] = []
    try:
        with CsvImport.open(io.BytesIO(raw), known_tags=set(BUILTIN_TAGS), now=NOW) as opened:
            last = 1
            for result in opened.rows():
                if isinstance(result, ImportRow):
                    assert result.email or result.phone
                    row = result.row
                else:
                    assert isinstance(result, list) and result
                    assert len({e.row for e in result}) == 1
                    for error in result:
                        assert isinstance(error, RowError)
                        assert error.row >= 2, error
                        assert error.code in ROW_CODES, error
                        assert error.column in COLUMNS, error
                        assert isinstance(error.message, str) and error.message
                    row = result[0].row
                assert row > last  # rows come in file order, numbered as a spreadsheet
                last = row
                out.append(result)
    except ImportFileError as exc:
        assert exc.code in FILE_CODES, exc.code
    return out


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(raw: bytes) -> None:
    run(raw)


@FUZZ
@given(st.sampled_from([b"", b"\xef\xbb\xbf", b"sep=;\n"]), st.binary(max_size=2048))
def test_arbitrary_bytes_after_a_valid_header(prefix: bytes, body: bytes) -> None:
    delimiter = ";" if b"sep" in prefix else ","
    run(prefix + delimiter.join(TEMPLATE_HEADER).encode() + b"\r\n" + body)


hostile = st.sampled_from(
    [
        "",
        " ",
        '"',
        '""',
        "'",
        ",",
        ";",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "\x00",
        "\x0b",
        "\x1b[31m",
        "=SUM(A1)",
        "+32470123456",
        "-5",
        "@cmd",
        "'=x",
        "\ufeff",
        "\u2028",
        "é",
        "€",
        "ÿ",
        "a" * 101,
        "a" * 300,
        "|".join(["vip"] * 12),
        "vip|nope",
        "2026-11-23",
        "31/12/2099",
        "30/02/2026",
        "0470 12 34 56",
        "an@example.be",
        "AN@EXAMPLE.BE",
        "not-an-email",
        "00000000-0000-0000-0000-000000000000",
        "ja",
        "perhaps",
        "nl",
        "xx",
    ]
)
cell = hostile | st.text(max_size=30)
header = st.lists(
    st.sampled_from([*TEMPLATE_HEADER, "naam", "e-mail", "GSM", "Prénom", "taal", "unknown", ""]),
    min_size=1,
    max_size=14,
)


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "cp1252":
        return text.encode("cp1252", errors="replace")
    if encoding == "utf-16":
        return text.encode("utf-16")  # with BOM, as Excel writes it
    return text.encode(encoding, errors="surrogatepass")


@st.composite
def files(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    columns = draw(header)
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=len(columns) + 2), max_size=12))
    buf = io.StringIO()
    writer = csv.writer(
        buf, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))
    )
    writer.writerow(columns)
    writer.writerows(rows)
    text = buf.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return _encode(text, encoding)


@FUZZ
@given(files())
def test_generated_files_with_hostile_cells(raw: bytes) -> None:
    run(raw)


@FUZZ
@given(files(), edits(["flip", "insert", "delete", "truncate"], max_size=6))
def test_byte_level_mutations_of_generated_files(raw: bytes, changes: list[Edit]) -> None:
    run(mutate(raw, changes))


def test_valid_template_rows_survive_every_encoding() -> None:
    """The baseline: a clean file in each encoding gives its rows back."""
    text = ",".join(TEMPLATE_HEADER) + "\n,Zoë,Peeters,an@example.be,,nl,ja,vip,,,,\n"
    for encoding in ("utf-8", "utf-8-sig", "cp1252", "utf-16"):
        (row,) = run(_encode(text, encoding))
        assert isinstance(row, ImportRow) and row.first_name == "Zoë", encoding


def test_pathological_files() -> None:
    for raw in (
        b"\x00" * 10_000,
        b"PK\x03\x04" + b"\x00" * 100,
        b"email\n" + b'"' * 100_000,
        b"email\n" + b"a" * (1 << 20) + b"\n",
        b"e" * (1 << 20) + b"mail\n",
        b"email\n" + b"\n" * 50_000 + b"x@y.be\n",
        b"email," * 10_000 + b"\n" + b"x@y.be," * 10_000 + b"\n",
        "email\n".encode("utf-16-le"),  # no BOM
        b"\xff\xfe" + b"\x00\xd8" * 10,  # utf-16 lone surrogates
        b"sep=\x00\nemail\n",
        b'sep="\nemail\n"x@y.be\n',
    ):
        run(raw)
