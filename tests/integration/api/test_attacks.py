"""Attacks on the profile API: oversized bodies, garbage filters, SQL meta-characters, cursor
and id tampering across tenants, path tricks on downloads, token abuse and log hygiene.

Extends tests/profile (test_auth, test_isolation, test_customer_list) without repeating them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from fastapi import FastAPI

from services.common import exportjobs as jobs
from services.common.db import role_dsn
from services.common.settings import Settings
from services.export.runner import ExportRunner
from services.profile import auth as auth_module
from services.profile.problems import Problem
from services.profile.tokens import create_token, revoke_token
from tests.support.api import TENANT_TABLES, MakeToken, Seed, bearer, build_app
from tests.support.venues import OTHER, T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
BASE = f"/v1/tenants/{T}"
PROBLEM = "application/problem+json"
TABLES = [*TENANT_TABLES, "api_tokens", "exports", "imports"]


@pytest.fixture
async def world(seed: Seed, make_token: MakeToken, owner: asyncpg.Connection) -> dict[str, Any]:
    await seed(*venue_events())
    rows = await owner.fetch("SELECT id, tenant_id, email FROM customers")
    ids = {r["email"] or str(r["id"]): str(r["id"]) for r in rows}
    eva = ids["eva.other@example.be"]
    return {
        "token": bearer(await make_token(T, "read", "write", "import", "export", "gdpr")),
        "ops": bearer(await make_token("*", "read", "export", "import")),
        "ann": ids["ann.zeeman@example.be"],
        "benoit": ids["benoit.dubois@example.be"],
        "eva": eva,
        "eva_entry": str(
            await owner.fetchval("SELECT event_id FROM history WHERE customer_id = $1::uuid", eva)
        ),
        "own_ids": {str(r["id"]) for r in rows if r["tenant_id"] == T},
    }


def problem(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"] == PROBLEM, r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == r.status_code and body["title"]
    return body


async def _counts(owner: asyncpg.Connection) -> dict[str, int]:
    return {t: int(await owner.fetchval(f"SELECT count(*) FROM {t}")) for t in TABLES}


# -- oversized bodies ---------------------------------------------------------------------------

MIB = 1024 * 1024


async def _chunks(total: int, line: bytes) -> AsyncIterator[bytes]:
    block = line * (MIB // len(line))
    sent = 0
    while sent < total:
        yield block
        sent += len(block)


async def test_uploads_over_64_mib_are_413_also_without_a_content_length(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    headers = {**world["token"], "content-type": "text/csv"}
    body = b"email\n" + b"x@example.be\n" * 10
    header_only = await client.post(
        f"{BASE}/imports",
        params={"dry_run": "true"},
        content=body,
        headers={**headers, "content-length": str(65 * MIB)},
    )
    problem(header_only, 413)
    # Chunked (no Content-Length): the spool counts and stops at 64 MiB.
    chunked = await client.post(
        f"{BASE}/imports",
        params={"dry_run": "true"},
        content=_chunks(65 * MIB, b"x@example.be,\n"),
        headers=headers,
    )
    assert "content-length" not in chunked.request.headers
    assert "64 MiB" in problem(chunked, 413)["detail"]


async def test_multipart_uploads_over_64_mib_are_413(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    boundary = "reliability-boundary"

    async def multipart() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\nemail\n'
        ).encode()
        async for chunk in _chunks(65 * MIB, b"x@example.be\n"):
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await client.post(
        f"{BASE}/imports",
        params={"dry_run": "true"},
        content=multipart(),
        headers={**world["token"], "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in r.request.headers
    assert "64 MiB" in problem(r, 413)["detail"]


def _huge_json(kind: str) -> bytes:
    pad = "x" * (8 * MIB)
    if kind == "put-tags":
        return b'{"tags": [' + b'"vip",' * (MIB) + b'"vip"]}'
    if kind == "post-tags":
        return (
            '{"code": "big", "labels": {"nl": "a", "fr": "b", "en": "c"}, "pad": "' + pad + '"}'
        ).encode()
    return ('{"filters": {"q": "' + pad + '"}, "delimiter": ","}').encode()


@pytest.mark.parametrize("kind", ["put-tags", "post-tags", "post-exports"])
async def test_oversized_json_bodies_are_413(
    client: httpx.AsyncClient, world: dict[str, Any], kind: str
) -> None:
    url = {
        "put-tags": f"{BASE}/customers/{world['ann']}/tags",
        "post-tags": f"{BASE}/tags",
        "post-exports": f"{BASE}/exports",
    }[kind]
    method = "PUT" if kind == "put-tags" else "POST"
    r = await client.request(
        method,
        url,
        content=_huge_json(kind),
        headers={**world["token"], "content-type": "application/json"},
    )
    assert r.status_code != 500
    problem(r, 413)


# -- garbage filters ----------------------------------------------------------------------------

GARBAGE: dict[str, list[str]] = {
    "language": ["dutch", "NL", "n", "\x00", "nl\x00", "' OR 1=1 --", "%", "_"],
    "newsletter": ["maybe", "TRUE", "1", "", "\x00", "true'--"],
    "first_contact_from": [
        "yesterday",
        "2026-13-01",
        "2026-02-30T10:00:00Z",
        "\x00",
        "1e999",
        "99999-01-01",
        "' OR 1=1 --",
        "$1",
    ],
    "first_contact_to": ["tomorrow", "2026-01-01T25:00:00Z", "\x00", "%"],
    "last_contact_from": ["now", "0000-00-00", "2026-W01", "\x00"],
    "last_contact_to": ["--1", "2026-01-01T00:00:00+99:00", "\x00", ";DROP TABLE customers;"],
    "tag": ["Not A Tag", "VIP", "\x00", "' OR 1=1 --", "a" * 40, "%", "vip;"],
    "min_reservations": ["-1", "1.5", "x", "\x00", "99999999999999999999", "1000001", "$1"],
    "min_no_shows": ["-5", "NaN", "1e3", "\x00", "0x10"],
    "q": ["", "\x00", "a\x00b", "a" * 101],
    "sort": ["email", "--name", "name;", "\x00", "' OR 1=1 --", "-"],
    "limit": ["0", "201", "-1", "x", "\x00", "1e2", "99999999999999999999"],
    "cursor": ["\x00", "x" * 1001, "' OR 1=1 --", "%", "$1", "..%2F", "a.b.c"],
    "include_total": ["perhaps", "\x00", "2", "yes'"],
}


@pytest.mark.parametrize(
    ("name", "value"), [(k, v) for k, vs in GARBAGE.items() for v in vs], ids=lambda x: repr(x)[:24]
)
async def test_every_list_filter_rejects_garbage_with_422(
    client: httpx.AsyncClient, world: dict[str, Any], name: str, value: str
) -> None:
    r = await client.get(f"{BASE}/customers", params={name: value}, headers=world["token"])
    body = problem(r, 422)
    assert name in {e["field"] for e in body["errors"]}, body


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("language", ["dutch"]),
        ("newsletter", "maybe"),
        ("first_contact_from", "yesterday"),
        ("first_contact_to", "2026-01-01T00:00:00"),
        ("tag", ["VIP"]),
        ("tag", ["vip"] * 10),
        ("min_reservations", -1),
        ("min_no_shows", "x"),
        ("q", ""),
        ("q", "a\x00b"),
        ("language", "nl"),
        ("colour", "red"),
    ],
    ids=lambda x: repr(x)[:24],
)
async def test_export_filters_reject_garbage_with_422(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    owner: asyncpg.Connection,
    name: str,
    value: Any,
) -> None:
    r = await client.post(
        f"{BASE}/exports", json={"filters": {name: value}}, headers=world["token"]
    )
    problem(r, 422)
    assert await owner.fetchval("SELECT count(*) FROM exports") == 0


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "x"},
        {"cursor": "\x00"},
        {"cursor": "' OR 1=1 --"},
        {"cursor": "x" * 1001},
    ],
)
async def test_history_paging_rejects_garbage_with_422(
    client: httpx.AsyncClient, world: dict[str, Any], params: dict[str, str]
) -> None:
    r = await client.get(
        f"{BASE}/customers/{world['ann']}/history", params=params, headers=world["token"]
    )
    problem(r, 422)


# -- SQL meta-characters ------------------------------------------------------------------------

SQL_META = [
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "$1",
    ";DROP TABLE customers;",
    "' OR tenant_id LIKE '%",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    "eva.other@example.be' --",
    "chez-other",
    "*",
]
LIST_PARAMS = [
    "language",
    "newsletter",
    "first_contact_from",
    "first_contact_to",
    "last_contact_from",
    "last_contact_to",
    "tag",
    "min_reservations",
    "min_no_shows",
    "q",
    "sort",
    "limit",
    "cursor",
    "include_total",
    "lang",
]


async def test_sql_meta_characters_in_every_parameter_never_500_never_leak(
    client: httpx.AsyncClient, world: dict[str, Any], owner: asyncpg.Connection
) -> None:
    before = await _counts(owner)
    token = world["token"]
    seen: dict[int, int] = {}
    requests: list[tuple[str, dict[str, str]]] = []
    for payload in SQL_META:
        requests += [(f"{BASE}/customers", {p: payload}) for p in LIST_PARAMS]
        requests += [
            (f"{BASE}/customer-lookup", {"email": payload}),
            (f"{BASE}/customer-lookup", {"phone": payload}),
            (f"{BASE}/customer-lookup", {"email": payload, "phone": payload}),
            (f"{BASE}/customers/{world['ann']}", {"lang": payload}),
            (f"{BASE}/customers/{world['ann']}/history", {"cursor": payload}),
            (f"{BASE}/customers/{world['ann']}/history", {"limit": payload}),
            (f"{BASE}/tags", {"lang": payload}),
        ]
    for url, params in requests:
        r = await client.get(url, params=params, headers=token)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code in (200, 404, 422), (url, params, r.status_code, r.text[:300])
        if r.status_code != 200:
            assert r.headers["content-type"] == PROBLEM
            continue
        assert "eva.other" not in r.text.lower() and world["eva"] not in r.text, (url, params)
        body = r.json()
        if "items" in body and url.endswith("/customers"):
            assert {i["id"] for i in body["items"]} <= world["own_ids"]
            if params.get("q") in ("%", "_", "\\"):
                assert body["items"] == [], params  # LIKE wildcards are escaped
    assert seen.get(200) and seen.get(422), seen
    # The same payloads in the path.
    for payload in SQL_META:
        quoted = httpx.URL(f"http://api.test/v1/tenants/{payload}/customers").raw_path
        r = await client.get(quoted.decode(), headers=token)
        assert r.status_code in (403, 404, 422), (payload, r.status_code)
    assert await _counts(owner) == before
    assert await owner.fetchval("SELECT to_regclass('public.customers') IS NOT NULL")


async def test_sql_meta_characters_in_written_values_are_stored_verbatim(
    client: httpx.AsyncClient, world: dict[str, Any], owner: asyncpg.Connection
) -> None:
    before = await _counts(owner)
    labels = {"nl": "'; DROP TABLE customers; --", "fr": "%_\\$1", "en": '" OR ""="'}
    r = await client.post(
        f"{BASE}/tags", json={"code": "sqlish", "labels": labels}, headers=world["token"]
    )
    assert r.status_code == 201, r.text
    stored = await owner.fetchval(
        "SELECT labels FROM tenant_tags WHERE tenant_id = $1 AND code = 'sqlish'", T
    )
    assert stored == labels
    r = await client.put(
        f"{BASE}/customers/{world['ann']}/tags",
        json={"tags": ["' OR 1=1 --"]},
        headers=world["token"],
    )
    problem(r, 422)
    after = await _counts(owner)
    assert after == {**before, "tenant_tags": before["tenant_tags"] + 1}


# -- cursors and ids across tenants -------------------------------------------------------------


async def test_history_cursors_are_bound_to_their_customer_and_tenant(
    client: httpx.AsyncClient, world: dict[str, Any], seed: Seed
) -> None:
    token, ops = world["token"], world["ops"]
    r = await client.get(
        f"{BASE}/customers/{world['ann']}/history", params={"limit": 1}, headers=token
    )
    cursor = r.json()["next_cursor"]
    assert cursor
    list_cursor = (
        await client.get(f"{BASE}/customers", params={"limit": 1}, headers=token)
    ).json()["next_cursor"]
    assert list_cursor
    cases = [
        (f"{BASE}/customers/{world['benoit']}/history", cursor, token),  # another customer
        (f"/v1/tenants/{OTHER}/customers/{world['eva']}/history", cursor, ops),  # another tenant
        (f"{BASE}/customers/{world['ann']}/history", list_cursor, token),  # a list cursor
        (f"{BASE}/customers", cursor, token),  # a history cursor on the list
        (f"/v1/tenants/{OTHER}/customers", list_cursor, ops),
    ]
    for url, bad, headers in cases:
        body = problem(await client.get(url, params={"cursor": bad}, headers=headers), 422)
        assert body["errors"][0]["field"] == "cursor", url
    # The genuine one still works.
    r = await client.get(
        f"{BASE}/customers/{world['ann']}/history", params={"cursor": cursor}, headers=token
    )
    assert r.status_code == 200


async def test_other_tenants_ids_under_own_tenant_are_404_on_the_remaining_routes(
    client: httpx.AsyncClient, world: dict[str, Any], owner: asyncpg.Connection
) -> None:
    token = world["token"]
    import_id, export_id = uuid.uuid4(), await jobs.create(owner, OTHER, {})
    await owner.execute(
        "INSERT INTO imports (id, tenant_id, sha256, encoding, delimiter, rows, valid, invalid,"
        " would_create, would_update, unchanged, published) VALUES"
        " ($1, $2, 'x', 'utf-8', ',', 1, 1, 0, 1, 0, 0, 1)",
        import_id,
        OTHER,
    )
    own = f"{BASE}/customers/{world['ann']}"
    for url in (
        f"{own}/history/{world['eva_entry']}",  # own customer, another tenant's entry
        f"{BASE}/customers/{world['eva']}/history/{world['eva_entry']}",
        f"{BASE}/imports/{import_id}",
        f"{BASE}/exports/{export_id}",
        f"{BASE}/exports/{export_id}/download",
        f"{BASE}/customers/{uuid.uuid4()}",
        f"{BASE}/customers/{uuid.uuid4()}/history",
    ):
        body = problem(await client.get(url, headers=token), 404)
        assert "eva.other" not in str(body).lower()


# -- path tricks on downloads -------------------------------------------------------------------


async def test_path_tricks_on_export_downloads_never_leave_the_export_folder(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    settings: Settings,
    db_url: str,
    owner: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    export_dir = Path(settings.exports_path)
    export_id = await jobs.create(owner, T, {})
    runner = ExportRunner(db_url, role_dsn(db_url), export_dir)
    assert await runner.run(export_id) == "done"
    secret = "TOPSECRET-" + uuid.uuid4().hex
    for path in (
        tmp_path / "secret.csv",
        export_dir / "secret.csv",
        export_dir / T / "secret.csv",
        export_dir / OTHER / f"{export_id}.csv",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secret)
    token = world["token"]
    ok = await client.get(f"{BASE}/exports/{export_id}/download", headers=token)
    assert ok.status_code == 200 and secret not in ok.text
    e = str(export_id)
    tricks = [
        f"{BASE}/exports/..%2F..%2Fsecret/download",
        f"{BASE}/exports/..%2Fsecret/download",
        f"{BASE}/exports/%2e%2e%2fsecret/download",
        f"{BASE}/exports/%252e%252e%252fsecret/download",
        f"{BASE}/exports/secret/download",
        f"{BASE}/exports/secret.csv/download",
        f"{BASE}/exports/{e}%2F..%2F..%2Fsecret/download",
        f"{BASE}/exports/{e}%00/download",
        f"{BASE}/exports/%7B{e}%7D/download",
        f"{BASE}/exports/{e}/download/..%2F..%2Fsecret.csv",
        f"{BASE}/exports/{e}/download%2F..%2F..%2Fsecret.csv",
        f"/v1/tenants/..%2F..%2F/exports/{e}/download",
        f"/v1/tenants/{T}%2F..%2F{OTHER}/exports/{e}/download",
        f"/v1/tenants/.%2E/exports/{e}/download",
        f"/v1/tenants/{OTHER}/exports/{e}/download",
        f"/v1/tenants/{T}/exports/{e}/download?path=../secret.csv",
        f"/v1/tenants/{T}/exports/%2e%2e/download",
    ]
    ops = world["ops"]
    for url in tricks:
        for headers in (token, ops):
            r = await client.get(url, headers=headers)
            assert secret not in r.text, url
            assert r.status_code in (200, 403, 404, 405, 422), (url, r.status_code)
            if r.status_code == 200:  # only the genuine export, under another spelling
                assert r.content == ok.content, url
            else:
                assert r.headers["content-type"] == PROBLEM, url


# -- tokens -------------------------------------------------------------------------------------


class _Recording:
    """An asyncpg connection that notes every statement and its arguments."""

    def __init__(self, conn: Any, sent: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._conn, self._sent = conn, sent

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._conn, name)
        if name not in (
            "execute",
            "executemany",
            "fetch",
            "fetchrow",
            "fetchval",
            "prepare",
            "cursor",
            "copy_from_query",
        ):
            return attr

        def noted(query: str, *args: Any, **kwargs: Any) -> Any:
            self._sent.append((query, args))
            return attr(query, *args, **kwargs)

        return noted


def _holds(value: Any, secret: str) -> bool:
    """True when ``value`` (a statement argument) carries ``secret`` or its random part."""
    text = (
        value.decode(errors="replace")
        if isinstance(value, bytes | bytearray | memoryview)
        else str(value)
    )
    return secret in text or secret.removeprefix("ct_") in text


async def test_tokens_are_looked_up_by_hash_and_compared_in_constant_time(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: asyncpg.Connection,
    make_token: MakeToken,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a timing attack on a token would need is never there: the presented token never
    reaches the database (only its sha256 does, so an index lookup cannot leak a prefix match
    of the token), and every comparison of secret material is ``hmac.compare_digest``, whose
    answer decides. Observed through the real app and database; no timing is measured. (The
    API's token cache is keyed by the digest too; it is off here so that every request takes
    the lookup path.)"""
    monkeypatch.setattr(app.state.authenticator, "cache", auth_module.TokenCache(0))
    sent: list[tuple[str, tuple[Any, ...]]] = []
    db = app.state.authenticator.db
    connection = db.connection

    @asynccontextmanager
    async def recorded() -> AsyncIterator[Any]:
        async with connection() as conn:
            yield _Recording(conn, sent)

    monkeypatch.setattr(db, "connection", recorded)
    compared: list[tuple[bytes, bytes]] = []
    verdict: list[bool] = []  # empty: the real answer; else this one
    real_compare = hmac.compare_digest

    def compare_digest(a: Any, b: Any) -> bool:
        compared.append((bytes(a), bytes(b)))
        return verdict[0] if verdict else real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)

    tokens = [await make_token(T, "read") for _ in range(3)]
    assert len(set(tokens)) == 3
    assert all(re.fullmatch(r"ct_[A-Za-z0-9_-]{43}", t) for t in tokens)  # 32 random bytes
    token = tokens[0]
    digest = hashlib.sha256(token.encode()).digest()
    stored = await owner.fetch("SELECT * FROM api_tokens")
    assert digest in [bytes(r["token_hash"]) for r in stored]  # stored as its sha256 only
    assert not any(_holds(v, t) for r in stored for v in r.values() for t in tokens)

    # A genuine token: looked up by its digest, then digest against digest, constant time.
    assert (await client.get(f"{BASE}/customers", headers=bearer(token))).status_code == 200
    assert any(digest in args for _, args in sent), sent
    assert (digest, digest) in compared, compared
    # The same token, one character off at the end (what a prefix-timing attack would try):
    # refused, and again only its digest went to the database.
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    sent.clear()
    problem(await client.get(f"{BASE}/customers", headers=bearer(near)), 401)
    assert any(hashlib.sha256(near.encode()).digest() in args for _, args in sent), sent
    for presented in (token, near):
        assert not any(
            _holds(query, presented) or any(_holds(a, presented) for a in args)
            for query, args in sent
        )
    assert all(len(a) == len(b) == 32 for a, b in compared)  # digests, never token text

    # compare_digest's answer is the verdict: when it says "different", the token is refused.
    verdict.append(False)
    problem(await client.get(f"{BASE}/customers", headers=bearer(token)), 401)

    # The ops dev token (configuration, not the database) goes through compare_digest too.
    dev = "ct_dev-" + "x" * 40
    auth = auth_module.Authenticator(db, auth_module.FailureLimiter(1000), dev)
    compared.clear()
    with pytest.raises(Problem) as refused:
        await auth.principal(dev, "192.0.2.1")
    assert refused.value.status == 401
    assert (dev.encode(), dev.encode()) in compared
    verdict.clear()
    assert (await auth.principal(dev, "192.0.2.1")).tenant_id == "*"
    compared.clear()
    with pytest.raises(Problem):
        await auth.principal(dev[:-1] + "y", "192.0.2.1")
    assert ((dev[:-1] + "y").encode(), dev.encode()) in compared


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer ct_" + b"A" * 10_000,
        b"Bearer ct_\xe9\xe9",
        b"Bearer ct_abc def",
        b"Bearer \t",
        b"Bearer ' OR 1=1 --",
        b"Bearer %00",
        b"bearer ct_x",
        b"Bearer ct_" + b"\xff" * 40,
    ],
    ids=lambda v: repr(v)[:30],
)
async def test_odd_authorization_headers_are_401(
    client: httpx.AsyncClient, world: dict[str, Any], value: bytes
) -> None:
    r = await client.get(f"{BASE}/customers", headers={"Authorization": value})  # type: ignore[dict-item]
    problem(r, 401)


