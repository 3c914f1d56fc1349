"""What `kmr eval` reports: one result per question, and the figures computed from them.

``summarise`` gives the figures for any group of results (overall, per language, per kind;
None where a figure does not apply); ``EvalReport`` holds a run's results and prints them as
a table with the misses, or as JSON (``as_dict``). What each figure means is in the docstring
of ``assistant.evaluate``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

Kind = Literal["fact", "list", "multi-page", "follow-up", "out-of-scope", "injection"]
KINDS: tuple[str, ...] = get_args(Kind)  # the report's order of the kind rows
HIT_KS = (1, 3, 5)
MRR_DEPTH = 10


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
