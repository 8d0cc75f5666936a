"""The customer CSV import (contract section 6): a pure, streaming parser of an uploaded file.

It reads a seekable binary file object and nothing else: no database, no network. Memory is
constant in the file size, except duplicate detection, which keeps one 8-byte digest per
identity (about 10 to 30 bytes per row).

Row numbers are what a spreadsheet shows: the header is row 1 and the first data record row 2.
They count records, not physical lines (a quoted cell spanning lines is one row); blank lines
count as rows and are skipped silently; an Excel ``sep=;`` hint line is not counted.

File-level errors (:class:`ImportFileError`, nothing in the file is usable):

============================  =================================================================
``file.empty``                no header: the file is empty or blank
``file.not_csv``              a spreadsheet workbook (xlsx, xls) instead of a CSV file
``file.header``               the header line cannot be read (longer than 1 MiB)
``file.no_identity_column``   neither an email nor a phone column in the header
``file.malformed``            broken quoting or a line over 1 MiB; raised by ``rows()`` there
============================  =================================================================

Row errors (:class:`RowError`, all of a row at once; a row with any error is invalid as a whole;
``column`` is the canonical column name, ``""`` for the whole row):

=======================  ======================================================================
``email.invalid``        the email cell is not a valid email address
``phone.invalid``        the phone cell is not a valid phone number (national numbers are read
                         in the tenant's region)
``contact.missing``      neither an email nor a phone number (column ``email``, else ``phone``)
``language.invalid``     not an ISO 639-1 code (``nl``, ``fr-BE``) or a language name
``newsletter.invalid``   not one of true/false/yes/no/ja/nee/oui/non/1/0 (empty = unknown)
``tags.unknown``         a tag code the tenant does not have
``tags.too_many``        more than 9 tags
``date.invalid``         first_contact_at is not ISO 8601 or DD/MM/YYYY (optionally with HH:MM)
``date.future``          first_contact_at more than a day after ``now``
``customer_id.invalid``  customer_id is not a UUID
``value.too_long``       a first or last name over 100 characters, a full name over 200
``value.invalid``        a cell contains a NUL character
``row.columns``          more (non-empty) fields than the header has columns
``row.duplicate``        the same email (or phone, when no email) as an earlier row
``contact.placeholder``  the row's email and phone are placeholders (``noemail@…``, the
                         venue's blocked identifiers) that identify nobody (importing.py)
=======================  ======================================================================

Messages never repeat the content of a cell, so no personal data ends up in a report or a log
(only unknown tag codes are named, and only when they look like tag codes).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
import uuid
from array import array
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import TracebackType
from typing import IO, Any, BinaryIO, Final
from zoneinfo import ZoneInfo

from schemas.events import Contact, ImportData, ImportEvent
from schemas.normalize import (
    normalize_email_quick,
    normalize_language,
    normalize_phone_quick,
    split_name,
)
from schemas.tags import MAX_TAGS_PER_CUSTOMER, TAG_CODE
from services.common.settings import DEFAULT_REGION

LOCAL_TIMEZONE: Final = ZoneInfo("Europe/Brussels")
EVENT_NAMESPACE: Final = uuid.UUID("83903a54-b1bf-456a-9de8-0876bf7ce4d2")
MAX_NAME: Final = 100
MAX_FULL_NAME: Final = 200
_MAX_LINE = 1 << 20
_CHUNK = 1 << 16
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")

# Not ingest's cached normalisers (an import of distinct guests would only fill their caches):
# their quick twins, the same results with short cuts for plainly written values.
_email: Callable[..., str | None] = normalize_email_quick
_phone: Callable[..., str | None] = normalize_phone_quick

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "customer_id": (
        "klant id",
        "klantnummer",
        "id client",
        "client id",
        "numéro client",
        "customer number",
    ),
    "first_name": ("voornaam", "prénom", "first name", "given name", "forename"),
    "last_name": (
        "achternaam",
        "familienaam",
        "nom",
        "nom de famille",
        "last name",
        "surname",
        "family name",
    ),
    "name": ("naam", "volledige naam", "nom complet", "full name"),
    "email": (
        "e-mail",
        "e-mailadres",
        "mailadres",
        "mail",
        "courriel",
        "adresse e-mail",
        "adresse courriel",
        "email address",
        "e-mailadresse",
    ),
    "phone": (
        "gsm",
        "gsm-nummer",
        "telefoon",
        "telefoonnummer",
        "téléphone",
        "tel",
        "tel nr",
        "numéro de téléphone",
        "portable",
        "mobile",
        "mobiel",
        "phone number",
    ),
    "language": ("taal", "langue", "lang"),
    "newsletter_opt_in": ("nieuwsbrief", "newsletter", "infolettre", "opt-in"),
    "tags": ("tag", "labels", "label", "étiquettes", "étiquette"),
    "first_contact_at": (
        "klant sinds",
        "eerste contact",
        "client depuis",
        "premier contact",
        "first contact",
        "customer since",
    ),
    "last_contact_at": ("laatste contact", "dernier contact", "last contact"),
    "reservations": ("reservaties", "reserveringen", "réservations"),
    "no_shows": ("no-show", "no-shows", "niet opgedaagd"),
}
_LANGUAGE_NAMES: Final = {
    "nederlands": "nl",
    "vlaams": "nl",
    "dutch": "nl",
    "neerlandais": "nl",
    "frans": "fr",
    "francais": "fr",
    "french": "fr",
    "engels": "en",
    "anglais": "en",
    "english": "en",
    "duits": "de",
    "allemand": "de",
    "german": "de",
    "deutsch": "de",
}
_BOOLEANS: Final = {
    "true": True,
    "yes": True,
    "ja": True,
    "oui": True,
    "1": True,
    "false": False,
    "no": False,
    "nee": False,
    "non": False,
    "0": False,
}
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _fold(label: str) -> str:
    """A header label without accents, case and anything but letters and digits."""
    decomposed = unicodedata.normalize("NFKD", label)
    return "".join(c for c in decomposed if c.isalnum() and c.isascii()).lower()


_HEADER_MAP: Final = {
    _fold(alias): canonical
    for canonical, aliases in _ALIASES.items()
    for alias in (canonical, *aliases)
}


FIELDS: Final = tuple(_ALIASES)
"""What a file column can be mapped to (``ColumnMapping``), besides ``ignore``."""
_FORMAT_TOKENS: Final = (("YYYY", "%Y"), ("YY", "%y"), ("MM", "%m"), ("DD", "%d"), ("HH", "%H"))


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """What the venue says its file's columns are, for a header the importer cannot read by
    itself: ``columns`` {file column: field or "ignore"}, a ``date_format`` (``DD-MM-YYYY``,
    ``YYYY.MM.DD``, or a strptime format) and ``tag_values`` {the venue's word: tag code}."""

    columns: Mapping[str, str] = field(default_factory=dict)
    date_format: str | None = None
    tag_values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, doc: object) -> ColumnMapping:
        """From the request's JSON: either {column: field, ...} with the optional keys
        ``date_format`` and ``tag_values``, or {"columns": {...}, ...}; ImportFileError
        ``mapping.invalid`` when it is not one."""

        def bad(message: str) -> ImportFileError:
            return ImportFileError("mapping.invalid", message)

        if not isinstance(doc, dict):
            raise bad('The mapping is a JSON object: {"file column": "field"}.')
        body = dict(doc)
        date_format = body.pop("date_format", None)
        tag_values = body.pop("tag_values", {})
        columns = body.pop("columns", body)
        if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise bad("Each column of the mapping names a field as text.")
        unknown = sorted({v for v in columns.values() if v not in FIELDS and v != "ignore"})
        if unknown:
            raise bad(
                f"Unknown field(s): {', '.join(unknown[:5])}. A column can be one of "
                f"{', '.join(FIELDS)}, or ignore."
            )
        if date_format is not None and not isinstance(date_format, str):
            raise bad("date_format is text, for example DD-MM-YYYY.")
        if not isinstance(tag_values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tag_values.items()
        ):
            raise bad("tag_values maps the venue's words to tag codes.")
        return cls(
            {k.strip(): v for k, v in columns.items()},
            _strptime_format(date_format) if date_format else None,
            {_fold(k): v.strip().lower() for k, v in tag_values.items()},
        )

    def to_json(self) -> dict[str, object]:
        """As remembered for the venue."""
        return {
            "columns": dict(self.columns),
            "date_format": self.date_format,
            "tag_values": dict(self.tag_values),
        }


