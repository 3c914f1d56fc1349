"""The service database: answers are written off the request path without being lost."""

from __future__ import annotations

from collections.abc import Callable

from assistant.config import Settings
from assistant.records_db import BatchWriter, RecordsDB
from assistant.schema import Answer, Source

ANSWER = Answer(text="About 1 km [1].", language="en", abstained=False,
                sources=[Source(n=1, title="Campus", url="https://example.org/campus",
                                language="en", snippet="The red wall is about 1 km long.")])


def test_a_queued_answer_can_be_read_and_rated_at_once(make_settings: Callable[..., Settings]) -> None:
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


def test_when_the_writer_refuses_a_row_the_caller_stores_it_itself(make_settings: Callable[..., Settings]) -> None:
    writer = BatchWriter(lambda rows: None, capacity=1)
    writer.close()
    assert writer.put({"id": "late"}) is False  # refused, not silently dropped
    db = RecordsDB(make_settings())
    db._writer.close()  # every row now takes the fallback path
    message_id = db.queue_answer("Where is the campus?", ANSWER)
    assert db.message(message_id) is not None
    db.close()
