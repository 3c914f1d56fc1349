"""The service database on SQLite and on a real PostgreSQL: answers, feedback, the gaps report,
retention; and, over HTTP, the service while PostgreSQL is down at start and mid-run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import ADMIN_KEY, LiveServer, api_settings
from sqlalchemy import text

from api import create_app
from assistant.config import Settings
from assistant.records_db import DatabaseUnavailable, RecordsDB
from assistant.schema import Answer, Source

ANSWERED = Answer(
    text="The red wall is about 1 km long [1].",
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
REFUSED = Answer(
    text="I don't know; call +39 035 591100.", language="en", abstained=True, sources=[]
)
EN_QUESTION = "How tall is the red wall you see from the motorway?"


@pytest.fixture(params=["sqlite", "postgres"])
def db_settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    """Settings whose service database is SQLite in data_dir, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return make_settings()
    return make_settings(database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(db_settings: Settings) -> Iterator[RecordsDB]:
    database = RecordsDB(db_settings)
    yield database
    database.close()


def test_answers_and_feedback_are_stored_and_the_latest_rating_wins(db: RecordsDB) -> None:
    first = db.queue_answer(
        "How long is the wall?",
        ANSWERED,
        client="203.0.113.7",
        page_url="https://example.org/",
        duration_ms=12.5,
    )
    db.record_feedback(first, "down", "too vague")  # the row may still be queued
    db.record_feedback(first, "up")
    stored, rating = db.message(first), db.feedback_for(first)
    assert stored is not None and stored.question == "How long is the wall?"
    assert stored.source_urls == ["https://example.org/campus"]  # JSON column round trip
    assert stored.abstained is False and stored.duration_ms == 12.5
    assert rating is not None and (rating.rating, rating.comment) == ("up", None)
    db.queue_answer("Where is the canteen?", REFUSED, client="198.51.100.2")
    assert db.counts() == {
        "questions": 2,
        "refused": 1,
        "feedback_up": 1,
        "feedback_down": 0,
        "clients": 2,
    }


def test_the_gaps_report_groups_refused_and_rated_down_questions(
    db: RecordsDB, embeddings: Any
) -> None:
    for question in (
        "Where can I park my car?",
        "Where can I park the car?",
        "Is there a parking for cars?",
    ):
        db.queue_answer(question, REFUSED)
    down = db.queue_answer("Who founded the district?", ANSWERED)
    db.record_feedback(down, "down", "wrong founder")
    db.queue_answer("How long is the wall?", ANSWERED)  # answered and not rated: no gap
    groups = db.gaps_report(embeddings.embed_documents, threshold=0.85)
    asked = {q for group in groups for q in group.examples}
    assert "How long is the wall?" not in asked
    parking = max(groups, key=lambda group: group.count)
    assert parking.count >= 2 and parking.refused == parking.count
    founder = next(group for group in groups if "Who founded the district?" in group.examples)
    assert founder.rated_down == 1 and founder.comments == ["wrong founder"]


def test_retention_removes_old_answers_with_their_feedback(db: RecordsDB) -> None:
    old = db.queue_answer("An old question?", ANSWERED)
    db.record_feedback(old, "up")
    assert db.purge() == 0  # nothing is old yet
    later = datetime.now(UTC).replace(tzinfo=None) + db.retention + timedelta(days=1)
    assert db.purge(now=later) == 2  # the message and its feedback
    assert db.message(old) is None and db.feedback_for(old) is None


def test_postgres_is_really_used(postgres_url: str, make_settings: Callable[..., Settings]) -> None:
    """The parametrized tests above do reach PostgreSQL (not a silent SQLite fallback)."""
    db = RecordsDB(make_settings(database_url=postgres_url))
    db.queue_answer("Which server?", ANSWERED)
    db.flush()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 1
        assert "PostgreSQL" in connection.execute(text("SELECT version()")).scalar()
    db.close()


# --- the service over HTTP while PostgreSQL comes and goes --------------------------------


@pytest.fixture
def own_postgres() -> Iterator[Any]:
    """A PostgreSQL of this test's own, which it may stop and start."""
    from support.fixtures import new_postgres

    server = new_postgres()
    yield server
    server.cleanup()


def _wait_ready(http: Any, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while http.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, http.get("/ready").json()
        time.sleep(0.3)


def test_the_service_on_postgres_records_answers_feedback_and_gaps(
    sample_index: Any, tmp_path: Path, postgres_url: str
) -> None:
    settings = api_settings(
        sample_index, tmp_path, database_url=postgres_url, admin_api_key=ADMIN_KEY
    )
    with LiveServer(create_app(settings, runtime=sample_index)) as server, server.client() as http:
        assert http.get("/ready").json()["database"] == "ok"
        chat = http.post("/api/chat", json={"question": EN_QUESTION})
        assert chat.status_code == 200
        message_id = chat.json()["message_id"]
        refused = http.post(
            "/api/chat", json={"question": "What is the wifi password of the canteen?"}
        ).json()
        assert (
            http.post(
                "/api/feedback",
                json={"message_id": message_id, "rating": "down", "comment": "not what I asked"},
            ).status_code
            == 200
        )
        admin = {"X-Admin-Key": ADMIN_KEY}
        gaps = http.get("/api/admin/gaps", headers=admin).json()["groups"]
        stats = http.get("/api/admin/stats", headers=admin).json()["conversations"]
    asked = {q for group in gaps for q in group["examples"]}
    assert EN_QUESTION in asked
    assert stats["questions"] == 2 and stats["feedback_down"] == 1
    assert stats["refused"] == int(refused["abstained"])
    db = RecordsDB(settings)  # what the service wrote is in PostgreSQL
    stored = db.message(message_id)
    assert stored is not None and stored.question == EN_QUESTION
    db.close()


def test_postgres_down_at_start_then_up_serves_without_a_restart(
    sample_index: Any, tmp_path: Path, own_postgres: Any
) -> None:
    url = own_postgres.create_database()
    own_postgres.stop()
    settings = api_settings(sample_index, tmp_path, database_url=url)
    with LiveServer(create_app(settings, runtime=sample_index)) as server, server.client() as http:
        ready = http.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["database"] == "unreachable"
        assert "database does not answer" in ready.json()["detail"]
        chat = http.post("/api/chat", json={"question": EN_QUESTION})
        assert chat.status_code == 503 and chat.json()["error"] == "database_unavailable"
        assert "database does not answer" in chat.json()["detail"]
        stream = http.post("/api/chat/stream", json={"question": EN_QUESTION})
        assert stream.status_code == 503
        assert http.get("/health").status_code == 200

        own_postgres.start()
        _wait_ready(http)
        chat = http.post("/api/chat", json={"question": EN_QUESTION})
        assert chat.status_code == 200 and "10" in chat.json()["answer"]
        message_id = chat.json()["message_id"]
        assert (
            http.post("/api/feedback", json={"message_id": message_id, "rating": "up"}).status_code
            == 200
        )


def test_postgres_down_mid_run_is_a_503_and_the_service_recovers(
    sample_index: Any, tmp_path: Path, own_postgres: Any
) -> None:
    import time

    settings = api_settings(sample_index, tmp_path, database_url=own_postgres.create_database())
    with LiveServer(create_app(settings, runtime=sample_index)) as server, server.client() as http:
        _wait_ready(http)
        first = http.post("/api/chat", json={"question": EN_QUESTION}).json()["message_id"]

        own_postgres.stop("immediate")  # a crash: connections cut, no goodbye
        deadline = time.monotonic() + 10  # a good ping is trusted for 2 s
        while http.get("/ready").status_code != 503:
            assert time.monotonic() < deadline, "/ready did not notice the database was down"
            time.sleep(0.2)
        assert http.get("/ready").json()["database"] == "unreachable"
        chat = http.post("/api/chat", json={"question": EN_QUESTION})
        assert chat.status_code == 503 and chat.json()["error"] == "database_unavailable"
        feedback = http.post("/api/feedback", json={"message_id": first, "rating": "up"})
        assert feedback.status_code == 503 and feedback.json()["error"] == "database_unavailable"

        own_postgres.start()
        _wait_ready(http)
        again = http.post("/api/chat", json={"question": EN_QUESTION})
        assert again.status_code == 200
        assert (
            http.post(
                "/api/feedback", json={"message_id": again.json()["message_id"], "rating": "up"}
            ).status_code
            == 200
        )
    db = RecordsDB(settings)
    assert db.message(first) is not None  # written before the crash, still there
    assert db.feedback_for(again.json()["message_id"]) is not None
    db.close()


def test_ping_names_the_reason_without_the_password(
    own_postgres: Any, make_settings: Callable[..., Settings]
) -> None:
    url = own_postgres.create_database()
    own_postgres.stop()
    db = RecordsDB(make_settings(database_url=url))  # does not raise: the service must start
    with pytest.raises(DatabaseUnavailable) as caught:
        db.ping()
    assert "OperationalError" in str(caught.value)
    assert own_postgres.password not in str(caught.value)
    own_postgres.start()
    db.ping()  # recovers, and creates the tables it could not create at start
    db.queue_answer("After the outage?", ANSWERED)
    db.flush()
    assert db.counts()["questions"] == 1
    db.close()


def test_the_sync_records_database_down_does_not_stop_answers(
    sample_index: Any, tmp_path: Path, own_postgres: Any
) -> None:
    """Only syncs need KMR_RECORD_DB_URL: while it is down, visitors are still answered."""
    url = own_postgres.create_database()
    own_postgres.stop()
    settings = api_settings(sample_index, tmp_path, record_db_url=url)
    with LiveServer(create_app(settings, runtime=sample_index)) as server, server.client() as http:
        assert http.get("/ready").status_code == 200
        chat = http.post("/api/chat", json={"question": EN_QUESTION})
        assert chat.status_code == 200 and "10" in chat.json()["answer"]
