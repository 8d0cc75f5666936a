"""Realistic, deterministic demo site events (Belgian venues and guests) and a Kafka producer."""

from __future__ import annotations

import asyncio
import json
import random
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

log = structlog.get_logger(__name__)

DEFAULT_START = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
VENUES = ("brasserie-leopold", "chez-marie", "de-gouden-lepel", "the-oak-room")
# Language weights (nl, fr, en) per venue, cycled for extra venues.
VENUE_LANGS = ((45, 40, 15), (25, 60, 15), (70, 15, 15), (30, 30, 40))
FIRST = {
    "nl": "An Jan Pieter Sofie Lotte Wouter Els Bart Ine Koen Marieke Joris Femke Thijs Leen "
    "Arne Griet Stijn Hanne Wim",
    "fr": "Hélène Françoise Amélie Julien Mathieu Céline Jérôme Aurélie Benoît Chloé Léa "
    "Thibault Maëlle François Noémie Gaëtan Sébastien Élodie Renée Luc",
    "en": "Emma Oliver James Charlotte Harry Amelia George Sophie Jack Emily Thomas Grace "
    "William Chloe Daniel Olivia Liam Hannah",
}
LAST = {
    "nl": "Peeters|Janssens|Maes|Jacobs|Mertens|Willems|Claes|Goossens|Wouters|De Smet|"
    "Van den Berg|Vermeulen|De Vos|Van Damme|D'Hondt|Verstraeten|Dierickx|Van de Velde|Coppens",
    "fr": "Dubois|Lambert|Dupont|Martin|Lejeune|Leroy|Renard|Simon|Laurent|Lefèvre|Fontaine|"
    "Delvaux|Gérard|Collignon|Deschamps|Rousseau|Noël|Hubert|Van der Straeten",
    "en": "Smith|Jones|Taylor|Brown|Williams|Wilson|Johnson|Davies|Robinson|Wright|Thompson|"
    "Evans|Walker|O'Brien|Hughes|Clarke|Murphy|Edwards",
}
LANG_TAGS = {"nl": ("nl-BE", "nl", "NL"), "fr": ("fr-BE", "fr"), "en": ("en", "en-GB")}
DOMAINS = (
    "gmail.com",
    "telenet.be",
    "skynet.be",
    "proximus.be",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "yahoo.fr",
    "live.be",
    "scarlet.be",
    "protonmail.com",
)
MOBILE = (*range(470, 480), *range(484, 500))
LANDLINE = {"2": "2345678", "3": "2345678", "4": "23", "9": "234"}  # area: first digits
NOTES = (
    "window table",
    "allergie: noten",
    "birthday",
    "verjaardag",
    "anniversaire",
    "terrasse si possible",
    "kinderstoel nodig",
    "gluten free",
    "allergie: lactose",
    "vegetarisch",
    "late arrival ~21h",
    "rustig tafeltje aub",
)
# What a host types when a guest booking by phone will not give an address (contract 3a: junk,
# never identifies or links); the event must route by its phone.
JUNK_EMAILS = (
    "noemail@gmail.com",
    "test@test.com",
    "geen@email.be",
    "NoEmail@hotmail.com",
    "a@a.com",
    "nomail@telenet.be",
)
REASONS = ("ziek", "malade", "change of plans", "weather", "datum vergist")
SUBJECTS = (
    "Vraag over groepsreservatie",
    "Privatisation pour un anniversaire",
    "Christmas party for 20",
    "Cadeaubon",
    "Allergieën",
    "Horaires des fêtes",
)
MESSAGES = (
    "Kunnen we met 14 personen komen op een zaterdag?",
    "Est-ce possible de réserver la salle du fond ?",
    "Do you have a set menu for groups?",
    "Graag een offerte voor een bedrijfsfeest.",
)


@dataclass(frozen=True, slots=True)
class DemoRecord:
    """One Kafka record: tenant key, JSON value, and whether ingest should accept it."""

    key: bytes
    value: bytes
    valid: bool


