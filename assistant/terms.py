"""The answer engine's content terms and their document frequencies.

``terms`` turns a text into the words that carry its topic: accent-folded (``vectorstore.text``),
stop words dropped (the toolkit's English and Italian lists plus the question words and fillers
below), the site's names dropped, Italian elisions split off, and each word reduced to one
language-neutral stem (``stem``). ``TermStats`` counts in how many texts each term occurs, for
IDF weights. ``terms_tag`` names what ``terms`` returns (``TERMS_VERSION`` and the site's
names), so term counts saved with another are counted again (``assistant.term_counts``).

The site's names come from its profile (``assistant.site``): every page says them, so they tell
nothing about a page. The edge that builds the profile (``assistant.runtime``) calls
``use_site`` once; until then the terms are the default site's.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

from assistant.site import DEFAULT_SITE, SiteProfile
from vectorstore.text import STOPWORDS, fold, stemmer

# Bump when ``terms`` (or what it reads: stop words, stemming, elision, folding) changes what it
# returns: keyword indexes saved with term counts of another version are then counted again.
# 2: folding and stemmers from the shared toolkit (``casefold``: "ß" -> "ss").
TERMS_VERSION = 2

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_HYPHENATED = re.compile(r"\b[^\W\d_]{1,12}(?:-[^\W\d_]{1,12})+\b")

# Words that carry no topic in questions about the district: question words, fillers, and the
# words any district's pages say about it (its own names come from the site profile).
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


@dataclass(frozen=True)
class SiteWords:
    """What the terms drop of one site's names: the names as phrases, and the leading word of
    each name alone (it still names the site; a later word alone may be an ordinary word, a
    colour or a place)."""

    names: re.Pattern[str]
    leading: frozenset[str]
    tag: str  # names the names, for ``terms_tag``


@cache
def site_words(site: SiteProfile) -> SiteWords:
    """The site's names (full, everyday, aliases) as one pattern, longest first, in any case
    and spacing; and their leading words, folded."""
    names = sorted({" ".join(n.split()) for n in site.names()}, key=len, reverse=True)
    phrases = [r"\s+".join(re.escape(w) for w in name.split()) for name in names]
    pattern = re.compile(rf"\b(?:{'|'.join(phrases)})\b", re.IGNORECASE) if phrases else None
    leading = frozenset(fold(name.split()[0]) for name in names if len(name.split()) > 1)
    digest = hashlib.sha256("|".join(fold(n) for n in names).encode()).hexdigest()[:12]
    return SiteWords(pattern or re.compile(r"(?!)"), leading, digest)


_site: list[SiteWords] = [site_words(DEFAULT_SITE)]


def use_site(site: SiteProfile) -> None:
    """Drop ``site``'s names from the terms from now on (called once, where the profile is
    built; every text of the process, pages and questions, must be read alike)."""
    _site[0] = site_words(site)


def terms_tag() -> str:
    """What ``terms`` returns now: its version and the site whose names it drops."""
    return f"{TERMS_VERSION}:{_site[0].tag}"


def drop_site_names(text: str) -> str:
    """The text without the site's names (the only pattern of ``terms`` that spans a space):
    the same string comes back when no name is there."""
    return _site[0].names.sub(" ", text)


def stop_words() -> frozenset[str]:
    """The toolkit's stop words, the answer engine's own (``_EXTRA_STOP``) and the leading
    words of the site's names, folded."""
    return _stop_words(_site[0].leading)


@cache
def _stop_words(site_leading: frozenset[str]) -> frozenset[str]:
    return STOPWORDS | frozenset(fold(w) for w in _EXTRA_STOP) | site_leading


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
    # The site's names are on every page.
    text = drop_site_names(text)
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
