"""Answers that know today's date, over a small real index (real Chroma, real e5 model).

The site is written for this test in plain Markdown and bare HTML (not the sample site's
markup): an events page, a figures page with a figure's history, and an Italian news item.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from support.sites import synced_runtime

from assistant.answer import Assistant
from assistant.extractive import Selection
from assistant.params import PARAMS
from assistant.terms import TermStats
from assistant.timeline import (
    _count_words,
    _current,
    _Dated,
    _dated,
    _labelled,
    _with_status,
    answer,
    asks_calendar,
    counts,
    drop_later,
    implicit_current,
    is_coming,
    own_sentences,
    reports_later,
    role_asked,
    same_series,
    stated_later,
    steps,
    time_intent,
    unit_dates,
    window,
)
from assistant.units import Unit, split_units
from ingest.dates import DateMention, encode, find_dates
from vectorstore.passages import Passage

EVENTS = """# Events at Harbour Science Park

## Calendar

- **Robotics Night** – 14 March 2024, talks and demos in hall A.
- **Harbour Open Day** – 20 September 2025, the laboratories open their doors to the public.
- **Materials Summit** – 12-14 May 2026, three days of conferences on advanced materials.

The calendar is updated whenever a new event is confirmed.
"""

FIGURES = """<html lang="en"><head><title>Harbour Science Park in figures</title></head><body>
<main><h1>Harbour Science Park in figures</h1>
<p>The park opened in 2012 on the old harbour warehouses, with a ceremony on 14 May 2012.</p>
<h2>Companies on site</h2>
<p>In June 2019 the park hosted 41 companies.</p>
<p>As of March 2024 the park hosts 58 companies, after the new east wing opened.</p>
<p>The park employs about 1,200 people across all its buildings.</p>
</main></body></html>
"""

NEWS_IT = """# Harbour Science Park: la Notte della Robotica

La Notte della Robotica si è svolta il 14 marzo 2024 nella sala A, con dimostrazioni dei
laboratori di robotica del parco e oltre 600 visitatori.
"""


@pytest.fixture(scope="module")
def runtime(embeddings, models_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    site = tmp_path_factory.mktemp("harbour")
    (site / "events.md").write_text(EVENTS, "utf-8")
    (site / "figures.html").write_text(FIGURES, "utf-8")
    (site / "notte-robotica.md").write_text(NEWS_IT, "utf-8")
    return synced_runtime(site, tmp_path_factory.mktemp("harbour-index"), models_dir, embeddings)


@pytest.fixture
def ask(runtime) -> Callable[[str, str], str]:  # noqa: ANN001
    def answer(question: str, today: str) -> str:
        settings = runtime.settings.model_copy(update={"today": date.fromisoformat(today)})
        return Assistant(settings, runtime.searcher).answer(question).text

    return answer


def test_chunks_in_the_index_carry_dates(runtime) -> None:  # noqa: ANN001
    metas = [meta for _, _, meta in runtime.store.iter_rows() if "Events" in meta["title"]]
    assert metas and "20 September 2025" in metas[0]["dates"]
    assert metas[0]["date_max"] == "2026-05-14"


def test_upcoming_lists_only_events_not_over(ask) -> None:  # noqa: ANN001
    text = ask("What events are coming up at the park?", "2025-06-01")
    assert "Harbour Open Day" in text and "Materials Summit" in text
    assert "Robotics Night" not in text
    assert text.index("Harbour Open Day") < text.index("Materials Summit")  # in date order


def test_upcoming_says_plainly_when_none_is_announced(ask) -> None:  # noqa: ANN001
    text = ask("Quali eventi sono in programma?", "2026-11-30")
    assert "non è annunciato alcun evento" in text
    # the latest past event may be named, marked as past, never as coming
    assert "Robotics Night" not in text and "Open Day" not in text
    if "Materials Summit" in text:
        assert "già passato" in text


def test_a_past_event_is_marked_as_past_with_its_date(ask) -> None:  # noqa: ANN001
    text = ask("Has the Robotics Night already taken place?", "2025-06-01")
    assert "14 March 2024" in text or "14 marzo 2024" in text
    assert "past" in text


def test_events_of_the_period_asked_only(ask) -> None:  # noqa: ANN001
    """A period ("next month") is a calendar month from today: a later event is not in it."""
    text = ask("What's on at the park next month?", "2026-04-20")
    assert "Materials Summit" in text and "Harbour Open Day" not in text
    text = ask("Cosa c'è in programma il mese prossimo?", "2025-06-01")
    assert "nessun evento" in text and "il mese prossimo" in text  # July 2025: nothing
    assert "Harbour Open Day" in text  # the next one announced, marked as coming
    assert "Materials Summit" not in text and "Robotics Night" not in text


def test_events_already_held_in_date_order(ask) -> None:  # noqa: ANN001
    text = ask("Which events have already been held at the park?", "2025-12-01")
    assert text.startswith("Already held")
    assert text.index("Robotics Night") < text.index("Harbour Open Day")
    assert "Materials Summit" not in text
    text = ask("Quali eventi si sono già svolti quest'anno?", "2025-12-01")
    assert "Harbour Open Day" in text  # the only event of 2025 (the page is in English)
    assert "Robotics Night" not in text and "Notte della Robotica" not in text  # 2024
    assert "Materials Summit" not in text


def test_events_of_a_span_counted_from_today(ask) -> None:  # noqa: ANN001
    """A span ("the last twelve months") is the days back from today, "da qui a fine anno" the
    rest of the year: only the events falling in them, held or coming ("ultimi" alone is
    "latest", a span of them is the past)."""
    text = ask("Which events have been held at the park in the last twelve months?", "2025-12-01")
    assert "Harbour Open Day" in text and "Robotics Night" not in text
    text = ask("Quali eventi ci sono al parco da qui a fine anno?", "2025-06-01")
    assert "Harbour Open Day" in text and "Materials Summit" not in text
    text = ask("Quali eventi ci sono al parco da qui a fine anno?", "2025-10-01")
    assert "nessun evento" in text and "Materials Summit" in text  # the next one, coming
    text = ask("What events are on at the park in the next six months?", "2026-11-30")
    assert "No event is announced in the sources for the next six months" in text
    # nothing coming: the latest held, marked as past (its line states its date already)
    assert "Materials Summit" in text and "12-14 May 2026" in text and "(past)" in text
    assert time_intent("Quali eventi si sono svolti negli ultimi sei mesi?") == "past"


def test_how_many_events_gives_the_count_and_the_list(ask) -> None:  # noqa: ANN001
    text = ask("How many events are still planned at the park?", "2025-06-01")
    assert text.startswith("2 upcoming events are announced")
    assert "Harbour Open Day" in text and "Materials Summit" in text


def test_now_question_gives_the_latest_figure_with_its_date(ask) -> None:  # noqa: ANN001
    text = ask("How many companies are there in the park now?", "2025-06-01")
    assert text.index("58") < text.index("41")  # the latest first, the older one mentioned
    assert "as of March 2024" in text
    assert "out of date" not in text


def test_now_question_at_an_earlier_date_ignores_later_figures(ask) -> None:  # noqa: ANN001
    text = ask("How many companies are there in the park now?", "2020-01-01")
    assert "41" in text and "58" not in text


def test_an_old_latest_figure_gets_a_note(ask) -> None:  # noqa: ANN001
    text = ask("How many companies are there in the park now?", "2027-06-01")
    assert "58" in text and "out of date" in text


def test_a_count_without_a_time_word_gets_the_latest_figure_too(ask) -> None:  # noqa: ANN001
    """The question "how many companies does the park host?" asks how things stand at today:
    the figure the sources state at two dates is answered with the latest at today, dated."""
    text = ask("How many companies does the park host?", "2025-06-01")
    assert "58" in text and "as of March 2024" in text
    text = ask("How many companies does the park host?", "2020-01-01")
    assert "41" in text and "58" not in text


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("What's on next month?", "upcoming"),
        ("Quando partirà il cantiere?", "upcoming"),
        ("Quante imprese ci sono oggi?", "current"),
        ("Is the open day still on?", "past"),
        ("How many labs are there?", ""),
        ("Where is the car park?", ""),
        ("What's ALBINI next?", ""),
        ("A che ora apre la reception?", ""),
        # a marker of what is to come asks for events only where it stands as one: a
        # participle qualifying a noun, "what's on" before an object, "next" in a name do not
        ("Who designed the pavilion planned for the quay?", ""),
        ("Chi firma il nuovo museo in programma sul molo?", ""),
        ("The visitor guide has a list of rules - what's on it?", ""),
        ("Is Harbour Next open to visitors?", ""),
        ("What is planned at the quay in spring?", "upcoming"),
        ("Any talks scheduled for the autumn?", "upcoming"),
        ("Ci sono visite guidate in programma?", "upcoming"),
        ("Cosa è previsto sul molo?", "upcoming"),
        ("What's on at the quay this weekend?", "upcoming"),
        ("When is the next guided tour?", "upcoming"),
        ("What is the harbour's next project?", "upcoming"),
    ],
)
def test_time_intent(question: str, intent: str) -> None:
    assert time_intent(question) == intent


# A second small site: the dated programme is a table whose rows never say "event", and a
# prose page about events (no dates) is what a one-passage retrieval returns first.
PROGRAMME = """# Harbour Science Park: programme

