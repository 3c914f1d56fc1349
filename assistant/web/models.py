"""Request and response bodies of the HTTP API, built from the core types (no copies).

Answers are ``assistant.schema.Answer`` with a message id (the text travels as ``answer``),
search hits are ``Passage``, gap groups are ``records_db.GapGroup``, statistics are
``assistant.stats.IndexStats`` (what ``kmr stats --json`` prints). Request bodies are strict:
``{"full": 0}`` is not a boolean. Every client string refuses lone surrogates (``Text``); the
installation's length limits are checked by the ``ChatBody`` dependency and written into the
OpenAPI document by ``document_limits``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.records_db import GapGroup
from assistant.schema import Answer, Passage, Text, Turn


class ErrorResponse(BaseModel):
    """Every error the service returns (validation errors add FastAPI's ``detail`` list)."""

    error: str = Field(description="Stable machine-readable code, e.g. rate_limited.")
    detail: str = Field(description="Human-readable explanation.")
    request_id: str | None = None


class ChatRequest(BaseModel):
    """A question, the earlier turns of its conversation, and where the visitor is."""

    model_config = ConfigDict(strict=True)

    question: Text = Field(min_length=1)
    history: list[Turn] = Field(
        default_factory=list, description="Earlier turns of this conversation, oldest first."
    )
    language: Literal["it", "en"] | None = Field(
        None, description="Answer language; detected from the question when absent."
    )
    page_url: Text | None = Field(
        None, max_length=2048, description="The page the visitor is on (http or https)."
    )


class ChatResponse(Answer):
    """An answer with its cited sources, or an abstention with the district's contacts."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    text: str = Field(alias="answer", description="The answer, with [n] citation markers.")
    message_id: str = Field(description="Id to send feedback about this answer.")

    @classmethod
    def of(cls, answer: Answer, message_id: str) -> ChatResponse:
        return cls(**dict(answer), message_id=message_id)


class SearchResponse(BaseModel):
    """Ranked passages for a query."""

    query: str
    results: list[Passage]


class FeedbackRequest(BaseModel):
    """A rating of one answer."""

    model_config = ConfigDict(strict=True)

    message_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="From a chat answer.")
    rating: Literal["up", "down"]
    comment: Text | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    status: Literal["recorded"] = "recorded"


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class CheckResult(BaseModel):
    """One readiness check: ``ok`` false with ``blocking`` makes /ready answer 503."""

    ok: bool
    blocking: bool = True
    detail: str | None = None


class ReadyResponse(BaseModel):
    """Whether the service can answer, and what it cannot do."""

    status: Literal["ready", "unavailable"]
    model_loaded: bool
    store: Literal["ok", "unreachable"]
    database: Literal["ok", "unreachable", "read_only"] = "ok"
    syncs: Literal["enabled", "disabled"] = Field(
        "enabled", description="'disabled' when the index folder is read-only (see detail)."
    )
    # None: the extractive backend. "unreachable" alone keeps the service ready (answers fall
    # back to the extractive engine); "misconfigured" (key refused, unknown model) does not.
    llm: Literal["ok", "unreachable", "misconfigured"] | None = None
    checks: dict[str, CheckResult] = Field(
        default_factory=dict, description="Every check by name (model, store, database...)."
    )
    detail: str | None = Field(None, description="What does not work, in one sentence each.")


class SyncRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    full: bool = Field(
        False, description="Re-read everything and drop documents no longer in the sources."
    )


class SyncStatus(BaseModel):
    """``assistant.jobs.SyncJob.as_dict()`` (or the idle status)."""

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


class GapsResponse(BaseModel):
    days: int
    groups: list[GapGroup]


def document_limits(schema: dict[str, Any], *, question: int, turns: int, turn: int) -> None:
    """Write the installation's limits into the OpenAPI document (checked by ChatBody)."""
    components = schema.get("components", {}).get("schemas", {})
    request = components.get("ChatRequest", {}).get("properties", {})
    if "question" in request:
        request["question"]["maxLength"] = question
    if "history" in request:
        request["history"]["maxItems"] = turns
    for name in ("Turn", "Turn-Input"):
        content = components.get(name, {}).get("properties", {}).get("content")
        if content is not None:
            content["maxLength"] = turn
