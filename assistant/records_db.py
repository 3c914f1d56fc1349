"""The service database: questions, answers and feedback, kept for the gaps report.

SQLite in data_dir by default (``settings.app_database_url``), any SQLAlchemy URL by setting
(PostgreSQL when several workers or machines share it). Rows older than ``retention_days``
are purged at start and periodically. Client addresses are never stored in clear: only a
keyed hash (HMAC-SHA256 with a per-install secret kept in data_dir), enough to count distinct
visitors and nothing more. The tables are declared in ``records_tables``; the gaps report
groups its questions with ``gaps``.

The service stores answers with ``queue_answer``: a writer thread inserts queued rows in
batches (one transaction per batch), so a chat request never waits on the database. Reads and
feedback first wait for the rows queued before them (read-your-writes within a process);
``close`` writes everything still queued. When the queue is full the caller writes the row
itself (back-pressure rather than loss). Rows still queued when a process is killed hard (not
a clean shutdown) are lost: at most a fraction of a second of traffic.

A locked database (another process holds a write lock) never loses an accepted answer: the
writer keeps its batch and retries until the lock goes, while feedback and other writes answer
``DatabaseBusy`` (HTTP 503 with Retry-After) instead of waiting. A database that cannot be
written (read-only mount, read-only file) does not stop the service: it starts, answers
questions without storing them, refuses feedback with ``DatabaseReadOnly``, and says so in
``problem`` (shown by /ready and logged once).

Errors (placed in the tree of assistant/errors.py)::

    RecordsError
     +-- UnknownMessage     feedback names a message id the database does not hold (NotFound)
     +-- DatabaseBusy       the database is locked by someone else (Unavailable)
     +-- DatabaseReadOnly   the database cannot be written (Unavailable)
     +-- DatabaseUnavailable ``ping`` cannot reach the database (Unavailable)

A database server that is down when the service starts is not fatal: the tables are created at
the first successful ``ping``, and ``ping`` keeps saying why not until then.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, delete, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from assistant.batch_writer import BatchWriter, is_locked, is_read_only
from assistant.config import Settings
from assistant.errors import KmrError, NotFound, Unavailable
from assistant.gaps import Embed, GapGroup, gap_groups
from assistant.records_tables import Base, Feedback, Message, create_schema
from assistant.schema import Answer
from assistant.staff_db import now as utc_now
from assistant.staff_db import sqlite_pragmas

log = logging.getLogger(__name__)

Rating = Literal["up", "down"]
SECRET_FILE = "client-hash.key"
FEEDBACK_FLUSH_SECONDS = 5.0  # feedback waits this long for its answer to be written
PING_OK_TTL = 2.0  # seconds a successful ping is trusted: chat asks before every answer


class RecordsError(KmrError):
    """Base class for service database errors."""


class UnknownMessage(RecordsError, NotFound):
    """Feedback for a message id that does not exist (or was purged)."""


class DatabaseBusy(RecordsError, Unavailable):
    """The database is locked by another connection; trying again later will work."""


class DatabaseReadOnly(RecordsError, Unavailable):
    """The database cannot be written (read-only file or mount)."""


class DatabaseUnavailable(RecordsError, Unavailable):
    """The service database does not answer (a database server that is down)."""


def translate(exc: SQLAlchemyError) -> Exception:
    """A lock or read-only failure as the tree's error; anything else unchanged."""
    if is_locked(exc):
        return DatabaseBusy("the service database is locked")
    if is_read_only(exc):
        return DatabaseReadOnly("the service database is read-only")
    return exc


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


