"""RFC 9457 problem details: every error the API returns is ``application/problem+json``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

T = TypeVar("T")

log = structlog.get_logger(__name__)

PROBLEM_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    308: "Permanent redirect",
    405: "Method not allowed",
    409: "Conflict",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
# A database that cannot be reached is a 503, never a 500.
UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    TimeoutError,
)


class ProblemModel(BaseModel):
    """The problem document, for the OpenAPI description."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or _TITLES.get(status, ""))
        self.status = status
        self.detail = detail
        self.headers = headers
        self.errors = errors


class Moved(Exception):
    """Raise when a customer id was merged into another card: 308 to the same route there."""

    def __init__(self, old: uuid.UUID, new: uuid.UUID) -> None:
        super().__init__(f"customer {old} was merged into {new}")
        self.old = old
        self.new = new


def found(value: T | None, what: str) -> T:
    """``value``, or a 404 problem saying there is no such ``what``."""
    if value is None:
        raise Problem(404, f"no such {what}")
    return value


def problem_response(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """A problem+json response for ``status``."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    return {
        s: {
            "model": ProblemModel,
            "description": _TITLES.get(s, "Error"),
            "content": {PROBLEM_TYPE: {}},
        }
        for s in statuses
    }


def _field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "body", "header"):
        parts = parts[1:]
    return ".".join(parts) or "request"


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(request, exc.status, exc.detail, headers=exc.headers, errors=exc.errors)


async def _on_moved(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Moved)
    path = request.url.path.replace(str(exc.old), str(exc.new), 1)
    location = f"{path}?{request.url.query}" if request.url.query else path
    return problem_response(request, 308, str(exc), headers={"Location": location})


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(request, exc.status_code, str(exc.detail), headers=exc.headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "code": e.get("type", "invalid"),
        }
        for e in exc.errors()
    ]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(request, 422, f"invalid: {fields}", errors=errors)


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # Input PostgreSQL cannot store (e.g. NUL in text) that validation let through.
    log.info("request.data_error", error=type(exc).__name__, path=request.url.path)
    return problem_response(request, 422, "a value cannot be stored")


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database.unavailable", error=type(exc).__name__, path=request.url.path)
    return problem_response(
        request, 503, "the database is unreachable; retry later", headers={"Retry-After": "5"}
    )


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app``."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(Moved, _on_moved)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(asyncpg.DataError, _on_data_error)
    for exc_type in UNAVAILABLE:
        app.add_exception_handler(exc_type, _on_unavailable)
