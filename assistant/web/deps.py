"""What routes receive: the app's ``Services`` and typed ``Annotated`` dependencies.

Routes declare ``services: ServicesDep``, ``runtime: RuntimeDep``, ``body: ChatBody`` and so
on; tests override ``get_services`` instead of patching modules.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from langchain_core.embeddings import Embeddings
from starlette.exceptions import HTTPException

from assistant.config import Settings
from assistant.jobs import SyncJobs
from assistant.llm import ServerCheck
from assistant.metrics import Metrics
from assistant.records_db import RecordsDB
from assistant.runtime import Runtime
from assistant.web.limits import RateLimiter
from assistant.web.models import ChatRequest
from assistant.web.staff_loop import StaffLoop
from vectorstore.store import StoreError, StoreUnavailable

RUNTIME_RETRY_SECONDS = 5.0  # while the store cannot be opened, try again at most this often


class RuntimeHolder:
    """Opens the runtime once; while the store cannot be opened, retries now and then."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self._runtime = runtime
        self._embeddings: Embeddings | None = runtime.embeddings if runtime is not None else None
        self._lock = threading.Lock()
        self._last_attempt = 0.0
        self._last_error = ""
        self.model_loaded = False

    def load_model(self) -> None:
        """Load the embedding model now, so the first question does not pay for it."""
        if self._embeddings is None:
            from vectorstore.embeddings import load_embeddings

            self._embeddings = load_embeddings(self.settings.embedding_options())
        load = getattr(self._embeddings, "load", None)
        if callable(load):
            load()
        self.model_loaded = True

    @property
    def opened(self) -> Runtime | None:
        """The runtime if it was opened (None: never, or the store was down)."""
        return self._runtime

    def get(self) -> Runtime:
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
    def embeddings(self) -> Embeddings:
        """The embedding model (loaded by ``load_model`` first)."""
        if self._embeddings is None:
            self.load_model()
        assert self._embeddings is not None
        return self._embeddings


@dataclass
class Services:
    """What routes need, built once per app."""

    settings: Settings
    holder: RuntimeHolder
    db: RecordsDB
    metrics: Metrics = field(default_factory=Metrics)
    jobs: SyncJobs = field(default_factory=SyncJobs)
    limiter: RateLimiter | None = None
    llm_check: ServerCheck | None = None  # the openai backend's start-up check, for /ready
    staff: StaffLoop = field(init=False)  # curated answers, enquiries (opened on first use)

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = RateLimiter(self.settings.rate_limit)
        self.staff = StaffLoop(self.settings, self.db, lambda: self.holder.embeddings)

    def runtime(self) -> Runtime:
        return self.holder.get()


async def get_services(request: Request) -> Services:
    """The app's services (async: a sync dependency costs a trip through the thread pool)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_runtime(services: ServicesDep) -> Runtime:
    """The opened runtime; StoreUnavailable (503) while the store cannot be opened."""
    return services.runtime()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_address(request: Request) -> str:
    """The client for the rate limit and the hashed identity: the connection's peer, which
    the app's proxy middleware has replaced by X-Forwarded-For's client only when the peer
    is one of ``settings.trusted_proxies``."""
    return request.client.host if request.client else "unknown"


ClientDep = Annotated[str, Depends(client_address)]


async def chat_rate(client: ClientDep, services: ServicesDep) -> None:
    """Chat and its stream share one budget per client."""
    assert services.limiter is not None
    services.limiter.hit("chat", client)


async def search_rate(client: ClientDep, services: ServicesDep) -> None:
    assert services.limiter is not None
    services.limiter.hit("search", client)


async def enquiry_rate(client: ClientDep, services: ServicesDep) -> None:
    """Enquiries have their own, much smaller budget (``enquiry_rate_limit``)."""
    services.staff.enquiry_limiter.hit("enquiry", client)


async def forget_rate(client: ClientDep, services: ServicesDep) -> None:
    """Forgetting shares the chat budget's size, in a scope of its own."""
    assert services.limiter is not None
    services.limiter.hit("forget", client)


def staff_name(
    name: Annotated[
        str,
        Header(
            alias="X-Staff-Name",
            min_length=1,
            max_length=600,
            description="Who makes the change (recorded with it); may be percent-encoded "
            "UTF-8, as encodeURIComponent gives.",
        ),
    ],
) -> str:
    """The author of a staff change, from X-Staff-Name (percent-decoded, one line)."""
    text = " ".join(unquote(name).split())[:200]
    if not text:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("header", "X-Staff-Name"), "msg": "Field required"}]
        )
    return text


StaffName = Annotated[str, Depends(staff_name)]


def _too_long(loc: tuple[str | int, ...], limit: int, what: str, value: object) -> dict:
    kind = "too_long" if what == "items" else "string_too_long"
    return {
        "type": kind,
        "loc": loc,
        "input": value,
        "msg": f"{'List' if what == 'items' else 'String'} should have at most {limit} {what}",
    }


async def chat_body(body: ChatRequest, services: ServicesDep) -> ChatRequest:
    """The chat body within this installation's limits (else a 422 like any other)."""
    settings = services.settings
    problems = []
    if len(body.question) > settings.max_question_chars:
        problems.append(
            _too_long(
                ("body", "question"), settings.max_question_chars, "characters", body.question
            )
        )
    if len(body.history) > settings.max_history_turns:
        problems.append(
            _too_long(("body", "history"), settings.max_history_turns, "items", len(body.history))
        )
    for index, turn in enumerate(body.history):
        if len(turn.content) > settings.max_turn_chars:
            problems.append(
                _too_long(
                    ("body", "history", index, "content"),
                    settings.max_turn_chars,
                    "characters",
                    "...",
                )
            )
    if problems:
        raise RequestValidationError(problems)
    return body


ChatBody = Annotated[ChatRequest, Depends(chat_body)]

admin_key_header = APIKeyHeader(
    name="X-Admin-Key", auto_error=False, description="The admin key (settings.admin_api_key)."
)


def require_admin(
    services: ServicesDep, key: Annotated[str | None, Depends(admin_key_header)] = None
) -> None:
    """Constant-time check of the X-Admin-Key header."""
    expected = services.settings.admin_api_key
    if expected is None:  # routes are not mounted then; belt and braces
        raise HTTPException(404, "Not Found")
    if not key or not hmac.compare_digest(
        key.encode("utf-8", "replace"), expected.get_secret_value().encode()
    ):
        raise HTTPException(401, "A valid X-Admin-Key header is required.")