_PEEK: Final = ColumnMapping()  # peek_header's: reads any header, needs no identity column


def _strptime_format(text: str) -> str:
    """``DD-MM-YYYY`` style tokens to a strptime format (a format with ``%`` is kept)."""
    if "%" in text:
        return text
    out = text
    for token, directive in _FORMAT_TOKENS:
        out = out.replace(token, directive)
    return out.replace("mm", "%M")


def header_key(labels: list[str]) -> str:
    """How a venue's remembered mapping finds the same header again: its columns, folded."""
    return "\t".join(_fold(label) for label in labels)


def peek_header(binary: BinaryIO | IO[bytes]) -> list[str]:
    """The header's column labels (for a remembered mapping), or [] when there is none; the
    file is left at its start."""
    return peek(binary, 0)[0]


def peek(binary: BinaryIO | IO[bytes], rows: int) -> tuple[list[str], list[list[str]]]:
    """The header's column labels and the first ``rows`` data rows as written (cells padded
    to the header's width), for staff choosing what each column is; ([], []) when the file has
    no header. The file is left at its start."""
    try:
        with CsvImport.open(
            binary,  # type: ignore[arg-type]
            known_tags=frozenset(),
            now=datetime.now(UTC),
            mapping=_PEEK,
        ) as opened:
            width = len(opened.header)
            found: list[list[str]] = []
            reader = csv.reader(opened._lines(), delimiter=opened.delimiter)
            for cells in reader:
                if len(found) >= rows:
                    break
                if any(c.strip() for c in cells):
                    found.append([c.strip() for c in cells[:width]] + [""] * (width - len(cells)))
            return opened.header, found
    except (ImportFileError, csv.Error):
        return [], []
    finally:
        binary.seek(0)


