"""The HTTP service: app factory, routes, streaming, errors mapped to HTTP.

``create_app(settings)`` builds the FastAPI app; its lifespan loads the embedding model and
opens the store once (tests inject a ready Runtime instead). Routes:

    POST /api/chat            answer with sources, or abstain          (rate limited)
    POST /api/chat/stream     the same as Server-Sent Events            (rate limited)
    GET  /api/search          ranked passages, for staff                (rate limited)
    POST /api/feedback        thumbs up/down on an answer
    GET  /api/admin/...       sync, gaps report, index statistics      (X-Admin-Key; 404 if unset)
    GET  /health, /ready, /metrics
    GET  /, /staff, /widget.js, /static/...

Errors become JSON ``{"error": code, "detail": message, "request_id": id}``:
StoreError -> 503, UnknownMessage -> 404, JobAlreadyRunning -> 409, rate limit -> 429,
oversized body -> 413, bad input -> 422 (FastAPI's validation format), anything else -> 500
with no detail beyond the request id.
"""


import asyncio
import contextlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from fastapi.sse import format_sse_event
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.config import Settings
from assistant.jobs import JobAlreadyRunning, SyncJobs, SyncScheduler
from assistant.llm import ServerCheck
from assistant.metrics import Metrics
from assistant.records_db import DatabaseUnavailable, RecordsDB, UnknownMessage
from assistant.schema import Answer, AnswerEvent, DoneEvent, ErrorEvent, Filters, Source, Turn
from vectorstore.store import StoreError, StoreUnavailable

log = logging.getLogger("kmr.api")

STATIC_DIR = Path(str(resources.files("assistant") / "static"))
PURGE_INTERVAL_SECONDS = 3600.0
RUNTIME_RETRY_SECONDS = 5.0
ANSWER_FAILED_MESSAGE = "Sorry, the answer could not be composed. Please try again."
STORE_DOWN_MESSAGE = (
    "The knowledge base is temporarily unavailable. Please try again in a moment."
)
DB_DOWN_MESSAGE = (
    "The service is temporarily unavailable (its database does not answer). Please try again "
    "in a moment."
)
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class EventStreamResponse(StreamingResponse):
    """A text/event-stream response (FastAPI's EventSourceResponse wants generator routes)."""

    media_type = "text/event-stream"


# --- response and request models ---------------------------------------------------------
class ErrorResponse(BaseModel):
    """Every error the service returns (validation errors keep FastAPI's format)."""

    error: str = Field(description="Stable machine-readable code, e.g. rate_limited.")
    detail: str = Field(description="Human-readable explanation.")
    request_id: str | None = None


class ChatResponse(BaseModel):
    """An answer with its cited sources, or an abstention with the district's contacts."""

    message_id: str = Field(description="Id to send feedback about this answer.")
    answer: str
    sources: list[Source]
    language: str
    abstained: bool
    backend: str
    notice: str | None = None


class SearchHit(BaseModel):
    """A passage of the index with its source metadata."""

    id: str
    title: str
    url: str
    source_id: str
    language: str
    page_type: str
    heading: str
    score: float
    text: str


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]


class FeedbackRequest(BaseModel):
    message_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="From a chat answer.")
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    status: Literal["recorded"] = "recorded"


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    status: Literal["ready", "unavailable"]
    model_loaded: bool
    store: Literal["ok", "unreachable"]
    database: Literal["ok", "unreachable"] = "ok"
    # None: extractive backend. "unreachable" alone keeps the service ready (answers fall back
    # to the extractive engine); "misconfigured" (key refused, unknown model) does not.
    llm: Literal["ok", "unreachable", "misconfigured"] | None = None
    detail: str | None = None


class SyncStatus(BaseModel):
    id: str | None
    status: Literal["idle", "running", "succeeded", "failed"]
    sources: list[str]
    full: bool
    started_at: str | None
    finished_at: str | None
    progress: dict[str, Any]
    error: str | None
    trigger: str | None = Field(None, description="What started it: admin or schedule.")
    schedule: dict[str, Any] | None = Field(None, description="KMR_SYNC_INTERVAL's schedule.")