@dataclass(slots=True, eq=False)  # each guest is one person: compared and hashed by identity
class _Guest:
    lang: str
    first: str
    last: str
    email: str | None
    phone: str | None  # national significant number, e.g. "470123456"
    email_style: int
    phone_style: int
    weight: float
    offender: bool = False
    opt_in: bool | None = None
    # Identity (contract 3a), decided once the guest's events are known (see _identities):
    switch: int | None = None  # phone-first: their first `switch` events carry the phone only
    family: bool = False  # shares one phone with another guest of the venue (other email)


def _offset(at: datetime) -> timezone:
    """Europe/Brussels-like offset: +02:00 between the last Sundays of March and October."""

    def last_sunday(month: int) -> datetime:
        day = datetime(at.year, month, 31, 1, tzinfo=UTC)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    summer = last_sunday(3) <= at.astimezone(UTC) < last_sunday(10)
    return timezone(timedelta(hours=2 if summer else 1))


def _stamp(at: datetime) -> str:
    return at.astimezone(_offset(at)).isoformat(timespec="seconds")


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def _guest(rng: random.Random, weights: tuple[int, ...], used: set[str]) -> _Guest:
    lang = rng.choices(("nl", "fr", "en"), weights)[0]
    first, last = rng.choice(FIRST[lang].split()), rng.choice(LAST[lang].split("|"))
    kind = rng.random()
    email: str | None = None
    if kind >= 0.08:  # the rest have an email; 8 % phone only
        f, la = _ascii(first), _ascii(last)
        tail = rng.randint(1, 99)
        local = rng.choice((f"{f}.{la}", f"{f[0]}{la}", f"{f}{la}", f"{f}_{la}{tail}"))
        email = f"{local}@{rng.choice(DOMAINS)}"
        while email in used:
            email = email.replace("@", f"{rng.randint(0, 9)}@")
        used.add(email)
    phone: str | None = None
    if kind < 0.92:  # 8 % email only
        if rng.random() < 0.8:
            phone = f"{rng.choice(MOBILE)}{rng.randint(0, 999999):06d}"
        else:
            area = rng.choice(tuple(LANDLINE))
            phone = f"{area}{rng.choice(LANDLINE[area])}{rng.randint(0, 999999):06d}"
    return _Guest(
        lang,
        first,
        last,
        email,
        phone,
        rng.choices((0, 1, 2, 3), (70, 15, 10, 5))[0],
        rng.randint(0, 5),
        rng.choice((1.0, 1.0, 1.0, 2.0, 3.0, 6.0)),
    )


def phone_text(n: str, style: int) -> str:
    """A Belgian national number ``n`` (9 digits mobile, 8 landline) written as guests do."""
    if len(n) == 9:  # mobile
        p = (n[:3], n[3:5], n[5:7], n[7:])
        forms = (
            f"0{p[0]} {p[1]} {p[2]} {p[3]}",
            f"+32 {p[0]} {p[1]} {p[2]} {p[3]}",
            f"0032{n}",
            f"0{p[0]}/{p[1]}.{p[2]}.{p[3]}",
            f"0{n}",
            f"+32{n}",
        )
    else:  # landline: one-digit area + 7 digits
        p = (n[0], n[1:4], n[4:6], n[6:])
        forms = (
            f"0{p[0]} {p[1]} {p[2]} {p[3]}",
            f"0{p[0]}/{p[1]}.{p[2]}.{p[3]}",
            f"+32 {p[0]} {p[1]} {p[2]} {p[3]}",
            f"0032 {p[0]} {p[1]} {p[2]} {p[3]}",
            f"0{n}",
            f"+32{n}",
        )
    return forms[style % len(forms)]


def _email_text(email: str, style: int) -> str:
    if style == 1:
        local, _, domain = email.partition("@")
        return f"{'.'.join(w.capitalize() for w in local.split('.'))}@{domain.capitalize()}"
    return (email, email, f"  {email} ", email.upper())[style]


