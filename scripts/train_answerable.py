"""Train the answerability model shipped in assistant/answerable_data/model.json.

Two steps; the second alone reproduces the shipped parameters exactly from the shipped table
(tests/test_answerable.py checks it):

1. ``collect`` (heavy: the embedding model, two indexes; run it under the heavy-job lock)
   asks questions through the real engine (``Assistant.evidence``) and writes one row per
   question to ``assistant/answerable_data/signals.jsonl.gz``: the signals of
   ``assistant.answerable.SIGNALS``, the label, and which hand-written rules of
   ``assistant.abstain`` fire.

   - SQuAD-it (``../shared/qa``, Italian Wikipedia paragraphs nobody here wrote): a few
     questions per article, asked against an index of the 1,020 paragraphs (answerable, kept
     when the searcher returns the gold paragraph among the passages the signals read),
     against the sample site's index (out of scope there), and against an index of the same
     articles without the paragraphs asked about (on topic, but no passage read holds the
     answer: the hard out-of-scope questions). Articles are split by title:
     one in three (by sorted position) is held out, never fitted on.
   - data/eval/dev.jsonl: answerable questions (facts, lists, several pages) and the
     out-of-scope ones, against the sample site. Follow-ups are left out: the engine gives
     them the hard checks only.
   - the SEEN sets (independent, fresh, fresh2, fresh3, fresh4, fresh5: written from the
     sample site by people who never read the code, each measured once before it was fitted
     on), the same way. ``collect-seen`` asks only these (the sample index alone) and replaces their rows.
   - dev's fact questions again, with the retrieved passages that state one of their facts
     dropped ("dev-near": on topic, out of scope; ``MEASURED``: reported, never fitted on nor
     calibrated with, since a passage left may state a fact in other words).

2. ``fit`` (seconds, numpy): weighted L2 logistic regression (``train_guard.fit``) on the
   signals standardised and clipped as the engine reads them; the penalty chosen by 5-fold cross-validation on the training rows;
   the threshold is the highest that declines at most ``MAX_FALSE_ABSTENTION`` of the
   answerable questions in each calibration group (dev and the SEEN sets out of fold, SQuAD
   held-out articles);
   a hand-written rule is kept beside the model only when, on the held-out SQuAD articles
   (questions it was not written from), it declines more out-of-scope questions than
   answerable ones, or as many more of neither (a rule that costs nothing where it fires).
   The held-out figures are written next to the parameters, with those of ``MEASURED``.
   The shipped fit leaves the SEEN sets out: fitted on and calibrated with them (``fit
   --with-seen``), the model declined no more out-of-scope questions of the set left out and
   fewer of an unseen fifth set and of held-out SQuAD-it (README, "When it says I don't
   know"). ``fit --leave-out SET`` fits with the others and without SET, to measure SET
   (``eval-left-out`` runs ``kmr eval`` on each with that model, heavy).

Usage::

    flock /tmp/kmr-heavy.lock env PYTHONPATH=$PWD python scripts/train_answerable.py collect \\
        [--work DIR] [--models-dir DIR] [--squad ../shared/qa/squad-it-half-a.json.gz]
    PYTHONPATH=$PWD python scripts/train_answerable.py fit [--out FILE]
    PYTHONPATH=$PWD python scripts/train_answerable.py fit-cross [--out FILE]

    flock /tmp/kmr-heavy.lock env PYTHONPATH=$PWD python scripts/train_answerable.py collect-cross
    flock /tmp/kmr-heavy.lock env PYTHONPATH=$PWD python scripts/train_answerable.py collect-seen \\
        [--sets independent fresh ...]
    PYTHONPATH=$PWD python scripts/train_answerable.py fit --leave-out SET --out FILE
    flock /tmp/kmr-heavy.lock env PYTHONPATH=$PWD KMR_DATA_DIR=IDX \\
        python scripts/train_answerable.py eval-left-out [--sets ...] > figures.json

``fit-cross`` fits, from the same table and in the same way, the model for questions in a
language the site has no pages in (``answerable.CROSS_MODEL_FILE``): it reads only the e5
cosines (``answerable.CROSS_SIGNALS``), which compare meaning across languages, and keeps no
hand-written rule (their words match nothing in another language). Cosines across languages
are lower than within one, so its threshold is also calibrated on dev's questions asked
against the pages of the site's other language (``collect-cross``, heavy: the model and an
index of the sample site; ``answerable_data/signals_across.jsonl.gz``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_guard import fit, predict  # noqa: E402

from assistant.abstain import assess, compares_elsewhere, missing_kind  # noqa: E402
from assistant.answerable import (  # noqa: E402
    CROSS_MODEL_FILE,
    CROSS_SIGNALS,
    MODEL_FILE,
    SIGNALS,
    UNIT_PASSAGES,
    standardise,
)
from assistant.config import SAMPLE_SITE, Settings  # noqa: E402
from assistant.extractive import split_question  # noqa: E402

SQUAD = ROOT.parent / "shared" / "qa" / "squad-it-half-a.json.gz"
DEV = ROOT / "data" / "eval" / "dev.jsonl"
# Question sets written from the sample site by people who never read the code, each measured
# once on an earlier model and now seen: collected, and fitted on only to measure (every
# figure reported for one of them comes from a model fitted without it); the shipped model
# leaves them out (``SHIPPED_LEFT_OUT``; see the module docstring).
SEEN = {
    "independent": ROOT / "data" / "eval" / "independent.jsonl",
    "fresh": ROOT / "data" / "eval" / "fresh_questions.jsonl",
    "fresh2": ROOT / "data" / "eval" / "fresh_questions2.jsonl",
    "fresh3": ROOT / "data" / "eval" / "fresh_questions3.jsonl",
    "fresh4": ROOT / "data" / "eval" / "fresh_questions4.jsonl",
    "fresh5": ROOT / "data" / "eval" / "fresh_questions5.jsonl",
}
SHIPPED_LEFT_OUT = tuple(SEEN)
# Questions about the district's people, companies and buildings that the sample site does not
# answer (checked against its pages), written for training: the site's own hard kind.
SITE_OUT_OF_SCOPE = MODEL_FILE.with_name("site_out_of_scope.jsonl")
TABLE = MODEL_FILE.with_name("signals.jsonl.gz")
CROSS_TABLE = MODEL_FILE.with_name("signals_across.jsonl.gz")  # calibration of fit-cross
PER_ARTICLE = 30  # SQuAD questions per article (the first of as many paragraphs)
HELD_OUT = 3  # one article in HELD_OUT (by sorted title) is held out
FOLDS = 5
PENALTIES = (0.001, 0.01, 0.1, 1.0)
# Each group's share of the weight, relative to the groups present (normalised in weights_of).
GROUP_MASS = {
    "squad+": 0.25,
    "squad-": 0.15,
    "squad-near": 0.2,
    "dev+": 0.25,
    "dev-": 0.15,
    "seen+": 0.15,  # the SEEN sets' answerable questions
    "seen-": 0.2,  # and their out-of-scope ones: the site's hard kind, written by others
}
# Measured only, never fitted on nor calibrated with (out of scope, on the sample site's
# topics): dev's fact questions with the passages stating their facts dropped ("dev-near";
# loose labels: a passage left may state a fact in other words), and SITE_OUT_OF_SCOPE.
MEASURED = {"dev-near": "dev_near_out_of_fold", "site-": "site_out_of_fold"}
MAX_FALSE_ABSTENTION = 0.03
# The cross-language model is fitted without the SEEN sets (English and Italian questions
# written against the site's own language: nothing of what it is for).
CROSS_OUT = tuple(SEEN)
RULES = ("kinds", "comparison", "term")
TODAY = date(2026, 12, 1)  # fixed, so dated answers cannot change what is collected


# --- collect -------------------------------------------------------------------------------
def squad_articles(path: Path = SQUAD) -> list[dict]:
    """The SQuAD-it articles, sorted by title."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return sorted(json.load(handle)["data"], key=lambda a: a["title"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def write_squad_site(
    articles: list[dict], root: Path, without: frozenset[str] = frozenset()
) -> None:
    """One Markdown file per paragraph, titled by its article (what the ingest reads), leaving
    out the paragraphs named in ``without`` ("NN-article/PPP.md")."""
    for a, article in enumerate(articles):
        folder = root / f"{a:02d}-{_slug(article['title'])}"
        folder.mkdir(parents=True, exist_ok=True)
        for p, paragraph in enumerate(article["paragraphs"]):
            if f"{folder.name}/{p:03d}.md" in without:
                continue
            target = folder / f"{p:03d}.md"
            text = f"# {article['title']}\n\n{paragraph['context'].strip()}\n"
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")


