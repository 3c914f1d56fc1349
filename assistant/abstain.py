"""Hand-written abstention checks: the hard ones, and the rules the learned model may keep.

The engine's decision is ``assistant.answerable.decide``: a calibrated model over signals of
the question and its passages, around which these checks run. Always: nothing retrieved, the
source saying it does not say (2 below), private data (a policy). As rules beside the model,
each only when ``scripts/train_answerable.py`` measured it to help on questions it was not
written from (``answerable_data/model.json``, "rules"): the kinds (1), the comparison with
another place and the term support (3). ``assess`` alone, with its defaults, is the decision
as it was before the model (the training script measures it as "before"):

1. **Kind of answer.** A question asking for a price, a salary, a clock time or timetable, an
   e-mail address or phone number, a weather forecast, a comparison with another place, is
   answerable only if a passage about the same subject holds that kind of thing (an amount of
   money, a time of day, an address, ...). Otherwise the assistant abstains, whatever else
   matched.
2. **The source says it does not say.** When the best sentence states that the information is
   not published ("We do not publish timetables here"), the honest answer is "I don't know",
   quoting that sentence.
3. **Term support.** The question's content terms (stemmed, accent-folded, in both languages)
   weighted by rarity in the whole index: if no passage carries most of that weight, the
   content does not answer. Terms that appear nowhere in the index ("weather", "Trieste")
   weigh the most. The bar is lower when no passage is in the question's language, since
   words then rarely match across the languages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.extractive import Selection, split_question
from assistant.terms import TermStats, drop_site_names, terms
from vectorstore.passages import Passage
from vectorstore.patterns import EMAIL, MONEY, PHONE

_I = re.IGNORECASE

CLOCK = re.compile(
    r"\b([01]?\d|2[0-3])[:.][0-5]\d\b(?![.,]\d)|\b\d{1,2}\s?(am|pm|a\.m\.|p\.m\.)|"
    r"\b(alle\s+ore|ore)\s+\d{1,2}\b|\bevery\s+\d+\s+minutes\b|\bogni\s+\d+\s+minuti\b",
    _I,
)
WEATHER = re.compile(
    r"\b(weather|forecasts?|temperatures?|degrees|rain\w*|snow\w*|sunny|meteo|previsioni|"
    r"temperatur[ae]|piogg\w*|piover\w*|nev\w*|soleggiat\w*|gradi)\b|°",
    _I,
)
SALARY_WORD = re.compile(
    r"\b(salar(y|ies)|wages?|earn(s|ings)?|pay\s*(check|slip)|remuneration|compensation|"
    r"stipendi?o?|retribuzion[ei]|compens[oi]|guadagn\w*|busta\s+paga|\bRAL\b)",
    _I,
)
NEGATIVE = re.compile(
    r"\b(do(es)?\s+not|don't|doesn't|is\s+not|are\s+not|isn't|aren't|not|never)\s+"
    r"(publish(ed)?|list(ed)?|describe[ds]?|disclose[ds]?|give[ns]?|provide[ds]?|include[ds]?|"
    r"publicly\s+available|available|made\s+public|shown)\b|"
    r"\bnon\s+(sono\s+|è\s+|vengono\s+|viene\s+)?(riportat|pubblicat|indicat|elencat|descritt|"
    r"divulgat|fornit|disponibil)\w*|"
    r"\bnon\s+(pubblica|pubblichiamo|riporta|riportiamo|elenca|descrive|indica|fornisce)\b",
    _I,
)


# How a question names the site without its name ("Where is the district?", "dov'è il parco?").
_SITE_WORDS = re.compile(r"\b(district|distretto|campus|park|parco|polo)\b", _I)


def names_site_by_word(question: str) -> bool:
    """The question names the site only by a common word ("the district", "il parco")."""
    return drop_site_names(question) == question and bool(_SITE_WORDS.search(question))


def about_site(question: str) -> bool:
    """The question names the site: by its name, or as "the district" or "il parco" (words the
    terms drop, since every page of the site says them)."""
    return drop_site_names(question) != question or bool(_SITE_WORDS.search(question))


@dataclass(frozen=True)
class Kind:
    """A kind of answer a question can ask for, and how to recognise it in a source."""

    name: str
    asks: re.Pattern[str]
    evidence: re.Pattern[str]
    # Words that only name the kind ("price", "email"): they cannot show a passage is on topic.
    both: re.Pattern[str] | None = None  # a second pattern the evidence unit must also match


KINDS: list[Kind] = [
    Kind(
        "weather",
        re.compile(
            r"\b(weather|forecast|will\s+it\s+(rain|snow)|temperature\s+(tomorrow|today)|"
            r"meteo|che\s+tempo\s+fa|previsioni\s+del\s+tempo|pioverà|nevicherà|"
            r"temperatura\s+(di\s+)?(domani|oggi))\b",
            _I,
        ),
        WEATHER,
    ),
    Kind("salary", SALARY_WORD, MONEY, both=SALARY_WORD),
    # A rent, fee or tariff is a price list: only a sentence quoting one answers it (an
    # investment figure on the same page does not).
    Kind(
        "rent",
        re.compile(
            r"\b(rents?|rental|renting|lease|leasing|fees?|tariffs?|price\s+list|pricing|"
            r"per\s+(square\s+metre|square\s+meter|sq\s*m|m2|m²|month|night)|"
            r"affitt\w*|canon[ei]\b|tariff\w*|listino|al\s+(mese|metro\s+quadr\w*|m2|mq))\b",
            _I,
        ),
        MONEY,
        both=re.compile(
            r"\b(rent\w*|lease|fees?|tariff\w*|prices?|per\s+(month|year|m2|m²|"
            r"square|night|hour|day)|affitt\w*|canon[ei]|tariff\w*|prezz\w*|"
            r"al\s+(mese|metro|m2|mq)|all'anno|listino)\b",
            _I,
        ),
    ),
    Kind(
        "price",
        re.compile(
            r"\b(prices?|costs?|costing|cheap\w*|expensive|how\s+much\s+(do|does|is|are|will|"
            r"would|to)\b|prezz\w*|cost[ao]|costano|costi|costos[oaie]|"
            r"quanto\s+(costa|costano|si\s+paga|viene|spende)|a\s+buon\s+mercato|car[oi]\b)",
            _I,
        ),
        MONEY,
    ),
    Kind(
        "email",
        re.compile(
            r"\b(e-?mails?|mail|mail\s+address|indirizz\w+\s+(di\s+posta|e-?mail|mail)|"
            r"posta\s+elettronica|pec)\b",
            _I,
        ),
        EMAIL,
    ),
    Kind(
        "phone",
        re.compile(
            r"\b(phone|telephone|mobile|cell\s*phone|whatsapp|telefono|cellulare|"
            r"numero\s+di\s+(telefono|cellulare)|phone\s+number)\b",
            _I,
        ),
        PHONE,
    ),
    Kind(
        "personal",
        re.compile(
            r"\b(home\s+(address|phone|number|e-?mail)|private\s+(address|e-?mail|mail|phone|"
            r"number|life|mobile)|"
            r"personal\s+(address|e-?mail|phone|number|contact\w*)|"
            r"indirizzo\s+di\s+casa|(numero|(e-?)?mail|indirizzo|cellulare|telefono)\s+(personale|privat[oa])|"
            r"dove\s+abita|where\s+does\s+\w+(\s+\w+)?\s+live)\b",
            _I,
        ),
        re.compile(r"(?!x)x"),  # private data is never an answer, whatever the pages hold
    ),
    Kind(
        "time",
        re.compile(
            r"\b(what\s+time|at\s+what\s+time|opening\s+(hours|times)|hours\s+of\s+opening|"
            r"timetables?|bus\s+times|train\s+times|next\s+(bus|train|shuttle)|departures?|"
            r"a\s+che\s+ora|che\s+ora|orari\w*|prossim[oa]\s+(autobus|bus|treno|navetta)|"
            r"orario\s+di\s+apertura|what\s+hours|when\s+does\s+the\s+(bus|train|shuttle))\b",
            _I,
        ),
        CLOCK,
    ),
    Kind(
        "jobs",
        re.compile(
            r"\b(jobs?|vacanc\w*|hiring|careers?|job\s+openings?|internships?|"
            r"posizion[ei]\s+apert\w*|offert\w+\s+di\s+lavoro|assun\w+|assum\w+|recruit\w*|"
            r"lavora\s+con\s+noi|"
            r"stage|tirocin\w+|candidatur\w+)\b",
            _I,
        ),
        re.compile(
            r"\b(vacanc\w*|hiring|job\s+openings?|open\s+positions?|careers?|apply|"
            r"posizion[ei]\s+apert\w*|offert\w+\s+di\s+lavoro|assum\w+|candidat\w+|"
            r"lavora\s+con\s+noi|internships?|tirocin\w+)\b",
            _I,
        ),
    ),
    Kind(
        "comparison",
        re.compile(
            r"\b(compared?\s+(to|with)|compares?|comparison|versus|vs\.?|better\s+than|"
            r"worse\s+than|bigger\s+than|larger\s+than|smaller\s+than|more\s+\w+\s+than|"
            r"rispetto\s+(a|al|allo|alla|ai|agli|alle|ad)\b|confront\w*|paragon\w*|"
            r"meglio|migliore|peggio|peggiore|più\s+\w+\s+d[ie]\b|best|better|worse|worst|"
            r"differenz\w+\s+tra)",
            _I,
        ),
        re.compile(r"(?!x)x"),  # decided by term support instead (see assess)
    ),
]

_OTHER_PLACE = re.compile(
    r"\b(science\s+parks?|parks?|parco|parchi|polo|poli|district|distretto|hub|technopole|"
    r"tecnopolo|incubator\w*|incubatore|cluster|city|città|other\s+(places|parks|sites)|"
    r"altr[io]\s+(parchi|poli|posti))\b",
    _I,
)
_PRIVATE_PERSON = re.compile(r"\b(private|personal|privat[oa]|personale)\b", _I)


@dataclass
class Verdict:
    """The decision with the figures behind it (logged, and used by the evaluation)."""

    answerable: bool
    reason: str
    coverage: float = 0.0
    kinds: list[str] = field(default_factory=list)
    unknown_terms: list[str] = field(default_factory=list)
    unknown_share: float = 0.0
    negative: str = ""  # the source sentence saying the information is not published
    negative_passage: int = -1
    probability: float | None = None  # the learned model's P(answerable), when it judged


def requested_kinds(question: str) -> list[Kind]:
    """Kinds of answer the question asks for ("price", "time", ...)."""
    return [k for k in KINDS if k.asks.search(question)]


_FILLER = (
    "number numbers numero numeri address indirizzo contact contacts contatto contatti "
    "recapito recapiti details dettagli reach raggiungere call chiamare write scrivere "
    "much how"
)


def _kind_terms(question: str, kinds: Sequence[Kind]) -> set[str]:
    """Terms of the question that only name the requested kinds ("price", "orari")."""
    found: set[str] = set(terms(_FILLER)) if kinds else set()
    for kind in kinds:
        for match in kind.asks.finditer(question):
            found.update(terms(match.group(0)))
    return found


def _units_of(passage: Passage) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", passage.text) if s.strip()]


def has_evidence(kind: Kind, question: str, passages: Sequence[Passage], topic: set[str]) -> bool:
    """Does a passage on the question's topic hold the kind of thing asked for?"""
    if kind.name == "comparison":
        return True
    for passage in passages:
        head = set(terms(f"{passage.title} {passage.heading}"))
        for sentence in _units_of(passage):
            # "This site does not list job vacancies" is not evidence of vacancies.
            if not kind.evidence.search(sentence) or NEGATIVE.search(sentence):
                continue
            if kind.name == "phone" and not _is_phone(sentence):
                continue
            if kind.both is not None and not kind.both.search(sentence):
                continue
            if kind.name in {"email", "phone"} and _PRIVATE_PERSON.search(question):
                continue
            # The evidence must concern the question's subject, not any number on the page.
            if not topic or topic & (set(terms(sentence)) | head):
                return True
    return False


