"""Stateful schemathesis: the API driven along its OpenAPI links with real ids.

The stateless fuzz test (``tests/profile/test_fuzz.py``) sends one generated request at a time,
so almost every id it sends is random and answers 404. Here schemathesis' state machine chains
calls along the links the API publishes (``services/profile/links.py``): a page of customers
gives the id for the card, the card for its history, lookup and erasure, the history for one
entry, a new export or import for its status and download. It runs in-process against the real
app and a seeded test database, with a bounded number of scenarios, and checks every response:
no 5xx, status code, content type, headers and body conform to the schema, invalid input is
rejected, and a resource just created is found by the link that follows it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
import warnings
from collections import Counter
from typing import Any, cast

import asyncpg
import httpx
import orjson
import pytest
import requests
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure

from services.common.settings import Settings
from services.profile.app import create_app
from services.profile.deps import TENANT_PATTERN
from services.profile.links import LINKS
from tests.support.api import SECRET, MakeToken, Seed, bearer
from tests.support.faults import guests
from tests.support.processes import consume_all, create_topics
from tests.support.stack import Stack
from tests.support.venues import OTHER, T, venue_events

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.config import SchemathesisConfig
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.core.transport import Response
    from schemathesis.engine.errors import is_inconsistent_replay
    from schemathesis.generation.stateful.control import TransitionController
    from schemathesis.specs.openapi import checks as openapi_checks

HEADER = ParameterLocation.HEADER
SCENARIOS = 150  # hypothesis examples: each one is a fresh scenario (a chain of calls)
STEPS = 12  # calls per scenario at most
RUNS = 20  # Hypothesis runs at most (see `run` below)
EXTRA_CUSTOMERS = 40  # so that erasures along the way never empty the venue
CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.ensure_resource_availability,
    openapi_checks.use_after_free,
]
# Only the links the API declares: schemathesis' own inference stays off, so this test fails
# when a declared link breaks instead of quietly following an inferred one.
# Unknown query parameters are ignored by design (as most HTTP APIs do), so schemathesis is told
# not to send them as "invalid" input.
CONFIG = {
    "generation": {"allow-extra-parameters": False},
    "phases": {"stateful": {"inference": {"algorithms": []}}},
}
# Known and reported, not fixed here (services/common/segments.py): the date filters also take a
# unix timestamp (pydantic's lax mode reads 0 or "1700000000" as a date), which the schema
# (`format: date-time`) does not say. Accepting it is harmless; such findings are counted apart.
KNOWN = re.compile(
    r"Schema-violating request accepted\n\n(?:(?!\n\n).)*Invalid component:"
    r"(?:(?!\n\n).)*(first|last)_contact_(from|to)",
    re.S,
)
ROOTS = frozenset(
    {
        "GET /v1/tenants/{tenant}/customers",
        "POST /v1/tenants/{tenant}/exports",
        "POST /v1/tenants/{tenant}/imports",
        "POST /v1/tenants/{tenant}/tags",
    }
)
IMPORT_CSV = (
    "first_name,last_name,email,phone,language,newsletter_opt_in,tags\n"
    "Imke,Janssens,imke.janssens@example.be,0470 55 55 55,nl,true,vip\n"
)


def _openapi() -> dict[str, Any]:
    """The app's OpenAPI document; building it needs no database."""
    settings = Settings(database_url="postgresql://unused@/unused", secret=SECRET)
    app = create_app(settings, dsn="postgresql://unused@/unused")
    return app.openapi()


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, _, name = node["$ref"].rpartition("/")
        node = spec["components"]["schemas"][name]
    return node


def _pointer_in_schema(spec: dict[str, Any], schema: dict[str, Any], pointer: str) -> bool:
    """True when the JSON pointer ``pointer`` names a place the response schema describes."""
    node = _resolve(spec, schema)
    for part in pointer.strip("/").split("/"):
        if part.isdigit():
            if node.get("type") != "array":
                return False
            node = _resolve(spec, node["items"])
        elif part in node.get("properties", {}):
            node = _resolve(spec, node["properties"][part])
        else:
            return False
    return True