def squad_questions(articles: list[dict]) -> Iterator[tuple[str, str, int, str, str]]:
    """(question id, question, article number, gold paragraph path, answer) for PER_ARTICLE
    paragraphs of each article, spread over the article."""
    for a, article in enumerate(articles):
        paragraphs = [(p, par) for p, par in enumerate(article["paragraphs"]) if par["qas"]]
        step = max(1, len(paragraphs) / PER_ARTICLE)
        picked = sorted({int(n * step) for n in range(PER_ARTICLE)} & set(range(len(paragraphs))))
        for n in picked:
            p, paragraph = paragraphs[n]
            qa = paragraph["qas"][0]
            gold = f"{a:02d}-{_slug(article['title'])}/{p:03d}.md"
            yield qa["id"], qa["question"], a, gold, qa["answers"][0]["text"]


def _settings(data_dir: Path, source: Path, models_dir: Path | None) -> Settings:
    extra = {"model_cache_dir": models_dir} if models_dir else {}
    return Settings(data_dir=data_dir, sources=[str(source)], today=TODAY, _env_file=None, **extra)


def _runtime(settings: Settings, embeddings: object = None):  # noqa: ANN202
    from assistant.runtime import open_runtime, sync_index

    runtime = open_runtime(settings, embeddings)  # type: ignore[arg-type]
    if runtime.store.count() == 0:
        print(f"indexing {settings.sources[0]} ...", file=sys.stderr, flush=True)
        print(sync_index(settings, runtime.store), file=sys.stderr)
    runtime.warm()
    return runtime


