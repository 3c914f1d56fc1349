"""The keyword index's fast build gives what the slow one gave, token for token and score for score.

The build reads each distinct whitespace-separated piece of text once and scores BM25 from flat
arrays (vectorstore.keyword_build). Here it is held against the definitions it replaces: every
passage's BM25 tokens are ``document_tokens`` of its text, scored by bm25s' own loop, and the
term counts are ``TermStats`` over the texts, on the sample site's pages and on texts made to
catch a tokenizer that reads across a space (the district's name split over lines, elisions,
hyphens, dotted names, accents, ligatures, no words at all).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import pytest
from bm25s.tokenization import Tokenized

from assistant.config import SAMPLE_SITE
from assistant.term_counts import keyword_index_options
from assistant.terms import TermStats, drop_site_names, terms
from vectorstore.keyword_build import EMPTY_TOKEN, CorpusTokens, FlatBM25, PieceCache
from vectorstore.keyword_index import (
    PASSAGES_FILE,
    KeywordIndex,
    KeywordIndexOptions,
    count_documents,
)
from vectorstore.text import document_tokens

TRICKY = [
    "Kilometro Rosso founded in 2003. KILOMETRO\nROSSO and km  rosso, (Kilometro Rosso).",
    "Il Kilometro Rosso-based labs; the rosso wall is red. Km rosso's parking.",
    "dell'edificio, l’area, park's café: co-working, start-ups, i.lab and ITS-lab 13.000 m²",
    "Perché così? Città, caffè, naïve, Straße, ﬁnance, ½ day, ſtreet\u00a0and\ttabs\u2003here",
    "",
    "   ",
    "the of and il la di",
    "- . _ ... !!!",
    "e.g. www.kilometrorosso.com info@kilometrorosso.com +39 035 0690 311",
    "Kilometro\n\nRosso\n\nInnovation District — Via Stezzano 87, Bergamo",
]


def sample_texts() -> list[tuple[str, str]]:
    """(text, language) of the sample site's pages, tags stripped, one passage a paragraph."""
    out: list[tuple[str, str]] = []
    for path in sorted(SAMPLE_SITE.rglob("*.htm*")):
        language = "it" if "/it/" in str(path) else "en"
        text = re.sub(r"<[^>]+>", " ", path.read_text(errors="replace"))
        out += [(p, language) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return out


def corpus() -> list[tuple[str, str]]:
    texts = sample_texts()
    assert len(texts) > 100
    return texts + [(t, language) for t in TRICKY for language in ("it", "en", "")]


def rows(texts: list[tuple[str, str]]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(f"c{i}", text, {"language": lang}) for i, (text, lang) in enumerate(texts)]


def test_each_passage_gets_the_tokens_of_its_whole_text() -> None:
    tokens = CorpusTokens()
    for text, language in corpus():
        tokens.add(text.split(), language)
    flat = tokens.corpus.flat()
    names = {i: t for t, i in tokens.corpus.vocab.items()}
    start = 0
    for (text, language), length in zip(corpus(), flat.lengths, strict=True):
        got = [names[int(i)] for i in flat.tokens[start : start + length]]
        start += length
        assert Counter(got) == Counter(document_tokens(text, language) or [EMPTY_TOKEN]), text


def test_the_flat_bm25_scores_every_term_as_bm25s_does() -> None:
    texts = corpus()
    fast = KeywordIndex.build(rows(texts)).retriever
    assert isinstance(fast, FlatBM25)
    vocab: dict[str, int] = {}
    ids = [
        [vocab.setdefault(t, len(vocab)) for t in document_tokens(text, lang) or [EMPTY_TOKEN]]
        for text, lang in texts
    ]
    slow = bm25s.BM25()
    slow.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
    assert set(fast.vocab_dict) == set(slow.vocab_dict)
    for token in vocab.keys() - {""}:  # bm25s adds "" (outside the matrix) for empty queries
        assert np.array_equal(fast.get_scores([token]), slow.get_scores([token])), token
    assert np.array_equal(
        fast.get_scores(["kilometr", "ross", "parcheggi"]),
        slow.get_scores(["kilometr", "ross", "parcheggi"]),
    )


def test_the_term_counts_are_those_of_the_answer_engine() -> None:
    texts = [t for t, _ in corpus()]
    index = KeywordIndex.build(rows(corpus()), options=keyword_index_options())
    assert index.doc_freqs == TermStats(texts).df
    # counted text by text (no pieces): the same
    whole = KeywordIndexOptions(doc_terms=terms, doc_terms_tag="t")
    assert count_documents(texts, whole) == TermStats(texts).df


def test_terms_read_the_pieces_of_a_text_apart_once_the_name_is_out() -> None:
    # the property the fast count relies on (vectorstore.keyword_index.DocumentCounts)
    for text, _ in corpus():
        pieces = drop_site_names(text).split()
        assert terms(text) == [t for piece in pieces for t in terms(piece)], text
    plain = "no name in here"
    assert drop_site_names(plain) is plain, "unchanged texts are not copied"


def test_a_piece_cache_tokenizes_each_distinct_piece_once() -> None:
    calls: list[str] = []

    def tokenize(piece: str) -> list[str]:
        calls.append(piece)
        return [piece.lower()] if len(piece) > 1 else []

    cache = PieceCache(tokenize)
    assert cache.tokens(["A", "Bb", "bb", "A"]) == ["bb", "bb"]
    assert cache.tokens(["Bb", "cc", "A"]) == ["bb", "cc"]
    assert calls == ["A", "Bb", "bb", "cc"] and len(cache) == 4


def test_a_build_without_passages_has_no_retriever() -> None:
    index = KeywordIndex.build([], options=keyword_index_options())
    assert index.retriever is None and index.doc_freqs == {}
    assert index.search("anything", 5) == []


@pytest.mark.parametrize("method", ["bm25l", "bm25+"])
def test_variants_that_score_absent_terms_are_refused(method: str) -> None:
    tokens = CorpusTokens()
    tokens.add(["lab"], "en")
    with pytest.raises(ValueError, match=method.replace("+", r"\+")):
        FlatBM25(method=method).index(tokens.tokenized(), show_progress=False)


# --- the saved index: what a server loads instead of building ------------------------------


def described(texts: list[tuple[str, str]]) -> list[tuple[str, str, dict[str, Any]]]:
    """``rows`` with every field a passage has, dates on some."""
    return [
        (
            chunk_id,
            text,
            {
                **meta,
                "title": f"Page {n // 4}",
                "url": f"https://example.org/{n // 4}",
                "source": f"https://example.org/{n // 4}",
                "page_type": "news" if n % 5 == 0 else "page",
                "heading": f"Part {n % 4}",
                "dates": '[["2025-10-11", "day"]]' if n % 3 == 0 else "",
            },
        )
        for n, (chunk_id, text, meta) in enumerate(rows(texts))
    ]


def test_a_saved_index_loads_with_every_field_and_the_same_scores(tmp_path: Path) -> None:
    options = keyword_index_options()
    built = KeywordIndex.build(described(corpus()), generation="g1", options=options)
    built.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw", "g1", options)
    assert loaded is not None
    assert loaded.passages == built.passages  # dates and headings included
    assert loaded.doc_freqs == built.doc_freqs and loaded.alternates == built.alternates
    assert isinstance(loaded.retriever.scores["data"], np.memmap), "BM25 is memory-mapped"
    for query in ["parking shuttle", "Kilometro Rosso", "laboratori ricerca", "café Straße"]:
        expected = [(p.id, s) for p, s in built.search(query, 20)]
        assert expected and [(p.id, s) for p, s in loaded.search(query, 20)] == expected, query
    assert KeywordIndex.load(tmp_path / "kw", "g2", options) is None, "another generation"


def test_a_saved_index_cut_short_is_not_loaded(tmp_path: Path) -> None:
    KeywordIndex.build(described(corpus()), generation="g1").save(tmp_path / "kw")
    saved = tmp_path / "kw" / PASSAGES_FILE
    lines = saved.read_text(encoding="utf-8").splitlines(keepends=True)
    saved.write_text("".join(lines[:-3]), encoding="utf-8")
    assert KeywordIndex.load(tmp_path / "kw", "g1") is None


def test_a_loaded_index_shares_the_passages_that_did_not_change(tmp_path: Path) -> None:
    texts = corpus()
    old = KeywordIndex.build(described(texts), generation="g1")
    changed = described(texts)
    changed[7] = (changed[7][0], changed[7][1] + " Now with zorblattium.", changed[7][2])
    changed[9][2]["title"] = "A new title"
    KeywordIndex.build(changed[1:], generation="g2").save(tmp_path / "kw")
    new = KeywordIndex.load(tmp_path / "kw", "g2", reuse=old)
    assert new is not None and len(new) == len(old) - 1
    olds = {p.id: p for p in old.passages}
    for passage in new.passages:
        if passage.id in (changed[7][0], changed[9][0]):
            assert passage is not olds[passage.id] and passage != olds[passage.id]
        else:
            assert passage is olds[passage.id]
    assert new.search("zorblattium", 5)[0][0].id == changed[7][0]
    assert new.passages[8].title == "A new title"
