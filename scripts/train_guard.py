"""Train the "addressed to an AI" classifier shipped in assistant/guard_data/model.json.

Deterministic: the same examples, sample site and model give the same file. Steps:

1. examples: assistant/guard_data/examples.jsonl (hand-written, many languages; hostile
   sentences addressed to AI systems, benign near misses about AI or addressed to people),
   plus every quotable unit of the bundled sample site as benign (its real sentences);
2. vectors: multilingual-e5-small, passage prompt, normalised (what the answer engine
   computes for the units it may quote);
3. logistic regression with an L2 penalty (Newton's method, numpy), each group weighted
   (hostile 0.5, written benign 0.3, site sentences 0.2 of the total), so the many site
   sentences do not drown the near misses;
4. leave-one-language-out cross-validation chooses the penalty and the threshold, and
   measures whether OR-ing the hand-written rules (guard.is_instruction) helps; the choice
   and the out-of-fold figures are written next to the parameters.

Usage (loads the embedding model: run it under the heavy-job lock)::

    PYTHONPATH=$PWD python scripts/train_guard.py [--models-dir DIR] [--out FILE]
    PYTHONPATH=$PWD python scripts/train_guard.py --evaluate data/eval/ai_addressed.jsonl

``--evaluate`` measures the shipped guard on a JSON Lines file of {"text", "lang",
"addressed_to_ai"} rows: recall on the sentences addressed to an AI (all should be flagged,
so none is quoted) and the false-positive rate on the others, overall and per language.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import SAMPLE_SITE, Settings  # noqa: E402
from assistant.extractive import split_units  # noqa: E402
from assistant.guard import is_instruction  # noqa: E402
from assistant.guard_model import MODEL_FILE  # noqa: E402
from assistant.schema import Passage  # noqa: E402
from ingest.extract import ExtractionError, extract  # noqa: E402
from ingest.records import RawDocument  # noqa: E402

EXAMPLES = ROOT / "assistant" / "guard_data" / "examples.jsonl"
PENALTIES = (0.001, 0.003, 0.01, 0.03, 0.1)
GROUP_MASS = {"hostile": 0.5, "written": 0.3, "site": 0.2}
# The threshold is the one with the best out-of-fold recall among those that keep the benign
# near misses quotable: at most this share of written benign sentences, and of site sentences,
# may be flagged.
MAX_FP_WRITTEN = 0.03
MAX_FP_SITE = 0.005


@dataclass
class Example:
    text: str
    lang: str
    hostile: bool
    group: str  # hostile | written | site


def written_examples(path: Path = EXAMPLES) -> list[Example]:
    """The hand-written examples."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            hostile = bool(row["addressed_to_ai"])
            out.append(
                Example(row["text"], row["lang"], hostile, "hostile" if hostile else "written")
            )
    return out


def site_examples(root: Path = SAMPLE_SITE) -> list[Example]:
    """Every quotable unit of the sample site (sentences, list items, table rows), benign."""
    seen: set[str] = set()
    out: list[Example] = []
    for path in sorted(root.rglob("*.html")):
        relative = path.relative_to(root).as_posix()
        raw = RawDocument(
            location=str(path),
            kind="html",
            content=path.read_bytes(),
            origin=str(root),
            fallback_id=relative,
        )
        try:
            page = extract(raw)
        except ExtractionError:
            continue
        passage = Passage(
            id=relative,
            text=page.text,
            title=page.title,
            url=page.url,
            source_id=page.source_id,
            language=page.language,
        )
        for unit in split_units(passage, 0):
            text = unit.text.strip()
            if len(text.split()) >= 3 and text not in seen:
                seen.add(text)
                out.append(Example(text, page.language, False, "site"))
    return out