## Dates to note

| When | What |
|---|---|
| 3 February 2026 | Winter lecture on tidal energy |
| 9 April 2027 | Spring hackathon for students |
| 15-16 June 2027 | Marine robotics trials in the basin |
"""

EVENTS_PROSE = """# Events at Harbour Science Park

The park hosts events of every kind: conferences, open days, workshops and lectures.
Events are open to residents and, when stated, to the public. Upcoming events are
announced on the programme page.
"""


@pytest.fixture(scope="module")
def programme_runtime(embeddings, models_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    site = tmp_path_factory.mktemp("programme")
    (site / "programme.md").write_text(PROGRAMME, "utf-8")
    (site / "events.md").write_text(EVENTS_PROSE, "utf-8")
    index = tmp_path_factory.mktemp("programme-index")
    return synced_runtime(site, index, models_dir, embeddings, retrieval_k=1)


def test_upcoming_reads_the_dated_table_beyond_the_retrieved_passages(programme_runtime) -> None:  # noqa: ANN001
    rt = programme_runtime
    question = "What events are coming up at the park?"
    retrieved = rt.searcher.search(question, k=1)
    assert [p.title for p in retrieved] == ["Events at Harbour Science Park"]  # the premise
    settings = rt.settings.model_copy(update={"today": date(2026, 12, 1)})
    text = Assistant(settings, rt.searcher).answer(question).text
    # every row of the table still ahead, in date order; the row that is over is not listed
    assert "Spring hackathon" in text and "Marine robotics trials" in text, text
    assert text.index("Spring hackathon") < text.index("Marine robotics trials")
    assert "tidal energy" not in text


FIGURES_TABLE = """| Indicator | Value | Year |
|---|---|---|
| Laboratories | 29 | c. 2020 |
| Laboratories | 37 | c. 2022 |
| Research investment | 750 million | January 2026 |