def _contact(rng: random.Random, g: _Guest, *, ask: float = 0.0) -> dict[str, Any]:
    c: dict[str, Any] = {}
    r = rng.random()
    if r < 0.6:
        c |= {"first_name": g.first, "last_name": g.last}
    elif r < 0.9:
        c["name"] = f"{g.first} {g.last}"
    else:
        c["first_name"] = g.first
    if g.email is not None:
        style = g.email_style if rng.random() < 0.85 else rng.randint(0, 3)
        c["email"] = _email_text(g.email, style)
    if g.phone is not None and (g.email is None or rng.random() < 0.8):
        style = g.phone_style if rng.random() < 0.7 else rng.randint(0, 5)
        c["phone"] = phone_text(g.phone, style)
    if rng.random() < 0.7:
        c["language"] = rng.choice(LANG_TAGS[g.lang])
    if rng.random() < ask:
        if g.opt_in is None:
            g.opt_in = rng.random() < 0.45
        elif rng.random() < 0.1:
            g.opt_in = not g.opt_in  # changed their mind
        c["newsletter_opt_in"] = g.opt_in
    return c


@dataclass(slots=True, eq=False)
class _Event:
    """One emitted event and the guest its contact describes."""

    at: datetime
    tenant: str
    doc: dict[str, Any]
    guest: _Guest


class _Builder:
    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng, self.start = rng, start
        self.out: list[_Event] = []
        self.res_ids: set[tuple[str, str]] = set()

    def emit(
        self, at: datetime, tenant: str, kind: str, source: str, data: dict[str, Any], g: _Guest
    ) -> None:
        if at >= self.start:
            return  # has not happened yet
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        doc = {
            "event_id": event_id,
            "type": kind,
            "schema_version": 1,
            "tenant_id": tenant,
            "occurred_at": _stamp(at),
            "source": source,
            "data": data,
        }
        self.out.append(_Event(at, tenant, doc, g))

    def reservation(self, tenant: str, g: _Guest, at: datetime, outcome: str | None = None) -> None:
        rng = self.rng
        rid = f"R-{rng.randint(10000, 99999)}"
        while (tenant, rid) in self.res_ids:
            rid = f"R-{rng.randint(10000, 99999)}"
        self.res_ids.add((tenant, rid))
        day = (at + timedelta(days=rng.randint(0, 14))).date()
        hour, minute = rng.choice(
            ((12, 0), (12, 30), (13, 0), (18, 30), (19, 0), (19, 30), (20, 0), (20, 30), (21, 0))
        )
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        starts = datetime(day.year, day.month, day.day, hour, minute, tzinfo=_offset(noon))
        starts = max(starts, at + timedelta(hours=2))
        size = rng.choices(range(1, 9), (4, 30, 12, 25, 8, 10, 3, 3))[0]
        data: dict[str, Any] = {
            "reservation_id": rid,
            "starts_at": _stamp(starts),
            "party_size": size,
        }
        if rng.random() < 0.3:
            data["notes"] = rng.choice(NOTES)
        self.emit(
            at,
            tenant,
            "reservation.created",
            "booking-widget",
            {**data, "contact": _contact(rng, g, ask=0.5)},
            g,
        )
        if rng.random() < 0.12:
            when = at + (starts - at) * rng.uniform(0.1, 0.8)
            data = {**data, "party_size": max(1, min(8, size + rng.choice((-1, 1, 2))))}
            self.emit(
                when,
                tenant,
                "reservation.updated",
                "booking-widget",
                {**data, "contact": _contact(rng, g)},
                g,
            )
        if outcome is None:
            p = rng.random()
            outcome = (
                "cancelled"
                if p < 0.12
                else "no_show"
                if p < (0.7 if g.offender else 0.17)
                else "completed"
            )
        ref: dict[str, Any] = {"reservation_id": rid, "contact": _contact(rng, g)}
        if outcome == "cancelled":
            if rng.random() < 0.5:
                ref["reason"] = rng.choice(REASONS)
            when = at + (starts - at) * rng.uniform(0.2, 0.95)
            self.emit(when, tenant, "reservation.cancelled", "booking-widget", ref, g)
        elif outcome == "no_show":
            self.emit(
                starts + timedelta(minutes=rng.randint(30, 60)),
                tenant,
                "reservation.no_show",
                "booking-widget",
                ref,
                g,
            )
        else:
            self.emit(
                starts + timedelta(minutes=rng.randint(80, 180)),
                tenant,
                "reservation.completed",
                "booking-widget",
                ref,
                g,
            )

    def other(self, tenant: str, g: _Guest, at: datetime) -> None:
        rng = self.rng
        if rng.random() < 0.45:
            data: dict[str, Any] = {"form_id": rng.choice(("contact", "events"))}
            if rng.random() < 0.8:
                data |= {"subject": rng.choice(SUBJECTS), "message": rng.choice(MESSAGES)}
            self.emit(
                at,
                tenant,
                "form.submitted",
                "website-form",
                {**data, "contact": _contact(rng, g, ask=0.4)},
                g,
            )
        elif rng.random() < 0.5:
            data = {"integration": "lightspeed-pos", "external_id": f"LS-{rng.randint(1, 99999)}"}
            self.emit(
                at,
                tenant,
                "integration.contact",
                "lightspeed-pos",
                {**data, "contact": _contact(rng, g)},
                g,
            )
        else:
            data = {"integration": "mailchimp", "external_id": f"{rng.getrandbits(40):010x}"}
            self.emit(
                at,
                tenant,
                "integration.contact",
                "mailchimp",
                {**data, "contact": _contact(rng, g, ask=1.0)},
                g,
            )


