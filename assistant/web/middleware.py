"""Middleware: request ids, timing, security headers, the body size limit, CORS in JSON.

``ServiceMiddleware`` wraps every HTTP request: it gives it an id (``X-Request-ID``, or the
client's own when well formed), reports the server time (``Server-Timing``,
``X-Process-Time``), counts it in the metrics, adds security headers (a strict CSP on HTML
pages) and refuses bodies over ``max_body_bytes`` with a JSON 413, whether or not they
declare a Content-Length. ``JSONCORSMiddleware`` is Starlette's CORS with its refusals in
the service's JSON error format.
"""

from __future__ import annotations

import re
import time
import uuid

from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.metrics import Metrics
from assistant.web.models import ErrorResponse

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(StarletteHTTPException):
    """Raised while reading a body past max_body_bytes; answered as a 413 JSON error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body over {limit} bytes.")


class ServiceMiddleware:
    """Request id, server timing, metrics, security headers, and early 413 on Content-Length."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                elapsed = time.perf_counter() - started
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"server-timing", f"app;dur={elapsed * 1000:.2f}".encode()),
                    (b"x-process-time", f"{elapsed:.6f}".encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                ]
                existing = {k.lower() for k, _ in message.get("headers", [])}
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                # FastAPI's /docs pages load their scripts from a CDN: they keep their own rules.
                if (
                    content_type.startswith(b"text/html")
                    and b"content-security-policy" not in existing
                    and not scope["path"].startswith(("/docs", "/redoc"))
                ):
                    extra += [
                        (b"content-security-policy", PAGE_CSP.encode()),
                        (b"x-frame-options", b"DENY"),
                    ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            # Counted as it arrives, so chunked bodies without Content-Length are bounded too.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        declared = headers.get(b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                response = JSONResponse(
                    ErrorResponse(
                        error="body_too_large",
                        request_id=request_id,
                        detail=BodyTooLarge(self.max_body_bytes).detail,
                    ).model_dump(),
                    status_code=413,
                )
                await response(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive_limited, send_wrapper)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], label, status_holder["status"], time.perf_counter() - started
            )


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the service's JSON format."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = bytes(response.body).decode("utf-8", "replace")  # e.g. "Disallowed CORS origin"
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-type")
        }
        return JSONResponse(
            ErrorResponse(error="cors_rejected", detail=detail).model_dump(),
            status_code=response.status_code,
            headers=headers,
        )