| Year | Organisations | People |
|---|---|---|
| 2021 | 70 | about 2,000 |
| July 2024 - June 2025 | 82 | - |
"""


def test_rows_of_the_same_series_join_a_now_answer() -> None:
    passage = Passage(
        id="p", text=f"Figures\nFigures\n\n{FIGURES_TABLE}", title="Figures", url="u",
        source_id="u", language="en", heading="Figures", dates=encode(find_dates(FIGURES_TABLE)),
    )  # fmt: skip
    units = split_units(passage, 0)
    labs, by_year = units[0], units[3]
    labs.score = by_year.score = 1.0
    # a table keyed by label: the rows with the same first cell, not the other indicators
    assert [u.text for u in same_series([labs], units, [passage])] == [
        "Laboratories: 29, c. 2020",
        "Laboratories: 37, c. 2022",
    ]
    # a table keyed by date: every row, each with the score of the row that brought it
    joined = same_series([by_year], units, [passage])
    assert [u.text for u in joined] == ["2021: 70, about 2,000", "July 2024 - June 2025: 82"]
    assert all(u.score == 1.0 for u in joined)


@pytest.mark.parametrize(
    ("words", "start", "end", "precision", "coming"),
    [
        ("30 November 2026", "2026-11-30", "2026-11-30", "day", True),  # today: not over
        ("27/11/2026", "2026-11-27", "2026-11-27", "day", False),
        ("18-22 January 2027", "2027-01-18", "2027-01-22", "day", True),
        # a month under way may be over, and is often a page's stamp ("Last reviewed: ...")
        ("November 2026", "2026-11-01", "2026-11-30", "month", False),
        ("May 2027", "2027-05-01", "2027-05-31", "month", True),
    ],
)
def test_an_event_date_is_coming_until_it_is_over(
    words: str, start: str, end: str, precision: str, coming: bool
) -> None:
    mention = DateMention(words, date.fromisoformat(start), date.fromisoformat(end), precision)
    assert is_coming(mention, date(2026, 11, 30)) is coming


@pytest.mark.parametrize(
    ("question", "today", "start", "end"),
    [
        ("What's on next month?", "2026-11-30", "2026-12-01", "2026-12-31"),
        ("Cosa c'è in programma il mese prossimo?", "2024-12-15", "2025-01-01", "2025-01-31"),
        ("Any events this month?", "2026-02-10", "2026-02-01", "2026-02-28"),
        ("Which events are planned this year?", "2027-02-01", "2027-01-01", "2027-12-31"),
        ("Quali eventi ci sono stati il mese scorso?", "2027-01-10", "2026-12-01", "2026-12-31"),
        ("Which events were held last year?", "2027-01-10", "2026-01-01", "2026-12-31"),
        ("Quali eventi ci sono l'anno prossimo?", "2026-11-30", "2027-01-01", "2027-12-31"),
        ("Events next week?", "2026-12-02", "2026-12-07", "2026-12-13"),  # Monday to Sunday
        # a span counted from today, and the rest of the year
        ("Events in the next twelve months?", "2025-03-01", "2025-03-01", "2026-03-01"),
        ("Quali eventi negli ultimi sei mesi?", "2026-12-01", "2026-06-01", "2026-12-01"),
        ("Which events in the past 2 weeks?", "2026-12-15", "2026-12-01", "2026-12-15"),
        ("Eventi nei prossimi tre anni?", "2024-02-29", "2024-02-29", "2027-02-28"),
        ("Che eventi ci sono da qui a fine anno?", "2025-05-01", "2025-05-01", "2025-12-31"),
        ("Anything on before the end of the year?", "2026-12-01", "2026-12-01", "2026-12-31"),
    ],
)
def test_the_period_a_question_names(question: str, today: str, start: str, end: str) -> None:
    found = window(question, date.fromisoformat(today))
    assert found is not None
    assert (found.start.isoformat(), found.end.isoformat()) == (start, end)


def test_no_period_in_other_questions() -> None:
    assert window("What events are coming up?", date(2026, 11, 30)) is None
    assert window("When is the next event?", date(2026, 11, 30)) is None


GLANCE = """## Research groups

Two new research groups joined the lab in 2019.

## Harbour Lab at a glance

Figures of March 2026

- 27 research groups
- about 460 staff and students
- founded in 1998

## Tide pool workshop

14 June 2027

Children learn about crabs and anemones.
"""


def test_a_dated_first_line_under_a_heading_dates_its_list_and_names_its_heading() -> None:
    """The line "Figures of March 2026" under "## Harbour Lab at a glance" dates the
    figures listed after it; "14 June 2027" under "## Tide pool workshop" is the workshop's."""
    passage = Passage(
        id="g", text=f"Lab\n\n{GLANCE}", title="Lab", url="u", source_id="u",
        language="en", heading="", dates=encode(find_dates(GLANCE)),
    )  # fmt: skip
    units = _labelled(split_units(passage, 0), passage)
    by_text = {u.text: u for u in units}
    mentions = find_dates(GLANCE)
    staff = by_text["about 460 staff and students (Figures of March 2026)"]
    assert [m.text for m in unit_dates(staff, mentions)] == ["March 2026"]
    founded = by_text["founded in 1998"]  # a date of its own: not restamped
    assert [m.text for m in unit_dates(founded, mentions)] == ["1998"]
    assert "Tide pool workshop (14 June 2027)" in by_text
    # a sentence, not a label: unchanged
    assert "Two new research groups joined the lab in 2019." in by_text


HISTORY = """| Year | What happened |
|---|---|
| 2011 | The east wing opens with 12 laboratories |
| 2016 | The wave tank is inaugurated |
| 2019 | 31 laboratories in use |
| 2022 | The harbour tram stop opens |
"""


def test_a_series_is_a_figure_s_values_not_a_table_of_history() -> None:
    """A date-keyed table of history: a row with a figure brings the other rows with one, a
    row of prose brings none (the latest row of history is not "the latest figure")."""
    passage = Passage(
        id="h", text=f"Lab\n\n{HISTORY}", title="Lab", url="u", source_id="u",
        language="en", heading="", dates=encode(find_dates(HISTORY)),
    )  # fmt: skip
    units = split_units(passage, 0)
    east, tank = units[0], units[1]
    assert [u.text for u in same_series([east], units, [passage])] == [
        "2011: The east wing opens with 12 laboratories",
        "2019: 31 laboratories in use",
    ]
    assert [u.text for u in same_series([tank], units, [passage])] == [tank.text]


def test_a_period_states_how_things_stood_until_its_end() -> None:
    """The line "Tide Company owned the lab (2012–2023)" is newer than "opened on 16 April
    2012" for "who owns it today?": a period counts from its end."""
    text = (
        "The lab opened on 16 April 2012 on the east quay.\n\n"
        "Tide Company owned the lab (2012–2023), then sold it to Harbour Holdings."
    )
    passage = Passage(
        id="o", text=f"Lab\n\n{text}", title="Lab", url="u", source_id="u", language="en",
        heading="", dates=encode(find_dates(text)),
    )  # fmt: skip
    units = split_units(passage, 0)
    for unit in units:
        unit.score = 1.0
    mentions = find_dates(text)
    dated = [_Dated(u, unit_dates(u, mentions)) for u in units]
    timed = _current(dated, "en", date(2026, 11, 30), 1.0, PARAMS.timeline)
    assert timed is not None and "Harbour Holdings" in timed.units[0].text


KEY_FIGURES = """## Key figures - update of 15 March 2026

| Resident companies | 58 |
|---|---|
| People employed by residents | 1,310 |
| Labs and offices | 48,000 m2 |

## Milestones

### 2019

Resident companies file 23 patent applications in the year, a record for the park.

### June 2024

Tide Motors, a founding resident, leaves the north tower for the port.
"""


def _scored_page(text: str) -> tuple[Passage, list]:
    """A page "Park" holding ``text`` with its dates, cut into units all scoring 1."""
    passage = Passage(
        id="k", text=f"Park\n\n{text}", title="Park", url="u", source_id="u",
        language="en", heading="", dates=encode(find_dates(text)),
    )  # fmt: skip
    units = split_units(passage, 0)
    for unit in units:
        unit.score = 1.0
    return passage, units


def _key_figures() -> tuple[Passage, list]:
    return _scored_page(KEY_FIGURES)


