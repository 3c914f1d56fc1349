"""The assistant: question -> retrieval -> a cited answer (extractive or LLM) or an abstention.

Flow of one question::

    screen (guard) -> language -> retrieval query (follow-ups: LLM condensation or joined
    history) -> HybridSearcher.search -> abstention checks -> extractive selection, or the LLM
    streaming over fenced sources -> citation check (markers valid, sources renumbered 1..N in
    order of first citation, unsourced e-mails/phones removed) -> Answer

``stream`` yields SourcesEvent, DeltaEvents, then DoneEvent with the final Answer (whose text
and sources are authoritative: on the LLM path the deltas carry the prompt's numbering and the
final answer is renumbered; if the LLM fails mid-stream, the final answer is the extractive
one with a notice). ``answer`` is the same run, collected.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, partial
from typing import Protocol

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from assistant import abstain, extractive, guard, llm, prompts, timeline
from assistant import directory as partner_directory
from assistant.config import Settings
from assistant.conversation import detect_language, retrieval_query
from assistant.extractive import (
    Selection,
    Similarity,
    TermStats,
    Unit,
    embedding_text,
    select,
    split_units,
)
from assistant.schema import (
    Answer,
    AnswerEvent,
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    Source,
    SourcesEvent,
    Turn,
)
from vectorstore.keyword_index import KeywordIndex, KeywordIndexOptions
from vectorstore.passages import Filters, Passage
from vectorstore.vector_cache import VectorCache

log = logging.getLogger(__name__)

SNIPPET_CHARS = 240
STORE_BATCH = 64  # unit texts per embedding call when a sync stores them


class Searcher(Protocol):
    def search(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        language: str | None = None,
    ) -> list[Passage]: ...


# --- citations ----------------------------------------------------------------------------

_MARKER = re.compile(r"\[\s*(?:(?:source|fonte|src)\s*)?(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s()./-]{6,}\d")


def clean_markers(text: str, valid: int) -> str:
    """Keep markers [1]..[valid] (splitting "[1, 2]" into "[1][2]"), drop any other."""

    def fix(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        return "".join(f"[{n}]" for n in numbers if 1 <= n <= valid)

    text = _MARKER.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text))


def renumber(text: str, passages: Sequence[Passage]) -> tuple[str, list[Source]]:
    """Renumber markers 1..N in order of first citation; the sources are the cited passages."""
    order: dict[int, int] = {}
    for match in re.finditer(r"\[(\d+)\]", text):
        old = int(match.group(1))
        if 1 <= old <= len(passages) and old not in order:
            order[old] = len(order) + 1
    text = re.sub(
        r"\[(\d+)\]",
        lambda m: f"[{order[int(m.group(1))]}]" if int(m.group(1)) in order else "",
        text,
    )
    sources = [
        source_of(passages[old - 1], new) for old, new in sorted(order.items(), key=lambda i: i[1])
    ]
    return text, sources


def scrub_contacts(text: str, allowed: str) -> str:
    """Remove e-mail addresses and phone numbers that appear neither in the sources nor the
    configured contacts: an LLM must not invent personal contact data."""
    digits_allowed = {re.sub(r"\D", "", m.group(0)) for m in _PHONE.finditer(allowed)}
    folded = allowed.lower()

    def email(match: re.Match[str]) -> str:
        return match.group(0) if match.group(0).lower() in folded else "[…]"

    def phone(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) < 8 or any(
            digits in d or d in digits for d in digits_allowed if len(d) >= 8
        ):
            return match.group(0)
        return "[…]"

    return _PHONE.sub(phone, _EMAIL.sub(email, text))


def source_of(passage: Passage, n: int, snippet: str | None = None) -> Source:
    """A Source entry for a passage."""
    from assistant.extractive import body_of, clean_inline

    text = snippet if snippet is not None else clean_inline(body_of(passage))
    if len(text) > SNIPPET_CHARS:
        text = text[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return Source(
        n=n, title=passage.title, url=passage.url, language=passage.language, snippet=text
    )


# --- sentence embeddings --------------------------------------------------------------------


class UnitVectors:
    """Cosines between a question and quotable units, with the retrieval model.

    Nothing is embedded at start, whatever the index size. A question needs the vectors of its
    retrieved passages' units only: they come from a bounded in-memory LRU, else from ``disk``
    (stored by the sync that wrote the passages, see ``store_unit_vectors``), else they are
    embedded on the spot and written to ``disk`` for the other processes. The question vector
    comes from the model's own query cache, so the retrieval query costs nothing twice.
    """

    def __init__(
        self, embeddings: Embeddings, cache_size: int = 20_000, disk: VectorCache | None = None
    ) -> None:
        self.embeddings = embeddings
        self.cache_size = cache_size
        self.disk = disk
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str], *, persist: bool = True) -> np.ndarray:
        """Normalised passage vectors of ``texts`` (embedding only the ones stored nowhere).

        ``persist=False`` keeps fresh vectors in memory only: texts made of a visitor's words
        never reach ``disk``, which holds the district's public text alone."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing and self.disk is not None:
            stored = self.disk.get(missing)
            if stored:
                with self._lock:
                    self._cache.update(stored)
                missing = [t for t in missing if t not in stored]
        if missing:
            fresh = np.asarray(self.embeddings.embed_documents(missing), dtype=np.float32)
            if self.disk is not None and persist:
                self.disk.put(missing, fresh)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            found = []
            for text in texts:
                vector = self._cache.get(text)
                if vector is None:  # evicted meanwhile by a concurrent call: embed again
                    vector = np.asarray(self.embeddings.embed_documents([text])[0], np.float32)
                else:
                    self._cache.move_to_end(text)
                found.append(vector)
        return np.vstack(found) if found else np.zeros((0, 1), dtype=np.float32)

    def similarity(self, query: str, texts: Sequence[str], *, persist: bool = True) -> list[float]:
        """Cosine of the query with each text (``persist`` as in ``vectors``)."""
        if not texts:
            return []
        q = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
        return (self.vectors(texts, persist=persist) @ q).tolist()