def row(
    runtime,  # noqa: ANN001
    question: str,
    lang: str | None = None,
    without: tuple[str, ...] = (),
) -> dict | None:
    """The signals of one question through the engine, and the rules that fire on it (None
    when nothing was retrieved: the partner directory answered, or the question was empty).
    ``without``: the retrieved passages holding any of these strings are dropped before the
    answer is chosen, as if the site did not state them (the passages left are on topic)."""
    if without:
        assistant = runtime.assistant
        prep = assistant._prepare(question, [], None, lang)  # noqa: SLF001 - training only
        kept = [p for p in prep.passages if not _holds(p.text, without)]
        evidence = assistant._evidence(replace(prep, passages=kept))  # noqa: SLF001
    else:
        evidence = runtime.assistant.evidence(question, language=lang)
    passages, stats = evidence.passages, evidence.stats
    if not passages:
        return None
    old = assess(evidence.question, evidence.language, passages, stats, evidence.selection)
    return {
        "lang": evidence.language,
        "signals": {k: round(v, 6) for k, v in evidence.signals().items()},
        "rules": {
            "kinds": all(
                missing_kind(part, passages, stats) for part in split_question(evidence.question)
            ),
            "comparison": compares_elsewhere(evidence.question, stats),
            "term": old.reason.startswith("weak term support"),
        },
        "before": old.answerable,  # the hand-written decision this model replaces
        "sources": [p.source_id for p in passages[:UNIT_PASSAGES]],
        "texts": [p.text for p in passages[:UNIT_PASSAGES]],
    }


def _holds(text: str, strings: tuple[str, ...]) -> bool:
    folded = text.casefold()
    return any(s.casefold() in folded for s in strings)


def site_rows(sample, name: str, path: Path) -> list[dict]:  # noqa: ANN001
    """The rows of one question set against the sample site: its answerable questions (facts,
    lists, several pages; in dev, an injection carrying a real question too) and its
    out-of-scope ones. Follow-ups are left out: the engine gives them the hard checks only.
    The SEEN sets' injections are left out too: a pasted instruction is the guard's concern,
    and the question inside it scores as noise (on a table collected with them in, four of
    independent's five were its lowest answerable rows and the calibrated threshold fell
    from 0.145 to 0.075)."""
    group = "dev" if name == "dev" else "seen"
    rows: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        if q.get("history") or q.get("kind") == "follow-up":
            continue
        if group == "seen" and q.get("kind") == "injection":
            continue
        oos = q.get("kind") == "out-of-scope"
        if not oos and not (q.get("gold") or q.get("facts")):
            continue  # an injection with no real question
        found = row(sample, q["question"], q.get("lang"))
        if found is None:
            continue
        found.pop("sources")
        found.pop("texts")
        kind = q.get("kind", "fact")
        base = {"id": q["id"], "set": name, "kind": kind, "split": "train", "article": -1}
        label = 0 if oos else 1
        rows.append({**base, "group": f"{group}{'-' if oos else '+'}", "label": label, **found})
        facts = tuple(f for alternatives in q.get("facts") or [] for f in alternatives)
        if name != "dev" or oos or not facts or q.get("kind") != "fact":
            continue
        # The same question as if the site did not state its answer: the passages stating
        # any of its facts are dropped, the rest (on its topic) remain; out of scope.
        near = row(sample, q["question"], q.get("lang"), without=facts)
        if near is None:
            continue
        near.pop("sources")
        near.pop("texts")
        rows.append({**base, "id": f"{q['id']}-near", "group": "dev-near", "label": 0, **near})
    return rows


