"""List and count questions about organisations, answered from the partner directory.

The directory entries are extracted at ingest (ingest.directory_extract) and stored beside
the sync ledger (ingest.directory); this module merges them into one record per organisation and answers "which
companies...", "how many labs...", "quali aziende...", "quante..." completely: every matching
organisation, each linked to its page (as a cited source), with the count.

The merging lives in ``assistant.directory_merge``, the reading of the question in
``assistant.directory_match``; this module writes the answer and keeps the merged directory
fresh for the served process.
"""

from __future__ import annotations

import logging
import threading
from datetime import date

from sqlalchemy.engine import Engine

from assistant.config import Settings
from assistant.directory_match import HOW_LONG, Match, Similarity, intent, match, tenure
from assistant.directory_merge import Organisation, build, norm
from assistant.guard import addressed_to_ai
from assistant.schema import Answer, Source
from ingest import directory as store
from ingest.directory import DirectoryEntry
from vectorstore.text import split_sentences

log = logging.getLogger(__name__)


_TEXT = {
    "en": {
        "count": "The directory lists {n} {what}{filters}.",
        "newest": "The most recent arrival the directory records{filters}:",
        "list": "The directory lists {n} {what}{filters}:",
        "none": "The directory lists no organisation{filters}.",
        "what1": "organisation",
        "whatn": "organisations",
        "in": " for “{f}”",
        "since": "since {s}",
        "tenure": "{name} has been here since {year}: {years} years as of {today}.",
        "tenure0": "{name} has been here since {year}: less than a year as of {today}.",
    },
    "it": {
        "count": "L'elenco dei partner riporta {n} {what}{filters}.",
        "newest": "L'arrivo più recente registrato nell'elenco dei partner{filters}:",
        "list": "L'elenco dei partner riporta {n} {what}{filters}:",
        "none": "L'elenco dei partner non riporta alcuna organizzazione{filters}.",
        "what1": "organizzazione",
        "whatn": "organizzazioni",
        "in": " per “{f}”",
        "since": "dal {s}",
        "tenure": "{name} è presente dal {year}: da {years} anni al {today}.",
        "tenure0": "{name} è presente dal {year}: da meno di un anno al {today}.",
    },
}


def compose(found: Match, language: str) -> Answer:
    """Every organisation found, each cited with its page, and the count."""
    words = _TEXT.get(language, _TEXT["en"])
    orgs = sorted(found.organisations, key=lambda o: norm(o.name))
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
    unsafe = addressed_descriptions([o.description for o in orgs if o.description])
    lead = words["newest"] if found.kind == "newest" else words["list"]
    lines = [lead.format(n=len(orgs), what=what, filters=filters)]
    sources: list[Source] = []
    numbers: dict[str, int] = {}
    for org in orgs:
        n = numbers.setdefault(org.url, len(numbers) + 1)
        description = "" if org.description in unsafe else org.description
        if n > len(sources):
            sources.append(
                Source(
                    n=n,
                    title=org.name,
                    url=org.url,
                    language=_page_language(org),
                    snippet=description[:240],
                )
            )
        facts = [description] if description else []
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


def compose_tenure(org: Organisation, years: int, language: str, today: date) -> Answer:
    """The years an organisation has been here, counted from its arrival to ``today``, cited
    with its page."""
    words = _TEXT.get(language, _TEXT["en"])
    text = words["tenure" if years else "tenure0"].format(
        name=org.name, year=org.year, years=years, today=today.isoformat()
    )
    source = Source(n=1, title=org.name, url=org.url, language=_page_language(org), snippet="")
    return Answer(
        text=f"{text} [1]", sources=[source], language=language, abstained=False,
        backend="directory",
    )  # fmt: skip


def addressed_descriptions(descriptions: list[str]) -> set[str]:
    """The descriptions holding a sentence addressed to an AI system (``guard``): such a
    description is left out of the answer and its snippet, as a passage holding one is never
    quoted; the organisation is still listed and linked."""
    sentences = {d: [d, *split_sentences(d)] for d in dict.fromkeys(descriptions)}
    texts = list(dict.fromkeys(t for group in sentences.values() for t in group))
    flagged = {t for t, bad in zip(texts, addressed_to_ai(texts), strict=True) if bad}
    return {d for d, group in sentences.items() if flagged.intersection(group)}


def _page_language(org: Organisation) -> str:
    """The language of the page an organisation is cited with ('' when unknown)."""
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
        """The directory's answer to a list/count question about organisations, or to "how
        long has X been here?", or None."""
        kind = intent(question)
        if kind is None and (today is None or HOW_LONG.search(question) is None):
            return None
        try:
            orgs, stubs = self.organisations()
        except Exception as exc:  # noqa: BLE001 - the passage search still answers
            log.warning("the partner directory is unavailable: %s", exc)
            return None
        if today is not None and (held := tenure(question, orgs, today)) is not None:
            return compose_tenure(*held, language, today)  # "how long has X been here?"
        if kind is None:
            return None
        found = match(question, orgs, stubs, self.similarity, today)
        return compose(found, language) if found is not None else None


def for_settings(settings: Settings, similarity: Similarity | None) -> DirectoryAnswers | None:
    """The directory answers of a served or CLI assistant (None when switched off)."""
    if not settings.directory_answers:
        return None
    from ingest.ledger import ledger_engine

    return DirectoryAnswers(ledger_engine(settings.ledger_options()), similarity)
