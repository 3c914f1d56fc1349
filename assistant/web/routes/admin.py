"""/api/admin: sync, gaps report and statistics (X-Admin-Key; mounted only with a key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from assistant.curated_match import without_curated
from assistant.stats import IndexStats, collect_stats
from assistant.web.deps import RuntimeDep, ServicesDep, require_admin
from assistant.web.models import ErrorResponse, GapsResponse, SyncRequest, SyncStatus
from assistant.web.routes.chat import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={401: {"model": ErrorResponse, "description": "Missing or wrong admin key."}},
)


@router.post(
    "/sync",
    response_model=SyncStatus,
    status_code=202,
    responses={
        409: {"model": ErrorResponse, "description": "A sync is running."},
        400: ERROR_RESPONSES[400],
        413: ERROR_RESPONSES[413],
        503: ERROR_RESPONSES[503],
    },
)
def start_sync(
    services: ServicesDep, runtime: RuntimeDep, body: SyncRequest | None = None
) -> dict[str, Any]:
    """Start a sync of the configured sources in the background."""
    job = services.jobs.start(services.settings, runtime.store, full=bool(body and body.full))
    return job.as_dict()


@router.get("/sync", response_model=SyncStatus)
def sync_status(services: ServicesDep) -> dict[str, Any]:
    """Progress of the running sync, or the result of the last one."""
    return services.jobs.status()


@router.get("/gaps", response_model=GapsResponse)
def gaps(
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    threshold: Annotated[
        float, Query(ge=0.5, le=1.0, description="Cosine similarity to group.")
    ] = 0.9,
) -> GapsResponse:
    """Questions refused or rated down, grouped by similarity, most frequent first; groups a
    curated answer now covers are left out."""
    groups = services.db.gaps_report(
        services.holder.embeddings.embed_documents, days=days, threshold=threshold
    )
    return GapsResponse(days=days, groups=without_curated(groups, services.staff.matcher))


@router.get("/stats", response_model=IndexStats, responses={503: ERROR_RESPONSES[503]})
def stats(services: ServicesDep, runtime: RuntimeDep) -> IndexStats:
    """What `kmr stats --json` prints: documents, chunks, model, last sync, conversations."""
    return collect_stats(services.settings, runtime.store, services.db)