def _written_phone(rng: random.Random, g: _Guest) -> str:
    assert g.phone is not None
    return phone_text(g.phone, g.phone_style if rng.random() < 0.7 else rng.randint(0, 5))


def _identities(
    rng: random.Random,
    events: list[_Event],
    crowd: dict[str, list[_Guest]],
    comebacks: dict[_Guest, _Event],
    phone_first: float,
) -> None:
    """Give the events contract 3a's cases by rewriting their contacts in place (the number of
    events stays; only the early email-only events below change guest and time):

    - per venue one or two **family phones**: two guests with their own emails share one phone,
      and every event of theirs carries both (a duplicate suggestion, never a merge);
    - **phone-first guests**, ``phone_first`` of the guests with an email and a phone who have
      events: their first events (a booking taken by phone, the POS) carry the phone only, the
      later ones (the online widget) email and phone. A third of them also send an email-only
      ``form.submitted`` before that switch, so an email card and a phone card exist when an
      event links them (an automatic merge). Per venue, one repeat no-show (when one fits) is
      such a guest whose switch is the booking after the no-shows: the flagged-booking alert of a
      merged card;
    - per venue one or two events of a phone-only guest whose email is a **junk placeholder**
      (``JUNK_EMAILS``): they route by the phone.
    """
    mine: dict[_Guest, list[_Event]] = {}
    for e in sorted(events, key=lambda e: e.at):
        mine.setdefault(e.guest, []).append(e)
    tenants = list(crowd)
    for tenant in tenants:
        both = [g for g in crowd[tenant] if g.email and g.phone and not g.offender and g in mine]
        pairs = min(1 + (rng.random() < 0.5), len(both) // 2)
        chosen = rng.sample(both, 2 * pairs)
        for a, b in zip(chosen[::2], chosen[1::2], strict=True):
            b.phone, a.family, b.family = a.phone, True, True

    seen = [g for t in tenants for g in crowd[t] if g.email and g.phone and g in mine]
    pool = [g for g in seen if not g.family and len(mine[g]) >= 2]
    quota = min(round(phone_first * len(seen)), len(pool))
    offenders: list[_Guest] = []
    for tenant in tenants:  # no-shows by phone, then the booking online
        if len(offenders) == quota:
            break
        for g in (g for g in crowd[tenant] if g.offender and g in pool):
            comeback, evs = comebacks.get(g), mine[g]
            no_shows = [e.at for e in evs if e.doc["type"] == "reservation.no_show"]
            if comeback in evs and no_shows and max(no_shows) < comeback.at:
                g.switch = evs.index(comeback)
                offenders.append(g)
                break
    rest = rng.sample([g for g in pool if g.switch is None], quota - len(offenders))
    for g in rest:
        g.switch = rng.randint(1, len(mine[g]) - 1)

    early = offenders + rng.sample(rest, max(0, round(quota / 3) - len(offenders)))
    forms: dict[str, list[_Event]] = {t: [] for t in tenants}
    for e in events:
        if e.doc["type"] == "form.submitted":
            forms[e.tenant].append(e)
    for g in early:  # a form.submitted of an ordinary guest becomes theirs, email only
        ordinary = (e for e in forms[mine[g][0].tenant] if e.guest.email and e.guest.switch is None)
        donors = [e for e in ordinary if not e.guest.family and not e.guest.offender]
        if not donors:
            continue
        donor, switch = rng.choice(donors), mine[g][g.switch or 0].at
        forms[donor.tenant].remove(donor)
        donor.at = switch - (switch - mine[g][0].at + timedelta(days=14)) * rng.uniform(0.02, 1)
        donor.guest = g
        donor.doc["occurred_at"] = _stamp(donor.at)
        contact = _contact(rng, g, ask=0.4)
        contact.pop("phone", None)
        donor.doc["data"]["contact"] = contact

    for g, evs in mine.items():
        for i, e in enumerate(evs):
            contact = e.doc["data"]["contact"]
            if g.family:
                contact["phone"] = _written_phone(rng, g)
            elif g.switch is not None:
                if i < g.switch:
                    contact.pop("email", None)
                contact.setdefault("phone", _written_phone(rng, g))

    for tenant in tenants:
        spare = [e for g in crowd[tenant] if g.email is None and g.phone for e in mine.get(g, [])]
        if not spare:
            spare = [e for g in crowd[tenant] if g.switch for e in mine[g][: g.switch]]
        for e in rng.sample(spare, min(len(spare), 1 + (rng.random() < 0.5))):
            e.doc["data"]["contact"]["email"] = rng.choice(JUNK_EMAILS)


def _invalid(rng: random.Random, kind: str, tenant: str, g: _Guest, at: datetime) -> DemoRecord:
    if kind == "not_json":
        return DemoRecord(tenant.encode(), b"{oops", False)
    contact = _contact(rng, g)
    data: dict[str, Any] = {
        "reservation_id": f"R-{rng.randint(10000, 99999)}",
        "party_size": 4,
        "starts_at": _stamp(at + timedelta(days=2)),
        "contact": contact,
    }
    doc: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": "reservation.created",
        "schema_version": 1,
        "tenant_id": tenant,
        "occurred_at": _stamp(at),
        "source": "booking-widget",
        "data": data,
    }
    if kind == "unknown_type":
        doc["type"] = "reservation.teleported"
    elif kind == "party_size":
        data["party_size"] = "four"
    elif kind == "naive_time":
        doc["occurred_at"] = doc["occurred_at"][:19]
    elif kind == "bad_tenant":
        doc["tenant_id"] = tenant = tenant.replace("-", " ").title() + "!"
    elif kind == "no_identity":
        contact.pop("phone", None)
        contact["email"] = "not-an-email"
    elif kind == "bad_phone_only":
        contact.pop("email", None)
        contact["phone"] = "12 34"
    elif kind == "oversized":
        data["notes"] = "x" * (70 * 1024)
    return DemoRecord(tenant.encode(), json.dumps(doc, ensure_ascii=False).encode(), False)