class SyncRequest(BaseModel):
    full: bool = Field(False, description="Re-read everything and drop documents no longer "
                       "in the sources.")


class GapGroupModel(BaseModel):
    question: str = Field(description="The latest wording of the group.")
    count: int
    refused: int
    rated_down: int
    last_asked: str
    examples: list[str]
    languages: list[str]
    comments: list[str]


class GapsResponse(BaseModel):
    days: int
    groups: list[GapGroupModel]


class StatsResponse(BaseModel):
    chunks: int
    collection: str
    embedding_model: str
    index: dict[str, Any] = Field(description="Collection metadata (generation, last sync).")
    sources: list[str]
    conversations: dict[str, int]
    last_sync: dict[str, Any] | None


def chat_request_model(settings: Settings) -> type[BaseModel]:
    """The chat body, with this installation's limits in its schema."""

    class ChatRequest(BaseModel):
        question: str = Field(min_length=1, max_length=settings.max_question_chars)
        history: list[Turn] = Field(
            default_factory=list, max_length=settings.max_history_turns,
            description="Earlier turns of this conversation, oldest first.",
        )
        language: Literal["it", "en"] | None = Field(
            None, description="Answer language; detected from the question when absent."
        )
        page_url: str | None = Field(
            None, max_length=2048, description="The page the visitor is on (http or https)."
        )

    return ChatRequest


# --- the running parts -------------------------------------------------------------------
class RuntimeHolder:
    """Opens the runtime once; while the store cannot be opened, retries now and then."""

    def __init__(self, settings: Settings, runtime: Any | None = None) -> None:
        self.settings = settings
        self._runtime = runtime
        self._embeddings: Any = runtime.embeddings if runtime is not None else None
        self._lock = threading.Lock()
        self._last_attempt = 0.0
        self._last_error = ""
        self.model_loaded = False

    def load_model(self) -> None:
        """Load the embedding model now, so the first question does not pay for it."""
        if self._embeddings is None:
            from vectorstore.embeddings import load_embeddings

            self._embeddings = load_embeddings(self.settings)
        load = getattr(self._embeddings, "load", None)
        if callable(load):
            load()
        self.model_loaded = True

    def get(self) -> Any:
        """The Runtime; raises StoreUnavailable while the store cannot be opened."""
        if self._runtime is not None:
            return self._runtime
        with self._lock:
            if self._runtime is not None:
                return self._runtime
            if time.monotonic() - self._last_attempt < RUNTIME_RETRY_SECONDS and self._last_error:
                raise StoreUnavailable(self._last_error)
            self._last_attempt = time.monotonic()
            from assistant.runtime import open_runtime

            try:
                self._runtime = open_runtime(self.settings, self._embeddings)
            except StoreError as exc:
                self._last_error = str(exc)
                raise
            return self._runtime

    @property
    def embeddings(self) -> Any:
        return self._embeddings


@dataclass
class Services:
    """What routes need, built once per app."""

    settings: Settings
    holder: RuntimeHolder
    db: RecordsDB
    metrics: Metrics = field(default_factory=Metrics)
    jobs: SyncJobs = field(default_factory=SyncJobs)
    llm_check: ServerCheck | None = None  # the openai backend's start-up check, for /ready

    def runtime(self) -> Any:
        return self.holder.get()


async def get_services(request: Request) -> Services:
    # async: a sync dependency would cost every request a trip through the thread pool
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str:
    """The rate-limit key and the (hashed) client identity."""
    return request.client.host if request.client else "unknown"


def _json_error(status: int, error: str, detail: str, request: Request | None = None,
                headers: dict[str, str] | None = None) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    body = ErrorResponse(error=error, detail=detail, request_id=request_id)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["sources", "delta", "done", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "description": "sources: {sources: [Source]}; delta: {text}; done: "
                 "ChatResponse; error: {message}."},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not JSON text."},
    413: {"model": ErrorResponse, "description": "Request body too large."},
    429: {"model": ErrorResponse, "description": "Too many requests from this client."},
    503: {"model": ErrorResponse, "description": "The knowledge base is unavailable."},
}


