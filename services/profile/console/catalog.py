"""The console's message ids, extracted with Babel from the templates and the page modules, and
``python -m services.profile.console.catalog`` to bring the .po files up to date."""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from services.profile.console.i18n import HERE, LANGUAGES, LOCALES, catalog_path

METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def messages() -> Catalog:
    """Every message of the console (ids only)."""
    catalog = Catalog(domain="console")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(HERE), METHODS, OPTIONS, KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update() -> None:
    """Add new ids to each language's .po file (translations kept; English fills itself)."""
    template = messages()
    for language in LANGUAGES:
        path = catalog_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as f:
                catalog = read_po(f, locale=LOCALES[language], domain="console")
        else:
            catalog = Catalog(locale=LOCALES[language], domain="console")
        catalog.update(template, no_fuzzy_matching=True)
        if language == "en":
            for m in catalog:
                if m.id and not m.string:
                    m.string = m.id
        with path.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, sort_output=False)


if __name__ == "__main__":
    update()
