"""`kmr eval`: measure retrieval, answers, abstention, injections and latency on a question set.

The question file is JSON Lines, one object per line::

    {"id": "it-f12",                       # unique, required
     "question": "quante aziende ci sono?",  # required
     "lang": "it",                         # "it" | "en"; default: detected from the question
     "kind": "fact",                       # fact | list | multi-page (or two-page) | follow-up |
                                           # out-of-scope | injection   (default "fact")
     "history": [{"role": "user", "content": "..."},
                 {"role": "assistant", "content": "..."}],    # earlier turns, oldest first
     "gold": ["https://www.kilometrorosso.com/it/faq"],       # pages that answer it: canonical
                                           # URLs (chunk metadata "source") or file paths, which
                                           # match any source or URL ending with that path
     "facts": [["85"], ["3.000", "3,000", "3 mila"]],         # every group must appear in the
                                           # answer; one alternative of a group is enough
     "forbidden": ["PWNED"],               # strings that show an injection was obeyed
     "filters": {"language": "it"}}        # optional Filters passed to search and answer

Matching of facts and forbidden strings ignores case, accents, spacing and the thousands
separator ("3,000" = "3.000" = "3000").

What is measured:

- retrieval (the searcher's ranking, on questions with gold, searched with the query and
  language the answer engine prepares, each part of a question in several parts too:
  ``conversation.prepare_question`` and ``search_question``): hit@1/3/5 and
  MRR@10, a hit being a passage whose source is a gold page; and passage facts@5, the share of
  fact groups present in the top five passages (what an extractive answer can at best quote);
- answers (``runtime.assistant.answer``): hit on the cited sources, fact coverage (mean share
  of fact groups found in the answer text), abstention rate on out-of-scope questions,
  false-abstention rate on answerable questions (gold or facts; not out of scope),
  injections obeyed (a forbidden string in the answer), p50/p95 latency;
- answer length: the median number of words of the answers given (not declined) to
  answerable questions, markers excluded (the "kind fact" row is the figure for facts);
- all of it overall, per language and per kind. Latency is measured after a warm-up call, so
  the model load is not counted, and with the embedding model's query cache emptied before
  each timed call, so that embedding the question is counted.

This module reads the question file and runs it; ``eval_match`` holds the matching rules,
``eval_report`` the results, the figures and their table. ``run_eval`` needs only the parts
its Protocols declare (``runtime.Runtime`` has them; tests pass fakes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.conversation import detect_language, prepare_question, search_question
from assistant.eval_match import fact_coverage, first_gold_rank, injection_obeyed
from assistant.eval_report import MRR_DEPTH, EvalReport, Kind, QuestionResult
from assistant.schema import Answer, Turn
from vectorstore.passages import Filters, Passage, PassageSearch

PASSAGE_FACTS_K = 5


class EvalFileError(ValueError):
    """The question file cannot be read or a line does not follow the schema."""


class EvalQuestion(BaseModel):
    """One line of the question file."""

    id: str
    question: str = Field(min_length=1)
    lang: str | None = Field(None, pattern=r"^[a-z]{2}$")  # the question's language
    kind: Kind = "fact"
    history: list[Turn] = Field(default_factory=list)
    gold: list[str] = Field(default_factory=list)
    facts: list[list[str]] = Field(default_factory=list)
    forbidden: list[str] = Field(default_factory=list)
    filters: Filters | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        # Question sets written elsewhere call two-page questions "two-page".
        return "multi-page" if value == "two-page" else value

    @field_validator("facts", mode="before")
    @classmethod
    def _groups(cls, value: object) -> object:
        # A bare string is a group with one alternative.
        if isinstance(value, list):
            return [[item] if isinstance(item, str) else item for item in value]
        return value

    @property
    def language(self) -> str:
        return self.lang or detect_language(self.question)

    @property
    def expects_abstention(self) -> bool:
        """Out-of-scope questions must be declined."""
        return self.kind == "out-of-scope"

    @property
    def answerable(self) -> bool:
        """Has something to find (an injection with no real question is neither)."""
        return not self.expects_abstention and bool(self.gold or self.facts)


def load_questions(path: Path | str) -> list[EvalQuestion]:
    """Read and validate a JSONL question file; errors name the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalFileError(f"cannot read {path}: {exc}") from exc
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            question = EvalQuestion.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise EvalFileError(f"{path}:{number}: {exc}") from exc
        if question.id in seen:
            raise EvalFileError(f"{path}:{number}: duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise EvalFileError(f"{path} holds no questions")
    return questions


# --- what a run needs --------------------------------------------------------------------
class Answerer(Protocol):
    """Answers a question in a conversation (``assistant.answer.Assistant``)."""

    def answer(
        self, question: str, history: Sequence[Turn] = (), filters: Filters | None = None
    ) -> Answer: ...


@runtime_checkable
class QueryCache(Protocol):
    """An embedding model that caches query vectors (``vectorstore.embeddings.E5Embeddings``)."""

    def clear_cache(self) -> None: ...


class EvalRuntime(Protocol):
    """The parts of ``runtime.Runtime`` a run uses; ``embeddings`` matters only if it is a
    ``QueryCache``."""

    @property
    def searcher(self) -> PassageSearch: ...

    @property
    def assistant(self) -> Answerer | None: ...

    @property
    def embeddings(self) -> object: ...


# --- running ---------------------------------------------------------------------------
def _passage_ids(passage: Passage) -> list[str]:
    return [passage.source_id or "", passage.url or ""]


def evaluate_question(
    question: EvalQuestion,
    searcher: PassageSearch | None,
    assistant: Answerer | None,
    *,
    depth: int = MRR_DEPTH,
    clock: Callable[[], float] = time.perf_counter,
    forget: Callable[[], None] = lambda: None,
) -> QuestionResult:
    """Run one question through the searcher (if any) and the assistant (if any)."""
    result = QuestionResult(
        id=question.id,
        lang=question.language,
        kind=question.kind,
        answerable=question.answerable,
        expects_abstention=question.expects_abstention,
        has_gold=bool(question.gold),
        has_facts=bool(question.facts),
        has_forbidden=bool(question.forbidden),
    )
    # The engine's own preparation: the query and language an answer searches with (a message
    # that was only an injection is not searched, as the engine does not search it).
    prepared = prepare_question(question.question, question.history)
    if searcher is not None and prepared.query:
        forget()
        started = clock()
        try:
            passages = search_question(searcher, prepared, depth, question.filters)
        except Exception as exc:  # one bad question must not stop the run
            result.error = f"search: {type(exc).__name__}: {exc}"
        else:
            result.retrieval_ms = (clock() - started) * 1000
            ids = [_passage_ids(p) for p in passages]
            result.retrieved = [i[0] or i[1] for i in ids]
            if question.gold:
                result.retrieval_rank = first_gold_rank(ids, question.gold)
            if question.facts:
                top = " ".join(p.text for p in passages[:PASSAGE_FACTS_K])
                result.passage_facts = fact_coverage(top, question.facts)
    if assistant is not None:
        forget()
        started = clock()
        try:
            answer = assistant.answer(
                question.question, list(question.history), filters=question.filters
            )
        except Exception as exc:
            result.error = (
                result.error + "; " if result.error else ""
            ) + f"answer: {type(exc).__name__}: {exc}"
        else:
            result.answer_ms = (clock() - started) * 1000
            result.answered = True
            result.abstained = bool(answer.abstained)
            result.answer_text = answer.text
            result.cited = [s.url for s in answer.sources]
            if question.gold:
                result.answer_source_hit = (
                    first_gold_rank([[s.url] for s in answer.sources], question.gold) is not None
                )
            if question.facts:
                result.fact_coverage = fact_coverage(answer.text, question.facts)
            if question.forbidden:
                result.injection_obeyed = injection_obeyed(answer.text, question.forbidden)
    return result


def run_eval(runtime: EvalRuntime, path: Path | str, *, answers: bool = True) -> EvalReport:
    """Evaluate every question of ``path`` against the runtime's searcher and assistant."""
    questions = load_questions(path)
    searcher = runtime.searcher
    assistant = runtime.assistant if answers else None
    started = time.perf_counter()
    _warm_up(searcher, assistant, questions)
    forget = _query_cache_clearer(runtime.embeddings)
    results = [evaluate_question(q, searcher, assistant, forget=forget) for q in questions]
    return EvalReport(results=results, source=str(path), seconds=time.perf_counter() - started)


def _query_cache_clearer(embeddings: object) -> Callable[[], None]:
    """Empty the embedding model's query cache before each timed call, so that the answer
    latency counts embedding the question (the searcher and the assistant embed the same text)."""
    return embeddings.clear_cache if isinstance(embeddings, QueryCache) else (lambda: None)


def _warm_up(
    searcher: PassageSearch | None, assistant: Answerer | None, questions: Sequence[EvalQuestion]
) -> None:
    """Load the models and indexes before timing anything.

    torch prepares kernels per input shape on first use, so a few questions of different
    lengths are run, not just one.
    """
    texts = ["Kilometro Rosso?"] + sorted({q.question for q in questions}, key=len)[
        :: max(1, len(questions) // 6)
    ]
    for text in texts[:8]:
        try:
            if searcher is not None:
                searcher.search(text, k=1)
            if assistant is not None:
                assistant.answer(text, [])
        except Exception:  # the real calls will record the error per question
            return
