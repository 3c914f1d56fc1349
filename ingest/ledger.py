"""The sync records database: the ledger of indexed documents and the log of sync runs.

The ledger maps each document (origin, location) to its raw-bytes hash, HTTP validators and
source id, so an unchanged file or a 304 skips extraction entirely; the runs table keeps what
each sync did. LangChain's record manager and the partner directory (``ingest.directory``)
share the same database (``ledger_engine``), SQLite in the data directory by default or
PostgreSQL when several machines sync one Chroma server.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine

from ingest.records import Page, RawDocument

_meta = MetaData()
documents_table = Table(
    "kmr_documents",
    _meta,
    Column("origin", String, primary_key=True),
    Column("location", String, primary_key=True),
    Column("source_id", String, nullable=False, index=True),
    Column("raw_hash", String, nullable=False),
    Column("etag", String),
    Column("last_modified", String),
    Column("title", String),
    Column("language", String),
    Column("page_type", String),
    Column("chunks", Integer, nullable=False),
    Column("synced_at", Float, nullable=False),
)
runs_table = Table(
    "kmr_sync_runs",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("sources", String, nullable=False),
    Column("summary", String, nullable=False),
)

LedgerKey = tuple[str, str]  # (origin, location)


@dataclass(frozen=True)
class LedgerOptions:
    """Where the sync records live (built by ``Settings``)."""

    url: str
    """SQLAlchemy URL of the sync records (ledger, runs, record manager, directory)."""
    data_dir: Path
    """The data directory: created before a SQLite database is opened; holds the sync lock."""


def ledger_engine(options: LedgerOptions) -> Engine:
    """The engine of the sync records database (record manager and ledger share it)."""
    if options.url.startswith("sqlite:///"):
        options.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(options.url)
    _meta.create_all(engine)
    return engine


def ledger_rows(engine: Engine, origin: str | None = None) -> dict[LedgerKey, dict]:
    """The ledger rows (of one origin, or all), by (origin, location)."""
    query = select(documents_table)
    if origin is not None:
        query = query.where(documents_table.c.origin == origin)
    with engine.connect() as conn:
        return {(r.origin, r.location): dict(r._mapping) for r in conn.execute(query)}


def ledger_put(engine: Engine, row: dict) -> None:
    """Write a document's row, replacing the one it had."""
    key = (documents_table.c.origin == row["origin"]) & (
        documents_table.c.location == row["location"]
    )
    with engine.begin() as conn:
        conn.execute(documents_table.delete().where(key))
        conn.execute(documents_table.insert().values(**row))


def document_row(origin: str, raw: RawDocument, page: Page, chunks: int, raw_hash: str) -> dict:
    """The ledger row of a document just written with ``chunks`` chunks."""
    return {
        "origin": origin,
        "location": raw.location,
        "source_id": page.source_id,
        "raw_hash": raw_hash,
        "etag": raw.etag,
        "last_modified": raw.last_modified,
        "title": page.title,
        "language": page.language,
        "page_type": page.page_type,
        "chunks": chunks,
        "synced_at": time.time(),
    }


def ledger_delete(engine: Engine, origin: str, location: str) -> None:
    """Forget a document."""
    with engine.begin() as conn:
        conn.execute(
            documents_table.delete().where(
                (documents_table.c.origin == origin) & (documents_table.c.location == location)
            )
        )


def record_run(
    engine: Engine, started_at: float, finished_at: float, sources: list[str], summary: Any
) -> None:
    """Log one sync run (``summary``: the report as a dict, also of a run that stopped)."""
    with engine.begin() as conn:
        conn.execute(
            runs_table.insert().values(
                started_at=started_at,
                finished_at=finished_at,
                sources=json.dumps(sources),
                summary=json.dumps(summary),
            )
        )


def last_run(options: LedgerOptions) -> dict | None:
    """The most recent sync run (started_at, finished_at, sources, summary), if any."""
    engine = ledger_engine(options)
    with engine.connect() as conn:
        row = conn.execute(select(runs_table).order_by(runs_table.c.id.desc()).limit(1)).first()
    return dict(row._mapping) if row else None


def ledger_documents(options: LedgerOptions) -> list[dict]:
    """Every document the index holds, as recorded by the syncs."""
    return list(ledger_rows(ledger_engine(options)).values())
