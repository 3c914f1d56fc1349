"""Hybrid retrieval: dense (Chroma) plus keyword (BM25), fused by reciprocal rank.

``HybridSearcher`` asks the store for the nearest chunks (``IndexStore.dense``) and the
keyword index (vectorstore.keyword_index) for the best BM25 matches, then fuses, favours the
asker's language and drops repeats (vectorstore.fusion).

- The keyword index follows the store: it is rebuilt when ``store.generation()`` changes
  (checked at most once per ``check_interval`` seconds, thread-safe; queries keep using the
  old index while a new one is built). A generation change also reopens an embedded store's
  view (``IndexStore.refresh_view``), so a sync run by another process is served within
  seconds.
- Filters: language and page type (in Chroma and in the BM25 mask), URL prefix (on the
  passage's URL or source id).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vectorstore.fusion import (
    Candidate,
    drop_duplicates,
    prefer_language,
    reciprocal_rank_fusion,
)
from vectorstore.keyword_index import (
    KeywordIndex,
    KeywordIndexOptions,
    build_keyword_index,
    load_or_build,
    release_memory,
)
from vectorstore.passages import Filters, Passage, allowed
from vectorstore.store import IndexStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchOptions:
    """What a search returns unless the caller says otherwise (built by ``Settings``), and
    the fusion's weights, each with the reason for its value in its metadata (``why``)."""

    retrieval_k: int
    """Passages returned per question when the caller gives no ``k``."""
    pool: int = field(
        default=40,
        metadata={
            "why": "candidates asked of each list (at least 3 k): room for fusion to reorder"
        },
    )
    rrf_k: int = field(
        default=60,
        metadata={"why": "the usual reciprocal-rank constant: the top ranks of a list count most"},
    )
    dense_weight: float = field(
        default=1.0, metadata={"why": "e5's list leads: it matches meaning across languages"}
    )
    keyword_weight: float = field(
        default=0.6,
        metadata={"why": "BM25's list rescues names and numbers e5 misses, without leading"},
    )
    language_prior: float = field(
        default=1.1,
        metadata={"why": "a small lift for passages in the asker's language: a tie-breaker"},
    )
    translation_shadow: float = field(
        default=0.5,
        metadata={"why": "a page whose translation also matched is halved, not dropped"},
    )
    max_per_source: int | None = field(
        default=3,
        metadata={"why": "a page's 4th passage waits, so a two-page question sees both pages"},
    )


@dataclass
class SearchResult:
    """The passages returned, with the signals behind them (for abstention decisions)."""

    passages: list[Passage]
    candidates: list[Candidate]
    top_dense: float | None  # best cosine similarity among dense hits
    top_keyword: float | None  # best BM25 score
    keyword_hits: int  # passages with any keyword match