def unit_texts(passage: Passage) -> list[str]:
    """Every text of a passage whose vector a question may need: each unit as the answer
    engine embeds it, and its text, heading and lead-in as the guard screens them."""
    texts: dict[str, None] = {}
    for unit in split_units(passage, 0):
        for text in (embedding_text(unit), unit.text, unit.context, unit.lead):
            if text:
                texts.setdefault(text, None)
    return list(texts)


def store_unit_vectors(
    disk: VectorCache, embeddings: Embeddings, passages: Sequence[Passage]
) -> int:
    """Embed and store the unit texts of ``passages`` that ``disk`` lacks (end of a sync);
    passages stored by an earlier sync are skipped without being split. The number embedded."""
    todo = [passages[i] for i in disk.undone([p.text for p in passages])]
    embedded = 0
    for start in range(0, len(todo), STORE_BATCH):
        group = todo[start : start + STORE_BATCH]
        texts = disk.missing(t for p in group for t in unit_texts(p))
        for at in range(0, len(texts), STORE_BATCH):
            batch = texts[at : at + STORE_BATCH]
            disk.put(batch, np.asarray(embeddings.embed_documents(batch), dtype=np.float32))
        embedded += len(texts)
        disk.mark_done(p.text for p in group)
    return embedded


@cache
def keyword_index_options() -> KeywordIndexOptions:
    """What the keyword index counts for the answer engine: document frequencies of
    ``extractive.terms``, tagged with its version (``extractive.TERMS_VERSION``), so saved
    indexes counted by another version are rebuilt once instead of giving wrong weights."""
    tag = f"extractive.terms:{extractive.TERMS_VERSION}"
    return KeywordIndexOptions(doc_terms=extractive.terms, doc_terms_tag=tag)