def test_an_undated_figure_is_dated_by_its_heading() -> None:
    """The rows under "## Key figures - update of 15 March 2026" and the line under "### 2019"
    state their figures as of their heading's date; a "now" answer says that date."""
    passage, units = _key_figures()
    dated = {d.unit.text: [m.text for m in d.dates] for d in _dated(units, [passage], True)}
    assert dated["People employed by residents: 1,310"] == ["15 March 2026"]
    assert dated["Resident companies file 23 patent applications in the year, a record for "
                 "the park."] == ["2019"]  # fmt: skip
    assert not _dated(units, [passage])  # only when asked: the units state no date themselves
    patents = [u for u in units if "patent" in u.text]
    timed = _current(_dated(patents, [passage], True), "en", date(2026, 11, 30), 1.0,
                     PARAMS.timeline)  # fmt: skip
    assert timed is not None and "(as of 2019)" in timed.units[0].text
    assert "out of date" in timed.closing


def test_a_count_is_answered_by_a_figure_not_by_a_later_dated_sentence() -> None:
    """For "how many": the latest unit stating a number, not a later dated sentence without
    one ("Tide Motors leaves ... June 2024" is no count of companies)."""
    passage, units = _key_figures()
    dated = _dated(units, [passage], True)
    timed = _current(dated, "en", date(2025, 1, 1), 1.0, PARAMS.timeline, counted=True)
    assert timed is not None and "23 patent applications" in timed.units[0].text
    timed = _current(dated, "en", date(2025, 1, 1), 1.0, PARAMS.timeline)
    assert timed is not None and "Tide Motors" in timed.units[0].text  # not a count: as before


def test_a_status_repeats_no_date_the_unit_states() -> None:
    """A unit that does not say its date (its heading does) is marked "(past, 14 March 2024)";
    one that says it, only "(past)" or "(in programma)": the date is not said twice."""
    _, units = _scored_page("## 14 March 2024\n\nRobotics Night, talks and demos in hall A.")
    night = DateMention("14 March 2024", date(2024, 3, 14), date(2024, 3, 14), "day")
    assert _with_status(units[-1], "past", night, "en").text.endswith("(past, 14 March 2024)")
    said = dataclasses.replace(units[-1], text="Robotics Night – 14 March 2024, talks.")
    assert _with_status(said, "past", night, "en").text.endswith("talks (past)")
    assert _with_status(said, "ahead", night, "it").text.endswith("talks (in programma)")


def test_a_figure_closing_with_its_date_is_not_dated_twice() -> None:
    """A sentence that already ends with its date gets no "(as of ...)" after it; one whose date
    is elsewhere in it does."""
    passage, units = _scored_page(
        "Figures\n\nThe park hosts about 200 events a year (figure from around 2024).\n\n"
        "In 2019 the park hosted 120 events, its record until then."
    )
    timed = _current(_dated(units, [passage]), "en", date(2026, 11, 30), 1.0, PARAMS.timeline)
    assert timed is not None
    assert (
        timed.units[0].text == "The park hosts about 200 events a year (figure from around 2024)."
    )
    assert [u.text for u in timed.older] == [
        "In 2019 the park hosted 120 events, its record until then (as of 2019)"
    ]


def test_a_count_without_a_time_word_needs_a_figure_stated_at_two_dates() -> None:
    """With no time word, the timeline answers only when the figure has a history (or a value
    dated after today, which the normal answer would quote as known): one dated figure less
    relevant than the question's best unit is the normal answer's."""
    passage, units = _key_figures()
    rows = [u for u in units if u.text.startswith("People employed")]
    one = _dated(rows, [passage], True)
    assert _current(one, "en", date(2026, 11, 30), 1.5, PARAMS.timeline, True, True) is None
    # unless that one figure is the question's best unit: the answer says its date
    timed = _current(one, "en", date(2026, 11, 30), 1.0, PARAMS.timeline, True, True)
    assert timed is not None and "(as of 15 March 2026)" in timed.units[0].text
    timed = _current(one, "en", date(2026, 11, 30), 1.0, PARAMS.timeline, True)
    assert timed is not None  # asked with "now", the one dated figure is the answer
    two = _dated([*rows, *[u for u in units if "patent" in u.text]], [passage], True)
    # at 2025-01-01 the March 2026 row is still to come: answered, without it
    timed = _current(two, "en", date(2025, 1, 1), 1.0, PARAMS.timeline, True, True)
    assert timed is not None and "1,310" not in timed.units[0].text


@pytest.mark.parametrize(
    ("question", "implicit"),
    [
        ("How many people work at the park?", True),
        ("How much lab and office space does the park have?", True),
        ("Quanti addetti lavorano nel parco?", True),
        ("How many companies are there now?", False),  # a time word: "now" already
        ("How many companies were there in 2020?", False),
        ("How many people did the open day draw?", False),
        ("How many organisations opened their labs at the open day?", False),
        ("How many start-ups are based in the incubator?", True),
        ("Quante persone hanno partecipato alla giornata?", False),
        ("Quante aziende sono insediate nel parco?", True),
        ("Ogni quanto si tiene la colazione delle start-up?", False),  # how often
        ("What is the phone number of the harbour lab?", False),
        ("Quante aziende c'erano nel 2019?", False),
        ("Where is the car park?", False),
        ("Which companies work on robotics?", False),
        # a simple past: an "-ed" verb before its object or at the end
        ("How many visitors attended the open day?", False),
        ("How many start-ups graduated?", False),
        # not a simple past: a perfect counts to date, an "-ed" adjective precedes a noun
        ("How many patents have the residents filed?", True),
        ("How many funded projects does the park run?", True),
        ("How much money has the park raised since it opened?", True),
        # a duration is the years to today, not a figure
        ("How many years has the park been open?", False),
        ("Da quanti anni è aperto il parco?", False),
    ],
)
def test_a_count_without_a_time_word(question: str, implicit: bool) -> None:
    assert implicit_current(question) is implicit


def test_a_label_and_value_table_has_no_header_row() -> None:
    """Markdown gives every table a header row: a two-column table's first row stating a
    number ("Resident companies | 58") is a unit of its own, dated by its heading; a header
    naming its columns ("Indicator | Value") is still the header."""
    passage, units = _key_figures()
    texts = [u.text for u in units]
    assert "Resident companies: 58" in texts
    dated = {d.unit.text: [m.text for m in d.dates] for d in _dated(units, [passage], True)}
    assert dated["Resident companies: 58"] == ["15 March 2026"]
    headed = Passage(
        id="h", text="P\n\n| Indicator | Value |\n|---|---|\n| Laboratories | 37 |", title="P",
        url="u", source_id="u", language="en", heading="",
    )  # fmt: skip
    rows = split_units(headed, 0)
    assert [u.text for u in rows] == ["Laboratories: 37"] and "Indicator Value" in rows[0].context


