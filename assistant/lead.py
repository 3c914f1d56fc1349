"""Which unit leads an extractive answer: a small learned ranking over the selector's units.

The selector scores every unit against the question (``assistant.scoring``); the unit with the
best score is not always the one that answers (a neighbouring measurement, a former holder of a
role, a unit from a page further down the search). A logistic model over what is already
computed for each of the best ``TOP_UNITS`` units (``FEATURES``: its score against the best one,
its e5 cosine against the best one, the rank of its passage, whether it holds the kind of thing
asked for, list item or table row, its length, its rank by score) gives the chance that the
unit holds the answer. The answer leads with the most likely unit and adds the next one only
when it is nearly as likely (within ``margin`` in log-odds): a second unit when the first may
not be the answer, never a collage.

The parameters live in ``lead_data/model.json``, reproduced by ``scripts/train_lead.py`` from
the development questions (``data/eval/dev.jsonl``: a unit is a positive when it holds one of
the question's facts); the held-out sets are never read by it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.model_files import read_parameters
from assistant.units import Unit

MODEL_FILE = Path(__file__).with_name("lead_data") / "model.json"
TOP_UNITS = 10  # the units compared: the best by score (the rest never lead)
FEATURES = (
    "score_gap",  # the unit's score minus the best unit's score
    "cosine_gap",  # (its e5 cosine minus the best cosine among the compared units) x 10
    "passage_rank",  # the searcher's rank of its passage / 10
    "typed",  # 1 when it holds the kind of thing asked for (a date for "when")
    "row",  # 1 for a table row
    "item",  # 1 for a list item
    "length",  # log(characters) - 4.5
    "score_rank",  # its rank by score among the compared units / 10
)


class LeadModelError(Exception):
    """The shipped parameters are missing or malformed."""


def features(units: Sequence[Unit]) -> np.ndarray:
    """One row of ``FEATURES`` per unit; ``units`` are sorted by score, best first."""
    if not units:
        return np.zeros((0, len(FEATURES)))
    best = max(u.score for u in units)
    top_cosine = max(u.cosine for u in units)
    rows = [
        [
            u.score - best,
            (u.cosine - top_cosine) * 10,
            u.passage / 10,
            float(u.typed),
            float(u.kind == "row"),
            float(u.kind == "item"),
            math.log(max(len(u.text), 1)) - 4.5,
            i / 10,
        ]
        for i, u in enumerate(units)
    ]
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class LeadModel:
    """logit(unit holds the answer) = w . features + b; a second unit within ``margin``."""

    weights: np.ndarray
    bias: float
    margin: float

    def logits(self, units: Sequence[Unit]) -> np.ndarray:
        """The log-odds that each unit holds the answer."""
        return features(units) @ self.weights + self.bias

    def choose(self, units: Sequence[Unit], most: int = 2) -> list[Unit]:
        """The lead unit, then (up to ``most`` in all) those within ``margin`` of it."""
        top = list(units[:TOP_UNITS])
        if not top:
            return []
        logits = self.logits(top)
        order = sorted(range(len(top)), key=lambda i: (-logits[i], i))
        lead = logits[order[0]]
        return [top[i] for i in order[:most] if logits[i] >= lead - self.margin]


def from_dict(data: dict) -> LeadModel:
    """Build the model from the JSON written by ``scripts/train_lead.py``."""
    try:
        names = tuple(str(n) for n in data["features"])
        weights = np.asarray(data["weights"], dtype=np.float64)
        model = LeadModel(weights, float(data["bias"]), float(data["margin"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise LeadModelError(f"malformed lead-unit parameters: {exc}") from exc
    if names != FEATURES or weights.shape != (len(FEATURES),):
        raise LeadModelError(f"malformed lead-unit parameters: features must be {FEATURES}")
    if not np.all(np.isfinite(weights)) or not math.isfinite(model.margin) or model.margin < 0:
        raise LeadModelError("malformed lead-unit parameters: finite weights, margin >= 0")
    return model


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> LeadModel:
    """The shipped model (read once per process)."""
    return from_dict(read_parameters(path, LeadModelError, "lead-unit"))