# --- routes ------------------------------------------------------------------------------
def _record(services: Services, request: Request, question: str, answer: Answer,
            page_url: str | None, started: float, message_id: str) -> None:
    """Count the exchange and queue it for the database (written off the request path).

    A database hiccup must not cost the visitor the answer.
    """
    services.metrics.observe_answer(answer)
    if page_url and not page_url.startswith(("http://", "https://")):
        page_url = None
    try:
        services.db.queue_answer(
            question, answer, client=client_address(request), page_url=page_url,
            duration_ms=(time.perf_counter() - started) * 1000, message_id=message_id,
        )
    except SQLAlchemyError:
        log.exception("could not record message %s", message_id)


def _chat_response(message_id: str, answer: Answer) -> ChatResponse:
    return ChatResponse(
        message_id=message_id, answer=answer.text, sources=answer.sources,
        language=answer.language, abstained=answer.abstained, backend=answer.backend,
        notice=answer.notice,
    )


def _json(model: BaseModel) -> Response:
    """A model already built by the route, serialised once.

    Returning a Response skips FastAPI's re-validation of the returned model, which for a
    sync route is one more trip through the thread pool; ``response_model`` still documents it.
    """
    return Response(model.model_dump_json(), media_type="application/json")


def raise_answer_failure(runtime: Any, event: ErrorEvent) -> None:
    """The assistant reported a failure: a 503 if the store is down, else an internal error.

    The event's message may hold exception text, so it is logged, never sent.
    """
    log.error("answer failed: %s", event.message)
    runtime.store.ping()  # raises StoreUnavailable -> 503
    raise AnswerFailed(event.message)


class AnswerFailed(Exception):
    """The assistant could not compose an answer although the store answers (-> 500)."""


def _sse(kind: str, payload: dict[str, Any]) -> bytes:
    return format_sse_event(event=kind, data_str=json.dumps(payload, ensure_ascii=False))


async def _replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    """Already encoded events, sent one by one from the event loop."""
    for chunk in chunks:
        yield chunk