# --- the assistant ------------------------------------------------------------------------


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
        self._stats: TermStats | None = None
        self._stats_generation: str | None = None
        self._lock = threading.Lock()
        store = getattr(searcher, "store", None)
        embeddings = getattr(store, "embeddings", None)
        self.unit_vectors = (
            UnitVectors(embeddings, disk=unit_cache) if isinstance(embeddings, Embeddings) else None
        )
        if self.unit_vectors is not None:  # the guard reads the same cached unit vectors
            guard.use_vectors(self.unit_vectors.vectors, getattr(embeddings, "model_name", ""))
        vectors = self.unit_vectors
        self.directory = partner_directory.for_settings(
            # the directory compares its values with pieces of the visitor's question
            settings,
            partial(vectors.similarity, persist=False) if vectors is not None else None,
        )

    def today(self) -> date:
        """The date answers are given at: ``Settings.today``, else the real date (UTC)."""
        return self.settings.today or datetime.now(UTC).date()

    @property
    def backend(self) -> str:
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
            yield from _emit(prepared.listed)
        elif self.chat_model is not None and prepared.passages and prepared.question:
            yield from self._stream_llm(prepared)
        else:
            yield from _emit(self._extractive(prepared))

    # --- steps ----------------------------------------------------------------------------
    def _prepare(
        self, question: str, history: list[Turn], filters: Filters | None, language: str | None
    ) -> _Prepared:
        screened = guard.screen(question)
        # Earlier user turns may hold injections too: they feed retrieval, so screen them.
        clean_history = (
            [
                Turn(
                    role=t.role,
                    content=guard.screen(t.content).question if t.role == "user" else t.content,
                )
                for t in history[-self.settings.max_history_turns :]
                if t.content.strip()
            ]
            if self.settings.max_history_turns
            else []
        )
        history_text = " ".join(t.content for t in clean_history if t.role == "user")
        lang = language or detect_language(
            screened.question or question, default=detect_language(history_text or question)
        )
        if not screened.question:
            return _Prepared("", lang, [], "", "", screened.injected)
        # Lists and counts of organisations: the whole partner directory, not a few passages
        # (checked before the search, which such an answer does not need).
        if self.directory is not None:
            listed = self.directory.answer(screened.question, lang, self.today())
            if listed is not None:
                return _Prepared(
                    screened.question, lang, [], "", "", screened.injected, None, listed
                )
        notice = None
        query = retrieval_query(screened.question, clean_history)
        if self.chat_model is not None and clean_history:
            try:
                query = llm.condense(
                    self.chat_model, screened.question, clean_history, self.settings.llm_timeout
                )
            except llm.LLMError as exc:
                log.warning("condensing the follow-up failed, using the joined history: %s", exc)
        passages = self.searcher.search(
            query, k=self.settings.retrieval_k, filters=filters, language=lang
        )
        context = history_text if query != screened.question else ""
        return _Prepared(
            screened.question, lang, passages, context, query, screened.injected, notice
        )

    def term_stats(self, passages: Sequence[Passage]) -> TermStats:
        """Document frequencies over the whole index, as counted by the searcher's keyword index
        when it was built (at the end of the sync that made it, or by the first process that
        needed it): nothing is read per passage here."""
        keyword_index = getattr(self.searcher, "keyword_index", None)
        index = None
        if keyword_index is not None:
            try:
                index = keyword_index()
            except Exception as exc:  # keep the old statistics if the store hiccups
                log.warning("cannot refresh term statistics: %s", exc)
        with self._lock:
            if index is not None and index.passages and index.generation != self._stats_generation:
                self._stats = _stats_of(index)
                self._stats_generation = index.generation
            if self._stats is None or self._stats.n == 0:
                return TermStats(p.text for p in passages)
            return self._stats

    def _similarity(self, prep: _Prepared) -> Similarity | None:
        """Question-unit cosines; a follow-up's whole question uses the retrieval query (it
        carries the conversation), and its vector is already cached from the search."""
        vectors = self.unit_vectors
        if vectors is None:
            return None

        def similarity(question: str, texts: Sequence[str]) -> Sequence[float]:
            query = prep.query if question == prep.question else question
            try:
                return vectors.similarity(query, texts)
            except Exception as exc:  # the model failed: words alone still answer
                log.warning("sentence similarity failed: %s", exc)
                return [0.0] * len(texts)

        return similarity

    def _extractive(self, prep: _Prepared, notice: str | None = None) -> Answer:
        """Compose the extractive answer, or abstain."""
        lang = prep.language
        if not prep.question:
            return self._abstention(lang, injected=prep.injected, notice=notice)
        stats = self.term_stats(prep.passages)
        selection = select(
            prep.question, prep.passages, lang, stats, prep.context, self._similarity(prep)
        )
        verdict = abstain.assess(
            prep.question, lang, prep.passages, stats, selection, follow_up=bool(prep.context)
        )
        log.debug("abstention verdict: %s", verdict)
        if not verdict.answerable or selection is None:
            return self._abstention(lang, verdict=verdict, passages=prep.passages, notice=notice)
        # Upcoming events, the latest figure, past events marked (assistant.timeline).
        today = self.today()
        timed = timeline.answer(
            prep.question, prep.passages, lang, stats, self._similarity(prep), today
        )
        if timed is not None:
            text, sources = timeline.render(timed, prep.passages, source_of)
            return Answer(text=text, sources=sources, language=lang, abstained=False, notice=notice)
        if timeline.time_intent(prep.question) in {"past", "upcoming"}:
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

    def _abstention(
        self,
        lang: str,
        *,
        injected: bool = False,
        verdict: abstain.Verdict | None = None,
        passages: Sequence[Passage] = (),
        notice: str | None = None,
    ) -> Answer:
        contacts = {"phone": self.settings.contact_phone, "url": self.settings.contact_url}
        if injected:
            text = prompts.say(prompts.REFUSE_INJECTION, lang, **contacts)
            return Answer(
                text=text,
                sources=[],
                language=lang,
                abstained=True,
                backend=self.backend,
                notice=notice,
            )
        if (
            verdict is not None
            and verdict.negative
            and 0 <= verdict.negative_passage < len(passages)
        ):
            passage = passages[verdict.negative_passage]
            text = prompts.say(
                prompts.ABSTAIN_QUOTING, lang, quote=verdict.negative, marker="[1]", **contacts
            )
            return Answer(
                text=text,
                sources=[source_of(passage, 1, verdict.negative)],
                language=lang,
                abstained=True,
                backend="extractive",
                notice=notice,
            )
        text = prompts.say(prompts.ABSTAIN, lang, **contacts)
        return Answer(
            text=text,
            sources=[],
            language=lang,
            abstained=True,
            backend="extractive",
            notice=notice,
        )

    # --- LLM ------------------------------------------------------------------------------
    def _stream_llm(self, prep: _Prepared) -> Iterator[AnswerEvent]:
        assert self.chat_model is not None
        lang = prep.language
        stats = self.term_stats(prep.passages)
        # Hard checks only (a price question with no price in the sources...): the model
        # judges the rest itself.
        verdict = abstain.assess(prep.question, lang, prep.passages, stats, None, lexical=False)
        if not verdict.answerable:
            yield from _emit(self._abstention(lang, verdict=verdict, passages=prep.passages))
            return
        passages = prep.passages
        yield SourcesEvent(sources=[source_of(p, n) for n, p in enumerate(passages, start=1)])
        messages = prompts.answer_messages(prep.question, passages, lang, self.settings)
        allowed = (
            " ".join(p.text for p in passages) + f" {self.settings.contact_phone} "
            f"{self.settings.contact_url}"
        )
        raw: list[str] = []
        pending = ""
        try:
            for chunk in llm.stream_text(self.chat_model, messages, self.settings.llm_timeout):
                raw.append(chunk)
                pending += chunk
                ready, pending = _split_ready(pending)
                if ready and not _leaks(ready):
                    yield DeltaEvent(
                        text=scrub_contacts(clean_markers(ready, len(passages)), allowed)
                    )
        except llm.LLMError as exc:
            log.warning("LLM failed, falling back to the extractive answer: %s", exc)
            table = (
                prompts.LLM_FALLBACK_NOTICE
                if isinstance(exc, llm.LLMTimeout)
                else prompts.LLM_ERROR_NOTICE
            )
            fallback = self._extractive(prep, notice=prompts.say(table, lang))
            yield DoneEvent(answer=fallback)
            return
        if pending and not _leaks(pending):
            yield DeltaEvent(text=scrub_contacts(clean_markers(pending, len(passages)), allowed))
        yield DoneEvent(answer=self._finish_llm("".join(raw), prep, allowed))

    def _finish_llm(self, raw: str, prep: _Prepared, allowed: str) -> Answer:
        """Validate the model's reply: markers, sources, contacts, leaks, abstention."""
        lang = prep.language
        if _leaks(raw):
            return self._abstention(lang, injected=True)
        text = scrub_contacts(clean_markers(raw.strip(), len(prep.passages)), allowed)
        text, sources = renumber(text, prep.passages)
        text = re.sub(r"[ \t]{2,}", " ", text).strip()
        if not sources:
            # No valid citation: the model said it does not know (rule 4), or answered without
            # grounding. Either way it is not a sourced answer: make sure the contacts are there.
            if self.settings.contact_phone not in text and self.settings.contact_url not in text:
                text = prompts.say(
                    prompts.ABSTAIN,
                    lang,
                    phone=self.settings.contact_phone,
                    url=self.settings.contact_url,
                )
            return Answer(text=text, sources=[], language=lang, abstained=True, backend="openai")
        return Answer(text=text, sources=sources, language=lang, abstained=False, backend="openai")


