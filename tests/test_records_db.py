"""The service database: answers are written off the request path without being lost."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from assistant.batch_writer import BatchWriter
from assistant.config import Settings
from assistant.records_db import DatabaseBusy, DatabaseReadOnly, RecordsDB
from assistant.schema import Answer, Source

ANSWER = Answer(
    text="About 1 km [1].",
    language="en",
    abstained=False,
    sources=[
        Source(
            n=1,
            title="Campus",
            url="https://example.org/campus",
            language="en",
            snippet="The red wall is about 1 km long.",
        )
    ],
)


def test_a_queued_answer_can_be_read_and_rated_at_once(
    make_settings: Callable[..., Settings],
) -> None:
    db = RecordsDB(make_settings())
    message_id = db.queue_answer("How long is the wall?", ANSWER, client="203.0.113.7")
    db.record_feedback(message_id, "up")  # the answer may still be queued: it must be found
    stored = db.message(message_id)
    assert stored is not None and stored.question == "How long is the wall?"
    assert stored.client_hash and "203.0.113.7" not in stored.client_hash
    db.close()


def test_closing_writes_everything_still_queued(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    db = RecordsDB(settings)
    ids = [db.queue_answer(f"question {i}", ANSWER) for i in range(300)]
    db.close()
    reopened = RecordsDB(settings)
    assert all(reopened.message(i) is not None for i in ids)
    reopened.close()


def test_when_the_writer_refuses_a_row_the_caller_stores_it_itself(
    make_settings: Callable[..., Settings],
) -> None:
    writer = BatchWriter(lambda rows: None, capacity=1)
    writer.close()
    assert writer.put({"id": "late"}) is False  # refused, not silently dropped
    db = RecordsDB(make_settings())
    db._writer.close()  # every row now takes the fallback path
    message_id = db.queue_answer("Where is the campus?", ANSWER)
    assert db.message(message_id) is not None
    db.close()


def test_a_locked_database_keeps_answers_queued_until_the_lock_goes(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    db = RecordsDB(settings)
    first = db.queue_answer("Where is the campus?", ANSWER)
    assert db.flush()
    holder = sqlite3.connect(settings.data_dir / "app.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        ids = [db.queue_answer(f"question {i}", ANSWER) for i in range(5)]
        deadline = time.monotonic() + 10
        while not db._writer.stalled:
            assert time.monotonic() < deadline, "the writer never met the lock"
            time.sleep(0.05)
        started = time.monotonic()
        assert db.flush(timeout=30) is False, "flush does not wait out someone else's lock"
        with pytest.raises(DatabaseBusy):
            db.record_feedback(first, "up")
        assert time.monotonic() - started < 5
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert db.flush(timeout=30, wait_out_locks=True)
    assert all(db.message(i) is not None for i in ids), "nothing accepted is lost"
    db.record_feedback(first, "up")
    db.close()


def test_a_read_only_database_is_read_but_never_written(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    db = RecordsDB(settings)
    kept = db.queue_answer("Where is the campus?", ANSWER)
    db.close()
    path = settings.data_dir / "app.sqlite"
    read_only = RecordsDB(
        settings.model_copy(update={"database_url": f"sqlite:///file:{path}?mode=ro&uri=true"})
    )
    assert read_only.problem and "read-only" in read_only.problem
    assert read_only.message(kept) is not None, "what is there can still be read"
    assert read_only.counts()["questions"] == 1
    read_only.queue_answer("Not stored", ANSWER)
    assert read_only.dropped == 1
    with pytest.raises(DatabaseReadOnly):
        read_only.record_feedback(kept, "up")
    assert read_only.purge() == 0
    read_only.close()


def test_a_database_that_cannot_be_opened_leaves_the_service_running(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    missing = tmp_path / "absent" / "app.sqlite"
    db = RecordsDB(make_settings(database_url=f"sqlite:///file:{missing}?mode=ro&uri=true"))
    assert db.problem and "cannot be opened" in db.problem
    assert db.counts()["questions"] == 0 and db.gap_rows(datetime(2000, 1, 1), 10) == []
    # the service reads from its thread pool: the empty stand-in has its tables in every thread
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(db.counts).result()["questions"] == 0
    db.close()
