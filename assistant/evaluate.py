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

- retrieval (the searcher's ranking, on questions with gold): hit@1/3/5 and MRR@10, a hit being
  a passage whose source is a gold page; and passage facts@5, the share of fact groups present
  in the top five passages (what an extractive answer can at best quote);
- answers (``runtime.assistant.answer``): hit on the cited sources, fact coverage (mean share
  of fact groups found in the answer text), abstention rate on out-of-scope questions,
  false-abstention rate on answerable questions (gold or facts; not out of scope),
  injections obeyed (a forbidden string in the answer), p50/p95 latency;
- answer length: the median number of words of the answers given (not declined) to
  answerable questions, markers excluded (the "kind fact" row is the figure for facts);
- all of it overall, per language and per kind. Latency is measured after a warm-up call, so
  the model load is not counted.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.conversation import detect_language, retrieval_query
from assistant.schema import Turn
from vectorstore.passages import Filters

Kind = Literal["fact", "list", "multi-page", "follow-up", "out-of-scope", "injection"]
KINDS: tuple[str, ...] = ("fact", "list", "multi-page", "follow-up", "out-of-scope", "injection")
HIT_KS = (1, 3, 5)
MRR_DEPTH = 10
PASSAGE_FACTS_K = 5


class EvalFileError(ValueError):
    """The question file cannot be read or a line does not follow the schema."""


class EvalQuestion(BaseModel):
    """One line of the question file."""

    id: str
    question: str = Field(min_length=1)
    lang: Literal["it", "en"] | None = None
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


# --- matching ------------------------------------------------------------------------------
_THOUSANDS = re.compile(r"(?<=\d)[.,\u202f\u00a0\u2009](?=\d{3}(?!\d))")


def normalise(text: str) -> str:
    """Lower case, no accents, one space, no thousands separators, straight apostrophes."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\s+", " ", text)
    return _THOUSANDS.sub("", text)


def contains(text: str, needle: str) -> bool:
    """Case-, accent- and separator-insensitive substring test."""
    return normalise(needle) in normalise(text)


def fact_coverage(text: str, facts: Sequence[Sequence[str]]) -> float:
    """Share of fact groups with at least one alternative present in ``text``."""
    if not facts:
        return 1.0
    norm = normalise(text)
    found = sum(1 for group in facts if any(normalise(alt) in norm for alt in group))
    return found / len(facts)


def injection_obeyed(text: str, forbidden: Sequence[str]) -> bool:
    """True if any forbidden string appears in the answer text."""
    norm = normalise(text)
    return any(normalise(f) in norm for f in forbidden if f.strip())


def source_matches(gold: str, source: str) -> bool:
    """A gold entry matches a source id or URL exactly, or as a path suffix for file paths."""
    g = gold.strip().rstrip("/")
    s = source.strip().rstrip("/")
    if not g or not s:
        return False
    if g == s:
        return True
    if "://" not in g:  # a file path such as "en/faq.html" or "docs/press-fact-sheet.md"
        return s.endswith("/" + g.lstrip("/")) or s == g.lstrip("/")
    return False


def first_gold_rank(sources: Sequence[Sequence[str]], gold: Sequence[str]) -> int | None:
    """1-based rank of the first item whose sources match a gold entry; None if absent.

    Each item is the list of identifiers of one passage (its source id and its URL).
    """
    for rank, ids in enumerate(sources, start=1):
        if any(source_matches(g, s) for g in gold for s in ids):
            return rank
    return None


# --- results ---------------------------------------------------------------------------
@dataclass
class QuestionResult:
    """What happened to one question."""

    id: str
    lang: str
    kind: str
    answerable: bool
    expects_abstention: bool
    has_gold: bool
    retrieval_rank: int | None = None  # rank of the first gold passage in the searcher's list
    retrieval_ms: float | None = None
    passage_facts: float | None = None  # share of fact groups found in the top 5 passages
    answered: bool = False  # the assistant was called and returned
    abstained: bool | None = None
    answer_source_hit: bool | None = None  # a gold page among the cited sources
    fact_coverage: float | None = None
    injection_obeyed: bool | None = None
    has_facts: bool = False
    has_forbidden: bool = False
    answer_ms: float | None = None
    error: str | None = None
    answer_text: str = ""
    cited: list[str] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)


def answer_words(text: str) -> int:
    """Words a visitor reads: the answer text without [n] markers."""
    return len(re.findall(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.sub(r"\[\d+\]", " ", text)))


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[index]


def summarise(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """The figures for a group of results (None where a figure does not apply)."""
    gold = [r for r in results if r.has_gold and r.retrieval_ms is not None]
    out: dict[str, Any] = {"questions": len(results), "with_gold": len(gold)}
    for k in HIT_KS:
        out[f"hit@{k}"] = _mean(
            1.0 if r.retrieval_rank and r.retrieval_rank <= k else 0.0 for r in gold
        )
    out["mrr"] = _mean(
        1.0 / r.retrieval_rank if r.retrieval_rank and r.retrieval_rank <= MRR_DEPTH else 0.0
        for r in gold
    )
    out["passage_facts@5"] = _mean(
        r.passage_facts for r in results if r.has_facts and r.passage_facts is not None
    )
    answered = [r for r in results if r.answered]
    out["answered"] = len(answered)
    out["answer_source_hit"] = _mean(
        1.0 if r.answer_source_hit else 0.0 for r in answered if r.has_gold and r.answerable
    )
    out["fact_coverage"] = _mean(
        r.fact_coverage for r in answered if r.has_facts and r.fact_coverage is not None
    )
    out["abstention"] = _mean(1.0 if r.abstained else 0.0 for r in answered if r.expects_abstention)
    out["false_abstention"] = _mean(1.0 if r.abstained else 0.0 for r in answered if r.answerable)
    injections = [r for r in answered if r.has_forbidden]
    out["injections"] = len(injections)
    out["injections_obeyed"] = sum(1 for r in injections if r.injection_obeyed)
    words = [answer_words(r.answer_text) for r in answered if not r.abstained and r.answerable]
    out["answer_words_median"] = statistics.median(words) if words else None
    answer_ms = [r.answer_ms for r in answered if r.answer_ms is not None]
    retrieval_ms = [r.retrieval_ms for r in results if r.retrieval_ms is not None]
    out["answer_p50_ms"] = percentile(answer_ms, 50)
    out["answer_p95_ms"] = percentile(answer_ms, 95)
    out["retrieval_p50_ms"] = percentile(retrieval_ms, 50)
    out["retrieval_p95_ms"] = percentile(retrieval_ms, 95)
    out["errors"] = sum(1 for r in results if r.error)
    return out


@dataclass
class EvalReport:
    """Per-question results and the figures computed from them."""

    results: list[QuestionResult]
    source: str = ""
    seconds: float = 0.0

    def groups(self) -> dict[str, dict[str, dict[str, Any]]]:
        by_lang: dict[str, list[QuestionResult]] = {}
        by_kind: dict[str, list[QuestionResult]] = {}
        for r in self.results:
            by_lang.setdefault(r.lang, []).append(r)
            by_kind.setdefault(r.kind, []).append(r)
        return {
            "by_language": {k: summarise(v) for k, v in sorted(by_lang.items())},
            "by_kind": {k: summarise(by_kind[k]) for k in sorted(by_kind, key=_kind_order)},
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "seconds": round(self.seconds, 2),
            "overall": summarise(self.results),
            **self.groups(),
            "questions": [asdict(r) for r in self.results],
        }

    def failures(self) -> list[QuestionResult]:
        """Questions that missed: retrieval miss at 5, facts missing, wrong abstention, obeyed."""
        bad = []
        for r in self.results:
            if (
                r.error
                or (
                    r.has_gold
                    and r.retrieval_ms is not None
                    and not (r.retrieval_rank and r.retrieval_rank <= 5)
                )
                or (r.answered and r.has_facts and (r.fact_coverage or 0) < 1)
                or _wrong_abstention(r)
                or r.injection_obeyed
            ):
                bad.append(r)
        return bad

    def format_text(self) -> str:
        """A readable table: overall, per language, per kind, then the misses."""
        overall = summarise(self.results)
        groups = self.groups()
        rows = [("overall", overall)]
        rows += [(f"lang {k}", v) for k, v in groups["by_language"].items()]
        rows += [(f"kind {k}", v) for k, v in groups["by_kind"].items()]
        columns = [
            ("n", "questions", "d"),
            ("hit@1", "hit@1", "p"),
            ("hit@3", "hit@3", "p"),
            ("hit@5", "hit@5", "p"),
            ("MRR", "mrr", "f"),
            ("pfacts@5", "passage_facts@5", "p"),
            ("src", "answer_source_hit", "p"),
            ("facts", "fact_coverage", "p"),
            ("abst", "abstention", "p"),
            ("false-abst", "false_abstention", "p"),
            ("words", "answer_words_median", "d"),
            ("inj", "injections_obeyed", "d"),
            ("p50 ms", "answer_p50_ms", "ms"),
            ("p95 ms", "answer_p95_ms", "ms"),
        ]
        header = f"{'':18}" + "".join(f"{title:>11}" for title, _, _ in columns)
        lines = [
            f"Evaluation of {self.source} ({len(self.results)} questions, {self.seconds:.1f} s)",
            header,
        ]
        for name, figures in rows:
            cells = []
            for _, key, style in columns:
                cells.append(f"{_fmt(figures.get(key), style):>11}")
            lines.append(f"{name:18}" + "".join(cells))
        lines.append(
            f"retrieval latency p50/p95: {_fmt(overall['retrieval_p50_ms'], 'ms')} / "
            f"{_fmt(overall['retrieval_p95_ms'], 'ms')} ms"
        )
        misses = self.failures()
        if misses:
            lines.append("")
            lines.append(f"Misses ({len(misses)}):")
            for r in misses:
                why = []
                if r.error:
                    why.append(f"error: {r.error}")
                if (
                    r.has_gold
                    and r.retrieval_ms is not None
                    and not (r.retrieval_rank and r.retrieval_rank <= 5)
                ):
                    why.append(f"gold at rank {r.retrieval_rank or '-'}")
                if r.answered and r.has_facts and (r.fact_coverage or 0) < 1:
                    why.append(f"facts {r.fact_coverage:.2f}")
                if _wrong_abstention(r):
                    why.append("abstained" if r.abstained else "answered (should abstain)")
                if r.injection_obeyed:
                    why.append("INJECTION OBEYED")
                lines.append(f"  {r.id:10} [{r.lang} {r.kind}] " + "; ".join(why))
        return "\n".join(lines)


def _wrong_abstention(r: QuestionResult) -> bool:
    return r.answered and (
        (r.expects_abstention and not r.abstained) or (r.answerable and bool(r.abstained))
    )


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _fmt(value: Any, style: str) -> str:
    if value is None:
        return "-"
    if style == "p":
        return f"{value:.2f}"
    if style == "f":
        return f"{value:.3f}"
    if style == "ms":
        return f"{value:.0f}"
    if style == "d" and isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


# --- running ---------------------------------------------------------------------------
def _passage_ids(passage: Any) -> list[str]:
    return [str(getattr(passage, "source_id", "") or ""), str(getattr(passage, "url", "") or "")]


def evaluate_question(
    question: EvalQuestion,
    searcher: Any | None,
    assistant: Any | None,
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
    if searcher is not None:
        history_text = " ".join(t.content for t in question.history if t.role == "user")
        language = detect_language(
            question.question, default=detect_language(history_text or question.question)
        )
        query = retrieval_query(question.question, question.history)
        forget()
        started = clock()
        try:
            passages = searcher.search(query, k=depth, filters=question.filters, language=language)
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


def run_eval(runtime: Any, path: Path | str, *, answers: bool = True) -> EvalReport:
    """Evaluate every question of ``path`` against the runtime's searcher and assistant."""
    questions = load_questions(path)
    searcher = getattr(runtime, "searcher", None)
    assistant = getattr(runtime, "assistant", None) if answers else None
    started = time.perf_counter()
    _warm_up(searcher, assistant, questions)
    forget = _query_cache_clearer(getattr(runtime, "embeddings", None))
    results = [evaluate_question(q, searcher, assistant, forget=forget) for q in questions]
    return EvalReport(results=results, source=str(path), seconds=time.perf_counter() - started)


def _query_cache_clearer(embeddings: Any) -> Callable[[], None]:
    """Empty the embedding model's query cache before each timed call, so that the answer
    latency counts embedding the question (the searcher and the assistant embed the same text)."""
    clear = getattr(embeddings, "clear_cache", None)
    return clear if callable(clear) else (lambda: None)


def _warm_up(
    searcher: Any | None, assistant: Any | None, questions: Sequence[EvalQuestion]
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
