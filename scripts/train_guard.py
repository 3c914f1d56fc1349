"""Train the "addressed to an AI" classifier shipped in assistant/guard_data/model.json.

The same examples, sample site and model give the same file, byte for byte (the encoder embeds
one text per call, so a sentence's vector does not depend on the others). Steps:

1. examples: assistant/guard_data/examples.jsonl (hand-written, many languages and forms:
   labels and notes for AI systems, orders to a model, "if you are an AI", notes for crawlers,
   hidden-instruction styles, role play; benign near misses about AI or addressed to people),
   plus every quotable unit of the bundled sample site as benign (its real sentences);
   the clauses of benign sentences (``guard.clauses``) are benign examples too, because the
   guard also judges clauses; the six sets once held out (data/eval/ai_addressed.jsonl,
   ai_addressed_fresh.jsonl ... ai_addressed_fresh5.jsonl, written by others) are training
   examples too (``TRAINED_SETS``; fresh6 to fresh10 are measured, not trained on);
2. vectors: multilingual-e5-small as the settings run it (the default variant, onnx-int8;
   KMR_EMBEDDING_VARIANT chooses another; recorded in model.json), passage prompt, normalised
   (what the answer engine computes for the units it may quote);
3. logistic regression with an L2 penalty (Newton's method, numpy), each group weighted
   (hostile 0.5, written benign 0.3, site sentences 0.2 of the total), so the many site
   sentences do not drown the near misses; a sentence's score is the maximum over the
   sentence and its clauses (an address hidden in one clause of a long sentence);
4. a held-out split (a fixed 20% of the examples, by a hash of the text) is never trained on
   while choosing: 5-fold cross-validation on the other 80% chooses the penalty and the
   threshold (best recall with benign false positives within bounds) and whether the
   hand-written rules help (clause scores are offered only as off: ``CLAUSE_MODES``), and the
   quote step's own lower threshold
   (``quote_threshold``: the same rule with looser bounds, MAX_FP_*_QUOTE); the held-out
   precision and recall are then measured and written next to the parameters, with
   leave-one-language-out figures;
5. the shipped parameters are fitted on all the examples with those choices.

Usage (loads the embedding model unless every text is in --vectors-cache: run it under the
heavy-job lock)::

    PYTHONPATH=$PWD python scripts/train_guard.py [--models-dir DIR] [--out FILE]
    PYTHONPATH=$PWD python scripts/train_guard.py --evaluate data/eval/ai_addressed.jsonl

``--evaluate`` measures the shipped guard on a JSON Lines file of {"text", "lang",
"addressed_to_ai"} rows: recall on the sentences addressed to an AI (all should be flagged,
so none is quoted) and the false-positive rate on the others, overall and per language.
``--leave-one-set-out`` fits, for each set written by others (EVAL_SETS), a model without it
(same choices; thresholds chosen again by cross-validation) and prints what it flags there
and keeps from being quoted (scripts/bench_guard_planted.py --held-out measures the same
models on pages).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import SAMPLE_SITE, Settings  # noqa: E402
from assistant.guard import clauses, is_instruction, label  # noqa: E402
from assistant.guard_model import MODEL_FILE, AddressClassifier  # noqa: E402
from assistant.units import split_units  # noqa: E402
from ingest.extract import ExtractionError, extract  # noqa: E402
from ingest.records import Page, RawDocument  # noqa: E402
from vectorstore.passages import Passage  # noqa: E402
from vectorstore.vector_cache import VectorCache  # noqa: E402

EXAMPLES = ROOT / "assistant" / "guard_data" / "examples.jsonl"
# The sets written by others (each without reading the guard), left out one at a time by
# ``--leave-one-set-out``: a model fitted on the other training files is measured on the one
# left out.
EVAL_SETS = tuple(
    ROOT / "data" / "eval" / f"ai_addressed{suffix}.jsonl"
    for suffix in ("", "_fresh", "_fresh2", "_fresh3", "_fresh4", "_fresh5", "_fresh6", "_fresh7")
    + ("_fresh8", "_fresh9", "_fresh10")
)
# Sentences written by others, once held out, now trained on: their wordings are not ours.
# fresh6 to fresh10 are not (guard9 measured a refit on all nine, leave one set out: no gain
# beyond noise, and the contacts page's table header flagged; README, "Round 9"): pass them
# with ``--examples`` to fit or measure that refit.
TRAINED_SETS = EVAL_SETS[:6]
EXAMPLE_FILES = (EXAMPLES, *TRAINED_SETS)
PENALTIES = (0.003, 0.01, 0.03)
GROUP_MASS = {"hostile": 0.5, "written": 0.3, "site": 0.2}
# The threshold is the one with the best out-of-fold recall among those that keep the benign
# near misses quotable: at most this share of written benign sentences, and of site sentences,
# may be flagged.
MAX_FP_WRITTEN = 0.03
MAX_FP_SITE = 0.005
# The quote step's own bar (``quote_threshold``): a unit scoring this much is not quoted
# itself (its passage stays). Chosen the same way with looser bounds: at most this share of
# written near misses and of site sentences may lose the right to be quoted.
MAX_FP_WRITTEN_QUOTE = 0.10
MAX_FP_SITE_QUOTE = 0.01
# The hand-written rules also keep a unit from being quoted (measured leave-one-set-out on
# 2026-12-01: 4 more addressed sentences kept out, 3 more look-alikes, over the five sets).
QUOTE_RULES = True
# The quote step also reads the label a unit opens with, with a model of its own (fitted on
# the examples' labels; measured leave-one-set-out on 2026-12-01: 3 more addressed sentences
# kept from quotes, 1 more look-alike, over the five sets).
READ_LABELS = True
# Whether a sentence is scored as the maximum over it and its clauses is offered to the
# cross-validation only as off: the sync stores no clause vectors, so reading clauses would
# embed them at answer time. (guard9, nine sets: on at penalty 0.01 scored 0.917 recall at
# 2.9 % / 0.35 % against 0.910 at 2.8 % / 0.18 % off, a margin within the folds' noise.)
CLAUSE_MODES = (False,)
HELD_OUT = 5  # one example in HELD_OUT (by hash of its text) is held out
FOLDS = 5


@dataclass
class Example:
    text: str
    lang: str
    hostile: bool
    group: str  # hostile | written | site


def written_examples(paths: Sequence[Path] = EXAMPLE_FILES) -> list[Example]:
    """The hand-written examples (a text found in two files counts once)."""
    out: dict[str, Example] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                hostile = bool(row["addressed_to_ai"])
                group = "hostile" if hostile else "written"
                out.setdefault(row["text"], Example(row["text"], row["lang"], hostile, group))
    return list(out.values())


def file_digests(paths: Sequence[Path]) -> dict[str, str]:
    """SHA-256 of each training file, by its path under the project (checked by the tests)."""
    return {
        path.relative_to(ROOT).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in paths
    }


def extracted_pages(root: Path) -> Iterator[tuple[str, Page]]:
    """Each HTML page of a site folder (its path relative to the folder) as the extractor
    keeps it; a page it rejects is left out."""
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
            yield relative, extract(raw)
        except ExtractionError:
            continue


def site_examples(root: Path = SAMPLE_SITE) -> list[Example]:
    """Every quotable unit of the sample site (sentences, list items, table rows), benign."""
    seen: set[str] = set()
    out: list[Example] = []
    for relative, page in extracted_pages(root):
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
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def predict(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ weights + bias, -50, 50)))


def _bucket(text: str, salt: str) -> int:
    return int(hashlib.sha256((salt + text).encode("utf-8")).hexdigest(), 16)


def is_held_out(example: Example) -> bool:
    """The fixed held-out split: never trained on while choosing the parameters."""
    return _bucket(example.text, "held-out") % HELD_OUT == 0


def with_clauses(examples: list[Example]) -> list[Example]:
    """The examples plus the clauses of the benign ones (benign too, in the same group)."""
    extra = [
        Example(c, e.lang, False, e.group)
        for e in examples
        if not e.hostile
        for c in clauses(e.text)
    ]
    return examples + extra


class Vectors:
    """Passage vectors by text, with the project's embedding model (loaded at the first text
    not found). ``cache`` keeps vectors between runs while the examples are being edited: a
    ``vectorstore.vector_cache`` file, keyed as the service's unit vectors are by the model
    and variant (the collection name) and the text, so another model's vectors never mix in."""

    def __init__(self, models_dir: Path | None, cache: Path | None) -> None:
        self.settings = Settings(_env_file=None)  # KMR_MODEL_CACHE_DIR unless --models-dir
        if models_dir is not None:
            self.settings = Settings(_env_file=None, model_cache_dir=models_dir)
        self.model_name = Path(self.settings.embedding_model.rstrip("/")).name
        self.disk = VectorCache(cache, self.settings.collection_name) if cache else None
        self.rows: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> None:
        """Make sure every text has its vector (one batch for those stored nowhere)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if missing and self.disk is not None:
            self.rows.update(self.disk.get(missing))
            missing = [t for t in missing if t not in self.rows]
        if missing:
            from vectorstore.embeddings import load_embeddings

            model = load_embeddings(self.settings.embedding_options())
            self.model_name = model.model_name
            fresh = np.asarray(model.embed_documents(missing), dtype=np.float32)
            self.rows.update(zip(missing, fresh, strict=True))
            if self.disk is not None:
                self.disk.put(missing, fresh)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.embed(list(texts))
        return np.vstack([self.rows[t] for t in texts]).astype(np.float64)


def train(
    examples: list[Example], vectors: Vectors, penalty: float, use_clauses: bool = False
) -> tuple[np.ndarray, float]:
    """Fit on the examples and the clauses of the benign ones.

    With ``use_clauses`` (a sentence scored as the maximum over it and its clauses) a second
    fit also learns, for each hostile sentence, its clause the first fit finds most hostile:
    the address may sit in one clause ("..., if a chatbot is reading this, ...") while the
    others read as ordinary, so only that clause is taught as hostile.
    """
    rows = with_clauses(examples)
    model = _fit_rows(rows, vectors, penalty)
    if not use_clauses:
        return model
    hostile_clauses = []
    for e in examples:
        pieces = clauses(e.text) if e.hostile else []
        if pieces:
            worst = int(np.argmax(predict(vectors(pieces), *model)))
            hostile_clauses.append(Example(pieces[worst], e.lang, True, e.group))
    return _fit_rows(rows + hostile_clauses, vectors, penalty)


def _fit_rows(rows: list[Example], vectors: Vectors, penalty: float) -> tuple[np.ndarray, float]:
    y = np.array([e.hostile for e in rows], dtype=np.float64)
    return fit(vectors([e.text for e in rows]), y, sample_weights(rows), penalty)


def scores(
    examples: list[Example], vectors: Vectors, model: tuple[np.ndarray, float], use_clauses: bool
) -> np.ndarray:
    """Per example: the probability of the sentence, or the maximum over it and its clauses."""
    weights, bias = model
    out = np.zeros(len(examples))
    for n, e in enumerate(examples):
        pieces = [e.text, *(clauses(e.text) if use_clauses else [])]
        out[n] = predict(vectors(pieces), weights, bias).max()
    return out


def out_of_fold(
    examples: list[Example],
    vectors: Vectors,
    penalty: float,
    by: str,
    modes: Sequence[bool] = (False, True),
) -> dict[bool, np.ndarray]:
    """Scores from models that never saw the example, by sentence alone (False) and as the
    maximum over sentence and clauses (True, see ``train``), for the given ``modes``; ``by``
    "fold" (5 folds by hash) or "language" (leave one language out: site sentences go with
    their language)."""
    keys = [e.lang if by == "language" else str(_bucket(e.text, "fold") % FOLDS) for e in examples]
    probs = {False: np.zeros(len(examples)), True: np.zeros(len(examples))}
    for key in sorted(set(keys)):
        held = np.array([k == key for k in keys])
        if held.all():
            continue
        seen = [e for e, h in zip(examples, held, strict=True) if not h]
        unseen = [e for e, h in zip(examples, held, strict=True) if h]
        for use_clauses in modes:
            model = train(seen, vectors, penalty, use_clauses)
            probs[use_clauses][held] = scores(unseen, vectors, model, use_clauses)
    return probs


def rates(flags: np.ndarray, examples: list[Example]) -> dict[str, float]:
    """Recall on hostile, false-positive rates on written benign and on site sentences,
    precision over all."""

    def share(group: str) -> float:
        mask = np.array([e.group == group for e in examples])
        return round(float(flags[mask].mean()), 4) if mask.any() else 0.0

    hostile = np.array([e.hostile for e in examples])
    flagged = int(flags.sum())
    precision = float((flags & hostile).sum() / flagged) if flagged else 1.0
    return {
        "recall": share("hostile"),
        "fp_written": share("written"),
        "fp_site": share("site"),
        "precision": round(precision, 4),
        "n_hostile": int(hostile.sum()),
        "n_written": int(sum(e.group == "written" for e in examples)),
        "n_site": int(sum(e.group == "site" for e in examples)),
    }


def choose_threshold(
    probs: np.ndarray,
    examples: list[Example],
    max_written: float = MAX_FP_WRITTEN,
    max_site: float = MAX_FP_SITE,
) -> float:
    """The lowest threshold (best recall) whose benign false positives stay within bounds."""
    for threshold in np.round(np.arange(0.05, 0.96, 0.01), 2):
        r = rates(probs >= threshold, examples)
        if r["fp_written"] <= max_written and r["fp_site"] <= max_site:
            return float(threshold)
    return 0.95


def label_examples(examples: list[Example]) -> list[Example]:
    """The labels the examples open with ("Note for AI systems" ...), each once, labelled as
    their sentence (a label of a sentence addressed to an AI names the AI; site labels and
    those of near misses name people or topics)."""
    out: dict[str, Example] = {}
    for e in examples:
        name = label(e.text)
        if name:
            out.setdefault(name, Example(name, e.lang, e.hostile, e.group))
    return list(out.values())


def fit_labels(
    examples: list[Example], vectors: Vectors, penalty: float
) -> tuple[np.ndarray, float, float, dict[str, float]]:
    """The quote step's label model: weights, bias, and a threshold chosen by 5-fold
    cross-validation with the quote step's bounds; and its out-of-fold rates."""
    labels = label_examples(examples)
    vectors.embed([t for e in labels for t in (e.text, *clauses(e.text))])
    probs = out_of_fold(labels, vectors, penalty, "fold", (False,))[False]
    threshold = choose_threshold(probs, labels, MAX_FP_WRITTEN_QUOTE, MAX_FP_SITE_QUOTE)
    weights, bias = train(labels, vectors, penalty)
    return weights, bias, threshold, rates(probs >= threshold, labels)


