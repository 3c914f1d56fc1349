"""A thread that writes queued rows in batches, off the request path, and waits out locks.

Used by the service database (``assistant.records_db``): a chat request queues its row and
returns; the writer inserts rows in batches (one transaction each). A batch refused because
another process holds the database's write lock is kept and retried until the lock goes, so
nothing accepted is lost; a batch refused because the database is read-only is dropped and
reported once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

log = logging.getLogger(__name__)

WRITE_QUEUE_SIZE = 10_000  # rows waiting for the writer; beyond this, callers write themselves
WRITE_BATCH_SIZE = 500  # rows per transaction at most
RETRY_MAX_SECONDS = 5.0  # longest pause between two attempts at a locked database


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked/busy" (another process holds the write lock)."""
    text = str(exc).lower()
    return isinstance(exc, OperationalError) and ("locked" in text or "busy" in text)


def is_unreachable(exc: BaseException) -> bool:
    """A database server that does not answer (connection refused or cut): it may come back,
    so the rows wait for it rather than being dropped."""
    if not isinstance(exc, DBAPIError) or is_locked(exc) or is_read_only(exc):
        return False
    return exc.connection_invalidated or "connection" in str(exc).lower()


def is_read_only(exc: BaseException) -> bool:
    """A write refused because the database or its folder is read-only."""
    text = str(exc).lower()
    return isinstance(exc, SQLAlchemyError | OSError) and (
        "readonly" in text
        or "read-only" in text
        or "read only" in text
        or "unable to open database" in text
        or isinstance(exc, PermissionError)
    )


_STOP = object()


class BatchWriter:
    """A thread that hands queued rows to ``write`` in batches, in order.

    ``put`` never blocks: it returns False when the queue is full or the writer is closed,
    and the caller writes the row itself. A batch refused because the database is locked is
    kept and retried (with a growing pause) until the lock goes: the writer is ``stalled``
    meanwhile. A batch refused because the database is read-only is dropped and reported to
    ``on_read_only``. Any other failure is retried row by row, so one bad row costs only
    itself (logged).
    """

    def __init__(
        self,
        write: Callable[[list[dict[str, Any]]], None],
        *,
        capacity: int = WRITE_QUEUE_SIZE,
        batch_size: int = WRITE_BATCH_SIZE,
        name: str = "records-writer",
        on_read_only: Callable[[Exception], None] | None = None,
    ) -> None:
        self._write = write
        self._queue: queue.Queue[Any] = queue.Queue(capacity)
        self._batch_size = batch_size
        self._name = name
        self._on_read_only = on_read_only
        self._cond = threading.Condition()
        self._accepted = 0
        self._finished = 0
        self._closed = False
        self._stalled = False
        self._give_up_at: float | None = None  # set by close(): stop retrying a lock then
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

    def flush(self, timeout: float = 30.0, *, wait_out_locks: bool = False) -> bool:
        """Wait until every row queued before this call is written; False on timeout, or at
        once while the database is locked (the rows stay queued) unless ``wait_out_locks``."""
        with self._cond:
            target = self._accepted
            self._cond.wait_for(
                lambda: self._finished >= target or (self._stalled and not wait_out_locks),
                timeout,
            )
            return self._finished >= target

    @property
    def stalled(self) -> bool:
        """True while a batch waits for another process's lock to go."""
        with self._cond:
            return self._stalled

    @property
    def pending(self) -> int:
        with self._cond:
            return self._accepted - self._finished

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued (waiting up to ``timeout`` for a lock), then stop the thread."""
        with self._cond:
            self._closed = True
            self._give_up_at = time.monotonic() + timeout
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout + 5)
            if thread.is_alive():
                log.error(
                    "the records writer did not finish within %.0f s: %d rows unwritten",
                    timeout,
                    self.pending,
                )

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
                self._write_until_unlocked(batch)
            with self._cond:
                self._finished += len(batch)
                self._cond.notify_all()

    def _write_until_unlocked(self, batch: list[dict[str, Any]]) -> None:
        pause = 0.1
        while True:
            try:
                self._write(batch)
                break
            except SQLAlchemyError as exc:
                if not (is_locked(exc) or is_unreachable(exc)):
                    self._write_each(batch, exc)
                    break
                with self._cond:
                    if self._give_up_at is not None and time.monotonic() > self._give_up_at:
                        log.error(
                            "the service database stayed locked or unreachable: %d rows not stored",
                            len(batch),
                        )
                        break
                    if not self._stalled:
                        log.warning(
                            "the service database is locked or unreachable; %d answers wait "
                            "in memory until it answers",
                            len(batch),
                        )
                    self._stalled = True
                    self._cond.notify_all()
                    self._cond.wait(pause)  # close() wakes us to try once more now
                pause = min(pause * 2, RETRY_MAX_SECONDS)
        with self._cond:
            if self._stalled:
                log.info("the service database is free again; queued answers written")
            self._stalled = False

    def _write_each(self, batch: list[dict[str, Any]], first: SQLAlchemyError) -> None:
        if is_read_only(first):
            if self._on_read_only is not None:
                self._on_read_only(first)
            return
        log.warning(
            "writing %d queued rows failed; retrying one by one", len(batch), exc_info=first
        )
        for row in batch:
            try:
                self._write([row])
            except SQLAlchemyError:
                log.exception("could not store row %s", row.get("id"))
