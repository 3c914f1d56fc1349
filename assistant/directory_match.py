"""What a list or count question asks of the partner directory.

A question is one for the directory (``match`` returns a Match) when:

1. it asks for a list or a count (``QUESTION_CUES``: the interrogative forms, EN and IT);
2. its subject is a kind of organisation (``ORGANISATION_WORDS``) and it does not name one
   organisation of the directory (then it asks about that organisation, e.g. "which companies
   support JOiiNT LAB?", and its page answers better);
3. a count must name a filter that matches records (a sector/cluster/building/heading value,
   fuzzily or by embedding similarity across languages: the whole value, or one run of the
   question's words clearly nearer one value than all others; a year) or the directory page itself
   ("how many organisations are in the partner directory?"): an unfiltered "how many
   companies are there?" is left to the figures the site states, since a directory page may
   list only some residents. A list may also be narrowed by a topic word (rare on the site,
   present in some records: "which labs work on robotics?"), or be the whole directory.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from assistant.directory_merge import Organisation, name_aliases, norm
from assistant.params import PARAMS, DirectoryParams
from assistant.terms import stop_words as _stopwords
from ingest.dates import find_dates
from ingest.directory import DirectoryEntry
from vectorstore.patterns import YEAR

log = logging.getLogger(__name__)

# Interrogative forms that ask for a list or a count (grammar, not topics).
QUESTION_CUES: dict[str, re.Pattern[str]] = {
    "count": re.compile(
        r"\b(how many|number of|quant[eio]|quanta|numero d[ie]|in quant[ei])\b", re.I
    ),
    "list": re.compile(
        r"^\W*(which|what|list|name|who are|tell me (?:the|which)|show|quali|quale|elenca|"
        r"chi sono|che|dimmi (?:le|i|quali)|mostra)\b",
        re.I,
    ),
}
# The newest arrival ("who is the newest resident?", "qual è l'ultima azienda arrivata?"):
# superlatives of time, EN and IT (grammar, not topics); the subject must be an organisation.
NEWEST = re.compile(
    r"\b(newest|latest|most\s+recent(?:ly\s+arrived)?|last\s+to\s+(?:arrive|join|move\s+in)|"
    r"ultim[oaie]|più\s+recent[ei]|arrivat[oaie]\s+per\s+ultim[oaie])\b",
    re.I,
)
# "How long has X been here?" asks for the years since X arrived, counted to today.
HOW_LONG = re.compile(
    r"\b(da\s+quanti\s+anni|da\s+quanto\s+tempo|how\s+long\s+(?:has|have)|"
    r"how\s+many\s+years\s+(?:has|have)|for\s+how\s+many\s+years)\b",
    re.I,
)
# Words for kinds of organisation, as stems (EN and IT): the subject of a directory question.
ORGANISATION_WORDS = re.compile(
    r"\b(organi[sz]ation|organizzazion|compan|aziend|impres|realt[àa]|enti\b|ente\b|partner|"
    r"start-?up|labs?\b|laborator|institut|istitut|societ|resident|firm|tenant|"
    r"member|membri|consorzi)",
    re.I,
)


# The partitive after a count cue ("how many of the", "quante delle", "quanti tra i").
_PARTITIVE = re.compile(
    r"^\s+(?:of\s+(?:the|its|our|their)\b|(?:delle|degli|dei|tra|fra)(?:\s+(?:le|i|gli)\b)?)",
    re.I,
)
# Verbs of arrival (EN and IT stems): a count by year asks for arrivals, not for a stock.
ARRIVED = re.compile(
    r"\b(joined|arrived|moved\s+in|settled|set\s+up|entrat[eio]|arrivat[eio]|insediat[eio]|"
    r"trasferit[eio])\b",
    re.I,
)

Similarity = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass
class Match:
    """What a question asks of the directory."""

    kind: str  # "list" or "count"
    organisations: list[Organisation]
    filters: list[str]  # the values or words that selected them, for the answer text


def intent(question: str, params: DirectoryParams = PARAMS.directory) -> str | None:
    """'count', 'list' or None: does the question ask for a count or a list of organisations?

    The organisation word must be the cue's subject, at most ``params.subject_gap`` words after
    it:
    "what day was the Open Labs event?" and "che tipi di spazi posso prendere per la mia
    azienda?" ask for something else (both were taken before this rule, on held-out questions).
    """
    for kind in ("count", "list"):
        cue = QUESTION_CUES[kind].search(question)
        if cue is None:
            continue
        rest = question[cue.end() :]
        if kind == "count":  # "how many of the park's organisations": "of the" is no word
            rest = _PARTITIVE.sub(" ", rest, count=1)
        after = rest.split()[: params.subject_gap + 1]
        if any(ORGANISATION_WORDS.match(word) for word in after):
            return kind
    newest = NEWEST.search(question)
    if newest is not None:
        # the superlative's own noun ("the newest resident"), not a later one ("the latest
        # Open Labs day")
        after = question[newest.end() :].split()[:1]
        if any(ORGANISATION_WORDS.match(word.strip("?.,")) for word in after):
            return "newest"
    return None


def ngrams(words: list[str], n: int) -> list[str]:
    """Every run of ``n`` consecutive words, joined by spaces."""
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def _identifiers(value: str) -> set[str]:
    """The words of a value that identify it among its kind, folded: a capital letter alone
    or a number ("Building B", "Hall 3"; not the "e" of "Energia e materiali"); a fuzzy match
    must not trade one for another."""
    words = re.findall(r"\w+", value)
    return {norm(w) for w in words if (len(w) == 1 and w.isupper()) or any(c.isdigit() for c in w)}


def _exact(question: str, value: str) -> bool:
    """The value's words appear in the question as one run, in order ("edificio b")."""
    return f" {norm(value)} " in f" {norm(question)} " if norm(value) else False


