"""Fit, calibrate and measure curated-answer matching on a set of question pairs.

Each line of the pairs file (default data/eval/paraphrases.jsonl) holds a curated question
``a``, a visitor question ``b``, ``match`` (whether ``b`` must get ``a``'s answer), a ``kind``
(paraphrase, cross-language paraphrase, near miss, cross-language near miss), a ``topic`` and a
``split`` (calibration or heldout, by topic). Everything is chosen on the calibration half
only: a logistic regression over ``assistant.curated.pair_features`` (``FEATURES``: e5 cosine
with query prompts, same language, their product, distance per unit of surface change), its
regularisation by 5-fold cross-validation grouped by topic, and its probability line as the
lowest at which the out-of-fold precision reaches ``--target`` (most recall there). Precision
and recall are then measured once on the held-out half with the production rule
(``assistant.curated.accepts``: the line, and the numbers the questions name must agree).

Usage: python scripts/bench_curated.py [--pairs FILE] [--target 0.95] [--json] [--write]
(``--write`` saves the fitted model to assistant/curated_model.json, which the service loads).
Run it under ``flock /tmp/kmr-heavy.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import PROJECT_ROOT, load_settings
from assistant.conversation import detect_language
from assistant.curated import (
    FEATURES,
    MODEL_FILE,
    MatchModel,
    accepts,
    numbers,
    pair_features,
    query_embedder,
)
from vectorstore.embeddings import load_embeddings

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 5


def machine() -> str:
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"
    )


def precision_recall(predicted: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    tp = int((predicted & truth).sum())
    fp = int((predicted & ~truth).sum())
    fn = int((~predicted & truth).sum())
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve (probability a match outscores a non-match; ties count half)."""
    positive, negative = scores[truth], scores[~truth]
    wins = (positive[:, None] > negative[None, :]).sum() + 0.5 * (
        positive[:, None] == negative[None, :]
    ).sum()
    return round(float(wins / (len(positive) * len(negative))), 3)


