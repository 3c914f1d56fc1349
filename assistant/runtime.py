"""The running parts, built once at the edge (CLI command or app lifespan) and passed in."""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from assistant.answer import Assistant
from assistant.config import Settings
from assistant.llm import build_chat_model
from assistant.term_counts import keyword_index_options
from assistant.terms import use_site
from assistant.unit_vectors import store_unit_vectors
from vectorstore.embeddings import load_embeddings
from vectorstore.keyword_index import release_memory, save_keyword_index
from vectorstore.search import HybridSearcher
from vectorstore.store import IndexStore
from vectorstore.vector_cache import VectorCache

if TYPE_CHECKING:
    from ingest.report import ProgressCallback, SyncReport

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Settings, the embedding model, the store, the searcher and the answer engine."""

    settings: Settings
    embeddings: Embeddings
    store: IndexStore
    searcher: HybridSearcher
    assistant: Assistant

    def warm(self) -> None:
        """Load (or build) the keyword index now, so the first question does not wait for it."""
        self.searcher.keyword_index()


def open_runtime(settings: Settings, embeddings: Embeddings | None = None) -> Runtime:
    """Open the store and wire the parts; the model itself loads on first use."""
    use_site(settings.site_profile())  # the answer engine's terms drop the site's names
    embeddings = embeddings or load_embeddings(settings.embedding_options())
    store = IndexStore(settings.store_options(), embeddings)
    # The service rebuilds the keyword index beside the queries and saves it for the next start.
    searcher = HybridSearcher(
        store,
        settings.search_options(),
        cache_dir=keyword_index_dir(settings),
        background_rebuild=True,
        keyword_options=keyword_index_options(),
    )
    assistant = Assistant(
        settings,
        searcher,
        chat_model=build_chat_model(settings),
        unit_cache=_unit_vector_cache_or_none(settings, store),
    )
    return Runtime(settings, embeddings, store, searcher, assistant)


def keyword_index_dir(settings: Settings) -> Path:
    """Where saved keyword indexes live (one directory per collection)."""
    return settings.data_dir / "keyword-index"


def unit_vector_cache(settings: Settings, store: IndexStore) -> VectorCache:
    """The answer engine's unit vectors on disk: one file per collection (whose name holds the
    model and its variant), so pruning one index never deletes another's vectors."""
    path = settings.data_dir / "unit-vectors" / f"{store.collection_name}.sqlite"
    return VectorCache(path, model=store.collection_name)


def _unit_vector_cache_or_none(settings: Settings, store: IndexStore) -> VectorCache | None:
    try:
        return unit_vector_cache(settings, store)
    except (OSError, sqlite3.Error) as exc:  # a read-only data dir: answers embed on the spot
        log.warning("unit vectors cannot be read from disk: %s", exc)
        return None


@dataclass(frozen=True)
class ServedIndexWork:
    """What the end of a sync prepared for the servers, and how long it took."""

    keyword_index_s: float
    unit_vectors_s: float
    units_embedded: int
    units_pruned: int = 0


def sync_index(
    settings: Settings,
    store: IndexStore,
    sources: list[str] | None = None,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """``ingest.sync.sync``, then ``prepare_served_index``: every sync goes through here
    (``kmr ingest``, ``kmr up``, the admin route, the schedule), so servers load what they
    need instead of computing it. A failure of the second step only costs the servers work,
    so it is logged, not raised."""
    from ingest.sync import sync  # heavy (extraction, crawling): only when syncing

    report = sync(settings.sync_options(), store, sources, full=full, progress=progress)
    try:
        prepare_served_index(settings, store, prune=report.chunks_removed > 0)
    except Exception as exc:  # noqa: BLE001 - the sync itself succeeded
        log.warning("could not prepare the keyword index and unit vectors: %s", exc)
    return report


def prepare_served_index(
    settings: Settings,
    store: IndexStore,
    embeddings: Embeddings | None = None,
    *,
    prune: bool = False,
) -> ServedIndexWork:
    """Build and save the keyword index of the store's generation (with the answer engine's
    term counts) unless it is saved already, then embed and store the vectors of its units
    not stored yet (with ``embeddings``, default the store's model); with ``prune`` (chunks
    were removed), or when stale marks show an earlier pruning did not happen, delete the
    vectors of units no longer in the index."""
    use_site(settings.site_profile())  # the term counts drop the site's names, as answers do
    started = time.perf_counter()
    index = save_keyword_index(store, keyword_index_dir(settings), keyword_index_options())
    built = time.perf_counter()
    cache = unit_vector_cache(settings, store)
    pruned = 0
    try:
        embedded = store_unit_vectors(cache, embeddings or store.embeddings, index.passages)
        # marks of texts the index no longer holds: left by a sync whose pruning failed
        if prune or cache.marked() > len({p.text for p in index.passages}):
            pruned = cache.prune(p.text for p in index.passages)
    finally:
        cache.close()
    done = time.perf_counter()
    log.info(
        "unit vectors: %d embedded and stored, %d pruned in %.1f s", embedded, pruned, done - built
    )
    del index
    release_memory()  # this process may go on serving (the admin route, kmr up)
    return ServedIndexWork(round(built - started, 1), round(done - built, 1), embedded, pruned)


def open_store(settings: Settings, embeddings: Embeddings | None = None) -> IndexStore:
    """Only the store, for ingestion and statistics."""
    return IndexStore(
        settings.store_options(), embeddings or load_embeddings(settings.embedding_options())
    )
