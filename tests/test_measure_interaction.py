"""scripts/measure_interaction.py: the K-NRM kernels and the figures it reports."""

from __future__ import annotations

import numpy as np
from support.scripts import load_script

measure = load_script("measure_interaction")


def test_a_word_counts_in_the_kernel_of_its_cosine() -> None:
    levels, width = measure.FINE
    sims = np.array([[0.9, 0.6], [0.6, 0.6]])  # two question words, two unit words
    found = measure.kernels(sims, np.array([1.0, 0.0]), (levels, width))
    at = {float(level): float(v) for level, v in zip(levels, found, strict=True)}
    assert at[0.9] > 0.69  # log(1 + ~1): the one close unit word
    assert at[0.6] > 0.69 and at[0.75] < 1e-3  # the other, far from 0.75
    # the second question word weighs nothing: only the first one's counts are read
    assert np.allclose(found, measure.kernels(sims[:1], np.array([1.0]), (levels, width)))


def test_auc_and_the_budget() -> None:
    labels = np.array([1, 1, 1, 0, 0])
    assert measure.auc(np.array([0.9, 0.8, 0.7, 0.1, 0.2]), labels == 1) == 1.0
    assert measure.auc(np.array([0.5, 0.5, 0.5, 0.5, 0.5]), labels == 1) == 0.5
    # the lowest answerable row sets the threshold: out-of-scope rows below it are declined
    assert measure.declined_at_budget(np.array([0.9, 0.8, 0.3, 0.1, 0.5]), labels) == 0.5