class RecordsDB:
    """Questions, answers and feedback in a SQLAlchemy database.

    ``problem`` is None while everything works, else one sentence saying what the database
    cannot do (read-only, cannot be opened); the service keeps answering either way.
    """

    def __init__(self, settings: Settings) -> None:
        self.url = settings.app_database_url
        self.retention = timedelta(days=settings.retention_days)
        self.problem: str | None = None
        self._schema_ready = False
        self._ping_ok_at: float | None = None
        self._ping_lock = threading.Lock()
        self.dropped = 0  # answers not stored because the database is read-only
        try:
            self._secret = load_secret(settings.data_dir)
        except OSError as exc:  # read-only data dir without a key yet: hash with a fresh one
            self._secret = secrets.token_bytes(32)
            self._mark_read_only(exc)
        self.engine = self._open(settings)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = BatchWriter(self._insert_messages, on_read_only=self._mark_read_only)

    def _open(self, settings: Settings) -> Engine:
        """The engine; a database that cannot be written is opened for reading if possible."""
        if not self.url.startswith("sqlite"):
            engine = create_engine(self.url, pool_pre_ping=True)
            try:
                create_schema(engine)
                self._schema_ready = True
            except SQLAlchemyError as exc:  # serve anyway: ping says why, and retries
                log.error("service database unavailable at start: %s", _reason(exc))
            return engine
        engine = create_engine(self.url, connect_args={"check_same_thread": False})
        sqlite_pragmas(engine)
        try:
            Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
            create_schema(engine)
            self._schema_ready = True
            with engine.begin() as connection:  # a write probe: refused when read-only
                connection.execute(delete(Feedback).where(Feedback.id < 0))
            return engine
        except (SQLAlchemyError, OSError) as exc:
            if not is_read_only(exc):
                raise
            self._mark_read_only(exc)
        for candidate in (engine, self._immutable_engine()):
            try:  # can we at least read it (statistics, gaps report)?
                with candidate.connect() as connection:
                    connection.execute(select(func.count()).select_from(Message))
                return candidate
            except SQLAlchemyError:
                candidate.dispose()
        self.problem = (
            "the service database cannot be opened: questions, answers and feedback are not "
            "stored, and the gaps report is empty"
        )
        log.error("%s (%s)", self.problem, self.url)
        # An empty in-memory database keeps reads simple; one shared connection (StaticPool),
        # since an in-memory SQLite database per thread would have no tables in the others.
        empty = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        Base.metadata.create_all(empty)
        return empty

    def _immutable_engine(self) -> Engine:
        """The SQLite file opened read-only and immutable: no journal or -shm file is written
        beside it (a read-only folder cannot take one)."""
        path = (make_url(self.url).database or "").removeprefix("file:").split("?")[0]
        return create_engine(
            f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true",
            connect_args={"check_same_thread": False},
        )

    def _mark_read_only(self, exc: BaseException) -> None:
        if self.problem is None:
            self.problem = (
                "the service database is read-only: questions, answers and feedback are not stored"
            )
            log.error("%s (%s)", self.problem, " ".join(str(exc).split()))

    def ping(self, *, fresh: bool = False) -> None:
        """Raise DatabaseUnavailable (with the reason) unless the database answers; a success
        is trusted for PING_OK_TTL seconds (unless ``fresh``), a failure is retried at the next
        call. Creates the tables a database that was down at start could not take."""
        with self._ping_lock:
            now = time.monotonic()
            recent = self._ping_ok_at is not None and now - self._ping_ok_at < PING_OK_TTL
            if recent and not fresh:
                return
            try:
                if not self._schema_ready:
                    create_schema(self.engine)
                    self._schema_ready = True
                with self.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except SQLAlchemyError as exc:
                if is_locked(exc):  # it answers, busy: the writer queue waits the lock out
                    return
                self._ping_ok_at = None
                raise DatabaseUnavailable(_reason(exc)) from exc
            self._ping_ok_at = now

    @property
    def writable(self) -> bool:
        return self.problem is None

    def close(self) -> None:
        """Write the queued answers, then release the connections."""
        self._writer.close()
        self.engine.dispose()

    def flush(self, timeout: float = 30.0, *, wait_out_locks: bool = False) -> bool:
        """Wait until the answers queued so far are stored; False on timeout, or at once
        while another process locks the database unless ``wait_out_locks``."""
        return self._writer.flush(timeout, wait_out_locks=wait_out_locks)

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
        conversation_id: str | None = None,
    ) -> str:
        """Store a question and its answer through the background writer (or at once when
        its queue is full); returns the message id. A read-only database stores nothing.
        Raises DatabaseBusy only when the queue is full and the database locked."""
        row = self._message_row(question, answer, client, page_url, duration_ms, message_id)
        row["conversation_id"] = conversation_id
        if not self.writable:
            self.dropped += 1
        elif not self._writer.put(row):
            try:
                self._insert_messages([row])
            except SQLAlchemyError as exc:
                raise translate(exc) from exc
        return str(row["id"])

    def _message_row(
        self,
        question: str,
        answer: Answer,
        client: str | None,
        page_url: str | None,
        duration_ms: float,
        message_id: str | None,
    ) -> dict[str, Any]:
        return {
            "id": message_id or new_message_id(),
            "created_at": utc_now(),  # when asked, not when written
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
        """Store (or replace) the rating of an answer.

        Raises UnknownMessage, DatabaseReadOnly, or DatabaseBusy while the database is locked
        (the answer being rated may still wait in the queue then).
        """
        if not self.writable:
            raise DatabaseReadOnly(self.problem or "read-only")
        if not self.flush(FEEDBACK_FLUSH_SECONDS):
            raise DatabaseBusy("the answer being rated is not stored yet: the database is locked")
        try:
            with self._session.begin() as session:
                if session.get(Message, message_id) is None:
                    raise UnknownMessage(message_id)
                existing = session.scalar(select(Feedback).where(Feedback.message_id == message_id))
                if existing is None:
                    session.add(Feedback(message_id=message_id, rating=rating, comment=comment))
                else:
                    existing.rating, existing.comment = rating, comment
                    existing.created_at = utc_now()
        except SQLAlchemyError as exc:
            error = translate(exc)
            if isinstance(error, DatabaseReadOnly):
                self._mark_read_only(exc)
            raise error from exc

    def purge(self, now: datetime | None = None) -> int:
        """Delete messages and feedback older than the retention period; returns rows removed.

        A read-only database is left alone (0). Raises DatabaseBusy while it is locked.
        """
        if not self.writable:
            return 0
        cutoff = (now or utc_now()) - self.retention
        self.flush()
        try:
            return self._purge(cutoff)
        except SQLAlchemyError as exc:
            error = translate(exc)
            if isinstance(error, DatabaseReadOnly):
                self._mark_read_only(exc)
                return 0
            raise error from exc

    def _purge(self, cutoff: datetime) -> int:
        old = select(Message.id).where(Message.created_at < cutoff)
        with self.engine.begin() as connection:  # Core: a CursorResult has rowcount
            removed_feedback = connection.execute(
                delete(Feedback).where(
                    (Feedback.created_at < cutoff) | Feedback.message_id.in_(old)
                )
            ).rowcount
            removed_messages = connection.execute(
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
        embed: Embed,
        *,
        days: int = 30,
        limit: int = 500,
        threshold: float = 0.9,
    ) -> list[GapGroup]:
        """Refused or rated-down questions grouped by meaning, most frequent first.

        ``embed`` maps texts to vectors (the service's embedding model); questions whose
        cosine similarity to a group's first question reaches ``threshold`` join that group.
        """
        return gap_groups(self.gap_rows(utc_now() - timedelta(days=days), limit), embed, threshold)


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's first line (no SQL, no parameters, no password)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"


def new_message_id() -> str:
    """A fresh, unguessable message id."""
    return uuid.uuid4().hex
