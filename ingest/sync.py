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

This module decides; the parts it uses: the ledger and the run log (``ingest.ledger``), the
writes to Chroma and the record manager (``ingest.index_writer``), canonical ownership
(``ingest.identity``) and the report (``ingest.report``). ``SyncOptions``, built by the
settings at the edge, carries everything a sync needs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest import directory
from ingest.crawl import Validators
from ingest.extract import ExtractionError, ExtractOptions
from ingest.identity import Claim, Claims, names_itself, normalise_source
from ingest.index_writer import IndexWriter
from ingest.ledger import (
    LedgerOptions,
    document_row,
    ledger_delete,
    ledger_engine,
    ledger_put,
    ledger_rows,
    record_run,
)
from ingest.records import Chunk, Failure, Gone, NotModified, Page, RawDocument
from ingest.report import Duplicate, ProgressCallback, SyncReport
from ingest.sources import SourceOptions, iter_source, printable
from ingest.worker import ExtractionWorker, WorkerLimits
from vectorstore.store import IndexStore

log = logging.getLogger(__name__)

_BATCH_CHUNKS = 64  # chunks handed to index() at once: large enough for efficient embedding


class SyncError(Exception):
    """A sync could not run at all (another sync holds the lock, the ledger is unreadable)."""


@dataclass(frozen=True)
class SyncOptions:
    """What a sync reads, how it extracts and chunks, and where it records (built by
    ``Settings``)."""

    sources: tuple[str, ...]
    """Local paths and website URLs synced when the caller names none."""
    ledger: LedgerOptions
    """Where the sync records live (and the data directory holding the sync lock)."""
    source: SourceOptions
    """How files are read and websites crawled."""
    extract: ExtractOptions
    """Extraction limits and trust rules (canonical hosts, language, page types)."""
    worker: WorkerLimits
    """The extraction worker's per-document budgets, and chunking."""


