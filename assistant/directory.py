"""List and count questions about organisations, answered from the partner directory.

The directory entries are extracted at ingest (ingest.directory) and stored beside the sync
ledger; this module merges them into one record per organisation and answers "which
companies...", "how many labs...", "quali aziende...", "quante..." completely: every matching
organisation, each linked to its page (as a cited source), with the count.

Merging: an entry that links to a page takes that page's URL, name and hreflang alternates
(its language versions); entries are then joined when they share a page URL (or a language
version of it) or the same name. ``group`` entries (a table keyed by cluster or building)
give their value to every organisation their text names.

When a question is answered here (``DirectoryAnswers.answer`` returns an Answer), else the
passage search answers it (returns None):

1. it asks for a list or a count (``QUESTION_CUES``: the interrogative forms, EN and IT);
2. its subject is a kind of organisation (``ORGANISATION_WORDS``) and it does not name one
   organisation of the directory (then it asks about that organisation, e.g. "which companies
   support JOiiNT LAB?", and its page answers better);
3. a count must name a filter that matches records (a sector/cluster/building/heading value,
   fuzzily or by embedding similarity across languages; a year) or the directory page itself
   ("how many organisations are in the partner directory?"): an unfiltered "how many
   companies are there?" is left to the figures the site states, since a directory page may
   list only some residents. A list may also be narrowed by a topic word (rare on the site,
   present in some records: "which labs work on robotics?"), or be the whole directory.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlalchemy.engine import Engine

from assistant.config import Settings
from assistant.schema import Answer, Source
from assistant.terms import stop_words as _stopwords
from ingest import directory as store
from ingest.directory import DirectoryEntry
from vectorstore.text import fold

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
# Words for kinds of organisation, as stems (EN and IT): the subject of a directory question.
ORGANISATION_WORDS = re.compile(
    r"\b(organi[sz]ation|organizzazion|compan|aziend|impres|realt[àa]|enti\b|ente\b|partner|"
    r"start-?up|labs?\b|laborator|institut|istitut|societ|resident|firm|tenant|"
    r"member|membri|consorzi)",
    re.I,
)
FUZZY_MIN = 0.86  # difflib ratio for a value named in the question (measured: typos, plurals)
EMBED_MIN = 0.90  # cosine (e5, query vs passage) for a value named in another language
EMBED_MARGIN = 0.02  # ...and it must beat the next value by this much
TOPIC_MIN_CHARS = 6  # shorter words were mostly glue ("based", "work") on the questions tried
RARE_SHARE = 0.15  # a topic word is in at most this share of the site's pages


@dataclass
class Organisation:
    """One resident organisation, merged from every entry that names it."""

    name: str
    url: str  # its own page when known, else the page that lists it
    description: str = ""
    sectors: list[str] = field(default_factory=list)
    buildings: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # what the listing calls it
    since: str = ""
    year: int = 0
    languages: dict[str, str] = field(default_factory=dict)  # language -> page URL
    found_on: list[dict[str, str]] = field(default_factory=list)  # url, where, kind
    mentions: list[str] = field(default_factory=list)  # group texts that name it

    def text(self) -> str:
        return " ".join(
            [self.name, self.description, *self.sectors, *self.buildings, *self.mentions]
        )


@lru_cache(maxsize=50_000)
def _norm(text: str) -> str:
    """Folded (lower case, no accents), punctuation as spaces: names compare as words.

    Cached: every list question folds the same organisation names and page texts again."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).split())


def _aliases(name: str) -> list[str]:
    """The name, and its head before a dash, colon or bracket ("Istituto X – Centro Y")."""
    head = re.split(r"\s[–—-]\s|[(:]", name, maxsplit=1)[0]
    return [a for a in dict.fromkeys([_norm(name), _norm(head)]) if a]


