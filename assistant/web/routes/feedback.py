"""POST /api/feedback: a thumbs up or down on an answer, with an optional comment."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.web.deps import ServicesDep
from assistant.web.models import ErrorResponse, FeedbackRequest, FeedbackResponse
from assistant.web.routes.chat import ERROR_RESPONSES

router = APIRouter(prefix="/api", tags=["assistant"])


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    responses={
        404: {"model": ErrorResponse, "description": "Unknown message."},
        400: ERROR_RESPONSES[400],
        413: ERROR_RESPONSES[413],
        503: {
            "model": ErrorResponse,
            "description": "The service database is locked (Retry-After) or read-only.",
        },
    },
)
def feedback(body: FeedbackRequest, services: ServicesDep) -> FeedbackResponse:
    """Rate an answer up or down, with an optional comment."""
    services.db.record_feedback(body.message_id, body.rating, body.comment)
    services.metrics.feedback.labels(body.rating).inc()
    return FeedbackResponse()