def labelled(
    examples: list[Example], vectors: Vectors, model: tuple[np.ndarray, float, float]
) -> np.ndarray:
    """Per example: whether the label it opens with passes the label model's threshold."""
    weights, bias, threshold = model
    names = [label(e.text) for e in examples]
    found = [n for n in names if n]
    probs = dict(zip(found, predict(vectors(found), weights, bias), strict=True)) if found else {}
    return np.array([bool(n) and probs[n] >= threshold for n in names])


def fitted_without(
    held_out: Path,
    vectors: Vectors,
    files: Sequence[Path] = EXAMPLE_FILES,
    quote_step: bool = True,
    quote_rules: bool = QUOTE_RULES,
    labels: bool = READ_LABELS,
) -> tuple[AddressClassifier, list[Example]]:
    """A classifier fitted as the shipped one (``MODEL_FILE``'s penalty and clause reading)
    but without ``held_out``'s sentences (its thresholds chosen again by 5-fold
    cross-validation on what it is fitted on; without ``quote_step`` the quote step uses the
    one threshold), and those sentences as examples to measure it on."""
    shipped = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    penalty, use_clauses = shipped["penalty"], shipped["clauses"]
    test = written_examples([held_out])
    unseen = {e.text for e in test}
    paths = [p for p in files if p.resolve() != held_out.resolve()]
    examples = [e for e in written_examples(paths) if e.text not in unseen] + site_examples()
    vectors.embed([t for e in examples + test for t in (e.text, *clauses(e.text))])
    probs = out_of_fold(examples, vectors, penalty, "fold", (use_clauses,))[use_clauses]
    threshold = choose_threshold(probs, examples)
    quote = choose_threshold(probs, examples, MAX_FP_WRITTEN_QUOTE, MAX_FP_SITE_QUOTE)
    weights, bias = train(examples, vectors, penalty, use_clauses)
    label_model = {}
    if labels and quote_step:
        label_weights, label_bias, label_threshold, _ = fit_labels(examples, vectors, penalty)
        label_model = {
            "label_weights": label_weights,
            "label_bias": label_bias,
            "label_threshold": label_threshold,
        }
    classifier = AddressClassifier(
        embedding_model=vectors.model_name,
        weights=weights,
        bias=bias,
        threshold=threshold,
        clauses=use_clauses,
        embedding_variant=vectors.settings.embedding_variant,
        quote_threshold=min(quote, threshold) if quote_step else None,
        quote_rules=quote_rules,
        **label_model,
    )
    return classifier, test


