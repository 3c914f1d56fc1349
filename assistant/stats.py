"""What the index and the service database hold: one answer for `kmr stats` and the admin API.

``collect_stats`` reads the store's rows and collection metadata, the sync ledger and the
service database's counts. A store that fails while being read is reported as unavailable
(``StoreUnavailable``, HTTP 503 / exit 2), never as an internal error.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.records_db import RecordsDB

log = logging.getLogger(__name__)


class Conversations(BaseModel):
    """Totals of the service database."""

    questions: int = 0
    refused: int = 0
    feedback_up: int = 0
    feedback_down: int = 0
    clients: int = 0


class IndexStats(BaseModel):
    """Documents and chunks by language and type, the model, the last sync, conversations."""

    embedding_model: str
    collection: str
    documents: int
    chunks: int
    documents_by_language: dict[str, int]
    documents_by_type: dict[str, int]
    chunks_by_language: dict[str, int]
    chunks_by_type: dict[str, int]
    last_sync: str | None = Field(description="When the last sync finished (UTC), if any.")
    index: dict[str, Any] = Field(description="Collection metadata (generation, last sync).")
    sources: list[str]
    conversations: Conversations


def _read_store(store: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Chunk metadata and collection metadata; a failing store raises StoreUnavailable."""
    try:
        rows = [meta for _, _, meta in store.iter_rows(include_documents=False)]
        info = {k: v for k, v in store.info().items() if not k.startswith("hnsw:")}
    except Exception:
        store.ping()  # raises StoreUnavailable when Chroma is down: the usual cause
        raise
    return rows, info


def collect_stats(settings: Settings, store: Any, db: RecordsDB | None) -> IndexStats:
    """The statistics of the index in ``store`` and of the service database ``db``."""
    from ingest.ledger import last_run, ledger_documents

    rows, info = _read_store(store)
    ledger = settings.ledger_options()
    docs = ledger_documents(ledger)
    run = last_run(ledger)
    finished = run["finished_at"] if run else None
    return IndexStats(
        embedding_model=settings.embedding_model,
        collection=store.collection_name,
        documents=len({d["source_id"] for d in docs}),
        chunks=len(rows),
        documents_by_language=dict(Counter(d["language"] for d in docs).most_common()),
        documents_by_type=dict(Counter(d["page_type"] for d in docs).most_common()),
        chunks_by_language=dict(Counter(str(m.get("language", "")) for m in rows).most_common()),
        chunks_by_type=dict(Counter(str(m.get("page_type", "")) for m in rows).most_common()),
        last_sync=(
            datetime.fromtimestamp(finished, UTC).isoformat(timespec="seconds")
            if finished
            else None
        ),
        index=info,
        sources=list(settings.sources),
        conversations=Conversations(**db.counts()) if db is not None else Conversations(),
    )
