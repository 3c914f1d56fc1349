"""Curated answers in the service database: every change recorded, no edit lost, plain text."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable

import pytest

from assistant.config import Settings
from assistant.curated_store import CuratedStore, InvalidCurated, NotFound, VersionConflict
from assistant.records_db import RecordsDB
from assistant.staff_db import open_engine

PARKING = {
    "questions": ["Where can visitors park?", "Dove possono parcheggiare i visitatori?"],
    "answer_en": "Visitors park in the P2 car park at the east gate.",
    "answer_it": "I visitatori parcheggiano nel parcheggio P2, all'ingresso est.",
    "links": [{"title": "Getting here", "url": "https://www.kilometrorosso.com/en/visit"}],
}


@pytest.fixture
def store(make_settings: Callable[..., Settings]) -> CuratedStore:
    return CuratedStore(open_engine(make_settings()))


def test_create_get_list_and_every_change_is_recorded_with_who_and_when(
    store: CuratedStore,
) -> None:
    created = store.create(PARKING, actor="anna@district")
    assert created["version"] == 1 and created["enabled"] is True
    assert created["created_by"] == created["updated_by"] == "anna@district"
    assert store.get(created["id"]) == created

    edited = store.update(
        created["id"],
        {**PARKING, "answer_en": "Visitors park in P2 (east gate), free of charge."},
        expected_version=1,
        actor="marco@district",
    )
    disabled = store.set_enabled(created["id"], False, expected_version=2, actor="anna@district")
    assert edited["version"] == 2 and disabled["version"] == 3 and disabled["enabled"] is False
    assert disabled["updated_by"] == "anna@district"

    history = store.history(created["id"])
    assert [(h["action"], h["actor"], h["version"]) for h in history] == [
        ("create", "anna@district", 1),
        ("update", "marco@district", 2),
        ("disable", "anna@district", 3),
    ]
    assert all(h["at"] for h in history)
    assert history[1]["snapshot"]["answer_en"].endswith("free of charge.")
    assert [item["id"] for item in store.list_answers(include_disabled=False)] == []
    assert [item["id"] for item in store.list_answers()] == [created["id"]]
    with pytest.raises(NotFound):
        store.get(9999)


def test_a_concurrent_edit_is_refused_with_the_current_version_instead_of_lost(
    store: CuratedStore,
) -> None:
    created = store.create(PARKING, actor="anna")
    first = store.update(
        created["id"], {**PARKING, "answer_en": "Anna's text."}, expected_version=1, actor="anna"
    )
    with pytest.raises(VersionConflict) as conflict:
        store.update(
            created["id"],
            {**PARKING, "answer_en": "Marco's text."},
            expected_version=1,
            actor="marco",
        )
    assert conflict.value.current["answer_en"] == "Anna's text."  # the other edit survives
    assert conflict.value.current["version"] == first["version"] == 2
    merged = store.update(
        created["id"],
        {**PARKING, "answer_en": "Anna's and Marco's text."},
        expected_version=2,
        actor="marco",
    )
    assert merged["version"] == 3


def test_of_many_simultaneous_editors_of_one_version_exactly_one_wins(
    store: CuratedStore,
) -> None:
    created = store.create(PARKING, actor="anna")
    results: list[str] = []
    barrier = threading.Barrier(6)

    def edit(name: str) -> None:
        barrier.wait()
        try:
            store.update(
                created["id"], {**PARKING, "answer_en": name}, expected_version=1, actor=name
            )
            results.append("ok")
        except VersionConflict:
            results.append("conflict")

    threads = [threading.Thread(target=edit, args=(f"editor{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["conflict"] * 5 + ["ok"]
    assert store.get(created["id"])["version"] == 2
    assert len(store.history(created["id"])) == 2


def test_html_is_stored_and_returned_as_the_plain_text_it_is(store: CuratedStore) -> None:
    script = "<script>alert('x')</script> <b>bold</b> &amp; <img src=x onerror=alert(1)>"
    created = store.create({"questions": ["<i>What?</i>"], "answer_en": script}, actor="anna")
    assert store.get(created["id"])["answer_en"] == script
    assert store.get(created["id"])["questions"] == ["<i>What?</i>"]


def test_bad_input_gets_a_clear_error_and_stores_nothing(store: CuratedStore) -> None:
    bad = [
        ({"questions": ["Where can visitors park?"]}, "answer in Italian or in English"),
        ({**PARKING, "questions": []}, "questions"),
        ({**PARKING, "questions": ["?"]}, "3 to 1000"),
        ({**PARKING, "links": [{"title": "x", "url": "javascript:alert(1)"}]}, "url"),
        ({**PARKING, "answer_en": "x" * 9000}, "answer_en"),
        ({**PARKING, "expires_on": "next week"}, "expires_on"),
    ]
    for data, reason in bad:
        with pytest.raises(InvalidCurated, match=reason):
            store.create(data, actor="anna")
    with pytest.raises(InvalidCurated, match="who made it"):
        store.create(PARKING, actor="  ")
    assert store.list_answers() == []


def test_export_as_json_and_as_csv_that_a_spreadsheet_will_not_execute(
    store: CuratedStore,
) -> None:
    store.create(PARKING, actor="anna")
    store.create(
        {"questions": ["=1+1 is that a formula?"], "answer_it": "@SUM(A1)"},
        actor="=cmd|' /C calc'!A0",
    )
    exported = json.loads(store.export_json())
    assert {item["questions"][0] for item in exported} == {
        "Where can visitors park?",
        "=1+1 is that a formula?",
    }
    rows = list(csv.DictReader(io.StringIO(store.export_csv())))
    assert len(rows) == 2
    formula = next(row for row in rows if "formula" in row["questions"])
    assert formula["questions"].startswith("'=") and formula["answer_it"] == "'@SUM(A1)"
    assert formula["created_by"].startswith("'=")
    parking = next(row for row in rows if "park" in row["questions"])
    assert parking["questions"].splitlines() == PARKING["questions"]
    assert "https://www.kilometrorosso.com/en/visit" in parking["links"]


def test_the_tables_live_beside_the_conversations_and_are_created_idempotently(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    records = RecordsDB(settings)
    first = CuratedStore(records.engine)  # one pool for both, as the app factory may do
    created = first.create(PARKING, actor="anna")
    again = CuratedStore(open_engine(settings))  # a second worker starting later
    assert again.get(created["id"])["answer_en"] == PARKING["answer_en"]
    records.close()
