"""The staff loop's services for the routes: curated answers, their matcher, enquiries.

Built on first use, not at app creation: the service database may be down when the app
starts (a PostgreSQL server still starting), and the tables are created by the first request
that reaches it. They share ``records_db``'s engine, so one pool serves every table. On a
database ``records_db`` found it cannot write (read-only or unusable: that lasts until a
restart), a failure to open the tables is learned once: every later use raises
``DatabaseReadOnly`` at once, and chat answers from the index without trying again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from langchain_core.embeddings import Embeddings
from sqlalchemy.exc import SQLAlchemyError

from assistant.compose import source_of
from assistant.config import Settings
from assistant.conversation import detect_language
from assistant.curated_match import CuratedLookup, CuratedMatcher, MatchModel, query_embedder
from assistant.curated_store import CuratedStore
from assistant.handoff import Handoff, SmtpConfig
from assistant.records_db import DatabaseReadOnly, RecordsDB
from assistant.runtime import Runtime
from assistant.schema import Answer, Source
from assistant.web.limits import RateLimiter
from assistant.web.models import CuratedOffer, CuratedReply
from vectorstore.store import StoreError

CURATED_SOURCES = 3  # the index's pages shown after a curated answer

log = logging.getLogger("kmr.api")
T = TypeVar("T")


@dataclass(frozen=True)
class CuratedOutcome:
    """A curated answer given at once (the answer and its reply), or the answers to offer."""

    given: tuple[Answer, CuratedReply] | None
    offers: list[CuratedOffer]


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


class StaffLoop:
    """Curated answers, the matcher and the handoff, opened once on first use."""

    def __init__(
        self, settings: Settings, db: RecordsDB, embeddings: Callable[[], Embeddings]
    ) -> None:
        self.settings = settings
        self.db = db
        self._embeddings = embeddings
        self._lock = threading.Lock()
        self._curated: CuratedStore | None = None
        self._matcher: CuratedMatcher | None = None
        self._handoff: Handoff | None = None
        self._unusable: str | None = None  # why the staff tables cannot be opened, once known
        self.enquiry_limiter = RateLimiter(settings.enquiry_rate_limit)

    def embed_questions(self, texts: list[str]) -> Sequence[Sequence[float]]:
        """Questions embedded with the model's query prompt (cached by the model)."""
        return query_embedder(self._embeddings())(texts)

    def _open(self, build: Callable[[], T]) -> T:
        """A store on the service database (its tables created if missing); called under the
        lock. A database error propagates, and is remembered when ``records_db`` knows the
        database cannot be written (then it is not going to change)."""
        if self._unusable is not None:
            raise DatabaseReadOnly(self._unusable)
        try:
            return build()
        except SQLAlchemyError as exc:
            if self.db.problem is None:  # e.g. a server still starting: tried again next time
                raise
            self._unusable = f"{self.db.problem}; the staff tables cannot be created in it"
            log.warning(
                "curated answers and enquiries disabled: %s (%s)", self._unusable, _short(exc)
            )
            raise DatabaseReadOnly(self._unusable) from exc

    @property
    def curated(self) -> CuratedStore:
        """The curated answers (tables created at first use; a database error propagates)."""
        with self._lock:
            if self._curated is None:
                self._curated = self._open(lambda: CuratedStore(self.db.engine))
            return self._curated

    @property
    def matcher(self) -> CuratedMatcher:
        store = self.curated
        with self._lock:
            if self._matcher is None:
                self._matcher = CuratedMatcher(
                    store, self.embed_questions, MatchModel.from_settings(self.settings)
                )
            return self._matcher

    @property
    def handoff(self) -> Handoff:
        with self._lock:
            if self._handoff is None:
                config = SmtpConfig.from_settings(self.settings)
                self._handoff = self._open(lambda: Handoff(self.db.engine, config))
            return self._handoff

    @property
    def usable_handoff(self) -> Handoff | None:
        """The handoff, or None on a database known unable to hold its table (see ``_open``)."""
        try:
            return self.handoff
        except DatabaseReadOnly:
            return None

    @property
    def handoff_enabled(self) -> bool:
        """Whether enquiries are accepted (no database needed to know)."""
        return bool(self.settings.smtp_host)

    def curated_outcome(
        self,
        question: str,
        language: str | None,
        runtime: Runtime,
        chosen: int | None = None,
    ) -> CuratedOutcome:
        """The curated answer for a visitor's question (or the one they ``chosen`` from the
        offers), with the index's sources after it; else the answers to offer, and the index
        answers. A curated table that cannot be read is logged and the index answers; a store
        that is down leaves the curated answer without sources."""
        wanted = language or detect_language(question)
        try:
            if chosen is not None:
                found = CuratedLookup(self.matcher.chosen(chosen, wanted), [])
            else:
                found = self.matcher.lookup(question, wanted)
        except DatabaseReadOnly:  # the tables cannot be opened (logged once, when learned)
            return CuratedOutcome(None, [])
        except SQLAlchemyError as exc:
            log.warning("curated answers unreadable, answering from the index: %s", _short(exc))
            return CuratedOutcome(None, [])
        match = found.match
        offers = [CuratedOffer(**s.as_dict()) for s in found.suggestions]
        if match is None:
            return CuratedOutcome(None, offers)
        sources: list[Source] = []
        try:
            passages = runtime.searcher.search(
                question, k=self.settings.retrieval_k, language=wanted
            )
        except StoreError as exc:
            log.warning("curated answer %s given without sources: %s", match.answer_id, exc)
            passages = []
        seen: set[str] = set()
        for passage in passages:
            if passage.url in seen or len(sources) == CURATED_SOURCES:
                continue
            seen.add(passage.url)
            sources.append(source_of(passage, len(sources) + 1))
        answer = Answer(
            text=match.text, sources=sources, language=wanted, abstained=False, backend="curated"
        )
        reply = CuratedReply(
            answer_id=match.answer_id,
            text=match.text,
            language=match.language,
            note=match.note,
            links=match.links,
            updated_at=match.updated_at,
        )
        return CuratedOutcome((answer, reply), [])
