"""The project's one text toolkit: folding, words, stop words, stems, shingles.

Everything that compares words (the keyword index, answer scoring, follow-ups, the guards, the
evaluation) goes through these functions, so "Perché" and "perche", "co-working" and
"coworking" meet the same way everywhere. It lives in ``vectorstore``, the lowest layer, so
every other package may use it.

- ``fold``: lower case without accents (NFKD, combining marks dropped, ``casefold``).
- ``STOPWORDS``: bm25s' English and Italian lists, folded.
- ``stemmer(language)``: a Snowball stemmer (PyStemmer) for ``it`` or ``en``, one per thread,
  because PyStemmer objects are not thread-safe.
- ``words``: folded words without stop words; dotted or hyphenated names also joined.
- ``document_tokens`` / ``query_tokens``: what BM25 indexes (a passage stemmed in its own
  language) and searches with (a query stemmed both ways).
- ``shingles`` / ``jaccard``: word n-grams for near-duplicate detection.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_COMPOUND = re.compile(r"[^\W_]+(?:[.\-_][^\W_]+)+", re.UNICODE)
_JOINERS = re.compile(r"[.\-_]")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
STEMMER_NAMES = {"it": "italian", "en": "english"}
_DEFAULT_STEM_LANGUAGE = "en"


def fold(text: str) -> str:
    """Lower case without accents ("Perché" -> "perche", "m²" -> "m2")."""
    if text.isascii():
        return text.casefold()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_ITALIAN

    return frozenset(fold(w) for w in (*STOPWORDS_EN_PLUS, *STOPWORDS_ITALIAN))


STOPWORDS = _stopwords()
_local = threading.local()  # PyStemmer objects are not thread-safe: one per thread


def stemmer(language: str) -> Any:
    """This thread's Snowball stemmer for ``language`` ("it" or "en"; anything else: English)."""
    stemmers = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    name = STEMMER_NAMES.get(language, STEMMER_NAMES[_DEFAULT_STEM_LANGUAGE])
    if name not in stemmers:
        import Stemmer  # PyStemmer

        stemmers[name] = Stemmer.Stemmer(name)
    return stemmers[name]


def words(text: str) -> list[str]:
    """Folded words without stop words; one-letter words only if they are digits.

    A name written with dots, hyphens or underscores also gives its joined form, so
    "i.lab" matches "ilab" and "co-working" matches "coworking".
    """
    folded = fold(text)
    out = [w for w in _WORD.findall(folded) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    for compound in _COMPOUND.findall(folded):
        joined = _JOINERS.sub("", compound)
        if not joined.isdigit():  # "13.000" already gives "13" and "000"
            out.append(joined)
    return out


def document_tokens(text: str, language: str) -> list[str]:
    """Tokens of a passage, stemmed in the passage's language."""
    return list(stemmer(language).stemWords(words(text)))


def query_tokens(text: str) -> list[str]:
    """Tokens of a query, stemmed as Italian and as English (each stem once)."""
    ws = words(text)
    seen: dict[str, None] = {}
    for language in STEMMER_NAMES:
        for token in stemmer(language).stemWords(ws):
            seen.setdefault(token, None)
    return list(seen)


def shingles(text: str, size: int = 3) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the folded text, for near-duplicate detection."""
    ws = _WORD.findall(fold(text))
    if len(ws) < size:
        return frozenset([tuple(ws)]) if ws else frozenset()
    return frozenset(tuple(ws[i : i + size]) for i in range(len(ws) - size + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    """Jaccard similarity of two sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
