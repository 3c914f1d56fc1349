"""Which curated answer a visitor's question gets: the match model and the matcher.

``CuratedMatcher`` compares a visitor's question with every wording of every enabled curated
answer (``assistant.curated_features``: e5 cosine with the query prompt on both sides, so
Italian and English wordings meet, and a few general pair features) and gives the answer
whose wording a logistic model (``MatchModel``, from ``curated_model.json``; fitted, given
its line and measured by ``scripts/bench_curated.py`` on ``data/eval/paraphrases*.jsonl``)
says means the same; the two questions must also name the same numbers. Expired and
disabled answers are never matched.

The shipped model file turns the model's giving off (``MatchModel.unasked``: measured against
every curated answer at once, it gave wrong answers more often than right ones), so only the
same wording is given at once. Otherwise ``CuratedMatcher.lookup`` returns the answers to
*offer* ("Did you mean ...?", ``assistant.curated_suggest``), and the visitor's choice gets
its answer (``CuratedMatcher.chosen``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

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
from assistant.curated_store import CuratedAnswer, CuratedStore
from assistant.curated_suggest import SuggestModel
from assistant.staff_db import now

Language = Literal["it", "en"]
MODEL_FILE = Path(__file__).with_name("curated_model.json")

# Shown with an answer written only in the other language (plain text, in the visitor's).
OTHER_LANGUAGE_NOTE = {
    "it": "Questa risposta del distretto è disponibile solo in inglese.",
    "en": "This answer from the district is only available in Italian.",
}


@dataclass(frozen=True)
class CuratedMatch:
    """The curated answer a visitor's question gets, in the language closest to theirs."""

    answer_id: int
    version: int
    text: str
    language: Language  # the language ``text`` is written in
    note: str | None  # set when the answer is not in the visitor's language
    links: list[dict[str, str]]
    updated_at: str  # "given by the district on <date>"
    score: float  # the model's probability that the two questions mean the same
    matched_question: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer_id": self.answer_id,
            "version": self.version,
            "text": self.text,
            "language": self.language,
            "note": self.note,
            "links": self.links,
            "updated_at": self.updated_at,
            "score": round(self.score, 4),
            "matched_question": self.matched_question,
        }


@dataclass(frozen=True)
class CuratedSuggestion:
    """A curated answer offered to the visitor, shown as one of its questions."""

    answer_id: int
    question: str  # a wording in the visitor's language when the answer has one

    def as_dict(self) -> dict[str, Any]:
        return {"answer_id": self.answer_id, "question": self.question}


@dataclass(frozen=True)
class CuratedLookup:
    """What a question gets: a curated answer given at once, or answers to offer (or neither)."""

    match: CuratedMatch | None
    suggestions: list[CuratedSuggestion]


def query_embedder(embeddings: Any) -> Embed:
    """Embed questions with the model's *query* prompt (both sides of a match are questions).

    ``embeddings`` is the service's ``vectorstore.embeddings.E5Embeddings``; its query cache
    makes the curated questions cost nothing after their first embedding, and the visitor's
    question is embedded once, by the matcher or by the index search, whichever needs it first.
    """
    return lambda texts: [embeddings.embed_query(text) for text in texts]


