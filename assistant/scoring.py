"""Scoring quotable units against a question.

A unit's score is the IDF-weighted share of the question's content terms it holds (terms found
only in its heading, lead-in or page title count for less; terms found in most retrieved units
for less still), plus a bonus when it holds the kind of thing asked for (``ANSWER_TYPES``: a
date for "when", a sum for "how much did it cost"), plus its closeness in meaning to the
question when a ``Similarity`` is given, plus a small prior for the searcher's order. "Now"
questions favour the units dated with the latest year (``prefer_latest``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.guard import is_instruction
from assistant.params import PARAMS, ScoringParams
from assistant.terms import TermStats, terms
from assistant.units import Unit, embedding_text
from vectorstore.passages import Passage
from vectorstore.patterns import EMAIL, YEAR

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
        EMAIL,
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

# "Where ...?" asks for a place, whatever its verb ("where did he study?", "dove sono i loro
# stabilimenti?"); a place is a name after a preposition of place ("from the University of
# Catania", "a Meitingen", "behind the Mario Negri Institute"), not a month or a weekday.
_ASKS_PLACE = re.compile(r"\b(where|dove)\b", re.I)
_PLACE = re.compile(
    r"\b(?i:in|at|from|near|behind|beside|outside|inside|a|ad|da|presso|vicino\s+a|"
    r"accanto\s+a|dietro|nel(?:la|lo)?|nei|negli|nelle|al(?:la|lo)?|ai|agli|alle|dal(?:la|lo)?|"
    r"dai|dagli|dalle|all'|dall'|nell')\s*(?i:the\s+|il\s+|la\s+|lo\s+|l'|i\s+|gli\s+|le\s+)?"
    rf"(?!(?i:{_MONTHS})\b)(?!(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)"
    r"[A-ZÀ-Ý][\w'’-]+"
)


def asks_place(question: str) -> bool:
    """The question asks where something is or happened ("where", "dove")."""
    return bool(_ASKS_PLACE.search(question))


def names_place(text: str) -> bool:
    """The text names a place: a name after a preposition of place (``_PLACE``)."""
    return bool(_PLACE.search(text))


# A function giving the cosine between a question (or one part of it) and each text (the
# Assistant embeds both with the retrieval model); scores then blend word overlap with meaning.
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


def asks_for_list(question: str) -> bool:
    """True when the question asks for several things (a list is then quoted whole)."""
    return bool(_LIST_QUESTION.search(question))


@dataclass
class Query:
    """The question's terms with their weights (history terms count for less)."""

    weights: dict[str, float]

    @classmethod
    def build(
        cls,
        question: str,
        stats: TermStats,
        context: str = "",
        params: ScoringParams = PARAMS.scoring,
    ) -> Query:
        """IDF weights of the question's terms; terms of ``context`` (earlier turns) weigh
        ``params.history_weight`` as much."""
        weights: dict[str, float] = {}
        for term in terms(question):
            weights[term] = stats.idf(term)
        for term in terms(context):
            weights.setdefault(term, params.history_weight * stats.idf(term))
        return cls(weights)

    @property
    def total(self) -> float:
        """The sum of the weights (1 for a question without terms)."""
        return sum(self.weights.values()) or 1.0


# What a comparison of two things asks of each ("which is larger, A or B?" asks each one's
# size, "chi è arrivato prima?" each one's date): comparatives of English and Italian, mapped
# to the evidence of ``ANSWER_TYPES`` (dates, sums, sizes), not topic words.
_DATE, _COUNT, _SUM, _SIZE = (ANSWER_TYPES[i][1] for i in range(4))
COMPARED: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        re.compile(
            r"\b(first|earlier|sooner|older|newer|later|prima|dopo|più\s+(?:vecchi|antic|"
            r"recent)\w*)\b",
            re.I,
        ),
        _DATE,
    ),
    (
        re.compile(
            r"\b(larger|bigger|smaller|wider|più\s+(?:grand|piccol|ampi|estes|vast)\w*|"
            r"maggiore|minore)\b",
            re.I,
        ),
        _SIZE,
    ),
    (
        re.compile(r"\b(more\s+expensive|cheaper|costlier|più\s+(?:car|costos)\w*)\b", re.I),
        _SUM,
    ),
]


def compared_types(question: str) -> list[re.Pattern[str]]:
    """What a question comparing two things asks of each, from its comparative (a date for
    "first", a size for "larger"); [] when it has none (then ``answer_types`` holds)."""
    return [evidence for asks, evidence in COMPARED if asks.search(question)]


def answer_types(question: str) -> list[re.Pattern[str]]:
    """Patterns of what an answering sentence holds (a date for "when", a sum for "cost")."""
    return [evidence for asks, evidence in ANSWER_TYPES if asks.search(question)]


