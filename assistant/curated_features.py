"""What tells two questions that mean the same from a near miss: the features of a pair.

A question is described once (``Wording``: its e5 query vector, its language and its
character 4-grams); a pair of descriptions gives the features the match model weighs
(``FEATURES``, see ``pair_features``). The curated side of every pair is described when the
answers change, the visitor's side once per question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.conversation import detect_language

Embed = Callable[[list[str]], Sequence[Sequence[float]]]

FEATURES = (
    "cosine",
    "same_language",
    "cosine_same_language",
    "distance_per_change",
)
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"\w+")


def numbers(text: str) -> frozenset[str]:
    """The numbers a question names (years, sizes...): questions naming different ones are
    different questions, however close their embeddings ("Open Labs 2025" vs "2024")."""
    return frozenset(number.lstrip("0") or "0" for number in _NUMBER.findall(text))


def numbers_conflict(a: str, b: str) -> bool:
    """Whether both questions name numbers and not the same ones ("Open Labs 2025" and "2024"
    conflict; "Open Labs" and "Open Labs 2025" do not: the visitor who is offered the one
    for the other judges it)."""
    first, second = numbers(a), numbers(b)
    return bool(first) and bool(second) and first != second


def char_grams(text: str, n: int = 4) -> frozenset[str]:
    """Character n-grams of the words (case-folded), for a surface-overlap feature."""
    joined = " " + " ".join(_WORD.findall(text.casefold())) + " "
    return frozenset(joined[i : i + n] for i in range(len(joined) - n + 1))


def same_wording(a: str, b: str) -> bool:
    """The same words, whatever the case, spacing and punctuation (always a match)."""
    return _WORD.findall(a.casefold()) == _WORD.findall(b.casefold())


def unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """The vector scaled to length 1 (float32; a zero vector stays zero)."""
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm else array


@dataclass(frozen=True)
class Wording:
    """One question as the matcher sees it."""

    text: str
    language: str
    vector: np.ndarray  # the question's unit e5 query vector
    grams: frozenset[str]


def describe(texts: Sequence[str], embed: Embed, *, language: str = "en") -> list[Wording]:
    """Describe questions (one call of ``embed``). ``language`` is what language detection
    falls back on when a text is too short to tell."""
    if not texts:
        return []
    vectors = embed(list(texts))
    return [
        Wording(
            text=text,
            language=detect_language(text, default=language),
            vector=unit(vector),
            grams=char_grams(text),
        )
        for text, vector in zip(texts, vectors, strict=True)
    ]


def pair_features(curated: Wording, asked: Wording) -> list[float]:
    """The features of a pair of questions, in ``FEATURES`` order (symmetric in the two).

    Why these: the cosine alone puts near misses as close as paraphrases (a near miss keeps
    most words and changes one that matters). ``distance_per_change`` is the semantic
    distance (1 - cosine) per unit of surface change (1 - character 4-gram overlap): a near
    miss moves far for the few characters it changes, a paraphrase rewords much and moves
    little, and a verbatim repeat moves nowhere. Cross-language pairs score lower than
    same-language ones, hence the language case and its interaction with the cosine.
    """
    cosine = float(curated.vector @ asked.vector)
    union = len(curated.grams | asked.grams)
    overlap = len(curated.grams & asked.grams) / union if union else 1.0
    same = 1.0 if curated.language == asked.language else 0.0
    return [cosine, same, cosine * same, (1.0 - cosine) / (1.0 - overlap + 0.05)]
