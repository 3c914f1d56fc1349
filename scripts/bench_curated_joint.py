"""Can e5 reading two questions *together* decide a curated answer unasked? Leave one set out.

Every visitor question of each pairs file (``--set``, repeatable) meets the file's curated
questions as the matcher would: its candidates are the ``--top`` curated questions nearest by
the shipped centred cosine (``assistant.curated_suggest``; the numbers rule applied), plus, for
the pair figures, the curated question it was written against. Each (curated, visitor) pair is
read by frozen e5 in the tokenizer's pair form (``--form text``: as one text), both orders
(``scripts/curated_joint.py``), and scored by a logistic head over the joint description, the
centred cosine, the plain cosine and same-language-or-not. The head's regularisation (by pooled
out-of-fold AUC) and its line (the lowest at which pooled out-of-fold direct precision reaches
0.95) are chosen on the other files only (inner leave-one-file-out), then it is fitted on them
and the left-out file is scored.
With ``--squad``, 600 pairs of SQuAD-it questions asked of one paragraph are extra negatives
for a fourth head (fitted on, never scored).

Reported per left-out file, against the centred cosine alone and a head over the scalar
features only (no joint vector):

- pairs: AUC, the best recall at precision >= 0.95 and the best precision at recall >= 0.80
  on the file itself (oracle lines);
- direct answer, as the matcher meets the file: each visitor question gets its best candidate
  when the score reaches the line chosen on the other files (the same wording always); right
  only when it is the answer meant, so every near miss or paraphrase given any answer it did
  not ask for counts as wrong (the pessimistic count). Precision and recall at that line, and
  the best recall with precision >= 0.95 and the best precision with recall >= 0.80 on the
  file itself (oracle lines, upper bounds; none when the answer meant is the best candidate
  for fewer than 80% of the questions).

The joint readings are cached in ``--cache`` (one ``.npz``): ``--budget`` seconds of encoding
per run, so a long encoding can be split into short runs under the shared lock; scoring runs
only once every pair is read.

Usage: python scripts/bench_curated_joint.py --set data/eval/paraphrases.jsonl --set ...
       [--top 4] [--form pair|text] [--squad PATH|none] [--cache /tmp/joint.npz] [--budget 420]
       [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bench_curated import SQUAD, auc, machine, read_pairs
from curated_joint import FORMS, joint_features

from assistant.config import load_settings
from assistant.curated_features import describe, numbers_conflict, same_wording
from assistant.curated_match import query_embedder
from assistant.curated_suggest import SuggestModel
from vectorstore.embeddings import load_embeddings

TARGET = 0.95
C_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
SCALARS = ("cross_cosine", "aligned_f1", "centred_cosine", "cosine", "same_language")
SQUAD_PAIRS = 600  # pairs of Italian Wikipedia questions on one paragraph: extra near misses


@dataclass
class PairSet:
    """One pairs file: its visitor questions, each with its candidates (curated questions)."""

    name: str
    rows: list[dict[str, Any]]
    curated: list[str]
    candidates: list[list[int]] = field(default_factory=list)  # per row, best first
    meant: list[int | None] = field(default_factory=list)  # per row: the curated index meant
    written: list[int] = field(default_factory=list)  # per row: the curated index written against
    centred: np.ndarray = field(default_factory=lambda: np.zeros(0))  # rows x curated
    cosine: np.ndarray = field(default_factory=lambda: np.zeros(0))
    same_language: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def pairs(self) -> list[tuple[int, int]]:
        """(row, curated) pairs read: each row's candidates and the question it was written
        against."""
        seen = []
        for row, candidates in enumerate(self.candidates):
            for index in dict.fromkeys([*candidates, self.written[row]]):
                seen.append((row, index))
        return seen


def load_set(path: Path, embed: Any, suggest: SuggestModel, top: int) -> PairSet:
    """A pairs file with its candidates by the centred cosine (the numbers rule applied)."""
    rows = [r for r in read_pairs(path) if r.get("kind") != "other topic"]
    curated = list(dict.fromkeys(r["a"] for r in rows))
    index = {text: i for i, text in enumerate(curated)}
    cur = describe(curated, embed)
    asked = [describe([r["b"]], embed, language=r["b_lang"])[0] for r in rows]
    cur_c = np.stack([suggest.centred(w.vector, w.language) for w in cur])
    ask_c = np.stack([suggest.centred(w.vector, w.language) for w in asked])
    found = PairSet(path.name, rows, curated)
    found.centred = ask_c @ cur_c.T
    found.cosine = np.stack([w.vector for w in asked]) @ np.stack([w.vector for w in cur]).T
    found.same_language = np.array(
        [[float(a.language == c.language) for c in cur] for a in asked], dtype=np.float32
    )
    for number, row in enumerate(rows):
        order = [
            int(i)
            for i in np.argsort(-found.centred[number], kind="stable")
            if not numbers_conflict(curated[i], row["b"])
        ]
        found.candidates.append(order[:top])
        found.written.append(index[row["a"]])
        found.meant.append(index[row["a"]] if row["match"] else None)
    return found


def squad_set(squad: Path, embed: Any, suggest: SuggestModel) -> PairSet:
    """``SQUAD_PAIRS`` pairs of SQuAD-it questions asked of the same paragraph (two questions
    on one text, which must not match: near misses of another site), as a file whose every
    visitor question has one candidate, none meant. Used only to fit, never scored."""
    import gzip

    with gzip.open(squad) as handle:
        articles = json.loads(handle.read())["data"]
    pairs = [
        (p["qas"][i]["question"].strip(), p["qas"][i + 1]["question"].strip())
        for a in articles
        for p in a["paragraphs"]
        for i in range(0, len(p["qas"]) - 1, 2)
    ]
    pairs = pairs[:: max(1, len(pairs) // SQUAD_PAIRS)][:SQUAD_PAIRS]
    rows = [{"a": a, "b": b, "b_lang": "it", "match": False} for a, b in pairs]
    curated = list(dict.fromkeys(a for a, _ in pairs))
    index = {text: i for i, text in enumerate(curated)}
    cur = describe(curated, embed, language="it")
    asked = describe([b for _, b in pairs], embed, language="it")
    found = PairSet("squad-it", rows, curated)
    found.centred = np.zeros((len(rows), len(curated)), dtype=np.float32)
    found.cosine = np.zeros_like(found.centred)
    found.same_language = np.ones_like(found.centred)
    for number, ((a, _), wording) in enumerate(zip(pairs, asked, strict=True)):
        c = index[a]
        found.centred[number, c] = suggest.centred(cur[c].vector, "it") @ suggest.centred(
            wording.vector, "it"
        )
        found.cosine[number, c] = cur[c].vector @ wording.vector
        found.candidates.append([c])
        found.written.append(c)
        found.meant.append(None)
    return found


class Cache:
    """Joint descriptions of (curated, visitor) text pairs, kept in one ``.npz`` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as data:
                keys = json.loads(str(data["keys"]))
                self.items = dict(zip(keys, data["values"], strict=True))

    @staticmethod
    def key(a: str, b: str) -> str:
        return a + "\x1f" + b

    def save(self) -> None:
        keys = list(self.items)
        values = np.stack([self.items[k] for k in keys]) if keys else np.zeros((0, 0))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(self.path, keys=json.dumps(keys), values=values)


