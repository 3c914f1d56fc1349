"""Privacy: a forgotten conversation is deleted, and each kind of data has its own retention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, inspect, select, text

from assistant.config import Settings
from assistant.handoff import Enquiry, Handoff, SmtpConfig
from assistant.privacy import forget_conversation, purge
from assistant.records_db import DatabaseReadOnly, RecordsDB
from assistant.records_tables import Feedback, Message
from assistant.schema import Answer
from assistant.staff_db import now, open_engine
from assistant.web.staff_loop import StaffLoop

ANSWER = Answer(text="About 1 km.", language="en", abstained=False, sources=[])


def count(db: RecordsDB, table: type) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_forgetting_a_conversation_deletes_its_rows_even_those_still_queued(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    db = RecordsDB(settings)
    mine = [db.queue_answer(f"my question {i}", ANSWER) for i in range(3)]
    other = db.queue_answer("someone else's question", ANSWER)
    db.record_feedback(mine[0], "down", "my comment")
    late = db.queue_answer("asked just before forgetting", ANSWER)  # may still be queued

    assert forget_conversation(db, [*mine, late, "0" * 32]) == 4
    assert count(db, Message) == 1 and count(db, Feedback) == 0
    assert db.message(other) is not None and db.message(late) is None
    assert forget_conversation(db, mine) == 0  # twice is not an error
    db.close()

    # Deleted, not hidden: the text is nowhere in the database file.
    reopened = RecordsDB(settings)
    with reopened.engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        connection.execute(text("VACUUM"))
    reopened.close()
    raw = (settings.data_dir / "app.sqlite").read_bytes()
    assert b"my question" not in raw and b"my comment" not in raw
    assert b"someone else's question" in raw


def test_forget_refuses_an_unbounded_list(make_settings: Callable[..., Settings]) -> None:
    db = RecordsDB(make_settings())
    with pytest.raises(ValueError, match="at most"):
        forget_conversation(db, [f"{i:032x}" for i in range(501)])
    db.close()


def test_conversations_feedback_and_enquiries_each_expire_on_their_own_clock(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        retention_days=90,
        feedback_retention_days=30,
        enquiry_retention_days=60,
        smtp_host="127.0.0.1",
    )
    db = RecordsDB(settings)
    handoff = Handoff(open_engine(settings), SmtpConfig.from_settings(settings))
    message_id = db.queue_answer("How long is the wall?", ANSWER)
    db.record_feedback(message_id, "up")
    with handoff._session.begin() as session:  # an enquiry as stored, without sending it
        session.add(
            Enquiry(
                id="e" * 32,
                email="visitor@example.org",
                consent=True,
                language="en",
                transcript=[],
                message="Please call me",
            )
        )

    assert purge(settings, db, handoff, at=now() + timedelta(days=29)) == {
        "conversations": 0,
        "feedback": 0,
        "enquiries": 0,
    }
    assert purge(settings, db, handoff, at=now() + timedelta(days=31)) == {
        "conversations": 0,
        "feedback": 1,
        "enquiries": 0,
    }
    assert db.message(message_id) is not None and db.feedback_for(message_id) is None
    removed = purge(settings, db, handoff, at=now() + timedelta(days=61))
    assert removed["enquiries"] == 1 and handoff.list_enquiries() == []  # the address went with it
    assert purge(settings, db, handoff, at=now() + timedelta(days=91))["conversations"] == 1
    db.close()


def test_a_read_only_database_is_left_alone_and_the_staff_tables_are_tried_once(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    RecordsDB(settings).close()  # the service ran once: its tables, none of the staff loop's
    url = f"sqlite:///file:{settings.data_dir / 'app.sqlite'}?mode=ro&uri=true"
    read_only = make_settings(database_url=url)
    db = RecordsDB(read_only)
    assert db.problem and "read-only" in db.problem
    creates: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("CREATE"):
            creates.append(statement)

    staff = StaffLoop(read_only, db, lambda: pytest.fail("nothing to embed"))
    nothing = {"conversations": 0, "feedback": 0, "enquiries": 0}
    assert purge(read_only, db, staff.usable_handoff) == nothing
    tried = len(creates)
    assert tried >= 1  # once, at the first use
    for _ in range(3):  # then known: no more attempts, whichever part asks
        assert staff.usable_handoff is None
        with pytest.raises(DatabaseReadOnly):
            staff.curated  # noqa: B018
        assert staff.curated_outcome("Where can visitors park?", "en", None).given is None  # type: ignore[arg-type]
    assert len(creates) == tried
    db.close()


def test_failed_enquiries_are_not_retried_on_a_database_that_cannot_record_the_delivery(
    make_settings: Callable[..., Settings],
) -> None:
    """A retry on a read-only database could send the e-mail but never record it, so it would
    send it again at every retry: the background retry leaves such a database alone."""
    from types import SimpleNamespace

    from assistant.web.lifespan import _retry_failed
    from tests.conftest import free_port

    settings = make_settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none")
    db = RecordsDB(settings)
    staff = StaffLoop(settings, db, lambda: pytest.fail("nothing to embed"))
    stored = staff.handoff.submit(
        {"email": "visitor@example.org", "consent": True, "language": "en", "message": "Hi"}
    )
    assert stored["delivery"] == "failed"  # nobody listens on that port
    db.close()

    url = f"sqlite:///file:{settings.data_dir / 'app.sqlite'}?mode=ro&uri=true"
    read_only = settings.model_copy(update={"database_url": url})
    db = RecordsDB(read_only)
    staff = StaffLoop(read_only, db, lambda: pytest.fail("nothing to embed"))
    services = SimpleNamespace(db=db, staff=staff)
    assert _retry_failed(services) == {"sent": 0, "failed": 0}  # type: ignore[arg-type]
    assert staff.handoff.list_enquiries()[0]["attempts"] == 1  # what is there is still shown
    db.close()


OLD_MESSAGES = """CREATE TABLE messages (
    id VARCHAR(32) PRIMARY KEY, created_at TIMESTAMP, client_hash VARCHAR(64),
    question TEXT, answer TEXT, language VARCHAR(8), abstained BOOLEAN, backend VARCHAR(32),
    notice TEXT, page_url TEXT, source_urls JSON, duration_ms FLOAT)"""


def _forget_by_conversation_after_migration(settings: Settings) -> None:
    db = RecordsDB(settings)  # adds messages.conversation_id to the old table
    columns = {c["name"] for c in inspect(db.engine).get_columns("messages")}
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("messages")}
    assert "conversation_id" in columns and "ix_messages_conversation_id" in indexes
    with db.engine.connect() as connection:
        old = connection.execute(text("SELECT question FROM messages")).scalars().all()
    assert old == ["asked before the upgrade"]  # the old rows are kept

    conversation = "c" * 32
    kept = db.queue_answer("another visitor", ANSWER, conversation_id="d" * 32)
    for i in range(2):
        db.queue_answer(f"turn {i}", ANSWER, conversation_id=conversation)
    assert forget_conversation(db, [], conversation) == 2
    assert count(db, Message) == 2 and db.message(kept) is not None
    db.close()
    RecordsDB(settings).close()  # a second start finds the column there: nothing to do


def _old_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(OLD_MESSAGES))
        connection.execute(
            text(
                "INSERT INTO messages (id, created_at, client_hash, question, answer, language, "
                "abstained, backend, page_url, source_urls, duration_ms) VALUES ('"
                + "e"
                * 32
                + "', CURRENT_TIMESTAMP, '', 'asked before the upgrade', 'a', 'en', FALSE, "
                "'extractive', NULL, '[]', 1.0)"
            )
        )
    engine.dispose()


def test_an_sqlite_database_from_before_conversation_ids_is_migrated_in_place(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    _old_database(url)
    _forget_by_conversation_after_migration(make_settings(database_url=url))


def test_a_postgresql_database_from_before_conversation_ids_is_migrated_in_place(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    _old_database(postgres_url)
    _forget_by_conversation_after_migration(make_settings(database_url=postgres_url))
