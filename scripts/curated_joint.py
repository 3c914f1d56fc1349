"""Two questions read *together* by e5: one input holding both, so every layer attends across.

Every pair feature the matcher has used reads the two questions separately (one e5 vector
each). Here the tokenizer's pair form, ``<s> query: A </s></s> query: B </s>`` (XLM-R's, which
e5 inherits), goes through the frozen e5 encoder once per order, and a pair is described by
what comes out (``JointReading``): the mean of all its token vectors (the "joint vector"), the
cosine of the mean token vectors of the A part and of the B part (each read in the other's
context), and a BERTScore-style F1 of the two parts' tokens aligned within that context.
``joint_features`` reads both orders and averages them, so the description is symmetric.

This is a measurement aid for ``scripts/bench_curated_joint.py`` (kept beside it: no decision in the service
uses it): it needs the ONNX variant's encoder (``vectorstore.onnx_encoder.OnnxEncoder``: its
session gives the token vectors, its tokenizer the ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class PairTokenizer(Protocol):
    """What the pair form needs of a tokenizer (``vectorstore.e5_tokenizer.E5Tokenizer``)."""

    def encode(self, text: str) -> list[int]:
        """``<s>``, the text's pieces, ``</s>``."""
        ...


FORMS = ("pair", "text")


def pair_ids(
    tokenizer: PairTokenizer, first: str, second: str, form: str = "pair"
) -> tuple[list[int], int, int]:
    """The ids of the two texts as one input, where ``first``'s pieces end and where
    ``second``'s begin. ``pair``: ``<s> first </s></s> second </s>`` (the tokenizer's pair
    form); ``text``: ``<s> first second </s>``, one text (the pre-tokenizer splits on spaces,
    so its pieces are each side's own). Each side is encoded on its own and keeps the
    window's limit."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; accepted: {', '.join(FORMS)}")
    head = tokenizer.encode(first)
    tail = tokenizer.encode(second)
    if len(head) < 3 or len(tail) < 3:
        raise ValueError("each text must hold at least one piece between <s> and </s>")
    if form == "pair":
        return head + [head[-1]] + tail[1:], len(head) - 1, len(head) + 1
    return head[:-1] + tail[1:], len(head) - 1, len(head) - 1


@dataclass(frozen=True)
class JointReading:
    """What one forward pass over a pair in one order gives (unit vectors where vectors)."""

    joint: np.ndarray  # mean of every token vector of the pair, unit length
    cross_cosine: float  # cosine of the first part's and the second part's mean token vectors
    aligned_f1: float  # BERTScore-style F1 of the two parts' tokens, in context


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.clip(np.linalg.norm(matrix, axis=-1, keepdims=True), 1e-12, None)


def read_pair(encoder: Any, first: str, second: str, form: str = "pair") -> JointReading:
    """One order of a pair through ``encoder`` (an ``OnnxEncoder``), each side with its query
    prompt."""
    prompt = encoder.prompts.get("query", "")
    ids, a_end, b_start = pair_ids(encoder.tokenizer, prompt + first, prompt + second, form)
    array = np.asarray([ids], dtype=np.int64)
    feeds: dict[str, Any] = {"input_ids": array, "attention_mask": np.ones_like(array)}
    if "token_type_ids" in {i.name for i in encoder.session.get_inputs()}:
        feeds["token_type_ids"] = np.zeros_like(array)
    hidden = np.asarray(encoder.session.run(None, feeds)[0][0], dtype=np.float32)
    part_a, part_b = hidden[1:a_end], hidden[b_start:-1]  # without the special tokens
    mean_a, mean_b = _unit(part_a.mean(axis=0)), _unit(part_b.mean(axis=0))
    similarity = _unit(part_a) @ _unit(part_b).T
    precision, recall = float(similarity.max(axis=1).mean()), float(similarity.max(axis=0).mean())
    return JointReading(
        joint=_unit(hidden.mean(axis=0)),
        cross_cosine=float(mean_a @ mean_b),
        aligned_f1=2 * precision * recall / (precision + recall),
    )


def joint_features(encoder: Any, a: str, b: str, form: str = "pair") -> np.ndarray:
    """A pair's joint description, symmetric in the two questions: the joint vectors of both
    orders averaged (``encoder.dimension`` values), then the averaged cross cosine and
    aligned F1 (two more)."""
    one, other = read_pair(encoder, a, b, form), read_pair(encoder, b, a, form)
    return np.concatenate(
        [
            (one.joint + other.joint) / 2,
            [(one.cross_cosine + other.cross_cosine) / 2, (one.aligned_f1 + other.aligned_f1) / 2],
        ]
    ).astype(np.float32)
