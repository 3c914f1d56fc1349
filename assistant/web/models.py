"""Request and response bodies of the HTTP API, built from the core types (no copies).

Answers are ``assistant.schema.Answer`` with a message id (the text travels as ``answer``),
search hits are ``Passage``, gap groups are ``records_db.GapGroup``, statistics are
``assistant.stats.IndexStats`` (what ``kmr stats --json`` prints). Request bodies are strict:
``{"full": 0}`` is not a boolean. Every client string refuses lone surrogates (``Text``); the
installation's length limits are checked by the ``ChatBody`` dependency and written into the
OpenAPI document by ``document_limits``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.curated_store import CuratedInput
from assistant.gaps import GapGroup
from assistant.schema import Answer, Text, Turn
from vectorstore.passages import Passage

ID_PATTERN = r"^[0-9a-f]{32}$"


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
    conversation_id: str | None = Field(
        None,
        pattern=ID_PATTERN,
        description="The conversation_id of this conversation's first answer; absent for "
        "a new conversation (the answer then carries a new one).",
    )
    curated_id: int | None = Field(
        None,
        ge=1,
        description="The curated answer the visitor chose from an answer's `suggestions`: "
        "given as it is if still enabled and not expired (else the index answers).",
    )


class CuratedReply(BaseModel):
    """A staff-written answer given to the question, by the district, on ``updated_at``."""

    answer_id: int
    text: str = Field(description="Plain text, never HTML.")
    language: Literal["it", "en"] = Field(description="The language ``text`` is written in.")
    note: str | None = Field(
        None, description="Set when the answer is not in the visitor's language."
    )
    links: list[dict[str, str]] = Field(description="{title, url} (http or https).")
    updated_at: str = Field(description="Date (YYYY-MM-DD) the district last changed it.")


class CuratedOffer(BaseModel):
    """A curated answer offered to the visitor ("Did you mean ...?"), given only if chosen."""

    answer_id: int = Field(description="Send it back as `curated_id` to get the answer.")
    question: str = Field(
        description="One of its questions, in the visitor's language if it has one."
    )


class ChatResponse(Answer):
    """An answer with its cited sources, or an abstention with the district's contacts."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    text: str = Field(alias="answer", description="The answer, with [n] citation markers.")
    message_id: str = Field(description="Id to send feedback about this answer.")
    conversation_id: str | None = Field(
        None,
        description="Send it with the next question of the conversation, and to DELETE "
        "/api/conversation to forget it.",
    )
    curated: CuratedReply | None = Field(
        None,
        description="Set when a staff-written answer was given (backend `curated`): the "
        "text is the district's, the sources are the index's, after it.",
    )
    suggestions: list[CuratedOffer] = Field(
        default_factory=list,
        description="Staff-written answers that may be what the visitor meant, best first "
        "(none when one was given): offered, never given unasked.",
    )

    @classmethod
    def of(
        cls,
        answer: Answer,
        message_id: str,
        conversation_id: str | None = None,
        curated: CuratedReply | None = None,
        suggestions: list[CuratedOffer] | None = None,
    ) -> ChatResponse:
        return cls(
            **dict(answer),
            message_id=message_id,
            conversation_id=conversation_id,
            curated=curated,
            suggestions=suggestions or [],
        )


class SearchResponse(BaseModel):
    """Ranked passages for a query."""

    query: str
    results: list[Passage]


class FeedbackRequest(BaseModel):
    """A rating of one answer."""

    model_config = ConfigDict(strict=True)

    message_id: str = Field(pattern=ID_PATTERN, description="From a chat answer.")
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


# --- staff loop ---------------------------------------------------------------------------


class ForgetRequest(BaseModel):
    """What the widget holds of a conversation: its id and/or its answers' message ids."""

    model_config = ConfigDict(strict=True)

    conversation_id: str | None = Field(None, pattern=ID_PATTERN)
    message_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(
        default_factory=list, max_length=500
    )


class ForgetResponse(BaseModel):
    deleted: int = Field(description="Messages removed (with their feedback).")


class EnquiryRequest(BaseModel):
    """An enquiry to the district, sent only by the visitor's action, with their consent."""

    model_config = ConfigDict(strict=True)

    email: Text = Field(max_length=320)
    consent: bool = Field(description="Must be true: the visitor agrees to be contacted.")
    language: Literal["it", "en"] = "en"
    page_url: Text | None = Field(None, max_length=2000)
    message: Text = Field("", max_length=2000)
    transcript: list[Turn] = Field(default_factory=list, max_length=40)
    message_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(
        default_factory=list, max_length=40
    )


class EnquiryReceipt(BaseModel):
    """What the visitor hears: the enquiry is stored; whether the e-mail left yet."""

    id: str
    delivery: Literal["sent", "failed"]
    message: str = Field(description="A sentence for the visitor, in their language.")


class Enquiry(BaseModel):
    """An enquiry as the console sees it (``handoff.as_dict``)."""

    id: str
    created_at: str | None
    email: str
    language: str
    page_url: str | None
    message: str
    transcript: list[dict[str, str]]
    message_ids: list[str]
    status: Literal["open", "answered"]
    delivery: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None
    sent_at: str | None
    answered_at: str | None
    answered_by: str | None
    reply: str | None


class EnquiryList(BaseModel):
    enquiries: list[Enquiry]


class AnsweredRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    reply: Text | None = Field(None, max_length=8000, description="What staff answered.")


class RetryCounts(BaseModel):
    sent: int
    failed: int


class Deleted(BaseModel):
    deleted: bool


class CuratedAnswer(BaseModel):
    """A curated answer as stored (``curated.as_dict``)."""

    id: int
    questions: list[str]
    answer_it: str | None
    answer_en: str | None
    links: list[dict[str, str]]
    expires_on: str | None = Field(description="YYYY-MM-DD; not used after that day.")
    enabled: bool
    version: int = Field(description="Send it back with an edit (optimistic concurrency).")
    created_at: str | None
    created_by: str
    updated_at: str | None
    updated_by: str


class CuratedList(BaseModel):
    answers: list[CuratedAnswer]


class CuratedEdit(CuratedInput):
    """A curated answer's new content, and the version it was edited from."""

    version: int = Field(ge=1, le=2**31 - 1)


class VersionRequest(BaseModel):
    version: int = Field(ge=1, le=2**31 - 1, description="The version the change was decided on.")


class CuratedChange(BaseModel):
    action: str
    actor: str
    at: str | None
    version: int
    snapshot: dict[str, Any]


class CuratedHistory(BaseModel):
    history: list[CuratedChange]


class ConflictResponse(ErrorResponse):
    """409: someone changed the answer first; ``current`` is their version, to merge with."""

    current: CuratedAnswer


class QuestionGroup(BaseModel):
    """Questions that mean the same (``analytics.QuestionGroup.as_dict``)."""

    question: str
    count: int
    answered: int
    refused: int
    answer_rate: float
    feedback_up: int
    feedback_down: int
    languages: dict[str, int]
    pages: list[dict[str, Any]]
    examples: list[str]
    last_asked: str | None


class QuestionsResponse(BaseModel):
    days: int
    language: str | None
    groups: list[QuestionGroup]