class _Merger:
    """Union-find over identities (page URLs, normalised names)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, keys: Sequence[str]) -> str:
        roots = [self.find(k) for k in keys]
        for root in roots[1:]:
            self.parent[root] = roots[0]
        return roots[0]


def build(entries: Sequence[tuple[str, DirectoryEntry]]) -> list[Organisation]:
    """One Organisation per resident, from the stored entries of every document."""
    stubs = {e.key: e for _, e in entries if e.kind == "stub"}
    by_url = {e.url: e for e in stubs.values()}
    people = [e for _, e in entries if e.kind in ("row", "page")]
    merger = _Merger()
    identity: list[tuple[DirectoryEntry, DirectoryEntry | None, str]] = []
    for entry in people:
        own = stubs.get(entry.target) if entry.kind == "row" else by_url.get(entry.url)
        if entry.kind == "row" and own is None and entry.target.startswith("http"):
            own = by_url.get(entry.target)
        if own is not None and own.key == entry.key and entry.kind == "row":
            own = None  # a link back to the listing page itself
        keys = [f"name:{_norm(entry.name)}"]
        if own is not None:
            keys += [f"url:{own.url}", *(f"url:{u}" for u in own.alternates.values())]
        identity.append((entry, own, merger.union(keys)))
    orgs: dict[str, Organisation] = {}
    for entry, own, _ in identity:
        root = merger.find(f"name:{_norm(entry.name)}")
        org = orgs.get(root)
        if org is None:
            org = orgs[root] = Organisation(name=entry.name, url="")
        if own is not None and not org.url:
            org.url = own.url
            org.languages.update({own.language or "": own.url})
            for lang, url in own.alternates.items():
                if lang != "x-default":
                    org.languages.setdefault(lang[:2], url)
        elif entry.kind == "page" and not org.url:
            org.url = entry.url
        org.description = org.description or entry.description
        for values, value in ((org.sectors, entry.sector), (org.buildings, entry.building)):
            if value and value not in values:
                values.append(value)
        if entry.group and entry.group not in org.groups:
            org.groups.append(entry.group)
        if entry.since and not org.since:
            org.since, org.year = entry.since, entry.year
        org.found_on.append({"url": entry.url, "where": entry.where, "kind": entry.kind})
    for org in orgs.values():
        if not org.url:  # no page of its own: link the page that lists it
            org.url = org.found_on[0]["url"]
        if not org.description:
            own_stub = by_url.get(org.url)
            org.description = own_stub.description if own_stub else ""
    result = list(orgs.values())
    _assign_groups([e for _, e in entries if e.kind == "group"], result)
    return result


def _assign_groups(groups: Sequence[DirectoryEntry], orgs: Sequence[Organisation]) -> None:
    """Give each group's value (a cluster, a building) to the organisations its text names."""
    aliases = [(org, a.split()) for org in orgs for a in _aliases(org.name)]
    for group in groups:
        for item in re.split(r"[;,]|\band\b|\be\b", group.description):
            words = _norm(item).split()
            best: tuple[int, Organisation | None] = (0, None)
            for org, alias in aliases:
                score = _prefix_match(words, alias, aliases, org)
                if score > best[0]:
                    best = (score, org)
            found = best[1]
            if found is None:
                continue
            for values, value in ((found.sectors, group.sector), (found.buildings, group.building)):
                if value and value not in values:
                    values.append(value)
            found.mentions.append(item.strip())


def _prefix_match(
    words: list[str], alias: list[str], aliases: list[tuple[Organisation, list[str]]], org: object
) -> int:
    """How many leading words of ``alias`` occur in sequence in ``words`` (0 = no match).

    A partial prefix counts only when no other organisation's name starts with it
    ("Brembo SGL carbon-ceramic discs" names Brembo SGL..., not Brembo).
    """
    best = 0
    for start in range(len(words)):
        k = 0
        while k < len(alias) and start + k < len(words) and words[start + k] == alias[k]:
            k += 1
        if k == len(alias):
            best = max(best, k)
        elif k and len(" ".join(alias[:k])) >= 4:
            shared = any(
                other is not org and other_alias[:k] == alias[:k] for other, other_alias in aliases
            )
            if not shared:
                best = max(best, k)
    return best


