"""Two questions read together by the real e5 (onnx-int8): the pair form's ids, a description
symmetric in the two questions, and what the joint reading tells apart."""

from __future__ import annotations

import numpy as np
import pytest
from support.scripts import load_script

curated_joint = load_script("curated_joint")
joint_features, pair_ids, read_pair = (
    curated_joint.joint_features,
    curated_joint.pair_ids,
    curated_joint.read_pair,
)


def test_pair_form_and_one_text_hold_each_side_as_encoded_alone(embeddings) -> None:
    tokenizer = embeddings.load().tokenizer
    a, b = "query: Where can visitors park?", "query: Dove parcheggiano i dipendenti?"
    head, tail = tokenizer.encode(a), tokenizer.encode(b)
    ids, a_end, b_start = pair_ids(tokenizer, a, b)
    assert ids == head + [head[-1]] + tail[1:]  # <s> A </s></s> B </s>
    assert ids[a_end] == ids[a_end + 1] == head[-1] and ids[1:a_end] == head[1:-1]
    assert ids[b_start:-1] == tail[1:-1]
    ids, a_end, b_start = pair_ids(tokenizer, a, b, "text")
    assert ids == tokenizer.encode(a + " " + b)  # one text: the same pieces, no separator
    assert ids[1:a_end] == head[1:-1] and ids[b_start:-1] == tail[1:-1]
    with pytest.raises(ValueError, match="unknown form"):
        pair_ids(tokenizer, a, b, "triple")
    with pytest.raises(ValueError, match="at least one piece"):
        pair_ids(tokenizer, a, "", "pair")


@pytest.mark.parametrize("form", ["pair", "text"])
def test_the_description_is_symmetric_and_the_context_matters(embeddings, form: str) -> None:
    encoder = embeddings.load()
    a, b = "Where can visitors park?", "Where can the employees of resident companies park?"
    one, other = joint_features(encoder, a, b, form), joint_features(encoder, b, a, form)
    assert one.shape == (encoder.dimension + 2,)
    np.testing.assert_allclose(one, other, atol=1e-5)
    assert np.linalg.norm(one[:-2]) <= 1.0 + 1e-5  # the mean of two unit vectors
    # Each order is a different input: the joint vector moves with the order.
    forward, backward = read_pair(encoder, a, b, form), read_pair(encoder, b, a, form)
    assert float(forward.joint @ backward.joint) < 0.9999


def test_a_paraphrase_reads_closer_than_an_unrelated_question(embeddings) -> None:
    encoder = embeddings.load()
    asked = "Chi ha fondato il Kilometro Rosso?"
    paraphrase = joint_features(encoder, asked, "Who founded Kilometro Rosso?")
    unrelated = joint_features(encoder, asked, "How do I bake a tiramisu?")
    # Read in one input, the two parts look alike whatever they say (measured: 0.99 for the
    # paraphrase, 0.97 for the tiramisu), but the order still holds.
    assert paraphrase[-2] > unrelated[-2]  # cross cosine of the two parts, in context
    assert paraphrase[-1] > unrelated[-1]  # aligned tokens
    assert unrelated[-2] > 0.9