def fit(features: np.ndarray, truth: np.ndarray, c: float, line: float = 0.5) -> MatchModel:
    """A standardised logistic regression (scikit-learn, a dependency of sentence-transformers)."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=10_000).fit((features - mean) / scale, truth)
    return MatchModel(
        mean=tuple(float(x) for x in mean),
        scale=tuple(float(x) for x in scale),
        weights=tuple(float(x) for x in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        line=line,
    )


def line_for(probabilities: np.ndarray, truth: np.ndarray, rule_ok: np.ndarray, target: float):
    """The lowest probability line whose precision here reaches ``target`` (None: none does)."""
    best, best_recall = None, -1.0
    candidates = np.unique(probabilities)
    for position, value in enumerate(candidates):
        # Halfway to the next lower value: the line sits in the gap, not on a measured pair.
        line = (value + candidates[position - 1]) / 2 if position else value
        result = precision_recall((probabilities >= line) & rule_ok, truth)
        reaches = result["precision"] is not None and result["precision"] >= target
        if reaches and result["recall"] > best_recall:
            best, best_recall = float(line), result["recall"]
    return best


def out_of_fold(
    features: np.ndarray, truth: np.ndarray, topics: np.ndarray, c: float
) -> np.ndarray:
    """Each calibration pair scored by a model fitted without its topic's fold."""
    unique = sorted(set(topics.tolist()))
    scores = np.zeros(len(truth))
    for fold in range(FOLDS):
        held = np.isin(topics, unique[fold::FOLDS])
        model = fit(features[~held], truth[~held], c)
        scores[held] = model.probability(features[held])
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PROJECT_ROOT / "data/eval/paraphrases.jsonl")
    parser.add_argument("--target", type=float, default=0.95, help="precision to calibrate for")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--write", action="store_true", help=f"save the model to {MODEL_FILE}")
    args = parser.parse_args()

    rows = [
        json.loads(line)
        for line in args.pairs.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    settings = load_settings()
    embeddings = load_embeddings(settings.embedding_options())
    started = time.perf_counter()
    embeddings.load()
    load_seconds = time.perf_counter() - started
    texts = sorted({row["a"] for row in rows} | {row["b"] for row in rows})
    started = time.perf_counter()
    vectors = np.asarray(query_embedder(embeddings)(texts), dtype=np.float32)
    embed_ms = (time.perf_counter() - started) * 1000 / len(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {text: i for i, text in enumerate(texts)}
    language = {text: detect_language(text) for text in texts}

    scores = np.array([float(vectors[index[r["a"]]] @ vectors[index[r["b"]]]) for r in rows])
    same = np.array([language[r["a"]] == language[r["b"]] for r in rows])
    features = np.array(
        [
            pair_features(s, bool(m), r["a"], r["b"])
            for s, m, r in zip(scores, same, rows, strict=True)
        ]
    )
    truth = np.array([bool(r["match"]) for r in rows])
    topics = np.array([int(r["topic"]) for r in rows])
    calibration = np.array([r["split"] == "calibration" for r in rows])
    held = ~calibration
    numbers_ok = np.array([numbers(r["a"]) == numbers(r["b"]) for r in rows])

    # Regularisation and line: chosen on the calibration half alone, out of fold.
    cal = calibration
    search = []
    for c in C_GRID:
        oof = out_of_fold(features[cal], truth[cal], topics[cal], c)
        line = line_for(oof, truth[cal], numbers_ok[cal], args.target)
        recall = (
            precision_recall((oof >= line) & numbers_ok[cal], truth[cal])["recall"]
            if line is not None
            else 0.0
        )
        search.append((recall, auc(oof, truth[cal]), -c, c, line, oof))
    recall, oof_auc, _, c, line, oof = max(search, key=lambda item: item[:3])
    if line is None:
        line = 0.99
    model = fit(features[cal], truth[cal], c, line)
    probability = model.probability(features)
    predicted = np.array(
        [accepts(float(p), r["a"], r["b"], model) for p, r in zip(probability, rows, strict=True)]
    )
    kinds = sorted({r["kind"] for r in rows})
    kind = np.array([r["kind"] for r in rows])
    cosine_only = {
        str(t): precision_recall(scores[held] >= t, truth[held])
        for t in (0.85, 0.88, 0.90, 0.92, 0.94, 0.96, 0.98)
    }
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "model": embeddings.model_name,
        "pairs": {
            "total": len(rows),
            "calibration": int(calibration.sum()),
            "heldout": int(held.sum()),
            "positive": int(truth.sum()),
        },
        "target_precision": args.target,
        "features": list(FEATURES),
        "regularisation_C": c,
        "line": round(line, 4),
        "calibration_out_of_fold": precision_recall((oof >= line) & numbers_ok[cal], truth[cal]),
        "calibration_out_of_fold_auc": oof_auc,
        "calibration_in_sample": precision_recall(predicted[cal], truth[cal]),
        "heldout": precision_recall(predicted[held], truth[held]),
        "heldout_auc": auc(probability[held], truth[held]),
        "heldout_cosine_auc": auc(scores[held], truth[held]),
        "heldout_by_case": {
            "same language": precision_recall(predicted[held & same], truth[held & same]),
            "cross-language": precision_recall(predicted[held & ~same], truth[held & ~same]),
        },
        "heldout_accepted_by_kind": {
            k: f"{int(predicted[held & (kind == k)].sum())}/{int((held & (kind == k)).sum())}"
            for k in kinds
        },
        "heldout_cosine_only": cosine_only,
        "model_load_s": round(load_seconds, 1),
        "embed_ms_per_question": round(embed_ms, 1),
    }
    if args.write:
        data = {
            "features": list(FEATURES),
            "mean": model.mean,
            "scale": model.scale,
            "weights": model.weights,
            "intercept": model.intercept,
            "line": line,
            "target_precision": args.target,
            "regularisation_C": c,
            "embedding_model": embeddings.model_name,
            "fitted_on": f"{args.pairs.name}, calibration half ({int(cal.sum())} pairs)",
            "date": report["date"],
        }
        MODEL_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"curated matching, {report['date']}, {report['machine']}, model {report['model']}")
    print(f"pairs: {report['pairs']}")
    print(
        f"logistic regression over {list(FEATURES)}, C={c} and line {line:.4f} chosen on the "
        f"calibration half (5-fold by topic) for precision >= {args.target}; numbers must agree"
    )
    print(
        f"calibration, out of fold: {report['calibration_out_of_fold']} (AUC {oof_auc})\n"
        f"calibration, in sample:  {report['calibration_in_sample']}\n"
        f"held-out:                {report['heldout']} (AUC {report['heldout_auc']}; "
        f"cosine alone {report['heldout_cosine_auc']})"
    )
    for name, result in report["heldout_by_case"].items():
        print(f"  held-out, {name}: {result}")
    print(f"  held-out accepted per kind: {report['heldout_accepted_by_kind']}")
    print("held-out, cosine alone (no language case, no number rule):")
    for threshold, result in cosine_only.items():
        print(f"  >= {threshold}: {result}")
    print(
        f"model load {report['model_load_s']} s; {report['embed_ms_per_question']} ms "
        "per question embedded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
