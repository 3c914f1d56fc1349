"""Which curated answers a visitor may be offered ("Did you mean ...?") when none is given
unasked: the ranking and its shipped parameters.

multilingual-e5-small puts a question nearer to other questions *in its own language* than to
its translation; subtracting each language's mean question vector (``SuggestModel.means``,
from the site's own evaluation questions) before the cosine takes most of that pull away
(the right curated question first for 40 of 60 cross-language paraphrases of
``paraphrases_fresh.jsonl``, against 30 with the raw cosine). That ranking decides what is
offered; nothing offered is given until the visitor chooses it, so a wrong offer costs a
glance, not a wrong answer. ``scripts/bench_curated.py --write-suggest`` fits the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUGGEST_FILE = Path(__file__).with_name("curated_suggest.json")


@dataclass(frozen=True)
class SuggestModel:
    """Per-language mean question vectors, the centred-cosine floor below which nothing is
    offered, and how many answers are offered at most."""

    means: dict[str, np.ndarray]
    floor: float
    count: int

    @classmethod
    def load(cls, path: Path = SUGGEST_FILE) -> SuggestModel:
        """The shipped parameters (``curated_suggest.json``)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        means = {lang: np.asarray(v, dtype=np.float32) for lang, v in data["means"].items()}
        if not means or len({v.shape for v in means.values()}) != 1:
            raise ValueError(f"{path}: one mean vector of one size per language is needed")
        return cls(means=means, floor=float(data["floor"]), count=int(data["count"]))

    def centred(self, vector: np.ndarray, language: str) -> np.ndarray:
        """The unit vector of ``vector`` minus its language's mean (the mean of the means for
        a language without one)."""
        mean = self.means.get(language)
        if mean is None:
            mean = np.mean(np.stack(list(self.means.values())), axis=0)
        if mean.shape != vector.shape:
            raise ValueError(f"mean vectors of size {mean.shape[0]}, a vector of {vector.shape[0]}")
        moved = np.asarray(vector, dtype=np.float32) - mean
        norm = float(np.linalg.norm(moved))
        return moved / norm if norm else moved
