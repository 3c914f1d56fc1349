"""The project's one text toolkit: folding, words, stop words, stems, shingles, sentences.

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
- ``split_sentences``: a paragraph's sentences, cut at the sentence ends of every script (full
  stops of CJK, Arabic, Devanagari, Ethiopic...) and around HTML comments (common abbreviations
  and decimals kept whole);
  ``BREAK`` / ``split_loosely``: a looser cut after any ``. ! ? ; :`` (``split_loosely``: and
  the stops of every script) and at line breaks, for
  cutting long sections (the chunker) and hostile messages (the guard).
- ``chunk_text`` / ``chunk_body``: a chunk as stored (its page title and heading path first,
  which every chunk of a page shares) and its body without them.

Siblings: ``vectorstore.language`` (the language of a text, with a confidence) and
``vectorstore.patterns`` (e-mail addresses, phone numbers, amounts of money, years).
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


# --- sentences ------------------------------------------------------------------------------
_ABBREVIATIONS = frozenset((
    "c", "ca", "e.g", "i.e", "mr", "mrs", "dr", "prof", "st", "no", "n", "approx", "vs", "etc",
    "s.p.a", "spa", "s.r.l", "srl", "inc", "ltd", "co", "fig", "ing", "dott", "sig", "p.es", "es",
    "sec", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
))  # fmt: skip
# Sentence ends of every script, each with the closing quotes or brackets that may follow it:
# - a stop written before a space (. ! ? … and the Arabic/Persian question mark, the Urdu full
#   stop, the Devanagari danda, the Ethiopic, Armenian, Myanmar, Khmer and Tibetan stops) ends
#   a sentence when the next one starts, after any opening quote or bracket, with a letter that
#   is not lower case (a capital of any cased script, any letter of Arabic, Han, Devanagari...)
#   or a digit (checked by ``_starts_sentence``);
# - a full-width stop (。！？) ends one before any text, space or not;
# - an HTML comment ("<!-- ... -->") is never part of a visible sentence: cut before and after.
_SPACED_STOPS = ".!?…؟۔।॥።፧։။។།"
_CLOSERS = "\"'”’»)\\]」』）】〕"
_OPENERS = '"“‘«„(\\[¿¡「『（【'
_FULL_WIDTH_STOPS = "。！？｡"
_SENTENCE_END = re.compile(
    rf"(?P<spaced>(?<=[{_SPACED_STOPS}])[{_CLOSERS}]*\s+)(?=\S)"
    rf"|(?<=[{_FULL_WIDTH_STOPS}])[{_CLOSERS}]*\s*(?=[^\s{_CLOSERS}{_FULL_WIDTH_STOPS}])"
    r"|(?<=-->)\s+(?=\S)|(?<=\S)\s+(?=<!--)"
)
_INITIAL = re.compile(r"[a-z]")
# Markup that opens a line of its own and never continues a sentence: a Markdown heading
# marker ("### Note"), an HTML comment or tag ("<!--", "<note>", "</p>").
_MARKUP_START = re.compile(r"#{1,6}\s|<(?:!--|/?[^\W\d_])")
# A sentence end followed by a bracket that starts no sentence of its own ("Closed.” (staff
# only)"): the bracket is the sentence's afterthought, and what follows it starts a new one
# when it reads as a sentence's start ("... (staff only) Visitors sign in.").
_AFTERTHOUGHT = re.compile(
    rf"(?<=[{_SPACED_STOPS}])[{_CLOSERS}]*\s+(?:\([^()]{{1,200}}\)|\[[^\[\]]{{1,200}}\]|"
    rf"（[^（）]{{1,200}}）)(?P<gap>\s+)(?=\S)"
)


def _starts_sentence(text: str, start: int) -> bool:
    """Whether ``text`` from ``start`` reads as a sentence's start after a spaced stop: opening
    quotes or brackets, then a letter that is not lower case, a digit, an HTML comment or tag,
    or a Markdown heading marker."""
    rest = text[start : start + 8].lstrip(_OPENERS)
    if _MARKUP_START.match(text[start : start + 8]):
        return True
    first = rest[:1]
    return first.isdigit() or (first.isalpha() and not first.islower())


# Question marks of every script: Latin, Arabic/Persian/Urdu, full width, Ethiopic, reversed.
QUESTION_MARKS = "?؟？፧⸮"


def ends_as_question(text: str) -> bool:
    """Whether a sentence ends with a question mark of any script (closing quotes or
    brackets may follow it): "Dove si parcheggia?", "«Où se garer ?»", "أين الموقف؟"."""
    return text.rstrip().rstrip(_CLOSERS).endswith(tuple(QUESTION_MARKS))


def holds_question_mark(text: str) -> bool:
    """Whether a text holds a question mark of any script anywhere."""
    return any(mark in text for mark in QUESTION_MARKS)


# A looser break: after the end of a sentence or a clause, before white space (the chunker's;
# ``split_loosely`` also cuts after the stops of every script, a full-width one before any text).
BREAK = r"(?<=[.!?;:])\s+"
_LOOSE = re.compile(
    rf"(?<=[{_SPACED_STOPS};:])\s+|(?<=[{_FULL_WIDTH_STOPS}])[{_CLOSERS}]*\s*(?=\S)|\n+"
)


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences at the sentence ends of every script (see
    ``_SENTENCE_END``), respecting common abbreviations and decimals; a bracket following a
    sentence end without starting a sentence stays with that sentence, and what follows the
    bracket may start the next one (``_AFTERTHOUGHT``)."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.end()].strip()  # the closing quotes are the sentence's
        if match.group("spaced"):
            if not _starts_sentence(text, match.end()):
                continue
            if _abbreviated(candidate):
                continue
        pieces.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return [cut for piece in pieces if piece for cut in _after_afterthoughts(piece)]


def _abbreviated(sentence: str) -> bool:
    """Whether the stop ending ``sentence`` ends an abbreviation or an initial instead."""
    last_word = sentence.rsplit(" ", 1)[-1].rstrip(_SPACED_STOPS + _CLOSERS).lower()
    return last_word in _ABBREVIATIONS or bool(_INITIAL.fullmatch(last_word))


def _after_afterthoughts(sentence: str) -> list[str]:
    """The sentence cut after each bracket that follows a sentence end inside it (the stop
    did not end a sentence: the bracket opens in lower case) when a sentence starts after it."""
    out: list[str] = []
    start = 0
    for match in _AFTERTHOUGHT.finditer(sentence):
        head = sentence[start : match.start()].rstrip(_CLOSERS)
        if _starts_sentence(sentence, match.end()) and not _abbreviated(head):
            out.append(sentence[start : match.start("gap")].strip())
            start = match.end()
    out.append(sentence[start:].strip())
    return [piece for piece in out if piece]


def split_loosely(text: str) -> list[str]:
    """Pieces of a text cut after every ``. ! ? ; :`` or stop of another script (``؟ । ።``...)
    followed by white space, after a full-width stop (``。！？``) whatever follows, and at line
    breaks (no abbreviation is kept whole); stripped, empty pieces dropped."""
    return [piece.strip() for piece in _LOOSE.split(text) if piece.strip()]


# --- the chunk prefix -----------------------------------------------------------------------
def chunk_text(title: str, heading: str, body: str) -> str:
    """A chunk as stored: "<title>\\n<heading path>\\n\\n<body>" (no heading line without one)."""
    return f"{title}\n{heading}\n\n{body}" if heading else f"{title}\n\n{body}"


def chunk_body(text: str, title: str, heading: str = "") -> str:
    """The chunk text without the title and heading path ``chunk_text`` put first (each line
    dropped only if it is the title or heading given)."""
    lines = text.lstrip().split("\n")
    start = 0
    if lines and title and lines[0].strip() == title.strip():
        start = 1
        if len(lines) > 1 and heading and lines[1].strip() == heading.strip():
            start = 2
    return "\n".join(lines[start:])
