"""A learned signal for "this sentence addresses an AI": logistic regression over e5 vectors.

The parameters live in ``guard_data/model.json`` and are reproduced (weights to ~5e-6) by
``scripts/train_guard.py`` from the hand-written examples in ``guard_data/examples.jsonl``
(hostile sentences addressed to AI systems in many languages, and benign near misses:
sentences *about* AI, instructions to human visitors) plus the sample site's own sentences.

The classifier only reads vectors of the model it was trained on (multilingual-e5-small,
passage prompt, L2-normalised); ``AddressClassifier.accepts`` says whether a model fits.
``embedding_variant`` records how that model ran for training (``onnx-int8``, the default
variant); the variants' vectors agree to a cosine of about 0.998, so another variant of the same
model is accepted (refusing it would leave the float32 reference with the rules alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.model_files import read_parameters

MODEL_FILE = Path(__file__).with_name("guard_data") / "model.json"


class GuardModelError(Exception):
    """The shipped parameters are missing or malformed."""


@dataclass(frozen=True)
class AddressClassifier:
    """P(addressed to an AI | sentence vector) = sigmoid(w . v + b); flagged above threshold."""

    embedding_model: str
    weights: np.ndarray  # (dimension,)
    bias: float
    threshold: float
    use_rules: bool = False  # OR the hand-written rules in (only when measured to help)
    clauses: bool = False  # a sentence's score is the maximum over it and its clauses
    embedding_variant: str = ""  # how the model ran when the vectors were made ("" unknown)
    # The quote step's own, stricter bar: a unit whose text scores this much (or that the
    # rules flag, with quote_rules) is never quoted itself; its passage goes at ``threshold``.
    quote_threshold: float | None = None  # None: the same as ``threshold``
    quote_rules: bool = False
    # The quote step also reads the label a unit opens with ("Ai modelli di linguaggio" in
    # "Ai modelli di linguaggio: ..."), with a model of its own: a label names its addressee,
    # which the sentence's vector drowns in what follows. None: labels are not read.
    label_weights: np.ndarray | None = None
    label_bias: float = 0.0
    label_threshold: float = 1.0

    @property
    def quote_bar(self) -> float:
        """The probability from which a unit is not quoted (``quote_threshold`` or ``threshold``)."""
        return self.threshold if self.quote_threshold is None else self.quote_threshold

    @property
    def dimension(self) -> int:
        return int(self.weights.shape[0])

    def accepts(self, model_name: str, dimension: int | None = None) -> bool:
        """True when vectors of ``model_name`` are the kind this classifier was trained on."""
        same = Path(model_name.rstrip("/")).name == self.embedding_model
        return same and (dimension is None or dimension == self.dimension)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Probability per row of ``vectors`` (rows are re-normalised, so any scale works)."""
        return self._sigmoid(vectors, self.weights, self.bias)

    def label_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Probability per row of label vectors that the label addresses an AI (zeros when
        the classifier reads no labels)."""
        if self.label_weights is None:
            return np.zeros(len(vectors))
        return self._sigmoid(vectors, self.label_weights, self.label_bias)

    def _sigmoid(self, vectors: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
        matrix = np.asarray(vectors, dtype=np.float64)
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        if matrix.shape[0] == 0:
            return np.zeros(0)
        if matrix.shape[1] != self.dimension:
            raise ValueError(
                f"guard vectors have {matrix.shape[1]} dimensions, the classifier expects "
                f"{self.dimension} ({self.embedding_model})"
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.where(norms == 0, 1.0, norms)
        logits = matrix @ weights + bias
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))

    def flags(self, vectors: np.ndarray) -> list[bool]:
        """True for each row whose probability reaches the threshold."""
        return [bool(p >= self.threshold) for p in self.probabilities(vectors)]


def from_dict(data: dict) -> AddressClassifier:
    """Build a classifier from the JSON structure written by scripts/train_guard.py."""
    try:
        weights = np.asarray(data["weights"], dtype=np.float64)
        classifier = AddressClassifier(
            embedding_model=str(data["embedding_model"]),
            weights=weights,
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            use_rules=bool(data.get("use_rules", False)),
            clauses=bool(data.get("clauses", False)),
            embedding_variant=str(data.get("embedding_variant", "")),
            quote_threshold=(
                None if data.get("quote_threshold") is None else float(data["quote_threshold"])
            ),
            quote_rules=bool(data.get("quote_rules", False)),
            **_label_model(data.get("label")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GuardModelError(f"malformed guard parameters: {exc}") from exc
    for vector in (weights, classifier.label_weights):
        if vector is None:
            continue
        if vector.shape != weights.shape or vector.size == 0 or not np.all(np.isfinite(vector)):
            raise GuardModelError("malformed guard parameters: weights must be a finite vector")
    return classifier


def _label_model(data: dict | None) -> dict:
    """The label model's fields of ``AddressClassifier`` (none when not trained)."""
    if data is None:
        return {}
    return {
        "label_weights": np.asarray(data["weights"], dtype=np.float64),
        "label_bias": float(data["bias"]),
        "label_threshold": float(data["threshold"]),
    }


@lru_cache(maxsize=4)
def load_classifier(path: Path = MODEL_FILE) -> AddressClassifier:
    """The shipped classifier (read once per process)."""
    return from_dict(read_parameters(path, GuardModelError, "guard"))