async def test_wrong_expired_revoked_and_underscoped_tokens_answer_problems(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    owner: asyncpg.Connection,
    make_token: MakeToken,
) -> None:
    good = await make_token(T, "read")
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    revoked_id, revoked = await create_token(owner, T, ["read", "write"])
    await revoke_token(owner, revoked_id)
    expired = await make_token(T, "read", "gdpr", expires_days=-0.001)
    other = await make_token(OTHER, "read", "write", "gdpr", "export", "import")
    reader = await make_token(T, "read")
    card = f"{BASE}/customers/{world['ann']}"
    cases = [
        ("GET", f"{BASE}/customers", flipped, 401),
        ("GET", f"{BASE}/customers", good.upper(), 401),
        ("GET", f"{BASE}/customers", good + " ", 200),  # header values are trimmed
        ("GET", f"{BASE}/customers", revoked, 401),
        ("POST", f"{card}/anonymize", expired, 401),
        ("GET", card, other, 403),
        ("POST", f"{card}/anonymize", other, 403),
        ("POST", f"{card}/anonymize", reader, 403),
        ("GET", f"{card}/data-export", reader, 403),
        ("POST", f"{BASE}/exports", reader, 403),
        ("GET", f"{BASE}/imports/template.csv", reader, 403),
        ("POST", "/v1/exports", reader, 403),
    ]
    for method, url, token, status in cases:
        r = await client.request(
            method, url, headers=bearer(token), json={} if method == "POST" else None
        )
        if status == 200:
            assert r.status_code == 200, (url, r.text)
        else:
            problem(r, status)
    assert (await owner.fetchrow("SELECT * FROM customers WHERE id = $1::uuid", world["ann"]))[
        "anonymized_at"
    ] is None


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        yield logs


