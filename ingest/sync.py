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
- No document can stop a run or take the machine: extraction runs in a worker process under
  per-document budgets (ingest.worker); whatever goes wrong with one document is a logged,
  reported skip, and every run is recorded, even one that stops on a store error.
- A canonical URL cannot be taken over: it belongs to the first document that claims it,
  unless a later one is the page the URL names (its own address) and the owner is not; the
  other claimant is skipped and reported as a duplicate with its owner.
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
from urllib.parse import urlsplit

from langchain_classic.indexes import SQLRecordManager
from langchain_core.documents import Document
from langchain_core.indexing import index
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine

from assistant.config import Settings
from ingest import directory
from ingest.crawl import Validators
from ingest.extract import ExtractionError, ExtractOptions
from ingest.records import Chunk, Failure, Gone, NotModified, Page, RawDocument
from ingest.sources import iter_source, printable
from ingest.worker import ExtractionWorker, WorkerLimits
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


@dataclass(frozen=True)
class Duplicate:
    """A document skipped because another one owns the canonical URL it declares."""

    location: str
    canonical: str
    owner: str  # location of the document that owns it


@dataclass
class SyncReport:
    """What a sync did; also the progress snapshot handed to the progress callback."""

    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failures: list[Failure] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
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
        data["duplicates"] = [asdict(d) for d in self.duplicates]
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
        row = conn.execute(select(runs_table).order_by(runs_table.c.id.desc()).limit(1)).first()
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


def extract_options(settings: Settings) -> ExtractOptions:
    """Extraction limits and trust rules from the settings."""
    return ExtractOptions(
        max_elements=settings.extract_max_elements,
        max_text_chars=settings.extract_max_text_chars,
        canonical_hosts=tuple(settings.canonical_hosts),
        min_language_confidence=settings.language_min_confidence,
        page_type_words=tuple(sorted(settings.page_type_words.items())),
    )


def worker_limits(settings: Settings) -> WorkerLimits:
    """The extraction worker's per-document budgets and chunking from the settings."""
    return WorkerLimits(
        cpu_seconds=settings.extract_cpu_seconds,
        memory_mb=settings.extract_memory_mb,
        max_chunks=settings.extract_max_chunks,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        directory=directory.DirectoryOptions(max_entries=settings.directory_max_entries),
    )


# The version of what extraction and chunking make of the same bytes. Bump it in any change to
# ingest/extract.py, ingest/chunk.py or the libraries they use that changes a Page or its
# chunks: every document is then extracted again on the next sync (chunk ids still decide what
# is embedded again). History: 1 = first release; 2 = issue 10 hardening (deep nesting kept,
# heavy inline markup flattened, unsure languages dropped, foreign canonicals refused,
# identical chunks once); 3 = issue 11: the dates a chunk states in its metadata and the
# partner directory entries (ingest.directory).
PIPELINE_VERSION = 3


def pipeline_fingerprint(settings: Settings, collection: str) -> str:
    """Changes with PIPELINE_VERSION, with the settings that shape a Page or its chunks, and
    with the collection written to (the ledger is shared by the collections of several models
    or variants: a document unchanged for one is still missing from another).

    Folded into each document's stored hash, so unchanged bytes are re-extracted after such a
    change; chunk ids and the record manager's per-collection namespace then decide what really
    needs embedding again.
    """
    options = extract_options(settings)
    shape = (
        f"{PIPELINE_VERSION}:{collection}:{settings.chunk_size}:{settings.chunk_overlap}:"
        f"{options.canonical_hosts}:{options.min_language_confidence}:{options.page_type_words}"
    )
    return hashlib.sha256(shape.encode()).hexdigest()


def _to_document(chunk: Chunk) -> Document:
    return Document(id=chunk.id, page_content=chunk.text, metadata=dict(chunk.metadata))


def _chunk_key(doc: Document) -> str:
    # Chunk ids are already stable content hashes (ingest.chunk.chunk_id).
    assert doc.id is not None
    return doc.id