def _named(question: str, value: str) -> float:
    """difflib ratio of ``value`` with its best-matching run of words in the question; 0 when
    the question lacks one of the value's identifiers ("Edificio D" is not "Edificio B")."""
    q, v = norm(question).split(), norm(value)
    if not _identifiers(value) <= set(q):
        return 0.0
    size = len(v.split())
    best = 0.0
    for n in {max(1, size - 1), size, size + 1}:
        for gram in ngrams(q, n):
            best = max(best, difflib.SequenceMatcher(None, gram, v).ratio())
    return best


def match(
    question: str,
    orgs: Sequence[Organisation],
    stubs: Sequence[DirectoryEntry],
    similarity: Similarity | None = None,
    today: date | None = None,
    params: DirectoryParams = PARAMS.directory,
) -> Match | None:
    """The organisations a list/count question asks for, or None if it is not one for us."""
    kind = intent(question, params)
    if kind is None or not orgs:
        return None
    norm_q = f" {norm(question)} "
    for org in orgs:  # a question about one organisation: its page answers it
        if any(f" {a} " in norm_q for a in name_aliases(org.name) if len(a) >= 3):
            return None
    chosen, filters = _by_value(question, orgs, similarity, params)
    guessed = [v for v in filters if _named(question, v) < params.fuzzy_min]
    in_years, years = _by_year(question, chosen if chosen is not None else orgs)
    if in_years is not None and (kind == "list" or chosen is not None or ARRIVED.search(question)):
        # "which start-ups arrived in 2025": both filters hold. A count by a year alone
        # ("how many companies were there in 2026?") asks for a stock, not for arrivals,
        # unless it asks for arrivals in words ("how many joined in 2020 or later?").
        chosen, filters = in_years, filters + years
    if chosen is None:
        chosen, filters = _by_listing(question, orgs, stubs)
        if chosen is not None and kind == "list":
            chosen = None  # "which X are in the directory" is the topic filter's job below
    if chosen is None and kind == "count":
        # Unfiltered, or narrowed only by a free word ("how many member companies does the
        # consortium have?"): the site's stated figures and the passages answer it.
        return None
    if chosen is None and kind == "newest":
        chosen = list(orgs)  # "the newest resident": of all of them
    if chosen is None:
        try:
            chosen, filters = _by_topic(question, orgs, stubs, params)
        except _Unanswerable as exc:
            log.debug("directory cannot narrow by %r", str(exc))
            return None
    if chosen is None:
        chosen, filters = list(orgs), []
    if guessed and not chosen:
        # A value named in the other language is a guess by the model: one that, with the
        # question's other filters, selects no one is left to the passages, not answered "none".
        return None
    if today is not None:
        chosen = [o for o in chosen if not arrives_after(o, today)]
    if kind == "newest":
        chosen = newest(chosen)
    return Match(kind, chosen, filters)


def arrival(org: Organisation) -> date | None:
    """The first day of the organisation's arrival, as precisely as its page states it."""
    if not org.year:
        return None
    for mention in find_dates(org.since) if org.since else []:
        if mention.start.year == org.year:
            return mention.start
    return date(org.year, 1, 1)