async def test_tokens_never_appear_in_logs(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    owner: asyncpg.Connection,
    make_token: MakeToken,
    captured: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    good = await make_token(T, "read", "write")
    revoked_id, revoked = await create_token(owner, T, ["read"])
    await revoke_token(owner, revoked_id)
    other = await make_token(OTHER, "read")
    wrong = "ct_" + "Z" * 43
    secrets_ = [good, revoked, other, wrong, good[3:], revoked[3:]]
    for token in (good, revoked, other, wrong, good[:-1] + "x"):
        await client.get(f"{BASE}/customers", headers=bearer(token))
        await client.get(f"{BASE}/customers", params={"limit": "bad"}, headers=bearer(token))
        await client.put(
            f"{BASE}/customers/{world['ann']}/tags", json={"tags": ["nope!"]}, headers=bearer(token)
        )
        await client.get(f"{BASE}/customers", headers={"Authorization": token})  # no scheme
    out, err = capfd.readouterr()
    text = "\n".join(
        [repr(captured), caplog.text, out, err, *(repr(r.__dict__) for r in caplog.records)]
    )
    assert any(e.get("event") == "auth.failed" for e in captured), captured  # capture works
    for secret in secrets_:
        assert secret not in text


async def test_failed_auth_limit_blocks_even_a_valid_token_and_only_that_client(
    settings: Settings, db_url: str, owner: asyncpg.Connection, make_token: MakeToken
) -> None:
    good = bearer(await make_token(T, "read"))
    app: FastAPI = build_app(settings.model_copy(update={"auth_failures_per_minute": 4}), db_url)

    def client_at(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 999)), base_url="http://api.test"
        )

    async with app.router.lifespan_context(app):
        async with client_at("10.9.0.1") as honest:
            for _ in range(10):  # successes never count
                assert (await honest.get(f"{BASE}/customers", headers=good)).status_code == 200
            for _ in range(3):
                problem(await honest.get(f"{BASE}/customers", headers=bearer("ct_no")), 401)
            assert (await honest.get(f"{BASE}/customers", headers=good)).status_code == 200
        async with client_at("10.9.0.2") as attacker:
            for i in range(4):
                r = await attacker.get(f"{BASE}/tags", headers=bearer(f"ct_guess{i}"))
                problem(r, 401)
            for url in (f"{BASE}/customers", f"{BASE}/tags", "/v1/exports"):
                r = await attacker.get(url, headers=good)  # even the right token now
                problem(r, 429, 405)
                if r.status_code == 429:
                    assert int(r.headers["retry-after"]) >= 1
            r = await attacker.get(f"{BASE}/customers", headers=good)
            problem(r, 429)
        async with client_at("10.9.0.3") as bystander:
            assert (await bystander.get(f"{BASE}/customers", headers=good)).status_code == 200
