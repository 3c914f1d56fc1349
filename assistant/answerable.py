"""Is the question answerable from what was retrieved? A calibrated, learned decision.

A logistic regression over a few signals the engine already computes for a question and its
retrieved passages (``SIGNALS``): how close in meaning the best unit and the best passage are
(e5 cosines, query prompt against passage prompt), how much of the question's rarity-weighted
terms the best unit and the best passage hold, how much of the question the index never uses,
whether the question asks for a kind of answer (a price, a clock time, ...) no passage on its
topic holds, the fused search score and its gap to the next passage, the selector's best unit
score and the question's length; and what the question asks beyond its topic: the share of its
terms outside a unit's page title and heading that the unit holds, whether the best units hold
the kind of thing asked for (a date for "when"), and how much closer in meaning the best unit
is to the question than the other units and than its own heading are. A question on the right
pages about something they never state (a company's revenue) matches their topic in words and
meaning; these tell it apart.

The parameters live in ``answerable_data/model.json`` and are reproduced by
``scripts/train_answerable.py`` from public questions nobody here wrote (SQuAD-it asked against
their own paragraphs, answerable, and against the sample site, out of scope) plus the
development questions; the threshold is calibrated on held-out questions so that answerable
ones are seldom declined. Below the threshold the assistant says it does not know.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.abstain import (
    Verdict,
    about_site,
    assess,
    compares_elsewhere,
    coverage_of,
    missing_kind,
)
from assistant.extractive import Selection, split_question
from assistant.model_files import read_parameters
from assistant.scoring import Similarity, answer_types
from assistant.terms import TermStats, terms
from assistant.units import Unit, embedding_text, split_units
from vectorstore.passages import Passage

MODEL_FILE = Path(__file__).with_name("answerable_data") / "model.json"
# A question in a language the site has no pages in: its words match nothing in the index, so
# only the e5 cosines (which compare meaning across languages) are read, by a model fitted on
# them alone (``scripts/train_answerable.py fit-cross``).
CROSS_MODEL_FILE = MODEL_FILE.with_name("model_cross.json")
CROSS_SIGNALS = ("unit_cosine", "passage_cosine")

SIGNALS = (
    "unit_cosine",  # best e5 cosine of the question with a unit of the top passages
    "passage_cosine",  # best e5 cosine of the question with one of the top passages
    "unit_support",  # best rarity-weighted share of the question's terms in one unit
    "passage_support",  # the same, in one passage (title included)
    "unknown_share",  # rarity-weighted share of the question's terms the index never uses
    "kind_missing",  # 1 when every part asks for a kind of answer no passage on topic holds
    "top_score",  # the searcher's fused score of its first passage (x 100)
    "score_gap",  # relative drop from the first to the second passage's fused score
    "selection_score",  # the extractive selector's best unit score (0 when nothing fits)
    "length",  # log(1 + number of content terms)
    # What the question asks beyond its topic: a question on the right pages whose asked thing
    # no unit holds ("the revenue of Brembo") is out of scope though its topic words match.
    "attribute_support",  # best share of the question's terms outside a unit's page title and
    # heading (the asked attribute) that the unit itself holds
    "type_missing",  # 1 when the question asks for a kind of thing (a date for "when", a sum,
    # a size, a name for "who") that none of the best units holds
    "cosine_margin",  # best unit cosine minus the mean cosine of the compared units (x 10)
    "topic_gain",  # the best unit's cosine minus the cosine with its heading (x 10)
    "topic_gain_max",  # the most any unit's cosine exceeds its heading's (x 10)
    "type_missing_lead",  # 1 when the question asks for a kind of thing no quoted unit holds
    "asked_cosine",  # best cosine of a unit with the question less its words naming the topic
    # (those in the top passages' titles and headings): what is asked, by meaning
    "asked_margin",  # that best cosine minus the mean over the units (x 10)
)
# Standardised signals are clipped: an input far outside what the model was fitted on (a
# 1,000-character question) must not swing the decision on one signal alone.
CLIP = 4.0
# The question's cosines with whole passages (the engine reads the stored chunk vectors).
PassageSimilarity = Callable[[str, Sequence[Passage]], Sequence[float]]
UNIT_PASSAGES = 5  # units of this many top passages are compared with the question
TOP_PASSAGES = 3  # passages compared whole
TYPED_UNITS = 3  # the best units by score that should hold the kind of thing asked for


class AnswerableModelError(Exception):
    """The shipped parameters are missing or malformed."""


def signals(
    question: str,
    passages: Sequence[Passage],
    stats: TermStats,
    similarity: Similarity | None,
    selection: Selection | None,
    passage_similarity: PassageSimilarity | None = None,
) -> dict[str, float]:
    """The signals of ``SIGNALS`` for one question and its retrieved passages (in that order).
    ``passage_similarity`` gives the question's cosines with whole passages (the engine reads
    the vectors the store holds); without it they are embedded through ``similarity``."""
    qterms = set(terms(question))
    weights = {t: stats.idf(t) for t in qterms}
    total = sum(weights.values())
    units = _compared_units(passages)
    # the terms naming each top passage's subject: its page title and heading
    heads = [set(terms(f"{p.title} {p.heading}")) for p in passages[:UNIT_PASSAGES]]
    unit_cos = passage_cos = 0.0
    meaning = dict.fromkeys(
        ("cosine_margin", "topic_gain", "topic_gain_max", "asked_cosine", "asked_margin"), 0.0
    )
    if similarity is not None and units:
        unit_cosines = _unit_cosines(question, units, similarity)
        unit_cos = max(unit_cosines, default=0.0)
        meaning = _beyond_topic(
            question, units, unit_cosines, passages, set().union(*heads), similarity
        )
        passage_cos = _passage_cosine(question, passages, similarity, passage_similarity)

    def support(found: set[str]) -> float:
        return sum(w for t, w in weights.items() if t in found) / total if total else 0.0

    unit_support = max(
        (support(set(terms(f"{u.text} {u.context} {u.lead}"))) for u in units), default=0.0
    )
    passage_support = (
        max((coverage_of(list(qterms), p, stats) for p in passages[:4]), default=0.0)
        if total
        else 0.0
    )
    unknown = support({t for t in qterms if stats.df.get(t, 0) == 0})
    parts = split_question(question)
    kind_missing = float(all(missing_kind(part, passages, stats) for part in parts))
    scores = [p.score for p in passages[:2]]
    first = scores[0] if scores else 0.0
    gap = (first - scores[1]) / first if len(scores) > 1 and first > 0 else 1.0
    attribute_support = max(
        (_attribute_share(weights, heads[u.passage], u) for u in units), default=0.0
    )
    types = answer_types(question)
    best_units = selection.ranked[:TYPED_UNITS] if selection is not None else []
    quoted = [u for group in selection.groups for u in group[2]] if selection is not None else []

    def lacks_type(candidates: Sequence[Unit]) -> float:
        return float(bool(types) and not any(t.search(u.text) for t in types for u in candidates))

    values = (
        float(unit_cos),
        float(passage_cos),
        unit_support,
        passage_support,
        unknown,
        kind_missing,
        100.0 * first,
        gap,
        selection.best_score if selection is not None else 0.0,
        math.log1p(len(qterms)),
        attribute_support,
        lacks_type(best_units),
        meaning["cosine_margin"],
        meaning["topic_gain"],
        meaning["topic_gain_max"],
        lacks_type(quoted),
        meaning["asked_cosine"],
        meaning["asked_margin"],
    )
    return dict(zip(SIGNALS, values, strict=True))


def cross_signals(
    question: str,
    passages: Sequence[Passage],
    similarity: Similarity | None,
    passage_similarity: PassageSimilarity | None = None,
) -> dict[str, float]:
    """The signals of ``CROSS_SIGNALS`` alone, as ``signals`` computes them: what the
    cross-language model reads, without the rest's work (another question embedded, the
    headings compared)."""
    units = _compared_units(passages)
    if similarity is None or not units:
        return dict.fromkeys(CROSS_SIGNALS, 0.0)
    unit_cos = max(_unit_cosines(question, units, similarity), default=0.0)
    passage_cos = _passage_cosine(question, passages, similarity, passage_similarity)
    return {"unit_cosine": float(unit_cos), "passage_cosine": passage_cos}


def _compared_units(passages: Sequence[Passage]) -> list[Unit]:
    """The units of the first ``UNIT_PASSAGES`` passages, compared with the question."""
    return [u for i, p in enumerate(passages[:UNIT_PASSAGES]) for u in split_units(p, i)]


def _unit_cosines(question: str, units: Sequence[Unit], similarity: Similarity) -> list[float]:
    """The question's e5 cosine with each unit."""
    return [float(c) for c in similarity(question, [embedding_text(u) for u in units])]