def newest(orgs: Sequence[Organisation]) -> list[Organisation]:
    """The organisations with the latest arrival (several when they arrived together); none
    when no arrival is known."""
    dated = [(day, o) for o in orgs if (day := arrival(o)) is not None]
    if not dated:
        return []
    last = max(day for day, _ in dated)
    return [o for day, o in dated if day == last]


def arrives_after(org: Organisation, today: date) -> bool:
    """Whether the organisation's arrival is still to come at ``today``.

    The arrival is the first day of the date its "since" states for its year, as precise as
    the page says it ("June 2025" is still to come on 1 March 2025; a bare "2025" is not, as
    any day of that year may be meant); without a date, its year alone.
    """
    if not org.year:
        return False
    for mention in find_dates(org.since) if org.since else []:
        if mention.start.year == org.year and mention.precision in {"day", "month"}:
            return mention.start > today
    return org.year > today.year


# Where a value joins its parts: "Edificio B · La Serra", "Building D – La Corte (east wing)".
_PARTS = re.compile(r"\s+[·–—-]\s+|\s*[()]\s*")


def filter_values(orgs: Sequence[Organisation]) -> dict[str, list[Organisation]]:
    """Each sector, building or listing heading, and each of its parts (split at " · ", a
    spaced dash or a bracket) -> who has it."""
    values: dict[str, list[Organisation]] = {}
    for org in orgs:
        for value in dict.fromkeys([*org.sectors, *org.buildings, *org.groups]):
            for part in dict.fromkeys([value, *_PARTS.split(value)]):
                part = part.strip(" ,;")
                if len(part) >= 3 and org not in values.setdefault(part, []):
                    values[part].append(org)
    return values


def _by_value(
    question: str,
    orgs: Sequence[Organisation],
    similarity: Similarity | None,
    params: DirectoryParams,
) -> tuple[list[Organisation] | None, list[str]]:
    """Organisations whose sector, cluster, building or listing heading the question names;
    two joined by "and"/"e" ("nei cluster materiali avanzati ed energia"), each
    (``_joined``)."""
    values = {v: o for v, o in filter_values(orgs).items() if len(o) < len(orgs)}
    if not values:
        return None, []
    named = _named_values(question, values, similarity, params)
    sides = _joined(question, values)
    if named and sides:
        each = [_named_values(side, values, similarity, params, joined=True) for side in sides]
        if all(each):
            named = list(dict.fromkeys([*named, *(v for found in each for v in found)]))
    if not named:
        return None, []
    chosen: list[Organisation] = []
    for value in named:
        chosen += [o for o in values[value] if o not in chosen]
    return chosen, named


# "and", "e", "ed" joining two phrases (the grammar of the two languages).
_AND = re.compile(r"\s(?:and|e|ed)\s", re.I)


def _joined(question: str, values: dict[str, list[Organisation]]) -> list[str]:
    """The two sides of a question joining two filters by "and"/"e"/"ed" ("Quali realtà
    lavorano nei cluster materiali avanzati ed energia?" -> "... materiali avanzati",
    "energia?"); [] when it joins none, or more than two, or when the conjunction is inside
    a value the question names word for word ("Mechanics and Mechatronics")."""
    sides = _AND.split(question)
    if len(sides) != 2:
        return []
    if any(_AND.search(v) and _exact(question, v) for v in values):
        return []
    return sides


def _named_values(
    question: str,
    values: dict[str, list[Organisation]],
    similarity: Similarity | None,
    params: DirectoryParams,
    joined: bool = False,
) -> list[str]:
    """The values the question names: word for word, else fuzzily, else by a long word of it,
    else (``similarity``) by meaning, in the other language too. ``joined``: the text is one
    side of two filters joined by "and"/"e", whose other side names a value: a run of its
    words nearest one value by ``params.embed_margin`` names it (the grammar says a value
    is named there; "energia" is 0.023 nearer "Energy and Sustainability" than any other)."""
    # A value the question names word for word settles it before any fuzzy match.
    named = _longest([v for v in values if _exact(question, v)])
    if not named:
        scored = sorted(((_named(question, v), v) for v in values), reverse=True)
        named = [v for score, v in scored if score >= params.fuzzy_min]
    if not named:
        named = _by_a_word(question, values, params)
    if not named and similarity is not None:
        names = list(values)
        words = [w for w in norm(question).split() if w not in _stopwords()]
        grams = [g for n in (1, 2, 3) for g in ngrams(words, n)]
        best: list[tuple[float, str]] = []
        for value in names:
            scores = similarity(value, grams) if grams else []
            best.append((max(scores, default=0.0), value))
        best.sort(reverse=True)
        if (
            best
            and best[0][0] >= params.embed_min
            and (len(best) == 1 or best[0][0] - best[1][0] >= params.embed_margin)
        ):
            named = [best[0][1]]
        elif grams and len(names) > 1:
            margin = params.embed_margin if joined else params.run_margin
            named = _named_by_a_run(names, grams, similarity, params, margin)
    return named


