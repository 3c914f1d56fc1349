"""Measure a joint question+sentence reading for "not stated" (issue 9, branch xenc11).

Measured, not shipped (README, "When it says I don't know"). Everything tried before encoded
the question and the sentence apart; here the shipped e5 export reads them as ONE input,
``"query: <question> passage: <sentence>"`` (``--form sep``: the XLM-R pair form
``"query: <question></s></s>passage: <sentence>"``), so that every layer attends across
both, and a logistic head says whether the sentence answers, over: the pooled joint vector,
the pooled states of its sentence part (the sentence's tokens as read after the question),
and the cosines of those and of the question part with the question's and the sentence's own
vectors (e5's query and passage prompts), and of those two with each other.

    pairs     the head's training pairs from SQuAD-it's TRAIN articles (one in three articles,
              ``train_answerable.HELD_OUT``, is held out): a question with its gold sentence
              (the sentence holding the answer span) against the other sentences of its
              paragraph sharing its words and the sentences of the article's other paragraphs
              sharing the most of its rarity-weighted words; the held-out articles the same way
              (a pair-level check). Each pair's features are pickled beside the table (heavy:
              the onnx-int8 session, one call a text).
    rows      for each row of a table collected by ``measure_interaction.py collect`` (it keeps
              each row's compared units), the joint features of the question with its
              ``--units`` units nearest by e5 cosine (what the selector reads at question time)
              (heavy).
    measure   the held-out AUC of the head's best unit (answerable SQuAD-it rows against the
              same article without the answering paragraph), beside ``unit_cosine``; then its
              log-odds as a nineteenth signal of ``train_answerable.fit_model``, the SEEN sets
              left out one at a time (``measure_interaction.as_signal``; seconds, no model).

Run ``scripts/measure_joint.py pairs --table T.jsonl.gz``, then ``rows`` and ``measure`` with
the same ``--table`` (``--models-dir`` as for ``train_answerable``), each heavy step under the
shared lock. fresh_questions5 is read as a SEEN set, as abstain9 and abstain10 measured.

Fine-tuned (branch xenc12): the same pairs, but e5 itself learns to read them together.

    finetune  the float32 e5 (torch, the rebuilt folder under ``--models-dir``) split after
              layer 12-k (``--layers`` k): every pair goes through the frozen layers once
              (their states kept in memory), then the top k layers (a copy) and a linear head
              over their mean-pooled output are trained (BCE, AdamW, ``--seed``) for at most
              ``--epochs``, keeping the epoch with the best pair AUC on a quarter of the train
              articles. One model per half of the train articles; the held-out pair AUC of
              their mean (heavy).
    ftrows    each row's best unit by the fine-tuned models over the same units as ``rows``
              (a train-article SQuAD row by the half without its article), and the cost of a
              question's joint passes in float32 torch at 1 and 2 threads (heavy; ``--part``).
    ftmeasure the same row figures as ``measure`` (seconds, no model).

A cross-encoder over all of SQuAD-it (branch xenc13): every question of the 16 train articles
(less the questions the table asks, so that no row is read by a model trained on it) with its
gold sentence and up to four negatives (its paragraph's other sentences, then the article's
sentences sharing its rarer words); three train articles validate; the top ``--layers`` layers
and a head over their mean-pooled output learn (warm-up, early stop, ``--seed``).

    xcache    the frozen layers' states (after layer 8) of the train and held-out pairs, one
              chunk ``--part`` "i/n" a run (heavy: ~65 s a quarter on 2 cores)
    xtrain    one epoch from the checkpoint beside the table (heavy; run it again for the next)
    xheld     the held-out pair AUC beside the separate cosine on the same pairs (heavy)
    xrows     each row's best unit of its five nearest, read by the whole model; the cost of a
              question's five passes at 2 threads (heavy; ``--part``)
    xmeasure  the row figures as ``measure`` gives them (seconds, no model)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pickle
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_answerable as ta  # noqa: E402
from bench_curated import auc  # noqa: E402
from measure_interaction import as_signal  # noqa: E402
from train_guard import fit  # noqa: E402

from assistant.terms import terms  # noqa: E402
from vectorstore.text import split_sentences  # noqa: E402

FORMS = {
    "plain": "query: {q} passage: {s}",
    "sep": "query: {q}</s></s>passage: {s}",
}
HARD = 2  # negatives per question from its own paragraph (sharing its words)
OTHER = 2  # negatives per question from the article's other paragraphs
PER_PARAGRAPH = 1  # questions per paragraph (the first, as `collect` asks)
PENALTIES = (0.01, 0.1, 1.0, 10.0)
FOLDS = 5


# --- pairs -----------------------------------------------------------------------------------
def sentence_spans(context: str) -> list[tuple[int, int, str]]:
    """The sentences of a paragraph (``split_sentences``) with their character offsets."""
    spans: list[tuple[int, int, str]] = []
    start = 0
    for sentence in split_sentences(context):
        found = context.find(sentence, start)
        if found < 0:  # normalised by the splitter: fall back to the running offset
            found = start
        spans.append((found, found + len(sentence), sentence))
        start = found + len(sentence)
    return spans


def gold_sentence(context: str, answer_start: int, answer: str) -> str | None:
    """The sentence holding the answer span (None when the span crosses a sentence end)."""
    for begin, end, sentence in sentence_spans(context):
        if begin <= answer_start < end:
            return sentence if answer.casefold() in sentence.casefold() else None
    return None


def _rarity(articles: list[dict]) -> dict[str, float]:
    """Inverse sentence frequency of each term over every SQuAD-it sentence."""
    df: Counter[str] = Counter()
    n = 0
    for article in articles:
        for paragraph in article["paragraphs"]:
            for sentence in split_sentences(paragraph["context"]):
                df.update(set(terms(sentence)))
                n += 1
    return {t: math.log((n + 1) / (c + 1)) for t, c in df.items()}


def _shared(question: set[str], sentence: str, rarity: dict[str, float]) -> float:
    return sum(rarity.get(t, 0.0) for t in sorted(question & set(terms(sentence))))


def squad_pairs(
    articles: list[dict], held_out: bool, limit: int
) -> list[tuple[str, str, int, int]]:
    """(question, sentence, label, article) pairs of the train (or held-out) articles."""
    rarity = _rarity(articles)
    out: list[tuple[str, str, int, int]] = []
    asked = 0
    for a, article in enumerate(articles):
        if (a % ta.HELD_OUT == 0) != held_out:
            continue
        paragraphs = article["paragraphs"]
        for p, paragraph in enumerate(paragraphs):
            context = paragraph["context"]
            own = [s for _, _, s in sentence_spans(context)]
            for qa in paragraph["qas"][:PER_PARAGRAPH]:
                answer = qa["answers"][0]
                gold = gold_sentence(context, answer["answer_start"], answer["text"])
                if gold is None or asked >= limit:
                    continue
                asked += 1
                question = qa["question"]
                qterms = set(terms(question))
                out.append((question, gold, 1, a))
                hard = sorted(
                    (s for s in own if s != gold and _shared(qterms, s, rarity) > 0),
                    key=lambda s: -_shared(qterms, s, rarity),
                )
                out += [(question, s, 0, a) for s in hard[:HARD]]
                others = [
                    s
                    for q, other in enumerate(paragraphs)
                    if q != p
                    for s in split_sentences(other["context"])
                    if answer["text"].casefold() not in s.casefold()
                ]
                others.sort(key=lambda s: -_shared(qterms, s, rarity))
                out += [(question, s, 0, a) for s in others[:OTHER]]
    return out


# --- encoding --------------------------------------------------------------------------------
def encoder_of(work: Path, models_dir: Path | None) -> Any:  # noqa: ANN401
    """The shipped embeddings (onnx-int8 by default) as the engine loads them."""
    from vectorstore.embeddings import load_embeddings

    settings = ta._settings(work / "sample", ta.SAMPLE_SITE, models_dir)  # noqa: SLF001
    return load_embeddings(settings.embedding_options())


class JointReader:
    """Joint, question and sentence vectors of pairs, each text encoded once."""

    def __init__(self, embeddings: Any, form: str) -> None:  # noqa: ANN401
        self.embeddings = embeddings
        self.form = FORMS[form]
        self.encoder = embeddings.load()
        self.queries: dict[str, np.ndarray] = {}
        self.passages: dict[str, np.ndarray] = {}

    def _vector(self, cache: dict[str, np.ndarray], text: str, prompt: str | None) -> np.ndarray:
        if text not in cache:
            cache[text] = self.encoder.encode([text], prompt=prompt, normalize_embeddings=True)[0]
        return cache[text]

    def _hidden(self, text: str) -> np.ndarray:
        """The last hidden states of one text (the onnx session: what mean pooling averages)."""
        ids, mask = self.encoder.tokenizer.batch([text])
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in {i.name for i in self.encoder.session.get_inputs()}:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return np.asarray(self.encoder.session.run(None, feeds)[0][0], dtype=np.float32)

    def features(self, question: str, sentence: str) -> np.ndarray:
        """The pooled joint vector and its sentence part's (the sentence's tokens as read with
        the question before them), then cos(joint, q), cos(joint, s), cos(s part, q),
        cos(question part, s), cos(question part, s part) and cos(q, s)."""
        text = self.form.format(q=question, s=sentence)
        q = self._vector(self.queries, question, self.embeddings.query_prompt)
        s = self._vector(self.passages, sentence, self.embeddings.passage_prompt)
        if hasattr(self.encoder, "session"):
            hidden = self._hidden(text)
            asked = len(self.encoder.tokenizer.encode(f"query: {question}")) - 2
            joint = _unit(hidden.mean(axis=0))
            q_part = _unit(hidden[1 : 1 + asked].mean(axis=0))
            s_part = _unit(hidden[1 + asked : -1].mean(axis=0))
        else:  # float32: the pooled vector alone
            joint = self.encoder.encode([text], normalize_embeddings=True)[0]
            q_part = s_part = joint
        extra = [joint @ q, joint @ s, s_part @ q, q_part @ s, q_part @ s_part, q @ s]
        return np.concatenate([joint, s_part, np.array(extra)]).astype(np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def pairs(
    table: Path, work: Path, models_dir: Path | None, form: str, limit: int, squad: Path
) -> int:
    """The training (and held-out) pairs' features, pickled beside ``table``."""
    articles = ta.squad_articles(squad)
    reader = JointReader(encoder_of(work, models_dir), form)
    found: dict[str, Any] = {"form": form}
    for name, held in (("train", False), ("held", True)):
        chosen = squad_pairs(articles, held, limit)
        start = time.perf_counter()
        x = np.array([reader.features(q, s) for q, s, _, _ in chosen])
        print(
            f"{name}: {len(chosen)} pairs in {time.perf_counter() - start:.0f} s", file=sys.stderr
        )
        found[name] = {
            "x": x,
            "y": np.array([label for _, _, label, _ in chosen]),
            "article": np.array([a for _, _, _, a in chosen]),
            "question": [q for q, _, _, _ in chosen],
        }
    table.with_suffix(f".pairs-{form}.pkl").write_bytes(pickle.dumps(found))
    return 0


