"""The service database's own tables: ``messages`` (a question and its answer) and
``feedback`` (a visitor's rating of one answer), and the migration older databases need.

``RecordsDB`` (``records_db``) writes and reads them; ``analytics`` and ``privacy`` read and
delete rows of them directly. Times are naive UTC (``staff_db.now``), portable across SQLite
and PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from assistant.staff_db import now

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    """The declarative base of these two tables (the staff tables have ``StaffBase``)."""


class Message(Base):
    """One question and the answer given to it."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The widget's conversation (a random id the service gave it), so that "forget this
    # conversation" removes every turn, even one whose message id the widget never received.
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    client_hash: Mapped[str] = mapped_column(String(64), default="")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    abstained: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    backend: Mapped[str] = mapped_column(String(32), default="")
    notice: Mapped[str | None] = mapped_column(Text, nullable=True)
    page_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_ms: Mapped[float] = mapped_column(default=0.0)


class Feedback(Base):
    """A visitor's rating of one answer (the latest rating wins)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True, index=True
    )
    rating: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)


# Columns added to tables after their first release: (table, column, SQL type). Databases
# created earlier get them by ``migrate`` (``create_all`` never alters an existing table).
ADDED_COLUMNS = [("messages", "conversation_id", "VARCHAR(32)")]


def migrate(engine: Engine) -> None:
    """Add the columns (and their indexes) an older database lacks; safe to run at every start
    and from several processes at once (a column another process just added is fine)."""
    for table, column, sql_type in ADDED_COLUMNS:
        present = {c["name"] for c in inspect(engine).get_columns(table)}
        if column not in present:
            try:
                with engine.begin() as connection:
                    connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
                log.info("service database: added %s.%s", table, column)
            except SQLAlchemyError:
                present = {c["name"] for c in inspect(engine).get_columns(table)}
                if column not in present:
                    raise
        with engine.begin() as connection:
            connection.execute(
                text(f"CREATE INDEX IF NOT EXISTS ix_{table}_{column} ON {table} ({column})")
            )


def create_schema(engine: Engine) -> None:
    """The tables, and the columns later releases added to them."""
    Base.metadata.create_all(engine)
    migrate(engine)
