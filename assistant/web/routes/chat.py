"""POST /api/chat and /api/chat/stream: answers with sources, whole or as Server-Sent Events.

Both present the one stream of events the answer engine produces (sources, text deltas, done
or error); the stream is sent with sse-starlette. Every answer is counted and queued for the
service database off the request path.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette import EventSourceResponse, ServerSentEvent

from assistant.errors import STORE_DOWN, AnswerFailed, KmrError
from assistant.runtime import Runtime
from assistant.schema import (
    Answer,
    AnswerEvent,
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    SourcesEvent,
)
from assistant.web.deps import ChatBody, ClientDep, RuntimeDep, Services, ServicesDep, chat_rate
from assistant.web.models import ChatRequest, ChatResponse, ErrorResponse
from vectorstore.store import StoreError

log = logging.getLogger("kmr.api")

ANSWER_FAILED_MESSAGE = "Sorry, the answer could not be composed. Please try again."

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not JSON text."},
    413: {"model": ErrorResponse, "description": "Request body too large."},
    429: {"model": ErrorResponse, "description": "Too many requests from this client."},
    503: {"model": ErrorResponse, "description": "The knowledge base is unavailable."},
}
INVALID_RESPONSE: dict[str, Any] = {
    "description": "The request breaks a rule (`detail` a sentence) or does not match the "
    "schema (`detail` the list of problems).",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {
                    "error": {"type": "string"},
                    "detail": {"anyOf": [{"type": "string"}, {"type": "array"}]},
                    "request_id": {"type": ["string", "null"]},
                },
            }
        }
    },
}
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["sources", "delta", "done", "error"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "sources: {sources: [Source]}; delta: {text}; done: "
            "ChatResponse; error: {message}.",
        },
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}

router = APIRouter(prefix="/api", tags=["assistant"], dependencies=[Depends(chat_rate)])


def record(
    services: Services,
    client: str,
    body: ChatRequest,
    answer: Answer,
    started: float,
    message_id: str,
    conversation_id: str | None = None,
) -> None:
    """Count the exchange and queue it for the database; a database problem never costs
    the visitor the answer (it is logged)."""
    services.metrics.observe_answer(answer)
    page_url = body.page_url
    if page_url and not page_url.startswith(("http://", "https://")):
        page_url = None
    try:
        services.db.queue_answer(
            body.question,
            answer,
            client=client,
            page_url=page_url,
            duration_ms=(time.perf_counter() - started) * 1000,
            message_id=message_id,
            conversation_id=conversation_id,
        )
    except (SQLAlchemyError, KmrError):
        log.exception("could not record message %s", message_id)


def answer_failed(runtime: Runtime, event: ErrorEvent) -> AnswerFailed:
    """The engine reported a failure: StoreUnavailable (503) if the store is down, else an
    AnswerFailed to raise (500). The event's text may hold exception text: logged only."""
    log.error("answer failed: %s", event.message)
    runtime.store.ping()
    return AnswerFailed(event.message)


@router.post("/chat", response_model=ChatResponse, responses=ERROR_RESPONSES)
def chat(body: ChatBody, runtime: RuntimeDep, services: ServicesDep, client: ClientDep) -> Response:
    """Answer a question about the district, citing its sources, or abstain; a question a
    staff-written answer covers gets it first (backend `curated`), else such answers may be
    offered (`suggestions`; send one back as `curated_id`)."""
    started = time.perf_counter()
    services.db.ping()  # DatabaseUnavailable -> 503: an answer we could not record
    conversation_id = body.conversation_id or uuid.uuid4().hex
    answer, curated = None, None
    outcome = services.staff.curated_outcome(body.question, body.language, runtime, body.curated_id)
    given = outcome.given
    if given is not None:
        answer, curated = given
    else:
        for event in runtime.assistant.stream(body.question, body.history, None, body.language):
            if isinstance(event, DoneEvent):
                answer = event.answer
            elif isinstance(event, ErrorEvent):
                raise answer_failed(runtime, event)
    if answer is None:
        raise AnswerFailed("the assistant ended without an answer")
    message_id = uuid.uuid4().hex
    record(services, client, body, answer, started, message_id, conversation_id)
    # Serialised once here: FastAPI would validate the returned model again.
    response = ChatResponse.of(answer, message_id, conversation_id, curated, outcome.offers)
    return Response(response.model_dump_json(), media_type="application/json")


def curated_events(answer: Answer) -> list[AnswerEvent]:
    """A curated answer as the engine's events: its sources, its text, done."""
    return [
        SourcesEvent(sources=answer.sources),
        DeltaEvent(text=answer.text),
        DoneEvent(answer=answer),
    ]


def _event(kind: str, payload: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(payload, ensure_ascii=False), event=kind)


async def _replay(events: list[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
    for event in events:
        yield event


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    responses={
        **ERROR_RESPONSES,
        200: {
            "description": "Server-Sent Events: `sources` ({sources}), then `delta` "
            "({text}) events, then `done` (the full ChatResponse) or `error` ({message}).",
            "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
        },
    },
)
def chat_stream(
    request: Request, body: ChatBody, runtime: RuntimeDep, services: ServicesDep, client: ClientDep
) -> EventSourceResponse:
    """Answer as a stream of Server-Sent Events: sources, text deltas, then done."""
    started = time.perf_counter()
    services.db.ping()  # DatabaseUnavailable -> 503: an answer we could not record
    conversation_id = body.conversation_id or uuid.uuid4().hex
    outcome = services.staff.curated_outcome(body.question, body.language, runtime, body.curated_id)
    given = outcome.given
    curated = given[1] if given else None
    events: Iterator[AnswerEvent] = (
        iter(curated_events(given[0]))
        if given
        else iter(runtime.assistant.stream(body.question, body.history, None, body.language))
    )
    # The first event is computed here, so an unreachable store is a clean 503.
    first = next(events, None)
    if isinstance(first, ErrorEvent):
        raise answer_failed(runtime, first)
    message_id = uuid.uuid4().hex
    request_id = getattr(request.state, "request_id", None)

    def present(event: AnswerEvent) -> ServerSentEvent:
        if isinstance(event, DoneEvent):
            record(services, client, body, event.answer, started, message_id, conversation_id)
            done = ChatResponse.of(
                event.answer, message_id, conversation_id, curated, outcome.offers
            )
            return _event("done", done.model_dump())
        if isinstance(event, ErrorEvent):
            log.error("answer failed mid-stream (request %s): %s", request_id, event.message)
            return _event("error", {"message": ANSWER_FAILED_MESSAGE})
        return _event(event.type, event.model_dump(exclude={"type"}))

    def stream() -> Iterator[ServerSentEvent]:
        if first is None:
            return
        yield present(first)
        try:
            for event in events:
                yield present(event)
        except StoreError:
            yield _event("error", {"message": STORE_DOWN})
        except Exception:
            log.exception("stream failed (request %s)", request_id)
            yield _event("error", {"message": f"Internal error (request {request_id})."})

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if runtime.assistant.chat_model is None or given:
        # Extractive: the whole answer exists once the first event does, so present the rest
        # here rather than paying a thread-pool trip per event; still one event per chunk.
        return EventSourceResponse(_replay(list(stream())), headers=headers, sep="\n")
    return EventSourceResponse(stream(), headers=headers, sep="\n")
