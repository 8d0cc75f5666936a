"""Identity benchmark (issue 14): the cost of undoing a merge of a card with 1,000 history entries.

A guest's email card holds ``entries`` events, a second card of theirs (by phone) a handful; a
staff merge joins them, and the undo folds both again from their events
(``services.profile.identity.undo``), in one tenant transaction as the API runs it. References
measured in the same run: reading the card's history rows alone (the SQL an undo cannot avoid)
and the pure refold of those events in Python.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.infra import BenchStack, fresh_database
from bench.report import Row, Section
from schemas.events import site_event_adapter
from services.common.db import connect
from services.common.kafka import Topics
from services.domain.merge import StaffTags
from services.domain.refold import event_of, refold
from services.ingest.handlers import process_batch
from services.ingest.store import PostgresIngestStore
from services.profile.data import identity as identity_data
from services.profile.identity import staff_merge, undo
from services.profile.import_undo import undo_import

T = "bench-identity"
EMAIL, PHONE = "an.peeters@example.be", "+32470123456"
BASE = datetime(2026, 1, 1, 12, tzinfo=UTC)
TYPES = ["reservation.created", "reservation.completed", "form.submitted", "integration.contact"]


def _doc(i: int, *, email: str | None, phone: str | None) -> dict[str, object]:
    at = BASE + timedelta(hours=i)
    kind = TYPES[i % len(TYPES)]
    data: dict[str, object] = {
        "contact": {
            k: v
            for k, v in {"email": email, "phone": phone, "first_name": "An"}.items()
            if v is not None
        }
    }
    if kind.startswith("reservation."):
        data["reservation_id"] = f"R-{i}"
    if kind == "reservation.created":
        data |= {"starts_at": (at + timedelta(days=2)).isoformat(), "party_size": 2}
    if kind == "integration.contact":
        data["integration"] = "pos"
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "schema_version": 1,
        "tenant_id": T,
        "occurred_at": at.isoformat(),
        "source": "bench",
        "data": data,
    }


async def _seed(conn: asyncpg.Connection, entries: int, others: int) -> tuple[uuid.UUID, uuid.UUID]:
    store = PostgresIngestStore(conn, Topics("bench-identity."))
    docs = [_doc(i, email=EMAIL, phone=None) for i in range(entries)]
    docs += [_doc(entries + i, email=None, phone=PHONE) for i in range(others)]
    for lo in range(0, len(docs), 500):
        events = [site_event_adapter.validate_python(d) for d in docs[lo : lo + 500]]
        await process_batch(store, events, secret="bench")
    email_card = await conn.fetchval(
        "SELECT customer_id FROM identifiers WHERE tenant_id = $1 AND value = $2", T, EMAIL
    )
    phone_card = await conn.fetchval(
        "SELECT customer_id FROM identifiers WHERE tenant_id = $1 AND value = $2", T, PHONE
    )
    return email_card, phone_card


async def import_undo(stack: BenchStack, *, rows: int = 10_000) -> Section:
    """Undo an applied import of ``rows`` rows: new guests, a fifth of them seen online too."""
    url = await fresh_database(stack.admin_url, "bench_import_undo")
    conn = await connect(url)
    import_id = uuid.uuid4()
    try:
        store = PostgresIngestStore(conn, Topics("bench-identity."))
        docs = []
        for i in range(rows):
            email = f"guest{i}@example.be"
            docs.append(
                {
                    **_doc(i, email=email, phone=None),
                    "type": "contact.imported",
                    "source": "import",
                    "data": {
                        "contact": {"email": email, "first_name": f"G{i}"},
                        "import_id": str(import_id),
                        "row": i + 2,
                        "tags": ["vip"] if i % 3 == 0 else None,
                    },
                }
            )
            if i % 5 == 0:  # also seen online: the undo folds this card again, keeps it
                docs.append(_doc(rows + i, email=email, phone=None))
        for lo in range(0, len(docs), 1000):
            events = [site_event_adapter.validate_python(d) for d in docs[lo : lo + 1000]]
            await process_batch(store, events, secret="bench")
        await conn.execute(
            "INSERT INTO imports (id, tenant_id, sha256, encoding, delimiter, rows, valid, invalid,"
            " would_create, would_update, unchanged, published)"
            " VALUES ($1, $2, 'bench', 'utf-8', ',', $3, $3, 0, $3, 0, 0, $3)",
            import_id,
            T,
            rows,
        )
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute("SELECT set_config('contacts.tenant_id', $1, true)", T)
            done = await undo_import(
                conn,
                T,
                import_id,
                token_id=None,
                at=datetime.now(UTC),
                region="BE",
                blocked=frozenset(),
                regular_threshold=3,
            )
        seconds = time.perf_counter() - started
        left = await conn.fetchval("SELECT count(*) FROM customers WHERE tenant_id = $1", T)
    finally:
        await conn.close()
    online = len(range(0, rows, 5))
    assert (done.cards_removed, done.cards_changed, left) == (rows - online, online, online)
    return Section(
        f"Identity: undo of an import of {rows:,} rows",
        [
            Row("undo", seconds * 1000, "ms"),
            Row("undo, per imported row", seconds * 1e6 / rows, "µs"),
        ],
        [
            f"{rows:,} imported guests, a fifth of them also seen online: the undo deletes"
            f" {rows - online:,} cards only the import fed and folds {online:,} again from"
            " their other events, in one transaction under the venue's lock (checked: that"
            " many cards are left)."
        ],
    )


async def run(
    stack: BenchStack, *, entries: int = 1_000, others: int = 10, rounds: int = 5
) -> Section:
    """Merge and undo ``rounds`` times; the median undo against its references."""
    url = await fresh_database(stack.admin_url, "bench_identity")
    conn = await connect(url)
    try:
        survivor, absorbed = await _seed(conn, entries, others)
        undos, reads, folds = [], [], []
        for _ in range(rounds):
            async with conn.transaction():
                await staff_merge(conn, T, survivor, absorbed, token_id=None, regular_threshold=3)
            row = await identity_data.merges_page(conn, T, survivor, None, 1)
            merge_id = row[0]["id"]
            started = time.perf_counter()
            rows = await identity_data.events(conn, T, survivor)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            refold(
                survivor, T, [event_of(r, T) for r in rows], StaffTags({}, frozenset()), region="BE"
            )
            folds.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with conn.transaction():
                await undo(
                    conn,
                    T,
                    merge_id,
                    token_id=None,
                    at=datetime.now(UTC),
                    region="BE",
                    blocked=frozenset(),
                    regular_threshold=3,
                )
            undos.append(time.perf_counter() - started)
            # the undo keeps the pair apart; forget that so the next round can merge them again
            await conn.execute("DELETE FROM duplicate_pairs WHERE tenant_id = $1", T)
        counts = {
            r["customer_id"]: r["n"]
            for r in await conn.fetch(
                "SELECT customer_id, count(*) AS n FROM history WHERE tenant_id = $1"
                " GROUP BY customer_id",
                T,
            )
        }
    finally:
        await conn.close()
    undo_ms = statistics.median(undos) * 1000
    read_ms = statistics.median(reads) * 1000
    fold_ms = statistics.median(folds) * 1000
    assert counts == {survivor: entries, absorbed: others}, counts  # each got its own back
    return Section(
        f"Identity: undo of a merge of a card with {entries:,} history entries",
        [
            Row(f"undo (median of {rounds})", undo_ms, "ms"),
            Row(
                "undo / reading the merged card's history rows",
                undo_ms / read_ms,
                "x",
                f"{read_ms:.1f} ms",
                undo_ms / read_ms,
            ),
            Row(
                "undo / refolding those events in Python",
                undo_ms / fold_ms,
                "x",
                f"{fold_ms:.1f} ms",
                undo_ms / fold_ms,
            ),
        ],
        [
            f"The merged card holds {entries + others:,} entries: {entries:,} of the email card,"
            f" {others} of the phone card it absorbed. The undo runs as the API runs it, in one"
            " transaction under the venue's lock: it reads every row (with its contact), folds"
            " both cards again from their events, moves the phone card's rows back and ties the"
            " identifiers again. After each undo the history counts are checked: "
            f"{entries:,} and {others}.",
        ],
    )
