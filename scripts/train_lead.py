"""Train the lead-unit model shipped in assistant/lead_data/model.json (``assistant.lead``).

Two steps; the second alone reproduces the shipped parameters from the shipped table
(tests/test_lead.py checks it):

1. ``collect`` (heavy: the embedding model and the sample site's index; run it under the
   heavy-job lock) asks the answerable one-part questions of ``data/eval/dev.jsonl`` through
   the real engine (``Assistant.evidence``) and writes, per question, the features of the units
   the selector compares for the lead (``Selection.ranked``) and whether each holds one of the
   question's facts, to ``assistant/lead_data/units.jsonl.gz``. Questions whose compared units
   hold none of their facts teach nothing and are left out. The held-out sets
   (``independent.jsonl``, ``fresh_questions*.jsonl``) are never read.
2. ``fit`` (seconds, numpy): L2 logistic regression on those rows, one weight per feature of
   ``assistant.lead.FEATURES`` and a bias, by full-batch gradient descent from zero (the same
   numbers every run). ``MARGIN`` is fixed: on dev, a second unit within 1.0 log-odds of the
   lead covered as many facts as one within 1.5 or 2.0, in fewer words.

Usage::

    flock /tmp/kmr-heavy.lock env PYTHONPATH=$PWD python scripts/train_lead.py collect \\
        [--work DIR] [--models-dir DIR]
    PYTHONPATH=$PWD python scripts/train_lead.py fit [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import SAMPLE_SITE, Settings  # noqa: E402
from assistant.eval_match import fact_coverage  # noqa: E402
from assistant.evaluate import load_questions  # noqa: E402
from assistant.extractive import split_question  # noqa: E402
from assistant.lead import FEATURES, MODEL_FILE, features  # noqa: E402

DEV = ROOT / "data" / "eval" / "dev.jsonl"
TABLE = MODEL_FILE.with_name("units.jsonl.gz")
PENALTY = 1.0
STEPS = 3000
RATE = 1.0
MARGIN = 1.0
TODAY = date(2026, 12, 1)  # fixed, so dated answers cannot change what is collected


def collect(work: Path, models_dir: Path | None, out: Path = TABLE) -> int:
    """Ask dev's answerable one-part questions through the engine; write the unit table."""
    from assistant.runtime import open_runtime, sync_index

    extra = {"model_cache_dir": models_dir} if models_dir else {}
    settings = Settings(
        data_dir=work, sources=[str(SAMPLE_SITE)], today=TODAY, _env_file=None, **extra
    )
    runtime = open_runtime(settings)
    if runtime.store.count() == 0:
        print(sync_index(settings, runtime.store), file=sys.stderr)
    runtime.warm()
    rows = []
    for q in load_questions(DEV):
        if not q.facts or q.expects_abstention or len(split_question(q.question)) > 1:
            continue
        evidence = runtime.assistant.evidence(q.question, q.history)
        ranked = evidence.selection.ranked if evidence.selection else []
        labels = [1 if fact_coverage(u.text, q.facts) > 0 else 0 for u in ranked]
        if not any(labels):
            continue
        rows.append(
            {
                "id": q.id,
                "features": np.round(features(ranked), 6).tolist(),
                "labels": labels,
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    print(f"{len(rows)} questions written to {out}", file=sys.stderr)
    return len(rows)


def load_table(path: Path = TABLE) -> tuple[np.ndarray, np.ndarray]:
    """The features and labels of every unit in the table."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    x = np.asarray([f for r in rows for f in r["features"]], dtype=np.float64)
    y = np.asarray([v for r in rows for v in r["labels"]], dtype=np.float64)
    return x, y


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """L2 logistic regression by gradient descent from zero (deterministic)."""
    w = np.zeros(x.shape[1])
    b = 0.0
    n = len(y)
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        w -= RATE * (x.T @ (p - y) / n + PENALTY * w / n)
        b -= RATE * float(np.mean(p - y))
    return w, b


def fit_model(path: Path = TABLE) -> dict:
    """The parameters as shipped in ``assistant/lead_data/model.json``."""
    x, y = load_table(path)
    w, b = fit(x, y)
    return {
        "features": list(FEATURES),
        "weights": [round(float(v), 4) for v in w],
        "bias": round(b, 4),
        "margin": MARGIN,
        "units": int(len(y)),
        "positives": int(y.sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    c = sub.add_parser("collect", help="ask dev through the engine (heavy)")
    c.add_argument("--work", type=Path, default=None)
    c.add_argument("--models-dir", type=Path, default=None)
    f = sub.add_parser("fit", help="fit the parameters from the table")
    f.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    if args.step == "collect":
        if args.work is not None:
            collect(args.work, args.models_dir)
        else:
            with tempfile.TemporaryDirectory() as work:
                collect(Path(work), args.models_dir)
        return 0
    model = fit_model()
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(model), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