def leave_one_set_out(
    models_dir: Path | None, cache: Path | None, files: Sequence[Path] = EXAMPLE_FILES
) -> int:
    """Print, for each set written by others (``EVAL_SETS``), what a model fitted on the
    other ``files`` (the set itself left out when it is one of them) flags there (at its
    threshold) and keeps from being quoted (at the quote step's bar)."""
    vectors = Vectors(models_dir, cache)
    print(
        "set | addressed flagged | look-alikes flagged | addressed not quotable | "
        "look-alikes not quotable | thresholds | per unit"
    )
    for held_out in EVAL_SETS:
        classifier, test = fitted_without(held_out, vectors, files)
        verdicts = np.array(_verdicts(classifier, test, vectors))
        hostile = np.array([e.hostile for e in test])
        n, m = int(hostile.sum()), int((~hostile).sum())
        figures = [
            f"{int(column[hostile].sum())}/{n} | {int(column[~hostile].sum())}/{m}"
            for column in verdicts.T
        ]
        units = units_withheld(classifier, test, vectors)
        whole = sum(w == n for (w, n), e in zip(units, test, strict=True) if e.hostile)
        touched = sum(w > 0 for (w, n), e in zip(units, test, strict=True) if not e.hostile)
        print(
            f"{held_out.name} | {' | '.join(figures)} | "
            f"{classifier.threshold:.2f}, {classifier.quote_bar:.2f} | per unit: addressed with "
            f"every unit withheld {whole}/{n}, look-alikes with a unit withheld {touched}/{m}"
        )
        for e, (flag, strict) in zip(test, verdicts, strict=True):
            if strict != e.hostile or flag != e.hostile:
                kind = "missed" if e.hostile else "look-alike flagged"
                bar = "" if flag == strict else " (quote step only)"
                print(f"  {kind}{bar} [{e.lang}]: {e.text[:140]!r}")
    return 0


