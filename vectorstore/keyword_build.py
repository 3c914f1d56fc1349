"""The keyword index's build in one pass: each distinct word tokenised once, BM25 scored by numpy.

Profiled 2026-12-01 (cProfile, 10k synthetic passages of the sample site's sentences, 2-core
x86_64): 10.8 s, of which 5.0 s went to the answer engine's terms, 3.8 s to BM25's tokens
(regular expressions and folding run over every word of every passage) and 0.8 s to bm25s'
scoring loop (a ``Counter`` and small arrays per passage). Words repeat: at 10k passages ~1.2M
words are ~30k distinct pieces of text, so both tokenizers now run once per distinct
whitespace-separated piece (``PieceCache``), and BM25 is scored from flat arrays:

- ``PieceCache``: a tokenizer that reads each piece on its own (no pattern crosses a space)
  gives the same tokens for a text as the concatenation of its pieces' tokens; the pieces'
  tokens are kept, so a text costs a split and one dictionary look-up per piece.
- ``CorpusTokens``: every passage's BM25 token ids (stemmed in its own language, as
  ``vectorstore.text.document_tokens``) in one flat array, with the vocabulary.
- ``FlatBM25``: ``bm25s.BM25`` whose ``build_index_from_ids`` (the library's hook for building
  "in a different way") scores every (term, passage) pair at once; the same formulas, the
  same arrays as bm25s' own loop (tests compare them), saved and loaded by bm25s as before.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any, Generic, TypeVar

import bm25s
import numpy as np
from bm25s.scoring import _build_idf_array, _select_idf_scorer, _select_tfc_scorer
from bm25s.tokenization import Tokenized

from vectorstore.text import document_tokens

T = TypeVar("T")
EMPTY_TOKEN = "\u2205"  # what a passage without any token is indexed as


class PieceCache(Generic[T]):
    """``tokenize`` applied to each distinct piece of text once.

    ``tokenize`` must read pieces independently: its tokens for a text are those of the text's
    whitespace-separated pieces, in order (true of ``vectorstore.text.document_tokens`` and
    ``words``, whose patterns never match a space)."""

    def __init__(self, tokenize: Callable[[str], Sequence[T]]) -> None:
        self.tokenize = tokenize
        self._seen: dict[str, Sequence[T]] = {}

    def tokens(self, pieces: Sequence[str]) -> list[T]:
        """The tokens of ``pieces``, in order."""
        seen = self._seen
        try:  # no Python code runs per piece once every piece was seen
            return list(chain.from_iterable(map(seen.__getitem__, pieces)))
        except KeyError:
            for piece in pieces:
                if piece not in seen:
                    seen[piece] = self.tokenize(piece)
            return list(chain.from_iterable(map(seen.__getitem__, pieces)))

    def __len__(self) -> int:
        return len(self._seen)


@dataclass
class FlatIds:
    """Every text's token ids end to end (``tokens``) and how many each has (``lengths``)."""

    tokens: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(token id, text number, occurrences) of every token in every text, sorted by token
        id then text: the order of a CSC matrix whose columns are tokens."""
        n = len(self.lengths)
        doc = np.repeat(np.arange(n, dtype=np.int64), self.lengths.astype(np.int64))
        keys, counts = np.unique(self.tokens.astype(np.int64) * n + doc, return_counts=True)
        token, text = np.divmod(keys, n)
        return token, text, counts


class FlatCorpus:
    """Token ids of many texts, appended one text at a time, with their vocabulary."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._tokens = array("i")
        self._lengths = array("q")

    def ids_of(self, tokenize: Callable[[str], Iterable[str]]) -> Callable[[str], list[int]]:
        """``tokenize``, giving the tokens' ids in this vocabulary (new tokens added)."""
        vocab = self.vocab

        def ids(text: str) -> list[int]:
            return [vocab.setdefault(t, len(vocab)) for t in tokenize(text)]

        return ids

    def append(self, ids: list[int]) -> None:
        """One more text's token ids."""
        self._tokens.extend(ids)
        self._lengths.append(len(ids))

    def flat(self) -> FlatIds:
        """The texts appended so far (the arrays share this corpus' memory)."""
        return FlatIds(
            np.frombuffer(self._tokens, dtype=np.int32),
            np.frombuffer(self._lengths, dtype=np.int64),
        )

    def document_frequencies(self) -> dict[str, int]:
        """In how many of the texts each token occurs."""
        token, _, _ = self.flat().pairs()
        counts = np.bincount(token, minlength=len(self.vocab)).tolist()
        return {t: counts[i] for t, i in self.vocab.items() if counts[i]}


class CorpusTokens:
    """BM25 token ids of passages, read once each: ``add`` every passage, then ``tokenized``."""

    def __init__(self) -> None:
        self.corpus = FlatCorpus()
        self._pieces: dict[str, PieceCache[int]] = {}  # one per language (stems differ)

    def _ids(self, language: str) -> PieceCache[int]:
        cache = self._pieces.get(language)
        if cache is None:
            stemmed = partial(document_tokens, language=language)
            cache = self._pieces[language] = PieceCache(self.corpus.ids_of(stemmed))
        return cache

    def add(self, pieces: list[str], language: str) -> None:
        """Count one passage, given as its whitespace-separated pieces."""
        ids = self._ids(language).tokens(pieces)
        if not ids:
            vocab = self.corpus.vocab
            ids = [vocab.setdefault(EMPTY_TOKEN, len(vocab))]
        self.corpus.append(ids)

    def tokenized(self) -> Tokenized:
        """What ``FlatBM25.index`` takes: the flat ids and the vocabulary."""
        return Tokenized(ids=self.corpus.flat(), vocab=self.corpus.vocab)  # type: ignore[arg-type]


class FlatBM25(bm25s.BM25):
    """bm25s' BM25, indexed from ``FlatIds`` with array operations instead of a loop per
    passage (BM25 variants that score absent terms, BM25L and BM25+, are not supported)."""

    def build_index_from_ids(
        self,
        unique_token_ids: list[int],
        corpus_token_ids: Any,
        show_progress: bool = True,
        leave_progress: bool = False,
    ) -> dict[str, Any]:
        """The CSC matrix of BM25 scores, as bm25s' own ``build_index_from_ids`` returns it."""
        if self.method in self.methods_requiring_nonoccurrence:
            raise ValueError(f"FlatBM25 does not build {self.method}")
        self.nonoccurrence_array = None
        flat: FlatIds = corpus_token_ids
        n_docs, n_vocab = len(flat), len(unique_token_ids)
        lengths = flat.lengths.astype(np.int64)
        term, doc, tf = flat.pairs()
        df = np.bincount(term, minlength=n_vocab)
        idf = _build_idf_array(
            doc_frequencies=dict(enumerate(df.tolist())),
            n_docs=n_docs,
            compute_idf_fn=_select_idf_scorer(self.idf_method),
            dtype=self.dtype,
        )
        tfc = _select_tfc_scorer(self.method)(
            tf_array=tf.astype(self.dtype),
            l_d=lengths[doc],
            l_avg=lengths.mean(),
            k1=self.k1,
            b=self.b,
            delta=self.delta,
        )
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        return {
            "data": (idf[term] * tfc).astype(self.dtype),
            "indices": doc.astype(self.int_dtype),
            "indptr": indptr,
            "num_docs": n_docs,
        }


def build_bm25(tokens: CorpusTokens) -> bm25s.BM25:
    """A BM25 retriever over the passages added to ``tokens``."""
    retriever = FlatBM25()
    retriever.index(tokens.tokenized(), show_progress=False)
    return retriever