def generate(
    *,
    seed: int,
    venues: int = 4,
    guests_per_venue: int = 60,
    events: int = 1500,
    start: datetime | None = None,
    invalid_ratio: float = 0.02,
    phone_first: float = 0.25,
) -> list[DemoRecord]:
    """Return ``events`` demo records in arrival order; the same seed gives the same list.

    ``phone_first``: the share of the guests with an email and a phone whose first events carry
    their phone only (see ``_identities`` for them and the other identity cases of contract 3a).
    """
    if not 0.0 <= phone_first <= 1.0:
        raise ValueError(f"phone_first must be between 0 and 1, not {phone_first}")
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    start = start or DEFAULT_START
    tenants = [VENUES[i] if i < len(VENUES) else f"venue-{i + 1:03d}" for i in range(venues)]
    crowd: dict[str, list[_Guest]] = {}
    for i, tenant in enumerate(tenants):
        used: set[str] = set()
        crowd[tenant] = [_guest(rng, VENUE_LANGS[i % 4], used) for _ in range(guests_per_venue)]
        for g in rng.sample(crowd[tenant], min(2, guests_per_venue)):
            g.offender, g.weight = True, 3.0
    n_invalid = min(events, round(events * invalid_ratio))
    n_dup = min(events - n_invalid, events // 100)
    b = _Builder(rng, start)
    day = timedelta(days=1)
    comebacks: dict[_Guest, _Event] = {}
    for tenant in tenants:  # repeat no-show offenders: two no-shows, then a new booking
        for g in (g for g in crowd[tenant] if g.offender):
            b.reservation(tenant, g, start - rng.uniform(80, 60) * day, "no_show")
            b.reservation(tenant, g, start - rng.uniform(50, 30) * day, "no_show")
            mark = len(b.out)
            b.reservation(tenant, g, start - rng.uniform(20, 4) * day, "completed")
            if len(b.out) > mark:
                comebacks[g] = b.out[mark]
    while len(b.out) < events - n_invalid - n_dup:
        tenant = rng.choice(tenants)
        g = rng.choices(crowd[tenant], [x.weight for x in crowd[tenant]])[0]
        at = start - rng.uniform(1 / 24, 90) * day
        (b.reservation if rng.random() < 0.7 else b.other)(tenant, g, at)
    kept = b.out[: events - n_invalid - n_dup]
    # Its own generator: the identity cases leave the rest of the stream as it was without them.
    _identities(random.Random(f"identity:{seed}"), kept, crowd, comebacks, phone_first)  # noqa: S311
    base = sorted(kept, key=lambda e: e.at)
    order = sorted(
        range(len(base)), key=lambda i: i + (rng.randint(3, 40) if rng.random() < 0.05 else 0)
    )  # some arrive late
    records = [
        DemoRecord(
            base[i].tenant.encode(), json.dumps(base[i].doc, ensure_ascii=False).encode(), True
        )
        for i in order
    ]
    for _ in range(n_dup):  # the same record sent again, later
        i = rng.randrange(len(records))
        records.insert(min(len(records), i + rng.randint(5, 300)), records[i])
    kinds = [
        "not_json",
        "unknown_type",
        "party_size",
        "naive_time",
        "bad_tenant",
        "no_identity",
        "bad_phone_only",
    ]
    for j in range(n_invalid):
        kind = "oversized" if j == 0 and events >= 1000 else kinds[j % len(kinds)]
        tenant = rng.choice(tenants)
        rec = _invalid(
            rng, kind, tenant, rng.choice(crowd[tenant]), start - rng.uniform(1, 90) * day
        )
        records.insert(rng.randint(0, len(records)), rec)
    return records


def unique_valid_event_ids(records: list[DemoRecord]) -> set[tuple[str, str]]:
    """The distinct ``(tenant_id, event_id)`` pairs of the valid records."""
    docs = (json.loads(r.value) for r in records if r.valid)
    return {(d["tenant_id"], d["event_id"]) for d in docs}


async def stream(
    bootstrap: str, topic: str, records: list[DemoRecord], *, rate: float | None = None
) -> int:
    """Produce the records to ``topic`` (at ``rate`` records/s when given); return the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False
    )
    await producer.start()
    sent = 0
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        pending: list[asyncio.Future[Any]] = []
        for i, record in enumerate(records):
            if rate is not None:
                delay = began + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append(await producer.send(topic, key=record.key, value=record.value))
            sent += 1
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    log.info("demo.streamed", topic=topic, records=sent)
    return sent