def _stats_of(index: KeywordIndex) -> TermStats:
    """TermStats from the keyword index's saved counts; counted over its passages only when the
    index was built without them (a searcher made without ``keyword_index_options``)."""
    doc_freqs = getattr(index, "doc_freqs", None)
    if doc_freqs is None or getattr(index, "doc_terms_tag", "") != (
        keyword_index_options().doc_terms_tag
    ):
        log.info("keyword index has no term counts: counting %d passages", len(index.passages))
        return TermStats(p.text for p in index.passages)
    return TermStats.of_counts(doc_freqs, len(index.passages))


class AnswerError(Exception):
    """The answer could not be produced (retrieval failed)."""


# --- composition --------------------------------------------------------------------------


def compose(
    selection: Selection, passages: Sequence[Passage], language: str
) -> tuple[str, list[Source]]:
    """The answer text with [n] markers, and its sources numbered in order of first citation."""
    numbers: dict[int, int] = {}
    snippets: dict[int, str] = {}
    parts: list[str] = []
    for passage_index, lead, units in selection.groups:
        n = numbers.setdefault(passage_index, len(numbers) + 1)
        snippets.setdefault(passage_index, units[0].text)
        if len(units) == 1 and units[0].kind == "sentence":
            parts.append(f"{_sentence(units[0])} [{n}]")
            continue
        if len(units) == 1:
            parts.append(f"{_sentence(units[0])} [{n}]")
            continue
        lines = [f"{lead} [{n}]"] if lead else []
        lines += [f"- {u.text}" for u in units]
        if not lead:
            lines[-1] += f" [{n}]"
        parts.append("\n".join(lines))
    text = _join(parts)
    if selection.language and selection.language != language:
        note = prompts.say(
            prompts.SOURCE_IN_OTHER_LANGUAGE,
            language,
            name=prompts.language_name(selection.language, language),
        )
        text = f"{note}\n{text}"
    sources = [
        source_of(passages[index], n, snippets[index])
        for index, n in sorted(numbers.items(), key=lambda item: item[1])
    ]
    return text, sources