def _longest(values: list[str]) -> list[str]:
    """The values not inside another one of them ("Building D", not also "D")."""
    folded = {v: f" {norm(v)} " for v in values}
    return [v for v in values if not any(v != o and folded[v] in folded[o] for o in values)]


def _by_a_word(
    question: str, values: dict[str, list[Organisation]], params: DirectoryParams
) -> list[str]:
    """The values holding a long word of the question as a whole word ("cluster digitale"
    names "Digitale e ICT"), when that word selects some organisations, not all of them; not
    the values with an identifier ("Pavilion 2" is not named by "pavilion 7")."""
    words = [
        w for w in norm(question).split()
        if len(w) >= params.value_word_min and w not in _stopwords() and not ORGANISATION_WORDS.match(w)
    ]  # fmt: skip
    everyone = {id(o) for group in values.values() for o in group}
    named: list[str] = []
    for word in dict.fromkeys(words):
        # A value with an identifier ("Pavilion 2") is named only in full, with it.
        found = [v for v in values if word in norm(v).split() and not _identifiers(v)]
        chosen = {id(o) for v in found for o in values[v]}
        if found and len(chosen) < len(everyone):
            named += [v for v in found if v not in named]
    return named


def _named_by_a_run(
    names: Sequence[str],
    grams: Sequence[str],
    similarity: Similarity,
    params: DirectoryParams,
    margin: float | None = None,
) -> list[str]:
    """The value one run of the question's words names in another language: the run closest
    to it, by ``margin`` (``params.run_margin`` unless given) more than to any other value
    ("materiali avanzati" is nearer "Advanced Materials" than any other cluster; "lavorano"
    is near them all alike)."""
    margin = params.run_margin if margin is None else margin
    cosines = [list(similarity(value, grams)) for value in names]
    best: tuple[float, str] = (0.0, "")
    for j in range(len(grams)):
        column = sorted(((row[j], name) for row, name in zip(cosines, names, strict=True)))
        (second, _), (top, name) = column[-2], column[-1]
        if top >= params.run_min and top - second >= margin and top - second > best[0]:
            best = (top - second, name)
    return [best[1]] if best[1] else []


# A year after a comparative word is one end of a period of arrivals, not the year itself:
# "after 2020" / "dopo il 2020" (later years), "since 2020" / "dal 2020" (that year on),
# "before 2020" / "prima del 2020" (earlier years), "until 2020" / "fino al 2020" (up to it).
_YEAR_BOUND = re.compile(
    r"\b(?:(?P<after>after|later\s+than|dopo(?:\s+(?:il|l['’]))?|oltre\s+il)"
    r"|(?P<since>since|from|starting\s+in|dal|dall['’]|a\s+partire\s+dal)"
    r"|(?P<before>before|earlier\s+than|prima\s+(?:del|dell['’]))"
    r"|(?P<until>until|till|up\s+to|fino\s+al|entro\s+il))"
    r"\s+(?:the\s+(?:year\s+)?|l['’]anno\s+)?(?P<year>19[5-9]\d|20\d\d)\b"
    # or the year first: "2020 or later", "2020 and after", "dal 2020 in poi", "2020 o dopo"
    r"|\b(?P<year_on>19[5-9]\d|20\d\d)\s+(?:or\s+later|and\s+(?:later|after)|onwards|"
    r"in\s+poi|o\s+dopo|e\s+(?:oltre|successivi))\b",
    re.I,
)
_BOUND_TEST: dict[str, Callable[[int, int], bool]] = {
    "after": lambda year, bound: year > bound,
    "since": lambda year, bound: year >= bound,
    "before": lambda year, bound: year < bound,
    "until": lambda year, bound: year <= bound,
}