@dataclass(frozen=True)
class MatchModel:
    """A logistic model of "these two questions mean the same" and its probability line,
    chosen out of fold for precision >= a target (``curated_model.json`` says on which pairs
    and when; ``scripts/bench_curated.py --write`` fits one).

    ``unasked`` says whether a question reaching the line is given the answer without being
    asked: false in the shipped file (``scripts/bench_curated.py --write-suggest`` measured
    no line at which the matcher, meeting every curated answer, gives right answers 95% of the
    time), so only the same wording is given unasked and the rest is offered. Setting
    ``KMR_CURATED_MIN_PROBABILITY`` turns it on at that line."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    line: float
    embedding_model: str = ""
    embedding_variant: str = ""  # the vectors it was fitted on (float32, onnx-int8...)
    unasked: bool = True

    @classmethod
    def load(cls, path: Path = MODEL_FILE, line: float | None = None) -> MatchModel:
        """The shipped model; ``line`` overrides its probability line and gives answers
        unasked from it (``KMR_CURATED_MIN_PROBABILITY``)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted on other features: {data['features']}")
        return cls(
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            weights=tuple(data["weights"]),
            intercept=float(data["intercept"]),
            line=float(line if line is not None else data["line"]),
            embedding_model=str(data.get("embedding_model", "")),
            embedding_variant=str(data.get("embedding_variant", "")),
            unasked=True if line is not None else bool(data.get("unasked", True)),
        )

    @classmethod
    def from_settings(cls, settings: Any) -> MatchModel:
        return cls.load(line=settings.curated_min_probability)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(same question) for rows of features."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.intercept)))


def accepts(probability: float, a: str, b: str, model: MatchModel) -> bool:
    """Whether two questions count as the same: the same wording always; else, when the model
    gives answers unasked, its probability reaches its line and they name the same numbers
    (a rule, not a feature: "2024" is never "2025")."""
    if same_wording(a, b):
        return True
    return model.unasked and probability >= model.line and numbers(a) == numbers(b)