@pytest.mark.parametrize(
    ("text", "noun", "expected"),
    [
        ("The park counts 52 companies and 1,150 people.", "peopl", True),
        ("Labs and offices: 36,000 m2", "lab", True),  # a label and its value
        ("Events per year: 150, with over 15,000 participants", "event", True),
        ("Nel 2026 il parco conta 61 aziende e oltre 1.400 addetti.", "addett", True),
        # a number of something else, the noun further on
        ("In 2025, 14 organisations on campus opened their laboratories to visitors.",
         "laboratori", False),
        ("Open Labs 2026: 14 labs open to the public, about 2,300 visitors", "peopl", False),
        ("January 2026: the “Tide LAB 2.0” event on the renewal", "event", False),  # a name
    ],
)  # fmt: skip
def test_a_unit_counts_what_is_asked(text: str, noun: str, expected: bool) -> None:
    """With no time word, a "now" answer reads only the units stating a number of what the
    question counts (its first term after "how many" / "quanti")."""
    assert counts(Unit(0, 0, text, "sentence", -1), noun) is expected


TEAM = """## Anna Rossi – director

- Director of the park since 1 October 2017, after a search of several months.
- She studied engineering in Turin.

## Before her

| Name | Role | Period |
|---|---|---|
| Piero Bianchi | Director | 2009–2016 |
| Carla Verdi | Director of marketing | 2016–2022 |
"""


def test_an_open_period_holds_now_and_a_closed_one_held_until_its_end() -> None:
    """For "who is the director now?", "since 1 October 2017" still holds, so it is newer than the
    row "2016–2022", which ended; the answer names whose state it is (the heading) and dates it
    no further. Before 2017 the open period has not begun, and the row in force then wins."""
    passage, units = _scored_page(TEAM)
    dated = _dated(units, [passage], headed=True, open_periods=True)
    timed = _current(dated, "en", date(2026, 11, 30), 1.0, PARAMS.timeline)
    assert timed is not None
    assert timed.units[0].text == (
        "Anna Rossi – director: Director of the park since 1 October 2017, after a search of "
        "several months."
    )
    assert not timed.closing and not timed.older
    early = _current(dated, "en", date(2015, 6, 1), 1.0, PARAMS.timeline)
    assert early is not None and "Piero Bianchi" in early.units[0].text
    # without the open periods (as before, and for counts) the closed row was the newest
    old = _current(_dated(units, [passage], headed=True), "en", date(2026, 11, 30), 1.0,
                   PARAMS.timeline)  # fmt: skip
    assert old is not None and "Carla Verdi" in old.units[0].text


def test_the_latest_arrival_counts_an_open_period_from_its_start() -> None:
    """For "which is the latest company to arrive?" (``holding`` false): "since 2019" is newer than
    "since 2011", though both still hold."""
    passage, units = _scored_page(
        "Residents\n\nTide Labs has been on the quay since 2011.\n\n"
        "Harbour Bio has been on the quay since 2019."
    )
    dated = _dated(units, [passage], headed=True, open_periods=True)
    timed = _current(dated, "en", date(2026, 11, 30), 1.0, PARAMS.timeline, holding=False)
    assert timed is not None and "Harbour Bio" in timed.units[0].text


LATER = """## Park news

- Robotics Night – 14 March 2024, talks and demos in hall A.
- Companies on site: 58, March 2024
- In March 2024 the partners discussed a new foundation.
- 2024: the east wing is completed.
- Works on the west wing are expected to start in 2027.
- Members since 2025 pay a reduced fee.
- The park employs about 1,200 people.
"""


def test_what_is_reported_after_today_is_not_known_yet() -> None:
    """Seen on 1 June 2023, a figure, a fact dated by a year and a report in a past tense, all
    dated later, are not known yet; an event to come, a plan, an open start and an undated
    unit are. On the day after March 2024 begins, all are known."""
    passage, units = _scored_page(LATER)
    mentions = find_dates(passage.text)
    later = [u.text for u in units if stated_later(u, mentions, date(2023, 6, 1))]
    assert later == [
        "Companies on site: 58, March 2024",
        "In March 2024 the partners discussed a new foundation.",
        "2024: the east wing is completed.",
    ]
    assert not [u for u in units if stated_later(u, mentions, date(2024, 3, 2))]
    # asked whether something is past or to come, a unit with an event's date stays (marked)
    kept = [u.text for u in units if stated_later(u, mentions, date(2023, 6, 1), True)]
    assert kept == ["2024: the east wing is completed."]


def test_a_normal_answer_leaves_out_what_is_not_known_yet() -> None:
    """``drop_later`` takes the later units out of the quoted groups, and leaves a selection
    that would be left empty whole."""
    passage, units = _scored_page(LATER)
    items = [u for u in units if u.kind == "item"]
    selection = Selection(groups=[(0, "", items)], best_score=1.0, language="en")
    drop_later(selection, [passage], date(2023, 6, 1))
    assert [u.text for u in selection.groups[0][2]] == [
        u.text for u in items if "58" not in u.text and "discussed" not in u.text
        and "completed" not in u.text
    ]  # fmt: skip
    only_later = [u for u in items if "58" in u.text]
    selection = Selection(groups=[(0, "", only_later)], best_score=1.0, language="en")
    drop_later(selection, [passage], date(2023, 6, 1))
    assert selection.groups == [(0, "", only_later)]


def test_a_clause_reporting_what_came_later_is_left_out() -> None:
    """ "About 600 people worked here in 2010; about 700 in 2015" seen in 2012 says the first
    clause only, in a "now" answer and in a normal one; seen in 2016, both."""
    passage, units = _scored_page(
        "Staff\n\nAbout 600 people worked here in 2010; about 700 in 2015.\n\n"
        "The park opened in 2009 on the east quay."
    )
    staff = [u for u in units if "600" in u.text]
    timed = _current(_dated(staff, [passage]), "en", date(2012, 1, 1), 1.0, PARAMS.timeline)
    assert timed is not None
    assert timed.units[0].text == "About 600 people worked here in 2010"  # its date said once
    selection = Selection(groups=[(0, "", staff)], best_score=1.0, language="en")
    drop_later(selection, [passage], date(2012, 1, 1))
    assert [u.text for u in selection.groups[0][2]] == ["About 600 people worked here in 2010"]
    drop_later(selection := Selection([(0, "", staff)], 1.0, "en"), [passage], date(2016, 1, 1))
    assert selection.groups[0][2] == staff