def nearest_units(reader: JointReader, question: str, units: list[str], k: int) -> list[str]:
    """The ``k`` units nearest the question by e5 cosine (query against passage prompt)."""
    q = reader._vector(reader.queries, question, reader.embeddings.query_prompt)  # noqa: SLF001
    cosines = [
        float(q @ reader._vector(reader.passages, u, reader.embeddings.passage_prompt))  # noqa: SLF001
        for u in units
    ]
    order = np.argsort(cosines, kind="stable")[::-1][:k]
    return [units[i] for i in order]


def rows(table: Path, work: Path, models_dir: Path | None, form: str, k: int, part: str) -> int:
    """Each row's joint features with its ``k`` nearest units (``part`` "i/n": every n-th row
    from the i-th, so one step stays short), pickled beside ``table``."""
    index, count = (int(v) for v in part.split("/"))
    all_rows = ta.load_table(table, keep_all=True)
    reader = JointReader(encoder_of(work, models_dir), form)
    found: dict[int, np.ndarray] = {}
    costs: list[float] = []
    start = time.perf_counter()
    for n in range(index, len(all_rows), count):
        raw = all_rows[n]["raw"]
        units = nearest_units(reader, raw["q"], raw["units"], k)
        begin = time.perf_counter()  # the joint passes alone (the separate vectors are cached)
        found[n] = np.array([reader.features(raw["q"], u) for u in units], dtype=np.float32)
        costs.append(1000 * (time.perf_counter() - begin))
    took = time.perf_counter() - start
    p50, p95 = np.percentile(costs, [50, 95]) if costs else (0.0, 0.0)
    print(
        f"{len(found)} rows in {took:.0f} s; the {k} joint passes of a row: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms",
        file=sys.stderr,
    )
    target = table.with_suffix(f".rows-{form}-{k}-{index}of{count}.pkl")
    target.write_bytes(pickle.dumps(found))
    return 0


# --- measure ---------------------------------------------------------------------------------
def _folds(article: np.ndarray) -> np.ndarray:
    return np.array(
        [int(hashlib.sha256(f"a{a}".encode()).hexdigest(), 16) % FOLDS for a in article]
    )