def _write_table(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    out.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))  # same rows, same bytes
    print(f"{len(rows)} rows -> {out}", file=sys.stderr)


def collect_seen(
    work: Path, models_dir: Path | None, out: Path = TABLE, sets: tuple[str, ...] = tuple(SEEN)
) -> int:
    """Ask the questions of the SEEN ``sets`` alone (the sample site's index only: a minute,
    not the three indexes of ``collect``) and put their rows in the table in place of the
    ones it held for them; the other rows are kept as they are."""
    sample = _runtime(_settings(work / "sample", SAMPLE_SITE, models_dir))
    kept = [r for r in load_table(out, keep_all=True) if r["set"] not in sets]
    fresh = [r for name in sets for r in site_rows(sample, name, SEEN[name])]
    _write_table(kept + fresh, out)
    return 0


def collect(work: Path, models_dir: Path | None, out: Path = TABLE, squad: Path = SQUAD) -> int:
    """Ask every training question through the engine; write the table of signals."""
    articles = squad_articles(squad)
    questions = list(squad_questions(articles))
    write_squad_site(articles, work / "squad-site")
    # The same articles without the paragraphs asked about: their neighbours are on topic but
    # (checked below) do not hold the answer, the hard kind of out-of-scope question.
    golds = frozenset(q[3] for q in questions)
    write_squad_site(articles, work / "squad-near-site", without=golds)
    sample = _runtime(_settings(work / "sample", SAMPLE_SITE, models_dir))
    squad = _runtime(_settings(work / "squad", work / "squad-site", models_dir), sample.embeddings)
    near = _runtime(
        _settings(work / "squad-near", work / "squad-near-site", models_dir), sample.embeddings
    )
    rows: list[dict] = []
    for qid, question, article, gold, answer in questions:
        split = "held-out" if article % HELD_OUT == 0 else "train"
        base = {"id": qid, "set": "squad", "split": split, "article": article}
        own = row(squad, question, "it")
        if own is not None:
            hit = any(source.endswith(gold) for source in own.pop("sources"))
            own.pop("texts")
            group = "squad+" if hit else "squad-missed"
            rows.append({**base, "group": group, "label": 1, **own})
        for runtime, group in ((sample, "squad-"), (near, "squad-near")):
            other = row(runtime, question, "it")
            if other is None:
                continue
            other.pop("sources")
            if any(answer.casefold() in text.casefold() for text in other.pop("texts")):
                continue  # another paragraph states the answer too
            rows.append({**base, "group": group, "label": 0, **other})
    rows += site_rows(sample, "dev", DEV)
    for line in SITE_OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        found = row(sample, q["question"], q["lang"])
        if found is None:
            continue
        found.pop("sources")
        found.pop("texts")
        base = {"id": q["id"], "set": "site", "split": "train", "article": -1}
        rows.append({**base, "group": "site-", "label": 0, **found})
    for name, path in SEEN.items():
        rows += site_rows(sample, name, path)
    _write_table(rows, out)
    return 0


