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

# A row error's code as staff read it (the API's English message stays beside it).
ERROR_LABELS = {
    "contact.missing": N_("No email and no phone"),
    "contact.placeholder": N_("A placeholder email or phone"),
    "customer_id.invalid": N_("Not a customer id"),
    "customer_id.mismatch": N_("The customer id belongs to another guest"),
    "customer_id.unknown": N_("Unknown customer id"),
    "date.future": N_("A date in the future"),
    "date.invalid": N_("Not a date"),
    "email.invalid": N_("Not a valid email address"),
    "language.invalid": N_("Unknown language"),
    "newsletter.invalid": N_("Not yes or no"),
    "phone.invalid": N_("Not a valid phone number"),
    "row.columns": N_("Wrong number of columns"),
    "row.duplicate": N_("The same guest again in this file"),
    "tags.too_many": N_("More than 9 tags"),
    "tags.unknown": N_("Unknown tag"),
    "value.invalid": N_("Not a valid value"),
    "value.too_long": N_("Too long"),
}
