"""The answer engine's content terms and their document frequencies.

``terms`` turns a text into the words that carry its topic: accent-folded (``vectorstore.text``),
stop words dropped (the toolkit's English and Italian lists plus the question words, fillers and
district names below), Italian elisions split off, and each word reduced to one
language-neutral stem (``stem``). ``TermStats`` counts in how many texts each term occurs, for
IDF weights. ``TERMS_VERSION`` names what ``terms`` returns, so term counts saved with another
version are counted again (``assistant.term_counts``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache

from vectorstore.text import STOPWORDS, fold, stemmer

# Bump when ``terms`` (or what it reads: stop words, stemming, elision, folding) changes what it
# returns: keyword indexes saved with term counts of another version are then counted again.
# 2: folding and stemmers from the shared toolkit (``casefold``: "ß" -> "ss").
TERMS_VERSION = 2

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_NAME = re.compile(r"\b(kilometro|km)\s+rosso\b", re.IGNORECASE)
_HYPHENATED = re.compile(r"\b[^\W\d_]{1,12}(?:-[^\W\d_]{1,12})+\b")

# Words that carry no topic in questions about the district: question words, fillers, and the
# district's own name (every page mentions it, so it tells nothing about a page).
_EXTRA_STOP = {
    # English
    "tell",
    "know",
    "please",
    "could",
    "would",
    "can",
    "may",
    "might",
    "much",
    "many",
    "also",
    "there",
    "here",
    "one",
    "get",
    "give",
    "want",
    "like",
    "need",
    "thing",
    "things",
    "us",
    "say",
    "said",
    "let",
    "still",
    "today",
    "currently",
    "actually",
    "exactly",
    "what",
    "whats",
    "who",
    "whos",
    "where",
    "wheres",
    "when",
    "hows",
    "which",
    "mean",
    "really",
    "nr",
    "pls",
    "thanks",
    "ok",
    "right",
    "now",
    "these",
    "days",
    "anyone",
    "someone",
    "kilometro",
    "km",
    "district",
    "innovation",
    "park",
    "campus",
    # Italian (elisions are split off by _terms)
    "dimmi",
    "dirmi",
    "sapere",
    "vorrei",
    "puoi",
    "può",
    "posso",
    "potrei",
    "potete",
    "quanto",
    "quanta",
    "quanti",
    "quante",
    "quale",
    "quali",
    "qual",
    "chi",
    "cosa",
    "come",
    "dove",
    "quando",
    "perché",
    "perche",
    "c'è",
    "ci",
    "sono",
    "stato",
    "stata",
    "oggi",
    "anche",
    "ancora",
    "sai",
    "conosci",
    "grazie",
    "parco",
    "distretto",
    "innovazione",
    "essere",
    "fare",
    "fa",
    "ha",
    "hanno",
    "cos",
    "cosè",
    "ce",
    "c",
    "adesso",
    "ora",
    "fammi",
    "dammi",
    "qualche",
    "qualcosa",
    "trovo",
    "trovare",
    "dentro",
    "devono",
    "deve",
    "devo",
    "nome",
    "nomi",
    "tipi",
    "prendere",
    "avere",
    "trova",
    "vedere",
    "davvero",
    "proprio",
    "tipo",
    "roba",
    "cose",
    "mia",
    "mio",
    "mie",
    "miei",
    "vero",
    "circa",
    "tutto",
    "tutti",
    "mi",
    "ti",
    "roughly",
    "kind",
    "sort",
    "ones",
    "stuff",
    "lot",
    "lots",
    "just",
    "got",
}


@cache
def stop_words() -> frozenset[str]:
    """The toolkit's stop words plus the answer engine's own (``_EXTRA_STOP``), folded."""
    return STOPWORDS | frozenset(fold(w) for w in _EXTRA_STOP)


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """One language-neutral stem: the shorter of the English and Italian Snowball stems.

    A question and a page may be in different languages and the language of a single word is
    unknowable; taking the shorter stem makes "laboratori"/"laboratories"/"laboratorio" and
    "ricerca"/"ricerche" meet, at the price of a few accidental collisions.
    """
    a = stemmer("en").stemWord(word)
    b = stemmer("it").stemWord(word)
    return str(a if len(a) <= len(b) else b)


def terms(text: str) -> list[str]:
    """Content terms of a text: folded, stopwords dropped, stemmed (numbers kept as they are)."""
    out: list[str] = []
    stop = stop_words()
    # The district's name is on every page; "rosso" alone still means red.
    text = _NAME.sub(" ", text)
    # "start-ups" also yields "startups", "co-working" also "coworking".
    text = _HYPHENATED.sub(lambda m: f"{m.group(0)} {m.group(0).replace('-', '')}", text)
    for raw in _WORD.findall(text):
        word = fold(raw)
        # Italian elision: "dell'edificio" -> "edificio"; English "park's" -> "park".
        if "'" in word or "’" in word:
            head, _, tail = word.replace("’", "'").partition("'")
            word = tail if len(head) <= 3 and tail not in {"s", "t"} else head
        if word in stop or (len(word) < 2 and not word.isdigit()):
            continue
        out.append(word if word.isdigit() else stem(word))
    return out


class TermStats:
    """Document frequencies of terms over a set of texts (the whole index, or the passages)."""

    def __init__(self, texts: Iterable[str]) -> None:
        counts: dict[str, int] = {}
        n = 0
        for text in texts:
            n += 1
            for term in set(terms(text)):
                counts[term] = counts.get(term, 0) + 1
        self.df: Mapping[str, int] = counts
        self.n = n

    @classmethod
    def of_counts(cls, df: Mapping[str, int], n: int) -> TermStats:
        """Statistics counted elsewhere (the keyword index saves them with ``terms``)."""
        stats = cls(())
        stats.df, stats.n = df, n
        return stats

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (unknown terms weigh the most)."""
        return math.log(1.0 + (self.n + 1) / (self.df.get(term, 0) + 0.5))
