"""/api/admin: the staff loop's routes (X-Admin-Key; changes name their author in
X-Staff-Name): curated answers, enquiries, and what visitors ask.

Thin: each route calls one service of ``assistant.curated_store``, ``assistant.handoff`` or
``assistant.analytics``; errors go through the one tree (404, 409, 422), except a version
conflict, answered here with the current answer so the second editor can merge.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from assistant.analytics import to_csv, top_questions
from assistant.curated_store import CuratedInput, VersionConflict
from assistant.handoff import EnquiryNotFound, curated_draft
from assistant.staff_db import now
from assistant.web.deps import Services, ServicesDep, StaffName, require_admin
from assistant.web.handlers import request_id_of
from assistant.web.models import (
    AnsweredRequest,
    ConflictResponse,
    CuratedAnswer,
    CuratedEdit,
    CuratedHistory,
    CuratedList,
    Deleted,
    Enquiry,
    EnquiryList,
    ErrorResponse,
    QuestionsResponse,
    RetryCounts,
    VersionRequest,
)
from assistant.web.routes.chat import INVALID_RESPONSE

# Ids are SQL integers: a larger number is a 422, never an overflow inside the database driver.
AnswerId = Annotated[int, Path(ge=1, le=2**31 - 1)]

router = APIRouter(
    prefix="/api/admin",
    tags=["staff"],
    dependencies=[Depends(require_admin)],
    responses={
        400: {"model": ErrorResponse, "description": "The body is not JSON text."},
        422: INVALID_RESPONSE,
        401: {"model": ErrorResponse, "description": "Missing or wrong admin key."},
        404: {"model": ErrorResponse, "description": "No such item."},
    },
)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ConflictResponse, "description": "Changed by someone else first."}
}


def _conflict(request: Request, exc: VersionConflict) -> JSONResponse:
    body = ConflictResponse(
        error="version_conflict",
        detail=f"{exc} : someone else changed it first. Merge with the current answer and "
        "save again.",
        request_id=request_id_of(request),
        current=CuratedAnswer(**exc.current),
    )
    return JSONResponse(body.model_dump(), status_code=409)


def _download(text: str, media_type: str, filename: str) -> Response:
    return Response(
        text,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- curated answers ---------------------------------------------------------------------


@router.get("/curated", response_model=CuratedList)
def list_curated(
    services: ServicesDep, include_disabled: Annotated[bool, Query()] = True
) -> dict[str, Any]:
    """Every curated answer, most recently changed first."""
    curated = services.staff.curated.list_answers(include_disabled=include_disabled)
    return {"answers": curated}


@router.post("/curated", response_model=CuratedAnswer, status_code=201)
def create_curated(body: CuratedInput, services: ServicesDep, staff: StaffName) -> dict[str, Any]:
    """Write a curated answer (version 1); visitors get it at once if enabled."""
    return services.staff.curated.create(body, actor=staff)


@router.get(
    "/curated/export",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    response_class=Response,
)
def export_curated(
    services: ServicesDep, format: Annotated[Literal["csv", "json"], Query()] = "json"
) -> Response:
    """Every curated answer as a CSV or JSON download."""
    store = services.staff.curated
    stamp = now().strftime("%Y%m%d")
    if format == "csv":
        return _download(store.export_csv(), "text/csv; charset=utf-8", f"curated-{stamp}.csv")
    return _download(store.export_json(), "application/json", f"curated-{stamp}.json")


@router.get("/curated/{answer_id:int}", response_model=CuratedAnswer)
def get_curated(answer_id: AnswerId, services: ServicesDep) -> dict[str, Any]:
    """One curated answer."""
    return services.staff.curated.get(answer_id)


@router.put("/curated/{answer_id:int}", response_model=CuratedAnswer, responses=CONFLICT)
def update_curated(
    answer_id: AnswerId,
    body: CuratedEdit,
    services: ServicesDep,
    staff: StaffName,
    request: Request,
) -> Any:
    """Replace a curated answer's content, if nobody changed it since ``version``."""
    data = CuratedInput(**body.model_dump(exclude={"version"}))
    try:
        return services.staff.curated.update(
            answer_id, data, expected_version=body.version, actor=staff
        )
    except VersionConflict as exc:
        return _conflict(request, exc)


def _set_enabled(
    answer_id: AnswerId,
    enabled: bool,
    body: VersionRequest,
    services: Services,
    staff: str,
    request: Request,
) -> Any:
    try:
        return services.staff.curated.set_enabled(
            answer_id, enabled, expected_version=body.version, actor=staff
        )
    except VersionConflict as exc:
        return _conflict(request, exc)


