"""The assistant: question -> retrieval -> a cited answer (extractive or LLM) or an abstention.

Flow of one question::

    screen (guard) -> language -> partner directory (lists and counts of organisations) ->
    retrieval query (follow-ups: LLM condensation or joined history) -> Searcher.search ->
    abstention checks -> extractive selection (assistant.extractive, written out by
    assistant.compose; dated answers by assistant.timeline), or the LLM streaming over fenced
    sources (assistant.llm_answer) -> Answer

``stream`` yields SourcesEvent, DeltaEvents, then DoneEvent with the final Answer (whose text
and sources are authoritative: on the LLM path the deltas carry the prompt's numbering and the
final answer is renumbered; if the LLM fails mid-stream, the final answer is the extractive
one with a notice). ``answer`` is the same run, collected.

The engine depends on declared interfaces only: ``Searcher`` (search, the keyword index's term
counts, the store's embedding model), no concrete searcher class.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Protocol

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from assistant import abstain, answerable, guard, llm, llm_answer, terms, timeline
from assistant import directory as partner_directory
from assistant.compose import (
    abstention,
    compose,
    emit,
    injection_refusal,
    source_of,
    with_language_note,
    with_language_notes,
)
from assistant.config import Settings
from assistant.conversation import prepare_question, search_question
from assistant.extractive import Selection, list_neighbours, select
from assistant.params import PARAMS
from assistant.schema import Answer, AnswerEvent, DoneEvent, ErrorEvent, Turn
from assistant.scoring import Similarity, asks_for_list
from assistant.term_counts import IndexTermStats, TermCounts
from assistant.terms import TermStats
from assistant.unit_vectors import UnitVectors
from vectorstore.embeddings import E5Embeddings
from vectorstore.passages import Filters, Passage, PassageSearch, allowed
from vectorstore.vector_cache import VectorCache

log = logging.getLogger(__name__)


class EmbeddingStore(Protocol):
    """What the answer engine reads of the searcher's store: its embedding model."""

    @property
    def embeddings(self) -> Embeddings: ...

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...


class Searcher(PassageSearch, Protocol):
    """What the answer engine needs of a searcher (vectorstore.search.HybridSearcher fits):
    passages for a query, the store's embeddings and the keyword index's term counts."""

    @property
    def store(self) -> EmbeddingStore: ...

    def keyword_index(self) -> TermCounts: ...


class AnswerError(Exception):
    """The answer could not be produced (retrieval failed)."""


@dataclass
class _Prepared:
    """Everything decided before composing: the cleaned question, language, passages."""

    question: str
    language: str
    passages: list[Passage]
    context: str  # earlier user turns (weak weight in sentence scoring)
    query: str
    injected: bool
    notice: str | None = None
    listed: Answer | None = None  # the partner directory's answer, when it gives one
    filters: Filters | None = None  # the caller's restrictions, for a wider search
    asked_in: str = ""  # the question's language when the site has no pages in it
    # a follow-up's names from the last answer (conversation.reply_names): searched with, and
    # what its pronoun stands for when the user's turns name nothing (extractive.select)
    reply_names: tuple[str, ...] = ()


@dataclass
class Evidence:
    """What the abstention decision reads: the retrieved passages, the chosen units, the index's
    term counts and the question-unit cosines."""

    question: str
    language: str
    passages: list[Passage]
    stats: TermStats
    selection: Selection | None
    similarity: Similarity
    follow_up: bool
    passage_similarity: answerable.PassageSimilarity | None = None
    cross_language: bool = False  # asked in a language the site has no pages in

    def verdict(self) -> abstain.Verdict:
        """Answerable or not, with the reason (``assistant.answerable.decide``)."""
        return answerable.decide(
            self.question,
            self.language,
            self.passages,
            self.stats,
            self.selection,
            self.similarity,
            passage_similarity=self.passage_similarity,
            follow_up=self.follow_up,
            cross_language=self.cross_language,
        )

    def signals(self) -> dict[str, float]:
        """The learned model's inputs (``assistant.answerable.signals``)."""
        return answerable.signals(
            self.question,
            self.passages,
            self.stats,
            self.similarity,
            self.selection,
            self.passage_similarity,
        )