def _passage_cosine(
    question: str,
    passages: Sequence[Passage],
    similarity: Similarity,
    passage_similarity: PassageSimilarity | None,
) -> float:
    """The question's best e5 cosine with the first ``TOP_PASSAGES`` passages whole."""
    top = list(passages[:TOP_PASSAGES])
    cosines = (
        passage_similarity(question, top)
        if passage_similarity is not None
        else similarity(question, [p.text for p in top])
    )
    return float(max(cosines, default=0.0))


def _beyond_topic(
    question: str,
    units: Sequence[Unit],
    cosines: Sequence[float],
    passages: Sequence[Passage],
    topic: set[str],
    similarity: Similarity,
) -> dict[str, float]:
    """How much closer in meaning the units are to the question than their topic is: the best
    unit against the mean of the units (``cosine_margin``), each unit against its heading or
    page title (``topic_gain`` for the best unit, ``topic_gain_max`` for any), x 10; and the
    units' cosines with the question less its words in ``topic`` (``asked_cosine``, the best,
    and ``asked_margin``, x 10 over their mean). A unit that only shares the question's topic is
    hardly closer to it than its heading is, and hardly close to what is asked."""
    best = max(range(len(cosines)), key=lambda i: cosines[i])
    topics = [u.context or passages[u.passage].title for u in units]
    distinct = list(dict.fromkeys(t for t in topics if t))
    topic_cos = dict(zip(distinct, similarity(question, distinct), strict=True))
    gains = [10.0 * (c - float(topic_cos.get(t, c))) for c, t in zip(cosines, topics, strict=True)]
    asked = _without_topic(question, topic)
    asked_cosines = (
        [float(c) for c in similarity(asked, [embedding_text(u) for u in units])]
        if asked != question
        else list(cosines)
    )
    return {
        "cosine_margin": 10.0 * (cosines[best] - sum(cosines) / len(cosines)),
        "topic_gain": gains[best],
        "topic_gain_max": max(gains),
        "asked_cosine": max(asked_cosines),
        "asked_margin": 10.0 * (max(asked_cosines) - float(np.mean(asked_cosines))),
    }


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def _without_topic(question: str, topic: set[str]) -> str:
    """The question less its words whose terms name the topic ("What is the revenue of
    Brembo?" on Brembo's page -> "What is the revenue of ?"); the question itself when that
    would leave no content term."""
    kept = _WORD.sub(lambda m: "" if set(terms(m.group(0))) & topic else m.group(0), question)
    kept = re.sub(r"\s+", " ", kept).strip()
    return kept if terms(kept) else question