def _by_year(
    question: str, orgs: Sequence[Organisation]
) -> tuple[list[Organisation] | None, list[str]]:
    """Organisations that arrived in a year the question names, or in the period a
    comparative word and a year bound ("after 2020", "prima del 2015")."""
    bounds: list[tuple[Callable[[int, int], bool], int, str]] = []
    for found in _YEAR_BOUND.finditer(question):
        if found.group("year_on"):
            kind, year = "since", found.group("year_on")
        else:
            kind, year = next(k for k in _BOUND_TEST if found.group(k)), found.group("year")
        bounds.append((_BOUND_TEST[kind], int(year), " ".join(found[0].split())))
    rest = _YEAR_BOUND.sub(" ", question)
    years = {int(y) for y in YEAR.findall(rest)}
    if not years and not bounds:
        return None, []
    chosen = [
        o for o in orgs
        if o.year
        and (not years or o.year in years)
        and all(test(o.year, bound) for test, bound, _ in bounds)
    ]  # fmt: skip
    return chosen, [str(y) for y in sorted(years)] + [label for _, _, label in bounds]


def _by_listing(
    question: str, orgs: Sequence[Organisation], stubs: Sequence[DirectoryEntry]
) -> tuple[list[Organisation] | None, list[str]]:
    """Organisations of the listing page the question names by its title words. The kind of
    organisation it lists ("resident partners") is what a count counts, not the listing's
    name: at least one other word of the title must be shared ("the partner directory"), or
    "how many resident partners does the park have?" would count one page's rows, where the
    site states the park's total."""
    words = {_stem(w) for w in norm(question).split() if len(w) >= 4 and w not in _stopwords()}
    kinds = {_stem(w) for w in norm(question).split() if ORGANISATION_WORDS.match(w)}
    best: tuple[int, str, str] = (0, "", "")
    for stub in stubs:
        title = {_stem(w) for w in norm(f"{stub.group} {stub.name}").split() if len(w) >= 4}
        shared = len(words & title)
        own = len((words & title) - kinds)
        listed = sum(1 for o in orgs if any(f["url"] == stub.url for f in o.found_on))
        if shared >= 2 and own >= 1 and listed >= 3 and shared > best[0]:
            best = (shared, stub.url, stub.name)
    if not best[1]:
        return None, []
    return [o for o in orgs if any(f["url"] == best[1] for f in o.found_on)], [best[2]]


def _stem(word: str) -> str:
    """A crude stem shared by both languages: the first six letters."""
    return word[:6] if len(word) > 6 else word


class _Unanswerable(Exception):
    """The question narrows the list by something the directory does not record."""


def _by_topic(
    question: str,
    orgs: Sequence[Organisation],
    stubs: Sequence[DirectoryEntry],
    params: DirectoryParams,
) -> tuple[list[Organisation] | None, list[str]]:
    """Organisations whose text has the question's topic words (words rare on the site).

    A word common on the site ("campus", "research") says nothing; a rare word no
    organisation's record holds ("which companies are in the Pixel building?") means the
    directory cannot answer (``_Unanswerable``): the passage search may.
    """
    pages = [f" {norm(s.name + ' ' + s.description + ' ' + s.group)} " for s in stubs] or [""]
    texts = {id(o): " " + norm(o.text()) for o in orgs}
    hits_by_word: dict[str, list[Organisation]] = {}
    for word in dict.fromkeys(norm(question).split()):
        if (
            len(word) < params.topic_min_chars
            or word in _stopwords()
            or ORGANISATION_WORDS.match(word)
            or word.isdigit()
        ):
            continue
        stem = f" {_stem(word)}"
        share = sum(1 for p in pages if stem in p) / len(pages)
        hits = [o for o in orgs if stem in texts[id(o)]]
        if share > params.rare_share or len(hits) >= len(orgs) / 2:
            continue
        if not hits:
            raise _Unanswerable(word)
        hits_by_word[word] = hits
    if not hits_by_word:
        return None, []
    # The organisations that hold the most topic words.
    score = {id(o): sum(o in h for h in hits_by_word.values()) for o in orgs}
    top = max(score.values())
    return [o for o in orgs if score[id(o)] == top], list(hits_by_word)


def tenure(
    question: str, orgs: Sequence[Organisation], today: date
) -> tuple[Organisation, int] | None:
    """For "how long has X been at the park?" / "da quanti anni X è nel parco?" naming one
    organisation whose arrival is known and past: that organisation and its whole years
    there on ``today``; else None."""
    if not HOW_LONG.search(question):
        return None
    norm_q = f" {norm(question)} "
    named = [
        o for o in orgs
        if any(f" {a} " in norm_q for a in name_aliases(o.name) if len(a) >= 3)
    ]  # fmt: skip
    if len(named) != 1:
        return None
    org = named[0]
    day = arrival(org)
    if day is None or day > today:
        return None
    years = today.year - day.year - ((today.month, today.day) < (day.month, day.day))
    return org, years