class Assistant:
    """Answers questions from the index, with citations, or abstains with the contacts."""

    def __init__(
        self,
        settings: Settings,
        searcher: Searcher,
        chat_model: BaseChatModel | None = None,
        unit_cache: VectorCache | None = None,
    ) -> None:
        if settings.answer_backend not in llm.BACKENDS:
            raise ValueError(
                f"unknown answer_backend {settings.answer_backend!r}; accepted values: "
                f"{', '.join(llm.BACKENDS)}"
            )
        self.settings = settings
        self.searcher = searcher
        self.chat_model = chat_model
        self.site = settings.site_profile()
        self.contacts = self.site.values()  # what every refusal names (compose.contacts_of)
        self._term_stats = IndexTermStats(searcher.keyword_index)
        embeddings = searcher.store.embeddings
        self.unit_vectors = UnitVectors(embeddings, disk=unit_cache)
        # the guard reads the same cached unit vectors
        guard.use_vectors(self.unit_vectors.vectors, _model_name(embeddings))
        terms.use_site(self.site)  # questions drop the site's names, as the term counts did
        self.directory = partner_directory.for_settings(
            # the directory compares its values with pieces of the visitor's question
            settings,
            partial(self.unit_vectors.similarity, persist=False),
        )

    def today(self) -> date:
        """The date answers are given at: ``Settings.today``, else the real date (UTC)."""
        return self.settings.today or datetime.now(UTC).date()

    @property
    def backend(self) -> str:
        """The backend answering questions: "openai" with a chat model, else "extractive"."""
        return "openai" if self.chat_model is not None else "extractive"

    # --- public API -----------------------------------------------------------------------
    def answer(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        language: str | None = None,
    ) -> Answer:
        """The answer to one question (see ``stream`` for the events)."""
        final: Answer | None = None
        for event in self.stream(question, history, filters, language):
            if isinstance(event, DoneEvent):
                final = event.answer
            elif isinstance(event, ErrorEvent):
                raise AnswerError(event.message)
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        language: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """SourcesEvent, DeltaEvents, DoneEvent(answer); ErrorEvent if the search fails."""
        try:
            prepared = self._prepare(question, list(history), filters, language)
        except Exception as exc:  # the store or the searcher failed: nothing to answer from
            log.exception("retrieval failed")
            yield ErrorEvent(message=f"retrieval failed: {exc}")
            return
        if prepared.listed is not None:
            yield from emit(prepared.listed)
        elif self.chat_model is not None and prepared.passages and prepared.question:
            # the LLM gets the hard checks only (abstain.assess): it judges the rest itself
            events = llm_answer.stream(
                self.chat_model,
                self.settings,
                prepared.question,
                prepared.language,
                prepared.passages,
                self.term_stats(prepared.passages),
                partial(self._extractive, prepared),
            )
            yield from with_language_notes(events, prepared.asked_in)
        else:
            yield from emit(with_language_note(self._extractive(prepared), prepared.asked_in))

    def evidence(
        self,
        question: str,
        history: Sequence[Turn] = (),
        language: str | None = None,
        filters: Filters | None = None,
    ) -> Evidence:
        """What the abstention decision reads for one question (the training script and the
        tests ask for it; answers go through ``stream``)."""
        return self._evidence(self._prepare(question, list(history), filters, language))

    def term_stats(self, passages: Sequence[Passage]) -> TermStats:
        """Document frequencies over the whole index, as counted by the searcher's keyword index
        when it was built (at the end of the sync that made it, or by the first process that
        needed it): nothing is read per passage here."""
        return self._term_stats.get(passages)

    # --- steps ----------------------------------------------------------------------------
    def _prepare(
        self, question: str, history: list[Turn], filters: Filters | None, language: str | None
    ) -> _Prepared:
        prep = prepare_question(question, history, self.settings.max_history_turns, language)
        lang, clean_history = prep.language, prep.history
        if not prep.question:
            return _Prepared("", lang, [], "", "", prep.injected)
        # Lists and counts of organisations: the whole partner directory, not a few passages
        # (checked before the search, which such an answer does not need).
        if self.directory is not None:
            listed = self.directory.answer(prep.question, lang, self.today())
            if listed is not None:
                return _Prepared(prep.question, lang, [], "", "", prep.injected, None, listed)
        notice = None
        query = prep.query
        if self.chat_model is not None and clean_history:
            try:
                query = llm.condense(
                    self.chat_model,
                    prep.question,
                    clean_history,
                    self.settings.llm_timeout,
                    self.site,
                )
            except llm.LLMError as exc:
                log.warning("condensing the follow-up failed, using the joined history: %s", exc)
        context = prep.history_text if query != prep.question else ""
        if (
            not context
            and not terms.terms(prep.question)
            and abstain.names_site_by_word(prep.question)
        ):
            # "Where is the district?": the words naming the site carry no terms, and the
            # question's meaning is the site's; search and compare as if it were named.
            query = f"{query} ({self.site.short_name})"
        # a question in several parts is searched by each part too
        passages = search_question(
            self.searcher, replace(prep, query=query), self.settings.retrieval_k, filters
        )
        if asks_for_list(prep.question):  # a list the chunking cut goes on in the next chunk
            try:
                index = self.searcher.keyword_index()
                passages += list_neighbours(passages, index.passages, index.positions)
            except Exception as exc:  # noqa: BLE001 - the retrieved chunks still answer
                log.warning("the chunks around a list are unavailable: %s", exc)
        return _Prepared(
            prep.question,
            lang,
            passages,
            context,
            query,
            prep.injected,
            notice,
            filters=filters,
            asked_in=prep.asked_in,
            reply_names=prep.reply_names if context else (),
        )

    def _similarity(self, prep: _Prepared) -> Similarity:
        """Question-unit cosines; a follow-up's whole question uses the retrieval query (it
        carries the conversation), and its vector is already cached from the search."""
        vectors = self.unit_vectors

        def similarity(question: str, texts: Sequence[str]) -> Sequence[float]:
            query = prep.query if question == prep.question else question
            try:
                return vectors.similarity(query, texts)
            except Exception as exc:  # the model failed: words alone still answer
                log.warning("sentence similarity failed: %s", exc)
                return [0.0] * len(texts)

        return similarity

    def _evidence(self, prep: _Prepared) -> Evidence:
        """Select the units to quote and gather what the abstention decision reads."""
        stats = self.term_stats(prep.passages)
        similarity = self._similarity(prep)

        def choose(stats: TermStats) -> Selection | None:
            """The selector's reading of the passages gathered so far."""
            if not prep.question:
                return None
            return select(
                prep.question,
                prep.passages,
                prep.language,
                stats,
                prep.context,
                similarity,
                reply_names=prep.reply_names,
            )

        selection = choose(stats)
        if selection is not None and selection.bridged:
            # a part about what answered the part before is searched with its names, once
            wider = self._bridged_passages(prep, selection.bridged)
            if wider:
                prep.passages += wider
                stats = self.term_stats(prep.passages)
                selection = choose(stats)
        return Evidence(
            prep.question,
            prep.language,
            prep.passages,
            stats,
            selection,
            similarity,
            bool(prep.context),
            self._passage_similarity(prep),
            cross_language=bool(prep.asked_in),
        )

    def _bridged_passages(self, prep: _Prepared, queries: Sequence[str]) -> list[Passage]:
        """The best passages of each bridged part's search ("Mirano Sancin where was he
        working before ...?") that the question's search did not bring, the first
        ``ConversationParams.bridge_passages`` of each."""
        held = {p.id for p in prep.passages}
        out: list[Passage] = []
        most = PARAMS.conversation.bridge_passages
        for query in queries:
            try:
                found = self.searcher.search(
                    query, k=self.settings.retrieval_k, filters=prep.filters, language=prep.language
                )
            except Exception as exc:  # noqa: BLE001 - the retrieved passages still answer
                log.warning("the search of a bridged part failed: %s", exc)
                return out
            new = [p for p in found if p.id not in held][:most]
            held.update(p.id for p in new)
            out += new
        return out

    def _passage_similarity(self, prep: _Prepared) -> answerable.PassageSimilarity:
        """Question-passage cosines from the vectors the store holds (no passage is embedded
        while answering); passages the store lacks are embedded, not kept."""
        store, vectors = self.searcher.store, self.unit_vectors

        def cosines(question: str, passages: Sequence[Passage]) -> Sequence[float]:
            query = prep.query if question == prep.question else question
            try:
                stored = store.vectors([p.id for p in passages])
            except Exception as exc:  # the store failed: embed the passages instead
                log.warning("stored passage vectors unavailable: %s", exc)
                stored = {}
            try:
                if passages and all(p.id in stored for p in passages):
                    q = np.asarray(vectors.embeddings.embed_query(query), dtype=np.float32)
                    return [float(stored[p.id] @ q) for p in passages]
                return vectors.similarity(query, [p.text for p in passages], persist=False)
            except Exception as exc:  # the model failed: words alone still answer
                log.warning("passage similarity failed: %s", exc)
                return [0.0] * len(passages)

        return cosines

    def _dated_wider(self, prep: _Prepared) -> list[Passage]:
        """For an upcoming or "how many now" question, the dated passages of a wider search,
        after the retrieved ones (assistant.timeline reads both)."""
        if not timeline.reads_wider(prep.question):
            return []
        try:
            wider = list(
                self.searcher.search(
                    prep.query,
                    k=PARAMS.timeline.wide_k,
                    filters=prep.filters,
                    language=prep.language,
                )
            )
            if timeline.time_intent(prep.question) == "upcoming":
                # and every passage of the index that states an event still to come
                wider += timeline.coming_passages(
                    self.searcher.keyword_index().dated,
                    self.today(),
                    prep.language,
                    partial(allowed, filters=prep.filters),
                )
        except Exception as exc:  # the retrieved passages still answer
            log.warning("the wider search for dated passages failed: %s", exc)
            return []
        return timeline.dated_extra(prep.passages, wider)

    def _timed(self, prep: _Prepared, stats: TermStats, notice: str | None) -> Answer | None:
        """The time-aware answer (assistant.timeline) over the retrieved and the wider dated
        passages, or None for the normal path."""
        passages = prep.passages + self._dated_wider(prep)
        timed = timeline.answer(
            prep.question,
            passages,
            prep.language,
            stats,
            self._similarity(prep),
            self.today(),
            context=prep.context,
        )
        if timed is None:
            return None
        text, sources = timeline.render(timed, passages, source_of)
        return Answer(
            text=text, sources=sources, language=prep.language, abstained=False, notice=notice
        )

    def _extractive(self, prep: _Prepared, notice: str | None = None) -> Answer:
        """Compose the extractive answer, or abstain."""
        lang = prep.language
        if not prep.question:
            if prep.injected:
                return injection_refusal(lang, self.contacts, self.backend, notice)
            return abstention(lang, self.contacts, notice=notice)
        evidence = self._evidence(prep)
        stats, selection = evidence.stats, evidence.selection
        verdict = evidence.verdict()
        log.debug("abstention verdict: %s", verdict)
        if not verdict.answerable or selection is None:
            # A question about the calendar ("what's on next month?", "how many events are
            # planned?") is the timeline's, even when no passage answers it in words, if it
            # finds events to cite (with none, the question may be about anything).
            if timeline.asks_calendar(prep.question):
                timed = self._timed(prep, stats, notice)
                if timed is not None and timed.sources:
                    return timed
            return abstention(lang, self.contacts, verdict, prep.passages, notice)
        # Upcoming events, the latest figure, past events marked (assistant.timeline).
        today = self.today()
        timed = self._timed(prep, stats, notice)
        if timed is not None:
            return timed
        # what was not yet known at today goes; an event's date is kept and marked when asked
        marks = timeline.time_intent(prep.question) in {"past", "upcoming"}
        timeline.drop_later(selection, prep.passages, today, keep_events=marks)
        if marks:
            timeline.mark_past(selection, prep.passages, today, lang)
        text, sources = compose(selection, prep.passages, lang)
        return Answer(
            text=text,
            sources=sources,
            language=lang,
            abstained=False,
            backend="extractive",
            notice=notice,
        )


def _model_name(embeddings: Embeddings) -> str:
    """The embedding model's name: the guard's classifier reads the vectors of one model only."""
    return embeddings.model_name if isinstance(embeddings, E5Embeddings) else ""