class ImportFileError(Exception):
    """A problem with the whole file (see the module docstring for the codes)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row; ``row`` as a spreadsheet numbers it (header = 1)."""

    row: int
    column: str
    code: str
    message: str


@dataclass(slots=True)
class ImportRow:
    """A valid row, normalised: email lower-cased, phone in E.164, language ISO 639-1."""

    row: int
    customer_id: uuid.UUID | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    newsletter_opt_in: bool | None = None
    tags: list[str] = field(default_factory=list)
    first_contact_at: datetime | None = None

    @property
    def identity(self) -> str:
        """The identity the row is about: ``email:<email>``, else ``phone:<E.164>``."""
        return f"email:{self.email}" if self.email else f"phone:{self.phone}"


def _valid_utf8(binary: BinaryIO) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := binary.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def open_text(binary: BinaryIO) -> tuple[io.TextIOWrapper, str]:
    """Detect the encoding chunk by chunk and wrap ``binary`` (``.detach()`` gives it back)."""
    binary.seek(0)
    head = binary.read(4)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text"
    else:
        binary.seek(0)
        encoding = "utf-8" if _valid_utf8(binary) else "cp1252"
    binary.seek(0)
    # "replace": cp1252 leaves five bytes undefined; validated UTF-8 never needs it.
    text = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")
    return text, encoding


