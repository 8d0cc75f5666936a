"""A small, known customer list for the profile API tests."""

from __future__ import annotations

from typing import Any

from tests.support.builders import event

T = "brasserie-leopold"
OTHER = "chez-other"


def _person(first: str, last: str, language: str, **extra: Any) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "language": language, **extra}


def venue_events() -> list[dict[str, Any]]:
    """Four customers of T (ann, benoit, chris, dirk) and one of OTHER (eva).

    ann: nl, newsletter yes, 3 reservations, tag vip (import), contact 0..3 min
    benoit: fr, newsletter no, 1 reservation, 2 no-shows (auto no_show), contact 100..120
    chris: en, newsletter unknown, one form, contact 200
    dirk: nl, phone only, newsletter unknown, 1 reservation, contact 300
    eva (OTHER): a form by email, a reservation by phone, then one with both: one card made of
    two by an automatic merge (3a), so that OTHER has identifiers, merges and moved history
    """
    ann: dict[str, Any] = {"email": "ann.zeeman@example.be", "phone": "0470 11 11 11"}
    benoit: dict[str, Any] = {"email": "benoit.dubois@example.be", "phone": None}
    chris: dict[str, Any] = {"email": "chris.evans@example.com", "phone": None}
    dirk: dict[str, Any] = {"email": None, "phone": "+32 471 22 22 22"}
    return [
        event(**ann, at=0, contact=_person("Ann", "Zeeman", "nl", newsletter_opt_in=True)),
        event(**ann, at=1, contact=_person("Ann", "Zeeman", "nl")),
        event(**ann, at=2, contact=_person("Ann", "Zeeman", "nl")),
        event(
            "contact.imported", **ann, at=3, tags=["vip"], contact=_person("Ann", "Zeeman", "nl")
        ),
        event(**benoit, at=100, contact=_person("Benoit", "Dubois", "fr", newsletter_opt_in=False)),
        event("reservation.no_show", **benoit, at=110, contact=_person("Benoit", "Dubois", "fr")),
        event("reservation.no_show", **benoit, at=120, contact=_person("Benoit", "Dubois", "fr")),
        event(
            "form.submitted",
            **chris,
            at=200,
            subject="Allergies",
            message="My son Chris is allergic to nuts",
            contact=_person("Chris", "Evans", "en"),
        ),
        event(
            **dirk,
            at=300,
            notes="Dirk wants the window table",
            contact=_person("Dirk", "Aerts", "nl"),
        ),
        event(
            "form.submitted",
            tenant=OTHER,
            email="eva.other@example.be",
            phone=None,
            at=30,
            contact=_person("Eva", "Other", "en"),
        ),
        event(tenant=OTHER, email=None, phone="0472 33 33 33", at=40, reservation_id="R-0"),
        event(
            tenant=OTHER,
            email="eva.other@example.be",
            phone="0472 33 33 33",
            at=50,
            contact=_person("Eva", "Other", "en"),
        ),
    ]
