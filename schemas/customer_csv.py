"""The customer CSV of contract section 6: the export's format and the import's template."""

from __future__ import annotations

from typing import Final

# The header line as a spreadsheet shows it.
HEADER_LINE: Final = (
    "customer_id,first_name,last_name,email,phone,language,newsletter_opt_in,tags,"
    "first_contact_at,last_contact_at,reservations,no_shows"
)
HEADER: Final = tuple(HEADER_LINE.split(","))


def template_csv() -> str:
    """The import template: the header and one example row."""
    example = ",An,Peeters,an.peeters@example.be,0470 12 34 56,nl,true,vip,2026-01-15,,,"
    return HEADER_LINE + "\n" + example + "\n"