def test_the_declared_links_exist_and_resolve_to_real_operations() -> None:
    """Every link in /openapi.json names an existing operation (by operationId), only parameters
    the target has, only request parameters the source has, and body pointers that the source's
    response schema describes; schemathesis builds its state machine from them."""
    spec = _openapi()
    operations = {
        op["operationId"]: (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    found: list[tuple[str, str, str]] = []
    for _, source_path, source in operations.values():
        source_params = {f"{p['in']}.{p['name']}" for p in source.get("parameters", [])}
        for response in source["responses"].values():
            for name, link in response.get("links", {}).items():
                assert link["operationId"] in operations, (source_path, name)
                _, target_path, target = operations[link["operationId"]]
                target_params = {f"{p['in']}.{p['name']}" for p in target.get("parameters", [])}
                assert set(link["parameters"]) <= target_params, (source_path, name)
                body_schema = response["content"]["application/json"]["schema"]
                expressions = [*link["parameters"].values(), *link.get("requestBody", {}).values()]
                for expression in expressions:
                    if expression.startswith("$request.path."):
                        assert f"path.{expression.rpartition('.')[2]}" in source_params
                    else:
                        prefix, _, pointer = expression.partition("#")
                        assert prefix == "$response.body", expression
                        assert _pointer_in_schema(spec, body_schema, pointer), (name, expression)
                found.append((source_path, name, target_path))
    assert len(found) == len(LINKS)
    customer = "/v1/tenants/{tenant}/customers/{customer_id}"
    for expected in [
        ("/v1/tenants/{tenant}/customers", "CustomerCard", customer),
        (customer, "CustomerHistory", f"{customer}/history"),
        (f"{customer}/history", "HistoryEntry", f"{customer}/history/{{entry_id}}"),
        (customer, "LookupByEmail", "/v1/tenants/{tenant}/customer-lookup"),
        (
            "/v1/tenants/{tenant}/exports",
            "ExportStatus",
            "/v1/tenants/{tenant}/exports/{export_id}",
        ),
        (
            "/v1/tenants/{tenant}/exports",
            "ExportDownload",
            "/v1/tenants/{tenant}/exports/{export_id}/download",
        ),
        ("/v1/tenants/{tenant}/imports", "ImportState", "/v1/tenants/{tenant}/imports/{import_id}"),
    ]:
        assert expected in found, expected

    schema = schemathesis.openapi.from_dict(spec, config=SchemathesisConfig.from_dict(CONFIG))
    schema.as_state_machine()  # raises on a link schemathesis cannot resolve
    assert schema.statistic.transitions.total == len(LINKS)


def test_every_operation_documents_the_errors_it_can_answer() -> None:
    """Every operation behind a token documents 401, 403, 422, 429 (too many failed
    authentications: any route) and 503; every one with a body also 400 (a body that cannot be
    parsed) and 413 (too large). The stateful test below found undocumented 400s; 429 was
    missing on the export and import routes."""
    spec = _openapi()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            documented = set(op["responses"])
            if op.get("security"):
                assert {"401", "403", "422", "429", "503"} <= documented, (method, path)
            if op.get("requestBody"):
                assert {"400", "413"} <= documented, (method, path)


@pytest.mark.asyncio(loop_scope="session")
async def test_an_import_can_be_a_venues_first_data(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    settings: Settings,
    stack: Stack,
    db_url: str,
) -> None:
    """Found by the stateful test: an import for a venue with no row yet (its old customer
    file, before any booking) published its rows, then answered 500 on the import's foreign
    key. A dry run now writes nothing; the real run records the venue and the import."""
    topics = await create_topics(stack.bootstrap, settings.topic_prefix)
    headers = {**bearer(await make_token("*", "import")), "content-type": "text/csv"}
    venue = f"new-{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(db_url)
    try:
        dry = await client.post(
            f"/v1/tenants/{venue}/imports",
            params={"dry_run": "true"},
            content=IMPORT_CSV,
            headers=headers,
        )
        assert dry.status_code == 200, dry.text
        assert dry.json()["would_create"] == 1
        assert await conn.fetchval("SELECT count(*) FROM tenants WHERE tenant_id = $1", venue) == 0
        real = await client.post(
            f"/v1/tenants/{venue}/imports", content=IMPORT_CSV, headers=headers
        )
        assert real.status_code == 202, real.text
        assert real.json()["published"] == 1
        assert await conn.fetchval("SELECT count(*) FROM imports WHERE tenant_id = $1", venue) == 1
    finally:
        await conn.close()
    state = await client.get(
        f"/v1/tenants/{venue}/imports/{real.json()['import_id']}", headers=headers
    )
    assert state.status_code == 200, state.text
    sent = await consume_all(stack.bootstrap, topics.site_events, expect=1, timeout=10)
    assert [orjson.loads(r.value)["tenant_id"] for r in sent] == [venue]


class StartWhereClientsStart(TransitionController):
    """Scenarios start where a client starts: a page of customers, or creating an export,
    an import or a tag. Every other call takes its ids from a link (a card by a random id is
    the stateless test's job)."""

    def allow_root_transition(self, source: str, bundles: dict[str, Any]) -> bool:
        return source in ROOTS and super().allow_root_transition(source, bundles)


def _tenants(params: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly the seeded venues, sometimes the generated tenant (a link's tenant stays)."""
    tenant = params.get("tenant")
    if not isinstance(tenant, str) or not re.match(TENANT_PATTERN, tenant):
        return st.just(params)  # set by a link, or invalid on purpose (a negative case)
    return st.sampled_from([T, T, T, OTHER, tenant]).map(lambda t: {**params, "tenant": t})


def _import_files(body: Any) -> st.SearchStrategy[Any]:
    """Random text is rarely a customer file: offer a valid one too, so imports get an id."""
    if isinstance(body, str):
        return st.sampled_from([body, IMPORT_CSV])
    return st.just(body)


@pytest.mark.asyncio(loop_scope="session")
async def test_stateful_links_chain_real_ids_without_server_errors(
    app: FastAPI,
    client: httpx.AsyncClient,
    seed: Seed,
    make_token: MakeToken,
    settings: Settings,
    stack: Stack,
) -> None:
    """Scenarios of up to STEPS calls follow the declared links with the ids the API returned.

    Proves: no 5xx on any call; every response conforms to the schema (status, content type,
    headers, body); invalid input is rejected; a just-created export or import is found by its
    status link; and the links really carried ids (cards, history entries, export and import
    statuses answered 200 through a link, not by chance).
    """
    await create_topics(stack.bootstrap, settings.topic_prefix)
    await seed(*venue_events(), *guests(EXTRA_CUSTOMERS))
    auth = bearer(await make_token("*", "read", "write", "gdpr", "import", "export"))
    spec = app.openapi()
    schema = schemathesis.openapi.from_dict(spec, config=SchemathesisConfig.from_dict(CONFIG))
    schema.hooks.register_hook_with_name(
        lambda _ctx, params: _tenants(params), "flatmap_path_parameters"
    )
    schema.hooks.register_hook_with_name(
        lambda ctx, body: (
            _import_files(body) if ctx.operation.path.endswith("/imports") else st.just(body)
        ),
        "flatmap_body",
    )
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    known: list[str] = []
    statuses: Counter[tuple[str, int]] = Counter()
    linked: Counter[tuple[str, int]] = Counter()

    def send(case: Any) -> Response:
        # A case whose headers are invalid on purpose (no or a malformed Authorization) goes
        # as generated: it must get a 401 / 4xx. Every other case carries the real token.
        negative_headers = case.meta is not None and case.meta.is_negative_at(HEADER)
        kwargs = case.as_transport_kwargs(
            base_url="http://api.test", headers=None if negative_headers else auth
        )
        kwargs.pop("timeout", None)
        prepared = requests.Request(
            **{
                k: v
                for k, v in kwargs.items()
                if k in ("method", "url", "params", "headers", "json", "data", "files", "cookies")
            }
        ).prepare()
        request = client.request(
            prepared.method or "GET",
            prepared.url or "",
            headers=cast(dict[str, str], dict(prepared.headers)),
            content=cast(bytes | None, prepared.body),
        )
        answer = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)
        return Response.from_httpx(answer, verify=True)

    completed, restarts = [0], [0]
    base: type = schema.as_state_machine()

    class Workflow(base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.control = StartWhereClientsStart(self._transitions, self._root_labels)

        def step(self, input: Any) -> Any:
            output = super().step(input)
            key = (input.case.operation.label, output.response.status_code)
            statuses[key] += 1
            if input.transition is not None and input.is_applied:
                linked[key] += 1
            return output

        def teardown(self) -> None:
            completed[0] += 1
            super().teardown()

        def call(self, case: Any, **kwargs: Any) -> Response:
            # Noted here, before Hypothesis sees it: an exception out of the app (a crash the
            # in-process transport re-raises instead of a 500) or a hang is a failure even if
            # Hypothesis cannot replay it and reports the run as flaky.
            try:
                return send(case)
            except Exception as exc:
                failures.append(f"{case.operation.label} raised {type(exc).__name__}: {exc}")
                raise

        def validate_response(
            self, response: Response, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(response, checks=CHECKS, recorder=self.recorder)
            except (AssertionError, BaseExceptionGroup) as exc:
                text = f"{case.operation.label} -> {response.status_code}: {exc}"
                one = "found 1 distinct failure" in text
                (known if one and KNOWN.search(text) else failures).append(text)

    def run() -> None:
        # The API's state changes under the machine (a tag exists once created, an erased
        # customer is not found by email any more), so Hypothesis may see the same choices lead
        # elsewhere and stop a run as "flaky", as schemathesis' own runner expects: start a new
        # run for the scenarios left, within a bound. Only data generation may be flaky: a
        # failure that does not repeat (FlakyFailure) is still a failure. Nothing here is a
        # legitimate transient: the app runs in-process and is never restarted by this test.
        for _ in range(RUNS):
            left = SCENARIOS - completed[0]
            if left <= 0:
                return
            try:
                Workflow.run(
                    settings=hypothesis_settings(
                        max_examples=left,
                        stateful_step_count=STEPS,
                        deadline=None,
                        database=None,
                        phases=[Phase.generate],
                        suppress_health_check=list(HealthCheck),
                    )
                )
            except FlakyFailure as exc:
                failures.append(
                    f"a failure that did not repeat: {exc!r}\n"
                    + "\n".join(f"  {type(e).__name__}: {e}" for e in exc.exceptions)
                )
                restarts[0] += 1
            except Flaky:  # FlakyStrategyDefinition, FlakyReplay: the draws, not the API
                restarts[0] += 1
            except AssertionError as exc:  # Hypothesis' other way of saying the same
                if not is_inconsistent_replay(exc):
                    raise
                restarts[0] += 1

    await asyncio.to_thread(run)

    report = "\n".join(
        [f"{completed[0]} scenarios, {restarts[0]} restarts, {len(known)} known findings"]
        + [
            f"{n:4} {label} {status} ({linked[(label, status)]} through a link)"
            for (label, status), n in sorted(statuses.items())
        ]
    )
    print(report)  # shown with -s / -rP: what the scenarios reached
    assert failures == [], "\n\n".join(failures[:10]) + f"\n\n{len(failures)} failures\n{report}"
    assert completed[0] >= SCENARIOS, report
    assert sum(statuses.values()) >= SCENARIOS * 2, report
    customer = "/v1/tenants/{tenant}/customers/{customer_id}"
    for label in [
        f"GET {customer}",
        f"GET {customer}/history",
        f"GET {customer}/history/{{entry_id}}",
        "GET /v1/tenants/{tenant}/exports/{export_id}",
        "GET /v1/tenants/{tenant}/imports/{import_id}",
    ]:
        assert linked[(label, 200)] > 0, f"no 200 through a link for {label}\n{report}"