def detect_delimiter(line: str) -> str:
    """The most frequent of ``,`` ``;`` and tab outside quotes; ``,`` on a tie."""
    counts = dict.fromkeys(",;\t", 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return max(counts, key=counts.__getitem__)  # the first of equals: ","


def unprefix(cell: str) -> str:
    """Undo the exporter's CSV-injection guard: ``'=x`` is ``=x`` again, ``''=x`` is ``'=x``.

    The exporter quotes any value made of quotes followed by = + - @ tab or CR, so stripping
    one quote here gives every value back unchanged.
    """
    if len(cell) > 1 and cell[0] == "'" and cell.lstrip("'")[:1] in _FORMULA_START:
        return cell[1:]
    return cell


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@lru_cache(maxsize=16384)  # ten years of days: a file holds few distinct dates
def parse_date(text: str) -> datetime | None:
    """ISO 8601 or DD/MM/YYYY [HH:MM[:SS]] in UTC, local Brussels time when no offset; or None."""
    match = _DMY.fullmatch(text)
    try:
        if match:
            day, month, year, hour, minute, second = (int(g or 0) for g in match.groups())
            value = datetime(year, month, day, hour, minute, second)
        else:
            value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=LOCAL_TIMEZONE)
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return value if value.year >= 1900 else None


@lru_cache(maxsize=1024)  # a column of a few spellings
def parse_language(text: str) -> str | None:
    """An ISO 639-1 code from a language tag (``nl-BE``) or name (``Frans``); or None."""
    return normalize_language(text) or _LANGUAGE_NAMES.get(_fold(text))


class _Seen:
    """A set of 64-bit identity digests in one flat array (open addressing, linear probing)."""

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * 1024))
        self._count = 0

    def add(self, key: str) -> bool:
        """Add ``key``; False when it was there already."""
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()) or 1
        if self._insert(self._slots, digest):
            self._count += 1
            if self._count * 5 > len(self._slots) * 4:  # load above 0.8: double
                bigger = array("Q", [0]) * (2 * len(self._slots))
                for old in self._slots:
                    if old:
                        self._insert(bigger, old)
                self._slots = bigger
            return True
        return False

    @staticmethod
    def _insert(slots: array[int], digest: int) -> bool:
        mask = len(slots) - 1
        i = digest & mask
        while slots[i]:
            if slots[i] == digest:
                return False
            i = (i + 1) & mask
        slots[i] = digest
        return True


