"""Normalisation of what identifies and names a person: email, phone, language, a single name."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumber
from phonenumbers import phonenumberutil as pnu
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import ValidationResult

_LANGUAGE = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]{2,8})*$")


def _trimmed(raw: str | None, longest: int) -> str | None:
    """``raw`` without surrounding white space; None when that leaves nothing or too much."""
    candidate = raw.strip() if raw is not None else ""
    return candidate if candidate and len(candidate) <= longest else None


def split_name(full: str | None) -> tuple[str | None, str | None]:
    """A single ``name`` as first and last name: the first word, then the rest
    ("Jan Van den Berg" -> "Jan", "Van den Berg"). The one rule for events and imports."""
    head, _, tail = (full or "").strip().partition(" ")
    return head or None, tail.strip() or None


# Guests come back: the same raw strings recur, and parsing them is the costliest step of ingest.
# The cached functions take the quick path below (the libraries for anything but the plain
# spellings); a first-seen guest costs a regular expression instead of a full parse.
@lru_cache(maxsize=65536)
def normalize_email(raw: str | None) -> str | None:
    """Return the trimmed, lower-cased address, or None when it is not a usable email."""
    return normalize_email_quick(raw)


@lru_cache(maxsize=65536)
def normalize_phone(raw: str | None, region: str) -> str | None:
    """Return the number in E.164, national numbers read in ``region``; None when unusable."""
    return normalize_phone_quick(raw, region)


def _normalize_email(raw: str | None) -> str | None:
    """The library's answer (email-validator): what every short cut must equal."""
    if (candidate := _trimmed(raw, 254)) is None:
        return None
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.lower()


def _normalize_phone(raw: str | None, region: str) -> str | None:
    """The library's answer (phonenumbers): what every short cut must equal."""
    if (candidate := _trimmed(raw, 40)) is None:
        return None
    if candidate.startswith("00"):
        # 0032 470 ... is how many Belgians write an international number.
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_language(raw: str | None) -> str | None:
    """Return the ISO 639-1 code of a language tag (``nl-BE`` gives ``nl``), or None."""
    if raw is None:
        return None
    match = _LANGUAGE.match(raw.strip().lower())
    return match.group(1) if match else None


# -- the same results as the libraries, faster: ingest (through the caches above) and imports --
#
# Each function below gives exactly what the library gives (``_normalize_*``), for every input,
# without filling the caches (an import's distinct values would evict the guests who come back).
# The common spellings take a short cut past the libraries' handling of free text (checked
# against the libraries in tests/unit/test_normalize_quick.py); anything else goes the long way,
# through the libraries.

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# An ASCII dot-atom local part @ dot-separated labels of at most 63 characters, the last one
# ending with a letter: every such address is valid for email-validator (no DNS, no
# internationalisation) unless the domain holds "--" or is special-use, which go the long way.
_PLAIN_EMAIL = re.compile(
    rf"{_ATEXT}+(?:\.{_ATEXT}+)*@((?:{_LABEL}\.)+(?:[A-Za-z0-9][A-Za-z0-9-]{{0,61}})?[A-Za-z])"
)


def normalize_email_quick(raw: str | None) -> str | None:
    """:func:`normalize_email` without its cache; a plain ASCII address skips email-validator."""
    if (candidate := _trimmed(raw, 254)) is None:
        return None
    plain = _PLAIN_EMAIL.fullmatch(candidate)
    if plain is not None:
        domain = plain.group(1).lower()
        # Special-use domains (read each time: the list is settable) go the long way; so do
        # the few others that merely end with the same letters.
        special = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)
        if "--" not in domain and not domain.endswith(special):
            # email-validator keeps such a local part as is and lower-cases such a domain.
            return candidate.lower()
    return _normalize_email(raw)


# ASCII digits, a leading + (or 00), single spaces, dots, slashes or hyphens between digits.
_PLAIN_PHONE = re.compile(r"\+?[0-9]+(?:[ ./-][0-9]+)*")
_SEPARATORS = str.maketrans("", "", " ./-")
_SHORT_OR_LOCAL = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)
_NOT_A_NUMBER: Final = PhoneNumber()  # parse() raises: the number is unusable


def normalize_phone_quick(raw: str | None, region: str) -> str | None:
    """:func:`normalize_phone` without its cache; a plainly written number skips phonenumbers'
    parsing of free text (extensions, RFC 3966, letters, other scripts' digits) and goes
    straight to the steps of ``phonenumbers.parse`` that depend on the digits and the region's
    metadata (phonenumbers is pinned; tests/unit/test_normalize_quick.py compares both ways
    over every region)."""
    if (candidate := _trimmed(raw, 40)) is None:
        return None
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    upper = region.upper()
    digits = candidate.translate(_SEPARATORS)
    if (
        upper not in phonenumbers.SUPPORTED_REGIONS
        or len(digits.lstrip("+")) < 3
        or _PLAIN_PHONE.fullmatch(candidate) is None
    ):
        return _normalize_phone(raw, region)
    number = _parse_plain(digits, upper)
    if number is None:
        return _normalize_phone(raw, region)  # a case parse() treats specially: its answer
    if number is _NOT_A_NUMBER or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_plain(digits: str, region: str) -> PhoneNumber | None:
    """``phonenumbers.parse(digits, region)`` for ``+``? and ASCII digits, from its country
    code extraction on (its text steps before that leave such a string as it is); _NOT_A_NUMBER
    where parse() raises; None for the cases left to parse() itself."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    assert metadata is not None  # a supported region
    number = PhoneNumber()
    try:
        if digits[0] == "+":
            rest = digits[1:]  # stripped of its plus and "normalised" (already ASCII digits)
            if len(rest) <= pnu._MIN_LENGTH_FOR_NSN:
                return _NOT_A_NUMBER  # too short after the plus
            country_code, national = pnu._extract_country_code(rest)
            if country_code == 0:
                return None  # parse() tries again without the plus
            number.country_code = country_code
        elif digits.startswith(str(metadata.country_code)) or re.match(
            metadata.international_prefix or "NonMatch", digits
        ):  # an international prefix, or the region's country code: parse()'s way
            country_code, national = pnu._maybe_extract_country_code(
                digits, metadata, False, number
            )
        else:  # neither: a national number of the region
            country_code, national = 0, ""
    except NumberParseException:
        return None
    if country_code != 0:
        number_region = pnu.region_code_for_country_code(country_code)
        if number_region != region:
            found = PhoneMetadata.metadata_for_region_or_calling_code(country_code, number_region)
            assert found is not None  # the country calling code is valid
            metadata = found
    else:
        national = digits
        number.country_code = metadata.country_code
    if len(national) < pnu._MIN_LENGTH_FOR_NSN:
        return _NOT_A_NUMBER
    _, stripped, _ = pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if pnu._test_number_length(stripped, metadata) not in _SHORT_OR_LOCAL:
        national = stripped
    if len(national) > pnu._MAX_LENGTH_FOR_NSN:
        return _NOT_A_NUMBER
    pnu._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number