def _attribute_share(weights: dict[str, float], head: set[str], unit: Unit) -> float:
    """The rarity-weighted share of the question's terms outside the unit's page title and
    heading (what is asked about the page's subject) that the unit itself holds; 1 when the
    title and heading hold every term."""
    asked = {t: w for t, w in weights.items() if t not in head}
    total = sum(asked.values())
    if total <= 0:
        return 1.0 if weights else 0.0
    own = set(terms(f"{unit.text} {unit.lead} {unit.asked}"))
    return sum(w for t, w in asked.items() if t in own) / total


def standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(x - mean) / scale, clipped to +-CLIP (rows of signals in ``SIGNALS`` order)."""
    return np.clip((np.asarray(x, dtype=np.float64) - mean) / scale, -CLIP, CLIP)


@dataclass(frozen=True)
class AnswerableModel:
    """P(answerable | signals) = sigmoid(w . standardise(x) + b); answerable at threshold."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    # Hand-written rules of assistant.abstain kept beside the model, each only when measured
    # to help on questions it was not written from (see scripts/train_answerable.py).
    kinds_rule: bool = False
    comparison_rule: bool = False
    term_rule: bool = False

    def probability(self, values: dict[str, float]) -> float:
        """The probability that the retrieved passages answer the question."""
        x = np.asarray([values[name] for name in self.names], dtype=np.float64)
        logit = float(standardise(x, self.mean, self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def answerable(self, values: dict[str, float]) -> bool:
        """True when the probability reaches the calibrated threshold."""
        return self.probability(values) >= self.threshold


def from_dict(data: dict) -> AnswerableModel:
    """Build the model from the JSON structure written by scripts/train_answerable.py."""
    try:
        names = tuple(str(n) for n in data["signals"])
        mean, scale, weights = (
            np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "weights")
        )
        rules = {str(rule): bool(on) for rule, on in data.get("rules", {}).items()}
        model = AnswerableModel(
            names,
            mean,
            scale,
            weights,
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            kinds_rule=rules.get("kinds", False),
            comparison_rule=rules.get("comparison", False),
            term_rule=rules.get("term", False),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AnswerableModelError(f"malformed answerability parameters: {exc}") from exc
    unknown = set(names) - set(SIGNALS)
    if unknown:
        raise AnswerableModelError(f"malformed answerability parameters: unknown {unknown}")
    for array in (mean, scale, weights):
        if array.shape != (len(names),) or not np.all(np.isfinite(array)):
            raise AnswerableModelError(
                "malformed answerability parameters: mean, scale and weights need one finite "
                "value per signal"
            )
    if np.any(model.scale <= 0):
        raise AnswerableModelError("malformed answerability parameters: scale must be positive")
    return model


def load_cross_model() -> AnswerableModel:
    """The model for questions in a language the site has no pages in (``CROSS_SIGNALS``)."""
    model = load_model(CROSS_MODEL_FILE)
    if set(model.names) - set(CROSS_SIGNALS):
        raise AnswerableModelError(
            f"the cross-language model must read only {CROSS_SIGNALS}, not {model.names}"
        )
    return model


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> AnswerableModel:
    """The shipped model (read once per process)."""
    return from_dict(read_parameters(path, AnswerableModelError, "answerability"))


def decide(
    question: str,
    language: str,
    passages: Sequence[Passage],
    stats: TermStats,
    selection: Selection | None,
    similarity: Similarity | None,
    *,
    passage_similarity: PassageSimilarity | None = None,
    follow_up: bool = False,
    cross_language: bool = False,
    model: AnswerableModel | None = None,
) -> Verdict:
    """The abstention decision: the hard checks of ``assistant.abstain`` (nothing retrieved,
    the source saying it does not say, and the rules the model keeps), then the model.

    A follow-up's words lean on the conversation, so it gets the hard checks only. A question
    in a language the site has no pages in (``cross_language``) is read by its meaning alone:
    no rule on its words, and the model fitted on the e5 cosines only (``load_cross_model``).
    """
    if cross_language:
        return _decide_across(
            question,
            language,
            passages,
            stats,
            selection,
            similarity,
            passage_similarity,
            follow_up,
            model or load_cross_model(),
        )
    model = model or load_model()
    verdict = assess(
        question,
        language,
        passages,
        stats,
        selection,
        lexical=False,
        follow_up=follow_up,
        kinds_rule=model.kinds_rule,
    )
    if not verdict.answerable or follow_up:
        return verdict
    qterms = terms(question)
    if not any(ch.isalpha() for ch in question) or not (qterms or about_site(question)):
        # "0", "???", emoji, control characters, "ciao": no word to look anything up by
        verdict.answerable, verdict.reason = False, "no words to answer"
        return verdict
    if selection is None:
        verdict.answerable, verdict.reason = False, "no sentence matches the question"
        return verdict
    if not qterms:
        # "Where is Kilometro Rosso?", "Where is the district?": the site is its only content
        # (terms drop its names and the words every page says about it), so
        # the signals built on terms say nothing; the question is about the site itself.
        return verdict
    if model.comparison_rule and compares_elsewhere(question, stats):
        verdict.answerable, verdict.reason = False, "compares with another place"
        return verdict
    if model.term_rule:
        lexical = assess(
            question, language, passages, stats, selection, kinds_rule=model.kinds_rule
        )
        if not lexical.answerable:
            return lexical
    values = signals(question, passages, stats, similarity, selection, passage_similarity)
    return _judged(verdict, model, values, "the sources do not answer it")


def _decide_across(
    question: str,
    language: str,
    passages: Sequence[Passage],
    stats: TermStats,
    selection: Selection | None,
    similarity: Similarity | None,
    passage_similarity: PassageSimilarity | None,
    follow_up: bool,
    model: AnswerableModel,
) -> Verdict:
    """``decide`` for a question in a language the site has no pages in: the hard checks that
    do not read the question's words, then the cross-language model."""
    verdict = assess(
        question,
        language,
        passages,
        stats,
        selection,
        lexical=False,
        follow_up=follow_up,
        kinds_rule=False,
    )
    if not verdict.answerable or follow_up:
        return verdict
    if not any(ch.isalpha() for ch in question):
        verdict.answerable, verdict.reason = False, "no words to answer"
        return verdict
    if selection is None:
        verdict.answerable, verdict.reason = False, "no sentence matches the question"
        return verdict
    # the model reads the cosines only (load_cross_model): the other signals are not computed
    values = cross_signals(question, passages, similarity, passage_similarity)
    return _judged(verdict, model, values, "the sources do not answer it across languages")


def _judged(
    verdict: Verdict, model: AnswerableModel, values: dict[str, float], reason: str
) -> Verdict:
    """The verdict with the model's probability; declined, with ``reason``, below its threshold."""
    probability = model.probability(values)
    verdict.probability = probability
    if probability < model.threshold:
        verdict.answerable = False
        verdict.reason = f"{reason} (p={probability:.2f})"
    return verdict
