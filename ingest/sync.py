"""Keep the Chroma index in step with the sources: add, update, delete, report.

How each guarantee is kept:

- Unchanged content is never embedded again. A ledger of documents (location -> raw-bytes hash,
  ETag, Last-Modified, source id) lets an unchanged file or a 304 skip extraction entirely; below
  it, LangChain's indexing API with a SQL record manager skips chunks whose id (a hash of text
  and metadata) is already recorded.
- An edited page loses its stale chunks: ``index(cleanup="incremental")`` removes the chunks
  of each re-indexed source that were not written by this run.
- A page gone from its source (file deleted, 404/410 on re-crawl) leaves the index.
- A run killed half-way and started again ends with the index a clean run gives: vectors are
  written before the record manager and the ledger (so an interrupted write is redone, with the
  same ids, as an upsert), and after indexing each source its Chroma rows are reconciled with
  exactly the chunk ids just produced, so no orphan survives.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from langchain_classic.indexes import SQLRecordManager
from langchain_core.documents import Document
from langchain_core.indexing import index
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine

from assistant.config import Settings
from ingest.chunk import chunk_page
from ingest.crawl import Validators
from ingest.extract import ExtractionError, extract
from ingest.records import Chunk, Failure, Gone, NotModified, Page, RawDocument
from ingest.sources import iter_source
from vectorstore.store import IndexStore

log = logging.getLogger(__name__)

_BATCH_CHUNKS = 64  # chunks handed to index() at once: large enough for efficient embedding

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


class SyncError(Exception):
    """A sync could not run at all (another sync holds the lock, the ledger is unreadable)."""


@dataclass
class SyncReport:
    """What a sync did; also the progress snapshot handed to the progress callback."""

    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failures: list[Failure] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    current: str = ""

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0

    @property
    def ingested(self) -> int:
        """Documents that are in the index after this run (new, changed or unchanged)."""
        return self.new + self.changed + self.unchanged

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["failures"] = [asdict(f) for f in self.failures]
        data["failed"] = self.failed
        data["chunks_per_second"] = round(self.chunks_per_second, 2)
        data["seconds"] = round(self.seconds, 3)
        return data


ProgressCallback = Callable[[SyncReport], None]


# --- ledger ----------------------------------------------------------------------------------
def ledger_engine(settings: Settings) -> Engine:
    """The engine of the sync records database (record manager and ledger share it)."""
    if settings.record_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.record_url)
    _meta.create_all(engine)
    return engine


def _ledger_rows(engine: Engine, origin: str | None = None) -> dict[tuple[str, str], dict]:
    query = select(documents_table)
    if origin is not None:
        query = query.where(documents_table.c.origin == origin)
    with engine.connect() as conn:
        return {(r.origin, r.location): dict(r._mapping) for r in conn.execute(query)}


def _ledger_put(engine: Engine, row: dict) -> None:
    key = (documents_table.c.origin == row["origin"]) & (
        documents_table.c.location == row["location"]
    )
    with engine.begin() as conn:
        conn.execute(documents_table.delete().where(key))
        conn.execute(documents_table.insert().values(**row))


def _ledger_delete(engine: Engine, origin: str, location: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            documents_table.delete().where(
                (documents_table.c.origin == origin) & (documents_table.c.location == location)
            )
        )


def last_run(settings: Settings) -> dict | None:
    """The most recent sync run (started_at, finished_at, sources, summary), if any."""
    engine = ledger_engine(settings)
    with engine.connect() as conn:
        row = conn.execute(
            select(runs_table).order_by(runs_table.c.id.desc()).limit(1)
        ).first()
    return dict(row._mapping) if row else None


def ledger_documents(settings: Settings) -> list[dict]:
    """Every document the index holds, as recorded by the syncs."""
    return list(_ledger_rows(ledger_engine(settings)).values())


# --- helpers ---------------------------------------------------------------------------------
def normalise_source(source: str) -> str:
    """Absolute path for local sources, the URL itself for websites."""
    if source.startswith(("http://", "https://")):
        return source
    return str(Path(source).expanduser().resolve())


@contextlib.contextmanager
def sync_lock(settings: Settings) -> Iterator[None]:
    """One sync at a time per data directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / "sync.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SyncError("another sync is running on this data directory") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pipeline_fingerprint(settings: Settings) -> str:
    """Changes whenever the extraction or chunking code or the chunk settings change.

    Folded into each document's stored hash, so unchanged bytes are re-extracted after such a
    change; chunk ids then decide what really needs embedding again.
    """
    import ingest.chunk
    import ingest.extract

    digest = hashlib.sha256(f"{settings.chunk_size}:{settings.chunk_overlap}".encode())
    for module in (ingest.extract, ingest.chunk):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def _to_document(chunk: Chunk) -> Document:
    return Document(id=chunk.id, page_content=chunk.text, metadata=dict(chunk.metadata))


