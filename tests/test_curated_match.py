"""Curated answers reach visitors whose question means the same, in either language, with
the real multilingual-e5-small; expired, disabled and different questions never get one."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.curated_features import Wording, char_grams, numbers, pair_features
from assistant.curated_match import (
    CuratedMatcher,
    MatchModel,
    accepts,
    query_embedder,
    without_curated,
)
from assistant.curated_store import CuratedStore
from assistant.gaps import GapGroup
from assistant.staff_db import open_engine

MODEL = MatchModel.load()  # the shipped, calibrated model (scripts/bench_curated.py)
FOUNDER = {
    "questions": ["Chi ha fondato il Kilometro Rosso?"],
    "answer_it": "Alberto Bombassei, fondatore di Brembo. <b>Non HTML</b>",
    "links": [{"title": "Storia", "url": "https://www.kilometrorosso.com/it/chi-siamo/storia"}],
}
OPEN_LABS = {
    "questions": ["Quando si tiene l'Open Labs 2025?", "When is Open Labs 2025?"],
    "answer_it": "Sabato 11 ottobre 2025, con BergamoScienza.",
    "answer_en": "Saturday 11 October 2025, with BergamoScienza.",
}


@pytest.fixture
def store(make_settings: Callable[..., Settings]) -> CuratedStore:
    return CuratedStore(open_engine(make_settings()))


@pytest.fixture
def matcher(store: CuratedStore, embeddings) -> CuratedMatcher:
    return CuratedMatcher(store, query_embedder(embeddings), MODEL)


def test_a_paraphrase_gets_the_curated_answer_and_the_other_language_gets_it_with_a_note(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    created = store.create(FOUNDER, actor="anna")
    same = matcher.match("Da chi è stato fondato il Kilometro Rosso?", "it")
    assert same is not None and same.answer_id == created["id"]
    assert same.text == FOUNDER["answer_it"]  # returned as the plain text it is
    assert same.language == "it" and same.note is None
    assert same.updated_at == created["updated_at"][:10]
    assert same.links[0]["url"].endswith("/storia")

    other = matcher.match("Who founded Kilometro Rosso?", "en")
    assert other is not None and other.answer_id == created["id"]
    assert other.language == "it" and other.note and "Italian" in other.note


def test_unrelated_questions_and_questions_naming_another_year_get_none(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    store.create(OPEN_LABS, actor="anna")
    assert matcher.match("When is Open Labs 2025?", "en") is not None
    assert matcher.match("When was Open Labs 2024?", "en") is None
    assert matcher.match("Quando si è tenuto l'Open Labs 2024?", "it") is None
    assert matcher.match("How many people work at Kilometro Rosso?", "en") is None
    assert matcher.match("Quanti ettari misura il campus?", "it") is None


def test_an_expired_or_disabled_answer_is_never_used_and_edits_apply_at_once(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    created = store.create({**OPEN_LABS, "expires_on": "2025-10-11"}, actor="anna")
    question = "When is Open Labs 2025?"
    assert matcher.match(question, "en", today=date(2025, 10, 11)) is not None
    assert matcher.match(question, "en", today=date(2025, 10, 12)) is None

    store.update(
        created["id"], {**OPEN_LABS, "expires_on": None}, expected_version=1, actor="marco"
    )
    found = matcher.match(question, "en")
    assert found is not None and found.version == 2
    store.set_enabled(created["id"], False, expected_version=2, actor="anna")
    assert matcher.match(question, "en") is None
    store.set_enabled(created["id"], True, expected_version=3, actor="anna")
    assert matcher.match(question, "en") is not None


def test_a_gap_that_gets_a_curated_answer_leaves_the_gaps_report(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    def gap(question: str, language: str) -> GapGroup:
        return GapGroup(
            question=question,
            count=3,
            refused=3,
            rated_down=0,
            last_asked=datetime(2026, 11, 30),
            languages=[language],
        )

    groups = [
        gap("Da chi è stato fondato il Kilometro Rosso?", "it"),
        gap("Is there a gym on campus?", "en"),
    ]
    assert without_curated(groups, matcher) == groups
    store.create(FOUNDER, actor="anna")
    assert [g.question for g in without_curated(groups, matcher)] == ["Is there a gym on campus?"]


def test_the_number_rule_the_line_and_the_same_wording() -> None:
    assert numbers("Open Labs 2025, gate 07") == frozenset({"2025", "7"})
    assert accepts(MODEL.line, "Open Labs 2025?", "Open Labs 2025 date?", MODEL)
    assert not accepts(0.999, "Open Labs 2025?", "Open Labs 2024?", MODEL)
    assert not accepts(MODEL.line - 0.01, "Where to park?", "Where to eat?", MODEL)
    # A question always means itself, whatever the case, spacing and punctuation.
    assert accepts(0.0, "When is Open Labs?", "  when is OPEN labs ", MODEL)


def test_the_model_prefers_a_paraphrase_to_a_near_miss_and_a_repeat_to_both() -> None:
    def probability(cosine: float, a: str, b: str) -> float:
        # Two questions whose e5 vectors are at ``cosine`` (the real model is not needed).
        first = Wording(a, "en", np.array([1.0, 0.0]), char_grams(a))
        second = Wording(b, "en", np.array([cosine, (1 - cosine**2) ** 0.5]), char_grams(b))
        forward = float(MODEL.probability(np.array([pair_features(first, second)]))[0])
        backward = float(MODEL.probability(np.array([pair_features(second, first)]))[0])
        assert forward == pytest.approx(backward)  # the features are symmetric
        return forward

    repeat = probability(
        0.995, "Is there a canteen on the campus?", "Is there a canteen on campus?"
    )
    paraphrase = probability(
        0.95, "Where can visitors park?", "Is there a car park for guests coming here?"
    )
    near_miss = probability(
        0.97, "Is the campus open on Sundays?", "Is the campus open on Saturdays?"
    )
    assert repeat > MODEL.line > near_miss and paraphrase > near_miss


PAIRS = [
    json.loads(line)
    for line in (PROJECT_ROOT / "data/eval/paraphrases.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]


def _pair(topic: int, kind: str) -> dict[str, Any]:
    return next(p for p in PAIRS if p["topic"] == topic and p["kind"] == kind)


@pytest.mark.parametrize("topic", [3, 5])  # "... in treno?", "Chi ha fondato ...?"
@pytest.mark.parametrize(
    "kind", ["paraphrase", "cross-language paraphrase", "near miss", "cross-language near miss"]
)
def test_pairs_from_the_calibration_data_match_only_when_they_mean_the_same(
    store: CuratedStore, matcher: CuratedMatcher, topic: int, kind: str
) -> None:
    pair = _pair(topic, kind)
    created = store.create({"questions": [pair["a"]], "answer_en": "Staff answer."}, actor="anna")
    found = matcher.match(pair["b"], pair["b_lang"])
    if pair["match"]:
        assert found is not None and found.answer_id == created["id"], pair["b"]
    else:
        assert found is None, pair["b"]


def test_settings_may_move_the_calibrated_line(make_settings: Callable[..., Settings]) -> None:
    assert MatchModel.from_settings(make_settings()).line == MODEL.line
    assert 0.5 < MODEL.line < 1 and MODEL.embedding_model == "multilingual-e5-small"
    moved = MatchModel.from_settings(make_settings(curated_min_probability=0.97))
    assert moved.line == 0.97 and moved.weights == MODEL.weights