class CsvImport:
    """An opened import file: encoding, delimiter, columns, and its rows as a stream."""

    def __init__(
        self,
        text: io.TextIOWrapper,
        encoding: str,
        *,
        region: str,
        known_tags: AbstractSet[str],
        now: datetime,
        mapping: ColumnMapping | None = None,
    ) -> None:
        self._text = text
        self.mapping = mapping or ColumnMapping()
        self.encoding = encoding
        self.region = region
        self.known_tags = known_tags
        self.now = now
        self.delimiter = ","
        self.columns: tuple[str, ...] = ()
        """Canonical names of the recognised columns, in file order (read-only ones too)."""
        self.labels: dict[str, str] = {}
        """Each recognised canonical column's label as written in the file."""
        self.ignored_columns: tuple[str, ...] = ()
        """Labels of unknown (or repeated) columns, in file order."""
        self.header: list[str] = []
        """Every column label of the header, as written, in file order."""
        self.valid = self.invalid = self.blank = 0
        self._index: dict[str, int] = {}
        self._width = 0
        self._row = 0  # the last row read
        self._seen = _Seen()
        self._started = self._detached = False

    @classmethod
    def open(
        cls,
        binary: BinaryIO,
        *,
        region: str = DEFAULT_REGION,
        known_tags: AbstractSet[str],
        now: datetime,
        mapping: ColumnMapping | None = None,
    ) -> CsvImport:
        """Detect encoding and delimiter and read the header (the ``mapping`` says what its
        columns are where given; the others are recognised by their names); raises
        :class:`ImportFileError`."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        binary.seek(0)
        if binary.read(4).startswith(_WORKBOOK_MAGIC):
            raise ImportFileError(
                "file.not_csv",
                "This is a spreadsheet workbook, not a CSV file: save it as CSV and import that.",
            )
        text, encoding = open_text(binary)
        opened = cls(text, encoding, region=region, known_tags=known_tags, now=now, mapping=mapping)
        try:
            opened._read_header()
        except BaseException:
            opened.close()
            raise
        return opened

    def _readline(self) -> str:
        line = self._text.readline(_MAX_LINE)
        if len(line) >= _MAX_LINE and not line.endswith(("\n", "\r")):
            raise ImportFileError("file.malformed", f"Row {self._row + 1} is longer than 1 MiB.")
        return line

    def _read_header(self) -> None:
        try:
            line = self._readline()
            while line and not line.strip():  # leading blank lines: rows all the same
                self._row += 1
                line = self._readline()
        except ImportFileError:
            raise ImportFileError("file.header", "The header line is longer than 1 MiB.") from None
        hint = line.strip().lstrip("\ufeff")
        if len(hint) == 5 and hint.lower().startswith("sep="):  # Excel's separator hint
            self.delimiter = hint[4]
            line = self._readline()
        else:
            self.delimiter = detect_delimiter(line)
        if not line.strip():
            raise ImportFileError("file.empty", "The file is empty: it has no header line.")
        self._row += 1
        header = next(csv.reader([line], delimiter=self.delimiter))
        self._width = len(header)
        ignored: list[str] = []
        self.header = [cell.strip().lstrip("\ufeff").strip() for cell in header]
        missing = sorted(set(self.mapping.columns) - set(self.header))
        if missing:
            raise ImportFileError(
                "mapping.unknown_column",
                f"The mapping names {len(missing)} column(s) the file does not have: "
                + ", ".join(missing[:5]),
            )
        # The venue's mapping first (it wins over a name the importer recognises), then names.
        chosen = {
            i: self.mapping.columns[label]
            for i, label in enumerate(self.header)
            if label in self.mapping.columns
        }
        taken = set(chosen.values())
        for i, label in enumerate(self.header):
            if i not in chosen and (auto := _HEADER_MAP.get(_fold(label))) not in taken:
                chosen[i] = auto or "ignore"
                taken.add(chosen[i])
        for i, label in enumerate(self.header):
            canonical = chosen.get(i, "ignore")
            if canonical == "ignore" or canonical in self._index:
                if label:
                    ignored.append(label)
                continue
            self._index[canonical] = i
            self.labels[canonical] = label
        self.columns = tuple(self._index)
        self.ignored_columns = tuple(ignored)
        if "email" not in self._index and "phone" not in self._index and self.mapping is not _PEEK:
            raise ImportFileError(
                "file.no_identity_column",
                "The header has no email or phone column; a file needs at least one "
                "(for example: email, e-mailadres, courriel, phone, GSM, téléphone).",
            )

    def _lines(self) -> Iterator[str]:
        while line := self._readline():
            yield line

    def rows(self) -> Iterator[ImportRow | list[RowError]]:
        """Each non-blank data row: an :class:`ImportRow`, or all of the row's errors."""
        if self._started:
            raise RuntimeError("rows() can be read once")
        self._started = True
        try:
            for cells in csv.reader(self._lines(), delimiter=self.delimiter):
                self._row += 1
                text = "".join(cells)
                if not text.strip():  # no cell holds anything but white space
                    self.blank += 1
                    continue
                result = self._parse_row(self._row, cells, nul="\x00" in text)
                if isinstance(result, ImportRow):
                    self.valid += 1
                else:
                    self.invalid += 1
                yield result
        except csv.Error as exc:
            raise ImportFileError(
                "file.malformed", f"Row {self._row + 1}: the CSV cannot be read ({exc})."
            ) from None
        finally:
            self.close()

    def close(self) -> None:
        """Give the binary file back, open (a wrapper's garbage collection would close it)."""
        if not self._detached:
            self._detached = True
            self._text.detach()

    def __enter__(self) -> CsvImport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _parse_row(self, row: int, cells: list[str], *, nul: bool) -> ImportRow | list[RowError]:
        """The row's values or all its errors; ``nul`` when some cell holds a NUL character."""
        errors: list[RowError] = []
        index, count = self._index, len(cells)

        def fail(column: str, code: str, message: str) -> None:
            errors.append(RowError(row, column, code, message))

        def cell(name: str) -> str:
            i = index.get(name)
            if i is None or i >= count:
                return ""
            value = cells[i]
            if value[:1] == "'":
                value = unprefix(value)
            value = value.strip()
            if nul and "\x00" in value:
                fail(name, "value.invalid", "contains a NUL character, which cannot be stored")
                return ""
            return value

        if len(cells) > self._width and any(c.strip() for c in cells[self._width :]):
            fail(
                "",
                "row.columns",
                f"this row has {len(cells)} fields but the header has "
                f"{self._width} columns: check the separators and quotes",
            )
        out = ImportRow(row)
        if text := cell("customer_id"):
            try:
                out.customer_id = uuid.UUID(text)
            except ValueError:
                fail("customer_id", "customer_id.invalid", "not a valid customer id (a UUID)")
        self._names(out, cell, fail)
        if email := cell("email"):
            out.email = _email(email)
            if out.email is None:
                fail("email", "email.invalid", "not a valid email address")
        if phone := cell("phone"):
            out.phone = _phone(phone, self.region)
            if out.phone is None:
                fail("phone", "phone.invalid", "not a valid phone number")
        if not email and not phone:
            fail(
                "email" if "email" in self._index else "phone",
                "contact.missing",
                "neither an email address nor a phone number; a row needs one",
            )
        if text := cell("language"):
            out.language = parse_language(text)
            if out.language is None:
                fail("language", "language.invalid", "not a language code such as nl, fr or en")
        if text := cell("newsletter_opt_in"):
            out.newsletter_opt_in = _BOOLEANS.get(text.lower())
            if out.newsletter_opt_in is None:
                fail(
                    "newsletter_opt_in",
                    "newsletter.invalid",
                    "not a yes/no value: use true/false, yes/no, ja/nee, oui/non, 1/0, or leave "
                    "it empty when unknown",
                )
        self._tags(out, cell("tags"), fail)
        if text := cell("first_contact_at"):
            out.first_contact_at = self._date(text)
            if out.first_contact_at is None:
                fail(
                    "first_contact_at",
                    "date.invalid",
                    "not a date: use YYYY-MM-DD, ISO 8601 or DD/MM/YYYY",
                )
            elif out.first_contact_at > self.now + timedelta(days=1):
                fail("first_contact_at", "date.future", "a first contact cannot be in the future")
        if (out.email or out.phone) and not self._seen.add(out.identity):
            fail(
                "email" if out.email else "phone",
                "row.duplicate",
                f"the same {'email address' if out.email else 'phone number'} is on an earlier "
                "row: a file may mention each customer once",
            )
        return errors or out

    def _date(self, text: str) -> datetime | None:
        """A date cell: in the mapping's ``date_format`` when it gives one (Brussels time)."""
        if self.mapping.date_format is None:
            return parse_date(text)
        try:
            value = datetime.strptime(text, self.mapping.date_format)
        except ValueError:
            return None
        value = value.replace(tzinfo=LOCAL_TIMEZONE).astimezone(UTC)
        return value if value.year >= 1900 else None

    @staticmethod
    def _names(
        out: ImportRow, cell: Callable[[str], str], fail: Callable[[str, str, str], None]
    ) -> None:
        first, last, column = cell("first_name"), cell("last_name"), ""
        if not first and not last and (full := cell("name")):
            if len(full) > MAX_FULL_NAME:
                fail("name", "value.too_long", f"longer than {MAX_FULL_NAME} characters")
                return
            head, tail = split_name(full)  # as ingest reads a single `name`
            first, last, column = head or "", tail or "", "name"
        for name, value in (("first_name", first), ("last_name", last)):
            if len(value) > MAX_NAME:
                fail(column or name, "value.too_long", f"longer than {MAX_NAME} characters")
        out.first_name, out.last_name = first or None, last or None

    def _tags(self, out: ImportRow, text: str, fail: Callable[[str, str, str], None]) -> None:
        if not text:
            return  # out.tags is already empty
        words = self.mapping.tag_values
        parts = re.split(r"[|;,]", text) if words else text.split("|")
        out.tags = list(
            dict.fromkeys(
                words.get(_fold(p), p.strip().lower()) if words else p.strip().lower()
                for p in parts
                if p.strip()
            )
        )
        unknown = [t for t in out.tags if t not in self.known_tags]
        if unknown:
            # Name the codes that look like codes; anything else may be a misplaced personal value.
            named = [t for t in unknown if TAG_CODE.match(t)]
            others = len(unknown) - len(named)
            what = ", ".join(named) + (f" and {others} other value(s)" if others and named else "")
            fail(
                "tags",
                "tags.unknown",
                f"unknown tag: {what}"
                if named
                else f"{others} value(s) that are not tag codes of this venue",
            )
        if len(out.tags) > MAX_TAGS_PER_CUSTOMER:
            fail("tags", "tags.too_many", f"more than {MAX_TAGS_PER_CUSTOMER} tags")


