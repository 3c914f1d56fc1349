"""Guard classifiers of known scores: a 2-d vector ``at(p)`` scores ``p`` under each of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.guard_model import AddressClassifier


def at(probability: float) -> np.ndarray:
    """A 2-d unit vector the classifiers below score ``probability``."""
    cosine = (np.log(probability / (1 - probability)) + 5) / 10
    return np.array([cosine, np.sqrt(1 - cosine**2)])


def two_bars() -> AddressClassifier:
    """Flags at 0.8; the quote step's bar at 0.5, with the hand-written rules."""
    return AddressClassifier(
        "m", np.array([10.0, 0.0]), -5.0, threshold=0.8, quote_threshold=0.5, quote_rules=True
    )


def labelled() -> AddressClassifier:
    """Flags at 0.8; the quote step's bar at 0.5 (no rules) and a label model flagging at 0.7."""
    return AddressClassifier(
        "m",
        np.array([10.0, 0.0]),
        -5.0,
        threshold=0.8,
        quote_threshold=0.5,
        label_weights=np.array([10.0, 0.0]),
        label_bias=-5.0,
        label_threshold=0.7,
    )


@dataclass
class BlockUnit:
    """What the guard reads of a unit (``guard.unquotable``): its text, passage and block."""

    passage: int
    text: str
    kind: str = "sentence"
    block: int = -1
    context: str = ""
    lead: str = ""
