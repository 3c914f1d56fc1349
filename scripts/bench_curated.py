"""Fit, calibrate and measure curated-answer matching on sets of question pairs.

Each line of a pairs file (data/eval/paraphrases.jsonl and the like) holds a curated question
``a``, a visitor question ``b``, ``match`` (whether ``b`` must get ``a``'s answer), a ``kind``
(paraphrase, cross-language paraphrase, near miss, cross-language near miss) and a ``topic``.
Each visitor question is also paired with the closest curated question of another topic
(kind "other topic", must not match), as the matcher meets every curated answer.

Fitting (``--fit FILE``, repeatable: the files are pooled, each topic named by its file; default
data/eval/paraphrases.jsonl): a logistic regression over
``assistant.curated_features.pair_features`` (``FEATURES``), its regularisation and its
probability line chosen by cross-validation grouped by topic over all the pairs (no topic is
ever in both the training and the test part of a fold; ``REPEATS`` shuffles of ``FOLDS``
folds). The line is the lowest at which the pooled out-of-fold precision, with the production
rule (``assistant.curated_match.accepts``: the line, and the numbers the questions name must
agree), reaches ``--target``. The model is then fitted on all the pairs.

Measuring (``--measure FILE``, repeatable): precision and recall of the shipped model (after
``--write``, the one just fitted; ``--model FILE`` another) on a pairs file, with the
production rule. Then the
cost: ms per visitor question matched against ``--answers`` curated answers (default 200).

Each measured file is also read as the matcher meets it (``Offers``): every curated question of
the file is one answer in a real ``CuratedStore``, every visitor question is looked up with
``CuratedMatcher.lookup``, and the bench counts what is given unasked (right, wrong) and what is
offered ("Did you mean ...?": the right answer among the offers), with precision and recall of
the unasked band and of the band with the visitor's confirmation (a visitor takes the right
offer only; a wrong offer serves nothing).

The suggestion parameters (``--write-suggest``, to assistant/curated_suggest.json): each
language's mean question vector, the top ``COMPONENTS`` principal directions of the centred
questions (removed) and the next ``SITE_DIRECTIONS`` (the site's question space, read by the
gate), from the site's evaluation questions (``SITE_QUESTIONS``, none of them in a pairs file);
then the gate's weight, the count and the margin (``choose_offers``): the highest recall with
confirmation pooled over the ``--fit`` files with at most ``OFFER_BUDGET`` offers per
question, each with its floor, the gate that ``--squad``'s Italian Wikipedia questions (about
nothing on the site) reach against the ``--fit`` files' curated questions in at most 5% of
cases. ``--loso`` makes that choice on all ``--fit`` files but one and measures the one left
out, for each in turn.

Usage: python scripts/bench_curated.py [--fit FILE ...] [--target 0.95] [--write]
       [--write-suggest] [--loso] [--squad FILE] [--measure FILE ...] [--model FILE]
       [--answers 200] [--json]
(``--write`` saves the fitted model to assistant/curated_model.json, which the service loads).
The vectors are those of the configured variant (``KMR_EMBEDDING_VARIANT``); the model file
records which. Run it under ``flock /tmp/kmr-heavy.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine

from assistant.config import PROJECT_ROOT, load_settings
from assistant.curated_features import (
    FEATURES,
    Embed,
    Wording,
    describe,
    numbers,
    numbers_conflict,
    pair_features,
    same_wording,
)
from assistant.curated_match import MODEL_FILE, CuratedMatcher, MatchModel, accepts, query_embedder
from assistant.curated_store import CuratedStore
from assistant.curated_suggest import SUGGEST_FILE, SuggestModel
from vectorstore.embeddings import load_embeddings

SITE_QUESTIONS = (
    "dev.jsonl",
    "independent.jsonl",
    "fresh_questions.jsonl",
    "fresh_questions2.jsonl",
    "time_lists.jsonl",
)
SQUAD = PROJECT_ROOT.parent / "shared" / "qa" / "squad-it-half-a.json.gz"
SQUAD_QUESTIONS = 600  # unrelated questions for the floor (every n-th of the file)
OFFERS = 3  # a draft's count, before the choice
COMPONENTS = 5  # top principal directions of the site's questions removed before the cosine
SITE_DIRECTIONS = 48  # the next ones: the site's question space, read by the gate
UNRELATED_OFFERED = 0.05  # share of unrelated questions the floor lets through
SITE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)  # the gate's weight of the site's question space
COUNTS = (3, 4)  # at most this many answers offered
MARGINS = (0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 1.0)  # an offer within this cosine of the first
OFFER_BUDGET = 1.6  # offers per question, the main branch's level on the four seen sets
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 10
REPEATS = 5


def machine() -> str:
    """Architecture, cores, memory and Python of this machine, for the record."""
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
    """Precision and recall of boolean predictions, with their counts."""
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


def recall_at(
    scores: np.ndarray, truth: np.ndarray, allowed: np.ndarray, target: float = 0.95
) -> float:
    """The highest recall of any line on ``scores`` whose precision reaches ``target`` (pairs
    not ``allowed``, naming other numbers, are never accepted); 0.0 when none does."""
    best = 0.0
    for line in np.unique(scores):
        predicted = (scores >= line) & allowed
        tp, fp = int((predicted & truth).sum()), int((predicted & ~truth).sum())
        if tp and tp / (tp + fp) >= target:
            best = max(best, tp / int(truth.sum()))
    return round(best, 3)


def offers(path: Path, embed: Embed, model: MatchModel, suggest: SuggestModel) -> dict[str, Any]:
    """The file as the matcher meets it: each curated question one answer of a real store,
    each visitor question looked up; what is given unasked and what is offered."""
    rows = [r for r in read_pairs(path) if r.get("kind") != "other topic"]
    with tempfile.TemporaryDirectory() as folder:
        store = CuratedStore(create_engine(f"sqlite:///{folder}/curated.db"))
        ids = {}
        for question in dict.fromkeys(r["a"] for r in rows):
            created = store.create({"questions": [question], "answer_en": "A."}, actor="bench")
            ids[question] = created["id"]
        matcher = CuratedMatcher(store, embed, model, suggest)
        given_right = given_wrong = offered_right = offered_to_none = offers_made = 0
        by_kind: dict[str, list[int]] = {}
        for row in rows:
            right = ids[row["a"]] if row["match"] else None
            found = matcher.lookup(row["b"], row["b_lang"])
            offered = [s.answer_id for s in found.suggestions]
            offers_made += len(offered)
            counts = by_kind.setdefault(row["kind"], [0, 0, 0, 0])  # given ok/wrong, offered ok, n
            counts[3] += 1
            if found.match is not None:
                if found.match.answer_id == right:
                    given_right += 1
                    counts[0] += 1
                else:
                    given_wrong += 1
                    counts[1] += 1
            elif right is not None and right in offered:
                offered_right += 1
                counts[2] += 1
            if right is None and offered:
                offered_to_none += 1
        store.engine.dispose()
    positives = sum(1 for r in rows if r["match"])
    negatives = len(rows) - positives

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    return {
        "visitor_questions": len(rows),
        "with_an_answer": positives,
        "unasked": {
            "precision": ratio(given_right, given_right + given_wrong),
            "recall": ratio(given_right, positives),
            "right": given_right,
            "wrong": given_wrong,
        },
        "with_confirmation": {
            "precision": ratio(
                given_right + offered_right, given_right + given_wrong + offered_right
            ),
            "recall": ratio(given_right + offered_right, positives),
            "offered_right": offered_right,
        },
        "offers_per_question": ratio(offers_made, len(rows)),
        "offers_right": ratio(offered_right, offers_made),  # of every offer shown
        "questions_without_an_answer_offered_something": f"{offered_to_none}/{negatives}",
        "by_kind (given right, given wrong, offered right, questions)": by_kind,
    }


def decide_unasked(paths: list[Path], embed: Embed, target: float) -> dict[str, Any]:
    """Whether the model gives answers unasked at its line: only if, as the matcher meets
    the fit files (pooled), what it gives is right at least ``target`` of the time; the
    decision is written into the model file (``unasked``)."""
    model = dataclasses.replace(MatchModel.load(), unasked=True)
    suggest = SuggestModel.load()
    right = wrong = 0
    for path in paths:
        band = offers(path, embed, model, suggest)["unasked"]
        right, wrong = right + band["right"], wrong + band["wrong"]
    precision = right / (right + wrong) if right + wrong else 0.0
    data = json.loads(MODEL_FILE.read_text("utf-8"))
    data["unasked"] = precision >= target
    MODEL_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return {
        "precision_at_line": round(precision, 3),
        "right": right,
        "wrong": wrong,
        "unasked": data["unasked"],
    }


def site_questions(embed: Embed) -> tuple[list[Wording], list[str]]:
    """The site's evaluation questions (``SITE_QUESTIONS``, none in a pairs file), described,
    with their languages as the files give them."""
    site = []
    for name in SITE_QUESTIONS:
        for line in (PROJECT_ROOT / "data/eval" / name).read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                site.append((row["question"], row["lang"]))
    described = {w.text: w for w in describe([q for q, _ in site], embed)}
    return [described[q] for q, _ in site], [lang for _, lang in site]


def unrelated_questions(squad: Path, offset: int = 0) -> list[str]:
    """``SQUAD_QUESTIONS`` Italian Wikipedia questions, about nothing on the site (every n-th
    of the file from ``offset``: 0 fits the floor, another offset checks it)."""
    import gzip

    with gzip.open(squad) as handle:
        articles = json.loads(handle.read())["data"]
    unrelated = [q["question"].strip() for a in articles for p in a["paragraphs"] for q in p["qas"]]
    return unrelated[offset :: max(1, len(unrelated) // SQUAD_QUESTIONS)][:SQUAD_QUESTIONS]


class OfferSet:
    """One pairs file as the offers meet it, on vectors: each curated question one answer (one
    wording), each visitor question offered what ``SuggestModel.offered`` picks (the matcher's
    own rule, without a store: fast enough to search the offer parameters). ``offers`` reads
    the same file through a real store and ``CuratedMatcher``."""

    def __init__(self, path: Path, embed: Embed) -> None:
        self.name = path.name
        self.rows = [r for r in read_pairs(path) if r.get("kind") != "other topic"]
        self.curated = list(dict.fromkeys(r["a"] for r in self.rows))
        self.curated_described = describe(self.curated, embed)
        self.asked = [describe([r["b"]], embed, language=r["b_lang"])[0] for r in self.rows]
        index = {text: i for i, text in enumerate(self.curated)}
        self.right = [index[r["a"]] if r["match"] else None for r in self.rows]
        self.same = [
            next((i for i, a in enumerate(self.curated) if same_wording(a, r["b"])), None)
            for r in self.rows
        ]
        # For a near miss, the curated question it resembles (offering it is the risk of offers).
        self.lookalike = [None if r["match"] else index[r["a"]] for r in self.rows]
        self.allowed = [
            np.array([not numbers_conflict(a, r["b"]) for a in self.curated]) for r in self.rows
        ]

    def outcome(self, suggest: SuggestModel) -> dict[str, Any]:
        """Recall and precision with confirmation, offers per question, and the precision
        were every near miss shown its look-alike to take it ("hasty")."""
        curated = np.stack([suggest.centred(w.vector, w.language) for w in self.curated_described])
        owners = list(range(len(self.curated)))
        right = wrong = offered_right = offers_made = lookalikes = 0
        for asked, allowed, meant, same, lookalike in zip(
            self.asked, self.allowed, self.right, self.same, self.lookalike, strict=True
        ):
            if same is not None:  # the same wording is given unasked
                right, wrong = right + (same == meant), wrong + (same != meant)
                continue
            vector = suggest.centred(asked.vector, asked.language)
            scores = curated @ vector
            chosen = suggest.offered(
                scores, suggest.gate(vector, float(scores.max())), allowed.__getitem__, owners
            )
            offers_made += len(chosen)
            offered_right += meant is not None and meant in chosen
            lookalikes += lookalike is not None and lookalike in chosen
        positives = sum(1 for meant in self.right if meant is not None)
        return {
            "recall": (right + offered_right) / positives,
            "precision": (right + offered_right) / max(1, right + wrong + offered_right),
            "positives": positives,
            "offers_per_question": offers_made / len(self.rows),
            "hasty_precision": (right + offered_right)
            / max(1, right + wrong + offered_right + lookalikes),
        }


def draft_suggest(embed: Embed) -> SuggestModel:
    """Means, removed directions and site directions from the site's questions (no pairs
    file), the weight, floor, count and margin still to choose."""
    site, languages = site_questions(embed)
    means = {
        lang: np.mean([w.vector for w, ql in zip(site, languages, strict=True) if ql == lang], 0)
        for lang in ("it", "en")
    }
    empty = np.zeros((0, len(means["it"])), dtype=np.float32)
    bare = SuggestModel(means, empty, 0.0, OFFERS, empty)
    centred = np.stack([bare.centred(w.vector, ql) for w, ql in zip(site, languages, strict=True)])
    directions = np.linalg.svd(centred - centred.mean(axis=0), full_matrices=False)[2]
    with_components = dataclasses.replace(bare, components=directions[:COMPONENTS])
    centred = np.stack(
        [with_components.centred(w.vector, ql) for w, ql in zip(site, languages, strict=True)]
    )
    site_directions = np.linalg.svd(centred - centred.mean(axis=0), full_matrices=False)[2]
    return dataclasses.replace(with_components, site=site_directions[:SITE_DIRECTIONS])


def gate_floor(suggest: SuggestModel, curated: np.ndarray, unrelated: np.ndarray) -> float:
    """The gate that ``1 - UNRELATED_OFFERED`` of the unrelated questions (centred rows)
    stay under, against the curated questions (centred rows)."""
    best = (unrelated @ curated.T).max(axis=1)
    gates = [suggest.gate(u, float(b)) for u, b in zip(unrelated, best, strict=True)]
    return float(np.quantile(gates, 1 - UNRELATED_OFFERED))


def choose_offers(
    draft: SuggestModel, sets: list[OfferSet], unrelated: list[Wording]
) -> tuple[SuggestModel, dict[str, Any]]:
    """The weight, count and margin whose pooled recall with confirmation over ``sets`` is the
    highest with at most ``OFFER_BUDGET`` offers per question (averaged over the sets), each
    with its floor from ``unrelated`` against the sets' curated questions."""
    curated = {w.text: w for s in sets for w in s.curated_described}
    best: tuple[float, float, SuggestModel] | None = None
    for weight in SITE_WEIGHTS:
        weighted = dataclasses.replace(draft, site_weight=weight)
        curated_rows = np.stack([weighted.centred(w.vector, w.language) for w in curated.values()])
        unrelated_rows = np.stack([weighted.centred(w.vector, w.language) for w in unrelated])
        floor = gate_floor(weighted, curated_rows, unrelated_rows)
        for count in COUNTS:
            for margin in MARGINS:
                suggest = dataclasses.replace(weighted, floor=floor, count=count, margin=margin)
                outcomes = [s.outcome(suggest) for s in sets]
                positives = sum(o["positives"] for o in outcomes)
                recall = sum(o["recall"] * o["positives"] for o in outcomes) / positives
                offers_made = float(np.mean([o["offers_per_question"] for o in outcomes]))
                if offers_made > OFFER_BUDGET or min(o["precision"] for o in outcomes) < 0.96:
                    continue
                if best is None or (recall, -offers_made) > best[:2]:
                    best = (recall, -offers_made, suggest)
    if best is None:
        raise ValueError("no offer parameters within the budget")
    recall, minus_offers, chosen = best
    return chosen, {
        "site_weight": chosen.site_weight,
        "count": chosen.count,
        "margin": chosen.margin,
        "floor": round(chosen.floor, 4),
        "recall": round(recall, 3),
        "offers_per_question": round(-minus_offers, 2),
    }