def encode(
    sets: list[PairSet], encoder: Any, cache: Cache, budget: float, form: str
) -> tuple[int, float]:
    """Read the pairs not yet cached, for at most ``budget`` seconds; (still missing, ms/pair)."""
    wanted = [
        (s.curated[c], s.rows[r]["b"]) for s in sets for r, c in s.pairs()
    ]  # the key is symmetric in meaning but stored in the order read
    missing = [p for p in dict.fromkeys(wanted) if Cache.key(*p) not in cache.items]
    started, done = time.perf_counter(), 0
    for a, b in missing:
        if time.perf_counter() - started > budget:
            break
        cache.items[Cache.key(a, b)] = joint_features(encoder, a, b, form)
        done += 1
        if done % 500 == 0:
            cache.save()
    cache.save()
    elapsed = time.perf_counter() - started
    return len(missing) - done, 1000 * elapsed / max(1, done)


def features(s: PairSet, cache: Cache, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Rows of [joint vector, cross cosine, aligned F1, centred cosine, cosine, same language]."""
    return np.stack(
        [
            np.concatenate(
                [
                    cache.items[Cache.key(s.curated[c], s.rows[r]["b"])],
                    [s.centred[r, c], s.cosine[r, c], s.same_language[r, c]],
                ]
            )
            for r, c in pairs
        ]
    ).astype(np.float64)


@dataclass
class Table:
    """A file's pairs as arrays: features, truth, and for the direct answer the row of each."""

    name: str
    x: np.ndarray
    truth: np.ndarray
    row: np.ndarray
    curated: np.ndarray
    candidate: np.ndarray  # among the row's top candidates (not only written against)
    same: np.ndarray  # the same wording: always given
    meant: list[int | None]


def table(s: PairSet, cache: Cache) -> Table:
    pairs = s.pairs()
    return Table(
        name=s.name,
        x=features(s, cache, pairs),
        truth=np.array([s.meant[r] == c for r, c in pairs]),
        row=np.array([r for r, _ in pairs]),
        curated=np.array([c for _, c in pairs]),
        candidate=np.array([c in s.candidates[r] for r, c in pairs]),
        same=np.array([same_wording(s.curated[c], s.rows[r]["b"]) for r, c in pairs]),
        meant=s.meant,
    )


def columns(x: np.ndarray, head: str) -> np.ndarray:
    """The features a head reads: ``joint`` all, ``scalars`` all but the joint vector,
    ``centred`` the centred cosine alone."""
    if head == "joint":
        return x
    if head == "scalars":
        return x[:, -len(SCALARS) :]
    return x[:, -3:-2]


class Head:
    """A standardised logistic regression (scikit-learn, a dependency of
    sentence-transformers) over a head's columns."""

    def __init__(self, head: str, c: float) -> None:
        self.head, self.c = head, c

    def fit(self, tables: list[Table]) -> Head:
        from sklearn.linear_model import LogisticRegression

        x = columns(np.concatenate([t.x for t in tables]), self.head)
        y = np.concatenate([t.truth for t in tables])
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        self.model = LogisticRegression(C=self.c, max_iter=5000).fit(
            (x - self.mean) / self.scale, y
        )
        return self

    def score(self, t: Table) -> np.ndarray:
        x = (columns(t.x, self.head) - self.mean) / self.scale
        return np.asarray(self.model.decision_function(x))


def given(t: Table, scores: np.ndarray) -> list[tuple[int, float, bool]]:
    """Per visitor question: (the curated question given first, its score, the same
    wording), over its top candidates only (as the matcher meets the file)."""
    out = []
    for row in range(len(t.meant)):
        here = np.flatnonzero((t.row == row) & t.candidate)
        same = here[t.same[here]]
        if len(same):
            out.append((int(t.curated[same[0]]), float("inf"), True))
        elif len(here):
            best = here[np.argmax(scores[here])]
            out.append((int(t.curated[best]), float(scores[best]), False))
        else:
            out.append((-1, float("-inf"), False))
    return out


def direct(t: Table, scores: np.ndarray, line: float) -> dict[str, Any]:
    """The direct answer at ``line``: precision (every answer not asked for is wrong) and
    recall."""
    right = wrong = 0
    for (curated, score, _), meant in zip(given(t, scores), t.meant, strict=True):
        if score >= line:
            right, wrong = right + (curated == meant), wrong + (curated != meant)
    positives = sum(m is not None for m in t.meant)
    return {
        "precision": round(right / (right + wrong), 3) if right + wrong else None,
        "recall": round(right / positives, 3),
        "right": right,
        "wrong": wrong,
        "positives": positives,
    }


def direct_lines(tables: list[Table], scores: list[np.ndarray]) -> tuple[float, float]:
    """The lowest line whose pooled direct precision reaches ``TARGET`` over ``tables`` and its
    pooled recall (inf, 0.0 when none does)."""
    picks = [
        (score, curated == meant, same)
        for t, s in zip(tables, scores, strict=True)
        for (curated, score, same), meant in zip(given(t, s), t.meant, strict=True)
    ]
    positives = sum(m is not None for t in tables for m in t.meant)
    finite = sorted({p[0] for p in picks if np.isfinite(p[0])}, reverse=True)
    best_line, best_recall = float("inf"), 0.0
    right = sum(1 for score, ok, same in picks if same and ok)
    wrong = sum(1 for score, ok, same in picks if same and not ok)
    by_score: dict[float, list[bool]] = {}
    for score, ok, same in picks:
        if not same and np.isfinite(score):
            by_score.setdefault(score, []).append(ok)
    for line in finite:
        oks = by_score[line]
        right, wrong = right + sum(oks), wrong + len(oks) - sum(oks)
        if right / (right + wrong) >= TARGET and right / positives > best_recall:
            best_line, best_recall = line, right / positives
    return best_line, best_recall


def pair_recall(scores: np.ndarray, truth: np.ndarray) -> float:
    """The best recall on pairs of any line whose precision reaches ``TARGET``."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(truth[order])
    precision = hits / np.arange(1, len(order) + 1)
    ok = precision >= TARGET
    return round(float(hits[ok].max() / truth.sum()), 3) if ok.any() else 0.0


def inner_choice(head: str, train: list[Table], extra: list[Table]) -> tuple[float, float]:
    """The C with the best pooled pairs AUC out of fold (each training file left out in turn;
    ``extra`` always fitted on, never scored: recall at ``TARGET`` is about 0 for every C, so
    it cannot choose), and the direct line chosen on those out-of-fold scores."""
    best: tuple[float, float, float] | None = None
    for c in C_GRID if head != "centred" else (1.0,):
        scores = [
            Head(head, c).fit([u for u in train if u is not t] + extra).score(t) for t in train
        ]
        pooled = auc(np.concatenate(scores), np.concatenate([t.truth for t in train]))
        if best is None or pooled > best[0]:
            best = (pooled, c, direct_lines(train, scores)[0])
    assert best is not None
    return best[1], best[2]


def precision_at_recall(scores: np.ndarray, truth: np.ndarray, recall: float) -> float:
    """The best precision of any line whose recall reaches ``recall`` (pairs)."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(truth[order])
    reached = hits >= recall * truth.sum()
    return round(float((hits / np.arange(1, len(order) + 1))[reached].max()), 3)


def direct_precision_at_recall(t: Table, scores: np.ndarray, recall: float) -> float | None:
    """The best direct precision of any line whose direct recall reaches ``recall`` (None
    when no line does: the right answer is not the best candidate often enough)."""
    picks = [
        (score, curated == meant)
        for (curated, score, _), meant in zip(given(t, scores), t.meant, strict=True)
    ]
    positives = sum(m is not None for m in t.meant)
    picks.sort(key=lambda p: -p[0])
    right = wrong = 0
    best: float | None = None
    for score, ok in picks:
        if score == float("-inf"):  # no candidate: nothing given
            continue
        right, wrong = right + ok, wrong + (not ok)
        if right >= recall * positives:
            best = max(best or 0.0, right / (right + wrong))
    return None if best is None else round(best, 3)


def evaluate(tables: list[Table], squad: Table | None) -> dict[str, Any]:
    """Each file left out in turn, for each head (and the joint head with the SQuAD-it pairs
    as extra negatives, when given)."""
    report: dict[str, Any] = {}
    heads: list[tuple[str, list[Table]]] = [("centred", []), ("scalars", []), ("joint", [])]
    if squad is not None:
        heads.append(("joint", [squad]))
    for held in tables:
        train = [t for t in tables if t is not held]
        entry: dict[str, Any] = {}
        for head, extra in heads:
            c, line = inner_choice(head, train, extra)
            scores = Head(head, c).fit(train + extra).score(held)
            _, oracle = direct_lines([held], [scores])
            entry[head + ("+squad" if extra else "")] = {
                "C": c,
                "pairs_auc": auc(scores, held.truth),
                "pairs_recall_at_095_oracle": pair_recall(scores, held.truth),
                "direct_at_chosen_line": direct(held, scores, line),
                "direct_recall_at_095_oracle": round(oracle, 3),
                "pairs_precision_at_080_recall_oracle": precision_at_recall(
                    scores, held.truth, 0.8
                ),
                "direct_precision_at_080_recall_oracle": direct_precision_at_recall(
                    held, scores, 0.8
                ),
            }
        report[held.name] = entry
    return report


def main() -> int:
    """Read the pairs (under a time budget), then score with each file left out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, action="append", required=True, help="pairs file")
    parser.add_argument("--top", type=int, default=4, help="candidates per visitor question")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/curated-joint.npz"))
    parser.add_argument("--budget", type=float, default=420.0, help="seconds of encoding")
    parser.add_argument("--form", choices=FORMS, default="pair", help="how the two are joined")
    parser.add_argument(
        "--squad", type=Path, default=SQUAD, help="SQuAD-it JSON (gzip); 'none' to skip"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if len(args.set) < 3:
        parser.error("at least three --set files: one left out, two to choose the head on")

    embeddings = load_embeddings(load_settings().embedding_options())
    encoder = embeddings.load()
    if not hasattr(encoder, "session"):
        print("the joint reading needs an ONNX variant (KMR_EMBEDDING_VARIANT)", file=sys.stderr)
        return 2
    suggest = SuggestModel.load()
    embed = query_embedder(embeddings)
    sets = [load_set(path, embed, suggest, args.top) for path in args.set]
    squad = squad_set(args.squad, embed, suggest) if args.squad.is_file() else None
    if squad is None and str(args.squad) != "none":
        print(f"{args.squad} not found: no SQuAD-it negatives", file=sys.stderr)
    cache = Cache(args.cache)
    missing, per_pair = encode(
        sets + ([squad] if squad else []), encoder, cache, args.budget, args.form
    )
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "form": args.form,
        "squad": str(args.squad) if squad else None,
        "top": args.top,
        "pairs_read": len(cache.items),
        "ms_per_pair_both_orders": round(per_pair, 1),
        "still_missing": missing,
    }
    if not missing:
        squad_table = table(squad, cache) if squad else None
        report["left_out"] = evaluate([table(s, cache) for s in sets], squad_table)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
