"""The ingest use case: a batch of valid events routed to their cards (contract 3a) and folded
into them, in one transaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.alerts import Alert, MergeAlert
from schemas.events import SiteEvent
from services.common.suppression import suppression_hashes
from services.domain.fold import (
    ConsentStatement,
    Customer,
    HistoryEntry,
    Identity,
    apply,
    new_customer,
)
from services.domain.merge import Merged, merge, merge_alert, staff_tags
from services.domain.routing import CardIdentifiers, route, usable_identity
from services.ingest.ports import (
    Changes,
    Held,
    IngestStore,
    Suggestion,
    TenantConfig,
    Tie,
)


@dataclass(slots=True)
class BatchReport:
    """What happened to each event of a batch."""

    applied: int = 0
    duplicates: int = 0
    suppressed: int = 0
    created: int = 0
    merged: int = 0
    unidentifiable: list[int] = field(default_factory=list)  # indexes into the batch
    alerts: list[Alert] = field(default_factory=list)


def suppression_keys(tenant_id: str, identity: Identity, secret: str) -> list[tuple[str, bytes]]:
    """The (tenant, keyed hash) pairs an erasure of this identity would have recorded."""
    hashes = suppression_hashes(
        secret, email=identity.email, phone=identity.phone, identity_key=identity.key
    )
    return [(tenant_id, h) for h in hashes]


async def process_batch(
    store: IngestStore,
    events: Sequence[SiteEvent],
    *,
    secret: str,
    new_id: Callable[[], UUID] = uuid.uuid4,
) -> BatchReport:
    """Apply a batch exactly once: duplicates, replays and suppressed events change nothing.

    Event ids are looked up in the ledger first, so a redelivered event costs its share of
    one read and nothing else; only the new ones are identified, hashed, claimed and folded.
    """
    report = BatchReport()
    configs = await store.tenants({e.tenant_id for e in events})
    unique: dict[tuple[str, UUID], int] = {}
    for index, event in enumerate(events):
        key = (event.tenant_id, event.event_id)
        if key in unique:
            report.duplicates += 1
        else:
            unique[key] = index

    async with store.transaction():
        await store.lock({t for t, _ in unique})
        known = await store.known(list(unique))
        report.duplicates += len(known)
        work: list[tuple[SiteEvent, Identity]] = []
        for key, index in unique.items():
            if key in known:
                continue
            event = events[index]
            config = configs[event.tenant_id]
            identity = usable_identity(event.data.contact, config.region, config.blocked)
            if identity is None:
                report.unidentifiable.append(index)
            else:
                work.append((event, identity))
        if not work:
            return report
        erased = await _erased(store, work, secret)
        claimed = await store.claim(
            [
                (e.tenant_id, e.event_id, "suppressed" if erased and erased[n] else "applied")
                for n, (e, _) in enumerate(work)
            ]
        )
        fresh = []
        for n, item in enumerate(work):
            if (item[0].tenant_id, item[0].event_id) not in claimed:
                report.duplicates += 1  # pragma: no cover - the venue lock makes ``known`` exact
            elif erased and erased[n]:
                report.suppressed += 1
            else:
                fresh.append(item)
        if not fresh:
            return report

        held = await store.holders(
            {(e.tenant_id, i) for e, identity in fresh for i in identity.identifiers}
        )
        venues = {t: _Venue(t, configs[t]) for t in {e.tenant_id for e, _ in fresh}}
        for h in held:
            venues[h.customer.tenant_id].add(h)
        history = []
        for event, identity in fresh:
            venue = venues[event.tenant_id]
            entry, consent_statement = venue.apply(event, identity, new_id, report)
            history.append((venue, entry, consent_statement))
        changes = Changes(customers=[], history=[], consent=[], alerts=report.alerts)
        for venue, entry, statement in history:
            final = venue.final(entry.customer_id)
            if final != entry.customer_id:
                entry = dataclasses.replace(entry, customer_id=final)
            changes.history.append((venue.tenant_id, entry))
            if statement is not None:
                changes.consent.append((venue.tenant_id, final, statement))
        for venue in venues.values():
            venue.collect(changes)
        await store.save(changes)
    report.applied = len(fresh)
    return report


async def _erased(
    store: IngestStore, work: list[tuple[SiteEvent, Identity]], secret: str
) -> list[bool] | None:
    """For each event, whether it is about a guest erased after it happened; None: none is."""
    event_keys = [suppression_keys(e.tenant_id, i, secret) for e, i in work]
    erased = await store.suppressions({k for ks in event_keys for k in ks})
    if not erased:
        return None
    return [_is_suppressed(e, ks, erased) for (e, _), ks in zip(work, event_keys, strict=True)]


class _Venue:
    """One venue's cards as the batch knows them: the stored ones holding its identifiers, the
    ones it creates, the merges it makes."""

    def __init__(self, tenant_id: str, config: TenantConfig):
        self.tenant_id = tenant_id
        self.config = config
        self.cards: dict[UUID, Customer] = {}
        # each card's identifiers as routing sees them, kept split into emails and phones (the
        # view shares these dicts, so a tie shows at once)
        self.emails: dict[UUID, dict[str, datetime]] = {}
        self.phones: dict[UUID, dict[str, datetime]] = {}
        self.views: dict[UUID, CardIdentifiers] = {}
        self.holders: defaultdict[str, set[UUID]] = defaultdict(set)
        self.into: dict[UUID, UUID] = {}  # absorbed card -> the card it went into
        self.stored: dict[UUID, list[UUID]] = {}  # stored cards whose rows a card now holds
        self.batch_events: defaultdict[UUID, list[UUID]] = defaultdict(list)
        self.touched: set[UUID] = set()
        self.ties: dict[tuple[str, UUID], Tie] = {}
        self.merges: list[Merged] = []
        self.suggestions: list[Suggestion] = []

    def add(self, held: Held) -> None:
        """A stored card."""
        c = held.customer
        self.cards[c.id] = c
        self._view(c.id, held.apart, held.identifiers.items())
        self.stored[c.id] = [c.id]
        for value in held.identifiers:
            self.holders[value].add(c.id)

    def _view(
        self,
        card: UUID,
        apart: frozenset[UUID],
        identifiers: Iterable[tuple[str, datetime]] = (),
    ) -> None:
        emails, phones = self.emails.setdefault(card, {}), self.phones.setdefault(card, {})
        for value, at in identifiers:
            (emails if "@" in value else phones)[value] = at
        self.views[card] = CardIdentifiers(card, emails, phones, apart)

    def final(self, card: UUID) -> UUID:
        """The card that ``card`` lives on in, once the batch's merges are done."""
        while card in self.into:
            card = self.into[card]
        return card

    def apply(
        self, event: SiteEvent, identity: Identity, new_id: Callable[[], UUID], report: BatchReport
    ) -> tuple[HistoryEntry, ConsentStatement | None]:
        """Route the event (3a), merge what it links, fold it into its card."""
        r = route(
            identity.email, identity.phone, self._candidates(identity), blocked=self.config.blocked
        )
        if r is None:  # pragma: no cover - process_batch dead-letters these before
            raise ValueError("an event without a usable identifier reached routing")
        target = r.card
        if target is None:
            card = new_customer(self.tenant_id, identity, new_id())
            target = card.id
            self.cards[target], self.stored[target] = card, []
            self._view(target, frozenset())
            report.created += 1
        for absorbed in r.absorb:
            alert = self._merge(absorbed, target, event, new_id)
            if alert is not None:
                report.alerts.append(alert)
            report.merged += 1
        outcome = apply(
            self.cards[target], event, identity, regular_threshold=self.config.regular_threshold
        )
        self.cards[target] = outcome.customer
        self.touched.add(target)
        self.batch_events[target].append(event.event_id)
        for value in identity.identifiers:
            self._tie(target, value, event)
        if r.suggest is not None:
            self._suggest(target, r.suggest)
        report.alerts.extend(outcome.alerts)
        return outcome.history, outcome.consent

    def _candidates(self, identity: Identity) -> list[CardIdentifiers]:
        found = {c for i in identity.identifiers for c in self.holders.get(i, ())}
        return [self.views[c] for c in (sorted(found) if len(found) > 1 else found)]

    def _merge(
        self, absorbed: UUID, survivor: UUID, event: SiteEvent, new_id: Callable[[], UUID]
    ) -> MergeAlert | None:
        """Merge a card into the survivor; the ``customer.merged`` alert, unless the absorbed
        card was made in this very batch (nobody could have seen its id)."""
        a, b = self.cards[survivor], self.cards.pop(absorbed)
        self.cards[survivor] = merge(
            a, b, regular_threshold=self.config.regular_threshold, keep=survivor
        )
        self.touched.add(survivor)
        self.touched.discard(absorbed)
        gone = self.views.pop(absorbed)
        for kind, held in (
            (self.emails, self.emails.pop(absorbed)),
            (self.phones, self.phones.pop(absorbed)),
        ):
            mine = kind[survivor]
            for value, at in held.items():
                self.holders[value].discard(absorbed)
                self.holders[value].add(survivor)
                known = mine.get(value)
                mine[value] = at if known is None else min(at, known)
        self.into[absorbed] = survivor
        self._view(survivor, self.views[survivor].apart | gone.apart)
        record = Merged(
            id=new_id(),
            tenant_id=self.tenant_id,
            survivor_id=survivor,
            absorbed_id=absorbed,
            reason="linked_by_event",
            survivor_staff=staff_tags(a),
            absorbed_staff=staff_tags(b),
            event_id=event.event_id,
            moved_cards=tuple(self.stored.pop(absorbed)),
            moved_events=tuple(self.batch_events.pop(absorbed, [])),
        )
        self.stored[survivor].extend(record.moved_cards)
        self.batch_events[survivor].extend(record.moved_events)
        self.merges.append(record)
        if not record.moved_cards:
            return None
        return merge_alert(record, "merged", event.occurred_at, event.event_id)

    def _tie(self, card: UUID, value: str, event: SiteEvent) -> None:
        held = (self.emails if "@" in value else self.phones)[card]
        known = held.get(value)
        if known is not None and known <= event.occurred_at:
            return
        held[value] = event.occurred_at
        self.holders[value].add(card)
        self.ties[(value, card)] = Tie(
            self.tenant_id, value, card, event.occurred_at, event.event_id
        )

    def _suggest(self, card: UUID, other: UUID) -> None:
        a, b = self.cards[card], self.cards[other]
        same_name = all(
            x and y and x.casefold() == y.casefold()
            for x, y in ((a.first_name, b.first_name), (a.last_name, b.last_name))
        )
        first, second = sorted((card, other))
        self.suggestions.append(
            Suggestion(
                self.tenant_id,
                (first, second),
                "same_name_and_phone" if same_name else "shared_phone",
            )
        )

    def collect(self, changes: Changes) -> None:
        """The venue's writes, with final card ids."""
        changes.customers.extend(self.cards[c] for c in sorted(self.touched) if c in self.cards)
        changes.merges.extend(self.merges)
        ties: dict[tuple[str, UUID], Tie] = {}
        for (value, card), tie in self.ties.items():
            final = self.final(card)
            known = ties.get((value, final))
            if known is None or tie.tied_at < known.tied_at:
                ties[(value, final)] = dataclasses.replace(tie, customer_id=final)
        changes.ties.extend(ties.values())
        for s in self.suggestions:
            pair = sorted({self.final(c) for c in s.cards})
            if len(pair) == 2:
                changes.suggestions.append(dataclasses.replace(s, cards=(pair[0], pair[1])))


def _is_suppressed(
    event: SiteEvent,
    keys: list[tuple[str, bytes]],
    erased: dict[tuple[str, bytes], datetime],
) -> bool:
    """An event about an erased email or phone that happened before the erasure is dropped.

    ``keys`` are the event's ``suppression_keys``.
    """
    for key in keys:
        at = erased.get(key)
        if at is not None and event.occurred_at < at:
            return True
    return False
