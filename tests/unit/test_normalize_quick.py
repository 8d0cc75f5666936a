"""The quick normalisers (ingest's, through the caches, and the importer's) give exactly what
the libraries give.

Their short cuts skip email-validator's and phonenumbers' handling of free text for plainly
written values; these tests compare them with the libraries on generated and real-world
spellings, every region's example numbers, and check the short cuts are actually taken.
"""

from __future__ import annotations

import string

import email_validator
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

import schemas.normalize as normalize
from schemas.normalize import (
    normalize_email,
    normalize_email_quick,
    normalize_phone,
    normalize_phone_quick,
)

slow_email = normalize._normalize_email
slow_phone = normalize._normalize_phone
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
REGIONS = (
    "BE",
    "be",
    "NL",
    "FR",
    "DE",
    "LU",
    "GB",
    "US",
    "IT",
    "AR",
    "MX",
    "BR",
    "RU",
    "XX",
    "001",
    "ZZ",
)
SPECIAL_LABELS = (
    "xn--bcher-kva",
    "xn--x",
    "ab--cd",
    "a--b",
    "localhost",
    "local",
    "test",
    "arpa",
    "onion",
    "invalid",
    "com",
    "be",
    "c0m",
    "1",
    "x" * 63,
    "x" * 64,
    "",
)
# The spellings of the bench's import file and the demo's events: all must take the short cut.
COMMON_EMAILS = (
    "an.peeters@example.be",
    "An.Peeters@Telenet.be",
    " JAN_DE_SMET9@GMAIL.COM ",
    "h.dupre+resto@mail.proximus.be",
    "o'brien@skynet.be",
)
COMMON_PHONES = (
    "0470 12 34 56",
    "+32 470 12 34 56",
    "0032470123456",
    "0470/12.34.56",
    "0470123456",
    "+32470123456",
    "02 345 67 89",
    "+32 2 345 67 89",
    "0032 2 345 67 89",
    "+33 6 12 34 56 78",
    "+31612345678",
    "09 234 12 34",
)


@st.composite
def near_miss(draw: st.DrawFn, text: str, odd: str) -> str:
    """``text``, or ``text`` with one character inserted, replaced or removed."""
    how = draw(st.sampled_from(["as is", "as is", "insert", "replace", "delete"]))
    if how == "as is" or not text:
        return text
    i = draw(st.integers(0, len(text) - 1))
    c = draw(st.sampled_from(odd))
    return {
        "insert": text[:i] + c + text[i:],
        "replace": text[:i] + c + text[i + 1 :],
        "delete": text[:i] + text[i + 1 :],
    }[how]


@st.composite
def emails(draw: st.DrawFn) -> str:
    """Mostly well-formed addresses, special-use and odd labels, and near misses of them."""
    local = ".".join(draw(st.lists(st.text(ATEXT, min_size=1, max_size=6), min_size=1, max_size=3)))
    label = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,4}[A-Za-z0-9])?", fullmatch=True)
    labels = draw(st.lists(label | st.sampled_from(SPECIAL_LABELS), min_size=1, max_size=3))
    tld = draw(st.from_regex(r"[A-Za-z]{2,4}", fullmatch=True) | st.sampled_from(SPECIAL_LABELS))
    text = local + "@" + ".".join([*labels, tld])
    return draw(near_miss(text, '.@-_ "(<>é\u0338\u200b\uff20\t1aZ'))


