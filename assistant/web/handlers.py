"""The error tree of ``assistant.errors`` translated to JSON responses, once for the app.

Every error body is ``{"error", "detail", "request_id"}`` (validation errors add FastAPI's
``detail`` list of problems). 5xx details are fixed public sentences; the exception itself is
logged with the request id, never sent.
"""

from __future__ import annotations

import logging
import re
import uuid
from functools import partial

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from assistant.errors import error_classes, kind_of
from assistant.records_db import DatabaseUnavailable
from assistant.web.models import ErrorResponse

log = logging.getLogger("kmr.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def json_error(
    status: int,
    error: str,
    detail: str,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error response in the service's one format."""
    request_id = request_id_of(request) if request is not None else None
    body = ErrorResponse(error=error, detail=detail, request_id=request_id)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _parameter(integers: set[str], match: re.Match[str]) -> str:
    """The regular expression a path template's parameter stands for."""
    return r"\d+" if match.group(1) in integers else r"[^/]+"


PathMethods = tuple[re.Pattern[str], frozenset[str], bool]  # path pattern, methods, literal


def _documented_paths(app: FastAPI) -> list[PathMethods]:
    """Each OpenAPI path as a pattern with its methods, built once per app (on its first 405)
    and kept in ``app.state``: the document does not change while the app runs."""
    table: list[PathMethods] | None = getattr(app.state, "documented_paths", None)
    if table is not None:
        return table
    table = []
    for template, operations in app.openapi()["paths"].items():
        integers = {
            parameter["name"]
            for operation in operations.values()
            for parameter in operation.get("parameters", ())
            if parameter.get("in") == "path"
            and parameter.get("schema", {}).get("type") == "integer"
        }
        pattern = re.sub(r"\\\{(\w+)\\\}", partial(_parameter, integers), re.escape(template))
        methods = frozenset(method.upper() for method in operations)
        table.append((re.compile(pattern), methods, "{" not in template))
    app.state.documented_paths = table
    return table


def allowed_methods(request: Request) -> set[str]:
    """The documented methods of the OpenAPI path matching the request's path: a literal one
    if any, else every matching template (an integer parameter matches digits only, as its
    route's convertor does)."""
    literal: set[str] = set()
    templated: set[str] = set()
    for pattern, methods, is_literal in _documented_paths(request.app):
        if pattern.fullmatch(request.scope["path"]):
            (literal if is_literal else templated).update(methods)
    return literal or templated  # a literal path wins over a template, as in the routing


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own HTTP errors (404, 405, 401 from the admin check...)."""
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette lists only the first matching route's methods
        documented = allowed_methods(request)
        if documented:
            headers["Allow"] = ", ".join(sorted(documented))
    return json_error(exc.status_code, code, detail, request, headers=headers or None)


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 with the list of problems (location, message, type), never the input echoed."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse(
        {"detail": errors, "error": "invalid_request", "request_id": request_id_of(request)},
        status_code=422,
    )


async def service_error(request: Request, exc: Exception) -> JSONResponse:
    """Any other error, by its place in the tree (unknown ones are internal errors)."""
    kind = kind_of(exc)
    request_id = request_id_of(request) or uuid.uuid4().hex
    if kind.http_status >= 500:
        if kind.code == "internal_error":
            log.error("unhandled error (request %s)", request_id, exc_info=exc)
        else:
            log.warning("%s on %s (request %s): %s", kind.code, request.url.path, request_id, exc)
    if kind.code == "rate_limited":
        request.app.state.services.metrics.rate_limited.inc()
    detail = kind.public_detail or (str(exc) if kind.http_status < 500 else None)
    if detail is None:
        detail = f"Internal error. Quote request id {request_id} if you report it."
    headers = {"X-Request-ID": request_id}
    retry_after = getattr(exc, "retry_after", None) or kind.retry_after
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    body = ErrorResponse(error=kind.code, detail=detail, request_id=request_id)
    return JSONResponse(body.model_dump(), status_code=kind.http_status, headers=headers)


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database error: a 503 when the database no longer answers (a lost connection), else
    the error as it is (a broken schema in a database that answers is a bug: 500)."""
    try:
        await run_in_threadpool(request.app.state.services.db.ping, fresh=True)
    except DatabaseUnavailable as down:
        return await service_error(request, down)
    raise exc  # to the catch-all handler: a 500 that hides the details


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations on ``app``."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for cls in error_classes():  # answered here, not re-raised to the server's log
        app.add_exception_handler(cls, service_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, service_error)