def api_router(settings: Settings, limiter: Limiter) -> APIRouter:
    """Public API routes; built per app because limits and schemas follow the settings."""
    router = APIRouter(prefix="/api", tags=["assistant"])
    ChatRequest = chat_request_model(settings)  # noqa: N806 - a class
    rate = settings.rate_limit

    @router.post("/chat", response_model=ChatResponse, responses=ERROR_RESPONSES)
    @limiter.shared_limit(rate, scope="chat")
    def chat(request: Request, body: ChatRequest, services: ServicesDep) -> Response:  # type: ignore[valid-type]
        """Answer a question about the district, citing its sources, or abstain."""
        started = time.perf_counter()
        services.db.ping()  # DatabaseUnavailable -> 503: an answer we cannot record
        runtime = services.runtime()
        events = runtime.assistant.stream(body.question, body.history, None, body.language)
        answer = None
        for event in events:
            if isinstance(event, DoneEvent):
                answer = event.answer
            elif isinstance(event, ErrorEvent):
                raise_answer_failure(runtime, event)
        if answer is None:
            raise RuntimeError("the assistant ended without an answer")
        message_id = uuid.uuid4().hex
        _record(services, request, body.question, answer, body.page_url, started, message_id)
        return _json(_chat_response(message_id, answer))

    @router.post(
        "/chat/stream",
        response_class=StreamingResponse,  # no media type: the content below is the only one
        responses={
            **ERROR_RESPONSES,
            200: {
                "description": "Server-Sent Events: `sources` ({sources}), then `delta` "
                "({text}) events, then `done` (the full ChatResponse) or `error` ({message}).",
                "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
            },
        },
    )
    @limiter.shared_limit(rate, scope="chat")
    def chat_stream(request: Request, body: ChatRequest, services: ServicesDep) -> Response:  # type: ignore[valid-type]
        """Answer as a stream of Server-Sent Events: sources, text deltas, then done."""
        started = time.perf_counter()
        services.db.ping()  # DatabaseUnavailable -> 503: an answer we cannot record
        runtime = services.runtime()
        events = iter(runtime.assistant.stream(body.question, body.history, None, body.language))
        # The first event is computed here, so an unreachable store is a clean 503.
        first = next(events, None)
        if isinstance(first, ErrorEvent):
            raise_answer_failure(runtime, first)
        message_id = uuid.uuid4().hex
        request_id = getattr(request.state, "request_id", None)

        def encode(event: AnswerEvent) -> bytes:
            if isinstance(event, DoneEvent):
                _record(services, request, body.question, event.answer, body.page_url,
                        started, message_id)
                return _sse("done", _chat_response(message_id, event.answer).model_dump())
            if isinstance(event, ErrorEvent):
                log.error("answer failed mid-stream (request %s): %s", request_id, event.message)
                return _sse("error", {"message": ANSWER_FAILED_MESSAGE})
            return _sse(event.type, event.model_dump(exclude={"type"}))

        def body_bytes() -> Iterator[bytes]:
            if first is None:
                return
            yield encode(first)
            try:
                for event in events:
                    yield encode(event)
            except StoreError:
                yield _sse("error", {"message": STORE_DOWN_MESSAGE})
            except Exception:
                log.exception("stream failed (request %s)", request_id)
                yield _sse("error", {"message": f"Internal error (request {request_id})."})

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        if runtime.assistant.chat_model is None:
            # Extractive: the whole answer exists once the first event does, so encode the
            # rest here rather than paying a thread-pool trip per event; still one SSE event
            # per chunk on the wire.
            return EventStreamResponse(_replay(list(body_bytes())), headers=headers)
        return EventStreamResponse(body_bytes(), headers=headers)

    @router.get("/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
    @limiter.limit(rate)
    def search(
        request: Request,
        services: ServicesDep,
        q: Annotated[str, Query(min_length=1, max_length=settings.max_question_chars,
                                description="What to look for.")],
        language: Annotated[Literal["it", "en"] | None, Query()] = None,
        page_type: Annotated[str | None, Query(max_length=64,
                                               description="e.g. partner, news, faq")] = None,
        url_prefix: Annotated[str | None, Query(max_length=2048)] = None,
        k: Annotated[int | None, Query(ge=1, le=50)] = None,
    ) -> Response:
        """Ranked passages of the index with their source metadata, for staff."""
        runtime = services.runtime()
        filters = Filters(language=language, page_type=page_type or None,
                          url_prefix=url_prefix or None)
        passages = runtime.searcher.search(q, k=k, filters=filters)
        hits = [SearchHit(**passage.model_dump(exclude={"source_id"}),
                          source_id=passage.source_id) for passage in passages]
        return _json(SearchResponse(query=q, results=hits))

    @router.post("/feedback", response_model=FeedbackResponse,
                 responses={404: {"model": ErrorResponse, "description": "Unknown message."},
                            400: ERROR_RESPONSES[400], 413: ERROR_RESPONSES[413]})
    def feedback(body: FeedbackRequest, services: ServicesDep) -> FeedbackResponse:
        """Rate an answer up or down, with an optional comment."""
        services.db.record_feedback(body.message_id, body.rating, body.comment)
        services.metrics.feedback.labels(body.rating).inc()
        return FeedbackResponse()

    return router


admin_key_header = APIKeyHeader(name="X-Admin-Key", auto_error=False,
                                description="The admin key (settings.admin_api_key).")


def require_admin(request: Request,
                  key: Annotated[str | None, Depends(admin_key_header)] = None) -> None:
    """Constant-time check of the X-Admin-Key header."""
    expected = request.app.state.services.settings.admin_api_key
    if expected is None:  # routes are not mounted then; belt and braces
        raise HTTPException(404, "Not Found")
    if not key or not hmac.compare_digest(
        key.encode("utf-8", "replace"), expected.get_secret_value().encode()
    ):
        raise HTTPException(401, "A valid X-Admin-Key header is required.")


def admin_router() -> APIRouter:
    """Admin routes, mounted only when an admin key is configured."""
    router = APIRouter(
        prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)],
        responses={401: {"model": ErrorResponse, "description": "Missing or wrong admin key."}},
    )

    @router.post("/sync", response_model=SyncStatus, status_code=202,
                 responses={409: {"model": ErrorResponse, "description": "A sync is running."},
                            400: ERROR_RESPONSES[400], 413: ERROR_RESPONSES[413],
                            503: ERROR_RESPONSES[503]})
    def start_sync(services: ServicesDep, body: SyncRequest | None = None) -> dict[str, Any]:
        """Start a sync of the configured sources in the background."""
        runtime = services.runtime()
        job = services.jobs.start(services.settings, runtime.store,
                                  full=bool(body and body.full))
        return job.as_dict()

    @router.get("/sync", response_model=SyncStatus)
    def sync_status(services: ServicesDep) -> dict[str, Any]:
        """Progress of the running sync, or the result of the last one."""
        return services.jobs.status()

    @router.get("/gaps", response_model=GapsResponse)
    def gaps(
        services: ServicesDep,
        days: Annotated[int, Query(ge=1, le=3650)] = 30,
        threshold: Annotated[float, Query(ge=0.5, le=1.0,
                                          description="Cosine similarity to group.")] = 0.9,
    ) -> GapsResponse:
        """Questions refused or rated down, grouped by similarity, most frequent first."""
        services.holder.load_model()
        groups = services.db.gaps_report(services.holder.embeddings.embed_documents,
                                         days=days, threshold=threshold)
        return GapsResponse(days=days, groups=[GapGroupModel(**g.as_dict()) for g in groups])

    @router.get("/stats", response_model=StatsResponse, responses={503: ERROR_RESPONSES[503]})
    def stats(services: ServicesDep) -> StatsResponse:
        """Index statistics: chunks, model, last sync, and conversation counts."""
        runtime = services.runtime()
        info = {k: v for k, v in runtime.store.info().items() if not k.startswith("hnsw:")}
        return StatsResponse(
            chunks=runtime.store.count(), collection=services.settings.collection_name,
            embedding_model=services.settings.embedding_model, index=info,
            sources=list(services.settings.sources), conversations=services.db.counts(),
            last_sync=_last_sync(services.settings),
        )

    return router