def collect_cross(work: Path, models_dir: Path | None, out: Path = CROSS_TABLE) -> int:
    """The calibration rows of the cross-language model: the one-part questions of dev asked
    against the pages of the site's other language only (Italian questions against the English
    pages, English ones against the Italian pages), so that their cosines are across languages
    as a German question's are. Answerable when a passage read holds one of the question's
    facts; the out-of-scope questions of dev are out of scope. Never fitted on: they only set
    the threshold (``fit_model``'s ``calibrate``)."""
    from vectorstore.passages import Filters

    sample = _runtime(_settings(work / "sample", SAMPLE_SITE, models_dir))
    rows: list[dict] = []
    for line in DEV.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if q.get("history") or q.get("kind") == "follow-up":
            continue
        oos = q.get("kind") == "out-of-scope"
        if not oos and not q.get("facts"):
            continue
        lang = q.get("lang") or "en"
        filters = Filters(language="en" if lang == "it" else "it")
        evidence = sample.assistant.evidence(q["question"], language=lang, filters=filters)
        if not evidence.passages:
            continue
        texts = " ".join(p.text for p in evidence.passages[:UNIT_PASSAGES]).casefold()
        holds = any(f.casefold() in texts for group in q["facts"] for f in group)
        if not (oos or holds):
            continue  # the other language's pages do not state it
        signals = {k: round(v, 6) for k, v in evidence.signals().items()}
        rows.append(
            {
                "id": q["id"],
                "set": "dev-across",
                "lang": lang,
                "label": 0 if oos else 1,
                "signals": signals,
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    out.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{len(rows)} rows -> {out}", file=sys.stderr)
    return 0


# --- fit -----------------------------------------------------------------------------------
def load_table(path: Path = TABLE, keep_all: bool = False) -> list[dict]:
    """The collected rows (the SQuAD answerable questions whose gold was not retrieved are
    left out: the passages do not hold their answer); ``keep_all``: every row."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line]
    return rows if keep_all else [r for r in rows if r["group"] in GROUP_MASS]


Scaling = tuple[np.ndarray, np.ndarray]  # mean and scale of the training rows' signals


def raw(rows: list[dict], names: tuple[str, ...] = SIGNALS) -> np.ndarray:
    return np.array([[r["signals"][name] for name in names] for r in rows], dtype=np.float64)


def scaling_of(rows: list[dict], names: tuple[str, ...] = SIGNALS) -> Scaling:
    x = raw(rows, names)
    return x.mean(axis=0), x.std(axis=0) + 1e-6


def matrix(rows: list[dict], scaling: Scaling, names: tuple[str, ...] = SIGNALS) -> np.ndarray:
    """The signals as the shipped model reads them (``answerable.standardise``)."""
    return standardise(raw(rows, names), *scaling)


def weights_of(rows: list[dict]) -> np.ndarray:
    """Each group present gets its share of the total mass, split evenly inside the group."""
    counts = {g: sum(r["group"] == g for r in rows) for g in GROUP_MASS}
    total = sum(mass for g, mass in GROUP_MASS.items() if counts[g])
    share = [GROUP_MASS[r["group"]] / total / counts[r["group"]] for r in rows]
    return np.array(share) * len(rows)


def _fold(r: dict) -> int:
    # a dev question and its "-near" twin (the same words, the answer dropped) share a fold
    key = f"a{r['article']}" if r["set"] == "squad" else r["id"].removesuffix("-near")
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % FOLDS


def train(
    rows: list[dict], penalty: float, scaling: Scaling, names: tuple[str, ...] = SIGNALS
) -> tuple[np.ndarray, float]:
    """Weights on the standardised signals, and the bias."""
    y = np.array([r["label"] for r in rows], dtype=np.float64)
    return fit(matrix(rows, scaling, names), y, weights_of(rows), penalty)


def out_of_fold(
    rows: list[dict], penalty: float, scaling: Scaling, names: tuple[str, ...] = SIGNALS
) -> np.ndarray:
    """Probabilities from models that never saw the row (folds by article / question)."""
    probs = np.zeros(len(rows))
    folds = np.array([_fold(r) for r in rows])
    for k in range(FOLDS):
        held = folds == k
        model = train(
            [r for r, h in zip(rows, held, strict=True) if not h], penalty, scaling, names
        )
        held_rows = [r for r, h in zip(rows, held, strict=True) if h]
        probs[held] = predict(matrix(held_rows, scaling, names), *model)
    return probs


def fold_scores(
    train_rows: list[dict],
    others: list[dict],
    penalty: float,
    scaling: Scaling,
    names: tuple[str, ...] = SIGNALS,
) -> np.ndarray:
    """Probabilities of ``others`` (never fitted on), each from the model of ``out_of_fold``
    that did not see its fold (a dev question's "-near" twin shares the question's fold)."""
    probs = np.zeros(len(others))
    folds = np.array([_fold(r) for r in train_rows])
    their = np.array([_fold(r) for r in others])
    for k in range(FOLDS):
        if not (their == k).any():
            continue
        model = train(
            [r for r, f in zip(train_rows, folds, strict=True) if f != k], penalty, scaling, names
        )
        probs[their == k] = predict(
            matrix([r for r, f in zip(others, their, strict=True) if f == k], scaling, names),
            *model,
        )
    return probs


def log_loss(probs: np.ndarray, rows: list[dict]) -> float:
    y = np.array([r["label"] for r in rows])
    p = np.clip(probs, 1e-9, 1 - 1e-9)
    return float(-(weights_of(rows) * (y * np.log(p) + (1 - y) * np.log(1 - p))).mean())


def declined(
    rows: list[dict], probs: np.ndarray, threshold: float, rules: tuple[str, ...]
) -> np.ndarray:
    """What the engine declines: below the threshold, or a kept rule fires."""
    fired = np.array([any(r["rules"][rule] for rule in rules) for r in rows], dtype=bool)
    return (probs < threshold) | fired


def figures(rows: list[dict], refused: np.ndarray) -> dict[str, float | int]:
    """Out-of-scope declined and answerable declined (false abstention), with counts."""
    y = np.array([r["label"] for r in rows])
    neg, pos = y == 0, y == 1
    return {
        "oos_declined": round(float(refused[neg].mean()), 4) if neg.any() else 0.0,
        "false_abstention": round(float(refused[pos].mean()), 4) if pos.any() else 0.0,
        "n_out_of_scope": int(neg.sum()),
        "n_answerable": int(pos.sum()),
    }


def choose_threshold(
    calibration: list[tuple[list[dict], np.ndarray]], rules: tuple[str, ...]
) -> float:
    """The highest threshold declining (with the kept ``rules``) at most MAX_FALSE_ABSTENTION
    of the answerable questions of every calibration group."""
    best = 0.0
    for threshold in np.round(np.arange(0.01, 0.99, 0.005), 3):
        if all(
            figures(rows, declined(rows, probs, threshold, rules))["false_abstention"]
            <= MAX_FALSE_ABSTENTION
            for rows, probs in calibration
        ):
            best = float(threshold)
        else:
            break
    return best


def choose_rules(
    calibration: list[tuple[list[dict], np.ndarray]],
    held: list[dict],
    held_probs: np.ndarray,
    rules: tuple[str, ...] = RULES,
) -> tuple[tuple[str, ...], float]:
    """The hand-written rules to keep and the threshold that goes with them: each set of rules
    gets its own calibrated threshold (a set whose rules alone decline too many answerable
    questions is out); the set declining the most out-of-scope questions of the
    held-out SQuAD articles (which no rule was written from) wins; on a tie, the one declining
    fewer of their answerable questions, then the one with more rules."""
    subsets = [
        tuple(rule for n, rule in enumerate(rules) if mask >> n & 1)
        for mask in range(2 ** len(rules))
    ]
    best: tuple[float, float, int, tuple[str, ...], float] | None = None
    for subset in subsets:
        threshold = choose_threshold(calibration, subset)
        if any(
            figures(rows, declined(rows, probs, threshold, subset))["false_abstention"]
            > MAX_FALSE_ABSTENTION
            for rows, probs in calibration
        ):
            continue  # the rules alone decline too many answerable questions
        found = figures(held, declined(held, held_probs, threshold, subset))
        # on a tie, a rule that declines no more answerable questions stays: it is measured
        # right where it fires, on questions it was not written from
        key = (found["oos_declined"], -found["false_abstention"], len(subset), subset, threshold)
        if best is None or key[:3] > best[:3]:
            best = key
    assert best is not None
    return best[3], best[4]


def fit_model(
    path: Path = TABLE,
    names: tuple[str, ...] = SIGNALS,
    rules: tuple[str, ...] = RULES,
    calibrate: Path | None = None,
    left_out: tuple[str, ...] = (),
) -> dict:
    """Everything model.json holds, from the table alone (deterministic): over the signals
    ``names``, with the hand-written ``rules`` it may keep (the model for questions in a
    language the site lacks reads only ``answerable.CROSS_SIGNALS``, keeps no rule); the rows
    of ``calibrate`` (``collect_cross``), never fitted on, are one more calibration group.
    The rows of the sets ``left_out`` are neither fitted on nor calibrated with. With every
    set in, each SEEN set is also scored by a model fitted the same way without it
    (``leave_one_set_out``): the figures reported for them."""
    rows = [r for r in load_table(path) if r["set"] not in left_out]
    train_rows = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] == "held-out"]
    scaling = scaling_of(train_rows, names)
    losses = {
        p: log_loss(out_of_fold(train_rows, p, scaling, names), train_rows) for p in PENALTIES
    }
    penalty = min(PENALTIES, key=lambda p: (round(losses[p], 6), -p))
    weights, bias = train(train_rows, penalty, scaling, names)
    oof = out_of_fold(train_rows, penalty, scaling, names)
    dev = [(r, p) for r, p in zip(train_rows, oof, strict=True) if r["set"] == "dev"]
    dev_rows, dev_probs = [r for r, _ in dev], np.array([p for _, p in dev])
    seen = [(r, p) for r, p in zip(train_rows, oof, strict=True) if r["set"] in SEEN]
    seen_rows, seen_probs = [r for r, _ in seen], np.array([p for _, p in seen])
    held_probs = predict(matrix(held, scaling, names), weights, bias)
    measured = [r for r in load_table(path, keep_all=True) if r["group"] in MEASURED]
    measured_probs = fold_scores(train_rows, measured, penalty, scaling, names)
    # the answerable questions of the site's sets, each scored by a model without its fold:
    # at most MAX_FALSE_ABSTENTION of them declined, as of the held-out SQuAD articles
    calibration = [(dev_rows, dev_probs), (held, held_probs)]
    if seen_rows:
        calibration.append((seen_rows, seen_probs))
    extra = load_table(calibrate, keep_all=True) if calibrate is not None else []
    extra_probs = predict(matrix(extra, scaling, names), weights, bias) if extra else None
    if extra_probs is not None:
        calibration.append((extra, extra_probs))
    kept, threshold = choose_rules(calibration, held, held_probs, rules)
    kept_rules = {rule: rule in kept for rule in rules}
    # What each rule adds on its own to the model alone, on the held-out SQuAD articles.
    alone = choose_threshold(calibration, ())
    y = np.array([r["label"] for r in held])
    base = declined(held, held_probs, alone, ())
    rule_effect: dict[str, dict[str, int]] = {}
    for rule in rules:
        extra = declined(held, held_probs, alone, (rule,)) & ~base
        rule_effect[rule] = {
            "more_out_of_scope_declined": int((extra & (y == 0)).sum()),
            "more_answerable_declined": int((extra & (y == 1)).sum()),
        }
    model_alone = figures(held, base)
    mean, scale = scaling
    before = {
        name: figures(group, np.array([not r["before"] for r in group]))
        for name, group in (("squad_held_out", held), ("dev", dev_rows))
    }
    return {
        "signals": list(names),
        "mean": [round(float(v), 8) for v in mean],
        "scale": [round(float(v), 8) for v in scale],
        "weights": [round(float(v), 8) for v in weights],
        "bias": round(float(bias), 8),
        "threshold": threshold,
        "rules": kept_rules,
        "penalty": penalty,
        "cv_log_loss": {str(p): round(v, 5) for p, v in losses.items()},
        "held_out": {
            "squad": figures(held, declined(held, held_probs, threshold, kept)),
            **{
                name: figures(
                    [held[i] for i in keep],
                    declined([held[i] for i in keep], held_probs[keep], threshold, kept),
                )
                for name, group in (("squad_far", "squad-"), ("squad_near", "squad-near"))
                for keep in [[i for i, r in enumerate(held) if r["group"] in {"squad+", group}]]
            },
            "dev_out_of_fold": figures(dev_rows, declined(dev_rows, dev_probs, threshold, kept)),
            **(
                {
                    "seen_out_of_fold": figures(
                        seen_rows, declined(seen_rows, seen_probs, threshold, kept)
                    )
                }
                if seen_rows
                else {}
            ),
            **{
                name: figures(
                    [measured[i] for i in keep],
                    declined([measured[i] for i in keep], measured_probs[keep], threshold, kept),
                )
                for group, name in MEASURED.items()
                for keep in [[i for i, r in enumerate(measured) if r["group"] == group]]
                if keep
            },
            **(
                {
                    "dev_across_languages": figures(
                        extra, declined(extra, extra_probs, threshold, kept)
                    )
                }
                if extra_probs is not None
                else {}
            ),
            "squad_model_alone": {**model_alone, "threshold": alone},
            "rule_effect_on_squad": rule_effect,
            "hand_written_rules_before": before,
        },
        **(
            {"leave_one_set_out": leave_one_set_out(path, names, rules, calibrate)}
            if not left_out and any(r["set"] in SEEN for r in rows)
            else {}
        ),
        "table_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows": {g: sum(r["group"] == g for r in rows) for g in GROUP_MASS},
    }


def leave_one_set_out(
    path: Path,
    names: tuple[str, ...],
    rules: tuple[str, ...],
    calibrate: Path | None,
) -> dict[str, dict]:
    """Each SEEN set in the table, scored by the model (penalty, rules, threshold) fitted and
    calibrated as ``fit_model`` does without it: what it declines, per language, of the rows
    the engine judged with the model (the hard checks before it are ``kmr eval``'s)."""
    table = load_table(path)
    out: dict[str, dict] = {}
    for name in SEEN:
        rows = [r for r in table if r["set"] == name]
        if not rows:
            continue
        model = fit_model(path, names, rules, calibrate, (name,))
        out[name] = score_rows(model, rows)
    return out


def score_rows(model: dict, rows: list[dict]) -> dict:
    """What ``model`` (as model.json holds it) declines of ``rows``, overall and per language,
    with its threshold."""
    names = tuple(model["signals"])
    scaling = (np.array(model["mean"]), np.array(model["scale"]))
    probs = predict(matrix(rows, scaling, names), np.array(model["weights"]), model["bias"])
    kept = tuple(rule for rule, on in model["rules"].items() if on)
    refused = declined(rows, probs, model["threshold"], kept)
    langs = sorted({r["lang"] for r in rows})
    return {
        "all": figures(rows, refused),
        **{
            lang: figures([r for r in rows if r["lang"] == lang], refused[mask])
            for lang in langs
            for mask in [np.array([r["lang"] == lang for r in rows])]
        },
        "threshold": model["threshold"],
    }


def eval_left_out(sets: tuple[str, ...], table: Path = TABLE) -> dict[str, dict]:
    """``kmr eval --json`` of each SEEN set in ``sets`` (on the index of KMR_DATA_DIR, as the
    command reads it), the engine reading the model fitted without that set in place of the
    shipped one (heavy: the embedding model, one pass over each set)."""
    import contextlib
    import io

    from assistant import answerable
    from assistant.cli import app

    shipped = answerable.load_model
    reports: dict[str, dict] = {}
    try:
        for name in sets:
            model = answerable.from_dict(fit_model(table, left_out=(name,)))

            def loaded(path: Path = MODEL_FILE, model: answerable.AnswerableModel = model):  # noqa: ANN202
                return model if path == MODEL_FILE else shipped(path)

            answerable.load_model = loaded  # type: ignore[assignment]
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                app(["eval", "--json", str(SEEN[name])], standalone_mode=False)
            reports[name] = json.loads(printed.getvalue())
    finally:
        answerable.load_model = shipped
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "step",
        choices=["collect", "collect-seen", "fit", "collect-cross", "fit-cross", "eval-left-out"],
    )
    parser.add_argument(
        "--sets", nargs="+", choices=list(SEEN), default=list(SEEN), help="SEEN sets to read"
    )
    parser.add_argument(
        "--leave-out", choices=list(SEEN), default=None, help="fit: without this SEEN set"
    )
    parser.add_argument(
        "--with-seen", action="store_true", help="fit: also on the SEEN sets (not shipped)"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kmr-answerable")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument(
        "--squad", type=Path, default=SQUAD, help="the SQuAD-it file (../shared/qa)"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: the shipped file")
    args = parser.parse_args(argv)
    if args.step == "collect":
        return collect(args.work, args.models_dir, args.table, args.squad)
    if args.step == "collect-seen":
        return collect_seen(args.work, args.models_dir, args.table, tuple(args.sets))
    if args.step == "collect-cross":
        return collect_cross(args.work, args.models_dir)
    if args.step == "eval-left-out":
        print(json.dumps(eval_left_out(tuple(args.sets), args.table), indent=1))
        return 0
    if args.step == "fit-cross":  # questions in a language the site has no pages in
        model = fit_model(args.table, CROSS_SIGNALS, (), calibrate=CROSS_TABLE, left_out=CROSS_OUT)
        args.out = args.out or CROSS_MODEL_FILE
    elif args.leave_out:  # a model to measure that set with, never shipped
        if args.out is None:
            parser.error("fit --leave-out needs --out")
        model = fit_model(args.table, left_out=(args.leave_out,))
    elif args.with_seen:  # measured, not shipped (see the docstring)
        if args.out is None:
            parser.error("fit --with-seen needs --out")
        model = fit_model(args.table)
    else:
        model = fit_model(args.table, left_out=SHIPPED_LEFT_OUT)
        args.out = args.out or MODEL_FILE
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(
        json.dumps({k: model[k] for k in ("threshold", "rules", "penalty", "held_out")}, indent=1)
    )
    assert all(math.isfinite(w) for w in model["weights"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
