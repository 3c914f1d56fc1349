"""Answers that know today's date: upcoming events, past events, the latest figure.

Pages state dates ("On 11 October 2025 ...", "January 2026: 85 companies"); ingest.dates keeps
them with each chunk (``Passage.dates``). A quotable unit carries the dates whose words it
holds. Given ``today`` (Settings.today, the real date by default):

- "upcoming / next / prossimi / in programma" questions are answered only with units dated
  on or after today, in date order; when there is none, the answer says so plainly and names
  the latest past event, marked as past;
- "now / today / attualmente / oggi" questions get the most recent figure dated on or before
  today, with its date, then the older figures that differ, and a note when the newest one is
  more than two years old (``STALE_DAYS``);
- any other question with a time marker ("already", "still on", "già", "ancora") gets the
  normal answer, with each quoted dated unit marked as past or upcoming;
- every normal answer leaves out what the sources could not state on today (``drop_later``:
  a figure, a year's fact or a past-tense report dated after it).

Who holds a role now is read from periods: an open one ("since 2017", "2017–present") holds
today, a closed one ("2016–2022") held until its end. A clause speaking of its page's present ("oggi",
"today") is not known on a today before a later fact the page reports (``reports_later``).

Upcoming questions read, besides the retrieved passages, the dated passages of a wider search
and every passage of the index stating an event still to come; "how many ... now?" questions
read the wider search too (``reads_wider``, ``coming_passages``).

The question's time intent is read from a short list of tense and time markers (below); the
list was written from grammar (English "will", Italian future endings, time adverbs), not from
the evaluation questions, and its hit rate on the other question sets is reported by
scripts/eval_time.py (``--intents``).
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Literal, TypeVar

from assistant.conversation import subject_terms
from assistant.directory_match import HOW_LONG
from assistant.extractive import Selection, about_terms, asks_measure, split_question
from assistant.guard import unquotable
from assistant.params import PARAMS, Params, TimelineParams
from assistant.scoring import (
    Query,
    Similarity,
    answer_types,
    asks_for_list,
    score_units,
    semantic_scores,
    usable,
)
from assistant.terms import TermStats, stop_words, terms
from assistant.units import Unit, embedding_text, split_units
from ingest.dates import DateMention, decode, find_dates, words_besides
from vectorstore.passages import Passage
from vectorstore.text import fold, split_sentences

Intent = Literal["upcoming", "current", "past", ""]
S = TypeVar("S")

EVENT_PRECISIONS = {"day", "month", "quarter", "period"}
# "the next event", "il prossimo evento" ask for the first one only ("next month" does not).
_ONE_NEXT = re.compile(
    r"\bnext\s+(?!(?:month|week|year|weekend|days?)\b)[a-z]+(?<!s)\b|"
    r"(?<!mese\s)(?<!settimana\s)(?<!anno\s)\bprossim[oa]\s+(?!(?:mese|settimana|anno)\b)\w+",
    re.I,
)

# Tense and time markers, Italian and English. Upcoming: future tense and forward-looking
# adverbs ("will", "prossimo", Italian future endings -rà/-ranno on a verb after a question
# word). Current: present-time adverbs. Past: completion adverbs and questions about status.
_UPCOMING = re.compile(
    r"\b(upcoming|coming\s+up|next\s+(?=\w)|future|forthcoming|planned|scheduled|will|going\s+to|"
    r"what'?s\s+on|prossim[oaie]|in\s+programma|futur[oaie]|previst[oaie]|programmat[oaie]|"
    r"in\s+arrivo|\w+(?:erà|irà|arà|ranno))\b",
    re.IGNORECASE,
)
_CURRENT = re.compile(
    r"\b(now|today|currently|current|these\s+days|at\s+present|nowadays|at\s+the\s+moment|"
    r"to\s+date|so\s+far|latest|oggi|attualmente|adesso|al\s+momento|ad\s+oggi|"
    r"odiern[oaie]|attual[ei]|finora|ultim[oaie])\b",
    re.IGNORECASE,
)
_PAST = re.compile(
    r"\b(already|still\s+on|it\s+over|yet|took\s+place|was\s+held|has\s+been|have\s+been|ago|"
    r"già|ancora|passat[oaie]|svolt[oaie]|concluso|conclusa|terminat[oaie])\b",
    re.IGNORECASE,
)

# "The latest / l'ultimo ..." asks for the newest start, not for what holds now.
_LATEST = re.compile(r"\b(latest|newest|most\s+recent|ultim[oaie]|più\s+recent[ei])\b", re.I)
# "How many ... now?" asks for a figure whose latest value may be stated on another page.
_COUNT = re.compile(r"\b(how\s+many|number\s+of|quant[ie])\b", re.I)
# A count or an amount asked with no time marker ("how many people work at the park?", "how
# much lab space does it have?") asks how things stand now, unless it names a past tense or
# a date of its own ("how many were there in 2020?").
_AMOUNT = re.compile(r"\b(how\s+many|how\s+much|quant[ie]|(?<!ogni\s)quant[oa])\b", re.I)
# Past tense from grammar: the past of "be", "do", "have"; an Italian perfect with "avere"
# ("hanno partecipato"; "sono insediate" states how things stand); an English simple past
# (``_SIMPLE_PAST``).
_PAST_TENSE = re.compile(
    r"\b(was|were|did|had|used\s+to|era|erano|c['’]erano|fu|furono)\b"
    r"|\b(?:hanno|ha|abbiamo|avete)\s+\w+(?:at|ut|it)[oiae]\b",
    re.I,
)
# An English "-ed" word is a simple past when it is a verb: followed by its object or an
# adverbial (a determiner, a preposition, a time word) or ending the question ("how many
# people visited the Open Labs day?"), not before a noun ("how many funded projects", an
# adjective); and when no "have" or "be" comes before it, whose "-ed" is a perfect ("how many
# patents have they filed?" counts to date, as "now" does) or a passive ("are based").
_SIMPLE_PAST = re.compile(
    r"\b[a-z]{3,}ed\b(?=\s+(?:the|their|its|his|her|our|a|an|at|in|on|to|for|during|by|with|"
    r"from|last|this|that|there|here)\b|\s*[?.!]*\s*$)",
    re.I,
)
_AUXILIARY = re.compile(r"\b(has|have|'ve|is|are|am|be|been|being|'s|'re)\b", re.I)


def past_tense(question: str) -> bool:
    """The question is asked in a past tense (``_PAST_TENSE``, ``_SIMPLE_PAST``)."""
    if _PAST_TENSE.search(question):
        return True
    found = _SIMPLE_PAST.search(question)
    return found is not None and not _AUXILIARY.search(question[: found.start()])


# "When is the next event?" asks for the first of the coming events, not one thing's date.
_NEXT = re.compile(r"\b(next|prossim[oaie])\b", re.I)
# A question asking for a date: "when", "in che anno", and the ends of a period asked with a
# preposition ("until when", "since when", "fino a quando", "da quando", "entro quando").
_ASKS_WHEN = re.compile(
    r"^\W*(?:(?:until|till|since|by)\s+)?when\b"
    r"|^\W*(?:(?:fino\s+a|entro|da|a\s+partire\s+da)\s+)?quando\b"
    r"|^\W*in\s+che\s+(?:anno|mese|data)\b",
    re.I,
)

# A calendar period named relative to today: the events asked for fall in it.
_WINDOW = re.compile(
    r"\b(?:(?P<next_month>next\s+month|(?:il\s+)?mese\s+prossimo|(?:il\s+)?prossimo\s+mese)"
    r"|(?P<this_month>this\s+month|questo\s+mese)"
    r"|(?P<next_week>next\s+week|(?:la\s+)?settimana\s+prossima|(?:la\s+)?prossima\s+settimana)"
    r"|(?P<this_year>this\s+year|quest['’]anno)"
    r"|(?P<last_month>last\s+month|(?:il\s+)?mese\s+scorso|(?:lo\s+)?scorso\s+mese)"
    r"|(?P<last_year>last\s+year|(?:l['’])?anno\s+scorso|(?:lo\s+)?scorso\s+anno)"
    r"|(?P<next_year>next\s+year|(?:l['’])?anno\s+prossimo|(?:il\s+)?prossimo\s+anno))\b",
    re.I,
)

# A span counted from today ("in the next twelve months", "negli ultimi sei mesi", "the past
# 2 weeks") and the rest of the year ("da qui a fine anno", "by the end of the year"): grammar
# (a direction, a number, a calendar unit), with the number words of both languages.
_NUMBERS = {
    "one": 1, "uno": 1, "two": 2, "due": 2, "three": 3, "tre": 3,
    "four": 4, "quattro": 4, "five": 5, "cinque": 5, "six": 6, "sei": 6, "seven": 7, "sette": 7,
    "eight": 8, "otto": 8, "nine": 9, "nove": 9, "ten": 10, "dieci": 10, "eleven": 11,
    "undici": 11, "twelve": 12, "dodici": 12, "eighteen": 18, "diciotto": 18,
}  # fmt: skip
_SPAN = re.compile(
    r"\b(?P<dir>next|last|past|coming|prossim[ie]|ultim[ie]|scors[ie])\s+"
    rf"(?P<n>\d{{1,2}}|{'|'.join(_NUMBERS)})\s+"
    r"(?P<unit>days|weeks|months|years|giorni|settimane|mesi|anni)\b",
    re.I,
)
_REST_OF_YEAR = re.compile(
    r"\b(?:(?:da\s+(?:qui|ora|oggi)\s+)?(?:a|entro(?:\s+la)?|fino\s+a(?:lla)?)\s+fine\s+"
    r"(?:dell['’]\s*)?anno|(?:by|before|until|till|to)\s+the\s+end\s+of\s+the\s+year"
    r"|(?:for\s+)?the\s+rest\s+of\s+the\s+year)\b",
    re.I,
)
_BACK = re.compile(r"^(last|past|ultim|scors)", re.I)
# The words of "da qui a fine anno", "by the end of the year" an answer repeats.
_END_OF_YEAR = re.compile(
    r"^(?:da\s+\w+\s+)?(?:a|entro(?:\s+la)?|fino\s+a(?:lla)?|by|before|until|till|to|for)\s+", re.I
)


def span_intent(question: str) -> Intent:
    """The intent a span names: "upcoming" for one ahead of today ("the next six months", "da
    qui a fine anno"), "past" for one behind it ("negli ultimi sei mesi"), else ""."""
    found = _SPAN.search(question)
    if found is not None:
        return "past" if _BACK.match(found.group("dir")) else "upcoming"
    return "upcoming" if _REST_OF_YEAR.search(question) else ""


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _span(question: str, today: date) -> Window | None:
    """The days of a span counted from today, or of the rest of the year, or None."""
    found = _SPAN.search(question)
    if found is None:
        rest = _REST_OF_YEAR.search(question)
        if rest is None:
            return None
        return Window(today, date(today.year, 12, 31), _END_OF_YEAR.sub("", rest.group(0)))
    raw = found.group("n").lower()
    n = int(raw) if raw.isdigit() else _NUMBERS[raw]
    unit = found.group("unit").lower()
    sign = -1 if _BACK.match(found.group("dir")) else 1
    if unit in {"months", "mesi", "years", "anni"}:
        other = _add_months(today, sign * n * (12 if unit in {"years", "anni"} else 1))
    else:
        other = today + timedelta(days=sign * n * (7 if unit in {"weeks", "settimane"} else 1))
    # said as a phrase of its language: "the next twelve months", "gli ultimi sei mesi"
    head = found.group("dir").lower()
    if head in {"next", "last", "past", "coming"}:
        article = "the"
    else:  # Italian: "le prossime settimane", "gli ultimi sei mesi", "i prossimi tre mesi"
        article = "le" if head.endswith("e") else "gli" if head.startswith(("u", "s")) else "i"
    words = f"{article} {' '.join(found.group(0).split())}"
    return Window(min(today, other), max(today, other), words)


@dataclasses.dataclass(frozen=True)
class Window:
    """The period of days a question's events must fall in, and its words."""

    start: date
    end: date
    words: str

    def holds(self, mentions: Iterable[DateMention]) -> bool:
        """Whether one of the dates falls, even in part, in the period."""
        return any(m.start <= self.end and m.end >= self.start for m in mentions)


def window(question: str, today: date, stated: bool = False) -> Window | None:
    """The calendar period the question names relative to ``today`` ("next month", "il mese
    prossimo", "this year", "l'anno scorso"), or None. A period under way is whole ("this
    year" is 1 January to 31 December): an upcoming answer keeps its events still to come,
    a past one those already held. A span counted from today ("the last six months", "da qui
    a fine anno") is its days. With ``stated`` (a list of the events held), a month or a year
    the question states is the period too ("what events took place in 2025?"; elsewhere a
    date is as often the topic's, "the complex announced in January 2026")."""
    spanned = _span(question, today)
    if spanned is not None:
        return spanned
    found = _WINDOW.search(question)
    if found is None:
        named = [m for m in find_dates(question) if m.precision in {"month", "year"}]
        if stated and len(named) == 1 and not named[0].relation:
            return Window(named[0].start, named[0].end, named[0].text)
        return None
    kind = found.lastgroup or ""
    words = " ".join(found.group(0).split())
    first = today.replace(day=1)
    if kind == "this_month":
        return Window(first, _month_end(first), words)
    if kind == "next_month":
        start = _month_end(first) + timedelta(days=1)
        return Window(start, _month_end(start), words)
    if kind == "last_month":
        start = (first - timedelta(days=1)).replace(day=1)
        return Window(start, _month_end(start), words)
    if kind == "next_week":
        start = today + timedelta(days=7 - today.weekday())
        return Window(start, start + timedelta(days=6), words)
    year = {"this_year": 0, "last_year": -1}.get(kind, 1) + today.year
    return Window(date(year, 1, 1), date(year, 12, 31), words)


def _month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


_TEXTS = {
    "en": {
        "none": "No upcoming event is announced in the sources as of {today}.",
        "none_in": "No event is announced in the sources for {window} (as of {today}).",
        "then": "The next one announced is:",
        "count": "{n} upcoming events are announced in the sources (as of {today}):",
        "count_in": "{n} events are announced in the sources for {window} (as of {today}):",
        "upcoming_in": "Announced for {window} (as of {today}):",
        "held": "Already held (as of {today}):",
        "held_in": "Already held, {window} (as of {today}):",
        "held_none": "No event already held is stated in the sources for {window} (as of {today}).",
        "last": "The most recent one was:",
        "upcoming": "Upcoming (as of {today}):",
        "past": "past, {when}",
        "ahead": "upcoming, {when}",
        "past_stated": "past",
        "ahead_stated": "upcoming",
        "as_of": "as of {when}",
        "older": "Earlier figures:",
        "former": "Earlier, in the sources:",
        "stale": "Note: this is the newest figure in the sources, dated {when}; it may be out "
        "of date.",
    },
    "it": {
        "none": "Nelle fonti non è annunciato alcun evento in programma dopo il {today}.",
        "none_in": "Nelle fonti non è annunciato nessun evento per {window} (al {today}).",
        "then": "Il prossimo annunciato è:",
        "count": "Nelle fonti sono annunciati {n} eventi in programma (al {today}):",
        "count_in": "Nelle fonti sono annunciati {n} eventi per {window} (al {today}):",
        "upcoming_in": "In programma per {window} (al {today}):",
        "held": "Già svolti (al {today}):",
        "held_in": "Già svolti, {window} (al {today}):",
        "held_none": "Nelle fonti non risulta nessun evento già svolto per {window} (al {today}).",
        "last": "L'ultimo è stato:",
        "upcoming": "In programma (al {today}):",
        "past": "già passato, {when}",
        "ahead": "in programma, {when}",
        "past_stated": "già passato",
        "ahead_stated": "in programma",
        "as_of": "dato: {when}",
        "older": "Dati precedenti:",
        "former": "In precedenza, nelle fonti:",
        "stale": "Nota: è il dato più recente nelle fonti, del {when}; potrebbe non essere "
        "aggiornato.",
    },
}


# Markers that ask for coming events only in some positions. A participle of planning
# ("planned", "previsto", "in programma") after a noun or a determiner qualifies that noun
# ("the complex planned for the campus", "il complesso in programma": a thing, not a
# calendar), unless the question asks whether there are any or how many, or for a list
# ("ci sono eventi in programma?"); after a form of "be", a question word or an indefinite
# ("what is planned?", "cosa c'è in programma?") it asks what is to come.
_PLANNED = re.compile(
    r"^(?:planned|scheduled|previst[oaie]|programmat[oaie]|in\s+programma)$", re.I
)
_PREDICATIVE = re.compile(
    r"\b(?:is|are|was|were|be|been|being|am|get|gets|got|what|anything|something|nothing|"
    r"sono|è|e'|c['’]è|sarà|saranno|stat[oaie]|era|erano|cosa|che|qualcosa|niente|nulla)\W*$",
    re.I,
)
_EXISTENTIAL = re.compile(r"\b(?:there\s+(?:is|are)|ci\s+sono|c['’]è)\b", re.I)
# "What's on" asks for a calendar when nothing follows it but a place or a time ("what's on
# at the park next month?"); before an object it is a preposition ("what's on it?", "what's
# on the checklist?").
_ON_OBJECT = re.compile(
    r"\s+(?:it|them|the|a|an|each|every|its|their|your|my|our|his|her|these|those|that)\b",
    re.I,
)
# "Next" before a time noun, or after a determiner, a possessive, a preposition or a form of
# "be" ("next month", "the next open day", "the district's next building", "is next"); else
# it is a word of a name ("Albini Next").
_NEXT_TIME = re.compile(
    r"\s*(?:month|week|year|weekend|days?|edition|time|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)\b",
    re.I,
)
_NEXT_AFTER = re.compile(
    r"\b(?:the|a|its|their|our|your|his|her|this|on|in|at|for|of|by|until|is|are|be|what|"
    r"when|which)\W*$|['’]s\s*$|^\W*$",
    re.I,
)


def _marks_upcoming(question: str, found: re.Match[str]) -> bool:
    """Whether one ``_UPCOMING`` marker asks for what is to come where it stands
    (``_PLANNED``, ``_ON_OBJECT``, ``_NEXT_TIME``); the other markers always do."""
    word = found.group(0)
    before, after = question[: found.start()], question[found.end() :]
    if _PLANNED.match(word):
        asked = _EXISTENTIAL.search(question) or _ANY.search(question) or _COUNT.search(question)
        return bool(_PREDICATIVE.search(before) or asked or asks_for_list(question))
    if re.match(r"what'?s\s+on$", word, re.I):
        return not _ON_OBJECT.match(after)
    if word.casefold().startswith("next"):
        return bool(_NEXT_TIME.match(after) or _NEXT_AFTER.search(before))
    return True


def time_intent(question: str) -> Intent:
    """What the question asks about time: coming events, the present, a past state, or none.
    A span counted from today says it first ("negli ultimi sei mesi" asks about the past,
    though "ultimi" alone is "latest")."""
    spanned = span_intent(question)
    if spanned:
        return spanned
    if any(_marks_upcoming(question, found) for found in _UPCOMING.finditer(question)):
        return "upcoming"
    if _CURRENT.search(question):
        return "current"
    if _PAST.search(question):
        return "past"
    return ""


def answers(question: str) -> bool:
    """Whether the time-aware answer (``answer``) may take the question at all: not one of
    several parts (the selector leads each part: "Which institute is it behind? And how big is
    that institute today?" asks a name first), nor one about something planned that asks for
    its sum or size ("how much is the investment planned until 2027?", "how does its floor
    area compare with the complex being planned?"): the events to come do not answer it, the
    unit stating the figure does (its dates still marked by the normal answer)."""
    if len(split_question(question)) > 1:
        return False
    return not (time_intent(question) == "upcoming" and asks_measure(question))


def asks_calendar(question: str) -> bool:
    """A question about the calendar itself: the coming events of a period ("what's on next
    month?", "il mese prossimo"), which are coming up, whether any is ("anything coming
    up?"), how many are planned, or which were already held. The timeline answers it even
    when no passage answers it in words."""
    intent = time_intent(question)
    if intent == "past":
        return _asks_held(question)
    if intent != "upcoming":
        return False
    # "which events are coming up?" asks for the calendar as much as "what's on next month?"
    named = _WINDOW.search(question) or span_intent(question)
    asked = _COUNT.search(question) or _ANY.search(question) or asks_for_list(question)
    return bool(named or asked)


# An indefinite ("anything", "any", "qualcosa") asks whether there are items of a kind.
_ANY = re.compile(r"\b(anything|something|any|qualcosa|qualche|niente|nulla)\b", re.I)


# An interrogative before a plural noun ("what events", "che eventi"): a list.
_WHICH_PLURAL = re.compile(
    r"^\W*(?:(?:what|which)\s+(?!(?:was|is|does|has)\b)[a-z]+s|(?:che|quali)\s+\w+[ie])\b", re.I
)


def _asks_held(question: str) -> bool:
    """A list of the events already held ("which events have already been held?"), or of
    those of a period the question names ("what events took place in 2025?"; "what
    prototypes have been developed?", naming none, is no calendar question)."""
    if time_intent(question) != "past":
        return False
    if asks_for_list(question):
        return True
    named = _WINDOW.search(question) or span_intent(question) or find_dates(question)
    return bool(named and _WHICH_PLURAL.search(question))


# Who holds a role. A role asked by its noun: "who is (now) the director (of X)?", "who's the
# president of X?", "chi è (oggi) il presidente di X?", "chi è l'attuale direttrice di X?"
# (who/chi, a form of "be", a definite article, the role, its "of"-phrase). Or by a verb of
# leading ("who chairs X now?", "chi guida oggi X?"), whose holders are the heads of X.
_NOW_WORD = (
    r"(?:now|right\s+now|currently|today|nowadays|these\s+days|at\s+present|at\s+the\s+moment|"
    r"oggi|attualmente|adesso|ora|al\s+momento)"
)
_OF = r"(?:of|at|for|di|del|della|dello|dell['’]|dei|degli|delle)"
_ROLE_NOUN = re.compile(
    rf"^\W*(?:who(?:['’]s|\s+is)|chi\s+è)\s+(?:{_NOW_WORD}\s+)?"
    r"(?:the|il|la|lo|l['’])\s*(?:(?:current|present|new|attuale|nuov[oa])\s+)?"
    rf"(?P<role>[^\W\d_]{{4,}})\b(?:\s+{_OF}\s*(?P<subject>[^?]*?))?"
    rf"(?:\s+{_NOW_WORD})?\W*$",
    re.I,
)
_ROLE_VERB = re.compile(
    rf"^\W*(?:who|chi)\s+(?:{_NOW_WORD}\s+)?"
    r"(?P<verb>leads|heads|runs|chairs|directs|manages|guida|dirige|presiede|coordina|gestisce)\s+"
    rf"(?:{_NOW_WORD}\s+)?(?P<subject>[^?]*?)(?:\s+{_NOW_WORD})?\W*$",
    re.I,
)
# The heads of an organisation, for a role asked by a verb of leading (either language), by
# the head's role: a verb naming one ("chairs", "dirige") asks for that one, a verb of leading
# in general ("leads", "runs", "guida") for each.
_HEAD_ROLES = {
    "chair": ("president", "presidente", "chair", "chairman", "chairwoman", "chairperson"),
    "director": ("director", "direttore"),
    "coordinator": ("coordinator", "coordinatore"),
    "head": ("head",),
    "ceo": ("ceo",),
    "manager": ("manager",),
}
_HEADS = tuple(head for heads in _HEAD_ROLES.values() for head in heads)
# The stem of a verb of leading and the head's role it names ("" for any head's).
_VERB_ROLES = {
    "chair": "chair", "presied": "chair", "direct": "director", "dirig": "director",
    "dirett": "director", "coordin": "coordinator",
}  # fmt: skip
_ARTICLES = re.compile(r"^(?:(?:the|il|la|lo|i|gli|le)\s+|l['’]\s*)", re.I)
# Two or more capitalised words in a row: a person's name ("Giovanna Ricuperati").
_NAME = re.compile(r"\b[A-ZÀ-Ý][\w'’-]+(?:\s+(?:de|di|da|del|della|van|von)?\s*[A-ZÀ-Ý][\w'’-]+)+")


@dataclasses.dataclass(frozen=True)
class Role:
    """A role asked for ("director"), as the word forms that name it, and whose it is (the
    words of its "of"-phrase; empty when the question names no one)."""

    forms: frozenset[str]
    subject: tuple[str, ...]
    subject_terms: frozenset[str] = frozenset()


def _role_forms(word: str) -> set[str]:
    """The forms of a role noun: English plurals, Italian plurals and feminines ("direttore",
    "direttrice", "direttori"; "presidente", "presidentessa")."""
    r = word.casefold()
    out = {r, f"{r}s", f"{r}es"}
    if r.endswith("tore"):
        out |= {f"{r[:-4]}trice", f"{r[:-4]}trici", f"{r[:-1]}i"}
    elif r.endswith("trice"):
        out |= {f"{r[:-5]}tore", f"{r[:-5]}tori"}
    elif r.endswith("e"):
        out |= {f"{r[:-1]}i", f"{r[:-1]}essa"}
    return out


_HEAD_FORMS = frozenset(f for head in _HEADS for f in _role_forms(head))


def _verb_role(verb: str) -> str:
    """The head's role a verb of leading names ("chaired" -> "chair"; "leads" -> "")."""
    folded = verb.casefold()
    return next((role for stem, role in _VERB_ROLES.items() if folded.startswith(stem)), "")


def head_role(word: str) -> str:
    """The head's role a role noun or a verb of leading names ("presidentessa", "chaired" ->
    "chair"); "" for a verb of leading in general or another word."""
    folded = word.casefold()
    for role, heads in _HEAD_ROLES.items():
        if any(folded in _role_forms(head) for head in heads):
            return role
    return _verb_role(folded)


def role_asked(question: str) -> tuple[Role, bool] | None:
    """The role a question asks the holder of, and whether it is asked by its noun ("who is
    the director of X?"; asked by a verb, "who leads X now?", only with a word for now); None
    for any other question."""
    found = _ROLE_NOUN.search(question)
    if found is not None:
        forms: set[str] = _role_forms(found.group("role"))
        subject = found.group("subject") or ""
        by_noun = True
    else:
        found = _ROLE_VERB.search(question)
        if found is None or not re.search(rf"\b{_NOW_WORD}\b", question, re.I):
            return None
        named = _verb_role(found.group("verb"))
        heads = _HEAD_ROLES[named] if named else _HEADS
        forms = {f for head in heads for f in _role_forms(head)}
        subject = found.group("subject")
        by_noun = False
    subject = _ARTICLES.sub("", subject.strip())
    words = tuple(w.casefold() for w in _WORD.findall(subject))
    return Role(frozenset(forms), words, frozenset(terms(subject))), by_noun


def asks_duration(question: str) -> bool:
    """A duration asked ("how long has X been here?", "how many years has X been open?", "da
    quanti anni..."): not a figure at today, so never the "now" path (the directory answers it
    when X is one organisation whose arrival it records; else the normal answer)."""
    return bool(HOW_LONG.search(question))


def implicit_current(question: str) -> bool:
    """A count or amount question with no time marker, no past tense and no date of its own
    ("how many companies are in the park?", "quanti addetti lavorano nel parco?"): the
    sources may state the figure at several dates, and the answer is the latest at today."""
    return (
        time_intent(question) == ""
        and not asks_duration(question)
        and bool(_AMOUNT.search(question))
        and not past_tense(question)
        and not find_dates(question)
        and len(split_question(question)) == 1
    )


def reads_wider(question: str) -> bool:
    """Whether the answer reads the dated passages of a wider search (``Params.timeline.wide_k``):
    upcoming questions and lists of the events already held, whose events table is often not
    among the few passages a question retrieves, and "now" questions that ask for one count ("how many ... now?"), whose latest
    value is often stated on another page (a key-figures page). Other "now" questions do not:
    on the time set the wider passages brought other dated facts, e.g. the director's
    appointment for "who owns the building today?"; nor do questions of several parts."""
    intent = time_intent(question)
    if intent == "upcoming" or _asks_held(question) or implicit_current(question):
        return True
    return (
        intent == "current" and bool(_COUNT.search(question)) and len(split_question(question)) == 1
    )


# The last day of an event-precision date in a chunk's stored dates (ingest.dates.encode
# writes [words, start, end, precision, relation]): read without decoding every chunk.
_EVENT_END = re.compile(r'"(\d{4}-\d\d-\d\d)","(?:day|month|quarter|period)"')


def coming_passages(
    index: Iterable[Passage], today: date, language: str, allowed: Callable[[Passage], bool]
) -> list[Passage]:
    """Every passage of the index stating an event date not over on ``today``, in the asker's
    language when some are (a site's coming events are few; the search may miss them)."""
    day = today.isoformat()
    found = [
        p for p in index
        if p.dates and max(_EVENT_END.findall(p.dates), default="") >= day and allowed(p)
    ]  # fmt: skip
    own = [p for p in found if p.language == language]
    return own or found


def dated_extra(passages: Sequence[Passage], wider: Sequence[Passage]) -> list[Passage]:
    """The passages of a wider search that state a date and are not already retrieved."""
    seen = {p.id for p in passages}
    out = []
    for passage in wider:
        if passage.id not in seen and decode(passage.dates):
            seen.add(passage.id)
            out.append(passage)
    return out


def _norm(text: str) -> str:
    return " ".join(text.replace("\\", "").split()).casefold()


def unit_dates(
    unit: Unit, mentions: Sequence[DateMention], open_periods: bool = False
) -> list[DateMention]:
    """The dates of a passage whose words appear in this unit; the start of an open period
    ("since 2017", "dal 2017", "2017–present") only with ``open_periods`` (it dates no event,
    but it says a state still holds)."""
    text = _norm(unit.text)
    return [
        m for m in mentions
        if _norm(m.text) in text and (open_periods or m.relation != "since")
    ]  # fmt: skip


@dataclasses.dataclass
class _Dated:
    unit: Unit
    dates: list[DateMention]

    @property
    def start(self) -> date:
        return min(d.start for d in self.dates)

    @property
    def end(self) -> date:
        return max(d.end for d in self.dates)

    def start_after(self, today: date) -> bool:
        return any(d.start > today for d in self.dates)

    def before(self, today: date) -> list[DateMention]:
        return [d for d in self.dates if d.start <= today]

    def event_dates(self) -> list[DateMention]:
        """Dates precise enough to be an event's (a bare year, or a period of years such as
        "2023 / 2026", is not a day out)."""
        return [
            d for d in self.dates
            if d.precision in EVENT_PRECISIONS and (d.end - d.start).days <= PARAMS.timeline.event_days
        ]  # fmt: skip

    def coming(self, today: date) -> list[DateMention]:
        """Its event dates still to come on ``today`` (``is_coming``)."""
        return [d for d in self.event_dates() if is_coming(d, today)]


def is_coming(mention: DateMention, today: date) -> bool:
    """An event on this date is not over: a day or days not all past; a month or quarter not
    yet begun (in its own month, "November 2026" may be over, and is often a page's stamp,
    "Last reviewed: November 2026", rather than an event)."""
    if mention.precision in {"month", "quarter"}:
        return mention.start > today
    return mention.end >= today


def _t(lang: str, key: str, **values: str) -> str:
    return _TEXTS.get(lang, _TEXTS["en"])[key].format(**values)


def _score(
    question: str,
    passages: Sequence[Passage],
    language: str,
    stats: TermStats,
    similarity: Similarity | None,
    params: Params,
) -> list[Unit]:
    scoring = params.scoring
    units = [u for i, p in enumerate(passages) for u in _labelled(split_units(p, i), p)]
    units = [u for u, bad in zip(units, unquotable(units), strict=True) if not bad]
    query = Query.build(question, stats, params=scoring)
    boosts = answer_types(question)
    score_units(units, query, passages, boosts, similarity, language, question, scoring)
    return [u for u in units if usable(u, scoring)]


_WORD = re.compile(r"[^\W\d_]{2,}")


def _labelled(units: list[Unit], passage: Passage) -> list[Unit]:
    """Short dated lines as labels: a line just before a heading ("18-22 January 2027" above
    "## Winter School") or the first line under one ("## The park in numbers", "Updated
    September 2026") is that heading's date, quoted with the heading's words it lacks; and
    the undated items or rows right after a first line under a heading are stated as of its
    date ("about 910 people working on campus (Updated September 2026)")."""
    mentions = decode(passage.dates)
    if not mentions:
        return units
    out = list(units)
    for i, unit in enumerate(units):
        if unit.kind != "sentence" or not _is_label(unit, mentions):
            continue
        following = units[i + 1] if i + 1 < len(units) else None
        if following is None:
            continue
        # A row's context is its heading and its table's header: under the same heading.
        same = following.context == unit.context or (
            following.kind == "row" and following.context.startswith(f"{unit.context} ")
        )
        first = bool(unit.context) and (i == 0 or units[i - 1].context != unit.context)
        if following.context and not same:
            heading = following.context  # the line over the next heading
        elif first and same:
            heading = unit.context  # the first line under its heading
            _stamp(out, i, unit, mentions)
        else:
            continue
        text = f"{heading} ({unit.text.strip().rstrip('.')})"
        out[i] = dataclasses.replace(unit, text=text, context=heading)
    return out


def _is_label(unit: Unit, mentions: Sequence[DateMention]) -> bool:
    """The unit is a date and at most ``label_words`` other words."""
    dates = unit_dates(unit, mentions)
    return bool(dates) and words_besides(unit.text, dates) <= PARAMS.timeline.label_words


def _stamp(out: list[Unit], at: int, label: Unit, mentions: Sequence[DateMention]) -> None:
    """The undated items or rows of the list or table right after a dated first line under a
    heading take its date (rewritten in ``out``): the line dates the whole block."""
    block = -1
    for j in range(at + 1, len(out)):
        unit = out[j]
        if unit.context != label.context and unit.kind == "sentence":
            return
        if unit.kind not in {"item", "row"} or block not in {-1, unit.block}:
            return
        block = unit.block
        if not unit_dates(unit, mentions):
            stamp = label.text.strip().rstrip(".")
            out[j] = dataclasses.replace(unit, text=f"{unit.text.rstrip(' .')} ({stamp})")


def _label(row: Unit) -> str:
    """A table row's first cell (``split_units`` writes a row as "first: rest")."""
    return _norm(row.text.split(":", 1)[0])


def _is_date(cell: str, mentions: Sequence[DateMention]) -> bool:
    """The cell is a date or period and little else ("c. 2022", "July 2024 - June 2025")."""
    found = [m for m in mentions if _norm(m.text) in cell]
    for mention in found:
        cell = cell.replace(_norm(mention.text), " ")
    return bool(found) and len(_WORD.findall(cell)) <= 2


def same_series(
    chosen: Sequence[Unit], units: Sequence[Unit], passages: Sequence[Passage]
) -> list[Unit]:
    """The chosen units plus the rows of their tables that give the same figure at another
    date: every row of a table keyed by date ("2023 | about 80 | about 2,500"), or the rows
    with the same first cell ("Laboratories | 37 | c. 2022"). A row rarely repeats the words
    of the question that its table's header or its neighbour holds; it takes the score of the
    row that brought it. A series is a figure's values: a row stating no number besides its
    dates (a table of history, "2024 | The new centre is completed") brings and joins none."""
    mentions = _mentions(passages)
    ids = {id(u) for u in chosen}
    extra: list[Unit] = []
    for unit in chosen:
        dates = mentions[unit.passage]
        if unit.kind != "row" or not _states_figure(unit, dates):
            continue
        keyed_by_date = _is_date(_label(unit), dates)
        for other in units:
            if (
                id(other) in ids
                or other.kind != "row"
                or (other.passage, other.block) != (unit.passage, unit.block)
            ):
                continue
            same = _is_date(_label(other), dates) if keyed_by_date else (
                _label(other) == _label(unit)
            )  # fmt: skip
            if same and _states_figure(other, dates):
                ids.add(id(other))
                extra.append(dataclasses.replace(other, score=unit.score))
    return [*chosen, *extra]


def _states_figure(unit: Unit, mentions: Sequence[DateMention]) -> bool:
    """The unit states a number besides its dates ("2021: 70, about 2,000")."""
    return _has_figure(_Dated(unit, unit_dates(unit, mentions)))


def _events_table(events: Sequence[_Dated], units: Sequence[Unit]) -> list[Unit]:
    """The other rows and items of the tables and lists an event was found in: a table of
    events is one answer, and its rows rarely repeat the words of the question. (A table
    whose relevant row is a dated figure, not an event, adds nothing.)"""
    blocks = {(d.unit.passage, d.unit.block) for d in events if d.unit.kind in {"row", "item"}}
    ids = {id(d.unit) for d in events}
    return [
        u for u in units
        if id(u) not in ids and u.kind in {"row", "item"} and (u.passage, u.block) in blocks
    ]  # fmt: skip


def _mentions(passages: Sequence[Passage]) -> list[list[DateMention]]:
    """The stored dates of each passage (by passage index)."""
    return [decode(p.dates) for p in passages]


def _dated(
    units: Sequence[Unit],
    passages: Sequence[Passage],
    headed: bool = False,
    open_periods: bool = False,
) -> list[_Dated]:
    """The units stating a date; with ``headed``, an undated unit under a heading that states
    one ("## Key figures - update of 15 March 2026", "### 2019") is dated by its heading; with
    ``open_periods``, the start of an open period ("since 2017") dates its unit too."""
    mentions = _mentions(passages)
    out = []
    for unit in units:
        dates = unit_dates(unit, mentions[unit.passage], open_periods)
        if not dates and headed:
            dates = heading_dates(unit, mentions[unit.passage])
        if dates:
            out.append(_Dated(unit, dates))
    return out


def heading_dates(unit: Unit, mentions: Sequence[DateMention]) -> list[DateMention]:
    """The dates of a passage stated by the unit's local heading (its context)."""
    context = _norm(unit.context)
    return [m for m in mentions if context and _norm(m.text) in context and m.relation != "since"]


def _marked(unit: Unit, note: str) -> Unit:
    return dataclasses.replace(unit, text=f"{unit.text.rstrip(' .')} ({note})")


def _with_status(unit: Unit, key: str, when: DateMention, language: str) -> Unit:
    """A dated unit marked "past" or "upcoming" (``key``) with its date, or without it when the
    unit states that date itself ("28 settembre 2009 – inaugurazione (già passato)")."""
    if _norm(when.text) in _norm(unit.text):
        return _marked(unit, _t(language, f"{key}_stated"))
    return _marked(unit, _t(language, key, when=when.text))


def _dated_as_of(unit: Unit, when: DateMention, language: str) -> Unit:
    """A figure's unit with the date it is stated at, unless the unit already closes with that
    date ("... 18,000 people (figure from around 2024).": said once, not twice)."""
    if re.search(rf"{re.escape(when.text)}\W*$", unit.text):
        return unit
    return _marked(unit, _t(language, "as_of", when=when.text))


@dataclasses.dataclass
class Timed:
    """A time-aware answer: an opening line, units to quote, older figures, a closing note."""

    opening: str
    units: list[Unit]
    older: list[Unit] = dataclasses.field(default_factory=list)
    older_lead: str = ""
    closing: str = ""
    as_list: bool = False


def answer(
    question: str,
    passages: Sequence[Passage],
    language: str,
    stats: TermStats,
    similarity: Similarity | None,
    today: date,
    params: Params = PARAMS,
    context: str = "",
) -> Timed | None:
    """The time-aware answer to an upcoming or current question, or to a list of the events
    already held; None for the normal path. ``context`` is a follow-up's earlier user turns: a
    "now" follow-up ("e chi lo dirige adesso?") is answered from the units about what they
    name (``_about``), when some answer."""
    if not answers(question):
        return None  # a question of several parts, or a planned sum: the selector's
    intent = time_intent(question)
    role = role_asked(question)
    if role is not None and passages and (intent == "current" or (intent == "" and role[1])):
        # "who is the director of X?": the units stating a holder of the role, not the latest
        # dated unit that mentions X (None: the normal answer)
        units = _score(question, passages, language, stats, similarity, params)
        if context:  # a follow-up: the holder of the role of what the earlier turns name
            units = _about(units, passages, context)
        return _holder(role[0], units, passages, today, language, params.timeline)
    held = _asks_held(question)
    implicit = implicit_current(question)
    if (intent not in {"upcoming", "current"} and not held and not implicit) or not passages:
        return None
    # Both refusals are decided by the question alone, before any unit is scored.
    if intent == "upcoming" and _ASKS_WHEN.search(question) and not _NEXT.search(question):
        return None  # "when will the works start?": the normal answer, dates marked
    if (intent == "current" or implicit) and asks_for_list(question):
        return None  # "which start-ups are on campus now?" is a list, not one figure
    units = _score(question, passages, language, stats, similarity, params)
    scored = [u for u in units if u.score > 0]
    if intent == "current" or implicit:
        # who or what holds now is asked of the follow-up's subject, not of whatever holds a
        # role now (the park's director for "who runs it now?" after an institute's move)
        scored = _about(scored, passages, context)
    every = not scored and (intent == "upcoming" or held) and asks_calendar(question)
    if every:
        # "what's on next month?" has no topic words to score by: every event answers it,
        # an event being a day's (a month is as often a page's stamp, "Revisione: novembre")
        scored = [u for u in units if _day_event(u, passages)]
    if not scored:
        return None
    best = max(u.score for u in scored)
    limits = params.timeline
    if held or intent == "upcoming":
        wide = [u for u in scored if u.score >= limits.upcoming_relevant * best]
        events = [d for d in _dated(wide, passages) if d.event_dates()]
        if not held:
            events += _close_coming(question, units, events, passages, today, similarity, params)
        events += [d for d in _dated(_events_table(events, units), passages) if d.event_dates()]
        if every:  # the rows and items brought by a day's event must be a day's event too
            events = [d for d in events if _day_event(d.unit, passages)]
        languages = [p.language for p in passages]
        period = window(question, today, stated=held)
        if held:
            return _held(events, language, today, limits, languages, period)
        only_next = bool(_ONE_NEXT.search(question)) and period is None
        asked = _Asked(only_next, period, bool(_COUNT.search(question)))
        return _upcoming(events, language, today, limits, languages, asked)
    relevant = [u for u in scored if u.score >= limits.relevant * best]
    counted = implicit or bool(_COUNT.search(question))
    # Who or what holds now ("who is the director at the moment?"): a state stated as an
    # open period ("since 2017", "2017–present") still holds; a count's "since 2009" is
    # where a cumulative figure starts counting, not how things stand.
    dated = _dated(
        same_series(relevant, units, passages), passages, headed=True, open_periods=not counted
    )
    dated = [step for d in dated for step in steps(d)]  # "1,900 → 3,000, 2020 → 2026"
    noun = _counted_noun(question) if counted else ""
    # "In 2026: 85. In 2024: 82.": each sentence by its own date; of a count, the sentences
    # counting what is asked (the whole item's score came from them), when some do
    dated = [one for d in dated for one in _counting(own_sentences(d), noun)]
    if implicit:  # with no time word, only the units counting what is asked
        dated = [d for d in dated if noun and counts(d.unit, noun)]
    measure = _measure_types(question)
    if measure or noun:
        # the latest figure of another quantity is no answer: a size or a sum is a figure with
        # its unit, a count one of the noun asked (by its term, or its e5 closeness)
        dated = _measuring(dated, question, noun, measure, similarity, limits)
        if not dated:
            return None
    holding = not _LATEST.search(question)
    return _current(
        dated,
        language,
        today,
        best,
        limits,
        counted=counted,
        implicit=implicit,
        holding=holding,
    )


def _names_role(text: str, role: Role, english: bool = False) -> bool:
    """The text names the role as X's (``_role_spots``)."""
    return bool(_role_spots(text, role, english))


def _role_spots(text: str, role: Role, english: bool = False) -> list[tuple[int, int]]:
    """Where the text names the role as X's: a form of it not followed by an "of"-phrase
    naming someone else ("il presidente della Repubblica" is not X's president), nor, in
    English, after a noun qualifying it ("marketing director" is another role; a determiner, a
    possessive or the start of the text leave it as asked); or, for a head's role, a verb of
    leading ("has chaired the consortium", "guidato da", "alla guida di", ``_LEADS``)."""
    stop = stop_words()
    spots = []
    for found in _WORD.finditer(text):
        if found.group(0).casefold() not in role.forms:
            continue
        before = re.search(r"\b([a-z][\w'’]*)\s+$", text[: found.start()])  # "marketing director"
        if (
            english
            and before
            and not (fold(before.group(1)) in stop or before.group(1).endswith(("'s", "’s")))
        ):
            continue
        whose = _OF_PHRASE.match(text, found.end())
        if whose is None or not role.subject or whose.group(1).casefold() in role.subject:
            spots.append(found.span())
    if role.forms & _HEAD_FORMS:
        for found in _LEADS.finditer(text):
            # a verb of leading in general ("led by") states a head only when the question
            # asks for any head ("who leads X?"), a verb naming a role when it is the role asked
            named = _verb_role(found.group(0))
            heads = {f for h in _HEAD_ROLES[named] for f in _role_forms(h)} if named else set()
            if role.forms & heads or (not named and role.forms == _HEAD_FORMS):
                spots.append(found.span())
    return sorted(spots)


# A verb of leading as pages state a head's role ("has chaired", "leads", "guidato da", "alla
# guida di", "presieduta da"): the role of any head of X (``_HEADS``).
_LEADS = re.compile(
    r"\b(?:chairs|chaired|leads|led|heads|headed|runs|ran|directs|directed|"
    r"alla\s+guida|guidat[oaie]\s+da|dirige|dirigeva|dirett[oaie]\s+da|presiede|presiedeva|"
    r"presiedut[oaie]\s+da|coordina|coordinava|coordinat[oaie]\s+da)\b",
    re.I,
)
# A role stated as closed: "former", "ex", "the then", "l'allora", "previous" before it;
# "later", "until", "poi", "in seguito", "fino al" after it (the next role, or its end).
_CLOSED_BEFORE = re.compile(
    r"\b(?:former|formerly|ex|then|previous|previously|past|allora|precedente)"
    r"[\s-]+(?:[\w'’-]+\s+)?$",
    re.I,
)
_CLOSED_AFTER = re.compile(
    r"\b(?:later|until|till|subsequently|afterwards|poi|in\s+seguito|successivamente|"
    r"fino\s+al?)\b",
    re.I,
)


def closed_role(
    unit: Unit, role: Role, when: DateMention | None, today: date, english: bool = False
) -> bool:
    """The unit states a holder whose period of the role is over: every place it names the
    role is marked closed (``_CLOSED_BEFORE``, ``_CLOSED_AFTER``: "former president", "also
    president of X; later director of Y"), or its date is a period ended before today or an
    end ("until 2019")."""
    if when is not None and (
        when.relation == "until"
        or (when.relation != "since" and when.precision == "period" and when.end < today)
    ):
        return True
    spots = _role_spots(unit.text, role, english)
    return bool(spots) and all(
        _CLOSED_BEFORE.search(unit.text[:start]) or _CLOSED_AFTER.search(unit.text[end:])
        for start, end in spots
    )


_OF_PHRASE = re.compile(rf"\s+{_OF}\s*(?:(?:the|il|la|lo|i|gli|le)\s+|l['’]\s*)?([^\W\d_]+)", re.I)


def _person_names(text: str, role: Role) -> set[str]:
    """The names of people in a text: two capitalised words or more in a row, less function
    words, the role's forms and the words naming X ("Il Presidente" is no name)."""
    stop = stop_words()
    out = set()
    for found in _NAME.finditer(text):
        words = [
            w for w in found.group(0).split()
            if fold(w) not in stop and w.casefold() not in role.forms
            and w.casefold() not in role.subject
        ]  # fmt: skip
        if len(words) >= 2:
            out.add(" ".join(words))
    return out


def states_holder(unit: Unit, role: Role, title: str, language: str = "") -> bool:
    """The unit states a holder of the role: its text names the role as X's, a person's name
    is in its text or (a sentence's, an item's) heading (a row's first cell is in its text;
    its context also holds its table's header), and every term of X, when the question names
    X by more than the site's names, is in its text, its heading or its page's title (a unit
    that only mentions X is no answer to who holds a role of X)."""
    if not _names_role(unit.text, role, english=language == "en"):
        return False
    heading = unit.context if unit.kind != "row" else ""
    if not _person_names(f"{unit.text}\n{heading}", role):
        return False
    return role.subject_terms <= set(terms(f"{unit.text} {unit.context} {title}"))


def _holder(
    role: Role,
    units: Sequence[Unit],
    passages: Sequence[Passage],
    today: date,
    language: str,
    limits: TimelineParams,
) -> Timed | None:
    """Who holds the role on ``today``: of the units stating a holder (``states_holder``),
    the one whose state is the latest known on today (an open period, "since 2017", holds
    today; a closed one held until its end; a dated report, from its date; an undated present
    statement, "X is the president", as of its page's latest date, unless its page reports
    what came after today; an undated past one, "the president X attended", is the oldest),
    led by its heading when the name is there; then the earlier holders stated, as former.
    None (the normal answer) when no unit states a holder or none states one at a date (which
    holder is current then depends on no date)."""
    mentions = _mentions(passages)
    ranked: list[tuple[bool, date, float, Unit, DateMention | None]] = []
    dated_any = False
    for unit in units:
        passage = passages[unit.passage]
        if not states_holder(unit, role, passage.title, passage.language):
            continue
        stated = mentions[unit.passage]
        dates = unit_dates(unit, stated, open_periods=True) or heading_dates(unit, stated)
        dated_any = dated_any or bool(dates)
        if stated_later(unit, stated, today):
            continue
        known = [m for m in dates if m.start <= today]
        when: DateMention | None = None
        if known:
            when = max(known, key=lambda m: _state_as_of(m, today))
            as_of = _state_as_of(when, today)
        elif dates:
            continue  # a state not yet begun on today
        elif _PAST_TENSE.search(unit.text) or _TOLD_PAST.search(unit.text):
            as_of = date.min  # "all'inaugurazione hanno partecipato il presidente X"
        elif reports_later(passages[unit.passage], unit.passage, today):
            continue  # its page's present is after today
        else:
            as_of = max((m.start for m in stated if m.start <= today), default=date.min)
        # a holder whose period is over ("former", "later ...", "until 2019") is current only
        # when no other holder is stated
        open_ = not closed_role(unit, role, when, today, passage.language == "en")
        ranked.append((open_, as_of, unit.score, known_part(unit, stated, today), when))
    if not dated_any or not ranked:
        return None
    ranked.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
    open_, as_of, _, best, when = ranked[0]

    def named(unit: Unit) -> set[str]:
        return _person_names(f"{unit.text}\n{unit.context if unit.kind != 'row' else ''}", role)

    held_by = named(best)
    current = [_holder_line(best, when, language, role)]
    if role.forms == _HEAD_FORMS:
        # "who leads X now?" asks for each head: the current holder of each head's role
        # stated (the president and the director), each the latest of its role
        english = passages[best.passage].language == "en"
        heads = {_head_of(best, role, english)}
        for other_open, _, _, unit, other_when in ranked[1:]:
            head = _head_of(unit, role, passages[unit.passage].language == "en")
            if other_open and head and head not in heads and not named(unit) & held_by:
                heads.add(head)
                held_by |= named(unit)
                current.append(_holder_line(unit, other_when, language, role))
    older: list[Unit] = []
    for other_open, other_as_of, _, unit, other_when in ranked[1:]:
        names = named(unit)
        no_older = (other_open, other_as_of) >= (open_, as_of)
        if no_older or names & held_by or len(older) >= limits.max_older:
            continue  # the same holder, or one no older
        held_by |= names
        older.append(_holder_line(unit, other_when, language, role))
    return Timed("", current, older, _t(language, "former") if older else "")


def _head_of(unit: Unit, role: Role, english: bool) -> str:
    """The head's role the unit states ("chair" for "il presidente X", "director" for "X
    directs the park"); "" when only a verb of leading in general states it."""
    for start, end in _role_spots(unit.text, role, english):
        head = head_role(unit.text[start:end])
        if head:
            return head
    return ""


def _state_as_of(mention: DateMention, today: date) -> date:
    """How late a date states a role's holder: an open period holds today, a closed one until
    its end, any other date from its start."""
    if mention.relation == "since":
        return today
    return min(mention.end, today) if mention.precision == "period" else mention.start


def _holder_line(unit: Unit, when: DateMention | None, language: str, role: Role) -> Unit:
    """A holder's unit as quoted: led by its heading when the name is only there, with its
    date when only its heading states it (an open period is no date to give: it holds)."""
    if not _person_names(unit.text, role):
        unit = _headed(unit)
    if when is None or when.relation == "since" or _norm(when.text) in _norm(unit.text):
        return unit
    return _marked(unit, _t(language, "as_of", when=when.text))


# The steps of a series written with arrows ("about 1,900 → about 3,000").
_ARROW = re.compile(r"\s*(?:→|⟶|➔|->)\s*")


def _about(units: Sequence[Unit], passages: Sequence[Passage], context: str) -> list[Unit]:
    """The units about what a follow-up's earlier turns (``context``) name, in their words,
    heading, lead-in or page title (``extractive.about_terms``); all of them when the turns
    name nothing or no unit is about it."""
    subject = subject_terms(context)
    about = [u for u in units if subject & about_terms(u, passages)] if subject else []
    return about or list(units)


def steps(dated: _Dated) -> list[_Dated]:
    """A row stating how a figure changed as two series of the same length, its values and
    their dates ("People working on campus: about 1,900 → about 3,000, c. 2020 → January
    2026"): one unit per step, each value with the date in the same place ("People working on
    campus: about 1,900, c. 2020"). Dated as a whole, the row was as new as its last date,
    and at an earlier today it was set aside as speaking of what came later. Any other unit
    is returned as it is."""
    label, colon, rest = dated.unit.text.partition(": ")
    cells = [c for c in (rest if colon else label).split(", ") if c.strip()]
    series = [_ARROW.split(c) for c in cells if _ARROW.search(c)]
    if len(series) != 2 or len(series[0]) != len(series[1]):
        return [dated]

    def when(cell: str) -> list[DateMention]:
        return [m for m in dated.dates if _norm(m.text) in _norm(cell)]

    values, times = series
    if not all(when(t) for t in times):
        values, times = times, values  # the dates first: "2023 → 2026, 80 → 85"
    if not all(when(t) for t in times) or any(when(v) for v in values):
        return [dated]
    head = f"{label}: " if colon else ""
    return [
        _Dated(dataclasses.replace(dated.unit, text=f"{head}{v}, {t}"), when(t))
        for v, t in zip(values, times, strict=True)
    ]


def own_sentences(dated: _Dated) -> list[_Dated]:
    """A list item of several sentences, each stating its own date ("In January 2026 the
    park hosted 85 companies. In 2024 there were 82."), as one unit per sentence dated by its
    own dates: dated as a whole, the item was as new as its latest date, and at an earlier
    today it was set aside as speaking of what came later (with it the older sentence, which
    answers then). An undated sentence goes with the dated one before it (or, first, after
    it), and so does a piece of fewer than three words (an abbreviation's cut: "650 (c." /
    "2022)"). A unit with fewer than two dated sentences is returned as it is (a table row's
    cells are values, not sentences: "580 (2021); 650 (c. 2022)" is one series)."""
    parts: list[str] = []
    for part in split_sentences(dated.unit.text) if dated.unit.kind == "item" else []:
        if parts and len(_WORD.findall(part)) < 3:
            parts[-1] = f"{parts[-1]} {part}"
        else:
            parts.append(part)

    def own(text: str) -> list[DateMention]:
        return [m for m in dated.dates if _norm(m.text) in _norm(text)]

    if sum(1 for part in parts if own(part)) < 2:
        return [dated]
    groups: list[list[str]] = []
    pending: list[str] = []  # undated sentences before the first dated one
    for part in parts:
        if own(part):
            groups.append([*pending, part])
            pending = []
        elif groups:
            groups[-1].append(part)
        else:
            pending.append(part)
    texts = [" ".join(group) for group in groups]
    return [_Dated(dataclasses.replace(dated.unit, text=t), own(t)) for t in texts]


def _counting(parts: list[_Dated], noun: str) -> list[_Dated]:
    """The sentences of one item (``own_sentences``) that count ``noun``, when some do."""
    if len(parts) < 2 or not noun:
        return parts
    return [d for d in parts if counts(d.unit, noun)] or parts


def _measure_types(question: str) -> list[re.Pattern[str]]:
    """What an answering figure holds when the question asks for a size or a sum ("how big
    is it today?", "quanto è grande oggi?"): the evidence of its answer types
    (``scoring.ANSWER_TYPES``) that a bare number does not match; none for other questions."""
    if not asks_measure(question):
        return []
    return [e for e in answer_types(question) if not e.search("13,000")]


def _measuring(
    dated: Sequence[_Dated],
    question: str,
    noun: str,
    measure: Sequence[re.Pattern[str]],
    similarity: Similarity | None,
    limits: TimelineParams,
) -> list[_Dated]:
    """The dated units whose figure measures what the question asks. For a size or a sum, a
    figure with its unit (``measure``: "6,000 m²", "150 million euro"). For a count, a unit
    stating a count (a number, not a date, a share, a size, a sum or a duration: "91% of the
    shares" is none, however late its date) that is of the counted ``noun``: the noun is
    named in it (its text, its label, a row's table header), or each count it states is a
    bare value ("2023: about 80", "erano 75"), or the words of one of its counts are close
    in meaning to the question's word for it (e5 cosine of the short phrases,
    ``limits.noun_close``); a count of something else ("about 25 people" for a number of
    companies, "600 technicians") is not."""
    if measure:
        return [d for d in dated if any(e.search(_untimed(d.unit).text) for e in measure)]
    found = [(d, _count_words(d)) for d in dated]
    found = [(d, words) for d, words in found if words]  # it states a count

    def direct(d: _Dated, words: list[str]) -> bool:
        unit = d.unit
        named = noun in terms(unit.text) or (unit.kind == "row" and noun in terms(unit.context))
        return named or all(not w for w in words)

    phrases = sorted({w for d, words in found if not direct(d, words) for w in words if w})
    close: set[str] = set()
    if similarity is not None and phrases:
        cosines = similarity(_counted_word(question, noun), phrases)
        close = {p for p, c in zip(phrases, cosines, strict=True) if c >= limits.noun_close}
    return [d for d, words in found if direct(d, words) or close & set(words)]


def _counted_word(question: str, noun: str) -> str:
    """The question's own word for what it counts ("labs" in "how many labs ...?")."""
    cue = _AMOUNT.search(question)
    for word in _WORD.findall(question[cue.end() :] if cue else question):
        if terms(word) == [noun]:
            return word
    return noun


# A number (not a year) and what follows it; a share, a size, a sum or a duration is no count.
_NUMBER = re.compile(r"(?<![\w.,€$])(?!(?:19|20)\d\d\b)\d(?:[\d.,]*\d)?")
_NOT_COUNT = re.compile(
    r"\s?(?:%|per\s*cent|m²|m2\b|mq\b|sq\b|square|hectares?\b|ettari\b|km\b|metres?\b|"
    r"meters?\b|metri\b|€|eur\b|euros?\b|milion|million|billion|miliard|years?\b|anni\b|"
    r"months?\b|mesi\b|storeys\b|floors\b|piani\b)",
    re.I,
)
# A number in a name: after a capitalised word or closing a quoted one ("JOiiNT LAB 2.0”").
_IN_NAME = re.compile(r"\b[A-Z][\w'’-]*\s+$|[”\"’»]$")
_PARTITIVE_OF = re.compile(
    r"^(?:of|di|dei|degli|delle|tra|fra)\s+(?:(?:the|i|gli|le|its|their|suoi|loro)\s+)?", re.I
)


def _count_words(dated: _Dated) -> list[str]:
    """The counts a unit states, each as its own words: up to three words after the number,
    past a partitive ("700 of Brembo's employees" counts employees), '' for a bare value
    (followed by punctuation or a function word: "82, After ...", "75 e nel 2024"), or its
    label's words when it has one ("People on campus: 1,900"). Its dates and numbers followed
    by a unit of share, size, sum or time are not counts."""
    text = _untimed(dated.unit).text
    for mention in dated.dates:
        text = text.replace(mention.text, " ")
    # "People working on campus: about 1,900": a bare value counts what its label names
    label, colon, rest = text.partition(":")
    label = label.strip(" -–(),.") if colon and _WORD.search(label) else ""
    stop = stop_words()
    out = []
    for number in _NUMBER.finditer(text):
        if label and number.start() < len(label):
            continue  # a number inside the label
        after = text[number.end() :]
        if _NOT_COUNT.match(after) or _IN_NAME.search(text[: number.start()] + after[:1]):
            continue
        rest = _PARTITIVE_OF.sub("", after.lstrip()) if after[:1].isspace() else ""
        words = re.match(r"((?:[^\W\d_][\w'’-]*[ \t]*){1,3})", rest)
        kept: list[str] = []
        for word in words.group(1).split() if words else []:
            if fold(word) in stop:
                break
            kept.append(word)
        out.append(" ".join(kept) or label)
    return out


def _day_event(unit: Unit, passages: Sequence[Passage]) -> bool:
    """The unit states a day's date and names something besides it (not a bare "12 ottobre
    2025" line)."""
    dates = unit_dates(unit, decode(passages[unit.passage].dates))
    return any(m.precision == "day" for m in dates) and words_besides(unit.text, dates) > 0


def _counted_noun(question: str) -> str:
    """What a count or amount question counts: its first term after "how many" / "quanti"."""
    cue = _AMOUNT.search(question)
    found = terms(question[cue.end() :])[:1] if cue else []
    return found[0] if found else ""


# A number standing alone (not a year, not part of a name: "LAB 2.0” event") and the three
# words after it ("1,150 people", "58 resident companies").
_NUMBER_WORDS = re.compile(
    r"(?<![\w.,])(?!(?:19|20)\d\d\b)\d[\d.,]*\s+((?:[^\W\d_][\w'’-]*\s*){1,3})"
)


def counts(unit: Unit, noun: str) -> bool:
    """The unit states a number of ``noun``: a label naming it with a number after it
    ("Labs and offices: 36,000 m²", "Events per year: 150"), or the noun among the three
    words after a number ("the park counts 52 companies", "23 patent applications")."""
    label, colon, rest = unit.text.partition(":")
    if colon and noun in terms(label) and any(c.isdigit() for c in rest):
        return True
    return any(noun in terms(m.group(1)) for m in _NUMBER_WORDS.finditer(unit.text))


def _headed(unit: Unit) -> Unit:
    """A sentence or list item led by its heading when it does not name it: "Director since
    1 October 2017" under "## Anna Rossi – director" says whose state it is."""
    if unit.kind not in {"sentence", "item"} or not unit.context:
        return unit
    if _norm(unit.context) in _norm(unit.text):
        return unit
    return dataclasses.replace(unit, text=f"{unit.context}: {unit.text}")


def _named(unit: Unit) -> Unit:
    """A sentence listed as an event, led by its heading when the sentence does not name it
    ("Kilometro Rosso Open Labs: On 11 October 2025, ..."): the heading is the event's name."""
    if unit.kind != "sentence" or not unit.context or _norm(unit.context) in _norm(unit.text):
        return unit
    if len(_WORD.findall(unit.text)) <= PARAMS.timeline.label_words:
        return unit  # a bare date line ("Friday 4 December 2026, 09:30") names the next heading
    return dataclasses.replace(unit, text=f"{unit.context}: {unit.text}")


def _close_coming(
    question: str,
    units: Sequence[Unit],
    events: Sequence[_Dated],
    passages: Sequence[Passage],
    today: date,
    similarity: Similarity | None,
    params: Params,
) -> list[_Dated]:
    """Units stating an event not over on ``today`` that are close in meaning to the question
    among such units (``TimelineParams.coming_close``): a row "9 April 2027 | Spring
    hackathon" shares no word with "what events are coming up?", but a question about open
    days still sets the open days apart from the lectures."""
    if similarity is None:
        return []
    taken = {id(d.unit) for d in events}
    coming = [
        d for d in _dated([u for u in units if id(u) not in taken], passages) if d.coming(today)
    ]
    if not coming:
        return []
    closeness = semantic_scores(
        similarity(question, [embedding_text(d.unit) for d in coming]),
        params.scoring.semantic_band,
    )
    return [d for d, c in zip(coming, closeness, strict=True) if c >= params.timeline.coming_close]


@dataclasses.dataclass(frozen=True)
class _Asked:
    """What an upcoming question asks besides the coming events: the first one only, those of
    a period ("next month"), or how many there are."""

    only_next: bool
    window: Window | None
    count: bool


def _upcoming(
    dated: list[_Dated],
    language: str,
    today: date,
    limits: TimelineParams,
    languages: Sequence[str],
    asked: _Asked,
) -> Timed | None:
    """Events not over on ``today``, in date order (only the first date's for "the next
    event"; only those of the period asked, "next month"; counted for "how many"); or say
    plainly that none is announced. An event in another language with the same dates as one
    in the asker's language is its translation, and is left out."""
    day = today.isoformat()
    period = asked.window
    if not dated:  # nothing dated answers it ("the next bus"): the normal answer
        if period is None:
            return None
        return Timed(_t(language, "none_in", window=period.words, today=day), [])

    def start(d: _Dated) -> date:
        return min(m.start for m in d.coming(today))

    ahead = sorted((d for d in dated if d.coming(today)), key=lambda d: (start(d), -d.unit.score))
    ahead = _untranslated(ahead, lambda d: d.coming(today), language, languages)
    if ahead and asked.only_next:
        first = start(ahead[0])
        ahead = [d for d in ahead if start(d) == first]
    if period is not None:
        inside = [d for d in ahead if period.holds(d.coming(today))]
        if not inside:
            opening = _t(language, "none_in", window=period.words, today=day)
            if not ahead:  # nothing coming at all: the latest held, as with no period
                return _last_held(dated, language, opening)
            nxt = ahead[0]
            when = min(nxt.coming(today), key=lambda m: m.start)
            marked = _with_status(_named(nxt.unit), "ahead", when, language)
            return Timed(f"{opening} {_t(language, 'then')}", [marked])
        ahead = inside
    if ahead:
        units = _unique([_named(d.unit) for d in ahead])[: limits.max_events]
        key = ("count" if asked.count else "upcoming") + ("_in" if period else "")
        words = period.words if period else ""
        opening = _t(language, key, today=day, n=str(len(units)), window=words)
        return Timed(opening, units, as_list=True)
    return _last_held(dated, language, _t(language, "none", today=day))


def _last_held(dated: Sequence[_Dated], language: str, opening: str) -> Timed:
    """The opening saying that none is announced, then the latest event, marked as past."""
    last = max(dated, key=lambda d: (max(m.end for m in d.event_dates()), d.unit.score))
    when = max(last.event_dates(), key=lambda m: m.end)
    return Timed(
        f"{opening} {_t(language, 'last')}", [_with_status(last.unit, "past", when, language)]
    )


def _untranslated(
    dated: list[_Dated],
    dates_of: Callable[[_Dated], list[DateMention]],
    language: str,
    languages: Sequence[str],
) -> list[_Dated]:
    """The events less those in another language whose dates (``dates_of``) are one's in the
    asker's language: such an event is its translation. ``languages`` is each passage's."""

    def lang(d: _Dated) -> str:
        return languages[d.unit.passage] if d.unit.passage < len(languages) else language

    own = {(m.start, m.end) for d in dated if lang(d) == language for m in dates_of(d)}
    return [
        d for d in dated
        if lang(d) == language or not {(m.start, m.end) for m in dates_of(d)} & own
    ]  # fmt: skip


def _held(
    dated: list[_Dated],
    language: str,
    today: date,
    limits: TimelineParams,
    languages: Sequence[str],
    period: Window | None,
) -> Timed | None:
    """Events over on ``today`` (in the period asked, "this year"), in date order, each marked
    as past; an event in another language with the same dates as one in the asker's language
    is its translation, and is left out."""
    day = today.isoformat()

    def over(d: _Dated) -> list[DateMention]:
        return [m for m in d.event_dates() if m.end < today]

    done = [d for d in dated if over(d) and not d.coming(today)]
    if period is not None:
        done = [d for d in done if period.holds(over(d))]
    if not done:
        if period is None:
            return None
        return Timed(_t(language, "held_none", window=period.words, today=day), [])
    done.sort(key=lambda d: (max(m.end for m in over(d)), -d.unit.score))
    done = _untranslated(done, over, language, languages)
    units = _unique([_named(d.unit) for d in done])[: limits.max_events]
    key = "held_in" if period else "held"
    opening = _t(language, key, today=day, window=period.words if period else "")
    return Timed(opening, units, as_list=True)


def _current(
    dated: list[_Dated],
    language: str,
    today: date,
    best: float,
    limits: TimelineParams,
    counted: bool = False,
    implicit: bool = False,
    holding: bool = True,
) -> Timed | None:
    """The latest figure at ``today`` with its date, then older differing ones. An open
    period ("since 2017") states a state that holds today, a closed one ("2016–2022") one that
    held until its end; with ``holding`` false (the latest arrival, not who holds now) an open
    period counts from its start. ``counted``
    (a count or amount asked): a unit stating a number wins over dated words without one
    ("Elettrica Pergolesi left in June 2024" is no count of companies). ``implicit`` (no
    time marker in the question): answered only when the sources state the figure at two
    dates or more, or at a date after today (which the normal answer would quote as if
    known), or when the latest is the question's best unit (its date is then said); else
    None, for the normal answer."""
    # Figures dated on or before today, close enough to the best answer to be about the
    # same thing (the latest of some other figure is not the answer).
    floor = limits.current_relevant * best
    close = [d for d in dated if d.unit.score >= floor]
    known = [d for d in close if d.before(today)]
    if counted and any(_has_figure(d) for d in known):
        known = [d for d in known if _has_figure(d)]
    if not known:
        return None

    def as_of(m: DateMention) -> date:
        # An open period ("since 2017", "2017–present") states how things stand today; a
        # closed one ("2012-2023", "July 2024 - June 2025") how they stood until its end (or
        # today); a day, month or year, from its start.
        if m.relation == "since":
            return today if holding else m.start
        return min(m.end, today) if m.precision == "period" else m.start

    def stated(d: _Dated) -> date:
        return max(as_of(m) for m in d.before(today))  # the latest it states up to today

    def key(d: _Dated) -> tuple[bool, date, float]:
        # A unit that also states a later date ("82 in 2024, 85 in January 2026" seen in
        # 2025) speaks of what has not happened yet: it comes after the units that do not.
        return (not d.start_after(today), stated(d), d.unit.score)

    known.sort(key=key, reverse=True)
    latest = known[0]
    if implicit:
        stamps = {stated(d) for d in known if _has_figure(d)}
        later = any(not d.before(today) and _has_figure(d) for d in close)
        if len(stamps) < 2 and not later and latest.unit.score < best:
            return None
    when = max(latest.before(today), key=as_of)
    older: list[Unit] = []
    seen = {_norm(latest.unit.text)}
    # An open state ("director since 2017") is no figure with earlier values.
    for other in known[1:] if when.relation != "since" else []:
        text = _norm(other.unit.text)
        if len(older) >= limits.max_older or text in seen or other.start_after(today):
            continue
        seen.add(text)
        stamp = max(other.before(today), key=as_of)
        if as_of(stamp) >= as_of(when) or not _has_figure(other):
            continue  # the same figure said again, or a dated sentence with no figure
        older.append(_dated_as_of(other.unit, stamp, language))
    closing = ""
    unit = known_part(latest.unit, latest.dates, today)  # "600 in 2010; 700 in 2015" in 2012
    if when.relation == "since":  # a state that still holds: said with its subject, not dated
        first = _headed(unit)
    else:
        first = _dated_as_of(unit, when, language)
        if (today - when.end) > timedelta(days=limits.stale_days):
            closing = _t(language, "stale", when=when.text)
    return Timed(
        "",
        [first],
        older,
        _t(language, "older") if older else "",
        closing,
    )


def render(
    timed: Timed, passages: Sequence[Passage], source_of: Callable[[Passage, int, str], S]
) -> tuple[str, list[S]]:
    """Text with [n] markers (numbered in order of first citation) and its sources."""
    numbers: dict[int, int] = {}
    sources: list[S] = []

    def cite(unit: Unit) -> str:
        if unit.passage not in numbers:
            numbers[unit.passage] = len(numbers) + 1
            sources.append(source_of(passages[unit.passage], numbers[unit.passage], unit.text))
        return f"[{numbers[unit.passage]}]"

    def line(unit: Unit, bullet: bool) -> str:
        text = unit.text.strip()
        text = text if text[-1:] in ".!?)" or bullet else text + "."
        return f"- {text} {cite(unit)}" if bullet else f"{text} {cite(unit)}"

    parts = [timed.opening] if timed.opening else []
    if timed.as_list:
        parts.append("\n".join(line(u, True) for u in timed.units))
    else:
        parts += [line(u, False) for u in timed.units]
    if timed.older:
        parts.append(timed.older_lead + "\n" + "\n".join(line(u, True) for u in timed.older))
    if timed.closing:
        parts.append(timed.closing)
    return "\n\n".join(p for p in parts if p), sources


def mark_past(selection: Selection, passages: Sequence[Passage], today: date, lang: str) -> None:
    """Mark each quoted dated unit as past or upcoming (for questions with a time marker)."""
    mentions = _mentions(passages)
    for g, (index, lead, units) in enumerate(selection.groups):
        marked = []
        for unit in units:
            dates = [d for d in unit_dates(unit, mentions[unit.passage]) if d.precision in
                     {"day", "month", "period"}]  # fmt: skip
            if not dates:
                marked.append(unit)
                continue
            last = max(dates, key=lambda d: d.end)
            key = "past" if last.end < today else "ahead"
            marked.append(_with_status(unit, key, last, lang))
        selection.groups[g] = (index, lead, marked)


# A unit speaking of what is to come: a plan, an expectation, a future tense (grammar, as
# ``_UPCOMING``), so a date after today in it may be known before it.
_AHEAD = re.compile(
    r"\b(will|shall|expected|expects?|planned|plans?|scheduled|upcoming|forthcoming|due\s+to|aims?|"
    r"targets?|goals?|obiettiv[oi]|"
    r"in\s+programma|previst[oaie]|prevede|programmat[oaie]|\w+(?:erà|irà|arà|ranno))\b",
    re.I,
)


# A sentence's simple past: an "-ed" verb before its object's determiner ("opened their
# labs", "discussed a foundation"); before a preposition it is as often a participle
# ("designed by", "expected from").
_TOLD_PAST = re.compile(r"\b[a-z]{3,}ed\s+(?:the|their|its|his|her|our|a|an|this|that)\b", re.I)


# Words for the present of the text itself ("today the institute states 6,000 m²", "oggi",
# "currently"): a clause using one and stating no date speaks as of when its page was written
# ("al momento del trasloco" is "at the time of the move", no present).
_PRESENT = re.compile(
    r"\b(today|now|nowadays|currently|at\s+present|these\s+days|oggi|ad\s+oggi|attualmente|"
    r"adesso|tuttora|al\s+momento(?!\s+d[ie'’])|odiern[oaie])\b",
    re.I,
)


def reports_later(passage: Passage, index: int, today: date) -> bool:
    """The passage reports, as known, something dated after ``today`` (one of its units is
    ``stated_later``): it was written after today, and its present ("oggi", "now") is not
    today's. (An event to come or a plan says nothing of when it was written.)"""
    mentions = decode(passage.dates)
    return any(stated_later(u, mentions, today) for u in split_units(passage, index))


def stated_later(
    unit: Unit,
    mentions: Sequence[DateMention],
    today: date,
    keep_events: bool = False,
    later_page: bool = False,
) -> bool:
    """The unit reports what the sources could not state on ``today``: every date it holds is
    a point or a closed period starting after today (not an open start, "dal 2027", nor a
    deadline, "by 2027", unless a past tense tells the unit as a report of its point date:
    "in September 2023 the partners agreed to invest until 2027"), and it is no announcement:
    it is told in a past tense ("in January 2026 the partners discussed a foundation"), or it
    speaks of nothing to come and is a figure ("Companies: 85, January 2026") or a fact dated
    by more than an event's days ("2024: the centre is completed" seen in 2023). An event to
    come ("Summit – 12-14 May 2026") and a plan ("works expected in 2027") may be known before
    their date. With ``keep_events`` (a question asking whether something is past or to come,
    whose answer marks each date), a unit with an event's date is kept however it is told.
    A unit stating no date but the present of its page ("today the institute states 6,000
    m²") speaks as of when the page was written: after today when ``later_page``
    (``reports_later``)."""
    dates = unit_dates(unit, mentions, open_periods=True)
    told_past = bool(_PAST_TENSE.search(unit.text) or _TOLD_PAST.search(unit.text))
    if not dates:
        # every clause of it speaks of that present (else ``known_part`` cuts the ones that do)
        return later_page and all(_PRESENT.search(c) for c in unit.text.split(";"))
    points = [m for m in dates if not m.relation]
    if any(m.start <= today for m in dates) or not points:
        return False
    if len(points) < len(dates) and not told_past:
        return False
    event = any(
        m.precision in EVENT_PRECISIONS and (m.end - m.start).days <= PARAMS.timeline.event_days
        for m in dates
    )
    if event and keep_events:
        return False
    if told_past:
        return True
    if _AHEAD.search(unit.text):
        return False
    return not event or _has_figure(_Dated(_untimed(unit), dates))


def _untimed(unit: Unit) -> Unit:
    """The unit without its clock times ("09:30"), which are no figure."""
    return dataclasses.replace(unit, text=_CLOCK.sub(" ", unit.text))


_CLOCK = re.compile(r"\b\d{1,2}[:.]\d\d\b(?![.,]?\d)")


def known_part(
    unit: Unit,
    mentions: Sequence[DateMention],
    today: date,
    keep_events: bool = False,
    later_page: bool = False,
) -> Unit:
    """The unit less its clauses (cut at ";") that report what happened after ``today``
    ("about 600 in 2010; about 700 in 2015" seen in 2012 says the first; "5,000 m² at the
    move; today 6,000 m²" seen before its page was written, the first), when a clause is
    left; else the unit as it is."""
    clauses = unit.text.split(";")
    if len(clauses) < 2:
        return unit
    kept = [
        c for c in clauses
        if not stated_later(dataclasses.replace(unit, text=c), mentions, today, keep_events, later_page)
    ]  # fmt: skip
    if not kept or len(kept) == len(clauses):
        return unit
    return dataclasses.replace(unit, text=";".join(kept).strip())


def drop_later(
    selection: Selection, passages: Sequence[Passage], today: date, keep_events: bool = False
) -> None:
    """Leave out of a normal answer the units that report what happened after ``today``
    (``stated_later``), and the clauses that do of the others (``known_part``): asked as of an
    earlier date, the answer must not state them as known. A count of a list's items is left
    whole, and so is a selection that would be left empty (the answer then quotes what it
    would have quoted)."""
    if selection.count:
        return
    mentions = _mentions(passages)
    shown = {u.passage for _, _, units in selection.groups for u in units}
    later = {i: reports_later(passages[i], i, today) for i in shown}
    groups = [
        (
            index,
            lead,
            [
                known_part(u, mentions[u.passage], today, keep_events, later[u.passage])
                for u in units
                if not stated_later(u, mentions[u.passage], today, keep_events, later[u.passage])
            ],
        )
        for index, lead, units in selection.groups
    ]
    kept = [g for g in groups if g[2]]
    if kept:
        selection.groups[:] = kept


def _has_figure(dated: _Dated) -> bool:
    """The unit states a number besides its dates ("2010: 26", "about 3,000 people")."""
    text = _norm(dated.unit.text)
    for mention in dated.dates:
        text = text.replace(_norm(mention.text), " ")
    return any(c.isdigit() for c in text)


def _unique(units: Sequence[Unit]) -> list[Unit]:
    seen: set[str] = set()
    out = []
    for unit in units:
        key = _norm(unit.text)
        if key not in seen:
            seen.add(key)
            out.append(unit)
    return out
