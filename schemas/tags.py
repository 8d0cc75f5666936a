"""The built-in tag vocabulary, with nl / fr / en labels."""

from __future__ import annotations

import re
from typing import Final

MAX_TAGS_PER_CUSTOMER: Final = 9
TAG_PATTERN: Final = r"^[a-z][a-z0-9_]{0,31}$"  # a tag code: the one rule, used everywhere
TAG_CODE = re.compile(TAG_PATTERN)

BUILTIN_TAGS: Final[dict[str, dict[str, str]]] = {
    "friends_family": {
        "nl": "Vrienden & Familie",
        "fr": "Amis & Famille",
        "en": "Friends & Family",
    },
    "business": {"nl": "Zakelijk", "fr": "Business", "en": "Business"},
    "influencer": {"nl": "Influencer", "fr": "Influenceur", "en": "Influencer"},
    "local": {"nl": "Lokaal", "fr": "Local", "en": "Local"},
    "no_show": {"nl": "No-show", "fr": "No-show", "en": "No-show"},
    "problem": {"nl": "Probleemgeval", "fr": "Cas problématique", "en": "Problem case"},
    "regular": {"nl": "Regelmatig", "fr": "Habitué", "en": "Regular"},
    "vip": {"nl": "VIP", "fr": "VIP", "en": "VIP"},
}

# A reservation by a customer carrying one of these raises `customer.flagged_booking`.
FLAGGING_TAGS: Final = frozenset({"no_show", "problem"})