def _sentence(unit: Unit) -> str:
    text = unit.text.strip()
    return text if text[-1:] in ".!?:;…" else text + "."


def _join(parts: Sequence[str]) -> str:
    """Sentences run on; a list stands in its own paragraph."""
    out = ""
    for part in parts:
        if not out:
            out = part
        elif "\n" in part or "\n" in out:
            out += "\n\n" + part
        else:
            out += " " + part
    return out


def _emit(answer: Answer) -> Iterator[AnswerEvent]:
    """Events of a composed answer: its sources, its text in sentence-sized deltas, done."""
    yield SourcesEvent(sources=answer.sources)
    pieces = re.split(r"(?<=\])(?= )|(?<=\n)", answer.text)
    for piece in pieces:
        if piece:
            yield DeltaEvent(text=piece)
    yield DoneEvent(answer=answer)


def _split_ready(buffer: str) -> tuple[str, str]:
    """Cut the streamed text after its last sentence end or newline (markers stay whole)."""
    cut = max(buffer.rfind("\n"), *(buffer.rfind(p) for p in (". ", "! ", "? ", "] ")))
    if cut < 0:
        return "", buffer
    cut += 1
    # never cut inside a marker like "[12"
    if buffer.rfind("[", 0, cut) > buffer.rfind("]", 0, cut):
        return "", buffer
    return buffer[:cut], buffer[cut:]


def _leaks(text: str) -> bool:
    """The model is repeating its system prompt."""
    lowered = text.lower()
    return any(marker.lower() in lowered for marker in prompts.LEAK_MARKERS)
