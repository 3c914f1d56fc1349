"""/health, /ready and /metrics: for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from assistant.web.deps import ServicesDep
from assistant.web.models import HealthResponse, ReadyResponse
from assistant.web.ready import readiness

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthResponse)
@router.head("/health", include_in_schema=False)
def health() -> HealthResponse:
    """The process is alive."""
    return HealthResponse()


@router.get(
    "/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "Not ready."}},
)
@router.head("/ready", include_in_schema=False)
def ready(services: ServicesDep) -> JSONResponse:
    """The model is loaded and the store answers; ``detail`` says what else does not work."""
    body = readiness(services)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ready" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus exposition format.",
        }
    },
)
def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics: requests, latency, answers, refusals, feedback."""
    return Response(services.metrics.render(), media_type=services.metrics.content_type)
