"""Questions in a language the site has no pages in (German, French, Spanish, Portuguese).

They are answered in English from the pages, opened by one line in the asker's language saying
so, and still declined when out of scope. The first part reads shipped files and the question
sets only; the last tests ask the real engine over the sample site's index (real e5 model).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.answerable import (
    CROSS_MODEL_FILE,
    CROSS_SIGNALS,
    cross_signals,
    load_cross_model,
)
from assistant.compose import OTHER_LANGUAGE_NOTES, with_language_note
from assistant.conversation import OTHER_LANGUAGES, other_language, prepare_question
from assistant.schema import Answer

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "data" / "eval"
SCRIPTS = ROOT / "scripts"


def _questions(name: str) -> list[dict]:
    lines = (EVAL / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_question_set_is_in_the_other_languages() -> None:
    rows = _questions("other_languages.jsonl")
    assert len(rows) == 30
    assert {r["lang"] for r in rows} == set(OTHER_LANGUAGES)
    assert sum(r["kind"] == "out-of-scope" for r in rows) == 10
    for r in rows:
        assert other_language(r["question"]) == r["lang"], r["question"]


@pytest.mark.parametrize(
    "name",
    ["dev.jsonl", "independent.jsonl", "fresh_questions.jsonl", "fresh_questions2.jsonl"],
)
def test_no_english_or_italian_question_is_taken_for_another_language(name: str) -> None:
    # question sets written for the site's own languages, by several people
    for row in _questions(name):
        assert other_language(row["question"]) == "", row["question"]


@pytest.mark.parametrize("question", ["Brembo?", "Wie hoch?", "parking", "0", "", "🙂🙂"])
def test_a_question_too_short_to_tell_stays_in_the_site_languages(question: str) -> None:
    assert other_language(question) == ""
    assert prepare_question(question).asked_in == ""


def test_a_question_in_another_language_is_prepared_for_an_english_answer() -> None:
    prepared = prepare_question("Wann wurde der Campus offiziell eingeweiht?")
    assert (prepared.language, prepared.asked_in) == ("en", "de")
    # a language the caller asks for is kept as it is
    chosen = prepare_question("Wann wurde der Campus offiziell eingeweiht?", language="it")
    assert (chosen.language, chosen.asked_in) == ("it", "")


def test_the_note_opens_the_answer_in_the_askers_language() -> None:
    answer = Answer(text="Alberto Bombassei. [1]", sources=[], language="en", abstained=False)
    noted = with_language_note(answer, "fr")
    assert noted.text.splitlines() == [OTHER_LANGUAGE_NOTES["fr"], "Alberto Bombassei. [1]"]
    assert with_language_note(answer, "") is answer
    assert "English" in with_language_note(answer, "nl").text.splitlines()[0]


def test_the_cross_language_model_is_what_the_script_fits_and_reads_only_cosines() -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import train_answerable
    finally:
        sys.path.remove(str(SCRIPTS))
    shipped = json.loads(CROSS_MODEL_FILE.read_text(encoding="utf-8"))
    refit = train_answerable.fit_model(
        train_answerable.TABLE,
        CROSS_SIGNALS,
        (),
        calibrate=train_answerable.CROSS_TABLE,
        left_out=train_answerable.CROSS_OUT,
    )
    assert refit["signals"] == shipped["signals"] == list(CROSS_SIGNALS)
    assert refit["threshold"] == shipped["threshold"] and shipped["rules"] == {}
    for key in ("mean", "scale", "weights"):
        assert np.allclose(refit[key], shipped[key], atol=1e-6)
    assert refit["held_out"] == shipped["held_out"]
    # calibrated across languages too: dev's questions asked against the other language's pages
    across = shipped["held_out"]["dev_across_languages"]
    assert across["false_abstention"] <= 0.03 and across["n_answerable"] >= 50
    model = load_cross_model()
    assert model.names == CROSS_SIGNALS
    assert not (model.comparison_rule or model.term_rule or model.kinds_rule)


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Wer ist der Architekt der roten Mauer?", "Nouvel"),
        ("¿Cuándo se inauguró oficialmente el Kilometro Rosso?", "2009"),
    ],
)
def test_a_question_in_another_language_is_answered_in_english_saying_so(
    sample_index,  # noqa: ANN001
    question: str,
    fact: str,
) -> None:
    answer = sample_index.assistant.answer(question)
    assert not answer.abstained and answer.sources
    assert answer.language == "en"
    first, rest = answer.text.split("\n", 1)
    assert first == OTHER_LANGUAGE_NOTES[other_language(question)]
    assert fact in rest


@pytest.mark.parametrize(
    "question",
    ["Wer ist der Architekt der roten Mauer?", "Was ist die Hauptstadt von Frankreich?"],
)
def test_the_cross_language_decision_reads_the_cosines_all_signals_hold(
    sample_index,  # noqa: ANN001
    question: str,
) -> None:
    """The cross-language model's inputs, computed alone, are those of the full signals."""
    evidence = sample_index.assistant.evidence(question)
    assert evidence.cross_language and evidence.passages
    every = evidence.signals()
    alone = cross_signals(
        evidence.question, evidence.passages, evidence.similarity, evidence.passage_similarity
    )
    assert alone == {name: every[name] for name in CROSS_SIGNALS}
    assert alone["unit_cosine"] > 0.5


@pytest.mark.parametrize(
    "question",
    ["Was ist die Hauptstadt von Frankreich?", "Qui a écrit Les Misérables ?"],
)
def test_an_out_of_scope_question_in_another_language_is_declined(
    sample_index,  # noqa: ANN001
    question: str,
) -> None:
    answer = sample_index.assistant.answer(question)
    assert answer.abstained and answer.sources == []
    assert sample_index.settings.contact_phone in answer.text