def test_a_calendar_question_with_no_topic_word_reads_every_event() -> None:
    """ "Cosa c'è il mese prossimo?" shares no word with an events page: every event answers
    it, so the answer says none is announced for the month and names the latest held, a day's
    event, not the page's stamp nor a bare date line (before, no unit scored and the question
    was declined).
    "Anything coming up?" asks for the calendar too."""
    text = f"{EVENTS}\n20 November 2026\n\nThis page was last reviewed in November 2026.\n"
    passage = Passage(
        id="e", text=text, title="Events", url="u", source_id="u", language="en",
        heading="", dates=encode(find_dates(text)),
    )  # fmt: skip
    question = "Cosa c'è il mese prossimo?"
    timed = answer(question, [passage], "it", TermStats([EVENTS]), None, date(2026, 11, 30))
    assert timed is not None and timed.opening.startswith("Nelle fonti non è annunciato")
    assert [u.text for u in timed.units] == [
        "Materials Summit – 12-14 May 2026, three days of conferences on advanced materials "
        "(già passato)"
    ]
    assert asks_calendar("Anything coming up at the park that the public can attend?")
    assert not asks_calendar("Will the car park be free?")


WING = """## The building

The 2015 plan described 30 labs on 3,000 m2. At the move the press spoke of 4,000 m2; today the foundation states 4,800 m2.

## Milestones

| Date | Event |
|---|---|
| March 2016 | Move to the harbour campus |
| June 2021 | A second wing with 12 more labs |
"""


def test_a_clause_stating_its_page_s_present_is_not_known_before_the_page() -> None:
    """ "Today the foundation states 4,800 m2" speaks as of when its page was written, after
    the second wing of June 2021 it reports: seen in 2017, the answer says the 4,000 m2 of the
    move and not the 4,800; seen in 2022, both (before, "today" was read as the asker's)."""
    passage, units = _scored_page(WING)
    move = [u for u in units if "4,800" in u.text]
    assert reports_later(passage, 0, date(2017, 1, 1))
    assert not reports_later(passage, 0, date(2022, 1, 1))
    selection = Selection(groups=[(0, "", move)], best_score=1.0, language="en")
    drop_later(selection, [passage], date(2017, 1, 1))
    assert [u.text for u in selection.groups[0][2]] == ["At the move the press spoke of 4,000 m2"]
    drop_later(selection := Selection([(0, "", move)], 1.0, "en"), [passage], date(2022, 1, 1))
    assert selection.groups[0][2] == move
    # "al momento del trasloco" is the time of the move, no present: that clause stays
    passage, units = _scored_page(
        WING.replace(
            "At the move the press spoke of 4,000 m2; today the foundation states 4,800 m2.",
            "Al momento del trasloco si parlava di 4.000 m2; oggi la fondazione indica 4.800 m2.",
        )
    )
    move = [u for u in units if "4.800" in u.text]
    drop_later(selection := Selection([(0, "", move)], 1.0, "it"), [passage], date(2017, 1, 1))
    assert [u.text for u in selection.groups[0][2]] == [
        "Al momento del trasloco si parlava di 4.000 m2"
    ]


def test_an_event_to_come_does_not_date_its_page() -> None:
    """A page announcing an event still to come was not written after it: its "today" is
    today's."""
    text = "## Open day\n\nOpen day – 12 December 2026, guided tours.\n\nToday the park hosts 40 companies."
    passage, units = _scored_page(text)
    assert not reports_later(passage, 0, date(2026, 11, 30))
    selection = Selection(groups=[(0, "", units)], best_score=1.0, language="en")
    drop_later(selection, [passage], date(2026, 11, 30))
    assert selection.groups[0][2] == units


def test_a_report_told_in_the_past_is_dated_by_its_point_not_by_its_deadline() -> None:
    """ "In September 2023 the partners signed an agreement running until 2027" is a report
    of September 2023, not known in June 2023 though it names a deadline; a plan with a
    deadline alone ("works are expected to end by 2027") may be known before it."""
    passage, units = _scored_page(
        "## Expansion\n\nIn September 2023 the partners signed an agreement running until 2027."
        "\n\nNel settembre 2023 i soci hanno concordato un investimento fino al 2027.\n\n"
        "Works are expected to end by 2027."
    )
    mentions = find_dates(passage.text)
    later = [u.text for u in units if stated_later(u, mentions, date(2023, 6, 1))]
    assert later == [
        "In September 2023 the partners signed an agreement running until 2027.",
        "Nel settembre 2023 i soci hanno concordato un investimento fino al 2027.",
    ]
    assert not [u for u in units if stated_later(u, mentions, date(2023, 10, 1))]


@pytest.mark.parametrize(
    ("question", "page"),
    [
        (
            "Until when will the expansion last?",
            "## Expansion\n\nThe expansion runs from 2023 to 2027.\n\n"
            "The expansion site opens to visitors on 12 December 2026.",
        ),
        (
            "Fino a quando durerà l'ampliamento?",
            "## Ampliamento\n\nL'ampliamento va dal 2023 al 2027.\n\n"
            "Il cantiere dell'ampliamento apre ai visitatori il 12 dicembre 2026.",
        ),
        (
            "Entro quando finirà l'ampliamento?",
            "## Ampliamento\n\nL'ampliamento va dal 2023 al 2027.\n\n"
            "Il cantiere dell'ampliamento apre ai visitatori il 12 dicembre 2026.",
        ),
    ],
)
def test_a_question_asking_for_a_date_gets_the_normal_answer(question: str, page: str) -> None:
    """ "Until when will X last?", "fino a quando durerà X?" ask for one thing's date, as "when
    will X?" does: the normal answer with its dates marked, not the list of coming events
    (which gave the visitors' day and left out the period of years, "2023–2027", as no
    event)."""
    passage, _ = _scored_page(page)
    assert time_intent(question) == "upcoming"
    timed = answer(question, [passage], "en", TermStats([passage.text]), None, date(2026, 12, 1))
    assert timed is None


SERIES = """## The park in short

| Item | Value | Year |
|---|---|---|
| Jobs on site | about 800 → about 1,200 | 2019 → March 2025 |
| Labs | 14 | 2024 |
"""


