"""The service database: questions, answers and feedback, kept for the gaps report.

SQLite in data_dir by default (``settings.app_database_url``), any SQLAlchemy URL by setting
(PostgreSQL when several workers or machines share it). Rows older than ``retention_days``
are purged at start and periodically. Client addresses are never stored in clear: only a
keyed hash (HMAC-SHA256 with a per-install secret kept in data_dir), enough to count distinct
visitors and nothing more.

The service stores answers with ``queue_answer``: a writer thread inserts queued rows in
batches (one transaction per batch), so a chat request never waits on the database. Reads and
feedback first wait for the rows queued before them (read-your-writes within a process);
``close`` writes everything still queued. When the queue is full the caller writes the row
itself (back-pressure rather than loss). Rows still queued when a process is killed hard (not
a clean shutdown) are lost: at most a fraction of a second of traffic.

Errors::

    RecordsError
     +-- UnknownMessage        feedback names a message id the database does not hold
     +-- DatabaseUnavailable   ``ping`` cannot reach the database (the API answers 503)

A database that is down when the service starts is not fatal: the tables are created at the
first successful ``ping``, and ``ping`` keeps saying why not until then.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from assistant.config import Settings
from assistant.schema import Answer

log = logging.getLogger(__name__)

Rating = Literal["up", "down"]
SECRET_FILE = "client-hash.key"
WRITE_QUEUE_SIZE = 10_000  # rows waiting for the writer; beyond this, callers write themselves
WRITE_BATCH_SIZE = 500  # rows per transaction at most
PING_OK_TTL = 2.0  # seconds a successful ping is trusted: chat asks before every answer


class RecordsError(Exception):
    """Base class for service database errors."""


class UnknownMessage(RecordsError):
    """Feedback for a message id that does not exist (or was purged)."""


class DatabaseUnavailable(RecordsError):
    """The service database does not answer."""


class Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC: portable across SQLite/PostgreSQL


class Message(Base):
    """One question and the answer given to it."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)
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
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)


@dataclass
class GapGroup:
    """Similar questions that were refused or rated down."""

    question: str  # the most recent wording
    count: int
    refused: int
    rated_down: int
    last_asked: datetime
    examples: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "count": self.count,
            "refused": self.refused,
            "rated_down": self.rated_down,
            "last_asked": self.last_asked.replace(tzinfo=UTC).isoformat(),
            "examples": self.examples,
            "languages": self.languages,
            "comments": self.comments,
        }


