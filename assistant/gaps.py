"""Questions grouped by meaning: the gaps report's groups, and the leader clustering of
question embeddings that the most-asked report (``analytics``) shares.

The gaps report (``RecordsDB.gaps_report``) takes refused or rated-down questions, newest
first, and groups them: each question joins the group whose first (newest) question it is
most similar to, if the cosine reaches the threshold, else starts a new group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, field_serializer

from assistant.records_tables import Feedback, Message

Embed = Callable[[list[str]], Sequence[Sequence[float]]]


class GapGroup(BaseModel):
    """Similar questions that were refused or rated down (also the API's report rows)."""

    question: str = Field(description="The most recent wording of the group.")
    count: int
    refused: int
    rated_down: int
    last_asked: datetime = Field(description="When a question of the group was last asked (UTC).")
    examples: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    comments: list[str] = Field(default_factory=list)

    @field_serializer("last_asked")
    def _utc(self, value: datetime) -> str:
        # Stored naive (portable across databases) but always UTC.
        return value.replace(tzinfo=UTC).isoformat()

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


def unit_vectors(embed: Embed, texts: list[str]) -> np.ndarray:
    """The texts' embeddings scaled to length 1 (a zero vector stays zero), as float32."""
    vectors = np.asarray(embed(texts), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def leader_groups(vectors: np.ndarray, threshold: float) -> list[int]:
    """Leader clustering of unit vectors, in order: each row joins the group whose leader (its
    first row) it is most similar to, if the cosine reaches ``threshold``, else leads a new
    group. Returns each row's group number (0, 1, ... in order of first appearance)."""
    leaders: list[int] = []
    assigned: list[int] = []
    for index in range(len(vectors)):
        if leaders:
            similarity = vectors[leaders] @ vectors[index]
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                assigned.append(best)
                continue
        leaders.append(index)
        assigned.append(len(leaders) - 1)
    return assigned


def gap_groups(
    rows: list[tuple[Message, Feedback | None]], embed: Embed, threshold: float
) -> list[GapGroup]:
    """Refused or rated-down questions (newest first) grouped by meaning, most frequent first."""
    if not rows:
        return []
    vectors = unit_vectors(embed, [message.question for message, _ in rows])
    return group_questions(rows, vectors, threshold)


def group_questions(
    rows: list[tuple[Message, Feedback | None]], vectors: np.ndarray, threshold: float
) -> list[GapGroup]:
    """Leader clustering: each question joins the first group it is similar enough to.

    Rows come newest first, so a group's leader (and shown wording) is its latest question.
    """
    groups: list[GapGroup] = []
    for index, group in enumerate(leader_groups(vectors, threshold)):
        message, feedback = rows[index]
        rated_down = feedback is not None and feedback.rating == "down"
        if group == len(groups):  # this row leads a new group
            groups.append(
                GapGroup(
                    question=message.question,
                    count=0,
                    refused=0,
                    rated_down=0,
                    last_asked=message.created_at,
                )
            )
        target = groups[group]
        target.count += 1
        target.refused += int(message.abstained)
        target.rated_down += int(rated_down)
        target.last_asked = max(target.last_asked, message.created_at)
        if message.question not in target.examples and len(target.examples) < 5:
            target.examples.append(message.question)
        if message.language and message.language not in target.languages:
            target.languages.append(message.language)
        if rated_down and feedback and feedback.comment and len(target.comments) < 5:
            target.comments.append(feedback.comment)
    groups.sort(key=lambda group: (group.count, group.last_asked), reverse=True)
    return groups