class CuratedMatcher:
    """Finds the curated answer for a question; thread-safe, refreshed when answers change."""

    def __init__(
        self,
        store: CuratedStore,
        embed: Embed,
        model: MatchModel,
        suggest: SuggestModel | None = None,
    ) -> None:
        self.store = store
        self.embed = embed
        self.model = model
        self.suggest = suggest or SuggestModel.load()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, datetime | None] | None = None
        self._rows: list[CuratedAnswer] = []
        self._owners: list[int] = []  # row index of each wording
        self._wordings: list[Wording] = []
        self._centred = np.zeros((0, 0), dtype=np.float32)  # one row per wording
        self._described: dict[str, Wording] = {}  # by text: a wording is embedded once

    def _refresh(self) -> None:
        stamp = self.store.stamp()
        if stamp == self._stamp:
            return
        rows = self.store.active_rows()
        owners, questions = [], []
        for index, row in enumerate(rows):
            for question in row.questions:
                owners.append(index)
                questions.append(question)
        missing = [q for q in dict.fromkeys(questions) if q not in self._described]
        for wording in describe(missing, self.embed):
            self._described[wording.text] = wording
        self._described = {q: self._described[q] for q in questions}  # forget deleted ones
        self._rows, self._owners = rows, owners
        self._wordings = [self._described[q] for q in questions]
        self._centred = np.array(
            [self.suggest.centred(w.vector, w.language) for w in self._wordings],
            dtype=np.float32,
        )
        self._stamp = stamp

    def match(
        self, question: str, language: str, *, today: date | None = None
    ) -> CuratedMatch | None:
        """The best curated answer whose question means the same, or None.

        ``language`` is the visitor's ("it" or "en"), used to choose the answer's language;
        an answer written only in the other language is still given, with a note saying so.
        """
        return self.lookup(question, language, today=today, offer=False).match

    def lookup(
        self, question: str, language: str, *, today: date | None = None, offer: bool = True
    ) -> CuratedLookup:
        """The curated answer the question gets at once (``match``), or else up to
        ``SuggestModel.count`` answers to offer, best first (with ``offer``)."""
        with self._lock:  # a consistent snapshot; the embedding below runs outside it
            self._refresh()
            rows, owners, wordings = self._rows, self._owners, self._wordings
            centred = self._centred
        if not wordings:
            return CuratedLookup(None, [])
        day = today or now().date()
        asked: Wording | None = None
        if self.model.unasked:  # the model weighs every wording against the question
            asked = describe([question], self.embed, language=language)[0]
            probabilities = self.model.probability(
                np.array([pair_features(wording, asked) for wording in wordings])
            )
        else:  # only the same wording is given: nothing to weigh, nothing to embed for it
            probabilities = np.zeros(len(wordings))
        match = self._given(question, language, probabilities, rows, owners, wordings, day)
        if match is not None or not offer:
            return CuratedLookup(match, [])
        if asked is None:
            asked = describe([question], self.embed, language=language)[0]
        centred_asked = self.suggest.centred(asked.vector, asked.language)
        scores = centred @ centred_asked
        gate = self.suggest.gate(centred_asked, float(scores.max()))
        offers = self._offers(question, language, scores, gate, rows, owners, wordings, day)
        return CuratedLookup(None, offers)

    def _given(
        self,
        question: str,
        language: str,
        probabilities: np.ndarray,
        rows: list[CuratedAnswer],
        owners: list[int],
        wordings: list[Wording],
        day: date,
    ) -> CuratedMatch | None:
        """The first answer, by ``probabilities`` (the same wording set to 1), that the rule
        accepts and that has not expired."""
        for position, wording in enumerate(wordings):
            if same_wording(wording.text, question):  # a question always means itself
                probabilities[position] = 1.0
        for position in np.argsort(-probabilities):
            probability = float(probabilities[position])
            if probability < self.model.line:
                break
            text = wordings[position].text
            if not accepts(probability, text, question, self.model):
                continue
            row = rows[owners[position]]
            if row.expires_on is not None and row.expires_on < day:
                continue  # expired: as if it did not exist
            return _present(row, language, probability, text)
        return None

    def _offers(
        self,
        question: str,
        language: str,
        scores: np.ndarray,
        gate: float,
        rows: list[CuratedAnswer],
        owners: list[int],
        wordings: list[Wording],
        day: date,
    ) -> list[CuratedSuggestion]:
        """The answers to offer (``SuggestModel.offered``), never one naming other numbers
        than the question or expired, each shown by a wording in the visitor's language when
        it has one."""

        def allowed(position: int) -> bool:
            expires = rows[owners[position]].expires_on
            if expires is not None and expires < day:
                return False
            return not numbers_conflict(wordings[position].text, question)

        offers = []
        for position in self.suggest.offered(scores, gate, allowed, owners):
            row = owners[position]
            own = [p for p, o in enumerate(owners) if o == row and wordings[p].language == language]
            shown = max(own, key=lambda p: scores[p]) if own else position
            offers.append(CuratedSuggestion(rows[row].id, wordings[shown].text))
        return offers

    def chosen(
        self, answer_id: int, language: str, *, today: date | None = None
    ) -> CuratedMatch | None:
        """The curated answer a visitor chose from the offers, if it is still enabled and
        not expired (else None: the question is answered from the index)."""
        with self._lock:
            self._refresh()
            rows = self._rows
        day = today or now().date()
        for row in rows:
            if row.id != answer_id:
                continue
            if row.expires_on is not None and row.expires_on < day:
                return None
            return _present(row, language, 1.0, row.questions[0] if row.questions else "")
        return None


def _present(row: CuratedAnswer, language: str, score: float, question: str) -> CuratedMatch:
    wanted: Language = "it" if language == "it" else "en"
    own = row.answer_it if wanted == "it" else row.answer_en
    if own:
        text, written_in, note = own, wanted, None
    else:
        written_in = "en" if wanted == "it" else "it"
        text = (row.answer_en if wanted == "it" else row.answer_it) or ""
        note = OTHER_LANGUAGE_NOTE[wanted]
    return CuratedMatch(
        answer_id=row.id,
        version=row.version,
        text=text,
        language=written_in,
        note=note,
        links=[dict(link) for link in row.links or []],
        updated_at=row.updated_at.date().isoformat(),
        score=score,
        matched_question=question,
    )


def without_curated(groups: Sequence[Any], matcher: CuratedMatcher) -> list[Any]:
    """Gaps-report groups minus those a curated answer now covers (``GapGroup`` from
    ``gaps``: its ``question`` and ``languages`` are used)."""
    kept = []
    for group in groups:
        language = group.languages[0] if group.languages else "en"
        if matcher.match(group.question, language) is None:
            kept.append(group)
    return kept
