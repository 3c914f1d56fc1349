"""Fusion of the dense and keyword lists: reciprocal rank, the asker's language, no repeats.

- Reciprocal rank fusion: each list adds ``weight / (rrf_k + rank)`` to a passage's score.
- Language-aware: when a page and its translation (hreflang alternates in chunk metadata)
  both match, passages of the page in the asker's language rank first and the other
  language's passages are pushed down; passages in the asker's language get a small prior.
- No passage twice: duplicates by id and near-identical text (word-shingle Jaccard) are
  dropped, and a page's extra passages can wait until other pages had their turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vectorstore.passages import Passage, same_page
from vectorstore.text import chunk_body, jaccard, shingles


@dataclass
class Candidate:
    """A passage with its ranks in each list and its fused score."""

    passage: Passage
    dense_rank: int | None = None
    dense_score: float | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None
    score: float = 0.0


def reciprocal_rank_fusion(
    dense: Sequence[tuple[Passage, float]],
    keyword: Sequence[tuple[Passage, float]],
    *,
    rrf_k: int = 60,
    dense_weight: float = 1.0,
    keyword_weight: float = 1.0,
) -> list[Candidate]:
    """Fuse two ranked lists: score = sum of weight / (rrf_k + rank), best first."""
    merged: dict[str, Candidate] = {}
    for rank, (passage, score) in enumerate(dense, start=1):
        cand = merged.setdefault(passage.id, Candidate(passage))
        if cand.dense_rank is None:
            cand.dense_rank, cand.dense_score = rank, score
            cand.score += dense_weight / (rrf_k + rank)
    for rank, (passage, score) in enumerate(keyword, start=1):
        cand = merged.setdefault(passage.id, Candidate(passage))
        if cand.keyword_rank is None:
            cand.keyword_rank, cand.keyword_score = rank, score
            cand.score += keyword_weight / (rrf_k + rank)
    return sorted(merged.values(), key=lambda c: c.score, reverse=True)


def prefer_language(
    candidates: list[Candidate],
    language: str | None,
    alternates: dict[str, dict[str, str]],
    *,
    prior: float = 1.1,
    shadow: float = 0.5,
) -> list[Candidate]:
    """Favour the asker's language.

    Passages in ``language`` get a small prior; a passage in another language whose page has
    a translation in ``language`` that also matched is "shadowed": its score is scaled down so
    the translation comes first, while facts found only on the other page stay reachable.
    """
    if not language:
        return candidates
    matched_sources = {
        same_page(c.passage.source_id) for c in candidates if c.passage.language == language
    }
    for cand in candidates:
        p = cand.passage
        if p.language == language:
            cand.score *= prior
            continue
        translation = alternates.get(same_page(p.source_id), {}).get(language)
        if translation and translation in matched_sources:
            cand.score *= shadow
    return sorted(candidates, key=lambda c: c.score, reverse=True)


_SHINGLE_CACHE: dict[tuple[str, int], frozenset] = {}
_SHINGLE_CACHE_SIZE = 20_000


def passage_shingles(passage: Passage) -> frozenset:
    """Shingles of a passage's body, cached by id and text."""
    key = (passage.id, hash(passage.text))
    cached = _SHINGLE_CACHE.get(key)
    if cached is None:
        # the title and heading path are shared by every chunk of a page: the body alone
        cached = shingles(chunk_body(passage.text, passage.title, passage.heading))
        if len(_SHINGLE_CACHE) >= _SHINGLE_CACHE_SIZE:
            _SHINGLE_CACHE.clear()
        _SHINGLE_CACHE[key] = cached
    return cached


def drop_duplicates(
    candidates: Iterable[Candidate],
    k: int,
    threshold: float = 0.85,
    max_per_source: int | None = None,
) -> list[Candidate]:
    """The first ``k`` candidates with no repeated id and no near-identical text.

    With ``max_per_source``, a page's extra passages wait until other pages had their turn,
    so a question spanning two pages sees both.
    """
    kept: list[Candidate] = []
    deferred: list[Candidate] = []
    kept_shingles: list[frozenset] = []
    per_source: dict[str, int] = {}

    def is_new(cand: Candidate, sh: frozenset) -> bool:
        return cand not in kept and not any(jaccard(sh, o) >= threshold for o in kept_shingles)

    def accept(cand: Candidate, sh: frozenset) -> None:
        kept.append(cand)
        kept_shingles.append(sh)
        per_source[cand.passage.source_id] = per_source.get(cand.passage.source_id, 0) + 1

    seen_ids: set[str] = set()
    for cand in candidates:
        if len(kept) >= k:
            break
        if cand.passage.id in seen_ids:
            continue
        seen_ids.add(cand.passage.id)
        sh = passage_shingles(cand.passage)
        if not is_new(cand, sh):
            continue
        if max_per_source and per_source.get(cand.passage.source_id, 0) >= max_per_source:
            deferred.append(cand)
            continue
        accept(cand, sh)
    for cand in deferred:  # fill the remaining places in rank order
        if len(kept) >= k:
            break
        sh = passage_shingles(cand.passage)
        if is_new(cand, sh):
            accept(cand, sh)
    kept.sort(key=lambda c: c.score, reverse=True)
    return kept


def with_parts(
    whole: Sequence[Passage], parts: Sequence[Sequence[Passage]], after: int
) -> list[Passage]:
    """The passages of ``whole`` (a question searched whole) with each part's best passage
    (``parts``: each part searched alone) placed after its first ``after`` ones, unless it is
    among those already: every part of a question in several parts has its best passage near
    the top, and no passage of the whole question's list is lost (the list grows by as many).
    Scores are kept, capped so they never rise down the list."""
    head, tail = list(whole[:after]), list(whole[after:])
    seen = {p.id for p in head}
    added: list[Passage] = []
    for ranked in parts:
        if ranked and ranked[0].id not in seen:
            seen.add(ranked[0].id)
            added.append(ranked[0])
    merged = head + added + [p for p in tail if p.id not in seen]
    for i in range(1, len(merged)):
        if merged[i].score > merged[i - 1].score:
            merged[i] = merged[i].model_copy(update={"score": merged[i - 1].score})
    return merged
