"""Term statistics of the whole index, counted once by the keyword index and reloaded with it.

The keyword index reads every passage when it is built (at the end of a sync, or by the first
process that needs it); ``keyword_index_options`` asks it to count the answer engine's
``terms`` meanwhile and to save the counts with a tag naming what it returns (``terms_tag``).
The answer engine then reads them (``IndexTermStats``) instead of counting again, and follows
the index to each new generation. Counts saved by another version or for another site's names
are not trusted: the passages are counted here once instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Protocol

from assistant.terms import TermStats, drop_site_names, terms, terms_tag
from vectorstore.keyword_index import KeywordIndexOptions
from vectorstore.passages import Passage

log = logging.getLogger(__name__)


class TermCounts(Protocol):
    """What the answer engine reads of a keyword index (vectorstore.search.KeywordIndex fits)."""

    @property
    def passages(self) -> Sequence[Passage]: ...

    @property
    def generation(self) -> str: ...

    @property
    def doc_freqs(self) -> Mapping[str, int] | None: ...

    @property
    def doc_terms_tag(self) -> str: ...

    @property
    def positions(self) -> Mapping[str, int]: ...

    @property
    def dated(self) -> Sequence[Passage]: ...


def keyword_index_options() -> KeywordIndexOptions:
    """What the keyword index counts for the answer engine: document frequencies of
    ``assistant.terms.terms``, tagged with what it returns (``terms_tag``: its version and the
    site's names), so saved indexes counted otherwise are rebuilt once instead of giving wrong
    weights. The build reads each distinct whitespace-separated piece once, after
    ``drop_site_names`` took out the one pattern of ``terms`` that spans a space."""
    return _options(terms_tag())


@cache
def _options(tag: str) -> KeywordIndexOptions:
    return KeywordIndexOptions(
        doc_terms=terms,
        doc_terms_tag=f"assistant.terms:{tag}",
        doc_terms_prepare=drop_site_names,
    )


def stats_of(index: TermCounts) -> TermStats:
    """TermStats from the keyword index's saved counts; counted over its passages only when the
    index was built without them (a searcher made without ``keyword_index_options``)."""
    doc_freqs = index.doc_freqs
    if doc_freqs is None or index.doc_terms_tag != keyword_index_options().doc_terms_tag:
        log.info("keyword index has no term counts: counting %d passages", len(index.passages))
        return TermStats(p.text for p in index.passages)
    return TermStats.of_counts(doc_freqs, len(index.passages))


class IndexTermStats:
    """The whole index's term statistics, taken from ``keyword_index()`` and refreshed when its
    generation changes; nothing is read per passage when a question is answered."""

    def __init__(self, keyword_index: Callable[[], TermCounts]) -> None:
        self.keyword_index = keyword_index
        self._stats: TermStats | None = None
        self._generation: str | None = None
        self._lock = threading.Lock()

    def get(self, passages: Sequence[Passage]) -> TermStats:
        """The index's statistics; those of ``passages`` alone while the index is empty."""
        index = None
        try:
            index = self.keyword_index()
        except Exception as exc:  # keep the old statistics if the store hiccups
            log.warning("cannot refresh term statistics: %s", exc)
        with self._lock:
            if index is not None and index.passages and index.generation != self._generation:
                self._stats = stats_of(index)
                self._generation = index.generation
            if self._stats is None or self._stats.n == 0:
                return TermStats(p.text for p in passages)
            return self._stats
