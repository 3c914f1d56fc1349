"""Calibrate and measure curated-answer matching on a set of question pairs.

Each line of the pairs file (default data/eval/paraphrases.jsonl) holds a curated question
``a``, a visitor question ``b``, ``match`` (whether ``b`` must get ``a``'s answer), a ``kind``
(paraphrase, cross-language paraphrase, near miss, cross-language near miss) and a ``split``
(calibration or heldout). The thresholds are chosen on the calibration half only: for
same-language and cross-language pairs separately, the lowest cosine at which precision on
the calibration pairs is at least ``--target`` (most recall at that precision). Precision
and recall are then reported on the held-out half, with the production rule
(``assistant.curated.accepts``: threshold per language case, numbers must agree) and with
the real embedding model (``KMR_EMBEDDING_MODEL``, query prompts).

Usage: python scripts/bench_curated.py [--pairs FILE] [--target 0.95] [--json]
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
from assistant.curated import Thresholds, accepts, query_embedder
from vectorstore.embeddings import load_embeddings


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


def calibrate(scores: np.ndarray, truth: np.ndarray, rule_ok: np.ndarray, target: float) -> float:
    """The lowest threshold whose precision on these pairs reaches ``target`` (1.01: none)."""
    best, best_recall = 1.01, -1.0
    candidates = np.unique(scores)
    for position, score in enumerate(candidates):
        # Halfway to the next lower score: the line sits in the gap, not on a measured pair.
        threshold = (score + candidates[position - 1]) / 2 if position else score
        predicted = (scores >= threshold) & rule_ok
        result = precision_recall(predicted, truth)
        reaches = result["precision"] is not None and result["precision"] >= target
        if reaches and result["recall"] > best_recall:
            best, best_recall = float(threshold), result["recall"]
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PROJECT_ROOT / "data/eval/paraphrases.jsonl")
    parser.add_argument("--target", type=float, default=0.95, help="precision to calibrate for")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    rows = [
        json.loads(line)
        for line in args.pairs.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    settings = load_settings()
    embeddings = load_embeddings(settings)
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
    truth = np.array([bool(r["match"]) for r in rows])
    same = np.array([language[r["a"]] == language[r["b"]] for r in rows])
    calibration = np.array([r["split"] == "calibration" for r in rows])
    numbers_ok = np.array([accepts(1.0, True, r["a"], r["b"], Thresholds(0, 0)) for r in rows])

    thresholds = Thresholds(
        same_language=calibrate(
            scores[calibration & same],
            truth[calibration & same],
            numbers_ok[calibration & same],
            args.target,
        ),
        cross_language=calibrate(
            scores[calibration & ~same],
            truth[calibration & ~same],
            numbers_ok[calibration & ~same],
            args.target,
        ),
    )
    predicted = np.array(
        [
            accepts(score, bool(s), r["a"], r["b"], thresholds)
            for score, s, r in zip(scores, same, rows, strict=True)
        ]
    )
    held = ~calibration
    kinds = sorted({r["kind"] for r in rows})
    kind = np.array([r["kind"] for r in rows])
    # For context: what cosine alone (one threshold, no number rule) reaches on held-out.
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
        "thresholds": {
            "same_language": round(thresholds.same_language, 4),
            "cross_language": round(thresholds.cross_language, 4),
        },
        "calibration": precision_recall(predicted[calibration], truth[calibration]),
        "heldout": precision_recall(predicted[held], truth[held]),
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
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"curated matching, {report['date']}, {report['machine']}, model {report['model']}")
    print(f"pairs: {report['pairs']}")
    print(
        f"thresholds chosen on the calibration half for precision >= {args.target}: "
        f"{report['thresholds']} (numbers must agree)"
    )
    for name in ("calibration", "heldout"):
        print(f"{name:12s} {report[name]}")
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
