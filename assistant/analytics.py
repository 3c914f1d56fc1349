"""What visitors ask: the most asked questions over a period, grouped by meaning.

Read-only over the service database's ``messages`` and ``feedback`` tables
(``records_tables``; answered and refused questions alike). Questions are grouped by the cosine
similarity of their e5 query embeddings at ``GROUPING`` (see there), with the leader clustering
of the gaps report (``gaps``): identical wordings are counted once, the most frequent wording
leads its group, and every other wording joins the group whose leader it is most similar to,
if similar enough. Each group reports its count,
count per language, answer rate (not refused), feedback up/down and the pages cited most.

``top_questions`` blocks for the embedding work (a few ms per distinct wording): run it in a
thread (``asyncio.to_thread`` or a plain ``def`` FastAPI route), never on the event loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.gaps import Embed, leader_groups, unit_vectors
from assistant.records_tables import Feedback, Message
from assistant.staff_db import csv_text, iso

MAX_ROWS = 20_000  # newest questions considered per report; bounds time and memory
# Grouping for a report: lower than the curated-answer lines, because a report shows its
# examples and a merge of near misses costs little there, while a missed merge splits a
# popular question (on data/eval/paraphrases.jsonl's held-out half, cosine >= 0.88 joins
# 0.83 of the paraphrases and 0.59 of what it joins are true paraphrases).
GROUPING = 0.88


@dataclass
class QuestionGroup:
    """Questions that mean the same, with what happened to them."""

    question: str  # the most frequent wording
    count: int = 0
    answered: int = 0
    refused: int = 0
    feedback_up: int = 0
    feedback_down: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    wordings: Counter[str] = field(default_factory=Counter)
    last_asked: datetime | None = None

    @property
    def answer_rate(self) -> float:
        return self.answered / self.count if self.count else 0.0

    def as_dict(self, examples: int = 5, pages: int = 5) -> dict[str, Any]:
        return {
            "question": self.question,
            "count": self.count,
            "answered": self.answered,
            "refused": self.refused,
            "answer_rate": round(self.answer_rate, 3),
            "feedback_up": self.feedback_up,
            "feedback_down": self.feedback_down,
            "languages": dict(self.languages.most_common()),
            "pages": [{"url": url, "count": n} for url, n in self.pages.most_common(pages)],
            "examples": [text for text, _ in self.wordings.most_common(examples)],
            "last_asked": iso(self.last_asked),
        }


def _normal(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip("?!. ")


def load_rows(
    engine: Engine,
    since: datetime,
    until: datetime,
    language: str | None = None,
    limit: int = MAX_ROWS,
) -> list[tuple[Message, Feedback | None]]:
    """Questions asked in [since, until), newest first, with their feedback (read-only)."""
    query = (
        select(Message, Feedback)
        .outerjoin(Feedback, Feedback.message_id == Message.id)
        .where(Message.created_at >= since, Message.created_at < until)
        .order_by(Message.created_at.desc())
        .limit(limit)
    )
    if language:
        query = query.where(Message.language == language)
    with engine.connect() as connection, Session(bind=connection) as session:
        return [(row[0], row[1]) for row in session.execute(query).all()]


def group_by_meaning(
    rows: Sequence[tuple[Message, Feedback | None]], embed: Embed, threshold: float
) -> list[QuestionGroup]:
    """Group questions whose wordings mean the same; most asked first."""
    by_wording: dict[str, list[tuple[Message, Feedback | None]]] = {}
    shown: dict[str, Counter[str]] = {}
    for message, feedback in rows:
        key = _normal(message.question)
        by_wording.setdefault(key, []).append((message, feedback))
        shown.setdefault(key, Counter())[message.question] += 1
    keys = sorted(by_wording, key=lambda k: (-len(by_wording[k]), k))
    if not keys:
        return []
    texts = [shown[key].most_common(1)[0][0] for key in keys]
    vectors = unit_vectors(embed, texts)

    # Rows come most asked first, so the most asked wording leads its group.
    groups: list[QuestionGroup] = []
    for index, group in enumerate(leader_groups(vectors, threshold)):
        if group == len(groups):
            groups.append(QuestionGroup(question=texts[index]))
        for message, feedback in by_wording[keys[index]]:
            _add(groups[group], message, feedback)
    groups.sort(key=lambda g: (g.count, g.last_asked or datetime.min), reverse=True)
    return groups


def _add(group: QuestionGroup, message: Message, feedback: Feedback | None) -> None:
    group.count += 1
    group.refused += int(message.abstained)
    group.answered += int(not message.abstained)
    if feedback is not None:
        group.feedback_up += int(feedback.rating == "up")
        group.feedback_down += int(feedback.rating == "down")
    group.languages[message.language or "?"] += 1
    group.wordings[message.question] += 1
    for url in dict.fromkeys(message.source_urls or []):
        group.pages[url] += 1
    if group.last_asked is None or message.created_at > group.last_asked:
        group.last_asked = message.created_at


def top_questions(
    engine: Engine,
    embed: Embed,
    *,
    since: datetime,
    until: datetime,
    threshold: float = GROUPING,
    language: str | None = None,
    limit: int = 50,
) -> list[QuestionGroup]:
    """The ``limit`` most asked questions in [since, until), grouped by meaning.

    Blocking (database read and embeddings): call it from a thread.
    """
    return group_by_meaning(load_rows(engine, since, until, language), embed, threshold)[:limit]


def to_csv(groups: Sequence[QuestionGroup]) -> str:
    """The report as CSV, one group per line."""
    columns = [
        "question",
        "count",
        "answered",
        "refused",
        "answer_rate",
        "feedback_up",
        "feedback_down",
        "languages",
        "pages",
        "examples",
        "last_asked",
    ]
    rows = []
    for group in groups:
        data = group.as_dict()
        data["languages"] = " ".join(f"{k}:{v}" for k, v in data["languages"].items())
        data["pages"] = "\n".join(f"{p['url']} ({p['count']})" for p in data["pages"])
        data["examples"] = "\n".join(data["examples"])
        rows.append([data[column] for column in columns])
    return csv_text(columns, rows)