@contextlib.contextmanager
def sync_lock(data_dir: Path) -> Iterator[None]:
    """One sync at a time per data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "sync.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SyncError("another sync is running on this data directory") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The version of what extraction and chunking make of the same bytes. Bump it in any change to
# ingest/extract.py, ingest/chunk.py or the libraries they use that changes a Page or its
# chunks: every document is then extracted again on the next sync (chunk ids still decide what
# is embedded again). History: 1 = first release; 2 = issue 10 hardening (deep nesting kept,
# heavy inline markup flattened, unsure languages dropped, foreign canonicals refused,
# identical chunks once); 3 = issue 11: the dates a chunk states in its metadata and the
# partner directory entries (ingest.directory); 4 = issue 11 (time5): sidebar boxes of
# content kept, a date line above a heading chunked with that heading, directory tag lines;
# 5 = issue 11 (lists6): directory cards in sections of one or two, bare-label definition
# terms, an arrival stated in an organisation page's heading; 6 = issue 11 (time6): the text
# of <time> elements kept (trafilatura deleted it), a definition term and its short value one
# line; 7 = issue 11 (time8): a range with no end ("2017–", "2017–present") an open period.
PIPELINE_VERSION = 7


def pipeline_fingerprint(options: SyncOptions, collection: str) -> str:
    """Changes with PIPELINE_VERSION, with the settings that shape a Page or its chunks, and
    with the collection written to (the ledger is shared by the collections of several models
    or variants: a document unchanged for one is still missing from another).

    Folded into each document's stored hash, so unchanged bytes are re-extracted after such a
    change; chunk ids and the record manager's per-collection namespace then decide what really
    needs embedding again.
    """
    extract, worker = options.extract, options.worker
    shape = (
        f"{PIPELINE_VERSION}:{collection}:{worker.chunk_size}:{worker.chunk_overlap}:"
        f"{extract.canonical_hosts}:{extract.min_language_confidence}:{extract.page_type_words}"
    )
    return hashlib.sha256(shape.encode()).hexdigest()


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
        self, options: SyncOptions, store: IndexStore, full: bool, progress: ProgressCallback | None
    ) -> None:
        self.options = options
        self.store = store
        self.full = full
        self.progress = progress
        self.engine = ledger_engine(options.ledger)
        self.report = SyncReport()
        self.writer = IndexWriter(store, self.engine, self.report)
        self.fingerprint = pipeline_fingerprint(options, store.collection_name)
        self.worker = ExtractionWorker(options.worker)
        self.pending: list[_Pending] = []
        self.indexed_sources: set[str] = set()
        self.claims = Claims(ledger_rows(self.engine))
        self.seen: set[tuple[str, str]] = set()
        self.started = time.monotonic()

    # --- events ------------------------------------------------------------------------
    def run_source(self, source: str) -> None:
        """Sync one source: its events, then (for a local tree read whole) its deletions."""
        origin = normalise_source(source)
        rows = ledger_rows(self.engine, origin)
        known = (
            {}
            if self.full
            else {
                location: Validators(etag=row["etag"], last_modified=row["last_modified"])
                for (_, location), row in rows.items()
            }
        )
        events = iter_source(source, self.options.source, known)
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
        self.claims.hold(origin, location, source_id, outcome)

    def _unchanged(self, origin: str, raw: RawDocument, row: dict | None) -> bool:
        """True when the stored result for these bytes can be kept without extracting."""
        if not row or self.full or row["raw_hash"] != self._input_hash(raw):
            return False
        source_id = row["source_id"]
        # Held by someone else too (a claim this run, or two ledger rows): decide afresh.
        return self.claims.owner(source_id, (origin, raw.location)) is None

    def _on_document(self, origin: str, raw: RawDocument, row: dict | None) -> None:
        self.report.seen += 1
        self.seen.add((origin, raw.location))
        if self._unchanged(origin, raw, row):
            assert row is not None
            self.report.unchanged += 1
            self._hold(origin, raw.location, row["source_id"], "unchanged")
            return
        try:
            page, chunks = self.worker.process(raw, self.options.extract)
        except ExtractionError as exc:
            self._on_failure(Failure(printable(raw.location), str(exc), origin))
            if row:  # keep what the index holds for it rather than lose the page
                self._hold(origin, raw.location, row["source_id"])
            return
        key = (origin, raw.location)
        owner = self.claims.owner(page.source_id, key)
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
        self.claims.give(page.source_id, Claim(origin, raw.location, rightful))
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
                self.writer.remove_source(row["source_id"])
            self._forget(origin, location, row["source_id"])

    def _take_over(self, source_id: str, owner: Claim) -> None:
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
        ledger_delete(self.engine, origin, location)
        self.claims.forget(origin, location, source_id)

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
            self.writer.remove_source(row["source_id"])  # not if another document holds the id
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
        writer = self.writer
        before = {item.page.source_id: writer.chunk_ids(item.page.source_id) for item in batch}
        writer.write([c for p in batch for c in p.chunks])
        for item in batch:
            writer.reconcile(item.page.source_id, {c.id for c in item.chunks})
            if item.previous_source and item.previous_source not in self.claims:
                writer.remove_source(item.previous_source)
            ledger_put(
                self.engine,
                document_row(
                    item.origin, item.raw, item.page, len(item.chunks), self._input_hash(item.raw)
                ),
            )
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

    def remove_unseen(self) -> None:
        """Full sync: whatever the ledger or Chroma holds that this run did not see goes."""
        for (origin, location), row in ledger_rows(self.engine).items():
            if (origin, location) not in self.seen and row["source_id"] not in self.indexed_sources:
                self._on_gone(origin, location, {(origin, location): row})
        self.writer.keep_only(self.indexed_sources)

    def finish(self, sources: list[str], error: str = "") -> SyncReport:
        """Record the run (also one that stopped on ``error``) and return its report."""
        self.worker.close()
        self.report.seconds = time.monotonic() - self.started
        self.report.current = ""
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        if self.writer.changed and not error:
            self.store.bump_generation(last_sync=finished)
        summary = self.report.as_dict()
        if error:
            summary["error"] = error
        record_run(
            self.engine,
            started_at=time.time() - self.report.seconds,
            finished_at=time.time(),
            sources=[printable(s) for s in sources],
            summary=summary,
        )
        return self.report


def sync(
    options: SyncOptions,
    store: IndexStore,
    sources: list[str] | None = None,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Bring the index in line with ``sources`` (default: ``options.sources``).

    Incremental by default. ``full`` re-reads everything (no conditional requests, no hash
    shortcut) and afterwards removes every document that is not in these sources.
    """
    sources = list(sources or options.sources)
    getattr(store, "require_writable", lambda: None)()  # read-only index: refuse, no lock file
    with sync_lock(options.ledger.data_dir):
        syncer = _Syncer(options, store, full, progress)
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