class HybridSearcher:
    """Dense + BM25 retrieval over one IndexStore, fused by reciprocal rank."""

    def __init__(
        self,
        store: IndexStore,
        options: SearchOptions,
        *,
        check_interval: float = 1.0,
        cache_dir: Path | None = None,
        background_rebuild: bool = False,
        keyword_options: KeywordIndexOptions | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.cache_dir = cache_dir
        self.keyword_options = keyword_options
        self.background_rebuild = background_rebuild
        self.check_interval = check_interval
        self._index: KeywordIndex | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    # --- keyword index freshness ---------------------------------------------------------
    def keyword_index(self) -> KeywordIndex:
        """The BM25 index; a new one is prepared when the store's generation changed.

        The first index is built (or loaded) before the call returns. With
        ``background_rebuild`` (the service), later ones are prepared in a thread while queries
        keep the current index, so no visitor waits for a rebuild after a sync; without it the
        calling thread rebuilds and gets the new index.
        """
        index = self._index
        if index is not None and time.monotonic() - self._checked_at < self.check_interval:
            return index
        if index is not None and not self._lock.acquire(blocking=False):
            return index  # another thread is checking or rebuilding: serve the current index
        if index is None:
            self._lock.acquire()
        handed_over = False
        try:
            index = self._index
            if index is not None and time.monotonic() - self._checked_at < self.check_interval:
                return index
            generation = self.store.generation()
            if index is None or (generation != index.generation and not self.background_rebuild):
                self.store.refresh_view(generation)
                self._index = index = self._load_or_build(generation, reuse=index)
                release_memory()  # the load's transient copies, and any index replaced
            elif generation != index.generation:
                thread = threading.Thread(
                    target=self._rebuild, args=(generation,), name="kmr-keyword-index", daemon=True
                )
                thread.start()
                handed_over = True  # the thread releases the lock when done
            self._checked_at = time.monotonic()
            return index
        finally:
            if not handed_over:
                self._lock.release()

    def _rebuild(self, generation: str) -> None:
        """Background: follow the store to ``generation``; on failure keep the current index."""
        try:
            # the vectors first: a sync in another process is invisible to an embedded view
            self.store.refresh_view(generation)
            self._index = self._load_or_build(generation, reuse=self._index)
            release_memory()  # the old index is gone with its last reference
        except Exception:  # the store went away mid-rebuild: keep serving, retry next check
            log.exception("keyword index rebuild at generation %s failed", generation)
        finally:
            self._checked_at = time.monotonic()
            self._lock.release()

    def wait_until_current(self, timeout: float = 60.0) -> KeywordIndex:
        """Block until the keyword index matches the store's generation (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while True:
            self._checked_at = float("-inf")
            index = self.keyword_index()
            if index.generation == self.store.generation():
                return index
            if time.monotonic() > deadline:
                raise TimeoutError("the keyword index did not catch up with the store")
            time.sleep(0.05)

    def _saved_path(self) -> Path | None:
        return self.cache_dir / self.store.collection_name if self.cache_dir else None

    def _load_or_build(self, generation: str, reuse: KeywordIndex | None = None) -> KeywordIndex:
        """The saved index of this generation if there is one, else a new one (then saved);
        a loaded one shares the unchanged passages of ``reuse``, the index it replaces."""
        path = self._saved_path()
        if path is None:
            return build_keyword_index(self.store, generation, self.keyword_options)
        # the service answers as soon as it has built it; the file follows
        return load_or_build(
            self.store,
            path,
            generation,
            self.keyword_options,
            save_in_background=self.background_rebuild,
            reuse=reuse,
        )

    def refresh(self) -> KeywordIndex:
        """Check the store's generation now (rebuilding if it changed)."""
        if self.background_rebuild:
            return self.wait_until_current()
        self._checked_at = float("-inf")
        return self.keyword_index()

    # --- search --------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        language: str | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query`` (default ``options.retrieval_k``)."""
        return self.search_detailed(query, k=k, filters=filters, language=language).passages

    def search_detailed(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        language: str | None = None,
    ) -> SearchResult:
        """Like :meth:`search`, with the ranks and raw scores behind the result."""
        options = self.options
        k = k or options.retrieval_k
        query = (query or "").strip()
        if not query:
            return SearchResult([], [], None, None, 0)
        index = self.keyword_index()
        pool = max(options.pool, 3 * k)
        dense = self._dense(query, pool, filters)
        keyword = index.search(query, pool, filters)
        candidates = reciprocal_rank_fusion(
            dense,
            keyword,
            rrf_k=options.rrf_k,
            dense_weight=options.dense_weight,
            keyword_weight=options.keyword_weight,
        )
        if not (filters and filters.language):
            candidates = prefer_language(
                candidates,
                language,
                index.alternates,
                prior=options.language_prior,
                shadow=options.translation_shadow,
            )
        kept = drop_duplicates(candidates, k, max_per_source=options.max_per_source)
        passages = [c.passage.model_copy(update={"score": round(c.score, 6)}) for c in kept]
        return SearchResult(
            passages=passages,
            candidates=kept,
            top_dense=max((s for _, s in dense), default=None),
            top_keyword=max((s for _, s in keyword), default=None),
            keyword_hits=len(keyword),
        )

    def _dense(self, query: str, n: int, filters: Filters | None) -> list[tuple[Passage, float]]:
        if filters and filters.url_prefix:
            # Chroma cannot filter on a prefix: fetch more and filter here.
            n = n * 5
        hits = self.store.dense(query, n, filters)
        return [(p, p.score) for p in hits if allowed(p, filters)]