# --- questions -------------------------------------------------------------------------
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass
class Match:
    """What a question asks of the directory."""

    kind: str  # "list" or "count"
    organisations: list[Organisation]
    filters: list[str]  # the values or words that selected them, for the answer text


SUBJECT_GAP = 2  # words allowed between the cue and the organisation word ("which research labs")


def intent(question: str) -> str | None:
    """'count', 'list' or None: does the question ask for a count or a list of organisations?

    The organisation word must be the cue's subject, at most ``SUBJECT_GAP`` words after it:
    "what day was the Open Labs event?" and "che tipi di spazi posso prendere per la mia
    azienda?" ask for something else (both were taken before this rule, on held-out questions).
    """
    for kind in ("count", "list"):
        cue = QUESTION_CUES[kind].search(question)
        if cue is None:
            continue
        after = question[cue.end() :].split()[: SUBJECT_GAP + 1]
        if any(ORGANISATION_WORDS.match(word) for word in after):
            return kind
    return None


def _ngrams(words: list[str], n: int) -> list[str]:
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def _named(question: str, value: str) -> float:
    """difflib ratio of ``value`` with its best-matching run of words in the question."""
    q, v = _norm(question).split(), _norm(value)
    size = len(v.split())
    best = 0.0
    for n in {max(1, size - 1), size, size + 1}:
        for gram in _ngrams(q, n):
            best = max(best, difflib.SequenceMatcher(None, gram, v).ratio())
    return best


def match(
    question: str,
    orgs: Sequence[Organisation],
    stubs: Sequence[DirectoryEntry],
    similarity: Similarity | None = None,
    today: date | None = None,
) -> Match | None:
    """The organisations a list/count question asks for, or None if it is not one for us."""
    kind = intent(question)
    if kind is None or not orgs:
        return None
    norm_q = f" {_norm(question)} "
    for org in orgs:  # a question about one organisation: its page answers it
        if any(f" {a} " in norm_q for a in _aliases(org.name) if len(a) >= 3):
            return None
    chosen, filters = _by_value(question, orgs, similarity)
    in_years, years = _by_year(question, chosen if chosen is not None else orgs)
    if in_years is not None and (kind == "list" or chosen is not None):
        # "which start-ups arrived in 2025": both filters hold. A count by a year alone
        # ("how many companies were there in 2026?") asks for a stock, not for arrivals.
        chosen, filters = in_years, filters + years
    if chosen is None:
        chosen, filters = _by_listing(question, orgs, stubs)
        if chosen is not None and kind == "list":
            chosen = None  # "which X are in the directory" is the topic filter's job below
    if chosen is None and kind == "count":
        # Unfiltered, or narrowed only by a free word ("how many member companies does the
        # consortium have?"): the site's stated figures and the passages answer it.
        return None
    if chosen is None:
        try:
            chosen, filters = _by_topic(question, orgs, stubs)
        except _Unanswerable as exc:
            log.debug("directory cannot narrow by %r", str(exc))
            return None
    if chosen is None:
        chosen, filters = list(orgs), []
    if today is not None:
        chosen = [o for o in chosen if not o.year or o.year <= today.year]
    return Match(kind, chosen, filters)


def _values(orgs: Sequence[Organisation]) -> dict[str, list[Organisation]]:
    values: dict[str, list[Organisation]] = {}
    for org in orgs:
        for value in dict.fromkeys([*org.sectors, *org.buildings, *org.groups]):
            for part in value.split(" · "):
                if len(part) >= 3 and org not in values.setdefault(part, []):
                    values[part].append(org)
    return values


