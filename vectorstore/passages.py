"""What the index gives back: passages, the filters a search takes, and how both compare.

The vectorstore layer owns these types; the answer engine, the CLI and the API use them as
they are (``assistant.schema`` builds its own models on top of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, Field


class Filters(BaseModel):
    """Optional restrictions on which passages may be used."""

    language: str | None = Field(None, description="ISO 639-1 code, e.g. 'it' or 'en'.")
    page_type: str | None = Field(None, description="e.g. 'partner', 'news', 'faq'.")
    url_prefix: str | None = Field(None, description="Only sources whose URL starts with this.")


class Passage(BaseModel):
    """A retrieved chunk with its source metadata and fused rank score."""

    id: str
    text: str
    title: str
    url: str
    source_id: str
    language: str
    page_type: str = ""
    heading: str = ""
    score: float = 0.0
    dates: str = Field("", description="Dates the chunk states, JSON (ingest.dates.encode).")


def allowed(passage: Passage, filters: Filters | None) -> bool:
    """Whether a passage passes the filters (language, page type, URL prefix)."""
    if filters is None:
        return True
    if filters.language and passage.language != filters.language:
        return False
    if filters.page_type and passage.page_type != filters.page_type:
        return False
    prefix = filters.url_prefix
    return not prefix or passage.url.startswith(prefix) or passage.source_id.startswith(prefix)


def same_page(url: str) -> str:
    """A URL or source id in the form used to compare pages (no trailing slash or fragment)."""
    return url.split("#", 1)[0].rstrip("/")


class PassageSearch(Protocol):
    """Ranks passages for a query (``vectorstore.search.HybridSearcher`` fits): what the answer
    engine and the evaluation both ask of a searcher."""

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        language: str | None = None,
    ) -> Sequence[Passage]: ...
