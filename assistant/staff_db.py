"""The service database's shared ground: the clock, the SQLite settings, the staff tables'
declarative base and engine, safe CSV.

Curated answers (``curated``) and enquiries (``handoff``) live in the service database
(``settings.app_database_url``, the same as ``records_db``) in tables of their own, declared on
``StaffBase`` so that ``create_all`` makes only them, idempotently. The app factory may pass
the engine ``records_db`` already holds (``RecordsDB.engine``) so that one pool serves both.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from assistant.config import Settings

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 2000  # a request waits at most this long for another process's lock


class StaffBase(DeclarativeBase):
    pass


def now() -> datetime:
    """Naive UTC, as every table of the service database stores it (portable across SQLite
    and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    """A stored naive-UTC datetime as ISO 8601 with its offset."""
    return moment.replace(tzinfo=UTC).isoformat() if moment else None


def sqlite_pragmas(engine: Engine) -> None:
    """WAL and relaxed fsync (a chat request should not wait on the disk), foreign keys, and
    a bounded wait for another process's lock, on every new SQLite connection."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception:  # a read-only file keeps its journal mode; reads still work
            log.debug("could not switch the service database to WAL", exc_info=True)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()


def open_engine(settings: Settings) -> Engine:
    """An engine on the service database, with the same SQLite settings as ``records_db``."""
    url = settings.app_database_url
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    sqlite_pragmas(engine)
    return engine


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (typed ``Result`` does not declare the attribute)."""
    return int(getattr(result, "rowcount", 0) or 0)


def create_tables(engine: Engine) -> None:
    """Create the staff tables that do not exist yet (safe to call at every start)."""
    StaffBase.metadata.create_all(engine)


class StaffTables:
    """What ``CuratedStore`` and ``Handoff`` share: their tables created on the engine (once,
    idempotently) and a session factory whose objects stay readable after commit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine)
        self._session: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV text with a header line; visitor and staff text is untrusted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()