def fit_suggest(paths: list[Path], embed: Embed, squad: Path) -> dict[str, Any]:
    """Language means, removed and site directions from the site's evaluation questions; the
    gate's weight, the count and the margin chosen on the fit files (``choose_offers``), the
    floor from unrelated (SQuAD-it) questions against their curated questions."""
    draft = draft_suggest(embed)
    unrelated = describe(unrelated_questions(squad), embed, language="it")
    sets = [OfferSet(path, embed) for path in paths]
    chosen, choice = choose_offers(draft, sets, unrelated)
    return {
        "means": {lang: [round(float(x), 6) for x in v] for lang, v in chosen.means.items()},
        "components": [[round(float(x), 6) for x in row] for row in chosen.components],
        "site": [[round(float(x), 5) for x in row] for row in chosen.site],
        "site_weight": chosen.site_weight,
        "floor": round(chosen.floor, 4),
        "count": chosen.count,
        "margin": chosen.margin,
        "fitted_on": f"means, the top {COMPONENTS} principal directions removed and the next "
        f"{SITE_DIRECTIONS} (site): {', '.join(SITE_QUESTIONS)}; weight, count and margin: "
        f"the highest pooled recall with confirmation on {' + '.join(p.name for p in paths)} "
        f"with at most {OFFER_BUDGET} offers per question ({choice}); floor: "
        f"{SQUAD_QUESTIONS} SQuAD-it questions against their {len(set().union(*(s.curated for s in sets)))} "
        f"curated questions, the {1 - UNRELATED_OFFERED:.0%} quantile of the gate",
    }


