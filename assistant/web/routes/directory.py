"""/api/admin/directory: the partner directory and where it came from (its page: pages.py)."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from assistant.directory import DirectoryAnswers
from assistant.web.deps import RuntimeDep, require_admin
from assistant.web.models import ErrorResponse
from ingest.ledger import LedgerOptions, ledger_engine

router = APIRouter(
    prefix="/api/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={401: {"model": ErrorResponse, "description": "Missing or wrong admin key."}},
)


class FoundOn(BaseModel):
    """One place an organisation was extracted from."""

    url: str = Field(description="The page it was found on.")
    where: str = Field(description="The structure on that page, e.g. 'table 1 row 4'.")
    kind: str = Field(description="'row' (a directory entry) or 'page' (its own fact box).")


class OrganisationRecord(BaseModel):
    """One resident organisation as the assistant's directory holds it."""

    name: str
    url: str = Field(description="Its own page when known, else the page that lists it.")
    description: str
    sectors: list[str]
    buildings: list[str]
    since: str
    languages: dict[str, str] = Field(description="Language -> URL of each language version.")
    found_on: list[FoundOn]


class DirectoryResponse(BaseModel):
    count: int
    organisations: list[OrganisationRecord]


@functools.lru_cache(maxsize=8)
def _reader(options: LedgerOptions) -> DirectoryAnswers:
    """The directory of a service whose directory answers are off: one reader (and one database
    engine) per records database, reused by every request, as the assistant keeps its own."""
    return DirectoryAnswers(ledger_engine(options))


@router.get("/directory", response_model=DirectoryResponse)
def directory_records(runtime: RuntimeDep) -> DirectoryResponse:
    """The partner directory: one record per organisation, with the pages it came from."""
    reader = runtime.assistant.directory or _reader(runtime.settings.ledger_options())
    orgs, _ = reader.organisations()
    records = [
        OrganisationRecord(
            name=o.name,
            url=o.url,
            description=o.description,
            sectors=o.sectors,
            buildings=o.buildings,
            since=o.since,
            languages=o.languages,
            found_on=[FoundOn(**f) for f in o.found_on],
        )
        for o in sorted(orgs, key=lambda o: o.name.casefold())
    ]
    return DirectoryResponse(count=len(records), organisations=records)
