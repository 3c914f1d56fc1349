"""Curated answers reach visitors whose question means the same, in either language, with
the real multilingual-e5-small; expired, disabled and different questions never get one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest

from assistant.config import Settings
from assistant.curated import (
    CuratedMatcher,
    CuratedStore,
    Thresholds,
    accepts,
    numbers,
    query_embedder,
    without_curated,
)
from assistant.records_db import GapGroup
from assistant.staff_db import open_engine

# Lines for these tests (the calibrated defaults are higher; this tests the mechanism).
LINES = Thresholds(same_language=0.95, cross_language=0.94)
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
    return CuratedMatcher(store, query_embedder(embeddings), LINES)


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


def test_the_number_rule_and_the_language_lines() -> None:
    assert numbers("Open Labs 2025, gate 07") == frozenset({"2025", "7"})
    assert accepts(0.96, True, "Open Labs 2025?", "Open Labs 2025 date?", LINES)
    assert not accepts(0.99, True, "Open Labs 2025?", "Open Labs 2024?", LINES)
    assert not accepts(0.945, True, "a", "b", LINES) and accepts(0.945, False, "a", "b", LINES)


def test_settings_carry_the_calibrated_lines(make_settings: Callable[..., Settings]) -> None:
    lines = Thresholds.from_settings(make_settings())
    assert 0.8 < lines.cross_language <= 1 and 0.8 < lines.same_language <= 1