def leave_one_out(paths: list[Path], embed: Embed, squad: Path) -> dict[str, Any]:
    """Each pairs file measured with the offer parameters chosen on the others (and the
    share of a second draw of unrelated questions offered something against its curated
    questions)."""
    draft = draft_suggest(embed)
    unrelated = describe(unrelated_questions(squad), embed, language="it")
    check = describe(unrelated_questions(squad, offset=7), embed, language="it")
    sets = [OfferSet(path, embed) for path in paths]
    report = {}
    for held in sets:
        chosen, choice = choose_offers(draft, [s for s in sets if s is not held], unrelated)
        outcome = held.outcome(chosen)
        curated = np.stack([chosen.centred(w.vector, w.language) for w in held.curated_described])
        rows = np.stack([chosen.centred(w.vector, w.language) for w in check])
        gates = [chosen.gate(u, float((curated @ u).max())) for u in rows]
        report[held.name] = {
            "chosen_on_the_others": choice,
            "recall": round(outcome["recall"], 3),
            "precision": round(outcome["precision"], 3),
            "offers_per_question": round(outcome["offers_per_question"], 2),
            "hasty_precision": round(outcome["hasty_precision"], 3),
            "unrelated_offered": round(float(np.mean(np.array(gates) >= chosen.floor)), 3),
        }
    return report