def test_a_series_written_with_arrows_pairs_each_value_with_its_date() -> None:
    """ "Jobs on site | about 800 → about 1,200 | 2019 → March 2025": seen in 2021 the figure
    is the 800 of 2019 (before, the row was dated by its last date and set aside as speaking of
    what came later); seen in 2026, the 1,200 of March 2025, with the 800 as the earlier
    figure."""
    passage, units = _scored_page(SERIES)
    jobs = [d for d in _dated(units, [passage]) if "Jobs" in d.unit.text]
    split = [step for d in jobs for step in steps(d)]
    assert [(s.unit.text, [m.text for m in s.dates]) for s in split] == [
        ("Jobs on site: about 800, 2019", ["2019"]),
        ("Jobs on site: about 1,200, March 2025", ["March 2025"]),
    ]
    early = _current(split, "en", date(2021, 1, 1), 1.0, PARAMS.timeline, counted=True)
    assert early is not None and early.units[0].text == "Jobs on site: about 800, 2019"
    late = _current(split, "en", date(2026, 1, 1), 1.0, PARAMS.timeline, counted=True)
    assert late is not None and late.units[0].text == "Jobs on site: about 1,200, March 2025"
    assert [u.text for u in late.older] == ["Jobs on site: about 800, 2019"]
    labs = [d for d in _dated(units, [passage]) if "Labs" in d.unit.text]
    assert steps(labs[0]) == labs  # no series: the unit as it is


def test_the_events_held_in_a_year_the_question_names() -> None:
    """ "What events took place at the park in 2024?" lists the events held in 2024 only (before,
    a past question asking "what events" was no list, and a year it named was no period);
    a question with a date that asks for no list of events keeps its normal answer."""
    passage, _ = _scored_page(EVENTS)
    stats = TermStats([passage.text])
    question = "What events took place at the park in 2024?"
    timed = answer(question, [passage], "en", stats, None, date(2026, 12, 1))
    assert timed is not None and timed.opening.startswith("Already held, 2024")
    assert [u.text.split(" – ")[0] for u in timed.units] == ["Robotics Night"]
    assert (
        window("How large will the complex announced in January 2026 be?", date(2025, 1, 1)) is None
    )


QUAY_FAQ = """## Questions about the quay

- How many companies are on the quay?
- In January 2026 the quay hosted 64 companies, with about 1,500 people at work. In 2021 there were 40 companies and in 2024 there were 57.
"""


def test_each_figure_of_an_item_is_dated_by_its_own_sentence() -> None:
    """An answer item of two sentences, one per date: seen in March 2025 the latest figure is
    the 57 of 2024 (before, the item was as new as January 2026, and its 64 was quoted as known);
    seen in December 2026 the 64 of January 2026, the older sentence among the earlier figures."""
    passage = Passage(
        id="q", text=f"Quay FAQ\n\n{QUAY_FAQ}", title="Quay FAQ", url="u", source_id="u",
        language="en", heading="", dates=encode(find_dates(QUAY_FAQ)),
    )  # fmt: skip
    question, stats = "How many companies are on the quay now?", TermStats([passage.text])
    early = answer(question, [passage], "en", stats, None, date(2025, 3, 1))
    assert early is not None and "57" in early.units[0].text and "64" not in early.units[0].text
    late = answer(question, [passage], "en", stats, None, date(2026, 12, 1))
    assert late is not None and late.units[0].text.startswith("In January 2026 the quay hosted 64")
    assert "2024 there were 57" not in late.units[0].text and "57" in late.older[0].text


HARBOUR_PEOPLE = """## Marta Neri – director

- Director of the harbour park since 1 March 2019, after ten years at the port authority.
- She studied physics in Genoa.

## Earlier managers

| Name | Role | Period |
|---|---|---|
| Piero Bianchi | Director of the harbour park | 2009–2019 |
| Carla Verdi | Director of marketing | 2016–2022 |
"""

CONSORZIO = """## La sede

La nuova sede sulla banchina ha aperto nel 2016. All'apertura hanno partecipato il presidente del Consorzio Porto Nuovo Marco Gialli e il sindaco Anna Blu.

## Progetti

Nel marzo 2025, al forum del porto, la presidente Lucia Rosa ha presentato il piano delle nuove banchine.

Nel maggio 2025 il Presidente della Repubblica Paolo Verdi ha visitato la sede.
"""


def _page(text: str, title: str, language: str) -> Passage:
    return Passage(
        id=title, text=f"{title}\n\n{text}", title=title, url=title, source_id=title,
        language=language, heading="", dates=encode(find_dates(text)),
    )  # fmt: skip


def _role_answer(question: str, passage: Passage, today: str) -> list[str] | None:
    timed = answer(question, [passage], passage.language, TermStats([passage.text]), None,
                   date.fromisoformat(today))  # fmt: skip
    return None if timed is None else [u.text for u in [*timed.units, *timed.older]]


def test_who_holds_a_role_is_a_unit_stating_a_holder_named_by_its_heading() -> None:
    """ "Who is the director of X?" (no time word) is answered by the unit stating a holder of
    the role: the open period, led by the heading that names her, the earlier holder after it
    as former; a director of something else ("of marketing") is none. Before 2019 the row in
    force then (before, no time-aware answer: the normal one quoted the unnamed line)."""
    people = _page(HARBOUR_PEOPLE, "People of the harbour park", "en")
    now = _role_answer("Who is the director of the harbour park?", people, "2026-12-01")
    assert now == [
        "Marta Neri – director: Director of the harbour park since 1 March 2019, after ten "
        "years at the port authority.",
        "Piero Bianchi: Director of the harbour park, 2009–2019",
    ]
    early = _role_answer("Who's the director of the harbour park?", people, "2015-03-01")
    assert early == ["Piero Bianchi: Director of the harbour park, 2009–2019"]


def test_who_holds_a_role_now_is_not_the_latest_unit_mentioning_the_organisation() -> None:
    """ "Chi è oggi il presidente di X?": the latest unit stating a president of X (the report
    of March 2025, "la presidente Lucia Rosa"), the undated earlier one as former; not the
    President of the Republic's later visit, which the latest dated unit gave before. Asked
    in 2024, the report of 2025 is not known yet. A verb of leading asks the same."""
    page = _page(CONSORZIO, "Consorzio Porto Nuovo", "it")
    for question in ("Chi è oggi il presidente del Consorzio Porto Nuovo?",
                     "Chi guida oggi il Consorzio Porto Nuovo?"):  # fmt: skip
        now = _role_answer(question, page, "2026-12-01")
        assert now is not None and "Lucia Rosa" in now[0] and "Marco Gialli" in now[1]
        assert not any("Repubblica" in text for text in now)
        before = _role_answer(question, page, "2024-06-01")
        assert before is not None and "Marco Gialli" in before[0]
        assert not any("Lucia Rosa" in text for text in before)


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("Who's the director of the district?", True),
        ("Chi è il direttore dell'Istituto Mario Negri?", True),
        ("Chi è l'attuale direttrice del museo?", True),
        ("Who leads the consortium now?", True),
        ("Chi guida il distretto?", False),  # a verb of leading with no time word
        ("Who is the contact person for the press?", False),
        ("Who owns the building?", False),
        ("What is the director's phone number?", False),
    ],
)
def test_the_grammar_of_a_role_question(question: str, asked: bool) -> None:
    assert (role_asked(question) is not None) is asked