def _last_sync(settings: Settings) -> dict[str, Any] | None:
    try:
        from ingest.sync import last_run

        return last_run(settings)
    except Exception:  # the ledger is optional for statistics
        log.warning("could not read the last sync run", exc_info=True)
        return None


ops_router = APIRouter(tags=["operations"])


@ops_router.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    """The process is alive."""
    return HealthResponse()


@ops_router.get("/ready", response_model=ReadyResponse,
                responses={503: {"model": ReadyResponse, "description": "Not ready."}})
def ready(services: ServicesDep) -> JSONResponse:
    """The model is loaded and the store answers."""
    try:
        services.runtime().store.ping()
    except StoreError as exc:
        log.warning("not ready: %s", exc)
        body = ReadyResponse(status="unavailable", model_loaded=services.holder.model_loaded,
                             store="unreachable", detail=STORE_DOWN_MESSAGE)
        return JSONResponse(body.model_dump(), status_code=503)
    loaded = services.holder.model_loaded
    try:
        services.db.ping()
    except DatabaseUnavailable as exc:
        log.warning("not ready: service database: %s", exc)
        body = ReadyResponse(status="unavailable", model_loaded=loaded, store="ok",
                             database="unreachable", detail=DB_DOWN_MESSAGE)
        return JSONResponse(body.model_dump(), status_code=503)
    problem = services.llm_check.problem() if services.llm_check is not None else None
    llm_state: Literal["ok", "unreachable", "misconfigured"] | None = None
    if services.llm_check is not None:
        llm_state = "ok" if problem is None else "unreachable" if not problem.reachable \
            else "misconfigured"
    if problem is not None and problem.reachable:
        body = ReadyResponse(status="unavailable", model_loaded=loaded, store="ok",
                             llm=llm_state, detail=f"LLM: {problem}")
        return JSONResponse(body.model_dump(), status_code=503)
    detail = None if loaded else "The model is loading."
    if problem is not None and loaded:
        detail = f"LLM: {problem} (answers fall back to the extractive engine)"
    body = ReadyResponse(status="ready" if loaded else "unavailable", model_loaded=loaded,
                         store="ok", llm=llm_state, detail=detail)
    return JSONResponse(body.model_dump(), status_code=200 if loaded else 503)


