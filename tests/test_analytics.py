"""What visitors ask: stored questions grouped by meaning across languages, with outcomes."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import timedelta

from assistant.analytics import GROUPING, to_csv, top_questions
from assistant.config import Settings
from assistant.curated_match import query_embedder
from assistant.records_db import RecordsDB
from assistant.schema import Answer, Source
from assistant.staff_db import now

VISIT = "https://example.org/en/visit/getting-here"
FAQ = "https://example.org/en/faq"


def answer(language: str, *, refused: bool = False, urls: tuple[str, ...] = ()) -> Answer:
    sources = [
        Source(n=i + 1, title="Page", url=url, language=language, snippet="...")
        for i, url in enumerate(urls)
    ]
    return Answer(text="...", language=language, abstained=refused, sources=sources)


def test_the_most_asked_questions_are_grouped_by_meaning_with_outcomes(
    make_settings: Callable[..., Settings], embeddings
) -> None:
    db = RecordsDB(make_settings())
    parking = [
        ("Where can visitors park?", "en", False, (VISIT,)),
        ("where can visitors park", "en", False, (VISIT, FAQ)),
        ("Dove possono parcheggiare i visitatori?", "it", False, (VISIT,)),
        ("Where can visitors park?", "en", True, ()),
    ]
    wall = [
        ("How long is the red wall?", "en", False, (FAQ,)),
        ("What is the length of the red wall?", "en", False, (FAQ,)),
    ]
    ids = []
    for question, language, refused, urls in parking + wall:
        ids.append(db.queue_answer(question, answer(language, refused=refused, urls=urls)))
    db.queue_answer("How many companies are based at Kilometro Rosso?", answer("en"))
    db.record_feedback(ids[0], "up")
    db.record_feedback(ids[3], "down", "no answer")
    db.flush()

    groups = top_questions(
        db.engine,
        query_embedder(embeddings),
        since=now() - timedelta(days=1),
        until=now() + timedelta(minutes=1),
        threshold=GROUPING,
    )
    top = groups[0]
    assert top.question == "Where can visitors park?"  # the most frequent wording leads
    assert (top.count, top.answered, top.refused) == (4, 3, 1)
    assert top.answer_rate == 0.75
    assert (top.feedback_up, top.feedback_down) == (1, 1)
    assert dict(top.languages) == {"en": 3, "it": 1}
    assert top.pages.most_common(1) == [(VISIT, 3)]
    assert groups[1].count == 2 and groups[1].question.endswith("red wall?")
    assert [g.count for g in groups] == [4, 2, 1]

    italian = top_questions(
        db.engine,
        query_embedder(embeddings),
        since=now() - timedelta(days=1),
        until=now() + timedelta(minutes=1),
        threshold=GROUPING,
        language="it",
    )
    assert [(g.question, g.count) for g in italian] == [
        ("Dove possono parcheggiare i visitatori?", 1)
    ]
    old = top_questions(
        db.engine,
        query_embedder(embeddings),
        since=now() - timedelta(days=30),
        until=now() - timedelta(days=1),
        threshold=GROUPING,
    )
    assert old == []

    rows = list(csv.DictReader(io.StringIO(to_csv(groups))))
    assert rows[0]["question"] == "Where can visitors park?" and rows[0]["count"] == "4"
    assert rows[0]["answer_rate"] == "0.75" and "en:3" in rows[0]["languages"]
    db.close()


def test_the_report_runs_in_a_thread_without_blocking_the_event_loop(
    make_settings: Callable[..., Settings], embeddings
) -> None:
    db = RecordsDB(make_settings())
    db.queue_answer('=HYPERLINK("http://evil")', answer("en"))
    db.flush()

    async def run() -> list:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        groups = await asyncio.to_thread(
            top_questions,
            db.engine,
            query_embedder(embeddings),
            since=now() - timedelta(days=1),
            until=now() + timedelta(minutes=1),
            threshold=GROUPING,
        )
        task.cancel()
        assert ticks > 0  # the loop kept running while the report was computed
        return groups

    groups = asyncio.run(run())
    assert groups[0].count == 1
    assert to_csv(groups).splitlines()[1].startswith("\"'=HYPERLINK")
    db.close()