def _by_value(
    question: str, orgs: Sequence[Organisation], similarity: Similarity | None
) -> tuple[list[Organisation] | None, list[str]]:
    """Organisations whose sector, cluster, building or listing heading the question names."""
    values = {v: o for v, o in _values(orgs).items() if len(o) < len(orgs)}
    if not values:
        return None, []
    scored = sorted(((_named(question, v), v) for v in values), reverse=True)
    named = [v for score, v in scored if score >= FUZZY_MIN]
    if not named and similarity is not None:
        names = list(values)
        words = [w for w in _norm(question).split() if w not in _stopwords()]
        grams = [g for n in (1, 2, 3) for g in _ngrams(words, n)]
        best: list[tuple[float, str]] = []
        for value in names:
            scores = similarity(value, grams) if grams else []
            best.append((max(scores, default=0.0), value))
        best.sort(reverse=True)
        if (
            best
            and best[0][0] >= EMBED_MIN
            and (len(best) == 1 or best[0][0] - best[1][0] >= EMBED_MARGIN)
        ):
            named = [best[0][1]]
    if not named:
        return None, []
    chosen: list[Organisation] = []
    for value in named:
        chosen += [o for o in values[value] if o not in chosen]
    return chosen, named


def _by_year(
    question: str, orgs: Sequence[Organisation]
) -> tuple[list[Organisation] | None, list[str]]:
    years = {int(y) for y in re.findall(r"\b(19[5-9]\d|20\d\d)\b", question)}
    if not years:
        return None, []
    return [o for o in orgs if o.year in years], [str(y) for y in sorted(years)]


def _by_listing(
    question: str, orgs: Sequence[Organisation], stubs: Sequence[DirectoryEntry]
) -> tuple[list[Organisation] | None, list[str]]:
    """Organisations of the listing page the question names by its title words."""
    words = {_stem(w) for w in _norm(question).split() if len(w) >= 4 and w not in _stopwords()}
    best: tuple[int, str, str] = (0, "", "")
    for stub in stubs:
        title = {_stem(w) for w in _norm(f"{stub.group} {stub.name}").split() if len(w) >= 4}
        shared = len(words & title)
        listed = sum(1 for o in orgs if any(f["url"] == stub.url for f in o.found_on))
        if shared >= 2 and listed >= 3 and shared > best[0]:
            best = (shared, stub.url, stub.name)
    if not best[1]:
        return None, []
    return [o for o in orgs if any(f["url"] == best[1] for f in o.found_on)], [best[2]]


def _stem(word: str) -> str:
    return word[:6] if len(word) > 6 else word


class _Unanswerable(Exception):
    """The question narrows the list by something the directory does not record."""


def _by_topic(
    question: str, orgs: Sequence[Organisation], stubs: Sequence[DirectoryEntry]
) -> tuple[list[Organisation] | None, list[str]]:
    """Organisations whose text has the question's topic words (words rare on the site).

    A word common on the site ("campus", "research") says nothing; a rare word no
    organisation's record holds ("which companies are in the Pixel building?") means the
    directory cannot answer (``_Unanswerable``): the passage search may.
    """
    pages = [f" {_norm(s.name + ' ' + s.description + ' ' + s.group)} " for s in stubs] or [""]
    texts = {id(o): " " + _norm(o.text()) for o in orgs}
    hits_by_word: dict[str, list[Organisation]] = {}
    for word in dict.fromkeys(_norm(question).split()):
        if (
            len(word) < TOPIC_MIN_CHARS
            or word in _stopwords()
            or ORGANISATION_WORDS.match(word)
            or word.isdigit()
        ):
            continue
        stem = f" {_stem(word)}"
        share = sum(1 for p in pages if stem in p) / len(pages)
        hits = [o for o in orgs if stem in texts[id(o)]]
        if share > RARE_SHARE or len(hits) >= len(orgs) / 2:
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