def _verdicts(
    classifier: AddressClassifier, test: list[Example], vectors: Vectors
) -> list[tuple[bool, bool]]:
    """The guard's verdicts on the examples as the answer engine reaches them: addressed to
    an AI, and not to be quoted (the quote step's bar)."""
    from assistant import guard

    texts = [e.text for e in test]
    guard.use_classifier(classifier)
    try:
        flags = guard.addressed_to_ai(texts, vectors)
        return list(zip(flags, guard.kept_from_quotes(texts, vectors), strict=True))
    finally:
        guard.use_classifier(None)


def units_withheld(
    classifier: AddressClassifier, test: list[Example], vectors: Vectors
) -> list[tuple[int, int]]:
    """Per example, each text one paragraph cut into units as the answer engine cuts it
    (``split_units``): its units withheld by the quote step (``guard.unquotable``: the bars,
    the block rule, an address opening what follows) and its units."""
    from assistant import guard

    guard.use_classifier(classifier)
    try:
        out = []
        for e in test:
            passage = Passage(id="t", text=e.text, title="", url="u", source_id="t", language="")
            units = split_units(passage, 0)
            out.append((sum(guard.unquotable(units, vectors)), len(units)))
        return out
    finally:
        guard.use_classifier(None)


def evaluate(path: Path, models_dir: Path | None, cache: Path | None = None) -> int:
    """Print recall and false-positive rate of the shipped guard (and of the rules alone)."""
    from datetime import UTC, datetime

    from assistant import guard

    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    texts = [str(r["text"]) for r in rows]
    hostile = np.array([bool(r["addressed_to_ai"]) for r in rows])
    vectors = Vectors(models_dir, cache)  # embeds what the guard reads (clauses only if used)
    shipped = np.array(guard.addressed_to_ai(texts, vectors))  # as the answer engine judges
    quoting = np.array(guard.kept_from_quotes(texts, vectors))
    model_name = vectors.model_name
    rules = np.array([is_instruction(t) for t in texts])
    print(
        f"{path}: {hostile.sum()} addressed to AI, {(~hostile).sum()} not; {model_name}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    for name, flags in (
        ("guard", shipped),
        ("rules alone", rules),
        ("guard OR rules", shipped | rules),
        ("the quote step (not quoted)", quoting),
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


def site_pages(root: Path) -> list[list[Passage]]:
    """Each HTML page of a site folder as the sync stores it: its chunks (``chunk_page``)."""
    from ingest.chunk import chunk_page

    pages: list[list[Passage]] = []
    for _, page in extracted_pages(root):
        pages.append(
            [
                Passage(
                    id=chunk.id,
                    text=chunk.text,
                    title=page.title,
                    url=page.url,
                    source_id=page.source_id,
                    language=page.language,
                    heading=str(chunk.metadata["heading"]),
                )
                for chunk in chunk_page(page)
            ]
        )
    return pages


def scan(root: Path, models_dir: Path | None, cache: Path | None = None) -> int:
    """Print how many quotable units of a site folder the shipped guard flags and keeps from
    being quoted (the quote step's bar), and which; then, over each page's chunks as the sync
    cuts them, the units withheld only beside a withheld unit of their block
    (``guard.unquotable``'s block rule).

    The bundled sample site's units are training examples (benign): on it this is an
    in-sample check; the cross-validated site false-positive rate is in model.json."""
    from assistant import guard

    texts = [e.text for e in site_examples(root)]
    vectors = Vectors(models_dir, cache)
    flags = guard.addressed_to_ai(texts, vectors)
    kept = guard.kept_from_quotes(texts, vectors)
    print(f"{root}: {sum(flags)} of {len(texts)} units flagged, {sum(kept)} kept from quotes")
    for text, flag, strict in zip(texts, flags, kept, strict=True):
        if strict:
            print(f"  {'flagged' if flag else 'kept from quotes'}: {text}")
    units = [
        [u for i, p in enumerate(page) for u in split_units(p, i)] for page in site_pages(root)
    ]
    with_blocks = [guard.unquotable(page, vectors) for page in units]
    guard.BLOCKS = guard.OPENERS = False  # the block rules off: only the flags and the bar
    try:
        without = [guard.unquotable(page, vectors) for page in units]
        guard.OPENERS = True
        openers = [guard.unquotable(page, vectors) for page in units]
    finally:
        guard.BLOCKS = guard.OPENERS = True

    def added(after: list[list[bool]], before: list[list[bool]]) -> list[str]:
        return [
            u.text
            for page, a_page, b_page in zip(units, after, before, strict=True)
            for u, a, b in zip(page, a_page, b_page, strict=True)
            if a and not b
        ]

    total = sum(len(page) for page in units)
    opened, beside = added(openers, without), added(with_blocks, openers)
    print(
        f"{root}, pages as chunks: {sum(map(sum, without))} of {total} units not quoted; "
        f"{len(opened)} more after an address opening them (guard.OPENERS), {len(beside)} more "
        "beside a withheld unit of their block (the block rule)"
    )
    for text in opened:
        print(f"  withheld after an opener: {text}")
    for text in beside:
        print(f"  withheld beside one: {text}")
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
        "--examples",
        type=Path,
        nargs="+",
        default=list(EXAMPLE_FILES),
        help="JSON Lines files of written examples (default: the shipped ones)",
    )
    parser.add_argument(
        "--vectors-cache",
        type=Path,
        default=None,
        help="a SQLite file keeping vectors between runs (vectorstore.vector_cache; optional)",
    )
    parser.add_argument(
        "--evaluate",
        type=Path,
        default=None,
        help="measure the shipped guard on this JSON Lines file instead",
    )
    parser.add_argument(
        "--scan",
        type=Path,
        default=None,
        help="list the units of this folder of HTML pages the shipped guard flags instead",
    )
    parser.add_argument(
        "--leave-one-set-out",
        action="store_true",
        help="measure, for each set written by others, a model fitted without it instead",
    )
    args = parser.parse_args(argv)
    if args.leave_one_set_out:
        return leave_one_set_out(args.models_dir, args.vectors_cache, args.examples)
    if args.scan is not None:
        return scan(args.scan, args.models_dir, args.vectors_cache)
    if args.evaluate is not None:
        return evaluate(args.evaluate, args.models_dir, args.vectors_cache)

    examples = written_examples(args.examples) + site_examples()
    vectors = Vectors(args.models_dir, args.vectors_cache)
    vectors.embed([t for e in examples for t in (e.text, *clauses(e.text))])  # one batch
    rules = np.array([is_instruction(e.text) for e in examples])
    held = np.array([is_held_out(e) for e in examples])
    choosing = [e for e, h in zip(examples, held, strict=True) if not h]
    testing = [e for e, h in zip(examples, held, strict=True) if h]

    # Choices by 5-fold cross-validation on the 80% that is not held out.
    # (key, penalty, clauses, threshold, quote threshold)
    best: tuple[float, float, bool, float, float] | None = None
    for penalty in PENALTIES:
        by_fold = out_of_fold(choosing, vectors, penalty, "fold", CLAUSE_MODES)
        for use_clauses in CLAUSE_MODES:
            probs = by_fold[use_clauses]
            threshold = choose_threshold(probs, choosing)
            r = rates(probs >= threshold, choosing)
            print(f"penalty {penalty} clauses {use_clauses}: threshold {threshold:.2f} 5-fold {r}")
            key = -(r["recall"] - r["fp_written"] - r["fp_site"])
            if best is None or key < best[0]:
                quote = choose_threshold(probs, choosing, MAX_FP_WRITTEN_QUOTE, MAX_FP_SITE_QUOTE)
                best = (key, penalty, use_clauses, threshold, min(quote, threshold))
    assert best is not None
    _, penalty, use_clauses, threshold, quote_threshold = best

    # The held-out 20%: a model fitted on the other 80% with those choices.
    model = train(choosing, vectors, penalty, use_clauses)
    held_probs = scores(testing, vectors, model, use_clauses)
    learned = held_probs >= threshold
    held_rules = rules[held]
    figures = {
        "rules": rates(held_rules, testing),
        "classifier": rates(learned, testing),
        "classifier_or_rules": rates(learned | held_rules, testing),
    }
    # The rules are OR-ed in only when they add more recall than false positives.
    gain = figures["classifier_or_rules"]["recall"] - figures["classifier"]["recall"]
    cost = (figures["classifier_or_rules"]["fp_written"] - figures["classifier"]["fp_written"]) + (
        figures["classifier_or_rules"]["fp_site"] - figures["classifier"]["fp_site"]
    )
    use_rules = gain > cost
    quoting = held_probs >= quote_threshold
    if READ_LABELS:
        quoting |= labelled(testing, vectors, fit_labels(choosing, vectors, penalty)[:3])
    figures["quote_step"] = rates(learned | quoting | (held_rules & QUOTE_RULES), testing)
    for name, r in figures.items():
        print(f"held out {name}: {r}")
    shipped = learned | held_rules if use_rules else learned
    for e, flag, p in zip(testing, shipped, held_probs, strict=True):
        if flag != e.hostile:
            kind = "missed" if e.hostile else "false positive"
            print(f"  {kind} (held out, {p:.2f}) [{e.lang}, {e.group}]: {e.text}")
    by_language = out_of_fold(examples, vectors, penalty, "language", (use_clauses,))[use_clauses]
    unseen_language = rates(by_language >= threshold, examples)
    print(f"leave-one-language-out (all examples): {unseen_language}")
    print(
        f"penalty {penalty}, clauses {use_clauses}, threshold {threshold:.2f}, "
        f"rules OR-ed in: {use_rules}, quote step: {quote_threshold:.2f}, rules {QUOTE_RULES}"
    )

    weights, bias = train(examples, vectors, penalty, use_clauses)
    label_weights, label_bias, label_threshold, label_rates = fit_labels(examples, vectors, penalty)
    print(f"labels: threshold {label_threshold:.2f}, 5-fold {label_rates}")
    fitted = scores(examples, vectors, (weights, bias), use_clauses)
    in_sample = rates(fitted >= threshold, examples)
    quoting = (fitted >= quote_threshold) | (rules & QUOTE_RULES)
    if READ_LABELS:
        quoting |= labelled(examples, vectors, (label_weights, label_bias, label_threshold))
    in_sample_quote = rates(quoting, examples)
    print(f"in-sample: {in_sample}")
    print(f"in-sample, the quote step: {in_sample_quote}")
    counts = {g: sum(1 for e in examples if e.group == g) for g in GROUP_MASS}
    data = {
        "embedding_model": vectors.model_name,
        "embedding_variant": vectors.settings.embedding_variant,  # the vectors it was fitted on
        "prompt": "passage",
        "threshold": threshold,
        "clauses": use_clauses,
        "use_rules": use_rules,
        "quote_threshold": quote_threshold,
        "quote_rules": QUOTE_RULES,
        "penalty": penalty,
        "examples": counts,
        "training_files": file_digests(args.examples),
        "languages": sorted({e.lang for e in examples}),
        "held_out": figures,
        "leave_one_language_out": unseen_language,
        "in_sample": in_sample,
        "in_sample_quote_step": in_sample_quote,
        "label": {
            "threshold": label_threshold,
            "five_fold": label_rates,
            "bias": round(label_bias, 6),
            "weights": [round(float(v), 6) for v in label_weights],
        },
        "bias": round(bias, 6),
        "weights": [round(float(v), 6) for v in weights],
    }
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
