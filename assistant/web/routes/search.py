"""GET /api/search: ranked passages with their source metadata, for staff."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from assistant.schema import Text
from assistant.web.deps import RuntimeDep, search_rate
from assistant.web.models import SearchResponse
from assistant.web.routes.chat import ERROR_RESPONSES
from vectorstore.passages import Filters

router = APIRouter(prefix="/api", tags=["assistant"])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses=ERROR_RESPONSES,
    dependencies=[Depends(search_rate)],
)
def search(
    runtime: RuntimeDep,
    q: Annotated[Text, Query(min_length=1, max_length=2000, description="What to look for.")],
    language: Annotated[Literal["it", "en"] | None, Query()] = None,
    page_type: Annotated[
        Text | None, Query(max_length=64, description="e.g. partner, news, faq")
    ] = None,
    url_prefix: Annotated[Text | None, Query(max_length=2048)] = None,
    k: Annotated[int | None, Query(ge=1, le=50)] = None,
) -> Response:
    """Ranked passages of the index with their source metadata, for staff."""
    filters = Filters(language=language, page_type=page_type or None, url_prefix=url_prefix or None)
    passages = runtime.searcher.search(q, k=k, filters=filters)
    body = SearchResponse(query=q, results=passages)
    return Response(body.model_dump_json(), media_type="application/json")