@st.composite
def phones(draw: st.DrawFn) -> str:
    """Numbers in the spellings people use: prefixes, digit groups, separators; near misses."""
    prefix = draw(
        st.sampled_from(
            [
                "",
                "+",
                "00",
                "0",
                "+0",
                "000",
                "0032",
                "+32",
                "32",
                "+1",
                "011",
                "+39 0",
                "+44 0",
                "+33 ",
                "+31",
                "0 ",
                "+ ",
                "++",
            ]
        )
    )
    digits = draw(st.text("0123456789", min_size=1, max_size=12))
    cuts = sorted(draw(st.lists(st.integers(1, max(len(digits) - 1, 1)), max_size=4)))
    separator = draw(st.sampled_from([" ", ".", "/", "-", ""]))
    parts = [digits[i:j] for i, j in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    return draw(near_miss(prefix + separator.join(p for p in parts if p), " ./-+#x(0"))


@st.composite
def real_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A region and a likely valid number of it (an example with a new ending), spelled in one
    of phonenumbers' formats with its spaces made dots, slashes or hyphens, or a near miss."""
    region = draw(st.sampled_from(("BE", "NL", "FR", "DE", "LU", "GB", "US", "IT", "AR", "RU")))
    kind = draw(
        st.sampled_from(
            (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE)
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    nsn = nsn[:-4] + draw(st.text("0123456789", min_size=4, max_size=4))
    number = phonenumbers.parse(f"+{example.country_code}{nsn}")
    form = draw(
        st.sampled_from(
            (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL)
        )
    )
    text = phonenumbers.format_number(number, form).replace(" ", draw(st.sampled_from(" ./-")))
    if draw(st.booleans()):
        text = text.replace("+", "00", 1)
    reader = draw(st.sampled_from((region, region, "BE", "US")))
    return draw(near_miss(text, " ./-+#x(0123456789")), reader


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        " ",
        "a@b.co",
        "A@B.CO",
        "a@b.c0",
        "a@b.1",
        "a@-b.be",
        "a@b-.be",
        "a@b..be",
        "a.@b.be",
        ".a@b.be",
        "a..b@c.be",
        "a@b.be.",
        "a@localhost",
        "a@x.local",
        "a@x.test",
        "a@xn--bcher-kva.de",
        "a@ab--cd.be",
        "a@a--b.be",
        "info@Example.BE",
        "x" * 64 + "@a.be",
        "a@" + "x" * 63 + ".be",
        "a@" + "x" * 64 + ".be",
        "a" * 240 + "@example.be",
        "a" * 250 + "@example.be",
        '"a b"@example.be',
        "An <an@example.be>",
        "an@exämple.be",
        "änne@example.be",
        "an@example.be\u0338",
        "a\u200b@example.be",
        "an@@example.be",
    ],
)
def test_email_cases(raw: str | None) -> None:
    assert normalize_email_quick(raw) == slow_email(raw)
    assert normalize_email(raw) == slow_email(raw)  # ingest's cached way


@settings(max_examples=1000, deadline=None)
@given(emails() | st.text(max_size=40))
def test_email_is_the_same_as_email_validator(raw: str) -> None:
    assert normalize_email_quick(raw) == slow_email(raw)


def test_email_special_use_list_is_read_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", ["example.be"])
    assert normalize_email_quick("an@example.be") is None is slow_email("an@example.be")


def test_common_emails_take_the_short_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [slow_email(raw) for raw in COMMON_EMAILS]
    monkeypatch.setattr(normalize, "_normalize_email", _fail)
    assert [normalize_email_quick(raw) for raw in COMMON_EMAILS] == expected


@pytest.mark.parametrize("region", ["BE", "NL", "US", "IT", "be", "XX"])
@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "12",
        "123",
        "1 2",
        "+1",
        "+12",
        "+123",
        "+0470",
        "+999 123 456",
        "0470 12 34 56",
        "0470 12 34 5",
        "0470 12 34 567",
        "+32 0470 12 34 56",
        "0032 470 12 34 56",
        "00 32 470",
        "0000",
        "00000000",
        "+39 06 1234 5678",
        "+39 0",
        "06 1234 5678",
        "+1 201 555 0123",
        "201-555-0123",
        "32470123456",
        "3247012345",
        "011 32 470 12 34 56",
        "+44 020 7946 0958",
        "0470.12.34.56",
        "0470--123456",
        "0470 / 12 34 56",
        "+32 470 12 34 56 78 90 12 34 56",
        "1" * 17,
        "1" * 18,
        "+" + "1" * 30,
        "04701234560470123456047012345604",
    ],
)
def test_phone_cases(raw: str | None, region: str) -> None:
    assert normalize_phone_quick(raw, region) == slow_phone(raw, region)
    assert normalize_phone(raw, region) == slow_phone(raw, region)  # ingest's cached way


@settings(max_examples=1000, deadline=None)
@given(
    phones() | st.text("0123456789+ ./-", max_size=24),
    st.sampled_from(("BE", "BE", "BE", *REGIONS)),
)
def test_phone_is_the_same_as_phonenumbers(raw: str, region: str) -> None:
    assert normalize_phone_quick(raw, region) == slow_phone(raw, region)


@settings(max_examples=1000, deadline=None)
@given(real_numbers())
def test_real_numbers_are_the_same_as_phonenumbers(case: tuple[str, str]) -> None:
    raw, region = case
    assert normalize_phone_quick(raw, region) == slow_phone(raw, region)


def test_every_regions_example_numbers_in_every_format() -> None:
    formats = (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL)
    types = [v for k, v in vars(PhoneNumberType).items() if k.isupper() and k != "UNKNOWN"]
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in types:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for form in formats:
                text = phonenumbers.format_number(example, form)
                for raw in (text, text.replace("+", "00", 1)):
                    for reader in (region, "BE"):
                        assert normalize_phone_quick(raw, reader) == slow_phone(raw, reader), (
                            raw,
                            reader,
                        )
                        checked += 1
    assert checked > 10_000


def test_common_phones_take_the_short_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [slow_phone(raw, "BE") for raw in COMMON_PHONES]
    assert None not in expected
    monkeypatch.setattr(normalize, "_normalize_phone", _fail)
    assert [normalize_phone_quick(raw, "BE") for raw in COMMON_PHONES] == expected


def _fail(*args: object) -> None:
    raise AssertionError("the long way was taken")


# -- numbers that differ only in their last digits ---------------------------------------------


NEAR_REGIONS = ("BE", "FR", "US", "DE", "NL", "LU", "IT", "GB", "AR", "CH", "BR", "IN")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(NEAR_REGIONS),
    st.sampled_from(
        (
            PhoneNumberType.MOBILE,
            PhoneNumberType.FIXED_LINE,
            PhoneNumberType.TOLL_FREE,
            PhoneNumberType.PREMIUM_RATE,
        )
    ),
    st.sampled_from((PhoneNumberFormat.E164, PhoneNumberFormat.NATIONAL)),
    st.text("0123456789", min_size=1, max_size=2),
    st.lists(st.text("0123456789", min_size=4, max_size=4), min_size=2, max_size=12),
)
def test_numbers_sharing_their_first_digits(
    region: str, kind: int, form: int, change: str, endings: list[str]
) -> None:
    """Many endings of one beginning (an example number with a digit or two changed before
    its last four): each answer equals phonenumbers'."""
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        return
    text = phonenumbers.format_number(example, form).replace(" ", "")
    body = text[:-4]
    body = body[: len(body) - len(change)] + change
    for ending in endings:
        for reader in (region, "BE"):
            raw = body + ending
            assert normalize_phone_quick(raw, reader) == slow_phone(raw, reader), (raw, reader)