def test_a_piece_cut_at_an_abbreviation_is_no_sentence_of_its_own() -> None:
    """ "580 (2021); 650 (c. 2022)" is cut by the sentence splitter after "c.": the piece
    "2022)" stays with the sentence before it, so the item is one series, not two figures."""
    text = "- Patents filed to date: 580 (2021); 650 (c. 2022)"
    passage, units = _scored_page(text)
    dated = _dated(units, [passage])
    assert [[u.unit.text for u in own_sentences(d)] for d in dated] == [
        ["Patents filed to date: 580 (2021); 650 (c. 2022)"]
    ]


BOARD = """## The board

Paola Ferri has chaired the Harbour Consortium for two terms; she was re-elected at the last
assembly.

## People who shaped the park

| Name | Roles |
|---|---|
| Giulio Sarti | President of the Harbour Consortium in 2004; later director of the port museum |
"""

MOLO = """## Chi guida il consorzio

Dal 2020 il Consorzio del Molo è guidato da Paola Ferri.

Dal 2019 il direttore del consorzio è Luca Bassi.

## Notizie

Nel 2023 Marco Neri, ex presidente del Consorzio del Molo, ha aperto la mostra sul porto.
"""


def test_a_holder_whose_period_is_closed_is_not_the_current_one() -> None:
    """ "President of X in 2004; later director of Y" is a former holder: the holder
    stated by a verb ("has chaired X", undated) is the current one, the former after it. In
    Italian, "è guidato da" states a holder with its open period, and the "ex presidente" of
    2023 is former. On main the verb stated no holder and the later dated former one won."""
    board = _page(BOARD, "Harbour Consortium", "en")
    now = _role_answer("Who currently chairs the Harbour Consortium?", board, "2026-12-01")
    assert now is not None and "Paola Ferri" in now[0]
    assert len(now) == 2 and "Giulio Sarti" in now[1]
    molo = _page(MOLO, "Consorzio del Molo", "it")
    now = _role_answer("Chi guida oggi il Consorzio del Molo?", molo, "2026-12-01")
    assert now is not None and "Paola Ferri" in now[0]
    assert not any("Marco Neri" in text for text in now[:2])


def test_who_leads_asks_for_each_head() -> None:
    """ "Chi guida oggi X?" (a verb of leading in general) asks for each head stated: the
    president and the director; "chi presiede" for the president only (not the director)."""
    molo = _page(MOLO, "Consorzio del Molo", "it")
    leads = _role_answer("Chi guida oggi il Consorzio del Molo?", molo, "2026-12-01")
    assert leads is not None and "Paola Ferri" in " ".join(leads[:2])
    assert "Luca Bassi" in " ".join(leads[:2])
    chair = _role_answer("Chi presiede oggi il Consorzio del Molo?", molo, "2026-12-01")
    assert chair is None or not any("Luca Bassi" in text for text in chair)


QUAY_FIGURES = """## The quay in figures

- In March 2024 the quay hosted 58 companies in its warehouses.
- In 2025 the founding family held about 90% of the shares of the quay's managing company.

## The visitor centre

- The visitor centre opened in 2015 with 1,200 m² of halls.
- In 2023 the visitor centre grew to 1,800 m².
- In 2024 the visitor centre moved its entrance to the quay side.
"""


def _now_answer(question: str, today: str, similarity=None) -> list[str] | None:  # noqa: ANN001
    passage = _page(QUAY_FIGURES, "The quay", "en")
    timed = answer(question, [passage], "en", TermStats([passage.text]), similarity,
                   date.fromisoformat(today))  # fmt: skip
    return None if timed is None else [u.text for u in timed.units]


def test_a_now_figure_measures_what_is_asked() -> None:
    """ "How many companies ... now?": the latest number of companies, not the later share
    held by a family; "how big ... today?": the latest figure with an area's unit, not the
    later dated move of its entrance (main gave both later units)."""
    companies = _now_answer("How many companies are there on the quay now?", "2026-12-01")
    assert companies is not None and "58 companies" in companies[0]
    size = _now_answer("How big is the visitor centre today?", "2026-12-01")
    assert size is not None and "1,800 m²" in size[0]


def test_a_counted_word_in_other_words_is_matched_by_meaning(embeddings) -> None:  # noqa: ANN001
    """ "How many labs ...?" is answered by "laboratories" (e5 closeness of the short phrases),
    and not by a number of people or of square metres."""

    def similarity(query: str, texts: list[str]) -> list[float]:
        q = embeddings.embed_query(query)
        vectors = embeddings.embed_documents(list(texts))
        return [sum(a * b for a, b in zip(q, v, strict=True)) for v in vectors]

    text = (
        "## Research on the quay\n\n- In 2022 the quay counted 37 laboratories.\n"
        "- In 2024 about 900 people worked on the quay.\n- In 2025 the quay added 3,000 m² of offices."
    )
    passage = _page(text, "The quay", "en")
    timed = answer("How many labs are there on the quay now?", [passage], "en",
                   TermStats([passage.text]), similarity, date(2026, 12, 1))  # fmt: skip
    assert timed is not None and "37 laboratories" in timed.units[0].text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("In 2025 the family held about 90% of the shares of the quay's company.", []),
        ("In 2023 the quay invested 12 million euro over 4 years.", []),
        ("In 2024 the quay hosted 58 companies in its warehouses.", ["companies"]),
        ("In 2015 about 700 of the port's employees worked there.", ["port's employees worked"]),
        ("June 2024: 61, after the east wing opened", [""]),
        ("Nel 2022 le imprese erano 40 e nel 2024 44", ["", ""]),
        ("People on the quay: about 900, 2024", ["People on the quay"]),
        ("May 2026: the “Quay Lab 2.0” day opens the new hall.", []),
    ],
)
def test_the_counts_a_unit_states(text: str, words: list[str]) -> None:
    """Each count as its own words (a bare value has none, a labelled one its label's); a
    share, a sum, a duration and a date are no counts."""
    unit = Unit(0, 0, text, "sentence", 0, "", "")
    assert _count_words(_Dated(unit, find_dates(text))) == words
