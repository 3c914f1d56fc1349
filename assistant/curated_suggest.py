"""Which curated answers a visitor may be offered ("Did you mean ...?") when none is given
unasked: the ranking, when to offer at all, and the shipped parameters.

multilingual-e5-small puts a question nearer to other questions *in its own language* than to
its translation, and every question about the site near every other along a few common
directions. Before the cosine, each question vector loses its language's mean question
vector (``SuggestModel.means``) and then the top principal directions of the site's questions
(``SuggestModel.components``; "all-but-the-top", Mu and Viswanath 2018), both computed from the
site's own evaluation questions, none of them in a pairs file. That ranking decides what is
offered.

Whether anything is offered is the *gate*: the best centred cosine plus ``site_weight`` times
how much of the question lies in the site's question space (the length of its centred vector's
projection on the next principal directions of the site's questions, ``SuggestModel.site``).
A paraphrase of a curated question is often far from it by the cosine (0.17-0.27) yet plainly
about the site; a question about something else is neither. The gate's ``floor`` lets 5% of
unrelated (SQuAD-it) questions through. Then the best answers are offered, at most ``count``,
each within ``margin`` of the first by the cosine. Nothing offered is given until the visitor
chooses it. ``scripts/bench_curated.py --write-suggest`` fits the file and ``--loso`` chose
its weight, count and margin (leave one pairs set out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.model_files import read_parameters

SUGGEST_FILE = Path(__file__).with_name("curated_suggest.json")


@dataclass(frozen=True)
class SuggestModel:
    """Per-language mean question vectors, the directions removed after them (rows, unit
    length), the site's question directions and their weight in the gate, the gate's floor,
    how many answers are offered at most and how far below the first one an offer may be."""

    means: dict[str, np.ndarray]
    components: np.ndarray
    floor: float
    count: int
    site: np.ndarray  # rows, unit length; empty: the gate is the best cosine alone
    site_weight: float = 0.0
    margin: float = 1.0  # 1.0: no cut in practice (only 2.0 or more never cuts: cosines span 2)

    @classmethod
    def load(cls, path: Path = SUGGEST_FILE) -> SuggestModel:
        """The shipped parameters (``curated_suggest.json``)."""
        data = read_parameters(path, ValueError, "curated-suggestion")
        means = {lang: np.asarray(v, dtype=np.float32) for lang, v in data["means"].items()}
        if not means or len({v.shape for v in means.values()}) != 1:
            raise ValueError(f"{path}: one mean vector of one size per language is needed")
        size = next(iter(means.values())).shape
        components = np.asarray(data.get("components", []), dtype=np.float32).reshape(-1, *size)
        site = np.asarray(data.get("site", []), dtype=np.float32).reshape(-1, *size)
        return cls(
            means=means,
            components=components,
            floor=float(data["floor"]),
            count=int(data["count"]),
            site=site,
            site_weight=float(data.get("site_weight", 0.0)),
            margin=float(data.get("margin", 1.0)),
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

    def on_site(self, centred: np.ndarray) -> float:
        """How much of a centred question vector lies in the site's question space (0 to 1)."""
        return float(np.linalg.norm(self.site @ centred)) if len(self.site) else 0.0

    def gate(self, centred: np.ndarray, best: float) -> float:
        """The score that decides whether a question is offered anything: ``best``, its best
        centred cosine with a curated question, plus the weighted ``on_site``."""
        return best + self.site_weight * self.on_site(centred)

    def offered(
        self,
        scores: np.ndarray,
        gate: float,
        allowed: Callable[[int], bool],
        owners: Sequence[int],
    ) -> list[int]:
        """Positions of the wordings to offer, best first: none when ``gate`` is under the
        floor; else the best wordings of distinct answers (``owners``: the answer of each
        wording) that ``allowed`` accepts, at most ``count``, each within ``margin`` of the
        first. ``allowed`` is asked only of the wordings reached, best first."""
        if gate < self.floor:
            return []
        chosen: list[int] = []
        answers: set[int] = set()
        for position in np.argsort(-scores, kind="stable"):
            if len(chosen) == self.count:
                break
            if chosen and scores[position] < scores[chosen[0]] - self.margin:
                break
            if owners[position] not in answers and allowed(int(position)):
                chosen.append(int(position))
                answers.add(owners[position])
        return chosen


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
