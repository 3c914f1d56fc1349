"""scripts/measure_joint.py: the pairs it learns from and the joint reading of question and
sentence (the real e5 export)."""

from __future__ import annotations

import numpy as np
from support.scripts import load_script

joint = load_script("measure_joint")

CONTEXT = (
    "Il Pixel è un edificio del parco. Al piano terra del Pixel c'è un ristorante. "
    "L'edificio ha sette piani."
)


def _article(title: str) -> dict:
    return {
        "title": title,
        "paragraphs": [
            {
                "context": CONTEXT,
                "qas": [
                    {
                        "question": "Quanti piani ha il Pixel?",
                        "answers": [{"text": "sette", "answer_start": CONTEXT.index("sette")}],
                    }
                ],
            },
            {
                "context": "Il parco ha un parcheggio. Il Pixel ospita laboratori.",
                "qas": [],
            },
        ],
    }


def test_the_gold_sentence_holds_the_answer_span() -> None:
    start = CONTEXT.index("sette")
    assert joint.gold_sentence(CONTEXT, start, "sette") == "L'edificio ha sette piani."
    # a span read at the wrong offset is not taken for the sentence it points into
    assert joint.gold_sentence(CONTEXT, 0, "sette") is None


def test_pairs_hold_one_gold_sentence_and_negatives_sharing_the_words() -> None:
    articles = [_article("A"), _article("B"), _article("C"), _article("D")]
    train = joint.squad_pairs(articles, held_out=False, limit=100)
    held = joint.squad_pairs(articles, held_out=True, limit=100)
    # one article in three (by position) is held out: 0 and 3 held, 1 and 2 for training
    assert {a for *_, a in held} == {0, 3} and {a for *_, a in train} == {1, 2}
    for chosen in (train, held):
        gold = [s for _, s, label, _ in chosen if label == 1]
        assert gold == ["L'edificio ha sette piani."] * 2
        negatives = [s for _, s, label, _ in chosen if label == 0]
        assert negatives and all("sette" not in s for s in negatives)
        # the hard ones come from the question's paragraph and name what it names
        assert "Al piano terra del Pixel c'è un ristorante." in negatives
    assert len(joint.squad_pairs(articles, held_out=False, limit=1)) < len(train)


def test_the_joint_reading_is_one_input_beside_the_separate_vectors(embeddings) -> None:  # noqa: ANN001
    reader = joint.JointReader(embeddings, "plain")
    question = "Quanti piani ha il Pixel?"
    answer = reader.features(question, "L'edificio Pixel ha sette piani.")
    other = reader.features(question, "Al piano terra del Pixel c'è un ristorante.")
    dim = embeddings.dimension
    assert answer.shape == (2 * dim + 6,)
    assert abs(float(np.linalg.norm(answer[:dim])) - 1.0) < 1e-3
    # the pooled joint vector is what the encoder gives for the one input
    whole = embeddings.load().encode(
        ["query: " + question + " passage: L'edificio Pixel ha sette piani."]
    )[0]
    assert float(whole @ answer[:dim]) > 0.9999
    # the last feature is the separate encoders' cosine (question prompt against passage prompt)
    q = np.array(embeddings.embed_query(question))
    s = np.array(embeddings.embed_documents(["L'edificio Pixel ha sette piani."])[0])
    assert abs(float(answer[-1]) - float(q @ s)) < 1e-3
    # the joint vector is not either text's own vector, and depends on the sentence read
    assert float(answer[:dim] @ q) < 0.999 and float(answer[:dim] @ other[:dim]) < 0.999
    nearest = joint.nearest_units(
        reader, question, ["Il parco ha un parcheggio.", "Il Pixel ha sette piani."], 1
    )
    assert nearest == ["Il Pixel ha sette piani."]


def test_a_row_reads_its_best_unit_and_a_train_row_a_head_without_its_article() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    train = {"x": x, "y": y, "article": np.arange(200) % 10}
    rows = [
        {"set": "squad", "split": "held-out", "article": 0},
        {"set": "fresh", "split": "train", "article": -1},
        {"set": "fresh", "split": "train", "article": -1},
    ]
    units = np.array([[3.0, 0, 0, 0], [-3.0, 0, 0, 0]])
    feats = {0: units, 1: units[1:], 2: np.zeros((0, 4))}
    score = joint.row_scores(rows, feats, train, 0.1)
    assert score[0] > 0 > score[1]  # the best of its units; one with no unit reads nothing
    assert score[2] == -10.0


