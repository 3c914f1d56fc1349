"""Typed values shared by the answer engine, the CLI and the API.

The core produces these; the CLI prints them and the API serialises them unchanged.
``Passage`` and ``Filters`` belong to the vectorstore layer (``vectorstore.passages``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field


def no_surrogates(value: str) -> str:
    """Refuse lone UTF-16 surrogates (JSON lets ``\\udfff`` through; UTF-8 cannot hold it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the text holds a character that is not valid Unicode at position {exc.start}"
        ) from None
    return value


Text = Annotated[str, AfterValidator(no_surrogates)]
"""A string that can be stored and sent as UTF-8 (every text field a client sends)."""


class Turn(BaseModel):
    """One earlier message of the conversation, as the client sends it."""

    role: Literal["user", "assistant"]
    content: Text


class Source(BaseModel):
    """A cited source: ``n`` is the number used in the answer's [n] markers."""

    n: int
    title: str
    url: str
    language: str
    snippet: str


class Answer(BaseModel):
    """A grounded answer, or an honest abstention with the district's contacts."""

    text: str
    sources: list[Source]
    language: str
    abstained: bool
    backend: str = "extractive"
    notice: str | None = Field(
        None, description="e.g. the LLM failed and the extractive answer was given instead."
    )


class SourcesEvent(BaseModel):
    type: Literal["sources"] = "sources"
    sources: list[Source]


class DeltaEvent(BaseModel):
    type: Literal["delta"] = "delta"
    text: str


class DoneEvent(BaseModel):
    type: Literal["done"] = "done"
    answer: Answer


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    message: str


AnswerEvent = SourcesEvent | DeltaEvent | DoneEvent | ErrorEvent