# --- the answer ----------------------------------------------------------------------------
_TEXT = {
    "en": {
        "count": "The directory lists {n} {what}{filters}.",
        "list": "The directory lists {n} {what}{filters}:",
        "none": "The directory lists no organisation{filters}.",
        "what1": "organisation",
        "whatn": "organisations",
        "in": " for “{f}”",
        "since": "since {s}",
    },
    "it": {
        "count": "L'elenco dei partner riporta {n} {what}{filters}.",
        "list": "L'elenco dei partner riporta {n} {what}{filters}:",
        "none": "L'elenco dei partner non riporta alcuna organizzazione{filters}.",
        "what1": "organizzazione",
        "whatn": "organizzazioni",
        "in": " per “{f}”",
        "since": "dal {s}",
    },
}


def compose(found: Match, language: str) -> Answer:
    """Every organisation found, each cited with its page, and the count."""
    words = _TEXT.get(language, _TEXT["en"])
    orgs = sorted(found.organisations, key=lambda o: _norm(o.name))
    filters = words["in"].format(f=", ".join(found.filters)) if found.filters else ""
    if not orgs:
        return Answer(
            text=words["none"].format(filters=filters),
            sources=[],
            language=language,
            abstained=False,
            backend="directory",
        )
    what = words["what1"] if len(orgs) == 1 else words["whatn"]
    lines = [words["list"].format(n=len(orgs), what=what, filters=filters)]
    sources: list[Source] = []
    numbers: dict[str, int] = {}
    for org in orgs:
        n = numbers.setdefault(org.url, len(numbers) + 1)
        if n > len(sources):
            sources.append(
                Source(
                    n=n,
                    title=org.name,
                    url=org.url,
                    language=_page_language(org),
                    snippet=org.description[:240],
                )
            )
        facts = [org.description] if org.description else []
        if org.since:
            facts.append(words["since"].format(s=org.since))
        detail = f": {'; '.join(facts)}" if facts else ""
        lines.append(f"- {org.name}{detail} [{n}]")
    return Answer(
        text="\n".join(lines),
        sources=sources,
        language=language,
        abstained=False,
        backend="directory",
    )


def _page_language(org: Organisation) -> str:
    for lang, url in org.languages.items():
        if url == org.url:
            return lang
    return ""


class DirectoryAnswers:
    """The directory as the served process sees it: reloaded when a sync changed it."""

    def __init__(self, engine: Engine, similarity: Similarity | None = None) -> None:
        self.engine = engine
        self.similarity = similarity
        self._lock = threading.Lock()
        self._table_ready = False
        self._state: tuple[int, float] | None = None
        self._orgs: list[Organisation] = []
        self._stubs: list[DirectoryEntry] = []

    def organisations(self) -> tuple[list[Organisation], list[DirectoryEntry]]:
        """The merged organisations and the page stubs (reloaded after each sync).

        Per call, one small query (row count, latest write) tells whether a sync changed the
        table; the entries are read and merged again only then.
        """
        if not self._table_ready:  # a records database no sync has written to yet
            store.create_table(self.engine)
            self._table_ready = True
        now = store.state(self.engine)
        with self._lock:
            if now != self._state:
                entries = store.load_entries(self.engine)
                self._orgs = build(entries)
                self._stubs = [e for _, e in entries if e.kind == "stub"]
                self._state = now
            return self._orgs, self._stubs

    def answer(self, question: str, language: str, today: date | None = None) -> Answer | None:
        """The directory's answer to a list/count question about organisations, or None."""
        if intent(question) is None:
            return None
        try:
            orgs, stubs = self.organisations()
        except Exception as exc:  # noqa: BLE001 - the passage search still answers
            log.warning("the partner directory is unavailable: %s", exc)
            return None
        found = match(question, orgs, stubs, self.similarity, today)
        return compose(found, language) if found is not None else None


def for_settings(settings: Settings, similarity: Similarity | None) -> DirectoryAnswers | None:
    """The directory answers of a served or CLI assistant (None when switched off)."""
    if not settings.directory_answers:
        return None
    from ingest.ledger import ledger_engine

    return DirectoryAnswers(ledger_engine(settings.ledger_options()), similarity)