@ops_router.get("/metrics", response_class=Response,
                responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                                 "description": "Prometheus exposition format."}})
def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics: requests, latency, answers, refusals, feedback."""
    return Response(services.metrics.render(), media_type=services.metrics.content_type)


pages_router = APIRouter(include_in_schema=False)


@pages_router.get("/")
def demo_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")


@pages_router.get("/staff")
def staff_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "staff.html", media_type="text/html; charset=utf-8")


@pages_router.get("/widget.js")
def widget_script() -> FileResponse:
    # Any site may embed the widget: let browsers load it cross-origin.
    return FileResponse(
        STATIC_DIR / "widget.js", media_type="text/javascript; charset=utf-8",
        headers={"Cross-Origin-Resource-Policy": "cross-origin",
                 "Cache-Control": "public, max-age=300"},
    )


class BodyTooLarge(StarletteHTTPException):
    """Raised while reading a body past max_body_bytes; answered as a 413 JSON error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body over {limit} bytes.")


# --- middleware --------------------------------------------------------------------------
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
                if (content_type.startswith(b"text/html") and b"content-security-policy" not in existing
                        and not scope["path"].startswith(("/docs", "/redoc"))):
                    extra += [(b"content-security-policy", PAGE_CSP.encode()),
                              (b"x-frame-options", b"DENY")]
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
                    ErrorResponse(error="body_too_large", request_id=request_id,
                                  detail=BodyTooLarge(self.max_body_bytes).detail)
                    .model_dump(), status_code=413)
                await response(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive_limited, send_wrapper)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], label, status_holder["status"],
                                         time.perf_counter() - started)


# --- exception handlers ------------------------------------------------------------------
_ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "body_too_large",
                415: "unsupported_media_type", 429: "rate_limited", 503: "unavailable"}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _ERROR_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette lists only the first matching route's methods
            documented = request.app.openapi()["paths"].get(request.url.path, {})
            if documented:
                headers["Allow"] = ", ".join(sorted(m.upper() for m in documented))
        return _json_error(exc.status_code, code, detail, request, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors, "error": "invalid_request",
                             "request_id": getattr(request.state, "request_id", None)},
                            status_code=422)

    @app.exception_handler(RateLimitExceeded)
    async def rate_limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
        request.app.state.services.metrics.rate_limited.inc()
        return _json_error(429, "rate_limited",
                           f"Too many requests: the limit is {exc.detail}. Please wait.",
                           request, headers={"Retry-After": "60"})

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> JSONResponse:
        log.warning("store error on %s: %s", request.url.path, exc)
        return _json_error(503, "store_unavailable", STORE_DOWN_MESSAGE, request,
                           headers={"Retry-After": "5"})

    @app.exception_handler(DatabaseUnavailable)
    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("service database unavailable on %s: %s", request.url.path, exc)
        return _json_error(503, "database_unavailable", DB_DOWN_MESSAGE, request,
                           headers={"Retry-After": "5"})

    @app.exception_handler(OperationalError)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        # A lost connection is a 503; a broken schema in a database that answers is a bug.
        try:
            await run_in_threadpool(request.app.state.services.db.ping, fresh=True)
        except DatabaseUnavailable:
            return await database_down(request, exc)
        raise exc  # to the catch-all handler below: a 500 that hides the details

    @app.exception_handler(UnknownMessage)
    async def unknown_message(request: Request, exc: UnknownMessage) -> JSONResponse:
        return _json_error(404, "unknown_message",
                           "No answer with this message id (it may have expired).", request)

    @app.exception_handler(JobAlreadyRunning)
    async def sync_running(request: Request, exc: JobAlreadyRunning) -> JSONResponse:
        return _json_error(409, "sync_running", f"Sync {exc} is still running.", request)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
        log.error("unhandled error (request %s)", request_id, exc_info=exc)
        return JSONResponse(
            ErrorResponse(error="internal_error", request_id=request_id,
                          detail=f"Internal error. Quote request id {request_id} if you report it.")
            .model_dump(), status_code=500, headers={"X-Request-ID": request_id})


