"""Chat model backend: any OpenAI-compatible server through LangChain's ChatOpenAI.

Errors::

    LLMError           the model failed (connection, HTTP error, bad output)
     +-- LLMTimeout    no token within settings.llm_timeout

The model is called in a worker thread so that a server (or a fake in tests) that hangs is
abandoned after ``llm_timeout`` seconds whatever its client library does; the caller then
falls back to the extractive answer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from assistant.config import Settings
from assistant.prompts import condense_messages
from assistant.schema import Turn

log = logging.getLogger(__name__)

BACKENDS = ("extractive", "openai")


class LLMError(Exception):
    """The chat model failed."""


class LLMTimeout(LLMError):
    """The chat model did not answer within the configured time."""


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
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        return ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=key,  # type: ignore[arg-type]
            timeout=settings.llm_timeout,
            max_retries=1,
            temperature=0,
            streaming=True,
        )
    raise ValueError(
        f"unknown answer_backend {backend!r}; accepted values: {', '.join(BACKENDS)}"
    )


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
    model: BaseChatModel, question: str, history: Sequence[Turn], timeout: float
) -> str:
    """A standalone version of a follow-up question; raises LLMError on failure."""
    text = complete(model, condense_messages(question, history), timeout).strip()
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
