"""Tenant isolation, at the HTTP surface and in PostgreSQL itself (row level security)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.common.db import connect
from services.profile.tokens import token_hash
from tests.support.api import TENANT_TABLES, MakeToken, Seed, api_url, bearer
from tests.support.venues import OTHER, T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
TABLES = TENANT_TABLES


@pytest.fixture
async def ids(
    client: httpx.AsyncClient, seed: Seed, make_token: MakeToken, owner: asyncpg.Connection
) -> dict[str, str]:
    await seed(*venue_events())
    await owner.execute(
        "INSERT INTO tenant_tags VALUES ($1, 'secret_tag', $2)",
        OTHER,
        {"nl": "x", "fr": "x", "en": "x"},
    )
    await owner.execute("INSERT INTO suppressions VALUES ($1, '\\x01', now())", OTHER)
    await owner.execute(
        "INSERT INTO duplicate_pairs (tenant_id, first_id, second_id, reason)"
        " VALUES ($1, '00000000-0000-0000-0000-000000000001',"
        " '00000000-0000-0000-0000-000000000002', 'shared_phone')",
        OTHER,
    )
    eva = await owner.fetchrow("SELECT id FROM customers WHERE tenant_id = $1", OTHER)
    assert eva is not None
    entry = await owner.fetchval("SELECT event_id FROM history WHERE customer_id = $1", eva["id"])
    merge = await owner.fetchval("SELECT id FROM merges WHERE tenant_id = $1", OTHER)
    return {"eva": str(eva["id"]), "entry": str(entry), "merge": str(merge)}


def _routes(tenant: str, customer: str, entry: str, merge: str) -> list[tuple[str, str, Any]]:
    base = f"/v1/tenants/{tenant}"
    c = f"{base}/customers/{customer}"
    return [
        ("GET", f"{base}/customers", None),
        ("GET", c, None),
        ("GET", f"{c}/history", None),
        ("GET", f"{c}/history/{entry}", None),
        ("GET", f"{base}/customer-lookup?email=eva.other@example.be", None),
        ("PUT", f"{c}/tags", {"tags": ["vip"]}),
        ("POST", f"{c}/anonymize", None),
        ("GET", f"{c}/data-export", None),
        ("GET", f"{base}/tags", None),
        ("POST", f"{base}/tags", {"code": "stolen", "labels": {"nl": "a", "fr": "b", "en": "c"}}),
        ("POST", f"{c}/merge", {"customer_id": customer}),
        ("POST", f"{base}/merges/{merge}/undo", None),
    ]


async def test_a_token_of_one_tenant_is_403_on_every_route_of_another(
    client: httpx.AsyncClient, ids: dict[str, str], make_token: MakeToken
) -> None:
    token = bearer(await make_token(T, "read", "write", "import", "export", "gdpr"))
    for method, url, body in _routes(OTHER, ids["eva"], ids["entry"], ids["merge"]):
        r = await client.request(method, url, json=body, headers=token)
        assert r.status_code == 403, (method, url)
        assert r.headers["content-type"] == "application/problem+json"


async def test_another_tenants_ids_under_ones_own_tenant_are_404(
    client: httpx.AsyncClient,
    ids: dict[str, str],
    make_token: MakeToken,
    owner: asyncpg.Connection,
) -> None:
    token = bearer(await make_token(T, "read", "write", "gdpr"))
    for method, url, body in _routes(T, ids["eva"], ids["entry"], ids["merge"]):
        r = await client.request(method, url, json=body, headers=token)
        if url.endswith(("/customers", "/tags")) and "/customers/" not in url:
            assert r.status_code in (200, 201)
            assert "eva.other" not in r.text.lower() and "secret_tag" not in r.text
        else:
            assert r.status_code == 404, (method, url, r.text)
    eva = await owner.fetchrow("SELECT * FROM customers WHERE id = $1::uuid", ids["eva"])
    assert eva is not None
    assert eva["anonymized_at"] is None and list(eva["tags"]) == []


@pytest.fixture
async def api_conn(db_url: str, owner: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(api_url(db_url))
    yield conn
    await conn.close()


async def test_api_role_without_a_tenant_sees_no_row(
    ids: dict[str, str], api_conn: asyncpg.Connection, owner: asyncpg.Connection
) -> None:
    for table in TABLES:
        assert await owner.fetchval(f"SELECT count(*) FROM {table}") > 0, table
    for table in (
        "tenants",
        "customers",
        "history",
        "consent_ledger",
        "suppressions",
        "tenant_tags",
    ):
        assert await api_conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    async with api_conn.transaction():
        await api_conn.execute("SELECT set_config('contacts.tenant_id', '', true)")
        assert await api_conn.fetchval("SELECT count(*) FROM customers") == 0


async def test_api_role_with_a_tenant_sees_and_writes_only_that_tenant(
    ids: dict[str, str], api_conn: asyncpg.Connection
) -> None:
    async with api_conn.transaction():
        await api_conn.execute("SELECT set_config('contacts.tenant_id', $1, true)", T)
        tenants = await api_conn.fetch("SELECT DISTINCT tenant_id FROM customers")
        assert [r["tenant_id"] for r in tenants] == [T]
        assert (
            await api_conn.fetchval("SELECT count(*) FROM history WHERE tenant_id = $1", OTHER) == 0
        )
        updated = await api_conn.execute(
            "UPDATE customers SET tags = '{vip}' WHERE id = $1::uuid", ids["eva"]
        )
        assert updated == "UPDATE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # WITH CHECK
            await api_conn.execute("INSERT INTO tenant_tags VALUES ($1, 'x', '{}')", OTHER)
    async with api_conn.transaction():  # an import records only its own venue (0009)
        await api_conn.execute("SELECT set_config('contacts.tenant_id', 'new-venue', true)")
        await api_conn.execute("INSERT INTO tenants (tenant_id) VALUES ('new-venue')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # WITH CHECK
            await api_conn.execute("INSERT INTO tenants (tenant_id) VALUES ('other-venue')")
    # The setting is local to the transaction.
    assert await api_conn.fetchval("SELECT count(*) FROM customers") == 0


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM api_tokens",
        "SELECT * FROM outbox",  # it queues merge alerts and forgets its own, reads none
        # (Staff merges and undos write whole cards, counters included: the API folds them.)
        "DELETE FROM history",
        "DELETE FROM consent_ledger",
        "UPDATE merges SET survivor_id = gen_random_uuid()",
        "DELETE FROM merges",
        "DELETE FROM suppressions",
        "INSERT INTO processed_events VALUES ('brasserie-leopold', gen_random_uuid(), 'applied')",
        "ALTER TABLE customers DISABLE ROW LEVEL SECURITY",
        "SET ROLE postgres",
    ],
)
async def test_api_role_has_least_privilege(
    ids: dict[str, str], api_conn: asyncpg.Connection, sql: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await api_conn.execute(sql)


async def test_api_role_attributes(api_conn: asyncpg.Connection) -> None:
    role = await api_conn.fetchrow("SELECT * FROM pg_roles WHERE rolname = current_user")
    assert role is not None
    assert role["rolname"] == "contacts_api"
    assert not (
        role["rolsuper"]
        or role["rolbypassrls"]
        or role["rolinherit"]
        or role["rolcreaterole"]
        or role["rolcreatedb"]
    )
    owned = await api_conn.fetchval(
        "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles"
        " WHERE rolname = 'contacts_api')"
    )
    assert owned == 0


async def test_token_lookup_function_answers_one_exact_hash(
    api_conn: asyncpg.Connection, make_token: MakeToken
) -> None:
    token = await make_token(T, "read")
    await make_token(OTHER, "read")
    rows = await api_conn.fetch("SELECT * FROM contacts_token_lookup($1)", token_hash(token))
    assert [r["tenant_id"] for r in rows] == [T]
    assert await api_conn.fetch("SELECT * FROM contacts_token_lookup($1)", b"") == []


async def test_the_search_function_answers_only_the_transactions_tenant(
    ids: dict[str, str], api_conn: asyncpg.Connection, owner: asyncpg.Connection
) -> None:
    """contacts_matching (migration 0010) runs as the owner, so it applies the tenant itself:
    the ids of the transaction's venue only, none without a venue."""
    everything = "SELECT id FROM contacts_matching('%', '', NULL)"
    assert await api_conn.fetch(everything) == []
    for tenant in (T, OTHER):
        expected = {
            r["id"]
            for r in await owner.fetch(
                "SELECT id FROM customers WHERE tenant_id = $1 AND anonymized_at IS NULL", tenant
            )
        }
        async with api_conn.transaction():
            await api_conn.execute("SELECT set_config('contacts.tenant_id', $1, true)", tenant)
            assert {r["id"] for r in await api_conn.fetch(everything)} == expected
        assert expected