def _path_key(path: str) -> str:
    """'/en/contacts.html', '/en/contacts/', '/en/contacts/index.html' -> '/en/contacts'."""
    path = "/" + path.strip("/").lower()
    head, _, last = path.rpartition("/")
    stem = last.rsplit(".", 1)[0] if "." in last else last
    path = f"{head}/{stem}" if stem not in ("index", "default") else head
    return path.rstrip("/")


def names_itself(origin: str, location: str, canonical: str) -> bool:
    """True when ``canonical`` is the document's own address (a page pointing at itself).

    Such a page is the rightful owner of the URL; any other page declaring it is a copy.
    A file matches when its path under the source ends with the URL's path.
    """
    if not canonical.startswith(("http://", "https://")):
        return True  # a fallback identity (path or URL) is the document's own
    want = _path_key(urlsplit(canonical).path)
    if location.startswith(("http://", "https://")):
        return _path_key(urlsplit(location).path) == want
    try:
        have = _path_key(Path(location).relative_to(origin).as_posix())
    except ValueError:
        have = _path_key(location)
    return have == want if not want else (have == want or have.endswith(want))


@dataclass
class _Claim:
    """Who holds a source id in this run: the document, and whether the id names it."""

    origin: str
    location: str
    rightful: bool
    outcome: str = ""  # "new"/"changed"/"unchanged" once written by this run


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
        directory.create_table(self.engine)
        self.report = SyncReport()
        self.fingerprint = pipeline_fingerprint(settings, store.collection_name)
        self.options = extract_options(settings)
        self.worker = ExtractionWorker(worker_limits(settings))
        self.pending: list[_Pending] = []
        self.indexed_sources: set[str] = set()
        self.claims: dict[str, _Claim] = {}
        # Ledger rows by source id: a canonical URL already held by one document (before
        # this run) is not given to another.
        self.owners: dict[str, list[tuple[str, str]]] = {}
        for key, row in _ledger_rows(self.engine).items():
            self.owners.setdefault(row["source_id"], []).append(key)
        self.seen: set[tuple[str, str]] = set()
        self.changed_index = False
        self.started = time.monotonic()

    # --- events ------------------------------------------------------------------------
    def run_source(self, source: str) -> None:
        origin = normalise_source(source)
        rows = _ledger_rows(self.engine, origin)
        known = (
            {}
            if self.full
            else {
                location: Validators(etag=row["etag"], last_modified=row["last_modified"])
                for (_, location), row in rows.items()
            }
        )
        events = iter_source(source, self.settings, known)
        completed = False
        try:
            while True:
                try:
                    event = next(events)
                except StopIteration:
                    completed = True
                    break
                except Exception as exc:  # noqa: BLE001 - the source broke off, not the store
                    # What was read stays, nothing is taken for deleted, the next source runs.
                    log.warning("source %s stopped: %s", printable(source), exc, exc_info=True)
                    reason = f"source stopped: {type(exc).__name__}: {exc}"
                    self.report.failures.append(Failure(printable(source), reason, origin))
                    break
                self._tick(getattr(event, "location", ""))
                self._on_event(origin, event, rows)
                if sum(len(p.chunks) for p in self.pending) >= _BATCH_CHUNKS:
                    self._flush()
        finally:
            self._flush()
        if completed and not origin.startswith(("http://", "https://")):
            # Local trees are listed whole, so whatever was not seen was deleted.
            for row_origin, location in rows:
                if (row_origin, location) not in self.seen:
                    self._on_gone(origin, location, rows)
            self._flush()

    def _on_event(self, origin: str, event: object, rows: dict) -> None:
        """Handle one source event; an unexpected error skips this document only."""
        location = str(getattr(event, "location", ""))
        try:
            if isinstance(event, RawDocument):
                self._on_document(origin, event, rows.get((origin, event.location)))
            elif isinstance(event, NotModified):
                self._on_not_modified(origin, event, rows)
            elif isinstance(event, Gone):
                self._on_gone(origin, event.location, rows)
            elif isinstance(event, Failure):
                self._on_failure(event)
                self._keep_known(origin, event.location, rows)
        except (
            ExtractionError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            UnicodeError,
            RuntimeError,
        ) as exc:
            log.warning(
                "skipped %s: unexpected %s", printable(location), type(exc).__name__, exc_info=True
            )
            self.report.failures.append(
                Failure(
                    printable(location), f"unexpected error: {type(exc).__name__}: {exc}", origin
                )
            )
            self._keep_known(origin, location, rows)

    def _tick(self, location: str) -> None:
        self.report.current = printable(location)
        self.report.seconds = time.monotonic() - self.started
        if self.progress:
            self.progress(self.report)

    def _hold(self, origin: str, location: str, source_id: str, outcome: str = "") -> None:
        """Record that the document at ``location`` keeps ``source_id`` in this run."""
        self.indexed_sources.add(source_id)
        if source_id not in self.claims:
            self.claims[source_id] = _Claim(
                origin, location, names_itself(origin, location, source_id), outcome
            )

    def _owner(self, source_id: str, key: tuple[str, str]) -> _Claim | None:
        """Another document that holds ``source_id`` (this run first, then the ledger)."""
        claim = self.claims.get(source_id)
        if claim is not None:
            return None if (claim.origin, claim.location) == key else claim
        for origin, location in self.owners.get(source_id, []):
            if (origin, location) != key:
                return _Claim(origin, location, names_itself(origin, location, source_id))
        return None

    def _unchanged(self, origin: str, raw: RawDocument, row: dict | None) -> bool:
        """True when the stored result for these bytes can be kept without extracting."""
        if not row or self.full or row["raw_hash"] != self._input_hash(raw):
            return False
        source_id = row["source_id"]
        # Held by someone else too (a claim this run, or two ledger rows): decide afresh.
        return self._owner(source_id, (origin, raw.location)) is None

    def _on_document(self, origin: str, raw: RawDocument, row: dict | None) -> None:
        self.report.seen += 1
        self.seen.add((origin, raw.location))
        if self._unchanged(origin, raw, row):
            assert row is not None
            self.report.unchanged += 1
            self._hold(origin, raw.location, row["source_id"], "unchanged")
            return
        try:
            page, chunks = self.worker.process(raw, self.options)
        except ExtractionError as exc:
            self._on_failure(Failure(printable(raw.location), str(exc), origin))
            if row:  # keep what the index holds for it rather than lose the page
                self._hold(origin, raw.location, row["source_id"])
            return
        key = (origin, raw.location)
        owner = self._owner(page.source_id, key)
        rightful = names_itself(origin, raw.location, page.source_id)
        if owner is not None and not (rightful and not owner.rightful):
            self._on_duplicate(origin, raw.location, page.source_id, owner.location, row)
            return
        if owner is not None:
            self._take_over(page.source_id, owner)
        if not chunks:
            self._on_failure(
                Failure(printable(raw.location), "no text left after chunking", origin)
            )
            return
        self.indexed_sources.add(page.source_id)
        self.claims[page.source_id] = _Claim(origin, raw.location, rightful)
        previous = row["source_id"] if row and row["source_id"] != page.source_id else None
        self.pending.append(_Pending(origin, raw, page, chunks, row is None, previous))

    def _on_duplicate(
        self, origin: str, location: str, source_id: str, owner: str, row: dict | None
    ) -> None:
        """Skip a document whose canonical URL another one owns; report both."""
        log.warning(
            "skipped %s: its canonical URL %s belongs to %s",
            printable(location),
            source_id,
            printable(owner),
        )
        self.report.duplicates.append(Duplicate(printable(location), source_id, printable(owner)))
        if row:
            # It no longer stands for anything of its own: its ledger row goes, and the
            # chunks it wrote under another identity go with it (not the owner's).
            if row["source_id"] != source_id and row["source_id"] not in self.claims:
                self._remove_source(row["source_id"])
            self._forget(origin, location, row["source_id"])

    def _take_over(self, source_id: str, owner: _Claim) -> None:
        """The page a canonical URL names takes it back from a copy that held it."""
        log.warning("%s takes its canonical URL back from %s", source_id, printable(owner.location))
        self.report.duplicates.append(
            Duplicate(printable(owner.location), source_id, "(the page it names)")
        )
        before = len(self.pending)
        self.pending = [
            p for p in self.pending if (p.origin, p.raw.location) != (owner.origin, owner.location)
        ]
        if len(self.pending) == before and owner.outcome in ("new", "changed", "unchanged"):
            setattr(self.report, owner.outcome, getattr(self.report, owner.outcome) - 1)
        self._forget(owner.origin, owner.location, source_id)
        # Its chunks share the source id, so writing the rightful page replaces them.

    def _forget(self, origin: str, location: str, source_id: str) -> None:
        _ledger_delete(self.engine, origin, location)
        holders = self.owners.get(source_id, [])
        if (origin, location) in holders:
            holders.remove((origin, location))
        claim = self.claims.get(source_id)
        if claim is not None and (claim.origin, claim.location) == (origin, location):
            del self.claims[source_id]

    def _on_not_modified(self, origin: str, event: NotModified, rows: dict) -> None:
        self.report.seen += 1
        self.seen.add((origin, event.location))
        row = rows.get((origin, event.location))
        if row:
            self.report.unchanged += 1
            self._hold(origin, event.location, row["source_id"], "unchanged")
        else:  # a 304 for a page we never stored: nothing to keep
            self._on_failure(Failure(event.location, "304 for an unknown page", origin))

    def _on_gone(self, origin: str, location: str, rows: dict) -> None:
        row = rows.get((origin, location))
        if row is None:
            return
        self.seen.add((origin, location))
        claim = self.claims.get(row["source_id"])
        if claim is None or (claim.origin, claim.location) == (origin, location):
            self._remove_source(row["source_id"])  # not if another document holds the id
        self._forget(origin, location, row["source_id"])
        self.report.removed += 1
        log.info("removed %s (%s)", printable(location), row["source_id"])

    def _keep_known(self, origin: str, location: str, rows: dict) -> None:
        """A known page that failed this time stays as it was: a bad read never loses data."""
        row = rows.get((origin, location))
        if row:
            self.seen.add((origin, location))
            self._hold(origin, location, row["source_id"])

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
            if item.previous_source and item.previous_source not in self.claims:
                self._remove_source(item.previous_source)
            _ledger_put(self.engine, self._ledger_row(item))
            directory.save_entries(self.engine, item.page.source_id, item.page.directory)
            if item.is_new:
                outcome = "new"
            elif before[item.page.source_id] == {c.id for c in item.chunks}:
                outcome = "unchanged"  # new bytes, same content (e.g. a date in the chrome)
            else:
                outcome = "changed"
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            claim = self.claims.get(item.page.source_id)
            if claim is not None and claim.location == item.raw.location:
                claim.outcome = outcome
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
        directory.delete_entries(self.engine, source_id)
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
            self.changed_index = True

    def finish(self, sources: list[str], error: str = "") -> SyncReport:
        """Record the run (also one that stopped on ``error``) and return its report."""
        self.worker.close()
        self.report.seconds = time.monotonic() - self.started
        self.report.current = ""
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        if self.changed_index and not error:
            self.store.bump_generation(last_sync=finished)
        summary = self.report.as_dict()
        if error:
            summary["error"] = error
        with self.engine.begin() as conn:
            conn.execute(
                runs_table.insert().values(
                    started_at=time.time() - self.report.seconds,
                    finished_at=time.time(),
                    sources=json.dumps([printable(s) for s in sources]),
                    summary=json.dumps(summary),
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
    getattr(store, "require_writable", lambda: None)()  # read-only index: refuse, no lock file
    with sync_lock(settings):
        syncer = _Syncer(settings, store, full, progress)
        try:
            for source in sources:
                syncer.run_source(source)
            if full:
                syncer.remove_unseen()
        except BaseException as exc:
            # A store or ledger error stops the run; what it did so far is still recorded.
            try:
                syncer.finish(sources, error=f"{type(exc).__name__}: {exc}")
            except Exception:  # noqa: BLE001 - the original error is the one to report
                log.warning("could not record the stopped run", exc_info=True)
            raise
        return syncer.finish(sources)
