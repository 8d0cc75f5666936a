"""Normalisation of the identity fields (contract section 2, `contact`)."""

from __future__ import annotations

import socket

import dns.resolver
import pytest

from schemas.normalize import normalize_email, normalize_language, normalize_phone, split_name
from services.common.settings import DEFAULT_REGION, Settings

# -- email --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("An.Peeters@Example.be", "an.peeters@example.be"),
        ("  an.peeters@example.be\t", "an.peeters@example.be"),
        ("AN.PEETERS@EXAMPLE.BE", "an.peeters@example.be"),
        ("jan+resto@mail.example.com", "jan+resto@mail.example.com"),
    ],
)
def test_email_is_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "an.peeters",
        "an.peeters@",
        "@example.be",
        "an@@example.be",
        "an peeters@example.be",
        "an@example",  # no dot in the domain
        "an@localhost",
        "a" * 250 + "@example.be",  # longer than 254 characters
    ],
)
def test_unusable_email_gives_none(raw: str | None) -> None:
    assert normalize_email(raw) is None


def test_email_validation_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("normalize_email must not resolve DNS")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "gethostbyname", no_network)
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", no_network)
    monkeypatch.setattr(dns.resolver, "resolve", no_network)

    # A domain that certainly has no MX record is still a well-formed, usable address.
    assert normalize_email("Guest@No-Such-Domain-For-Contacts.invalid.be") == (
        "guest@no-such-domain-for-contacts.invalid.be"
    )


# -- phone --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "0470 12 34 56",
        "0470123456",
        "0470/12.34.56",
        "+32 470 12 34 56",
        "+32470123456",
        "0032 470 12 34 56",
        "  0032470123456  ",
    ],
)
def test_belgian_mobile_in_any_human_format_gives_e164(raw: str) -> None:
    assert normalize_phone(raw, "BE") == "+32470123456"


def test_brussels_landline_with_slash_and_dots_gives_e164() -> None:
    # NB "02/123.45.67" itself is refused: the 02-1xx block is not allocated in the
    # libphonenumber metadata and normalize_phone requires a *valid* (allocated) number.
    assert normalize_phone("02/511.22.33", "BE") == "+3225112233"


def test_default_region_is_belgium() -> None:
    # The default region has one owner, the settings (CONTACTS_DEFAULT_REGION); a new venue
    # gets it, and with it national numbers read as Belgian ones.
    assert Settings().default_region == DEFAULT_REGION == "BE"
    assert normalize_phone("0470 12 34 56", Settings().default_region) == "+32470123456"


@pytest.mark.parametrize("region", ["FR", "fr"])
def test_national_number_is_read_in_the_tenant_region(region: str) -> None:
    assert normalize_phone("06 12 34 56 78", region) == "+33612345678"


def test_french_national_number_is_not_a_belgian_number() -> None:
    assert normalize_phone("06 12 34 56 78", "BE") is None


def test_international_number_ignores_the_tenant_region() -> None:
    assert normalize_phone("+33 6 12 34 56 78", "BE") == "+33612345678"
    assert normalize_phone("0032 470 12 34 56", "FR") == "+32470123456"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "abc",
        "call me",
        "12",
        "+32 470",
        "0470 12 34 56 78 90",
        "0470 12 34 56" + " 0" * 20,  # longer than 40 characters
    ],
)
def test_garbage_phone_gives_none(raw: str | None) -> None:
    assert normalize_phone(raw, "BE") is None


# -- language -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("nl-BE", "nl"),
        ("fr_BE", "fr"),
        ("EN", "en"),
        ("en-GB", "en"),
        (" de ", "de"),
        ("nl", "nl"),
    ],
)
def test_language_tag_gives_iso_639_1_code(raw: str, expected: str) -> None:
    assert normalize_language(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "xx1", "n", "dutch", "nl-", "1nl", "nl BE"])
def test_unusable_language_gives_none(raw: str | None) -> None:
    assert normalize_language(raw) is None


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Jan Van den Berg", ("Jan", "Van den Berg")),
        ("  Zoë   Dupré ", ("Zoë", "Dupré")),
        ("Madonna", ("Madonna", None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_a_single_name_splits_into_first_word_and_the_rest(
    full: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert split_name(full) == expected