def head(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
    """The logistic head (``train_guard.fit``: standardised, L2, weights on raw features)."""
    w, b = fit(x, y, np.ones(len(y)), penalty)
    return w, b


def choose_penalty(train: dict) -> float:
    """The penalty with the best pair-level AUC out of fold (folds by article)."""
    folds = _folds(train["article"])
    best, chosen = -1.0, PENALTIES[0]
    for penalty in PENALTIES:
        score = np.zeros(len(train["y"]))
        for k in range(FOLDS):
            w, b = head(train["x"][folds != k], train["y"][folds != k], penalty)
            score[folds == k] = train["x"][folds == k] @ w + b
        found = auc(score, train["y"] == 1)
        print(f"penalty {penalty}: out-of-fold pair AUC {found}", file=sys.stderr)
        if found > best:
            best, chosen = found, penalty
    return chosen


def row_scores(
    table_rows: list[dict], feats: dict[int, np.ndarray], train: dict, penalty: float
) -> np.ndarray:
    """Each row's best unit's log-odds; a train-article SQuAD row is scored by a head fitted
    without its article's pairs (the folds of ``choose_penalty``)."""
    w, b = head(train["x"], train["y"], penalty)
    folds = _folds(train["article"])
    by_fold = [head(train["x"][folds != k], train["y"][folds != k], penalty) for k in range(FOLDS)]
    out = np.zeros(len(table_rows))
    for n, r in enumerate(table_rows):
        x = feats.get(n)
        if x is None or not len(x):
            out[n] = -10.0
            continue
        wk, bk = w, b
        if r["set"] == "squad" and r["split"] == "train":
            wk, bk = by_fold[_folds(np.array([r["article"]]))[0]]
        out[n] = float(np.max(x @ wk + bk))
    return out


def measure(table: Path, form: str, k: int) -> dict:
    """Pair-level AUCs, the row-level held-out and seen AUCs, the nineteenth signal."""
    found = pickle.loads(table.with_suffix(f".pairs-{form}.pkl").read_bytes())
    train, held = found["train"], found["held"]
    penalty = choose_penalty(train)
    w, b = head(train["x"], train["y"], penalty)
    report: dict[str, Any] = {
        "form": form,
        "units": k,
        "penalty": penalty,
        "pairs": {"train": len(train["y"]), "held": len(held["y"])},
        "held_pair_auc": {
            "joint head": auc(held["x"] @ w + b, held["y"] == 1),
            "cos(q, s) alone": auc(held["x"][:, -1], held["y"] == 1),
            "cos(s part, q) alone": auc(held["x"][:, -4], held["y"] == 1),
        },
    }
    table_rows = ta.load_table(table, keep_all=True)
    feats: dict[int, np.ndarray] = {}
    for path in sorted(table.parent.glob(table.with_suffix("").name + f".rows-{form}-{k}-*.pkl")):
        feats.update(pickle.loads(path.read_bytes()))
    missing = sum(1 for n in range(len(table_rows)) if n not in feats)
    if missing:
        raise SystemExit(f"{missing} rows have no joint features: run every 'rows' part first")
    score = row_scores(table_rows, feats, train, penalty)
    best_cos = np.array([float(np.max(feats[n][:, -1])) for n in range(len(table_rows))])
    report.update(row_report(table_rows, score, "joint"))
    heldrows = _held_rows(table_rows)
    y = np.array([r["label"] for r in table_rows])
    report["held_out_auc"]["cos of the same units"] = auc(best_cos[heldrows], y[heldrows] == 1)
    return report


def _held_rows(table_rows: list[dict]) -> np.ndarray:
    """The held-out SQuAD-it rows: answerable against the article without the answer."""
    near = np.array([r["group"] in ("squad+", "squad-near") for r in table_rows])
    return near & np.array([r["split"] == "held-out" for r in table_rows])


def row_report(table_rows: list[dict], score: np.ndarray, name: str) -> dict:
    """A row score's held-out and seen AUCs beside ``unit_cosine``, then the score as a
    nineteenth signal (``as_signal``)."""
    y = np.array([r["label"] for r in table_rows])
    heldrows = _held_rows(table_rows)
    seen = np.array([r["set"] in ta.SEEN for r in table_rows])
    cosine = np.array([r["signals"]["unit_cosine"] for r in table_rows])
    report: dict[str, Any] = {
        "held_out_rows": [int((y[heldrows] == 1).sum()), int((y[heldrows] == 0).sum())],
        "held_out_auc": {
            name: auc(score[heldrows], y[heldrows] == 1),
            "unit_cosine": auc(cosine[heldrows], y[heldrows] == 1),
        },
        "seen_auc": {
            name: auc(score[seen], y[seen] == 1),
            "unit_cosine": auc(cosine[seen], y[seen] == 1),
        },
    }
    report.update(as_signal(table_rows, score, name))
    return report


# --- finetune (xenc12) -----------------------------------------------------------------------
# Step (b) of the brief: e5's last ``--layers`` layers plus a linear head over their mean-pooled
# output, trained on the same pairs, float32 torch on CPU. Layers 1..(12-k) stay frozen: each
# pair goes through them ONCE (their states are cached in memory), then only the top k layers
# and the head are trained. Early stop on the pair AUC of a validation slice of TRAIN articles.
MAX_LENGTH = 128
BATCH = 32
FT_EPOCHS = 3
LAYER_LR = 5e-5
HEAD_LR = 1e-3
FT_HALVES = 2  # a train-article row is scored by the model of the half of articles without it


def _bucket(article: int, salt: str, n: int) -> int:
    """A stable bucket of an article (sha256 of ``salt`` and its index)."""
    return int(hashlib.sha256(f"{salt}{article}".encode()).hexdigest(), 16) % n


def e5_folder(models_dir: Path | None) -> Path:
    """The rebuilt float32 e5 folder (sentence-transformers layout) under the model cache,
    rebuilt there if missing, as the engine does (``vectorstore.e5_rebuild.ensure_e5``)."""
    from vectorstore.e5_rebuild import ensure_e5

    root = (
        models_dir
        if models_dir is not None
        else ta._settings(  # noqa: SLF001
            Path(tempfile.gettempdir()) / "kmr-answerable" / "sample", ta.SAMPLE_SITE, None
        )
        .embedding_options()
        .cache_dir
    )
    return ensure_e5(Path(root))


class Bottom:
    """e5 float32 (torch, eager attention), split after layer 12-k: the frozen bottom."""

    def __init__(self, folder: Path, k: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
        self.k = k
        self.cut = len(self.model.encoder.layer) - k
        if not 1 <= k < len(self.model.encoder.layer):
            raise SystemExit(f"--layers must be 1..{len(self.model.encoder.layer) - 1}")

    def states(self, texts: list[str], batch: int = BATCH) -> list[Any]:
        """Each text's hidden states after the frozen layers (its own length, no padding)."""
        torch = self.torch
        out: list[Any] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch):
                enc = self.tokenizer(
                    texts[start : start + batch],
                    padding=True,
                    truncation=True,
                    max_length=MAX_LENGTH,
                    return_tensors="pt",
                )
                h = self.model.embeddings(
                    input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids")
                )
                mask = _additive(enc["attention_mask"])
                for layer in self.model.encoder.layer[: self.cut]:
                    h = _first(layer(h, attention_mask=mask))
                for row, length in zip(h, enc["attention_mask"].sum(dim=1), strict=True):
                    out.append(row[: int(length)].clone())
        return out


def _additive(attention: Any) -> Any:  # noqa: ANN401
    """A 0/1 attention mask as BERT's additive (batch, 1, 1, length) mask."""
    import torch

    return (1.0 - attention[:, None, None, :].float()) * torch.finfo(torch.float32).min


def _first(out: Any) -> Any:  # noqa: ANN401
    return out[0] if isinstance(out, tuple) else out


def top_model(bottom: Bottom) -> Any:  # noqa: ANN401
    """A copy of e5's top k layers with a linear head over their mean-pooled output."""
    import copy

    import torch

    class Top(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(
                copy.deepcopy(layer) for layer in bottom.model.encoder.layer[bottom.cut :]
            )
            self.head = torch.nn.Linear(bottom.model.config.hidden_size, 1)

        def forward(self, h: Any, attention: Any) -> Any:  # noqa: ANN401
            mask = _additive(attention)
            for layer in self.layers:
                h = _first(layer(h, attention_mask=mask))
            weights = attention.unsqueeze(-1).float()
            pooled = (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return Top()


def _epoch(
    top: Any,
    batches: Iterable[Any],
    states: Sequence[Any],
    target: Any,
    optimiser: Any,
    schedule: Any = None,
) -> dict[str, float]:
    """One pass of training over ``batches`` (index arrays into ``states``), binary
    cross-entropy on the head's logit; the mean loss and the seconds it took."""
    import torch

    top.train()
    loss_of = torch.nn.BCEWithLogitsLoss()
    begin, spent, seen = time.perf_counter(), 0.0, 0
    for batch in batches:
        h, attention = _pad([states[i] for i in batch])  # fp16 states are cast as they are copied
        loss = loss_of(top(h, attention), target[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if schedule is not None:
            schedule.step()
        spent += loss.item() * len(batch)
        seen += len(batch)
    return {"loss": round(spent / seen, 4), "seconds": round(time.perf_counter() - begin, 1)}


def _pad(states: list[Any]) -> tuple[Any, Any]:
    """Stack states of different lengths (zeros after each) with their 0/1 mask."""
    import torch

    longest = max(int(s.shape[0]) for s in states)
    h = torch.zeros(len(states), longest, states[0].shape[1])
    attention = torch.zeros(len(states), longest, dtype=torch.long)
    for i, s in enumerate(states):
        h[i, : s.shape[0]] = s
        attention[i, : s.shape[0]] = 1
    return h, attention


def score_states(top: Any, states: list[Any]) -> np.ndarray:  # noqa: ANN401
    """The head's log-odds of each cached state (evaluation mode)."""
    import torch

    top.eval()
    out: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(states), 64):
            h, attention = _pad(states[start : start + 64])
            out += top(h, attention).tolist()
    return np.array(out, dtype=np.float64)


def train_top(
    bottom: Bottom,
    states: list[Any],
    y: np.ndarray,
    article: np.ndarray,
    seed: int,
    epochs: int,
    rates: tuple[float, float] = (LAYER_LR, HEAD_LR),
) -> tuple[Any, list[dict]]:
    """Train the top k layers and the head on ``states`` (BCE, AdamW); a quarter of the
    articles (the first by a stable hash) validate, and the epoch with the best validation AUC is kept."""
    import torch

    torch.manual_seed(seed)
    if len(set(article.tolist())) < 2:
        raise SystemExit("finetune needs pairs from two articles at least (one validates)")
    ranked = sorted(set(article.tolist()), key=lambda a: _bucket(a, "val", 2**32))
    val = np.isin(article, ranked[: max(1, len(ranked) // 4)])
    fit_idx, val_idx = np.flatnonzero(~val), np.flatnonzero(val)
    top = top_model(bottom)
    optimiser = torch.optim.AdamW(
        [
            {"params": top.layers.parameters(), "lr": rates[0]},
            {"params": top.head.parameters(), "lr": rates[1]},
        ],
        weight_decay=0.01,
    )
    order = np.random.default_rng(seed)
    target = torch.tensor(y, dtype=torch.float32)
    val_states = [states[i] for i in val_idx]
    best = (auc(score_states(top, val_states), y[val_idx] == 1), 0)
    best_state = copy_state(top)
    log = [{"epoch": 0, "val_auc": best[0]}]
    for epoch in range(1, epochs + 1):
        shuffled = order.permutation(fit_idx)
        batches = [shuffled[start : start + BATCH] for start in range(0, len(shuffled), BATCH)]
        trained = _epoch(top, batches, states, target, optimiser)
        found = auc(score_states(top, val_states), y[val_idx] == 1)
        log.append({"epoch": epoch, **trained, "val_auc": found})
        print(json.dumps(log[-1]), file=sys.stderr, flush=True)
        if found > best[0]:
            best, best_state = (found, epoch), copy_state(top)
        elif epoch - best[1] >= 2:  # two epochs without a gain: stop
            break
    top.load_state_dict(best_state)
    top.eval()
    return top, log


def copy_state(module: Any) -> dict:  # noqa: ANN401
    """A detached copy of a module's weights."""
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def _tops_path(table: Path, form: str, k: int) -> Path:
    return table.with_suffix(f".ft-{form}-{k}.pt")


def finetune(
    table: Path,
    models_dir: Path | None,
    form: str,
    k: int,
    limit: int,
    squad: Path,
    seed: int,
    epochs: int,
    rates: tuple[float, float] = (LAYER_LR, HEAD_LR),
) -> int:
    """Train the top k layers and the head on the train pairs, one model per half of the train
    articles (a train-article row is scored by the half without its article, every other row
    by the mean of the two: one model's cost of training); the held-out pair AUC."""
    import torch

    torch.set_num_threads(2)
    articles = ta.squad_articles(squad)
    bottom = Bottom(e5_folder(models_dir), k)
    found: dict[str, Any] = {"form": form, "layers": k, "seed": seed, "rates": rates}
    cache = table.with_suffix(f".ftstates-{form}-{k}-{limit}.pt")
    data: dict[str, Any] = torch.load(cache, weights_only=False) if cache.is_file() else {}
    for name, held in (("train", False), ("held", True)):
        if name in data:
            continue
        chosen = squad_pairs(articles, held, limit)
        begin = time.perf_counter()
        states = bottom.states([FORMS[form].format(q=q, s=s) for q, s, _, _ in chosen])
        took = time.perf_counter() - begin
        print(f"{name}: {len(chosen)} pairs, frozen layers in {took:.0f} s", file=sys.stderr)
        data[name] = (
            [state.half() for state in states],
            np.array([label for _, _, label, _ in chosen]),
            np.array([a for _, _, _, a in chosen]),
        )
    if not cache.is_file():  # the frozen layers' states, kept for another run of the training
        torch.save(data, cache)
    data = {n: ([s.float() for s in st], y, a) for n, (st, y, a) in data.items()}
    states, y, article = data["train"]
    tops: dict[str, Any] = {}
    logs: dict[str, list[dict]] = {}
    half = np.array([_bucket(int(a), "half", FT_HALVES) for a in article])
    plan = [(f"half{h}", half != h) for h in range(FT_HALVES)]
    for name, keep in plan:
        begin = time.perf_counter()
        idx = np.flatnonzero(keep)
        tops[name], logs[name] = train_top(
            bottom, [states[i] for i in idx], y[idx], article[idx], seed, epochs, rates
        )
        print(f"{name}: trained in {time.perf_counter() - begin:.0f} s", file=sys.stderr)
    held_states, held_y, _ = data["held"]
    found["pairs"] = {"train": len(y), "held": len(held_y)}
    each = [score_states(tops[name], held_states) for name, _ in plan]
    found["held_pair_auc"] = auc(np.mean(each, axis=0), held_y == 1)
    found["half_held_pair_auc"] = [auc(e, held_y == 1) for e in each]
    found["logs"] = logs
    trained = sum(p.numel() for p in tops["half0"].parameters())
    whole = sum(p.numel() for p in bottom.model.parameters()) - sum(
        p.numel() for layer in bottom.model.encoder.layer[bottom.cut :] for p in layer.parameters()
    )
    found["fp16_mb"] = {
        "top layers and head": round(2 * trained / 1e6, 1),
        "whole joint model": round(2 * (whole + trained) / 1e6, 1),
    }
    torch.save({name: top.state_dict() for name, top in tops.items()}, _tops_path(table, form, k))
    table.with_suffix(f".ft-{form}-{k}.json").write_text(json.dumps(found, indent=1))
    print(json.dumps(found, indent=1))
    return 0


def load_tops(bottom: Bottom, table: Path, form: str) -> dict[str, Any]:
    """The trained top models saved by ``finetune``."""
    import torch

    saved = torch.load(_tops_path(table, form, bottom.k), weights_only=True)
    tops: dict[str, Any] = {}
    for name, state in saved.items():
        tops[name] = top_model(bottom)
        tops[name].load_state_dict(state)
        tops[name].eval()
    return tops


def row_score(row: dict, tops: dict[str, Any], states: list[Any]) -> float:  # noqa: ANN401
    """A row's best unit's log-odds: a train-article SQuAD row read by the half trained without
    its article; every other row by the mean of the halves."""
    if row["set"] == "squad" and row["split"] == "train":
        chosen = [tops[f"half{_bucket(int(row['article']), 'half', FT_HALVES)}"]]
    else:
        chosen = list(tops.values())
    return float(np.max(np.mean([score_states(top, states) for top in chosen], axis=0)))


def ftrows(
    table: Path, work: Path, models_dir: Path | None, form: str, k: int, units: int, part: str
) -> int:
    """Each row's best-unit log-odds by the fine-tuned model over its ``units`` units nearest
    by the shipped e5's cosine (as ``rows``), then the cost of a question's joint passes
    (the whole float32 model, one batch of its pairs) at 1 and 2 threads."""
    import torch

    index, count = (int(v) for v in part.split("/"))
    all_rows = ta.load_table(table, keep_all=True)
    reader = JointReader(encoder_of(work, models_dir), form)
    bottom = Bottom(e5_folder(models_dir), k)
    tops = load_tops(bottom, table, form)
    torch.set_num_threads(2)
    found: dict[int, float] = {}
    chosen: dict[int, list[str]] = {}
    begin = time.perf_counter()
    for n in range(index, len(all_rows), count):
        raw = all_rows[n]["raw"]
        chosen[n] = nearest_units(reader, raw["q"], raw["units"], units)
        if not chosen[n]:
            found[n] = -10.0
            continue
        states = bottom.states([FORMS[form].format(q=raw["q"], s=u) for u in chosen[n]])
        found[n] = row_score(all_rows[n], tops, states)
    print(f"{len(found)} rows in {time.perf_counter() - begin:.0f} s", file=sys.stderr)
    costs: dict[str, list[float]] = {}
    sample = [n for n in sorted(chosen) if chosen[n]][:60]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        spent = []
        for n in sample:
            start = time.perf_counter()
            texts = [FORMS[form].format(q=all_rows[n]["raw"]["q"], s=u) for u in chosen[n]]
            row_score(all_rows[n], tops, bottom.states(texts))
            spent.append(1000 * (time.perf_counter() - start))
        p50, p95 = np.percentile(spent, [50, 95])
        costs[f"{threads} thread(s)"] = [round(float(p50), 1), round(float(p95), 1)]
    print(f"a question's {units} joint passes, p50/p95 ms: {costs}", file=sys.stderr)
    target = table.with_suffix(f".ftrows-{form}-{k}-{units}-{index}of{count}.pkl")
    target.write_bytes(pickle.dumps({"scores": found, "units": chosen, "cost_ms": costs}))
    return 0


def ftmeasure(table: Path, form: str, k: int, units: int) -> dict:
    """The fine-tuned model's row figures, as ``measure`` reports the frozen head's."""
    table_rows = ta.load_table(table, keep_all=True)
    scores: dict[int, float] = {}
    costs = []
    pattern = table.with_suffix("").name + f".ftrows-{form}-{k}-{units}-*.pkl"
    for path in sorted(table.parent.glob(pattern)):
        found = pickle.loads(path.read_bytes())
        scores.update(found["scores"])
        costs.append(found["cost_ms"])
    missing = sum(1 for n in range(len(table_rows)) if n not in scores)
    if missing:
        raise SystemExit(f"{missing} rows have no score: run every 'ftrows' part first")
    report: dict[str, Any] = json.loads(table.with_suffix(f".ft-{form}-{k}.json").read_text())
    report.pop("logs", None)
    report["cost_ms_p50_p95"] = costs
    score = np.array([scores[n] for n in range(len(table_rows))])
    report.update(row_report(table_rows, score, "finetuned"))
    return report


# --- a cross-encoder over all of SQuAD-it (xenc13) -------------------------------------------
# xenc12's one layer on 587 questions learned nothing that carried over (held-out pair AUC
# 0.593). Here every question of the 16 train articles is a training question (less those the
# table asks: every row is then read by a model that never trained on its question), the top k
# layers train with a warm-up, the frozen layers' states are cached once after layer
# 12 - CACHED_LAYERS (in chunks: ``xcache --part``), and each ``xtrain`` run is one epoch from a
# checkpoint, so every locked step stays short.
X_HARD = 3  # negatives from the question's own paragraph (same topic, not holding the answer)
X_OTHER = (1, 2)  # at least / at most from the article's other paragraphs sharing rarer words
X_NEGATIVES = 4
X_VALIDATION = 3  # train articles (by a stable hash) that only validate
X_LAYER_LR = 3e-5
X_HEAD_LR = 1e-3
X_EPOCHS = 3  # the schedule's length: linear warm-up over X_WARMUP of its steps, linear decay
X_WARMUP = 0.1
CACHED_LAYERS = 4  # states cached after layer 8: they serve --layers 4 and fewer
X_GROUP = 20  # training batches are formed by length inside groups of X_GROUP batches


def all_pairs(
    articles: list[dict], held_out: bool, exclude: frozenset[str] = frozenset()
) -> list[tuple[str, str, int, int]]:
    """(question, sentence, label, article): every question of the train (or held-out) articles
    with its gold sentence, then up to X_NEGATIVES negatives: the other sentences of its
    paragraph not holding the answer (the most rarity-weighted words shared first, at most
    X_HARD), then sentences of the article's other paragraphs sharing the most of its words
    (X_OTHER). Questions in ``exclude``, and those whose span crosses a sentence end, are left
    out."""
    rarity = _rarity(articles)
    held: dict[str, set[str]] = {}

    def shared(qterms: set[str], sentence: str) -> float:
        if sentence not in held:
            held[sentence] = set(terms(sentence))
        # summed in a fixed order: a set's order changes with the process's hash seed, and the
        # float sum with it, which would reorder near ties between runs
        return sum(rarity.get(t, 0.0) for t in sorted(qterms & held[sentence]))

    out: list[tuple[str, str, int, int]] = []
    for a, article in enumerate(articles):
        if (a % ta.HELD_OUT == 0) != held_out:
            continue
        sentences = [
            list(dict.fromkeys(s for _, _, s in sentence_spans(p["context"])))
            for p in article["paragraphs"]
        ]
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                question, answer = qa["question"], qa["answers"][0]
                gold = gold_sentence(paragraph["context"], answer["answer_start"], answer["text"])
                if gold is None or question in exclude:
                    continue
                qterms, text = set(terms(question)), answer["text"].casefold()
                own = [s for s in sentences[p] if s != gold and text not in s.casefold()]
                own = sorted(own, key=lambda s: -shared(qterms, s))[:X_HARD]
                scored = [
                    (shared(qterms, s), s)
                    for q, other in enumerate(sentences)
                    if q != p
                    for s in other
                    if text not in s.casefold()
                ]
                others = [s for score, s in sorted(scored, key=lambda v: -v[0]) if score > 0]
                take = min(X_OTHER[1], max(X_OTHER[0], X_NEGATIVES - len(own)))
                out.append((question, gold, 1, a))
                out += [(question, s, 0, a) for s in own + others[:take]]
    return out


def x_pairs(table: Path, squad: Path) -> dict[str, list[tuple[str, str, int, int]]]:
    """The train pairs (without the questions the table asks) and the held-out pairs."""
    articles = ta.squad_articles(squad)
    asked = frozenset(
        r["raw"]["q"] for r in ta.load_table(table, keep_all=True) if r["set"] == "squad"
    )
    return {"train": all_pairs(articles, False, asked), "held": all_pairs(articles, True)}


def _texts(pairs: dict[str, list[tuple[str, str, int, int]]]) -> list[str]:
    return [FORMS["plain"].format(q=q, s=s) for n in ("train", "held") for q, s, _, _ in pairs[n]]


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]


def sorted_states(bottom: Bottom, texts: list[str]) -> list[Any]:
    """``bottom.states`` of ``texts`` batched by token length (less padding), in their order."""
    lengths = [
        len(ids)
        for ids in bottom.tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    ]
    order = np.argsort(lengths, kind="stable")
    found = bottom.states([texts[i] for i in order])
    out: list[Any] = [None] * len(texts)
    for i, state in zip(order, found, strict=True):
        out[int(i)] = state
    return out


def _chunk_path(table: Path, cut: int, index: int, count: int) -> Path:
    return table.with_suffix(f".xstates-{cut}-{index}of{count}.pt")


def xcache(table: Path, models_dir: Path | None, squad: Path, part: str) -> int:
    """The frozen layers' states (after layer 12 - CACHED_LAYERS, fp16) of one contiguous chunk
    ``part`` ("i/n") of the train then held-out pairs' texts."""
    import torch

    torch.set_num_threads(2)
    index, count = (int(v) for v in part.split("/"))
    texts = _texts(x_pairs(table, squad))
    bottom = Bottom(e5_folder(models_dir), CACHED_LAYERS)
    chunk = np.array_split(np.arange(len(texts)), count)[index]
    begin = time.perf_counter()
    states = sorted_states(bottom, [texts[i] for i in chunk])
    print(
        f"{len(chunk)} of {len(texts)} texts through {bottom.cut} layers in "
        f"{time.perf_counter() - begin:.0f} s",
        file=sys.stderr,
    )
    torch.save(
        {"digest": _digest(texts), "index": chunk.tolist(), "states": [s.half() for s in states]},
        _chunk_path(table, bottom.cut, index, count),
    )
    return 0


def load_states(table: Path, texts: list[str], cut: int) -> list[Any]:
    """Every text's cached states (fp16), checked against the pairs they were cached from."""
    import torch

    out: list[Any] = [None] * len(texts)
    digest = _digest(texts)
    for path in sorted(table.parent.glob(table.with_suffix("").name + f".xstates-{cut}-*.pt")):
        found = torch.load(path, weights_only=False)
        if found["digest"] != digest:
            raise SystemExit(f"{path} was cached from other pairs: run 'xcache' again")
        for i, state in zip(found["index"], found["states"], strict=True):
            out[i] = state
    missing = sum(1 for s in out if s is None)
    if missing:
        raise SystemExit(f"{missing} texts have no cached states: run every 'xcache' part first")
    return out


def advance(bottom: Bottom, states: list[Any], cut: int) -> list[Any]:
    """States cached after layer ``cut`` carried through the frozen layers up to ``bottom.cut``."""
    torch = bottom.torch
    out: list[Any] = []
    with torch.inference_mode():
        for start in range(0, len(states), 64):
            h, attention = _pad([s.float() for s in states[start : start + 64]])
            mask = _additive(attention)
            for layer in bottom.model.encoder.layer[cut : bottom.cut]:
                h = _first(layer(h, attention_mask=mask))
            out += [row[: int(n)].half() for row, n in zip(h, attention.sum(dim=1), strict=True)]
    return out


def length_batches(idx: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> list:
    """``idx`` shuffled, cut into batches of similar length (sorted inside groups of X_GROUP
    batches), the batches shuffled."""
    shuffled = rng.permutation(idx)
    batches: list[np.ndarray] = []
    for start in range(0, len(shuffled), BATCH * X_GROUP):
        group = shuffled[start : start + BATCH * X_GROUP]
        group = group[np.argsort(lengths[group], kind="stable")]
        batches += [group[i : i + BATCH] for i in range(0, len(group), BATCH)]
    return [batches[i] for i in rng.permutation(len(batches))]


def score_sorted(top: Any, states: list[Any]) -> np.ndarray:  # noqa: ANN401
    """``score_states`` with the states batched by length (fp16 states read as float32)."""
    order = np.argsort([int(s.shape[0]) for s in states], kind="stable")
    found = score_states(top, [states[i].float() for i in order])
    out = np.zeros(len(states))
    out[order] = found
    return out


def validation_articles(article: np.ndarray) -> np.ndarray:
    """The X_VALIDATION train articles (by a stable hash) that validate, never trained on."""
    ranked = sorted(set(article.tolist()), key=lambda a: _bucket(a, "xval", 2**32))
    return np.array(ranked[:X_VALIDATION])


def _ckpt(table: Path, k: int) -> Path:
    return table.with_suffix(f".xenc-{k}.ckpt.pt")


def _train_states(table: Path, squad: Path, bottom: Bottom) -> tuple[list, list]:
    """The train and held-out pairs and their states after ``bottom.cut`` layers."""
    pairs = x_pairs(table, squad)
    texts = _texts(pairs)
    cut = len(bottom.model.encoder.layer) - CACHED_LAYERS
    if bottom.cut < cut:
        raise SystemExit(f"--layers {bottom.k}: the states are cached for {CACHED_LAYERS} at most")
    states = load_states(table, texts, cut)
    if bottom.cut > cut:
        begin = time.perf_counter()
        states = advance(bottom, states, cut)
        print(
            f"frozen layers {cut + 1}..{bottom.cut}: {time.perf_counter() - begin:.0f} s",
            file=sys.stderr,
        )
    n = len(pairs["train"])
    return [pairs["train"], pairs["held"]], [states[:n], states[n:]]


def xtrain(table: Path, models_dir: Path | None, squad: Path, k: int, seed: int) -> int:
    """One more epoch of the top k layers and the head (BCE, AdamW, X_LAYER_LR / X_HEAD_LR,
    warm-up then linear decay over X_EPOCHS epochs), from the checkpoint under ``table``; the
    epoch with the best validation pair AUC is kept, and training stops after an epoch
    without a gain or after X_EPOCHS."""
    import torch

    torch.set_num_threads(2)
    bottom = Bottom(e5_folder(models_dir), k)
    (train, _), (states, _) = _train_states(table, squad, bottom)
    y = np.array([label for _, _, label, _ in train])
    article = np.array([a for *_, a in train])
    lengths = np.array([int(s.shape[0]) for s in states])
    val = np.isin(article, validation_articles(article))
    fit_idx, val_idx = np.flatnonzero(~val), np.flatnonzero(val)
    torch.manual_seed(seed)
    top = top_model(bottom)
    optimiser = torch.optim.AdamW(
        [
            {"params": top.layers.parameters(), "lr": X_LAYER_LR},
            {"params": top.head.parameters(), "lr": X_HEAD_LR},
        ],
        weight_decay=0.01,
    )
    total = math.ceil(len(fit_idx) / BATCH) * X_EPOCHS
    warm = max(1, int(X_WARMUP * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warm, max(0.0, (total - step) / (total - warm)))
    )
    path = _ckpt(table, k)
    val_states = [states[i] for i in val_idx]
    if path.is_file():
        saved = torch.load(path, weights_only=False)
        top.load_state_dict(saved["top"])
        optimiser.load_state_dict(saved["optimiser"])
        schedule.load_state_dict(saved["schedule"])
    else:
        first = auc(score_sorted(top, val_states), y[val_idx] == 1)
        saved = {"log": [{"epoch": 0, "val_auc": first}], "best": copy_state(top), "best_epoch": 0}
        saved["pairs"] = {"fit": len(fit_idx), "validation": len(val_idx), "seed": seed}
    log = saved["log"]
    epoch = len(log)
    if saved.get("stopped") or epoch > X_EPOCHS:
        print(json.dumps({"done": True, "log": log}), file=sys.stderr)
        return 0
    torch.manual_seed(seed + epoch)
    target = torch.tensor(y, dtype=torch.float32)
    batches = length_batches(fit_idx, lengths, np.random.default_rng(seed + epoch))
    trained = _epoch(top, batches, states, target, optimiser, schedule)
    found = auc(score_sorted(top, val_states), y[val_idx] == 1)
    log.append({"epoch": epoch, **trained, "val_auc": found})
    print(json.dumps(log[-1]), file=sys.stderr, flush=True)
    best_auc = max(entry["val_auc"] for entry in log[:-1])
    if found > best_auc:
        saved["best"], saved["best_epoch"] = copy_state(top), epoch
    elif epoch - saved["best_epoch"] >= 1:  # an epoch without a gain: stop
        saved["stopped"] = True
    saved.update(top=top.state_dict(), optimiser=optimiser.state_dict())
    saved["schedule"] = schedule.state_dict()
    torch.save(saved, path)
    return 0


def best_top(bottom: Bottom, table: Path) -> tuple[Any, dict]:  # noqa: ANN401
    """The top model at its best validation epoch, and the checkpoint (log, pairs)."""
    import torch

    saved = torch.load(_ckpt(table, bottom.k), weights_only=False)
    top = top_model(bottom)
    top.load_state_dict(saved["best"])
    top.eval()
    return top, saved


def xheld(table: Path, work: Path, models_dir: Path | None, squad: Path, k: int) -> int:
    """The held-out pair AUC of the trained model beside the separate cosine (the shipped
    onnx-int8 e5, query against passage prompt) on the same pairs, overall and against the
    question's own paragraph's sentences alone."""
    import torch

    torch.set_num_threads(2)
    bottom = Bottom(e5_folder(models_dir), k)
    (_, held), (_, states) = _train_states(table, squad, bottom)
    top, saved = best_top(bottom, table)
    score = score_sorted(top, states)
    reader = JointReader(encoder_of(work, models_dir), "plain")
    cosine = np.array(
        [
            float(
                reader._vector(reader.queries, q, reader.embeddings.query_prompt)  # noqa: SLF001
                @ reader._vector(reader.passages, s, reader.embeddings.passage_prompt)  # noqa: SLF001
            )
            for q, s, _, _ in held
        ]
    )
    y = np.array([label for _, _, label, _ in held])
    paragraph = _own_paragraph(held, squad)
    report = {
        "layers": k,
        "log": saved["log"],
        "best_epoch": saved["best_epoch"],
        "pairs": {**saved["pairs"], "held": len(y), "held_gold": int(y.sum())},
        "held_pair_auc": {
            "cross-encoder": auc(score, y == 1),
            "separate cosine": auc(cosine, y == 1),
        },
        "held_pair_auc_own_paragraph": {
            "cross-encoder": auc(score[paragraph], y[paragraph] == 1),
            "separate cosine": auc(cosine[paragraph], y[paragraph] == 1),
        },
        "fp16_mb_top_and_head": round(2 * sum(p.numel() for p in top.parameters()) / 1e6, 1),
    }
    table.with_suffix(f".xheld-{k}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


def _own_paragraph(pairs: list[tuple[str, str, int, int]], squad: Path) -> np.ndarray:
    """Which pairs are a gold sentence or a sentence of the question's own paragraph."""
    articles = ta.squad_articles(squad)
    where = {
        (qa["question"], a): {s for _, _, s in sentence_spans(p["context"])}
        for a, article in enumerate(articles)
        for p in article["paragraphs"]
        for qa in p["qas"]
    }
    return np.array([label == 1 or s in where.get((q, a), set()) for q, s, label, a in pairs])


def xrows(table: Path, work: Path, models_dir: Path | None, k: int, units: int, part: str) -> int:
    """Each row's best-unit log-odds by the trained model (the whole float32 e5: its frozen
    layers then the trained top) over its ``units`` units nearest by the shipped e5's cosine,
    then the cost of a question's passes (its units in one batch) at 2 threads."""
    import torch

    torch.set_num_threads(2)
    index, count = (int(v) for v in part.split("/"))
    all_rows = ta.load_table(table, keep_all=True)
    reader = JointReader(encoder_of(work, models_dir), "plain")
    bottom = Bottom(e5_folder(models_dir), k)
    top, _ = best_top(bottom, table)
    found: dict[int, float] = {}
    chosen: dict[int, list[str]] = {}
    begin = time.perf_counter()
    for n in range(index, len(all_rows), count):
        raw = all_rows[n]["raw"]
        chosen[n] = nearest_units(reader, raw["q"], raw["units"], units)
        texts = [FORMS["plain"].format(q=raw["q"], s=u) for u in chosen[n]]
        found[n] = float(np.max(score_states(top, bottom.states(texts)))) if texts else -10.0
    print(f"{len(found)} rows in {time.perf_counter() - begin:.0f} s", file=sys.stderr)
    spent = []
    for n in [n for n in sorted(chosen) if chosen[n]][:60]:
        start = time.perf_counter()
        texts = [FORMS["plain"].format(q=all_rows[n]["raw"]["q"], s=u) for u in chosen[n]]
        score_states(top, bottom.states(texts))
        spent.append(1000 * (time.perf_counter() - start))
    cost = [round(float(v), 1) for v in np.percentile(spent, [50, 95])] if spent else []
    print(f"a question's {units} passes at 2 threads, p50/p95 ms: {cost}", file=sys.stderr)
    target = table.with_suffix(f".xrows-{k}-{units}-{index}of{count}.pkl")
    target.write_bytes(pickle.dumps({"scores": found, "cost_ms": cost}))
    return 0


def xmeasure(table: Path, k: int, units: int) -> dict:
    """The trained model's held-out pair figures (``xheld``) and row figures (as ``measure``)."""
    table_rows = ta.load_table(table, keep_all=True)
    scores: dict[int, float] = {}
    costs = []
    for path in sorted(table.parent.glob(table.with_suffix("").name + f".xrows-{k}-{units}-*.pkl")):
        found = pickle.loads(path.read_bytes())
        scores.update(found["scores"])
        costs.append(found["cost_ms"])
    missing = sum(1 for n in range(len(table_rows)) if n not in scores)
    if missing:
        raise SystemExit(f"{missing} rows have no score: run every 'xrows' part first")
    report: dict[str, Any] = json.loads(table.with_suffix(f".xheld-{k}.json").read_text())
    report["cost_ms_p50_p95_2_threads"] = costs
    score = np.array([scores[n] for n in range(len(table_rows))])
    report.update(row_report(table_rows, score, "cross-encoder"))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "step",
        choices=[
            *("pairs", "rows", "measure", "finetune", "ftrows", "ftmeasure"),
            *("xcache", "xtrain", "xheld", "xrows", "xmeasure"),
        ],
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kmr-answerable")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--table", type=Path, required=True, help="rows with their units")
    parser.add_argument("--squad", type=Path, default=ta.SQUAD)
    parser.add_argument("--form", choices=sorted(FORMS), default="plain")
    parser.add_argument(
        "--limit", type=int, default=2000, help="pairs: at most this many train questions"
    )
    parser.add_argument("--units", type=int, default=5, help="rows: units read per question")
    parser.add_argument("--part", default="0/1", help="rows: 'i/n', every n-th row from the i-th")
    parser.add_argument("--layers", type=int, default=1, help="finetune: e5's top layers trained")
    parser.add_argument("--epochs", type=int, default=FT_EPOCHS, help="finetune: at most")
    parser.add_argument("--seed", type=int, default=0, help="finetune: torch and shuffling seed")
    parser.add_argument("--layer-lr", type=float, default=LAYER_LR, help="finetune: top layers")
    parser.add_argument("--head-lr", type=float, default=HEAD_LR, help="finetune: the head")
    args = parser.parse_args(argv)
    ta.SEEN.setdefault("fresh5", ta.ROOT / "data" / "eval" / "fresh_questions5.jsonl")
    ta.SHIPPED_LEFT_OUT = tuple(ta.SEEN)
    if args.step == "pairs":
        return pairs(args.table, args.work, args.models_dir, args.form, args.limit, args.squad)
    if args.step == "rows":
        return rows(args.table, args.work, args.models_dir, args.form, args.units, args.part)
    if args.step == "finetune":
        return finetune(
            args.table,
            args.models_dir,
            args.form,
            args.layers,
            args.limit,
            args.squad,
            args.seed,
            args.epochs,
            (args.layer_lr, args.head_lr),
        )
    if args.step == "ftrows":
        return ftrows(
            args.table, args.work, args.models_dir, args.form, args.layers, args.units, args.part
        )
    if args.step == "xcache":
        return xcache(args.table, args.models_dir, args.squad, args.part)
    if args.step == "xtrain":
        return xtrain(args.table, args.models_dir, args.squad, args.layers, args.seed)
    if args.step == "xheld":
        return xheld(args.table, args.work, args.models_dir, args.squad, args.layers)
    if args.step == "xrows":
        return xrows(args.table, args.work, args.models_dir, args.layers, args.units, args.part)
    if args.step == "xmeasure":
        print(json.dumps(xmeasure(args.table, args.layers, args.units), indent=1))
        return 0
    if args.step == "ftmeasure":
        report = ftmeasure(args.table, args.form, args.layers, args.units)
        print(json.dumps(report, indent=1))
        return 0
    print(json.dumps(measure(args.table, args.form, args.units), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
