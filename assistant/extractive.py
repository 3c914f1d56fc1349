"""Extractive answers: pick the most relevant sentences of the retrieved passages, cite them.

No model is involved: passages are split into *units* (sentences, list items, table rows),
each unit is scored by the IDF-weighted share of the question's content terms it contains
(stemmed, accent-folded, stopwords removed, Italian and English), and the best few are
quoted, each followed by its ``[n]`` marker. When the question asks for a list and the best
unit belongs to one, the list is quoted whole. Sentences that address an AI assistant are
never quoted.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.guard import is_instruction, unquotable
from vectorstore.passages import Passage

# --- terms ------------------------------------------------------------------------------

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


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_ITALIAN

    words = set(STOPWORDS_EN_PLUS) | set(STOPWORDS_ITALIAN) | _EXTRA_STOP
    return frozenset(fold(w) for w in words)


@lru_cache(maxsize=1)
def _stemmers() -> tuple[object, object]:
    import Stemmer  # PyStemmer (Snowball)

    return Stemmer.Stemmer("english"), Stemmer.Stemmer("italian")


def fold(text: str) -> str:
    """Lower-case and strip accents ("perché" -> "perche")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """One language-neutral stem: the shorter of the English and Italian Snowball stems.

    A question and a page may be in different languages and the language of a single word is
    unknowable; taking the shorter stem makes "laboratori"/"laboratories"/"laboratorio" and
    "ricerca"/"ricerche" meet, at the price of a few accidental collisions.
    """
    en, it = _stemmers()
    a = en.stemWord(word)  # type: ignore[attr-defined]
    b = it.stemWord(word)  # type: ignore[attr-defined]
    return a if len(a) <= len(b) else b


def terms(text: str) -> list[str]:
    """Content terms of a text: folded, stopwords dropped, stemmed (numbers kept as they are)."""
    out: list[str] = []
    stop = _stopwords()
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


# Bump when ``terms`` (or what it reads: stop words, stemming, elision) changes what it returns:
# keyword indexes saved with term counts of another version are then counted again.
TERMS_VERSION = 1


class TermStats:
    """Document frequencies of terms over a set of texts (the whole index, or the passages)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.df: dict[str, int] = {}
        self.n = 0
        for text in texts:
            self.n += 1
            for term in set(terms(text)):
                self.df[term] = self.df.get(term, 0) + 1

    @classmethod
    def of_counts(cls, df: dict[str, int], n: int) -> TermStats:
        """Statistics counted elsewhere (the keyword index saves them with ``terms``)."""
        stats = cls(())
        stats.df, stats.n = df, n
        return stats

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (unknown terms weigh the most)."""
        return math.log(1.0 + (self.n + 1) / (self.df.get(term, 0) + 0.5))


# --- units ------------------------------------------------------------------------------


@dataclass
class Unit:
    """A quotable piece of a passage: a sentence, a list item or a table row."""

    passage: int  # index into the passage list
    position: int  # order inside the passage
    text: str
    kind: str  # "sentence" | "item" | "row"
    block: int  # consecutive items/rows of one list or table share a block
    context: str = ""  # local heading, table header or list lead-in: scored, not quoted
    lead: str = ""  # the sentence introducing a list ("The campus includes:")
    asked: str = ""  # the FAQ question this unit answers, if any
    score: float = 0.0
    term_set: frozenset[str] = field(default_factory=frozenset)