def semantic_scores(
    cosines: Sequence[float], band: float = PARAMS.scoring.semantic_band
) -> list[float]:
    """Cosines to 0..1 relative to the best one: e5 cosines sit in a narrow band (0.75-0.9), so
    only the distance from the best unit tells units apart (0 at ``band`` below it)."""
    if not cosines:
        return []
    top = max(cosines)
    return [max(0.0, 1.0 - (top - c) / band) for c in cosines]


def score_units(
    units: Sequence[Unit],
    query: Query,
    passages: Sequence[Passage],
    boosts: Sequence[re.Pattern[str]] = (),
    similarity: Similarity | None = None,
    language: str = "",
    question: str = "",
    params: ScoringParams = PARAMS.scoring,
) -> None:
    """Set each unit's score: weighted share of query terms in the unit (less for its context),
    plus a bonus when it holds the kind of thing asked for, plus its semantic closeness to the
    question when a ``similarity`` function is given (weighted more when the unit's language
    differs from the question's, where words rarely match)."""
    n = max(len(passages), 1)
    for unit in units:
        unit.term_set = frozenset(terms(unit.text))
    cosines = (
        [float(c) for c in similarity(question, [embedding_text(u) for u in units])]
        if similarity is not None and units
        else [0.0] * len(units)
    )
    semantic = (
        semantic_scores(cosines, params.semantic_band)
        if similarity is not None
        else [0.0] * len(units)
    )
    # Terms found in most of the retrieved units ("Mario Negri" on the Mario Negri page) tell
    # the units apart less than the rest of the question does.
    local_df = {t: sum(1 for u in units if t in u.term_set) for t in query.weights}
    count = max(len(units), 1)
    floor = params.common_floor
    weights = {
        t: w * (floor + (1 - floor) * math.log(1 + count / (local_df[t] + 1)) / math.log(1 + count))
        for t, w in query.weights.items()
    }
    total = sum(weights.values()) or 1.0
    for unit, sem, cosine in zip(units, semantic, cosines, strict=True):
        unit.cosine = cosine
        own = unit.term_set
        ctx = frozenset(terms(" ".join([unit.context, unit.lead, passages[unit.passage].title])))
        asked = frozenset(terms(unit.asked))
        s = 0.0
        for term, weight in weights.items():
            if term in own:
                s += weight
            elif term in asked:
                s += params.asked_weight * weight
            elif term in ctx:
                s += params.context_weight * weight
        # A small prior for the searcher's order breaks ties in favour of better passages.
        prior = params.rank_prior * (1.0 - unit.passage / n)
        penalty = _length_penalty(unit, params)
        typed = any(p.search(unit.text) for p in boosts)
        unit.typed = typed
        cross = bool(language) and passages[unit.passage].language != language
        weight = params.semantic_weight_cross if cross else params.semantic_weight
        bonus = params.type_bonus
        if s > 0:
            unit.score = s / total + prior - penalty + (bonus if typed else 0.0) + weight * sem
        elif typed and unit.passage < params.typed_alone_passages:
            # "what's the phone number?" -> "Telephone (switchboard): +39 ..." shares no word
            unit.score = params.typed_alone_share * bonus + prior + weight * sem
        elif sem >= params.semantic_alone and unit.passage < params.semantic_alone_passages:
            # a paraphrase or a question in the other language: no shared word, same meaning
            unit.score = weight * sem + prior - penalty
        else:
            unit.score = 0.0


def _length_penalty(unit: Unit, params: ScoringParams) -> float:
    """Very long units collect terms by accident; very short sentences say little."""
    length = len(unit.text)
    if length > params.long_chars:
        return params.long_penalty
    if length < params.short_chars and unit.kind == "sentence":
        return params.short_penalty
    return 0


_LATEST = re.compile(
    r"\b(now|today|currently|these\s+days|at\s+present|latest|most\s+recent|nowadays|"
    r"oggi|attualmente|adesso|ora|ad\s+oggi|al\s+momento|ultim[oaie]|odiern\w*)\b",
    re.IGNORECASE,
)


def prefer_latest(
    units: Sequence[Unit], question: str, params: ScoringParams = PARAMS.scoring
) -> None:
    """ "How many ... now?": pages keep the history of a figure (67 in 2020, 85 in 2026); among
    the units that answer, those dated with the latest year get a bonus."""
    if not _LATEST.search(question):
        return
    years = {id(u): [int(y) for y in YEAR.findall(u.text)] for u in units if u.score > 0}
    latest = max((max(v) for v in years.values() if v), default=None)
    if latest is None:
        return
    for unit in units:
        if latest in years.get(id(unit), ()):
            unit.score += params.latest_bonus


def usable(unit: Unit, params: ScoringParams = PARAMS.scoring) -> bool:
    """Units that may be quoted: not instructions to an AI, not bare fragments."""
    if is_instruction(unit.text):
        return False
    return not (unit.kind == "sentence" and len(re.findall(r"\w+", unit.text)) < params.min_words)