def _is_phone(text: str) -> bool:
    """A phone number has at least 8 digits (years and figures have fewer together)."""
    return any(len(re.sub(r"\D", "", m.group(0))) >= 8 for m in PHONE.finditer(text))


def coverage_of(question_terms: Sequence[str], passage: Passage, stats: TermStats) -> float:
    """IDF-weighted share of the question's terms found in the passage (title included)."""
    if not question_terms:
        return 1.0
    present = set(terms(passage.text)) | set(terms(passage.title))
    total = sum(stats.idf(t) for t in set(question_terms))
    hit = sum(stats.idf(t) for t in set(question_terms) if t in present)
    return hit / total if total else 1.0


# Thresholds, tuned on the development questions (see tests/test_answer.py and the eval set).
MIN_COVERAGE = 0.25
MIN_COVERAGE_CROSS = 0.15
MIN_UNKNOWN_SHARE = 0.5
TOP_PASSAGES = 4


def assess(
    question: str,
    language: str,
    passages: Sequence[Passage],
    stats: TermStats,
    selection: Selection | None = None,
    *,
    lexical: bool = True,
    follow_up: bool = False,
    kinds_rule: bool = True,
) -> Verdict:
    """Decide whether the passages answer the question.

    ``lexical=False`` keeps only the hard checks (kinds, nothing retrieved, the source saying
    it does not say): ``assistant.answerable`` or an LLM judges the rest. ``kinds_rule=False``
    leaves the kinds to whoever judges the rest.
    """
    if not passages:
        return Verdict(False, "nothing retrieved")
    kinds = requested_kinds(question)
    qterms = terms(question)
    kind_words = _kind_terms(question, kinds)
    top = list(passages[:TOP_PASSAGES])
    # "Who designed the wall and how much did the BiG cost?": one answerable part is enough.
    failures = [missing_kind(part, passages, stats) for part in split_question(question)]
    if kinds_rule and all(failures):
        return Verdict(False, f"no {failures[0]} in the sources", kinds=[k.name for k in kinds])
    if not kinds_rule and any(k.name == "personal" for k in kinds):
        # a policy, not a guess about the sources: private data is never an answer
        return Verdict(False, "no personal data is given", kinds=[k.name for k in kinds])

    unknown = sorted({t for t in qterms if stats.df.get(t, 0) == 0 and t not in kind_words})
    same_language = [p for p in top if p.language == language]
    coverage = max((coverage_of(qterms, p, stats) for p in top), default=0.0)
    verdict = Verdict(True, "supported", coverage, [k.name for k in kinds], unknown)

    if selection is not None and selection.groups:
        negative = _negative_statement(selection, passages)
        if negative is not None:
            verdict.answerable = False
            verdict.reason = "the source says it is not published"
            verdict.negative, verdict.negative_passage = negative
            return verdict
    if not lexical or follow_up:
        # A follow-up's words are few and lean on the history: term support says little.
        return verdict
    if selection is None:
        verdict.answerable, verdict.reason = False, "no sentence matches the question"
        return verdict
    if compares_elsewhere(question, stats):
        verdict.answerable, verdict.reason = False, "compares with another place"
        return verdict
    # Off-topic questions lean on words the index never uses ("pizza", "football") and the
    # passages cover little of the rest. Paraphrases of answerable questions fail one test
    # more often than both.
    weights = {t: stats.idf(t) for t in set(qterms)}
    total = sum(weights.values()) or 1.0
    verdict.unknown_share = sum(w for t, w in weights.items() if t in unknown) / total
    bar = MIN_COVERAGE if same_language else MIN_COVERAGE_CROSS
    if coverage < bar and verdict.unknown_share >= MIN_UNKNOWN_SHARE:
        verdict.answerable, verdict.reason = (
            False,
            (f"weak term support ({coverage:.2f}, unknown {verdict.unknown_share:.2f})"),
        )
    return verdict


