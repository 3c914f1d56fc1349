"""Writes chunks into the index and takes them out again, with their records.

Chunks go through LangChain's indexing API and a SQL record manager (``index(cleanup=
"incremental")``: a re-indexed source loses the chunks this run did not write); removals take
a source's Chroma rows, record-manager keys and partner directory entries together. Every
write counts into the run's ``SyncReport`` and marks the index as changed.
"""

from __future__ import annotations

from langchain_classic.indexes import SQLRecordManager
from langchain_core.documents import Document
from langchain_core.indexing import index
from sqlalchemy.engine import Engine

from ingest import directory
from ingest.records import Chunk
from ingest.report import SyncReport
from vectorstore.store import IndexStore


def _to_document(chunk: Chunk) -> Document:
    return Document(id=chunk.id, page_content=chunk.text, metadata=dict(chunk.metadata))


def _chunk_key(doc: Document) -> str:
    # Chunk ids are already stable content hashes (ingest.chunk.chunk_id).
    assert doc.id is not None
    return doc.id


class IndexWriter:
    """The store and its record manager, written by one sync run."""

    def __init__(self, store: IndexStore, engine: Engine, report: SyncReport) -> None:
        self.store = store
        self.engine = engine
        self.report = report
        self.records = SQLRecordManager(namespace=f"chroma/{store.collection_name}", engine=engine)
        self.records.create_schema()
        directory.create_table(engine)
        self.changed = False  # whether this run changed the collection

    def chunk_ids(self, source_id: str) -> set[str]:
        """The ids of the source's chunks in Chroma."""
        return set(self.store.collection.get(where={"source": source_id}, include=[])["ids"])

    def write(self, chunks: list[Chunk]) -> None:
        """Index ``chunks`` (one batch): unchanged ones are skipped, stale ones of their
        sources removed."""
        docs = [_to_document(c) for c in chunks]
        result = index(
            docs,
            self.records,
            self.store.vector_store,
            cleanup="incremental",
            source_id_key="source",
            key_encoder=_chunk_key,
            batch_size=len(docs),
        )
        self.report.chunks_embedded += result["num_added"] + result["num_updated"]
        self.report.chunks_removed += result["num_deleted"]
        self.changed |= bool(result["num_added"] or result["num_deleted"])

    def reconcile(self, source_id: str, expected: set[str]) -> None:
        """Make the source's Chroma rows exactly ``expected`` (orphans of a killed run go)."""
        present = self.chunk_ids(source_id)
        orphans = [i for i in present if i not in expected]
        if orphans:
            self.store.delete(orphans)
            self.records.delete_keys(orphans)
            self.report.chunks_removed += len(orphans)
            self.changed = True

    def remove_source(self, source_id: str) -> None:
        """Take every chunk of a source out, with its records and directory entries."""
        directory.delete_entries(self.engine, source_id)
        keys = self.records.list_keys(group_ids=[source_id])
        ids = sorted(set(keys) | self.chunk_ids(source_id))
        if ids:
            self.store.delete(ids)
            self.records.delete_keys(keys)
            self.report.chunks_removed += len(ids)
            self.changed = True

    def keep_only(self, live: set[str]) -> None:
        """Remove the directory entries and chunks of every source not in ``live``."""
        directory.prune_entries(self.engine, live)
        stray = [
            i
            for i, _, m in self.store.iter_rows(include_documents=False)
            if str(m.get("source", "")) not in live
        ]
        if stray:
            self.store.delete(stray)
            self.records.delete_keys(stray)
            self.report.chunks_removed += len(stray)
            self.changed = True
