"""OpenAPI links: how a response's ids feed the next call.

FastAPI does not emit `links` (OpenAPI 3.1, "Link Object"). They are added here to the generated
document, so clients (and the stateful schemathesis test) can follow the API as it is used:
list → card → history → one entry, card → lookup by email, export create → status → download,
import create → status. Links are declared by method and path and written with the target's
``operationId``; a link whose operation or parameter does not exist fails the document's
generation, never silently (and ``tests/reliability/test_api_stateful.py`` checks each one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

_T = "/v1/tenants/{tenant}"
_CUSTOMER = f"{_T}/customers/{{customer_id}}"
_TENANT = {"path.tenant": "$request.path.tenant"}


@dataclass(frozen=True, slots=True)
class Link:
    """``source`` answers ``status``; its values fill ``parameters`` of ``target``."""

    name: str
    source: tuple[str, str]
    status: str
    target: tuple[str, str]
    parameters: dict[str, str]
    description: str
    request_body: Any = field(default=None)


def _customer(expression: str) -> dict[str, str]:
    return {**_TENANT, "path.customer_id": expression}


_FROM_LIST = "$response.body#/items/0/id"
_FROM_CARD = "$response.body#/id"

LINKS: tuple[Link, ...] = (
    # The list: its first item is a customer id.
    Link(
        "CustomerCard",
        ("get", f"{_T}/customers"),
        "200",
        ("get", _CUSTOMER),
        _customer(_FROM_LIST),
        "the card of the first customer of the page",
    ),
    Link(
        "CustomerHistory",
        ("get", f"{_T}/customers"),
        "200",
        ("get", f"{_CUSTOMER}/history"),
        _customer(_FROM_LIST),
        "the history of the first customer of the page",
    ),
    Link(
        "SameTags",
        ("get", f"{_T}/customers"),
        "200",
        ("put", f"{_CUSTOMER}/tags"),
        _customer(_FROM_LIST),
        "set the first customer's tags (to the ones they have)",
        request_body={"tags": "$response.body#/items/0/tags"},
    ),
    # The card, and every answer that names one customer.
    *(
        Link(name, source, "200", target, _customer(_FROM_CARD), description)
        for source in (
            ("get", _CUSTOMER),
            ("get", f"{_T}/customer-lookup"),
            ("post", f"{_CUSTOMER}/anonymize"),
        )
        for name, target, description in (
            ("CustomerCard", ("get", _CUSTOMER), "this customer's card"),
            ("CustomerHistory", ("get", f"{_CUSTOMER}/history"), "this customer's history"),
            (
                "CustomerDataExport",
                ("get", f"{_CUSTOMER}/data-export"),
                "everything held about this customer",
            ),
        )
        if target != source
    ),
    Link(
        "LookupByEmail",
        ("get", _CUSTOMER),
        "200",
        ("get", f"{_T}/customer-lookup"),
        {**_TENANT, "query.email": "$response.body#/email"},
        "find this customer by email",
    ),
    Link(
        "LookupByPhone",
        ("get", _CUSTOMER),
        "200",
        ("get", f"{_T}/customer-lookup"),
        {**_TENANT, "query.phone": "$response.body#/phone"},
        "find this customer by phone",
    ),
    Link(
        "Anonymize",
        ("get", _CUSTOMER),
        "200",
        ("post", f"{_CUSTOMER}/anonymize"),
        _customer(_FROM_CARD),
        "erase this customer",
    ),
    Link(
        "HistoryEntry",
        ("get", f"{_CUSTOMER}/history"),
        "200",
        ("get", f"{_CUSTOMER}/history/{{entry_id}}"),
        {**_customer("$request.path.customer_id"), "path.entry_id": _FROM_LIST},
        "the first entry of the page in full",
    ),
    # Tags: a new tag can be filtered on at once.
    Link(
        "CustomersWithTag",
        ("post", f"{_T}/tags"),
        "201",
        ("get", f"{_T}/customers"),
        {**_TENANT, "query.tag": "$response.body#/code"},
        "the customers with the new tag",
    ),
    # Exports and imports: the id of the job.
    *(
        Link(
            name,
            ("post", f"{_T}/exports"),
            "202",
            target,
            {**_TENANT, "path.export_id": "$response.body#/export_id"},
            description,
        )
        for name, target, description in (
            ("ExportStatus", ("get", f"{_T}/exports/{{export_id}}"), "follow the export"),
            (
                "ExportDownload",
                ("get", f"{_T}/exports/{{export_id}}/download"),
                "the CSV, once done",
            ),
        )
    ),
    Link(
        "ExportDownload",
        ("get", f"{_T}/exports/{{export_id}}"),
        "200",
        ("get", f"{_T}/exports/{{export_id}}/download"),
        {**_TENANT, "path.export_id": "$response.body#/export_id"},
        "the CSV, once done",
    ),
    Link(
        "ImportState",
        ("post", f"{_T}/imports"),
        "202",
        ("get", f"{_T}/imports/{{import_id}}"),
        {**_TENANT, "path.import_id": "$response.body#/import_id"},
        "how far ingest got with the import",
    ),
)


def _operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    try:
        operation: dict[str, Any] = schema["paths"][path][method]
    except KeyError:
        raise LookupError(f"OpenAPI link to a missing operation: {method.upper()} {path}") from None
    return operation


def add_links(schema: dict[str, Any], links: tuple[Link, ...] = LINKS) -> dict[str, Any]:
    """Write ``links`` into the OpenAPI document ``schema`` (in place) and return it."""
    for link in links:
        source = _operation(schema, *link.source)
        target = _operation(schema, *link.target)
        names = {f"{p['in']}.{p['name']}" for p in target.get("parameters", [])}
        missing = set(link.parameters) - names
        if missing:
            raise LookupError(
                f"OpenAPI link {link.name}: {sorted(missing)} not parameters of "
                f"{link.target[0].upper()} {link.target[1]}"
            )
        definition: dict[str, Any] = {
            "operationId": target["operationId"],
            "parameters": dict(link.parameters),
            "description": link.description,
        }
        if link.request_body is not None:
            definition["requestBody"] = link.request_body
        response = source["responses"][link.status]
        response.setdefault("links", {})[link.name] = definition
    return schema


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json, /docs) carry the links."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