def load_secret(data_dir: Path) -> bytes:
    """The per-install key for hashing client addresses, created on first use (mode 0600)."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race: use its key
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    return key


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL and relaxed fsync: a chat request should not wait on the disk."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


_STOP = object()


class BatchWriter:
    """A thread that hands queued rows to ``write`` in batches, in order.

    ``put`` never blocks: it returns False when the queue is full or the writer is closed,
    and the caller writes the row itself. A failed batch is retried row by row, so one bad
    row costs only itself (logged).
    """

    def __init__(self, write: Callable[[list[dict[str, Any]]], None], *,
                 capacity: int = WRITE_QUEUE_SIZE, batch_size: int = WRITE_BATCH_SIZE,
                 name: str = "records-writer") -> None:
        self._write = write
        self._queue: queue.Queue[Any] = queue.Queue(capacity)
        self._batch_size = batch_size
        self._name = name
        self._cond = threading.Condition()
        self._accepted = 0
        self._finished = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    def put(self, row: dict[str, Any]) -> bool:
        """Queue a row; False if the caller must write it (queue full, or writer closed)."""
        with self._cond:
            if self._closed:
                return False
            if self._thread is None:  # started on first use: CLI reads never pay for it
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                return False
            self._accepted += 1
            return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every row queued before this call is written; False on timeout."""
        with self._cond:
            target = self._accepted
            return self._cond.wait_for(lambda: self._finished >= target, timeout)

    @property
    def pending(self) -> int:
        with self._cond:
            return self._accepted - self._finished

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)
            if thread.is_alive():
                log.error("the records writer did not finish within %.0f s: %d rows unwritten",
                          timeout, self.pending)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[dict[str, Any]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
                if len(batch) >= self._batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write_safely(batch)
            with self._cond:
                self._finished += len(batch)
                self._cond.notify_all()

    def _write_safely(self, batch: list[dict[str, Any]]) -> None:
        try:
            self._write(batch)
            return
        except SQLAlchemyError:
            log.warning("writing %d queued rows failed; retrying one by one", len(batch),
                        exc_info=True)
        for row in batch:
            try:
                self._write([row])
            except SQLAlchemyError:
                log.exception("could not store row %s", row.get("id"))


class RecordsDB:
    """Questions, answers and feedback in a SQLAlchemy database."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.app_database_url
        self.retention = timedelta(days=settings.retention_days)
        self._secret = load_secret(settings.data_dir)
        if self.url.startswith("sqlite"):
            Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False})
            _sqlite_pragmas(self.engine)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        self._schema_ready = False
        self._ping_ok_at: float | None = None
        self._ping_lock = threading.Lock()
        try:
            self._ensure_schema()
        except SQLAlchemyError as exc:  # serve anyway: ping says why, and retries
            log.error("service database unavailable at start: %s", _reason(exc))
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = BatchWriter(self._insert_messages)

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            Base.metadata.create_all(self.engine)
            self._schema_ready = True

    def ping(self, *, fresh: bool = False) -> None:
        """Raise DatabaseUnavailable (with the reason) unless the database answers; a success
        is trusted for PING_OK_TTL seconds (unless ``fresh``), a failure is retried at the next
        call."""
        with self._ping_lock:
            now = time.monotonic()
            recent = self._ping_ok_at is not None and now - self._ping_ok_at < PING_OK_TTL
            if recent and not fresh:
                return
            try:
                self._ensure_schema()
                with self.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except SQLAlchemyError as exc:
                self._ping_ok_at = None
                raise DatabaseUnavailable(_reason(exc)) from exc
            self._ping_ok_at = now

    def close(self) -> None:
        """Write the queued answers, then release the connections."""
        self._writer.close()
        self.engine.dispose()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the answers queued so far are stored; False on timeout."""
        return self._writer.flush(timeout)

    def client_hash(self, address: str | None) -> str:
        """Keyed hash of a client address; the address itself is never stored."""
        if not address:
            return ""
        return hmac.new(self._secret, address.encode(), hashlib.sha256).hexdigest()[:32]

    # --- writes ------------------------------------------------------------------------
    def queue_answer(
        self,
        question: str,
        answer: Answer,
        *,
        client: str | None = None,
        page_url: str | None = None,
        duration_ms: float = 0.0,
        message_id: str | None = None,
    ) -> str:
        """Store a question and its answer through the background writer (or at once when
        its queue is full); returns the message id."""
        row = self._message_row(question, answer, client, page_url, duration_ms, message_id)
        if not self._writer.put(row):
            self._insert_messages([row])
        return str(row["id"])

    def _message_row(self, question: str, answer: Answer, client: str | None,
                     page_url: str | None, duration_ms: float,
                     message_id: str | None) -> dict[str, Any]:
        return {
            "id": message_id or new_message_id(),
            "created_at": _now(),  # when asked, not when written
            "client_hash": self.client_hash(client),
            "question": question,
            "answer": answer.text,
            "language": answer.language,
            "abstained": answer.abstained,
            "backend": answer.backend,
            "notice": answer.notice,
            "page_url": page_url,
            "source_urls": [source.url for source in answer.sources],
            "duration_ms": duration_ms,
        }

    def _insert_messages(self, rows: list[dict[str, Any]]) -> None:
        """One transaction, one multi-row INSERT (no ORM unit of work)."""
        with self.engine.begin() as connection:
            connection.execute(insert(Message), rows)

    def record_feedback(self, message_id: str, rating: Rating, comment: str | None = None) -> None:
        """Store (or replace) the rating of an answer; raises UnknownMessage."""
        self.flush()  # the answer may still be queued
        with self._session.begin() as session:
            if session.get(Message, message_id) is None:
                raise UnknownMessage(message_id)
            existing = session.scalar(select(Feedback).where(Feedback.message_id == message_id))
            if existing is None:
                session.add(Feedback(message_id=message_id, rating=rating, comment=comment))
            else:
                existing.rating, existing.comment, existing.created_at = rating, comment, _now()

    def purge(self, now: datetime | None = None) -> int:
        """Delete messages and feedback older than the retention period; returns rows removed."""
        cutoff = (now or _now()) - self.retention
        self.flush()
        with self._session.begin() as session:
            old = select(Message.id).where(Message.created_at < cutoff)
            removed_feedback = session.execute(
                delete(Feedback).where(
                    (Feedback.created_at < cutoff) | Feedback.message_id.in_(old)
                )
            ).rowcount
            removed_messages = session.execute(
                delete(Message).where(Message.created_at < cutoff)
            ).rowcount
        return int(removed_feedback or 0) + int(removed_messages or 0)

    # --- reads -------------------------------------------------------------------------
    def message(self, message_id: str) -> Message | None:
        self.flush()
        with self._session() as session:
            return session.get(Message, message_id)

    def feedback_for(self, message_id: str) -> Feedback | None:
        self.flush()
        with self._session() as session:
            return session.scalar(select(Feedback).where(Feedback.message_id == message_id))

    def counts(self) -> dict[str, int]:
        """Totals for the statistics page."""
        self.flush()
        with self._session() as session:
            def scalar(query: Any) -> int:
                return int(session.scalar(query) or 0)

            return {
                "questions": scalar(select(func.count()).select_from(Message)),
                "refused": scalar(select(func.count()).where(Message.abstained.is_(True))),
                "feedback_up": scalar(select(func.count()).where(Feedback.rating == "up")),
                "feedback_down": scalar(select(func.count()).where(Feedback.rating == "down")),
                "clients": scalar(select(func.count(func.distinct(Message.client_hash)))),
            }

    def gap_rows(self, since: datetime, limit: int) -> list[tuple[Message, Feedback | None]]:
        """Refused or rated-down questions since a date, newest first."""
        query = (
            select(Message, Feedback)
            .outerjoin(Feedback, Feedback.message_id == Message.id)
            .where(Message.created_at >= since)
            .where((Message.abstained.is_(True)) | (Feedback.rating == "down"))
            .order_by(Message.created_at.desc())
            .limit(limit)
        )
        self.flush()
        with self._session() as session:
            return [(row[0], row[1]) for row in session.execute(query).all()]

    def gaps_report(
        self,
        embed: Callable[[list[str]], Sequence[Sequence[float]]],
        *,
        days: int = 30,
        limit: int = 500,
        threshold: float = 0.9,
    ) -> list[GapGroup]:
        """Refused or rated-down questions grouped by meaning, most frequent first.

        ``embed`` maps texts to vectors (the service's embedding model); questions whose
        cosine similarity to a group's first question reaches ``threshold`` join that group.
        """
        rows = self.gap_rows(_now() - timedelta(days=days), limit)
        if not rows:
            return []
        vectors = np.asarray(embed([message.question for message, _ in rows]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1.0, norms)
        return group_questions(rows, vectors, threshold)


def group_questions(
    rows: list[tuple[Message, Feedback | None]], vectors: np.ndarray, threshold: float
) -> list[GapGroup]:
    """Leader clustering: each question joins the first group it is similar enough to.

    Rows come newest first, so a group's leader (and shown wording) is its latest question.
    """
    leaders: list[int] = []
    groups: list[GapGroup] = []
    for index, (message, feedback) in enumerate(rows):
        rated_down = feedback is not None and feedback.rating == "down"
        target = None
        if leaders:
            similarity = vectors[leaders] @ vectors[index]
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                target = groups[best]
        if target is None:
            leaders.append(index)
            target = GapGroup(
                question=message.question, count=0, refused=0, rated_down=0,
                last_asked=message.created_at,
            )
            groups.append(target)
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


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's first line (no SQL, no parameters, no password)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"


def new_message_id() -> str:
    """A fresh, unguessable message id."""
    return uuid.uuid4().hex
