"""Chat model backend: any OpenAI-compatible server through LangChain's ChatOpenAI.

Errors::

    LLMError           the model failed (connection, HTTP error, bad output)
     +-- LLMTimeout    no token within settings.llm_timeout
     +-- LLMConfigError  the start-up check: server unreachable, API key refused, no such model

``check_server`` is the start-up check (``GET {base_url}/models`` with the configured key):
a chat request with a wrong key fails only when a visitor asks, and some servers (llama.cpp's
among them) answer a request for an unknown model with whatever model they have loaded, so
the model list is the one place where a wrong name shows. ``ServerCheck`` repeats it for
``/ready`` so that a server that comes up later is noticed without a restart.

The model is called in a worker thread so that a server (or a fake in tests) that hangs is
abandoned after ``llm_timeout`` seconds whatever its client library does; the caller then
falls back to the extractive answer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from assistant.config import Settings
from assistant.prompts import condense_messages
from assistant.schema import Turn
from assistant.site import SiteProfile

log = logging.getLogger(__name__)

BACKENDS = ("extractive", "openai")


class LLMError(Exception):
    """The chat model failed."""


class LLMTimeout(LLMError):
    """The chat model did not answer within the configured time."""


class LLMConfigError(LLMError):
    """The LLM server cannot serve the configured model with the configured key.

    ``reachable`` tells a configuration to fix (the server answered: wrong key, unknown model,
    wrong URL) from a server that did not answer (down, or unreachable for now).
    """

    def __init__(self, message: str, *, reachable: bool = True) -> None:
        super().__init__(message)
        self.reachable = reachable


CHECK_TIMEOUT = 5.0  # seconds for GET /models: a listing, not a generation
CHECK_OK_TTL = 10.0  # /ready re-checks a working server at most this often
CHECK_FAILED_TTL = 5.0  # ... and a failing one this often, so recovery shows within seconds


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The LangChain chat model for settings.answer_backend, or None for ``extractive``."""
    backend = settings.answer_backend
    if backend == "extractive":
        return None
    if backend == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:  # pragma: no cover - it is a declared dependency
            raise LLMError("the openai backend needs `pip install langchain-openai`") from exc
        if not settings.llm_base_url:
            raise ValueError("answer_backend=openai needs llm_base_url (KMR_LLM_BASE_URL)")
        return ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=_api_key(settings),  # type: ignore[arg-type]
            timeout=settings.llm_timeout,
            max_retries=1,
            temperature=0,
            streaming=True,
        )
    raise ValueError(f"unknown answer_backend {backend!r}; accepted values: {', '.join(BACKENDS)}")


def _api_key(settings: Settings) -> str:
    # The OpenAI client insists on a key; servers without authentication ignore this one.
    return settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"


def check_server(settings: Settings, timeout: float = CHECK_TIMEOUT) -> None:
    """Raise LLMConfigError, naming the problem and the setting to fix, unless the server at
    llm_base_url accepts the API key and lists llm_model."""
    base = (settings.llm_base_url or "").rstrip("/")
    model = settings.llm_model
    try:
        response = httpx.get(
            f"{base}/models",
            timeout=timeout,
            headers={"Authorization": f"Bearer {_api_key(settings)}"},
        )
    except httpx.HTTPError as exc:
        raise LLMConfigError(
            f"cannot reach the LLM server at {base} ({type(exc).__name__}); check "
            "KMR_LLM_BASE_URL and that the server runs",
            reachable=False,
        ) from exc
    if response.status_code in (401, 403):
        raise LLMConfigError(
            f"the LLM server at {base} refused the API key (HTTP {response.status_code}); "
            "set KMR_LLM_API_KEY to a key it accepts"
        )
    if response.status_code == 404:
        raise LLMConfigError(
            f"the LLM server at {base} has no /models endpoint (HTTP 404); KMR_LLM_BASE_URL "
            "must be the OpenAI-compatible base URL, usually ending in /v1"
        )
    if response.status_code >= 400:
        raise LLMConfigError(
            f"the LLM server at {base} answered HTTP {response.status_code} to GET /models",
            reachable=response.status_code < 500,
        )
    try:
        served = [str(item["id"]) for item in response.json()["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise LLMConfigError(
            f"the LLM server at {base} did not answer GET /models with an OpenAI model list"
        ) from exc
    if model not in served:
        raise LLMConfigError(
            f"the LLM server at {base} has no model {model!r} (KMR_LLM_MODEL); it serves: "
            f"{', '.join(served[:10]) or 'nothing'}"
        )


class ServerCheck:
    """``check_server`` for /ready: the last result, re-checked after a while (thread-safe)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._problem: LLMConfigError | None = None

    def problem(self) -> LLMConfigError | None:
        """None while the server is usable, else why not (its message names the fix)."""
        with self._lock:
            now = self._clock()
            ttl = CHECK_FAILED_TTL if self._problem else CHECK_OK_TTL
            if self._checked_at is None or now - self._checked_at >= ttl:
                try:
                    check_server(self.settings)
                    self._problem = None
                except LLMConfigError as exc:
                    self._problem = exc
                self._checked_at = now
            return self._problem


_DONE = object()


def stream_text(
    model: BaseChatModel, messages: Sequence[BaseMessage], timeout: float
) -> Iterator[str]:
    """Text chunks of the model's reply; raises LLMTimeout when it stalls for ``timeout`` s.

    The time limit applies to the first chunk and to every gap between chunks, and the whole
    reply may take at most four times as long.
    """
    chunks: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()

    def worker() -> None:
        try:
            for chunk in model.stream(list(messages)):
                if stop.is_set():
                    return
                text = chunk.content if isinstance(chunk.content, str) else _flatten(chunk.content)
                if text:
                    chunks.put(text)
            chunks.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            chunks.put(exc)

    thread = threading.Thread(target=worker, name="llm-stream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 4 * timeout
    try:
        while True:
            wait = min(timeout, deadline - time.monotonic())
            if wait <= 0:
                raise LLMTimeout(f"the language model took longer than {4 * timeout:g} s")
            try:
                item = chunks.get(timeout=wait)
            except queue.Empty:
                raise LLMTimeout(f"no reply from the language model within {timeout:g} s") from None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise LLMError(f"the language model failed: {item}") from item
            yield item
    finally:
        stop.set()


def complete(model: BaseChatModel, messages: Sequence[BaseMessage], timeout: float) -> str:
    """The whole reply as one string (same time limits as stream_text)."""
    return "".join(stream_text(model, messages, timeout))


def condense(
    model: BaseChatModel,
    question: str,
    history: Sequence[Turn],
    timeout: float,
    site: SiteProfile,
) -> str:
    """A standalone version of a follow-up question about ``site``; raises LLMError on failure."""
    text = complete(model, condense_messages(question, history, site), timeout).strip()
    text = text.strip().strip('"“”').splitlines()[0].strip() if text else ""
    if not text or len(text) > 4 * max(len(question), 80):
        raise LLMError("the language model returned no usable standalone question")
    return text


def _flatten(content: list[Any]) -> str:
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)
