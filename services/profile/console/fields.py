"""The import's fields as staff read them (a file column can be mapped to one of them)."""

from __future__ import annotations

from services.profile.console.i18n import N_

FIELD_LABELS = {
    "customer_id": N_("Customer id"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "name": N_("Full name"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "language": N_("Language"),
    "newsletter_opt_in": N_("Newsletter"),
    "tags": N_("Tags"),
    "first_contact_at": N_("First contact"),
    "last_contact_at": N_("Last contact"),
    "reservations": N_("Reservations"),
    "no_shows": N_("No-shows"),
}
