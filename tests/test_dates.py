"""Dates stated in page text, Italian and English, kept with each chunk."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest

from ingest.chunk import chunk_page
from ingest.dates import DateMention, chunk_metadata, decode, encode, find_dates
from ingest.records import Page


def spans(text: str) -> list[tuple[str, date, date, str, str]]:
    return [(m.text, m.start, m.end, m.precision, m.relation) for m in find_dates(text)]


def test_day_month_and_year_dates_in_english_and_italian() -> None:
    assert spans("On 11 October 2025, 14 organisations opened their labs.") == [
        ("11 October 2025", date(2025, 10, 11), date(2025, 10, 11), "day", "")
    ]
    assert spans("L'evento JOiiNT LAB 2.0 si è tenuto a gennaio 2026.") == [
        ("gennaio 2026", date(2026, 1, 1), date(2026, 1, 31), "month", "")
    ]
    assert spans("| 10 June 2025 | Day organised by the Comitato Leonardo |")[0][:4] == (
        "10 June 2025",
        date(2025, 6, 10),
        date(2025, 6, 10),
        "day",
    )


def test_ranges_are_one_period() -> None:
    assert spans("Il convegno si terrà 12-14 marzo 2025 in aula magna.") == [
        ("12-14 marzo 2025", date(2025, 3, 12), date(2025, 3, 14), "day", "")
    ]
    assert spans("July 2024 – June 2025 | 82 companies") == [
        ("July 2024 – June 2025", date(2024, 7, 1), date(2025, 6, 30), "period", "")
    ]
    assert spans("Between 2020–2022 the park grew.")[0][1:3] == (
        date(2020, 1, 1),
        date(2022, 12, 31),
    )


def test_since_and_deadlines() -> None:
    assert spans("Presente al campus dal 2009.") == [
        ("2009", date(2009, 1, 1), date(2009, 12, 31), "year", "since")
    ]
    assert spans("Resident since 2009, as of January 2026 it employs 300 people.") == [
        ("2009", date(2009, 1, 1), date(2009, 12, 31), "year", "since"),
        ("January 2026", date(2026, 1, 1), date(2026, 1, 31), "month", ""),
    ]
    assert spans("Iscrizioni entro il 31 gennaio 2025.") == [
        ("31 gennaio 2025", date(2025, 1, 31), date(2025, 1, 31), "day", "until")
    ]


def test_numeric_dates_are_day_first_and_iso() -> None:
    assert [m.start for m in find_dates("Open day 11/10/2025, report 2025-10-12.")] == [
        date(2025, 10, 11),
        date(2025, 10, 12),
    ]


def test_quantities_and_yearless_dates_are_not_dates() -> None:
    # A year cannot be guessed without the clock: "21 May" and "11/10" are not kept.
    assert spans("Held on 21, 23 and 30 May; next on 11/10.") == []
    assert spans("15,000 m² for 3,000 people and an 11-year agreement.") == []


def test_impossible_dates_are_skipped_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ingest.dates"):
        assert find_dates("Deadline 31 February 2025, or 2025-02-30.") == []
    assert "skipped" in caplog.text
    assert find_dates("Year 0000 and 0 and 9999.") == []


@pytest.mark.parametrize(
    "text",
    ["", "no dates here", "31/31/2025", "2025-13-45", "\x00 2025-01-01 \udcff", "12-99 marzo 2025"],
)
def test_odd_input_never_raises(text: str) -> None:
    find_dates(text)
    meta = chunk_metadata(text)
    assert set(meta) == {"dates", "date_min", "date_max"}


def test_encode_decode_round_trip_and_bad_metadata() -> None:
    mentions = find_dates("From 9 May 2024 to 30 May 2024, then January 2026.")
    assert decode(encode(mentions)) == mentions
    assert decode("not json") == [] and decode(None) == [] and decode("[[1]]") == []
    assert isinstance(DateMention.from_json(mentions[0].to_json()), DateMention)


def test_chunks_carry_their_dates() -> None:
    page = Page(
        source_id="https://example.org/events",
        url="https://example.org/events",
        title="Events",
        text="# Events\n\nOn 11 October 2025 the labs open. Since 2009 on campus.\n",
        language="en",
    )
    chunk = chunk_page(page)[0]
    assert chunk.metadata["date_min"] == "2009-01-01"
    assert chunk.metadata["date_max"] == "2025-10-11"
    assert [row[0] for row in json.loads(str(chunk.metadata["dates"]))] == [
        "11 October 2025",
        "2009",
    ]


def test_a_range_with_no_end_is_an_open_period() -> None:
    """An open period: "2017–", "2017 - present", "2017–oggi", "dal 2017 ad oggi" start a state that still
    holds (relation "since"); "2016–2022" is closed, and "2003 – early 2010s" is no open end."""
    assert spans("| Anna Rossi | director | 2017– |") == [
        ("2017–", date(2017, 1, 1), date(2017, 12, 31), "year", "since")
    ]
    assert spans("Anna Rossi, director, 2017 - present.")[0][0::4] == ("2017 - present", "since")
    assert spans("Direttrice 2017–oggi; poi")[0][0::4] == ("2017–oggi", "since")
    assert spans("Direttrice dal 2017 ad oggi.")[0][0::4] == ("2017 ad oggi", "since")
    assert spans("| Carla Verdi | director | 2016–2022 |")[0][3:] == ("period", "")
    assert spans("Manager 2003 – early 2010s")[0][0::4] == ("2003", "")
    assert spans("Report 2025-10, deadline by 2027 –")[1][4] == "until"  # a deadline stays one
