"""Measure a learned question/unit interaction for "not stated" (issue 9, branch abstain10).

Measured, not shipped (README, "When it says I don't know"): K-NRM kernel pooling over the
cosines between the question's words and a unit's words (e5's token outputs before pooling),
a logistic model over the kernels fitted on SQuAD-it's train articles (answerable against the
same article without the answering paragraph), read on the held-out articles, then added as a
nineteenth signal to ``train_answerable.fit_model`` with the SEEN sets left out one at a time.

    collect   ask every training question as ``train_answerable collect`` does, keeping each
              row's compared units and the question's term weights (heavy: builds the three
              indexes of ``collect`` in --work the first time; 1.5 min when they exist)
    tokens    e5's word vectors (its pieces' outputs averaged, onnx export) of every question
              and unit text of the table (heavy: ~7,100 texts, 80 s of encoding on 2 cores;
              the vectors, ~130 MB, are pickled beside the table)
    measure   the kernel features, the held-out AUC and the leave-one-set-out figures (one
              minute, no model; --coarse: the suggested kernels)

Run ``scripts/measure_interaction.py collect --work DIR --table T.jsonl.gz``, then ``tokens``
and ``measure`` with the same ``--table`` (``--models-dir`` as for ``train_answerable``). The
token outputs are read from the onnx session directly: no engine method ships for them.
fresh_questions5 is read as a SEEN set (never fitted on for its own figures), as branch
abstain9 measured.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_answerable as ta  # noqa: E402
from bench_curated import auc  # noqa: E402
from train_guard import fit, predict  # noqa: E402

from assistant import answerable  # noqa: E402
from assistant.answerable import SIGNALS  # noqa: E402
from assistant.terms import terms  # noqa: E402

# e5's word-to-word cosines sit between ~0.56 and ~0.91: kernels spread over that range
# (the suggested 1.0 ... -0.1 by 0.1, width 0.1, leave most of them empty; --coarse)
FINE = (np.round(np.arange(1.0, 0.5, -0.05), 3), 0.025)
COARSE = (np.round(np.arange(1.0, -0.15, -0.1), 3), 0.1)
NEAR = ("squad+", "squad-near")
PENALTY = 0.01
BUDGET = 0.03  # share of answerable rows declined at which out-of-scope rows are compared


# --- collect ---------------------------------------------------------------------------------
def collect(work: Path, models_dir: Path | None, out: Path, squad: Path) -> int:
    """``train_answerable.collect``, each row also holding ``raw``: the question, the text of
    each unit compared with it and the question terms' rarity weights."""
    last: dict = {}
    signals, row = answerable.signals, ta.row

    def kept_signals(question, passages, stats, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        last.update(
            q=question,
            units=[u.text for u in answerable._compared_units(passages)],  # noqa: SLF001
            weights={t: round(stats.idf(t), 4) for t in set(terms(question))},
        )
        return signals(question, passages, stats, *args, **kwargs)

    def kept_row(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        last.clear()
        found = row(*args, **kwargs)
        if found is not None:
            found["raw"] = dict(last)
        return found

    answerable.signals, ta.row = kept_signals, kept_row  # type: ignore[assignment]
    try:
        return ta.collect(work, models_dir, out, squad)
    finally:
        answerable.signals, ta.row = signals, row  # type: ignore[assignment]


# --- tokens ----------------------------------------------------------------------------------
def word_vectors(
    embeddings, texts: list[str], query: bool
) -> dict[str, tuple[list[str], np.ndarray]]:  # noqa: ANN001
    """Each text's words and their unit-length vectors: the mean of its pieces' last hidden
    states in the onnx export (the states mean pooling would average; prompt words dropped)."""
    encoder = embeddings.load()
    prompt = (embeddings._query_prompt if query else embeddings._passage_prompt) or ""  # noqa: SLF001
    skip = len(prompt.split())
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for start in range(0, len(texts), 64):
        batch = texts[start : start + 64]
        ids, mask = encoder.tokenizer.batch([prompt + text for text in batch])
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in {i.name for i in encoder.session.get_inputs()}:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = encoder.session.run(None, feeds)[0]
        for n, text in enumerate(batch):
            words: list[tuple[str, list[int]]] = []
            for position in range(1, int(mask[n].sum()) - 1):  # inside <s> ... </s>
                piece = str(encoder.tokenizer._pieces.id_to_piece(int(ids[n, position])))  # noqa: SLF001
                if piece.startswith("▁") or not words:
                    words.append((piece.lstrip("▁"), [position]))
                else:
                    words[-1] = (words[-1][0] + piece, [*words[-1][1], position])
            words = [(w, p) for w, p in words[skip:] if w]
            vectors = np.array([hidden[n, p].mean(axis=0) for _, p in words], dtype=np.float32)
            vectors = vectors.reshape(len(words), hidden.shape[-1])
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
            out[text] = ([w for w, _ in words], vectors.astype(np.float16))
    return out


def tokens(table: Path, work: Path, models_dir: Path | None) -> int:
    """The word vectors of every question and unit of ``table``, pickled beside it."""
    from vectorstore.embeddings import load_embeddings

    rows = ta.load_table(table, keep_all=True)
    settings = ta._settings(work / "sample", ta.SAMPLE_SITE, models_dir)  # noqa: SLF001
    embeddings = load_embeddings(settings.embedding_options())
    if embeddings.variant == "float32":
        raise SystemExit("tokens reads an onnx export: set KMR_EMBEDDING_VARIANT=onnx-int8")
    found = {
        "q": word_vectors(embeddings, sorted({r["raw"]["q"] for r in rows}), query=True),
        "u": word_vectors(embeddings, sorted({u for r in rows for u in r["raw"]["units"]}), False),
    }
    table.with_suffix(".words.pkl").write_bytes(pickle.dumps(found))
    return 0


# --- measure ---------------------------------------------------------------------------------
def kernels(sims: np.ndarray, weights: np.ndarray, grid: tuple[np.ndarray, float]) -> np.ndarray:
    """K-NRM: per kernel, the weighted mean over question words of log(1 + soft count of unit
    words at the kernel's level)."""
    levels, width = grid
    counts = np.exp(-((sims[..., None] - levels) ** 2) / (2 * width**2)).sum(axis=1)
    return (weights[:, None] * np.log1p(counts)).sum(axis=0) / max(float(weights.sum()), 1e-9)


def features(rows: list[dict], words: dict, grid: tuple[np.ndarray, float]) -> np.ndarray:
    """Per row, the kernel-wise best over its units (question words weighted by rarity)."""
    out = []
    for r in rows:
        raw = r["raw"]
        qwords, qvec = words["q"][raw["q"]]
        weights = np.array([sum(raw["weights"].get(t, 0.0) for t in terms(w)) for w in qwords])
        if weights.sum() <= 0:
            weights = np.ones(len(qwords))
        per = []
        for text in raw["units"]:
            _, uvec = words["u"][text]
            sims = qvec.astype(np.float32) @ uvec.astype(np.float32).T
            per.append(
                kernels(sims if uvec.size else np.full((len(qwords), 1), -1.0), weights, grid)
            )
        out.append(np.max(per, axis=0) if per else np.zeros(len(grid[0])))
    return np.array(out)


def declined_at_budget(probs: np.ndarray, labels: np.ndarray) -> float:
    """Out-of-scope rows declined at the threshold declining BUDGET of the answerable rows."""
    threshold = np.sort(probs[labels == 1])[int(BUDGET * (labels == 1).sum())]
    return round(float((probs[labels == 0] < threshold).mean()), 3)


def kernel_model(x: np.ndarray, y: np.ndarray):  # noqa: ANN201
    """The logistic model over standardised kernels; returns a scorer of log-odds."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    w, b = fit((x - mean) / scale, y, np.ones(len(y)), PENALTY)
    return lambda z: ((z - mean) / scale) @ w + b


def as_signal(rows: list[dict], score: np.ndarray, name: str) -> dict:
    """``score`` (one value a row) as one more signal of ``fit_model`` beside the eighteen:
    held-out SQuAD-it near declined at BUDGET of its answerable rows (the shipped fit, the
    SEEN sets left out) and the SEEN sets left out one at a time, with and without it."""
    report: dict = {}
    old = tuple(SIGNALS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.jsonl.gz"
        body = "".join(
            json.dumps(
                {
                    **{k: v for k, v in r.items() if k != "raw"},
                    "signals": {**r["signals"], name: round(float(s), 6)},
                }
            )
            + "\n"
            for r, s in zip(rows, score, strict=True)
        )
        path.write_bytes(gzip.compress(body.encode(), mtime=0))
        kept = ta.load_table(path)
        near_held = [r for r in kept if r["split"] == "held-out" and r["group"] in NEAR]
        for label, names in (("eighteen", old), (f"with {name}", (*old, name))):
            model = ta.fit_model(path, names, left_out=ta.SHIPPED_LEFT_OUT)
            scaling = (np.array(model["mean"]), np.array(model["scale"]))
            probs = predict(
                ta.matrix(near_held, scaling, names), np.array(model["weights"]), model["bias"]
            )
            left = ta.leave_one_set_out(path, names, ta.RULES, None)
            report[label] = {
                "squad_near_at_budget": declined_at_budget(
                    probs, np.array([r["label"] for r in near_held])
                ),
                "left_out_out_of_scope_declined": sum(
                    round(v["all"]["oos_declined"] * v["all"]["n_out_of_scope"])
                    for v in left.values()
                ),
                "left_out_answerable_declined": sum(
                    round(v["all"]["false_abstention"] * v["all"]["n_answerable"])
                    for v in left.values()
                ),
                "of": [
                    sum(v["all"][n] for v in left.values())
                    for n in ("n_out_of_scope", "n_answerable")
                ],
            }
    return report


def measure(table: Path, grid: tuple[np.ndarray, float]) -> dict:
    """Held-out SQuAD-it AUC of the kernel model and of the shipped signals; then the model's
    log-odds (out of fold by article on the rows it was fitted on) as one more signal of
    ``fit_model``, against the eighteen, the SEEN sets left out one at a time."""
    rows = ta.load_table(table, keep_all=True)
    words = pickle.loads(table.with_suffix(".words.pkl").read_bytes())
    x = features(rows, words, grid)
    y = np.array([r["label"] for r in rows])
    train = np.array([r["split"] == "train" and r["group"] in NEAR for r in rows])
    held = np.array([r["split"] == "held-out" and r["group"] in NEAR for r in rows])
    score = kernel_model(x[train], y[train])(x)
    folds = np.array(
        [int(hashlib.sha256(f"a{r['article']}".encode()).hexdigest(), 16) % 5 for r in rows]
    )
    for k in range(5):
        inside = train & (folds != k)
        score[train & (folds == k)] = kernel_model(x[inside], y[inside])(x[train & (folds == k)])
    seen = np.array([r["set"] in ta.SEEN for r in rows])
    cosine = np.array([r["signals"]["unit_cosine"] for r in rows])
    support = np.array([r["signals"]["attribute_support"] for r in rows])
    report: dict = {
        "held_out_auc": {
            "kernels": auc(score[held], y[held] == 1),
            "unit_cosine": auc(cosine[held], y[held] == 1),
            "attribute_support": auc(support[held], y[held] == 1),
        },
        "seen_auc": {
            "kernels": auc(score[seen], y[seen] == 1),
            "unit_cosine": auc(cosine[seen], y[seen] == 1),
            "attribute_support": auc(support[seen], y[seen] == 1),
        },
    }
    report.update(as_signal(rows, score, "kernels"))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["collect", "tokens", "measure"])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kmr-answerable")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--table", type=Path, required=True, help="rows with their units")
    parser.add_argument("--squad", type=Path, default=ta.SQUAD)
    parser.add_argument("--coarse", action="store_true", help="measure: the suggested kernels")
    args = parser.parse_args(argv)
    # fresh_questions5 a SEEN set, as abstain9 measured (set here, not on import)
    ta.SEEN.setdefault("fresh5", ta.ROOT / "data" / "eval" / "fresh_questions5.jsonl")
    ta.SHIPPED_LEFT_OUT = tuple(ta.SEEN)
    if args.step == "collect":
        return collect(args.work, args.models_dir, args.table, args.squad)
    if args.step == "tokens":
        return tokens(args.table, args.work, args.models_dir)
    print(json.dumps(measure(args.table, COARSE if args.coarse else FINE), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
