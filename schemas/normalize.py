"""Normalisation of the identity fields: email and phone."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_LANGUAGE = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]{2,8})*$")


# Guests come back: the same raw strings recur, and parsing them is the costliest step of ingest.
@lru_cache(maxsize=65536)
def normalize_email(raw: str | None) -> str | None:
    """Return the trimmed, lower-cased address, or None when it is not a usable email."""
    if raw is None:
        return None
    candidate = raw.strip()
    if not candidate or len(candidate) > 254:
        return None
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.lower()


@lru_cache(maxsize=65536)
def normalize_phone(raw: str | None, region: str = "BE") -> str | None:
    """Return the number in E.164, national numbers read in ``region``; None when unusable."""
    if raw is None:
        return None
    candidate = raw.strip()
    if not candidate or len(candidate) > 40:
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
