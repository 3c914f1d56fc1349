"""The precise answer form: one lead unit, a second only when it may be the answer, then
"see also"; the lead-unit model's parameters are reproduced by scripts/train_lead.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from support.passages import page

from assistant import lead
from assistant.compose import compose
from assistant.extractive import select
from assistant.terms import TermStats
from assistant.units import Unit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import train_lead  # noqa: E402

WALL = page(
    1,
    "The red wall",
    "The red wall runs along the motorway for about one kilometre. "
    "The wall is 10 metres high and was designed by Jean Nouvel. "
    "Its portals were added in 2021.",
)
HISTORY = page(2, "History", "The wall was finished in 2009, when the district opened.")
VISIT = page(3, "Visiting", "The wall can be seen from the motorway and from aircraft.")


def unit(score: float, cosine: float, passage: int = 0, text: str = "a sentence here") -> Unit:
    return Unit(passage, 0, text, "sentence", -1, score=score, cosine=cosine)


def test_the_shipped_parameters_are_reproduced_by_the_training_script() -> None:
    shipped = json.loads(lead.MODEL_FILE.read_text(encoding="utf-8"))
    assert train_lead.fit_model() == shipped
    assert lead.load_model().margin == shipped["margin"]


def test_malformed_parameters_are_refused_with_a_clear_error() -> None:
    good = json.loads(lead.MODEL_FILE.read_text(encoding="utf-8"))
    with pytest.raises(lead.LeadModelError, match="features"):
        lead.from_dict({**good, "features": ["score_gap"]})
    with pytest.raises(lead.LeadModelError, match="margin"):
        lead.from_dict({**good, "margin": -1})
    with pytest.raises(lead.LeadModelError, match="malformed"):
        lead.from_dict({"weights": good["weights"]})


def test_a_second_unit_is_added_only_when_nearly_as_likely_as_the_lead() -> None:
    model = lead.LeadModel(np.array([1.0, 0, 0, 0, 0, 0, 0, 0]), 0.0, margin=0.5)
    clear = [unit(2.0, 0.8), unit(1.0, 0.8)]
    assert model.choose(clear) == clear[:1]
    close = [unit(2.0, 0.8), unit(1.8, 0.8), unit(1.7, 0.8)]
    assert model.choose(close) == close[:2]  # never more than two
    assert model.choose([]) == []


def test_the_lead_can_be_a_unit_below_the_best_score() -> None:
    # a model that trusts meaning (cosine) over the word score
    model = lead.LeadModel(np.array([0.1, 1.0, 0, 0, 0, 0, 0, 0]), 0.0, margin=0.1)
    words, meaning = unit(1.0, 0.70, text="shares words"), unit(0.9, 0.85, text="answers")
    assert model.choose([words, meaning]) == [meaning]


def test_an_answer_leads_with_one_unit_and_points_to_the_other_pages() -> None:
    passages = [WALL, HISTORY, VISIT]
    stats = TermStats(p.text for p in passages)
    selection = select("how high is the red wall?", passages, "en", stats)
    assert selection is not None
    text, sources = compose(selection, passages, "en")
    first = text.split("[1]")[0]
    assert "10 metres high" in first
    assert text.count("[1]") == 1 and len(selection.groups) <= 2
    assert text.rstrip().endswith(".") and "See also: [2]" in text
    assert [s.n for s in sources] == list(range(1, len(sources) + 1))
    assert sources[0].url == WALL.url
    assert {s.url for s in sources[1:]} <= {HISTORY.url, VISIT.url}


def test_see_also_is_in_the_askers_language() -> None:
    passages = [WALL, HISTORY, VISIT]
    selection = select("how high is the red wall?", passages, "it", TermStats(WALL.text))
    assert selection is not None and selection.see_also
    text, _ = compose(selection, passages, "it")
    assert "Vedi anche: [2]" in text