_ABBREVIATIONS = {
    "c",
    "ca",
    "e.g",
    "i.e",
    "mr",
    "mrs",
    "dr",
    "prof",
    "st",
    "no",
    "n",
    "approx",
    "vs",
    "etc",
    "s.p.a",
    "spa",
    "s.r.l",
    "srl",
    "inc",
    "ltd",
    "co",
    "fig",
    "ing",
    "dott",
    "sig",
    "p.es",
    "es",
    "sec",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
}
_SENT_END = re.compile(r"(?<=[.!?])[\"”»)]?\s+(?=[\"“«(\[]?[A-ZÀ-ÖØ-Ý0-9])")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|`)")
# A backslash escape of CommonMark (trafilatura writes ``ALBINI\\_next``): the character alone.
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+")


def clean_inline(text: str) -> str:
    """Markdown inline markup to plain text."""
    escaped: list[str] = []  # escaped characters are text, never markup: set aside first

    def set_aside(match: re.Match[str]) -> str:
        escaped.append(match.group(1))
        return f"\x00{len(escaped) - 1}\x00"

    text = _MD_ESCAPE.sub(set_aside, text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPH.sub("", text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: escaped[int(m.group(1))], text)
    return re.sub(r"\s+", " ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, respecting common abbreviations and decimals."""
    pieces: list[str] = []
    start = 0
    for match in _SENT_END.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip('.!?"”»)').lower()
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
            continue
        pieces.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return [p for p in pieces if p]


def body_of(passage: Passage) -> str:
    """The chunk text without its "<title>\\n<heading path>\\n\\n" prefix."""
    text = passage.text.lstrip()
    lines = text.split("\n")
    i = 0
    if lines and passage.title and lines[0].strip() == passage.title.strip():
        i = 1
        if len(lines) > 1 and passage.heading and lines[1].strip() == passage.heading.strip():
            i = 2
    return "\n".join(lines[i:])


def _row_cells(line: str) -> list[str]:
    return [clean_inline(c) for c in line.strip().strip("|").split("|")]


def split_units(passage: Passage, index: int) -> list[Unit]:
    """Cut one passage into quotable units, remembering lists, tables and local headings."""
    units: list[Unit] = []
    heading = passage.heading.split(">")[-1].strip() if passage.heading else ""
    block = 0
    header: list[str] = []
    previous_kind = ""
    paragraph: list[str] = []
    last_sentence = ""

    def flush_paragraph() -> None:
        nonlocal paragraph, last_sentence
        if not paragraph:
            return
        for sentence in split_sentences(clean_inline(" ".join(paragraph))):
            units.append(Unit(index, len(units), sentence, "sentence", -1, heading))
            last_sentence = sentence
        paragraph = []

    lines = body_of(passage).split("\n")
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            flush_paragraph()
            previous_kind = ""
            continue
        if _HEADING.match(stripped):
            flush_paragraph()
            heading = clean_inline(_HEADING.sub("", stripped))
            last_sentence = ""
            previous_kind = "heading"
            continue
        if stripped.startswith("|") and stripped.count("|") >= 2:
            flush_paragraph()
            if _TABLE_SEP.match(stripped):
                continue
            cells = _row_cells(stripped)
            if previous_kind != "row":
                block += 1
                previous_kind = "row"
                following = lines[number + 1].strip() if number + 1 < len(lines) else ""
                if _TABLE_SEP.match(following):
                    header = cells  # a header row is followed by |---|
                    continue
                header = []
            shown = [c for c in cells if c and c not in {"-", "–"}]
            if not shown:
                continue
            text = shown[0] + (": " + ", ".join(shown[1:]) if len(shown) > 1 else "")
            context = " ".join([heading, *header])
            lead = last_sentence if last_sentence.endswith(":") else ""
            units.append(Unit(index, len(units), text, "row", block, context, lead))
            continue
        if _LIST_ITEM.match(stripped):
            flush_paragraph()
            if previous_kind != "item":
                block += 1
            text = clean_inline(_LIST_ITEM.sub("", stripped))
            lead = last_sentence if last_sentence.endswith(":") else ""
            units.append(Unit(index, len(units), text, "item", block, heading, lead))
            previous_kind = "item"
            continue
        if previous_kind in {"item", "row"}:
            flush_paragraph()
        paragraph.append(stripped)
        previous_kind = "text"
    flush_paragraph()
    return _questions_as_context([u for u in units if len(u.text) >= 3])


def _questions_as_context(units: list[Unit]) -> list[Unit]:
    """FAQ pages: a question is never an answer, but it says what the next units answer."""
    out: list[Unit] = []
    asked = ""
    for unit in units:
        if unit.text.rstrip().endswith("?"):
            asked = unit.text
            continue
        if asked:
            unit.asked = asked
            # an answer runs until the next question or the end of its list item/paragraph
        out.append(unit)
    return out


# --- selection --------------------------------------------------------------------------

_LIST_QUESTION = re.compile(
    r"\b(list|which\s+(are|were)|what\s+(are|were)\s+the|name\s+(the|all|some)|all\s+the|"
    r"what\s+kinds?|what\s+types?|which\s+\w+s\b|what\s+\w+s\s+(are|does|do|did|can|is)|"
    r"elenca|elenco|lista|quali\s+sono|quali\s+erano|quali\s+\w+|che\s+tipi?|"
    r"che\s+servizi|quali\s+servizi)\b",
    re.IGNORECASE,
)

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|"
    r"dicembre"
)
# (what the question asks, what an answering sentence holds): a sentence holding the kind of
# thing asked for ("when" -> a date) is preferred among those that match the question's terms.
ANSWER_TYPES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        re.compile(
            r"\b(when|what\s+year|which\s+year|since\s+when|how\s+long\s+ago|quando|"
            r"in\s+che\s+anno|da\s+quando|che\s+anno|in\s+quale\s+anno)\b",
            re.I,
        ),
        re.compile(rf"\b(1[89]\d\d|20\d\d)\b|\b({_MONTHS})\b", re.I),
    ),
    (
        re.compile(r"\bhow\s+many\b|\bquant[ie]\b|\bnumber\s+of\b|\bnumero\s+di\b", re.I),
        re.compile(
            r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|"
            r"uno|due|tre|quattro|cinque|sei|sette|otto|nove|dieci|cento)\b",
            re.I,
        ),
    ),
    (
        re.compile(
            r"\b(cost\w*|price\w*|invest\w*|spen[dt]\w*|fund\w*|worth|how\s+much\s+money|"
            r"soldi|costat\w*|costo|prezz\w*|investit\w*|investiment\w*|spes[oia]|finanz\w*)\b",
            re.I,
        ),
        re.compile(
            r"(€|\$)\s?\d|\d[\d.,]*\s?(m|mln|k)?\s?(€|eur\b|euros?\b|milion[ie]|million|"
            r"billion|miliard)",
            re.I,
        ),
    ),
    (
        re.compile(
            r"\bhow\s+(tall|high|long|big|large|wide|far|deep)\b|"
            r"\bquanto\s+(è\s+|e'\s+)?(alt[oa]|lung[oa]|grande|larg[oa]|distante|lontan[oa])|"
            r"\bquant[oa]\s+(spazio|superficie|misura)|\bhow\s+much\s+(space|room|area|land)|"
            r"\b(size|area|surface|height|length|dimensioni|superficie|altezza|lunghezza)\b|"
            r"\bettari\b|\bhectares\b",
            re.I,
        ),
        re.compile(
            r"\d[\d.,]*\s?(m|km|m2|m²|mq|metres?|meters?|metri|hectares?|ettari|ha|"
            r"square|sq|chilometri|kilometres?|kilometers?|km²|storeys|piani|floors)\b",
            re.I,
        ),
    ),
    (
        re.compile(
            r"\b(phone|telephone|call|ring|telefono|telefonare|chiamare|centralino|"
            r"switchboard)\b",
            re.I,
        ),
        re.compile(r"\+?\d{2,4}[\s./-]?\d{3,4}[\s./-]?\d{3,5}"),
    ),
    (
        re.compile(r"\b(e-?mail|mail|posta\s+elettronica)\b", re.I),
        re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),
    ),
    (
        re.compile(
            r"\b(address|street|where\s+is|located|location|indirizzo|via|dove\s+si\s+trova|"
            r"dove\s+è|dove\s+sta)\b",
            re.I,
        ),
        re.compile(r"\b(via|viale|piazza|corso|street|road)\s+[A-Z][\w'’]+,?\s*\d*", re.I),
    ),
    (
        re.compile(r"\b(who|whom|chi)\b", re.I),
        re.compile(r"\b[A-Z][a-zà-ÿ]+\s+(de\s+|di\s+|van\s+)?[A-Z][a-zà-ÿ]+"),
    ),
]
TYPE_BONUS = 0.25

# A function giving the cosine between a question (or one part of it) and each text (the
# Assistant embeds both with the retrieval model); scores then blend word overlap with meaning.
Similarity = Callable[[str, Sequence[str]], Sequence[float]]
CONTEXT_WEIGHT = 0.6  # a question term found only in the unit's heading or page title
RANK_PRIOR = 0.08  # bonus of the searcher's first passage over its last
SEMANTIC_BAND = 0.08  # cosine distance from the best unit at which the semantic score is 0
SEMANTIC_WEIGHT = 0.5
SEMANTIC_WEIGHT_CROSS = 0.8
SEMANTIC_ALONE = 0.75  # a unit sharing no word with the question needs this much
SEMANTIC_ALONE_PASSAGES = 3

MAX_SENTENCES = 3
MAX_LIST_ITEMS = 20
MAX_CHARS = 700


def asks_for_list(question: str) -> bool:
    """True when the question asks for several things (a list is then quoted whole)."""
    return bool(_LIST_QUESTION.search(question))


@dataclass
class Query:
    """The question's terms with their weights (history terms count for less)."""

    weights: dict[str, float]

    @classmethod
    def build(cls, question: str, stats: TermStats, context: str = "") -> Query:
        weights: dict[str, float] = {}
        for term in terms(question):
            weights[term] = stats.idf(term)
        for term in terms(context):
            weights.setdefault(term, 0.3 * stats.idf(term))
        return cls(weights)

    @property
    def total(self) -> float:
        return sum(self.weights.values()) or 1.0


def answer_types(question: str) -> list[re.Pattern[str]]:
    """Patterns of what an answering sentence holds (a date for "when", a sum for "cost")."""
    return [evidence for asks, evidence in ANSWER_TYPES if asks.search(question)]


def embedding_text(unit: Unit) -> str:
    """What is embedded for a unit: a bare list item or table row gets its heading/lead-in."""
    if unit.kind in {"item", "row"}:
        about = unit.lead or unit.context
        return f"{about}: {unit.text}" if about else unit.text
    return unit.text


def semantic_scores(cosines: Sequence[float]) -> list[float]:
    """Cosines to 0..1 relative to the best one: e5 cosines sit in a narrow band (0.75-0.9), so
    only the distance from the best unit tells units apart."""
    if not cosines:
        return []
    top = max(cosines)
    return [max(0.0, 1.0 - (top - c) / SEMANTIC_BAND) for c in cosines]


def score_units(
    units: Sequence[Unit],
    query: Query,
    passages: Sequence[Passage],
    boosts: Sequence[re.Pattern[str]] = (),
    similarity: Similarity | None = None,
    language: str = "",
    question: str = "",
) -> None:
    """Set each unit's score: weighted share of query terms in the unit (less for its context),
    plus a bonus when it holds the kind of thing asked for, plus its semantic closeness to the
    question when a ``similarity`` function is given (weighted more when the unit's language
    differs from the question's, where words rarely match)."""
    n = max(len(passages), 1)
    for unit in units:
        unit.term_set = frozenset(terms(unit.text))
    semantic = (
        semantic_scores(similarity(question, [embedding_text(u) for u in units]))
        if similarity is not None and units
        else [0.0] * len(units)
    )
    # Terms found in most of the retrieved units ("Mario Negri" on the Mario Negri page) tell
    # the units apart less than the rest of the question does.
    local_df = {t: sum(1 for u in units if t in u.term_set) for t in query.weights}
    count = max(len(units), 1)
    weights = {
        t: w * (0.4 + 0.6 * math.log(1 + count / (local_df[t] + 1)) / math.log(1 + count))
        for t, w in query.weights.items()
    }
    total = sum(weights.values()) or 1.0
    for unit, sem in zip(units, semantic, strict=True):
        own = unit.term_set
        ctx = frozenset(terms(" ".join([unit.context, unit.lead, passages[unit.passage].title])))
        asked = frozenset(terms(unit.asked))
        s = 0.0
        for term, weight in weights.items():
            if term in own:
                s += weight
            elif term in asked:
                s += 0.8 * weight
            elif term in ctx:
                s += CONTEXT_WEIGHT * weight
        # A small prior for the searcher's order breaks ties in favour of better passages.
        prior = RANK_PRIOR * (1.0 - unit.passage / n)
        # Very long sentences collect terms by accident; very short ones say little.
        length = len(unit.text)
        penalty = 0.1 if length > 400 else (0.05 if length < 25 and unit.kind == "sentence" else 0)
        typed = any(p.search(unit.text) for p in boosts)
        cross = bool(language) and passages[unit.passage].language != language
        weight = SEMANTIC_WEIGHT_CROSS if cross else SEMANTIC_WEIGHT
        if s > 0:
            unit.score = s / total + prior - penalty + (TYPE_BONUS if typed else 0.0) + weight * sem
        elif typed and unit.passage < 3:
            # "what's the phone number?" -> "Telephone (switchboard): +39 ..." shares no word
            unit.score = 0.5 * TYPE_BONUS + prior + weight * sem
        elif sem >= SEMANTIC_ALONE and unit.passage < SEMANTIC_ALONE_PASSAGES:
            # a paraphrase or a question in the other language: no shared word, same meaning
            unit.score = weight * sem + prior - penalty
        else:
            unit.score = 0.0


_LATEST = re.compile(
    r"\b(now|today|currently|these\s+days|at\s+present|latest|most\s+recent|nowadays|"
    r"oggi|attualmente|adesso|ora|ad\s+oggi|al\s+momento|ultim[oaie]|odiern\w*)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
LATEST_BONUS = 0.3


def prefer_latest(units: Sequence[Unit], question: str) -> None:
    """ "How many ... now?": pages keep the history of a figure (67 in 2020, 85 in 2026); among
    the units that answer, those dated with the latest year get a bonus."""
    if not _LATEST.search(question):
        return
    years = {id(u): [int(y) for y in _YEAR.findall(u.text)] for u in units if u.score > 0}
    latest = max((max(v) for v in years.values() if v), default=None)
    if latest is None:
        return
    for unit in units:
        if latest in years.get(id(unit), ()):
            unit.score += LATEST_BONUS


@dataclass
class Selection:
    """What the extractive answer quotes, grouped in display order."""

    groups: list[tuple[int, str, list[Unit]]]  # (passage index, "lead" text, units)
    best_score: float
    language: str  # language of the quoted passages


def usable(unit: Unit) -> bool:
    """Units that may be quoted: not instructions to an AI, not bare fragments."""
    if is_instruction(unit.text):
        return False
    return not (unit.kind == "sentence" and len(re.findall(r"\w+", unit.text)) < 3)


_QUESTION_WORDS = (
    r"when|where|who|what|how|which|why|whom|quando|dove|chi|cosa|come|quale|quali|quanto|"
    r"quanti|quante|quanta|perch[eé]|in\s+che|da\s+quando"
)
_PART_SPLIT = re.compile(
    rf"\?\s+(?=\S)|,?\s+(?:and|e|ed|plus|also|anche|inoltre)\s+(?=(?:{_QUESTION_WORDS})\b)",
    re.IGNORECASE,
)


def split_question(question: str) -> list[str]:
    """ "When did ENEA arrive and how much went into JOiiNT LAB?" -> its two questions.

    Only splits before a question word, and only when each part has terms of its own.
    """
    parts = [p.strip(" ,;") for p in _PART_SPLIT.split(question) if p and p.strip(" ,;?")]
    if len(parts) < 2 or any(not terms(p) for p in parts):
        return [question]
    return parts


def select(
    question: str,
    passages: Sequence[Passage],
    language: str,
    stats: TermStats | None = None,
    context: str = "",
    similarity: Similarity | None = None,
) -> Selection | None:
    """Choose the units to quote, preferring passages in the asker's language.

    A question with several parts gets the best units of each part.
    """
    if not passages:
        return None
    stats = stats or TermStats(p.text for p in passages)
    parts = split_question(question)
    if len(parts) == 1:
        return _select_one(question, passages, language, stats, context, MAX_SENTENCES, similarity)
    selections = [
        _select_one(part, passages, language, stats, context, 2, similarity) for part in parts
    ]
    found = [sel for sel in selections if sel is not None]
    if not found:
        return None
    chosen: list[Unit] = []
    seen: set[tuple[int, int]] = set()
    for sel in found:
        for _, _, units in sel.groups:
            for unit in units:
                if (unit.passage, unit.position) not in seen:
                    seen.add((unit.passage, unit.position))
                    chosen.append(unit)
    languages = {sel.language for sel in found}
    lang = language if language in languages else found[0].language
    return Selection(
        groups=_group(chosen), best_score=max(s.best_score for s in found), language=lang
    )


def _select_one(
    question: str,
    passages: Sequence[Passage],
    language: str,
    stats: TermStats,
    context: str,
    max_sentences: int,
    similarity: Similarity | None = None,
) -> Selection | None:
    query = Query.build(question, stats, context)
    units = [u for i, p in enumerate(passages) for u in split_units(p, i)]
    units = [u for u, bad in zip(units, unquotable(units), strict=True) if not bad]
    score_units(units, query, passages, answer_types(question), similarity, language, question)
    prefer_latest(units, question)
    candidates = [u for u in units if u.score > 0 and usable(u)]
    if not candidates:
        return None

    def best_in(lang: str | None) -> float:
        scores = [
            u.score for u in candidates if lang is None or passages[u.passage].language == lang
        ]
        return max(scores, default=0.0)

    overall = best_in(None)
    same = best_in(language)
    # Prefer the asker's language unless its best unit is clearly worse.
    use_lang = language if same >= 0.75 * overall and same > 0 else None
    if use_lang is None:
        best_unit = max(candidates, key=lambda u: u.score)
        use_lang = passages[best_unit.passage].language
    pool = [u for u in candidates if passages[u.passage].language == use_lang]
    pool.sort(key=lambda u: (-u.score, u.passage, u.position))
    best = pool[0]

    chosen: list[Unit] = []
    if asks_for_list(question):
        listed = _best_list(pool, units, query, passages)
        if listed:
            chosen = listed
    if not chosen:
        seen: set[str] = set()
        chars = 0
        for unit in pool:
            if unit.score < 0.5 * best.score or len(chosen) >= max_sentences:
                break
            key = fold(re.sub(r"\W+", " ", unit.text)).strip()
            if key in seen or any(key in s or s in key for s in seen):
                continue
            if chars + len(unit.text) > MAX_CHARS and chosen:
                continue
            seen.add(key)
            chosen.append(unit)
            chars += len(unit.text)
        # The sentence right after a short best sentence often completes it (FAQ answers).
        follower = _follower(best, units)
        if (
            follower is not None
            and len(best.text) < 140
            and len(chosen) < max_sentences
            and follower not in chosen
            and usable(follower)
        ):
            chosen.append(follower)

    groups = _group(chosen)
    return Selection(groups=groups, best_score=best.score, language=use_lang)


def _follower(unit: Unit, units: Sequence[Unit]) -> Unit | None:
    if unit.kind != "sentence":
        return None
    for other in units:
        if other.passage == unit.passage and other.position == unit.position + 1:
            return other if other.kind == "sentence" else None
    return None


def _list_block(unit: Unit, units: Sequence[Unit], question: str) -> list[Unit]:
    """The whole list or table containing ``unit`` (or introduced by it), usable items only."""
    if unit.kind in {"item", "row"}:
        block = [u for u in units if u.passage == unit.passage and u.block == unit.block]
    elif unit.text.endswith(":"):
        block = [
            u
            for u in units
            if u.passage == unit.passage and u.lead == unit.text and u.kind in {"item", "row"}
        ]
    else:
        return []
    block = [u for u in block if usable(u)]
    if len(block) < 2 and not (unit.kind == "row" and not asks_for_list(question)):
        return []
    return block[:MAX_LIST_ITEMS]


def _best_list(
    pool: Sequence[Unit], units: Sequence[Unit], query: Query, passages: Sequence[Passage]
) -> list[Unit]:
    """The list or table that best answers a list question.

    A list is about the question when its heading, lead-in or page title carries the
    question's terms (items themselves are often bare names); its items' scores come next.
    """
    total = query.total
    best: list[Unit] = []
    best_score = 0.0
    seen: set[tuple[int, int]] = set()
    for unit in pool:
        key = (unit.passage, unit.block)
        if unit.kind not in {"item", "row"} or key in seen:
            continue
        seen.add(key)
        block = _list_block(unit, units, "list")
        if len(block) < 2:
            continue
        about = frozenset(
            terms(" ".join([block[0].context, block[0].lead, passages[unit.passage].title]))
        )
        topical = sum(w for t, w in query.weights.items() if t in about) / total
        mean = sum(u.score for u in block) / len(block)
        # A list question wants the fuller list (a chunk may hold only a table's tail).
        score = topical + 0.5 * mean + 0.3 * max(u.score for u in block) + 0.05 * min(len(block), 8)
        if score > best_score:
            best, best_score = block, score
    return best


def _group(chosen: Sequence[Unit]) -> list[tuple[int, str, list[Unit]]]:
    """Order the quote by passage rank then position; list items keep their lead-in."""
    ordered = sorted(chosen, key=lambda u: (u.passage, u.position))
    groups: list[tuple[int, str, list[Unit]]] = []
    for unit in ordered:
        if (
            groups
            and groups[-1][0] == unit.passage
            and unit.kind in {"item", "row"}
            and groups[-1][2][-1].block == unit.block
        ):
            groups[-1][2].append(unit)
            continue
        lead = unit.lead if unit.kind in {"item", "row"} else ""
        groups.append((unit.passage, lead, [unit]))
    return groups