def read_pairs(path: Path) -> list[dict[str, Any]]:
    """A pairs file's lines, each topic named by the file too (topics stay apart when files
    are pooled: topic 3 of one set is not topic 3 of another)."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [{**row, "topic": f"{path.stem}:{row['topic']}"} for row in rows]


class Pairs:
    """One or more pairs files, described with the production code and ready to score (the
    other-topic pairs are drawn within each file: its curated questions are one site's)."""

    def __init__(self, paths: Path | list[Path], embed: Embed) -> None:
        self.paths = [paths] if isinstance(paths, Path) else list(paths)
        self.rows: list[dict[str, Any]] = []
        extra: list[dict[str, Any]] = []
        files = [read_pairs(path) for path in self.paths]
        texts = sorted({r[side] for rows in files for r in rows for side in ("a", "b")})
        described = {w.text: w for w in describe(texts, embed)}
        for rows in files:
            self.rows += rows
            extra += other_topic_pairs(rows, described)
        self.rows += extra
        self.features = np.array(
            [pair_features(described[r["a"]], described[r["b"]]) for r in self.rows]
        )
        self.cosine = self.features[:, FEATURES.index("cosine")]
        self.same = self.features[:, FEATURES.index("same_language")] == 1.0
        self.truth = np.array([bool(r["match"]) for r in self.rows])
        self.topics = np.array([str(r["topic"]) for r in self.rows])
        self.kinds = np.array([r["kind"] for r in self.rows])
        self.numbers_ok = np.array([numbers(r["a"]) == numbers(r["b"]) for r in self.rows])

    def accepted(self, model: MatchModel) -> np.ndarray:
        """What the production rule accepts, pair by pair."""
        probability = model.probability(self.features)
        return np.array(
            [
                accepts(float(p), r["a"], r["b"], model)
                for p, r in zip(probability, self.rows, strict=True)
            ]
        )

    def measure(self, model: MatchModel) -> dict[str, Any]:
        """Precision and recall of ``model`` here, overall, per language case and per kind."""
        accepted, truth = self.accepted(model), self.truth
        own = self.kinds != "other topic"
        probability = model.probability(self.features)
        return {
            "pairs": len(self.rows),
            "positive": int(truth.sum()),
            "result": precision_recall(accepted, truth),
            "file_pairs_only": precision_recall(accepted[own], truth[own]),
            "recall_at_precision_0.95": recall_at(probability, truth, self.numbers_ok),
            "recall_at_precision_0.95_file_pairs_only": recall_at(
                probability[own], truth[own], self.numbers_ok[own]
            ),
            "auc": auc(model.probability(self.features), truth),
            "cosine_auc": auc(self.cosine, truth),
            "same language": precision_recall(accepted[self.same], truth[self.same]),
            "cross-language": precision_recall(accepted[~self.same], truth[~self.same]),
            "accepted_by_kind": {
                k: f"{int(accepted[self.kinds == k].sum())}/{int((self.kinds == k).sum())}"
                for k in sorted(set(self.kinds.tolist()))
            },
        }


def other_topic_pairs(rows: list[dict[str, Any]], described: dict[str, Wording]) -> list[dict]:
    """For each visitor question, the closest curated question of another topic, as a pair
    that must not match (kind "other topic"). The matcher compares a visitor's question with
    every curated answer, so most of what it sees are such pairs; without them a model fitted
    on paraphrases and near misses alone may extrapolate to accepting unrelated questions."""
    curated = sorted({(r["a"], str(r["topic"])) for r in rows})
    matrix = np.stack([described[text].vector for text, _ in curated])
    extra = []
    for row in rows:
        scores = matrix @ described[row["b"]].vector
        ranked = [curated[i] for i in np.argsort(-scores)]
        text, _ = next((t, k) for t, k in ranked if k != str(row["topic"]))
        extra.append(
            {"topic": row["topic"], "a": text, "b": row["b"], "match": False, "kind": "other topic"}
        )
    return extra


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


def out_of_fold(pairs: Pairs, c: float) -> np.ndarray:
    """Each pair scored by models fitted without its topic, ``REPEATS`` times (one row each)."""
    topics = np.unique(pairs.topics)
    scores = np.zeros((REPEATS, len(pairs.truth)))
    for repeat in range(REPEATS):
        order = np.random.default_rng(repeat).permutation(topics)
        for fold in range(FOLDS):
            held = np.isin(pairs.topics, order[fold::FOLDS])
            model = fit(pairs.features[~held], pairs.truth[~held], c)
            scores[repeat, held] = model.probability(pairs.features[held])
    return scores


def pooled(scores: np.ndarray, pairs: Pairs, line: float) -> dict[str, Any]:
    """Precision and recall over every repeat's out-of-fold predictions at ``line``."""
    predicted = ((scores >= line) & pairs.numbers_ok).ravel()
    return precision_recall(predicted, np.tile(pairs.truth, len(scores)))


def line_for(scores: np.ndarray, pairs: Pairs, target: float) -> float | None:
    """The lowest line whose pooled out-of-fold precision reaches ``target`` (None: none does)."""
    best, best_recall = None, -1.0
    candidates = np.unique(scores)
    for position, value in enumerate(candidates):
        # Halfway to the next lower value: the line sits in the gap, not on a measured pair.
        line = float((value + candidates[position - 1]) / 2 if position else value)
        result = pooled(scores, pairs, line)
        reaches = result["precision"] is not None and result["precision"] >= target
        if reaches and result["recall"] > best_recall:
            best, best_recall = line, result["recall"]
    return best


def calibrate(pairs: Pairs, target: float) -> tuple[MatchModel, dict[str, Any]]:
    """Regularisation and line by grouped cross-validation; the model refitted on all pairs."""
    search = []
    for c in C_GRID:
        scores = out_of_fold(pairs, c)
        line = line_for(scores, pairs, target)
        recall = pooled(scores, pairs, line)["recall"] if line is not None else 0.0
        search.append((recall, float(np.mean([auc(s, pairs.truth) for s in scores])), -c))
    recall, oof_auc, minus_c = max(search)
    c = -minus_c
    scores = out_of_fold(pairs, c)
    line = line_for(scores, pairs, target)
    if line is None:
        line = 0.99
    per_repeat = [pooled(s[None, :], pairs, line) for s in scores]
    model = fit(pairs.features, pairs.truth, c, line)
    report = {
        "regularisation_C": c,
        "line": round(line, 4),
        "cross_validated": pooled(scores, pairs, line),
        "cross_validated_auc": round(oof_auc, 3),
        "cross_validated_precision_range": [
            min(r["precision"] or 0 for r in per_repeat),
            max(r["precision"] or 0 for r in per_repeat),
        ],
        "cross_validated_recall_range": [
            min(r["recall"] for r in per_repeat),
            max(r["recall"] for r in per_repeat),
        ],
        "in_sample": precision_recall(pairs.accepted(model), pairs.truth),
    }
    return model, report


def save(model: MatchModel, report: dict[str, Any], pairs: Pairs, target: float) -> None:
    """Write the fitted model where the service loads it."""
    data = {
        "features": list(FEATURES),
        "mean": model.mean,
        "scale": model.scale,
        "weights": model.weights,
        "intercept": model.intercept,
        "line": model.line,
        "target_precision": target,
        "regularisation_C": report["regularisation_C"],
        "embedding_model": model.embedding_model,
        "embedding_variant": model.embedding_variant,
        "fitted_on": f"{' + '.join(p.name for p in pairs.paths)}, all {len(pairs.rows)} pairs "
        f"with the other-topic ones (line by {REPEATS}x{FOLDS}-fold cross-validation grouped "
        "by topic)",
        "date": report["date"],
        # The giving policy is measured by --write-suggest, not by this fit: kept as it is.
        "unasked": json.loads(MODEL_FILE.read_text("utf-8")).get("unasked", True),
    }
    MODEL_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def cost(embeddings: Any, model: MatchModel, pairs: Pairs, answers: int) -> dict[str, Any]:
    """ms per visitor question against ``answers`` curated answers (one wording each), looked
    up as the service does (``CuratedMatcher.lookup``: the answer given, else the offers), the
    question's embedding included (the model's query cache emptied before each)."""
    texts = list(dict.fromkeys([*(r["a"] for r in pairs.rows), *(r["b"] for r in pairs.rows)]))
    curated = [
        texts[i % len(texts)] + ("" if i < len(texts) else f" ({i})") for i in range(answers)
    ]
    embed = query_embedder(embeddings)
    embed_seconds = [0.0]

    def timed(batch: list[str]) -> Any:
        started = time.perf_counter()
        try:
            return embed(batch)
        finally:
            embed_seconds[0] += time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        store = CuratedStore(create_engine(f"sqlite:///{folder}/curated.db"))
        for question in curated:
            store.create({"questions": [question], "answer_en": "An answer."}, actor="bench")
        matcher = CuratedMatcher(store, timed, model)
        matcher.lookup("warm up", "en")  # the curated side is described once, here
        asked = [f"{text} Thanks!" for text in texts[:50]]  # wordings the cache never saw
        embed_seconds[0] = 0.0
        started = time.perf_counter()
        for question in asked:
            embeddings.clear_cache()
            matcher.lookup(question, "en")
        total = (time.perf_counter() - started) * 1000 / len(asked)
        store.engine.dispose()
    embedding = embed_seconds[0] * 1000 / len(asked)
    return {
        "answers": answers,
        "ms_per_question": round(total, 1),
        "ms_embedding": round(embedding, 1),
        "ms_matching": round(total - embedding, 1),
    }


def main() -> int:
    """Fit (and with --write save), measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fit", type=Path, action="append", default=[], help="pairs file to fit on (repeatable)"
    )
    parser.add_argument("--target", type=float, default=0.95, help="precision to calibrate for")
    parser.add_argument("--write", action="store_true", help=f"save the model to {MODEL_FILE}")
    parser.add_argument("--measure", type=Path, action="append", default=[], help="pairs file")
    parser.add_argument(
        "--model", type=Path, default=MODEL_FILE, help="model file to measure (default: shipped)"
    )
    parser.add_argument("--answers", type=int, default=200, help="curated answers for timing")
    parser.add_argument(
        "--write-suggest", action="store_true", help=f"fit and save {SUGGEST_FILE.name}"
    )
    parser.add_argument("--squad", type=Path, default=SQUAD, help="SQuAD-it JSON (gzip)")
    parser.add_argument(
        "--no-fit", action="store_true", help="measure the shipped files only (no refit)"
    )
    parser.add_argument(
        "--loso",
        action="store_true",
        help="choose the offer parameters on all --fit files but one, measure on that one",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    embeddings = load_embeddings(load_settings().embedding_options())
    started = time.perf_counter()
    embeddings.load()
    embed = query_embedder(embeddings)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "model": f"{embeddings.model_name} ({embeddings.variant})",
        "model_load_s": round(time.perf_counter() - started, 1),
        "features": list(FEATURES),
        "target_precision": args.target,
    }
    fit_paths = args.fit or [PROJECT_ROOT / "data/eval/paraphrases.jsonl"]
    pairs = Pairs(fit_paths, embed)
    if not args.no_fit:
        fitted, calibration = calibrate(pairs, args.target)
        fitted = MatchModel(
            **{
                **fitted.__dict__,
                "embedding_model": embeddings.model_name,
                "embedding_variant": embeddings.variant,
            }
        )
        report["fit"] = {"pairs": " + ".join(p.name for p in pairs.paths), **calibration}
        report["fit"]["date"] = report["date"]
        if args.write:
            save(fitted, report["fit"], pairs, args.target)
    if args.loso:
        report["leave_one_set_out"] = leave_one_out(fit_paths, embed, args.squad)
    if args.write_suggest:
        fitted_suggest = {**fit_suggest(fit_paths, embed, args.squad), "date": report["date"]}
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in fitted_suggest.items()]
        SUGGEST_FILE.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
        report["suggest_fit"] = {
            k: v for k, v in fitted_suggest.items() if k not in ("means", "components", "site")
        }
        report["suggest_fit"]["unasked"] = decide_unasked(fit_paths, embed, args.target)
    shipped = MatchModel.load(args.model)
    at_line = dataclasses.replace(shipped, unasked=True)  # the model's own discrimination
    suggest = SuggestModel.load()
    report["shipped_line"] = round(shipped.line, 4)
    report["unasked"] = shipped.unasked
    report["suggest"] = {
        "floor": suggest.floor,
        "count": suggest.count,
        "margin": suggest.margin,
        "site_weight": suggest.site_weight,
    }
    report["measured"] = {path.name: Pairs(path, embed).measure(at_line) for path in args.measure}
    report["offers"] = {path.name: offers(path, embed, shipped, suggest) for path in args.measure}
    report["offers_given_at_line"] = {
        path.name: offers(path, embed, at_line, suggest) for path in args.measure
    }
    report["cost"] = cost(embeddings, shipped, pairs, args.answers)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def print_report(report: dict[str, Any]) -> None:
    """The figures, for a person."""
    print(f"curated matching, {report['date']}, {report['machine']}, model {report['model']}")
    print(f"features: {report['features']}")
    fit_ = report.get("fit")
    if fit_:
        print(
            f"fitted on {fit_['pairs']}: C={fit_['regularisation_C']}, line {fit_['line']} for "
            f"precision >= {report['target_precision']} "
            f"({REPEATS}x{FOLDS}-fold CV grouped by topic)"
        )
        print(
            f"  cross-validated: {fit_['cross_validated']} (AUC {fit_['cross_validated_auc']}; "
            f"per shuffle precision {fit_['cross_validated_precision_range']}, "
            f"recall {fit_['cross_validated_recall_range']})"
        )
        print(f"  in sample: {fit_['in_sample']}")
    for name, result in report.get("leave_one_set_out", {}).items():
        print(f"left out {name}: {result}")
    if "suggest_fit" in report:
        print(f"suggestions fitted: {report['suggest_fit']}")
    print(
        f"shipped model's line: {report['shipped_line']} (given unasked from it: "
        f"{report['unasked']}; else only the same wording); offers: {report['suggest']}"
    )
    for name, result in report["measured"].items():
        print(f"measured on {name} ({result['pairs']} pairs, {result['positive']} matches):")
        print(f"  {result['result']} (AUC {result['auc']}; cosine alone {result['cosine_auc']})")
        print(f"  the file's own pairs only (no other-topic pairs): {result['file_pairs_only']}")
        print(f"  same language {result['same language']}")
        print(f"  cross-language {result['cross-language']}")
        print(f"  accepted per kind {result['accepted_by_kind']}")
        print(
            f"  recall at precision 0.95 (best line): {result['recall_at_precision_0.95']} "
            f"with other-topic pairs, {result['recall_at_precision_0.95_file_pairs_only']} "
            "the file's own pairs only"
        )
        band = report["offers"][name]
        print(
            f"  as the matcher meets it ({band['visitor_questions']} visitor questions, "
            f"{band['with_an_answer']} with an answer, each against all the file's curated "
            "questions):"
        )
        print(f"    given unasked: {band['unasked']}")
        at_line = report["offers_given_at_line"][name]
        print(
            f"    (were it given unasked from the line: {at_line['unasked']}; with "
            f"confirmation of offers {at_line['with_confirmation']})"
        )
        print(f"    with confirmation of offers: {band['with_confirmation']}")
        print(
            f"    offers per question {band['offers_per_question']} (right: "
            f"{band['offers_right']}); questions without an "
            f"answer offered something: {band['questions_without_an_answer_offered_something']}"
        )
        print(f"    {band['by_kind (given right, given wrong, offered right, questions)']}")
    cost_ = report["cost"]
    print(
        f"cost: {cost_['ms_per_question']} ms per question against {cost_['answers']} curated "
        f"answers ({cost_['ms_embedding']} ms embedding, {cost_['ms_matching']} ms matching); "
        f"model load {report['model_load_s']} s"
    )


if __name__ == "__main__":
    sys.exit(main())