def parse(
    binary: BinaryIO, *, region: str = DEFAULT_REGION, known_tags: AbstractSet[str], now: datetime
) -> Iterator[ImportRow | RowError]:
    """Valid rows and row errors, in file order (:class:`ImportFileError` on the first step)."""
    with CsvImport.open(binary, region=region, known_tags=known_tags, now=now) as opened:
        for item in opened.rows():
            if isinstance(item, ImportRow):
                yield item
            else:
                yield from item


def import_event_id(tenant_id: str, file_sha256: str, row: int, generation: int = 0) -> uuid.UUID:
    """The deterministic event id of a row: publishing the same file again changes nothing.
    ``generation`` counts the venue's undone imports of the same file: after an undo the file
    imports as new, while a replay of the undone events stays a duplicate."""
    suffix = f"|{generation}" if generation else ""
    return uuid.uuid5(EVENT_NAMESPACE, f"{tenant_id}|{file_sha256}|{row}{suffix}")


def import_event(
    row: ImportRow,
    *,
    tenant_id: str,
    import_id: str,
    file_sha256: str,
    occurred_at: datetime,
    generation: int = 0,
) -> ImportEvent:
    """The ``contact.imported`` event of a valid row (contract section 2), built and checked by
    the contract's own model."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    contact = Contact(
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone=row.phone,
        language=row.language,
        newsletter_opt_in=row.newsletter_opt_in,
    )
    return ImportEvent(
        event_id=import_event_id(tenant_id, file_sha256, row.row, generation),
        type="contact.imported",
        tenant_id=tenant_id,
        occurred_at=occurred_at,
        source="import",
        data=ImportData(
            contact=contact,
            import_id=import_id,
            row=row.row,
            tags=list(row.tags) or None,
            first_contact_at=row.first_contact_at,
        ),
    )


def to_event(
    row: ImportRow, *, tenant_id: str, import_id: str, file_sha256: str, occurred_at: datetime
) -> dict[str, Any]:
    """The event document of a valid row as it is published; unknown values are left out."""
    event = import_event(
        row,
        tenant_id=tenant_id,
        import_id=import_id,
        file_sha256=file_sha256,
        occurred_at=occurred_at,
    )
    return event.model_dump(mode="json", exclude_none=True)