def _chunk_key(doc: Document) -> str:
    # Chunk ids are already stable content hashes (ingest.chunk.chunk_id).
    assert doc.id is not None
    return doc.id


@dataclass
class _Pending:
    origin: str
    raw: RawDocument
    page: Page
    chunks: list[Chunk]
    is_new: bool
    previous_source: str | None


class _Syncer:
    """One sync run over several sources."""

    def __init__(
        self, settings: Settings, store: IndexStore, full: bool, progress: ProgressCallback | None
    ) -> None:
        self.settings = settings
        self.store = store
        self.full = full
        self.progress = progress
        self.engine = ledger_engine(settings)
        self.records = SQLRecordManager(
            namespace=f"chroma/{store.collection_name}", engine=self.engine
        )
        self.records.create_schema()
        self.report = SyncReport()
        self.fingerprint = pipeline_fingerprint(settings)
        self.pending: list[_Pending] = []
        self.indexed_sources: set[str] = set()
        self.seen: set[tuple[str, str]] = set()
        self.changed_index = False
        self.started = time.monotonic()

    # --- events ------------------------------------------------------------------------
    def run_source(self, source: str) -> None:
        origin = normalise_source(source)
        rows = _ledger_rows(self.engine, origin)
        known = {} if self.full else {
            location: Validators(etag=row["etag"], last_modified=row["last_modified"])
            for (_, location), row in rows.items()
        }
        completed = False
        try:
            for event in iter_source(source, self.settings, known):
                self._tick(getattr(event, "location", ""))
                if isinstance(event, RawDocument):
                    self._on_document(origin, event, rows.get((origin, event.location)))
                elif isinstance(event, NotModified):
                    self._on_not_modified(origin, event, rows)
                elif isinstance(event, Gone):
                    self._on_gone(origin, event.location, rows)
                elif isinstance(event, Failure):
                    self._on_failure(event)
                    self._keep_known(origin, event.location, rows)
            completed = True
        finally:
            self._flush()
        if completed and not origin.startswith(("http://", "https://")):
            # Local trees are listed whole, so whatever was not seen was deleted.
            for (row_origin, location) in rows:
                if (row_origin, location) not in self.seen:
                    self._on_gone(origin, location, rows)
            self._flush()

    def _tick(self, location: str) -> None:
        self.report.current = location
        self.report.seconds = time.monotonic() - self.started
        if self.progress:
            self.progress(self.report)

    def _on_document(self, origin: str, raw: RawDocument, row: dict | None) -> None:
        self.report.seen += 1
        self.seen.add((origin, raw.location))
        if row and not self.full and row["raw_hash"] == self._input_hash(raw):
            self.report.unchanged += 1
            self.indexed_sources.add(row["source_id"])
            return
        try:
            page = extract(raw)
        except ExtractionError as exc:
            self._on_failure(Failure(raw.location, str(exc), origin))
            if row:  # keep what the index holds for it rather than lose the page
                self.indexed_sources.add(row["source_id"])
            return
        if page.source_id in self.indexed_sources:
            log.info("skip %s: same canonical page as one already indexed (%s)",
                     raw.location, page.source_id)
            self.report.unchanged += 1
            return
        self.indexed_sources.add(page.source_id)
        chunks = chunk_page(page, self.settings.chunk_size, self.settings.chunk_overlap)
        if not chunks:
            self._on_failure(Failure(raw.location, "no text left after chunking", origin))
            return
        previous = row["source_id"] if row and row["source_id"] != page.source_id else None
        self.pending.append(_Pending(origin, raw, page, chunks, row is None, previous))
        if sum(len(p.chunks) for p in self.pending) >= _BATCH_CHUNKS:
            self._flush()

    def _on_not_modified(self, origin: str, event: NotModified, rows: dict) -> None:
        self.report.seen += 1
        self.seen.add((origin, event.location))
        row = rows.get((origin, event.location))
        if row:
            self.report.unchanged += 1
            self.indexed_sources.add(row["source_id"])
        else:  # a 304 for a page we never stored: nothing to keep
            self._on_failure(Failure(event.location, "304 for an unknown page", origin))

    def _on_gone(self, origin: str, location: str, rows: dict) -> None:
        row = rows.get((origin, location))
        if row is None:
            return
        self.seen.add((origin, location))
        self._remove_source(row["source_id"])
        _ledger_delete(self.engine, origin, location)
        self.report.removed += 1
        log.info("removed %s (%s)", location, row["source_id"])

    def _keep_known(self, origin: str, location: str, rows: dict) -> None:
        """A known page that failed this time stays as it was: a bad read never loses data."""
        row = rows.get((origin, location))
        if row:
            self.seen.add((origin, location))
            self.indexed_sources.add(row["source_id"])

    def _on_failure(self, failure: Failure) -> None:
        log.warning("skipped %s: %s", failure.location, failure.reason)
        self.report.failures.append(failure)

    # --- writes ------------------------------------------------------------------------
    def _flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        before = {item.page.source_id: self._chunk_ids(item.page.source_id) for item in batch}
        docs = [_to_document(c) for p in batch for c in p.chunks]
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
        self.changed_index |= bool(result["num_added"] or result["num_deleted"])
        for item in batch:
            self._reconcile(item.page.source_id, {c.id for c in item.chunks})
            if item.previous_source:
                self._remove_source(item.previous_source)
            _ledger_put(self.engine, self._ledger_row(item))
            if item.is_new:
                self.report.new += 1
            elif before[item.page.source_id] == {c.id for c in item.chunks}:
                self.report.unchanged += 1  # new bytes, same content (e.g. a date in the chrome)
            else:
                self.report.changed += 1
        self.report.seconds = time.monotonic() - self.started

    def _input_hash(self, raw: RawDocument) -> str:
        return hashlib.sha256(f"{self.fingerprint}:{raw.content_hash}".encode()).hexdigest()

    def _ledger_row(self, item: _Pending) -> dict:
        return {
            "origin": item.origin,
            "location": item.raw.location,
            "source_id": item.page.source_id,
            "raw_hash": self._input_hash(item.raw),
            "etag": item.raw.etag,
            "last_modified": item.raw.last_modified,
            "title": item.page.title,
            "language": item.page.language,
            "page_type": item.page.page_type,
            "chunks": len(item.chunks),
            "synced_at": time.time(),
        }

    def _chunk_ids(self, source_id: str) -> set[str]:
        return set(self.store.collection.get(where={"source": source_id}, include=[])["ids"])

    def _reconcile(self, source_id: str, expected: set[str]) -> None:
        """Make the source's Chroma rows exactly ``expected`` (orphans of a killed run go)."""
        present = self._chunk_ids(source_id)
        orphans = [i for i in present if i not in expected]
        if orphans:
            self.store.delete(orphans)
            self.records.delete_keys(orphans)
            self.report.chunks_removed += len(orphans)
            self.changed_index = True

    def _remove_source(self, source_id: str) -> None:
        keys = self.records.list_keys(group_ids=[source_id])
        ids = sorted(set(keys) | self._chunk_ids(source_id))
        if ids:
            self.store.delete(ids)
            self.records.delete_keys(keys)
            self.report.chunks_removed += len(ids)
            self.changed_index = True

    def remove_unseen(self) -> None:
        """Full sync: whatever the ledger or Chroma holds that this run did not see goes."""
        for (origin, location), row in _ledger_rows(self.engine).items():
            if (origin, location) not in self.seen and row["source_id"] not in self.indexed_sources:
                self._on_gone(origin, location, {(origin, location): row})
        live = self.indexed_sources
        stray = [i for i, _, m in self.store.iter_rows(include_documents=False)
                 if str(m.get("source", "")) not in live]
        if stray:
            self.store.delete(stray)
            self.records.delete_keys(stray)
            self.report.chunks_removed += len(stray)
            self.changed_index = True

    def finish(self, sources: list[str]) -> SyncReport:
        self.report.seconds = time.monotonic() - self.started
        self.report.current = ""
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        if self.changed_index:
            self.store.bump_generation(last_sync=finished)

        with self.engine.begin() as conn:
            conn.execute(
                runs_table.insert().values(
                    started_at=time.time() - self.report.seconds,
                    finished_at=time.time(),
                    sources=json.dumps(sources),
                    summary=json.dumps(self.report.as_dict()),
                )
            )
        return self.report


def sync(
    settings: Settings,
    store: IndexStore,
    sources: list[str] | None = None,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Bring the index in line with ``sources`` (default: ``settings.sources``).

    Incremental by default. ``full`` re-reads everything (no conditional requests, no hash
    shortcut) and afterwards removes every document that is not in these sources.
    """
    sources = list(sources or settings.sources)
    with sync_lock(settings):
        syncer = _Syncer(settings, store, full, progress)
        for source in sources:
            syncer.run_source(source)
        if full:
            syncer.remove_unseen()
        return syncer.finish(sources)
