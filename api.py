"""The HTTP service's entry module: ``create_app``, the app factory.

``create_app(settings)`` assembles the pieces of ``assistant/web/``; its lifespan
(``assistant.web.lifespan``) loads the embedding model and opens the store once (tests
inject a ready Runtime instead). ``kmr serve`` runs ``uvicorn api:create_app --factory``
with ``assistant.web.SERVER_OPTIONS``; settings reach the workers as ``KMR_*`` variables.
Routes:

    POST /api/chat            answer with sources, or abstain          (rate limited)
    POST /api/chat/stream     the same as Server-Sent Events            (rate limited)
    GET  /api/search          ranked passages, for staff                (rate limited)
    POST /api/feedback        thumbs up/down on an answer
    POST /api/enquiries       "ask the district": the conversation to the inbox by SMTP
    DELETE /api/conversation  "forget this conversation": its rows deleted
    GET  /api/admin/...       sync, gaps report, index statistics, curated answers,
                              enquiries, top questions           (X-Admin-Key; 404 if unset)
    GET  /health, /ready, /metrics
    GET  /, /staff, /staff/directory, /widget.js   pages named for the site (SiteProfile)
    GET  /static/...

Errors are translated by ``assistant.web.handlers`` from the one tree in
``assistant.errors`` (which draws it, with its statuses and exit codes).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assistant.config import Settings
from assistant.llm import ServerCheck
from assistant.records_db import RecordsDB
from assistant.runtime import Runtime
from assistant.web.deps import RuntimeHolder, Services, get_services
from assistant.web.handlers import install_error_handlers
from assistant.web.lifespan import lifespan
from assistant.web.middleware import JSONCORSMiddleware, ServiceMiddleware
from assistant.web.models import document_limits
from assistant.web.routes import (
    admin,
    chat,
    directory,
    enquiries,
    feedback,
    ops,
    pages,
    search,
    staff,
)
from assistant.web.routes.pages import STATIC_DIR

__all__ = ["RuntimeHolder", "Services", "create_app", "get_services"]


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The service. ``runtime`` (an assistant.runtime.Runtime) is opened here when not given."""
    settings = settings or Settings()
    site = settings.site_profile()
    services = Services(
        settings=settings,
        holder=RuntimeHolder(settings, runtime),
        db=RecordsDB(settings),
        llm_check=ServerCheck(settings) if settings.answer_backend == "openai" else None,
    )
    app = FastAPI(
        title=f"{site.short_name} Assistant",
        version="0.1.0",
        description=f"Questions about the {site.name}, answered from its own pages with citations.",
        lifespan=lifespan,
    )
    app.state.services = services

    for module in (chat, search, feedback, enquiries, ops):
        app.include_router(module.router)
    app.include_router(pages.router(site))
    if settings.admin_api_key is not None:
        app.include_router(admin.router)
        app.include_router(directory.router)
        app.include_router(staff.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    _document_limits(app, settings)

    app.add_middleware(
        JSONCORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "DELETE"],  # DELETE: "forget this conversation"
        allow_headers=["Content-Type", "Accept"],
        max_age=600,
    )
    app.add_middleware(
        ServiceMiddleware, metrics=services.metrics, max_body_bytes=settings.max_body_bytes
    )
    if settings.trusted_proxies:  # outermost: every later part sees the real client
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    return app


def _document_limits(app: FastAPI, settings: Settings) -> None:
    """The OpenAPI document states this installation's chat limits."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_limits(
                build(),
                question=settings.max_question_chars,
                turns=settings.max_history_turns,
                turn=settings.max_turn_chars,
            )
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