def compares_elsewhere(question: str, stats: TermStats) -> bool:
    """The question compares the district with another place, or with something the index never
    names: the district's own pages do not rank it against other parks or places."""
    if not any(k.name == "comparison" for k in requested_kinds(question)):
        return False
    kind_words = _kind_terms(question, requested_kinds(question))
    unknown = any(stats.df.get(t, 0) == 0 and t not in kind_words for t in terms(question))
    return unknown or bool(_OTHER_PLACE.search(drop_site_names(question)))


def missing_kind(question: str, passages: Sequence[Passage], stats: TermStats) -> str:
    """The first kind the question asks for that no passage on its topic holds ("" if none)."""
    kinds = requested_kinds(question)
    kind_words = _kind_terms(question, kinds)
    topic = {t for t in terms(question) if t not in kind_words and stats.df.get(t, 0) > 0}
    for kind in kinds:
        if not has_evidence(kind, question, passages, topic):
            return kind.name
    return ""


def _negative_statement(
    selection: Selection, passages: Sequence[Passage]
) -> tuple[str, int] | None:
    """The quoted sentence that says the information is not published, if it leads the answer."""
    best = max((u for group in selection.groups for u in group[2]), key=lambda u: u.score)
    if NEGATIVE.search(best.text):
        return best.text, best.passage
    return None
