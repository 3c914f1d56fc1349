"""Curated answers reach visitors whose question means the same, in either language, with
the real multilingual-e5-small: given at once for the same wording, offered ("Did you mean
...?") and given when chosen otherwise; expired, disabled and different questions never get
one."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.curated_features import (
    Wording,
    char_grams,
    numbers,
    numbers_conflict,
    pair_features,
)
from assistant.curated_match import (
    CuratedMatcher,
    MatchModel,
    accepts,
    query_embedder,
    without_curated,
)
from assistant.curated_store import CuratedStore
from assistant.curated_suggest import SuggestModel
from assistant.gaps import GapGroup
from assistant.staff_db import open_engine

MODEL = MatchModel.load()  # the shipped, calibrated model (scripts/bench_curated.py)
AT_LINE = dataclasses.replace(MODEL, unasked=True)  # as with KMR_CURATED_MIN_PROBABILITY set
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


def test_a_paraphrase_is_offered_the_curated_answer_and_gets_it_when_chosen_with_a_note(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    created = store.create(FOUNDER, actor="anna")
    same = matcher.match("chi ha fondato il Kilometro Rosso", "it")  # the same words
    assert same is not None and same.answer_id == created["id"]
    assert same.text == FOUNDER["answer_it"]  # returned as the plain text it is
    assert same.language == "it" and same.note is None
    assert same.updated_at == created["updated_at"][:10]
    assert same.links[0]["url"].endswith("/storia")

    # Another wording, here in the other language: not given unasked (the shipped model
    # file's ``unasked`` is false), offered as the answer's own question...
    asked = matcher.lookup("Who founded Kilometro Rosso?", "en")
    assert asked.match is None
    assert [(s.answer_id, s.question) for s in asked.suggestions] == [
        (created["id"], FOUNDER["questions"][0])
    ]
    # ...and given, with its note, when the visitor chooses it.
    other = matcher.chosen(created["id"], "en")
    assert other is not None and other.answer_id == created["id"]
    assert other.language == "it" and other.note and "Italian" in other.note


def test_offers_rank_the_answer_meant_first_in_the_visitors_language_and_skip_expired_ones(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    parking = store.create(
        {
            "questions": ["Where can visitors park?", "Dove possono parcheggiare i visitatori?"],
            "answer_en": "Car park P1.",
        },
        actor="anna",
    )
    store.create(FOUNDER, actor="anna")
    labs = store.create(OPEN_LABS, actor="anna")
    asked = matcher.lookup("C'è un parcheggio per chi viene in visita?", "it")
    assert asked.match is None and asked.suggestions
    first = asked.suggestions[0]
    assert first.answer_id == parking["id"]
    assert first.question == "Dove possono parcheggiare i visitatori?"  # the visitor's language
    assert len({s.answer_id for s in asked.suggestions}) == len(asked.suggestions)  # one each

    # An answer about Open Labs 2025 is never offered for 2024 (the numbers must agree).
    other_year = matcher.lookup("Quando si è tenuto l'Open Labs 2024?", "it")
    assert labs["id"] not in [s.answer_id for s in other_year.suggestions]

    store.update(
        parking["id"],
        {
            "questions": ["Where can visitors park?", "Dove possono parcheggiare i visitatori?"],
            "answer_en": "Car park P1.",
            "expires_on": "2025-01-01",
        },
        expected_version=1,
        actor="marco",
    )
    later = matcher.lookup("C'è un parcheggio per chi viene in visita?", "it")
    assert parking["id"] not in [s.answer_id for s in later.suggestions]
    assert matcher.chosen(parking["id"], "it") is None  # expired: not given even if chosen
    assert matcher.chosen(999_999, "it") is None


def test_an_unrelated_question_is_offered_nothing(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    store.create(FOUNDER, actor="anna")
    store.create(OPEN_LABS, actor="anna")
    asked = matcher.lookup("Qual è la capitale dell'Australia?", "it")
    assert asked.match is None and asked.suggestions == []


def test_unrelated_questions_and_questions_naming_another_year_get_none(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    store.create(OPEN_LABS, actor="anna")
    assert matcher.match("When is Open Labs 2025?", "en") is not None
    # Shipped, only the same wording is given; the model at its line must refuse these too.
    at_line = CuratedMatcher(store, matcher.embed, AT_LINE)
    for each in (matcher, at_line):
        assert each.match("When was Open Labs 2024?", "en") is None
        assert each.match("Quando si è tenuto l'Open Labs 2024?", "it") is None
        assert each.match("How many people work at Kilometro Rosso?", "en") is None
        assert each.match("Quanti ettari misura il campus?", "it") is None


def test_with_nothing_given_unasked_a_match_embeds_no_question_and_offers_do(
    store: CuratedStore, matcher: CuratedMatcher
) -> None:
    """The gaps report's ``match`` needs only the words; offers need the question's vector."""
    store.create(OPEN_LABS, actor="anna")
    embedded: list[str] = []

    def counting(texts: list[str]) -> Any:
        embedded.extend(texts)
        return matcher.embed(texts)

    counted = CuratedMatcher(store, counting, MODEL)
    assert counted.match("when is open labs 2025", "en") is not None
    assert counted.match("Quando si è tenuto l'Open Labs 2025?", "it") is None
    assert embedded == OPEN_LABS["questions"]  # the curated side only, once
    offered = counted.lookup("Quando si è tenuto l'Open Labs 2025?", "it")
    assert offered.match is None and embedded[-1] == "Quando si è tenuto l'Open Labs 2025?"


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
        gap("chi ha fondato il Kilometro Rosso", "it"),  # staff answer it in its own words
        gap("Is there a gym on campus?", "en"),
    ]
    assert without_curated(groups, matcher) == groups
    store.create(FOUNDER, actor="anna")
    assert [g.question for g in without_curated(groups, matcher)] == ["Is there a gym on campus?"]


def test_the_number_rule_the_line_and_the_same_wording() -> None:
    assert numbers("Open Labs 2025, gate 07") == frozenset({"2025", "7"})
    assert accepts(AT_LINE.line, "Open Labs 2025?", "Open Labs 2025 date?", AT_LINE)
    assert not accepts(0.999, "Open Labs 2025?", "Open Labs 2024?", AT_LINE)
    assert not accepts(AT_LINE.line - 0.01, "Where to park?", "Where to eat?", AT_LINE)
    # The shipped file gives nothing unasked from the line, only the same wording.
    assert not MODEL.unasked
    assert not accepts(0.999, "Open Labs 2025?", "Open Labs 2025 date?", MODEL)
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
def test_pairs_from_the_calibration_data_are_offered_never_given_unasked(
    store: CuratedStore, matcher: CuratedMatcher, topic: int, kind: str
) -> None:
    pair = _pair(topic, kind)
    created = store.create({"questions": [pair["a"]], "answer_en": "Staff answer."}, actor="anna")
    found = matcher.lookup(pair["b"], pair["b_lang"])
    assert found.match is None, pair["b"]  # another wording: never given unasked
    if pair["match"]:
        assert [s.answer_id for s in found.suggestions] == [created["id"]], pair["b"]
    # The model at its line (KMR_CURATED_MIN_PROBABILITY set) still tells the two apart.
    at_line = CuratedMatcher(store, matcher.embed, AT_LINE).match(pair["b"], pair["b_lang"])
    assert (at_line is not None and at_line.answer_id == created["id"]) == pair["match"], pair["b"]


def test_settings_may_move_the_calibrated_line(make_settings: Callable[..., Settings]) -> None:
    assert MatchModel.from_settings(make_settings()).line == MODEL.line
    assert not MatchModel.from_settings(make_settings()).unasked
    assert 0.5 < MODEL.line < 1 and MODEL.embedding_model == "multilingual-e5-small"
    moved = MatchModel.from_settings(make_settings(curated_min_probability=0.97))
    assert moved.line == 0.97 and moved.weights == MODEL.weights and moved.unasked


def test_the_suggestion_file_is_checked(tmp_path) -> None:
    shipped = SuggestModel.load()
    assert set(shipped.means) == {"it", "en"} and shipped.count >= 1
    assert 0 < shipped.floor < 1 + shipped.site_weight  # the best cosine plus the weighted share
    bad = tmp_path / "suggest.json"
    bad.write_text(json.dumps({"means": {"it": [0.1, 0.2], "en": [0.1]}, "floor": 0.3, "count": 3}))
    with pytest.raises(ValueError, match="one mean vector of one size"):
        SuggestModel.load(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read the curated-suggestion parameters"):
        SuggestModel.load(bad)
    with pytest.raises(ValueError, match="a vector of 3"):
        shipped.centred(np.ones(3, dtype=np.float32), "it")


def _bench() -> Any:
    from support.scripts import load_script

    return load_script("bench_curated")


@pytest.mark.parametrize(
    ("name", "least_recall", "most_offers"),
    [
        # README, shipped offers: 0.90 (108/120), 1.58 offers a question (main's was 0.84, 1.64)
        ("paraphrases_fresh.jsonl", 0.875, 1.7),
        # 0.865 (134/155), 1.55 (main's 0.755, 1.43): the set the offers' first choice never saw
        ("paraphrases_fresh3.jsonl", 0.84, 1.7),
    ],
)
def test_a_pairs_set_as_the_matcher_meets_it_nothing_wrong_given_most_answers_offered(
    embeddings, name: str, least_recall: float, most_offers: float
) -> None:
    """The README's figures for two seen sets, held to within a few questions: a change to
    the ranking, the gate, the count, the margin or the policy that loses them fails here."""
    band = _bench().offers(
        PROJECT_ROOT / "data/eval" / name,
        query_embedder(embeddings),
        MODEL,
        SuggestModel.load(),
    )
    assert band["unasked"]["wrong"] <= 1  # fresh3: a near miss worded as another's question
    assert band["with_confirmation"]["precision"] >= 0.96
    assert band["with_confirmation"]["recall"] >= least_recall
    assert band["offers_per_question"] <= most_offers


def test_numbers_conflict_only_when_both_questions_name_other_numbers() -> None:
    assert numbers_conflict("When is Open Labs 2025?", "When was Open Labs 2024?")
    assert not numbers_conflict("When is Open Labs?", "When is Open Labs 2025?")
    assert not numbers_conflict("Open Labs 2025?", "open labs, 2025")
    assert not numbers_conflict("Where to park?", "Where to eat?")


def _model(floor: float, count: int, margin: float, weight: float = 0.0) -> SuggestModel:
    shipped = SuggestModel.load()
    return dataclasses.replace(shipped, floor=floor, count=count, margin=margin, site_weight=weight)


def test_offers_stop_at_the_count_the_margin_and_keep_one_wording_per_answer() -> None:
    scores = np.array([0.50, 0.48, 0.47, 0.45, 0.30])
    owners = [0, 0, 1, 2, 3]  # answer 0 has two wordings
    allowed = [True, True, True, True, True].__getitem__
    assert _model(0.2, 4, 1.0).offered(scores, 0.5, allowed, owners) == [0, 2, 3, 4]
    assert _model(0.2, 2, 1.0).offered(scores, 0.5, allowed, owners) == [0, 2]
    assert _model(0.2, 4, 0.04).offered(scores, 0.5, allowed, owners) == [0, 2]
    # The margin counts from the first answer offered, not from one that is not allowed.
    held_back = [False, True, True, True, True].__getitem__
    assert _model(0.2, 4, 0.04).offered(scores, 0.5, held_back, owners) == [1, 2, 3]
    assert _model(0.6, 4, 1.0).offered(scores, 0.5, allowed, owners) == []  # under the floor


def test_the_gate_adds_how_much_a_question_lies_in_the_sites_question_space() -> None:
    shipped = SuggestModel.load()
    assert len(shipped.site) and shipped.site_weight > 0 and shipped.count >= 1
    inside = shipped.site[0]  # a site direction: wholly in that space
    assert shipped.on_site(inside) == pytest.approx(1.0, abs=1e-3)
    assert shipped.gate(inside, 0.2) == pytest.approx(0.2 + shipped.site_weight, abs=1e-3)
    outside = np.zeros_like(inside)
    assert shipped.on_site(outside) == 0.0 and shipped.gate(outside, 0.2) == 0.2
    without = dataclasses.replace(shipped, site=np.zeros((0, len(inside)), dtype=np.float32))
    assert without.gate(inside, 0.2) == 0.2  # a file without site directions: the cosine


def test_a_suggestion_file_of_the_earlier_format_still_loads(tmp_path) -> None:
    earlier = tmp_path / "suggest.json"
    earlier.write_text(
        json.dumps({"means": {"it": [0.1, 0.2], "en": [0.2, 0.1]}, "floor": 0.3, "count": 3})
    )
    model = SuggestModel.load(earlier)
    assert len(model.site) == 0 and model.site_weight == 0.0 and model.margin == 1.0
