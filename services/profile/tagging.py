"""Tag vocabulary, labels and the rule for staff replacing a customer's tags (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.tags import BUILTIN_TAGS, MAX_TAGS_PER_CUSTOMER

LANGUAGES = ("nl", "fr", "en")
DEFAULT_LANGUAGE = "en"


def pick_language(lang: str | None, accept_language: str | None) -> str:
    """``?lang=`` if supported, else the first supported language of Accept-Language, else en."""
    if lang and lang.lower()[:2] in LANGUAGES:
        return lang.lower()[:2]
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if code[:2].lower() in LANGUAGES and quality > 0:
            ranked.append((-quality, index, code[:2].lower()))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def vocabulary(custom: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Every tag a tenant may use: built-ins, then its custom tags, code -> labels."""
    return {**BUILTIN_TAGS, **{k: v for k, v in custom.items() if k not in BUILTIN_TAGS}}


def label(vocab: dict[str, dict[str, str]], code: str, language: str) -> str:
    """A tag's label in ``language``; the code itself for a tag no longer in the vocabulary."""
    labels = vocab.get(code)
    if labels is None:
        return code
    return labels.get(language) or labels.get(DEFAULT_LANGUAGE) or code


class TagError(ValueError):
    """A desired tag set that cannot be applied."""


@dataclass(frozen=True, slots=True)
class TagUpdate:
    """The new tag columns of a customer."""

    tags: list[str]
    tag_meta: dict[str, Any]
    removed_tags: list[str]


def replace_tags(
    desired: list[str],
    tag_meta: dict[str, Any],
    removed_tags: list[str],
    known: set[str],
    now: datetime,
) -> TagUpdate:
    """Staff set the full tag list: listed tags keep their origin and date, new ones are manual.

    An auto tag left out is remembered in ``removed_tags`` so ingest never re-adds it; a tag
    staff add back is forgotten from ``removed_tags``.
    """
    wanted = list(dict.fromkeys(desired))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise TagError(f"unknown tag(s): {', '.join(unknown)}")
    if len(wanted) > MAX_TAGS_PER_CUSTOMER:
        raise TagError(f"at most {MAX_TAGS_PER_CUSTOMER} tags per customer")
    meta = {
        code: tag_meta.get(code) or {"origin": "manual", "added_at": now.isoformat()}
        for code in wanted
    }
    dropped_auto = {
        code for code, m in tag_meta.items() if code not in meta and m.get("origin") == "auto"
    }
    removed = sorted((set(removed_tags) | dropped_auto) - set(wanted))
    return TagUpdate(wanted, meta, removed)
