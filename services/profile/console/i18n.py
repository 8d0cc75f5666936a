"""The console's languages: Babel message catalogs (.po, read at start-up), the Jinja2
environment with the i18n extension, and dates and numbers as a Belgian user reads them."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

LANGUAGES = ("nl", "fr", "en")
DEFAULT = "nl"
LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_BE"}
NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English"}
ZONE = ZoneInfo("Europe/Brussels")
HERE = Path(__file__).parent
DOMAIN = "console"


def catalog_path(language: str) -> Path:
    """The .po file of ``language``."""
    return HERE / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The gettext translations of ``language``, compiled in memory from its .po file."""
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=LOCALES[language], domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # gettext's binary form, in memory only
    compiled.seek(0)
    result = Translations(compiled, domain=DOMAIN)
    return result


def pick(value: str | None) -> str:
    """A supported language; Dutch otherwise."""
    return value if value in LANGUAGES else DEFAULT


def when(value: datetime | None, language: str) -> str:
    """A date and time in Brussels time, as a Belgian user of ``language`` writes it."""
    if value is None:
        return "—"
    return format_datetime(value, "medium", tzinfo=ZONE, locale=LOCALES[language])


def day(value: datetime | None, language: str) -> str:
    """A date, in Brussels, as a Belgian user of ``language`` writes it."""
    if value is None:
        return "—"
    return _day(value.astimezone(ZONE).date(), language)


# A list page formats a date and a number on each of its 50 rows; Babel takes ~50 µs for each
# (parsing the locale every time), and the rows share most values: both are remembered.
@lru_cache(maxsize=4096)
def _day(value: date, language: str) -> str:
    return format_date(value, "medium", locale=_locale(language))


@lru_cache(maxsize=4096)
def number(value: int | float | None, language: str) -> str:
    """A number with the Belgian digit grouping of ``language``."""
    return "—" if value is None else format_decimal(value, locale=_locale(language))


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(LOCALES[language])


@cache
def environment() -> Environment:
    """The templates' environment: autoescaped, with the i18n extension (new-style gettext)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    return env


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs; translated later, where it is shown."""
    return message