# --- the factory -------------------------------------------------------------------------
async def _purge_periodically(db: RecordsDB) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        try:
            removed = await run_in_threadpool(db.purge)
            log.info("retention purge removed %d rows", removed)
        except SQLAlchemyError:
            log.exception("retention purge failed")


def create_app(settings: Settings | None = None, *, runtime: Any | None = None) -> FastAPI:
    """The service. ``runtime`` (an assistant.runtime.Runtime) is opened here when not given."""
    settings = settings or Settings()
    holder = RuntimeHolder(settings, runtime)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: Services = app.state.services
        await run_in_threadpool(holder.load_model)
        try:
            await run_in_threadpool(lambda: holder.get().warm())
        except StoreError as exc:  # serve anyway: /ready says 503 and we retry on demand
            log.error("store unavailable at start: %s", exc)
        if services.llm_check is not None:
            problem = await run_in_threadpool(services.llm_check.problem)
            if problem:  # serve anyway (extractive fallback); /ready says why
                log.error("LLM not usable: %s", problem)
        try:
            removed = await run_in_threadpool(services.db.purge)
            log.info("retention purge removed %d rows", removed)
        except SQLAlchemyError as exc:  # serve anyway: /ready and chat say 503 until it answers
            log.error("service database unavailable at start: %s", exc)
        scheduler = None
        if settings.sync_interval:
            scheduler = SyncScheduler(services.jobs, settings, lambda: holder.get().store,
                                      settings.sync_interval)
            scheduler.start()
        purger = asyncio.create_task(_purge_periodically(services.db))
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            services.db.close()

    app = FastAPI(
        title="Kilometro Rosso Assistant",
        version="0.1.0",
        description="Questions about the Kilometro Rosso Innovation District, answered from "
        "its own pages with citations.",
        lifespan=lifespan,
    )
    limiter = Limiter(key_func=client_address, headers_enabled=False)
    services = Services(settings=settings, holder=holder, db=RecordsDB(settings),
                        llm_check=ServerCheck(settings) if settings.answer_backend == "openai"
                        else None)
    app.state.services = services
    app.state.limiter = limiter

    app.include_router(api_router(settings, limiter))
    if settings.admin_api_key is not None:
        app.include_router(admin_router())
    app.include_router(ops_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _install_error_handlers(app)

    app.add_middleware(
        CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
        allow_methods=["GET", "POST"], allow_headers=["Content-Type", "Accept"], max_age=600,
    )
    app.add_middleware(ServiceMiddleware, metrics=services.metrics,
                       max_body_bytes=settings.max_body_bytes)
    return app


# --- running it --------------------------------------------------------------------------
def _settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as KMR_* variables, for worker processes that rebuild them."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(exclude_unset=False).items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"KMR_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return env


def serve(settings: Settings) -> None:
    """Run the service with uvicorn (host, port and workers from the settings)."""
    import os

    import uvicorn

    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.workers > 1:
        # Workers are separate processes: they rebuild the settings from the environment.
        os.environ.update(_settings_environment(settings))
        uvicorn.run("api:create_app", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, log_level=settings.log_level.lower())
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                    log_level=settings.log_level.lower())
