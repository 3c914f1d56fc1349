"""Which curated answers a visitor may be offered ("Did you mean ...?") when none is given
unasked: the ranking and its shipped parameters.

multilingual-e5-small puts a question nearer to other questions *in its own language* than to
its translation, and every question about the site near every other along a few common
directions. Before the cosine, each question vector loses its language's mean question
vector (``SuggestModel.means``) and then the top principal directions of the site's questions
(``SuggestModel.components``; "all-but-the-top", Mu and Viswanath 2018), both computed from the
site's own evaluation questions, none of them in a pairs file. On ``paraphrases_fresh.jsonl``
the right curated question is then among the first three for 94% of the paraphrases, against
79% with the raw cosine and 83% with the means alone. That ranking decides what is offered;
nothing offered is given until the visitor chooses it, so a wrong offer costs a glance, not a
wrong answer. ``scripts/bench_curated.py --write-suggest`` fits the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.model_files import read_parameters

SUGGEST_FILE = Path(__file__).with_name("curated_suggest.json")


@dataclass(frozen=True)
class SuggestModel:
    """Per-language mean question vectors, the directions removed after them (rows, unit
    length), the cosine floor below which nothing is offered, and how many answers are offered
    at most."""

    means: dict[str, np.ndarray]
    components: np.ndarray
    floor: float
    count: int

    @classmethod
    def load(cls, path: Path = SUGGEST_FILE) -> SuggestModel:
        """The shipped parameters (``curated_suggest.json``)."""
        data = read_parameters(path, ValueError, "curated-suggestion")
        means = {lang: np.asarray(v, dtype=np.float32) for lang, v in data["means"].items()}
        if not means or len({v.shape for v in means.values()}) != 1:
            raise ValueError(f"{path}: one mean vector of one size per language is needed")
        size = next(iter(means.values())).shape
        components = np.asarray(data.get("components", []), dtype=np.float32).reshape(-1, *size)
        return cls(
            means=means,
            components=components,
            floor=float(data["floor"]),
            count=int(data["count"]),
        )

    def centred(self, vector: np.ndarray, language: str) -> np.ndarray:
        """``vector`` minus its language's mean (the mean of the means for a language without
        one), scaled to length 1, without the ``components`` directions, scaled again."""
        mean = self.means.get(language)
        if mean is None:
            mean = np.mean(np.stack(list(self.means.values())), axis=0)
        if mean.shape != vector.shape:
            raise ValueError(f"mean vectors of size {mean.shape[0]}, a vector of {vector.shape[0]}")
        moved = _unit(np.asarray(vector, dtype=np.float32) - mean)
        if len(self.components):
            moved = _unit(moved - (self.components @ moved) @ self.components)
        return moved


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