def embed(
    texts: list[str], models_dir: Path | None, cache: Path | None = None
) -> tuple[np.ndarray, str]:
    """Passage vectors with the project's embedding model, and the model's name.

    ``cache`` (an .npz file) keeps vectors between runs while the examples are being edited.
    """
    from vectorstore.embeddings import load_embeddings

    settings = Settings(_env_file=None, **({"model_cache_dir": models_dir} if models_dir else {}))
    model = load_embeddings(settings)
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.is_file():
        stored = np.load(cache)
        known = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(zip(missing, np.asarray(model.embed_documents(missing)), strict=True))
        if cache is not None:
            np.savez(cache, texts=np.array(list(known)), vectors=np.vstack(list(known.values())))
    return np.vstack([known[t] for t in texts]).astype(np.float64), model.model_name


def sample_weights(examples: list[Example]) -> np.ndarray:
    """Each group gets its share of the total mass, split evenly inside the group."""
    counts = {g: sum(1 for e in examples if e.group == g) for g in GROUP_MASS}
    return np.array([GROUP_MASS[e.group] / max(counts[e.group], 1) for e in examples]) * len(
        examples
    )


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
    """Weighted L2-penalised logistic regression by Newton's method (bias not penalised).

    e5 vectors sit close together (cosines 0.75-0.9), so features are standardised first;
    the scaling is folded back into the returned weights, which apply to raw vectors.
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    weights, bias = _newton((x - mean) / scale, y, w, penalty)
    return weights / scale, bias - float((weights / scale) @ mean)


def _newton(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, penalty: float
) -> tuple[np.ndarray, float]:
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, penalty * w.sum() / n)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -50, 50)))
        grad = xb.T @ (w * (p - y)) / n + reg * theta
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb / n + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta[:-1], float(theta[-1])


def predict(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ weights + bias, -50, 50)))


def out_of_fold(examples: list[Example], x: np.ndarray, penalty: float) -> np.ndarray:
    """Probabilities from models that never saw the example's language (site sentences are
    held out with the written examples of their language)."""
    y = np.array([e.hostile for e in examples], dtype=np.float64)
    w = sample_weights(examples)
    langs = sorted({e.lang for e in examples})
    probs = np.zeros(len(examples))
    for lang in langs:
        held = np.array([e.lang == lang for e in examples])
        if held.all():
            continue
        weights, bias = fit(x[~held], y[~held], w[~held], penalty)
        probs[held] = predict(x[held], weights, bias)
    return probs


def rates(flags: np.ndarray, examples: list[Example]) -> dict[str, float]:
    """Recall on hostile, false-positive rates on written benign and on site sentences."""

    def share(group: str) -> float:
        mask = np.array([e.group == group for e in examples])
        return round(float(flags[mask].mean()), 4) if mask.any() else 0.0

    return {"recall": share("hostile"), "fp_written": share("written"), "fp_site": share("site")}


def choose_threshold(probs: np.ndarray, examples: list[Example]) -> float:
    """The lowest threshold (best recall) whose benign false positives stay within bounds."""
    for threshold in np.round(np.arange(0.05, 0.96, 0.01), 2):
        r = rates(probs >= threshold, examples)
        if r["fp_written"] <= MAX_FP_WRITTEN and r["fp_site"] <= MAX_FP_SITE:
            return float(threshold)
    return 0.95


def evaluate(path: Path, models_dir: Path | None) -> int:
    """Print recall and false-positive rate of the shipped guard (and of the rules alone)."""
    from datetime import UTC, datetime

    from assistant import guard

    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    texts = [str(r["text"]) for r in rows]
    hostile = np.array([bool(r["addressed_to_ai"]) for r in rows])
    vectors, model_name = embed(texts, models_dir)
    learned = np.array(guard.addressed_to_ai(vectors))
    rules = np.array([is_instruction(t) for t in texts])
    shipped = learned | rules if guard.load_classifier().use_rules else learned
    print(
        f"{path}: {hostile.sum()} addressed to AI, {(~hostile).sum()} not; {model_name}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    for name, flags in (
        ("guard", shipped),
        ("rules alone", rules),
        ("guard OR rules", learned | rules),
    ):
        caught = int(flags[hostile].sum())
        wrong = int(flags[~hostile].sum())
        print(
            f"{name}: recall {caught}/{hostile.sum()} = {caught / max(hostile.sum(), 1):.3f}; "
            f"false positives {wrong}/{(~hostile).sum()} = "
            f"{wrong / max((~hostile).sum(), 1):.3f}"
        )
    for lang in sorted({str(r.get("lang", "")) for r in rows}):
        mask = np.array([str(r.get("lang", "")) == lang for r in rows])
        print(
            f"  {lang}: recall {int(shipped[mask & hostile].sum())}/{int((mask & hostile).sum())}"
            f", false positives {int(shipped[mask & ~hostile].sum())}/"
            f"{int((mask & ~hostile).sum())}"
        )
    for row, flag in zip(rows, shipped, strict=True):
        if bool(flag) != bool(row["addressed_to_ai"]):
            kind = "missed" if row["addressed_to_ai"] else "false positive"
            print(f"  {kind} [{row.get('id', '')}, {row.get('lang', '')}]: {row['text']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="embedding model cache (default: the settings' models path)",
    )
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument(
        "--vectors-cache",
        type=Path,
        default=None,
        help="an .npz file keeping vectors between runs (optional)",
    )
    parser.add_argument(
        "--evaluate",
        type=Path,
        default=None,
        help="measure the shipped guard on this JSON Lines file instead",
    )
    args = parser.parse_args(argv)
    if args.evaluate is not None:
        return evaluate(args.evaluate, args.models_dir)

    examples = written_examples() + site_examples()
    x, model_name = embed([e.text for e in examples], args.models_dir, args.vectors_cache)
    y = np.array([e.hostile for e in examples], dtype=np.float64)
    rules = np.array([is_instruction(e.text) for e in examples])

    best: tuple[float, float, float, np.ndarray] | None = None  # (-recall-fp, penalty, t, p)
    for penalty in PENALTIES:
        probs = out_of_fold(examples, x, penalty)
        threshold = choose_threshold(probs, examples)
        r = rates(probs >= threshold, examples)
        print(f"penalty {penalty}: threshold {threshold:.2f} out-of-fold {r}")
        key = -(r["recall"] - r["fp_written"] - r["fp_site"])
        if best is None or key < best[0]:
            best = (key, penalty, threshold, probs)
    assert best is not None
    _, penalty, threshold, probs = best
    learned = probs >= threshold
    figures = {
        "rules": rates(rules, examples),
        "classifier": rates(learned, examples),
        "classifier_or_rules": rates(learned | rules, examples),
    }
    # The rules are OR-ed in only when they add more recall than false positives.
    gain = figures["classifier_or_rules"]["recall"] - figures["classifier"]["recall"]
    cost = (figures["classifier_or_rules"]["fp_written"] - figures["classifier"]["fp_written"]) + (
        figures["classifier_or_rules"]["fp_site"] - figures["classifier"]["fp_site"]
    )
    use_rules = gain > cost
    for name, r in figures.items():
        print(f"out-of-fold {name}: {r}")
    print(f"penalty {penalty}, threshold {threshold:.2f}, rules OR-ed in: {use_rules}")
    missed = [
        e.text
        for e, f in zip(examples, learned | (rules if use_rules else False), strict=True)
        if e.hostile and not f
    ]
    flagged = [
        e.text
        for e, f in zip(examples, learned | (rules if use_rules else False), strict=True)
        if not e.hostile and f
    ]
    for text in missed:
        print(f"  missed (out of fold): {text}")
    for text in flagged:
        print(f"  false positive (out of fold): {text}")

    weights, bias = fit(x, y, sample_weights(examples), penalty)
    in_sample = rates(predict(x, weights, bias) >= threshold, examples)
    print(f"in-sample: {in_sample}")
    counts = {g: sum(1 for e in examples if e.group == g) for g in GROUP_MASS}
    data = {
        "embedding_model": model_name,
        "prompt": "passage",
        "threshold": threshold,
        "use_rules": use_rules,
        "penalty": penalty,
        "examples": counts,
        "examples_sha256": hashlib.sha256(EXAMPLES.read_bytes()).hexdigest(),
        "languages": sorted({e.lang for e in examples}),
        "out_of_fold": figures,
        "bias": round(bias, 6),
        "weights": [round(float(v), 6) for v in weights],
    }
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