def test_the_finetuned_top_continues_e5_and_keeps_its_best_epoch(embeddings, models_dir) -> None:  # noqa: ANN001
    import torch

    embeddings.load()  # the rebuilt float32 folder is there once the session's e5 is loaded
    bottom = joint.Bottom(joint.e5_folder(models_dir), 1)
    texts = [
        "query: Quanti piani ha il Pixel? passage: L'edificio Pixel ha sette piani.",
        "query: Quanti piani ha il Pixel? passage: Al piano terra del Pixel c'è un ristorante.",
    ]
    states = bottom.states(texts)
    enc = bottom.tokenizer(texts, padding=True, return_tensors="pt")
    assert [int(s.shape[0]) for s in states] == enc["attention_mask"].sum(dim=1).tolist()
    # the frozen layers then an untrained copy of the top layer are e5 float32, exactly
    top = joint.top_model(bottom)
    h, attention = joint._pad(states)  # noqa: SLF001
    mask = joint._additive(attention)  # noqa: SLF001
    with torch.inference_mode():
        for layer in top.layers:
            h = joint._first(layer(h, attention_mask=mask))  # noqa: SLF001
        whole = bottom.model(**enc).last_hidden_state
    assert float((whole - h)[attention.bool()].abs().max()) < 1e-4
    # training keeps the epoch with the best validation AUC, and is reproducible by its seed
    pairs = [
        ("Quanti piani ha il Pixel?", "L'edificio Pixel ha sette piani.", 1),
        ("Quanti piani ha il Pixel?", "Il parco ha un parcheggio.", 0),
        ("Chi ha fondato Brembo?", "Brembo fu fondata da Breda e Bombassei.", 1),
        ("Chi ha fondato Brembo?", "Brembo produce freni.", 0),
    ] * 3
    article = np.repeat(np.arange(4), 3)
    y = np.array([label for *_, label in pairs])
    states = bottom.states([f"query: {q} passage: {s}" for q, s, _ in pairs])
    first, log = joint.train_top(bottom, states, y, article, seed=0, epochs=2)
    again, _ = joint.train_top(bottom, states, y, article, seed=0, epochs=2)
    assert np.allclose(joint.score_states(first, states), joint.score_states(again, states))
    assert log[0]["epoch"] == 0 and len(log) <= 3
    ranked = sorted(set(article.tolist()), key=lambda a: joint._bucket(a, "val", 2**32))  # noqa: SLF001
    val = np.isin(article, ranked[:1])
    kept = joint.auc(
        joint.score_states(first, [states[i] for i in np.flatnonzero(val)]), y[val] == 1
    )
    assert kept == max(entry["val_auc"] for entry in log)


def _squad_article(title: str) -> dict:
    """An article of three paragraphs: two questions on the first, one on the second."""
    first = (
        "Il Pixel è un edificio del parco. Al piano terra del Pixel c'è un ristorante. "
        "L'edificio Pixel ha sette piani. Il Pixel fu costruito nel 2010."
    )
    second = "Il parco ha un parcheggio. Il parcheggio ha trecento posti."
    return {
        "title": title,
        "paragraphs": [
            {
                "context": first,
                "qas": [
                    {
                        "question": "Quanti piani ha il Pixel?",
                        "answers": [{"text": "sette", "answer_start": first.index("sette")}],
                    },
                    {
                        "question": "Quando fu costruito il Pixel?",
                        "answers": [{"text": "2010", "answer_start": first.index("2010")}],
                    },
                ],
            },
            {
                "context": second,
                "qas": [
                    {
                        "question": "Quanti posti ha il parcheggio del parco?",
                        "answers": [{"text": "trecento", "answer_start": second.index("trecento")}],
                    }
                ],
            },
            {"context": "Il Pixel ospita laboratori del parco.", "qas": []},
        ],
    }


def test_every_question_gets_its_paragraph_then_the_article_as_negatives() -> None:
    articles = [_squad_article(t) for t in "ABCD"]
    train = joint.all_pairs(articles, held_out=False)
    assert {a for *_, a in train} == {1, 2}  # one article in three (by position) is held out
    mine = [(s, label) for q, s, label, a in train if q == "Quanti piani ha il Pixel?" and a == 1]
    assert mine[0] == ("L'edificio Pixel ha sette piani.", 1)
    negatives = [s for s, _ in mine[1:]]
    assert len(negatives) <= joint.X_NEGATIVES and all("sette" not in s for s in negatives)
    # its own paragraph's other sentences first (same topic, no answer), then at least one
    # sentence of another paragraph sharing its words
    paragraph = _squad_article("A")["paragraphs"][0]["context"]
    assert len(negatives) == 4 and all(s in paragraph for s in negatives[:3])
    assert negatives[3] == "Il Pixel ospita laboratori del parco."
    # every question of the article is asked, unless the table asks it
    assert {q for q, *_ in train} == {
        "Quanti piani ha il Pixel?",
        "Quando fu costruito il Pixel?",
        "Quanti posti ha il parcheggio del parco?",
    }
    kept = joint.all_pairs(articles, False, frozenset({"Quando fu costruito il Pixel?"}))
    assert "Quando fu costruito il Pixel?" not in {q for q, *_ in kept}


def test_training_batches_cover_each_pair_once_grouped_by_length() -> None:
    lengths = np.arange(200) % 50
    idx = np.arange(0, 200, 2)
    batches = joint.length_batches(idx, lengths, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == idx.tolist()
    assert all(len(b) <= joint.BATCH for b in batches)
    again = joint.length_batches(idx, lengths, np.random.default_rng(0))
    assert all((a == b).all() for a, b in zip(batches, again, strict=True))


def test_cached_states_carried_up_equal_the_deeper_split(embeddings, models_dir) -> None:  # noqa: ANN001
    embeddings.load()
    folder = joint.e5_folder(models_dir)
    low, high = joint.Bottom(folder, 4), joint.Bottom(folder, 2)
    texts = [
        "query: Quanti piani ha il Pixel? passage: L'edificio Pixel ha sette piani.",
        "query: Chi ha fondato Brembo? passage: Brembo produce freni per auto e moto da corsa.",
        "query: Dove? passage: Nel parco.",
    ]
    carried = joint.advance(high, [s.half() for s in joint.sorted_states(low, texts)], low.cut)
    direct = high.states(texts)
    assert [int(s.shape[0]) for s in carried] == [int(s.shape[0]) for s in direct]
    # fp16 caching costs only rounding
    assert (
        max(float((c.float() - d).abs().max()) for c, d in zip(carried, direct, strict=True)) < 0.05
    )
    # scores batched by length come back in the states' order
    top = joint.top_model(high)
    assert np.allclose(joint.score_sorted(top, direct), joint.score_states(top, direct), atol=1e-4)