@router.post("/curated/{answer_id:int}/disable", response_model=CuratedAnswer, responses=CONFLICT)
def disable_curated(
    answer_id: AnswerId,
    body: VersionRequest,
    services: ServicesDep,
    staff: StaffName,
    request: Request,
) -> Any:
    """Stop giving a curated answer (kept, with its history; enable it again any time)."""
    return _set_enabled(answer_id, False, body, services, staff, request)


@router.post("/curated/{answer_id:int}/enable", response_model=CuratedAnswer, responses=CONFLICT)
def enable_curated(
    answer_id: AnswerId,
    body: VersionRequest,
    services: ServicesDep,
    staff: StaffName,
    request: Request,
) -> Any:
    """Give a disabled curated answer again."""
    return _set_enabled(answer_id, True, body, services, staff, request)


@router.get("/curated/{answer_id:int}/history", response_model=CuratedHistory)
def curated_history(answer_id: AnswerId, services: ServicesDep) -> dict[str, Any]:
    """Every change of a curated answer (who, when, what it became), oldest first."""
    store = services.staff.curated
    store.get(answer_id)  # 404 for an unknown id rather than an empty history
    return {"history": store.history(answer_id)}


# --- enquiries -----------------------------------------------------------------------------


@router.get("/enquiries", response_model=EnquiryList)
def list_enquiries(
    services: ServicesDep,
    status: Annotated[Literal["open", "answered"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Visitor enquiries, newest first (``status=open`` for the inbox)."""
    return {"enquiries": services.staff.handoff.list_enquiries(status=status, limit=limit)}


@router.post("/enquiries/retry-failed", response_model=RetryCounts)
def retry_failed(services: ServicesDep) -> dict[str, int]:
    """Send again every enquiry the mail server has not taken yet."""
    return services.staff.handoff.retry_failed()


@router.get("/enquiries/{enquiry_id}", response_model=Enquiry)
def get_enquiry(enquiry_id: str, services: ServicesDep) -> dict[str, Any]:
    """One enquiry with its conversation."""
    return services.staff.handoff.get(enquiry_id)


@router.post("/enquiries/{enquiry_id}/retry", response_model=Enquiry)
def retry_enquiry(enquiry_id: str, services: ServicesDep) -> dict[str, Any]:
    """Send an enquiry's e-mail again (after the mail server refused or was down)."""
    return services.staff.handoff.retry(enquiry_id)


@router.post("/enquiries/{enquiry_id}/answered", response_model=Enquiry)
def mark_answered(
    enquiry_id: str, services: ServicesDep, staff: StaffName, body: AnsweredRequest | None = None
) -> dict[str, Any]:
    """Close an enquiry, with what staff replied (which can become a curated answer)."""
    reply = body.reply if body else None
    return services.staff.handoff.mark_answered(enquiry_id, staff, reply)


@router.get("/enquiries/{enquiry_id}/curated-draft", response_model=dict[str, Any])
def enquiry_draft(enquiry_id: str, services: ServicesDep) -> dict[str, Any]:
    """A curated-answer draft (disabled) from an enquiry and its reply, to edit and save."""
    return curated_draft(services.staff.handoff.get(enquiry_id))


@router.delete("/enquiries/{enquiry_id}", response_model=Deleted)
def delete_enquiry(enquiry_id: str, services: ServicesDep) -> dict[str, bool]:
    """Delete an enquiry and the visitor's e-mail address for good."""
    if not services.staff.handoff.delete(enquiry_id):
        raise EnquiryNotFound(enquiry_id)
    return {"deleted": True}


# --- what visitors ask ---------------------------------------------------------------------


@router.get(
    "/questions",
    response_model=QuestionsResponse,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def questions(
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    language: Annotated[Literal["it", "en"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """The most asked questions over ``days``, grouped by meaning, with answer rate, feedback
    and pages cited (computed in a worker thread: the service keeps answering)."""
    until = now()
    services.db.flush()
    groups = top_questions(
        services.db.engine,
        services.staff.embed_questions,
        since=until - timedelta(days=days),
        until=until,
        language=language,
        limit=limit,
    )
    if format == "csv":
        return _download(to_csv(groups), "text/csv; charset=utf-8", f"questions-{days}d.csv")
    return {"days": days, "language": language, "groups": [g.as_dict() for g in groups]}
