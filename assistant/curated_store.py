"""Curated answers in the service database: tables, staff input, the store and its audit trail.

A curated answer holds one or more questions (Italian and/or English wordings of the same
question), an answer in Italian and/or English, optional links and an optional expiry date.
``CuratedStore`` keeps them with an audit row for every change (who, when, what) and
optimistic concurrency: each update names the version it was made from, and an update made
from a stale version is refused with ``VersionConflict`` instead of overwriting the other
edit. All text is plain text: stored and returned as given, never interpreted as HTML.

Errors::

    CuratedError
     +-- NotFound           no curated answer with that id
     +-- VersionConflict    the answer changed since the version the edit was made from
     +-- InvalidCurated     (also a ValueError) the input breaks a rule below
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, Field, ValidationError, field_validator
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from assistant import errors
from assistant.staff_db import StaffBase, StaffTables, csv_text, iso, now, rowcount

MAX_QUESTIONS = 20
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 8000
MAX_LINKS = 10


class CuratedError(errors.KmrError):
    """Base class for curated-answer errors."""


class NotFound(CuratedError, errors.NotFound):
    """No curated answer with that id."""


class VersionConflict(CuratedError, errors.Conflict):
    """The answer was changed by someone else since the version the edit started from."""

    def __init__(self, answer_id: int, expected: int, current: dict[str, Any]) -> None:
        super().__init__(
            f"curated answer {answer_id} is at version {current['version']}, not {expected}"
        )
        self.current = current


class InvalidCurated(CuratedError, errors.InvalidInput, ValueError):
    """The curated answer breaks a rule (no question, no answer, too long, bad link...)."""


# --- tables ---------------------------------------------------------------------------------


class CuratedAnswer(StaffBase):
    """One curated answer: its questions, its answer in one or two languages."""

    __tablename__ = "curated_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    questions: Mapped[list[str]] = mapped_column(JSON)
    answer_it: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    updated_by: Mapped[str] = mapped_column(String(200))


class CuratedAudit(StaffBase):
    """Who changed which curated answer, when, and what it became."""

    __tablename__ = "curated_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("curated_answers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))  # create, update, disable, enable
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime, default=now)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- input ----------------------------------------------------------------------------------


class Link(BaseModel):
    """A link shown under the answer."""

    title: str = Field(min_length=1, max_length=200)
    url: AnyHttpUrl  # http(s) only: no javascript: or data: links reach the widget


class CuratedInput(BaseModel):
    """What staff write; the same model serves the admin routes' request body."""

    questions: list[str] = Field(min_length=1, max_length=MAX_QUESTIONS)
    answer_it: str | None = Field(None, max_length=MAX_ANSWER_CHARS)
    answer_en: str | None = Field(None, max_length=MAX_ANSWER_CHARS)
    links: list[Link] = Field(default_factory=list, max_length=MAX_LINKS)
    expires_on: date | None = None
    enabled: bool = True

    @field_validator("questions")
    @classmethod
    def _questions(cls, value: list[str]) -> list[str]:
        cleaned: list[str] = []
        for question in value:
            text = " ".join(question.split())
            if len(text) < 3 or len(text) > MAX_QUESTION_CHARS:
                raise ValueError(f"each question needs 3 to {MAX_QUESTION_CHARS} characters")
            if text not in cleaned:
                cleaned.append(text)
        return cleaned

    @field_validator("answer_it", "answer_en")
    @classmethod
    def _answer(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if "\x00" in value:
            raise ValueError("the answer contains a NUL character")
        return value.strip()

    def checked(self) -> CuratedInput:
        if self.answer_it is None and self.answer_en is None:
            raise InvalidCurated("a curated answer needs an answer in Italian or in English")
        return self


def _validated(data: CuratedInput | dict[str, Any]) -> CuratedInput:
    try:
        model = data if isinstance(data, CuratedInput) else CuratedInput.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidCurated(problems) from exc
    return model.checked()


def _actor(actor: str) -> str:
    text = " ".join(actor.split())[:200]
    if not text:
        raise InvalidCurated("every change needs the name of who made it")
    return text


def as_dict(row: CuratedAnswer) -> dict[str, Any]:
    """A curated answer as JSON-ready data (the admin routes' response model)."""
    return {
        "id": row.id,
        "questions": list(row.questions),
        "answer_it": row.answer_it,
        "answer_en": row.answer_en,
        "links": [dict(link) for link in row.links or []],
        "expires_on": row.expires_on.isoformat() if row.expires_on else None,
        "enabled": row.enabled,
        "version": row.version,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "updated_at": iso(row.updated_at),
        "updated_by": row.updated_by,
    }


def _fields(data: CuratedInput) -> dict[str, Any]:
    return {
        "questions": data.questions,
        "answer_it": data.answer_it,
        "answer_en": data.answer_en,
        "links": [{"title": link.title, "url": str(link.url)} for link in data.links],
        "expires_on": data.expires_on,
        "enabled": data.enabled,
    }


# --- store ----------------------------------------------------------------------------------


class CuratedStore(StaffTables):
    """Curated answers and their audit trail in the service database."""

    def create(self, data: CuratedInput | dict[str, Any], actor: str) -> dict[str, Any]:
        """Store a new curated answer (version 1); raises InvalidCurated."""
        fields, who = _fields(_validated(data)), _actor(actor)
        with self._session.begin() as session:
            row = CuratedAnswer(**fields, version=1, created_by=who, updated_by=who)
            session.add(row)
            session.flush()
            result = as_dict(row)
            session.add(
                CuratedAudit(
                    answer_id=row.id, action="create", actor=who, version=1, snapshot=result
                )
            )
        return result

    def get(self, answer_id: int) -> dict[str, Any]:
        """One curated answer; raises NotFound."""
        with self._session() as session:
            row = session.get(CuratedAnswer, answer_id)
            if row is None:
                raise NotFound(answer_id)
            return as_dict(row)

    def list_answers(self, *, include_disabled: bool = True) -> list[dict[str, Any]]:
        """Every curated answer, most recently changed first."""
        query = select(CuratedAnswer).order_by(
            CuratedAnswer.updated_at.desc(), CuratedAnswer.id.desc()
        )
        if not include_disabled:
            query = query.where(CuratedAnswer.enabled.is_(True))
        with self._session() as session:
            return [as_dict(row) for row in session.scalars(query)]

    def update(
        self,
        answer_id: int,
        data: CuratedInput | dict[str, Any],
        *,
        expected_version: int,
        actor: str,
    ) -> dict[str, Any]:
        """Replace a curated answer's content, if it is still at ``expected_version``.

        Raises NotFound, InvalidCurated, or VersionConflict (carrying the current answer, so
        the second editor can merge by hand instead of losing either edit).
        """
        return self._change(
            answer_id, _fields(_validated(data)), expected_version, _actor(actor), "update"
        )

    def set_enabled(
        self, answer_id: int, enabled: bool, *, expected_version: int, actor: str
    ) -> dict[str, Any]:
        """Disable (or enable again) a curated answer; a disabled one is never matched."""
        return self._change(
            answer_id,
            {"enabled": enabled},
            expected_version,
            _actor(actor),
            "enable" if enabled else "disable",
        )

    def _change(
        self, answer_id: int, fields: dict[str, Any], expected: int, who: str, action: str
    ) -> dict[str, Any]:
        with self._session.begin() as session:
            # Compare-and-set in one statement: two editors at the same version cannot both
            # pass, whatever the isolation level of the database.
            changed = rowcount(
                session.execute(
                    update(CuratedAnswer)
                    .where(CuratedAnswer.id == answer_id, CuratedAnswer.version == expected)
                    .values(
                        **fields,
                        version=CuratedAnswer.version + 1,
                        updated_at=now(),
                        updated_by=who,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            row = session.get(CuratedAnswer, answer_id, populate_existing=True)
            if row is None:
                raise NotFound(answer_id)
            if not changed:
                raise VersionConflict(answer_id, expected, as_dict(row))
            result = as_dict(row)
            session.add(
                CuratedAudit(
                    answer_id=answer_id,
                    action=action,
                    actor=who,
                    version=row.version,
                    snapshot=result,
                )
            )
        return result

    def history(self, answer_id: int) -> list[dict[str, Any]]:
        """The audit trail of one answer, oldest first."""
        query = (
            select(CuratedAudit)
            .where(CuratedAudit.answer_id == answer_id)
            .order_by(CuratedAudit.id)
        )
        with self._session() as session:
            return [
                {
                    "action": row.action,
                    "actor": row.actor,
                    "at": iso(row.at),
                    "version": row.version,
                    "snapshot": row.snapshot,
                }
                for row in session.scalars(query)
            ]

    def stamp(self) -> tuple[int, int, datetime | None]:
        """Changes whenever any answer is created or changed (cheap: one aggregate query)."""
        query = select(
            func.count(),
            func.coalesce(func.sum(CuratedAnswer.version), 0),
            func.max(CuratedAnswer.updated_at),
        )
        with self._session() as session:
            count, versions, latest = session.execute(query).one()
        return int(count), int(versions), latest

    def active_rows(self) -> list[CuratedAnswer]:
        """Enabled answers (expiry is checked at match time: it depends on the day)."""
        with self._session() as session:
            return list(
                session.scalars(select(CuratedAnswer).where(CuratedAnswer.enabled.is_(True)))
            )

    # --- export ---------------------------------------------------------------------------

    def export_json(self) -> str:
        """Every curated answer as a JSON array (plain text fields, UTF-8)."""
        return json.dumps(self.list_answers(), ensure_ascii=False, indent=2)

    def export_csv(self) -> str:
        """Every curated answer as CSV; list fields joined by newlines inside their cell."""
        columns = [
            "id",
            "questions",
            "answer_it",
            "answer_en",
            "links",
            "expires_on",
            "enabled",
            "version",
            "created_at",
            "created_by",
            "updated_at",
            "updated_by",
        ]
        rows = []
        for item in self.list_answers():
            item = dict(item)
            item["questions"] = "\n".join(item["questions"])
            item["links"] = "\n".join(f"{link['title']} <{link['url']}>" for link in item["links"])
            rows.append([item[column] for column in columns])
        return csv_text(columns, rows)
