"""Counting a list: "how many X?" that no sentence answers with a figure is answered with the
number of items of the list of X the sources give, and the list itself (hand-made pages)."""

from __future__ import annotations

from support.passages import page as support_page

from assistant.compose import compose
from assistant.extractive import asks_count, select
from assistant.terms import TermStats
from vectorstore.passages import Passage


def page(n: int, title: str, body: str, language: str = "en") -> Passage:
    """A page of this file's imaginary site."""
    return support_page(n, title, body, language, host="park.example")


CENTRES = page(
    1,
    "Research centres",
    (
        "Our research centres work with the resident companies on joint projects.\n\n"
        "## The research centres\n\n"
        "- Centre for Marine Robotics\n- Soil and Water Laboratory\n- Photonics Institute\n"
        "- Centre for Food Safety\n- Polymer Lab\n"
    ),
)
CENTRI = page(
    2,
    "Centri di ricerca",
    (
        "I nostri centri di ricerca lavorano con le aziende del parco su progetti comuni.\n\n"
        "## I centri di ricerca\n\n"
        "- Centro di robotica marina\n- Laboratorio suolo e acque\n- Istituto di fotonica\n"
        "- Centro per la sicurezza alimentare\n- Laboratorio dei polimeri\n"
    ),
    language="it",
)
STATED = page(
    3,
    "Research centres",
    (
        "The park hosts 12 research centres, five of them listed below.\n\n"
        "## Some research centres\n\n"
        "- Centre for Marine Robotics\n- Soil and Water Laboratory\n- Photonics Institute\n"
    ),
)
CAFES = page(
    4,
    "Where to eat",
    "Lunch on campus.\n\n## Cafés\n\n- Blue Café\n- Red Bistro\n- Garden Bar\n",
)


def test_how_many_counts_the_list_and_gives_it() -> None:
    for question, source, lang, opening in (
        ("How many research centres are there?", CENTRES, "en", "The sources list 5:"),
        ("Quanti sono i centri di ricerca?", CENTRI, "it", "Le fonti ne elencano 5:"),
    ):
        selection = select(question, [source, CAFES], lang, TermStats([source.text, CAFES.text]))
        assert selection is not None and selection.count == 5
        text, _ = compose(selection, [source, CAFES], lang)
        assert text.startswith(opening)
        assert "Polymer Lab" in text or "Laboratorio dei polimeri" in text


def test_a_stated_figure_wins_over_counting_a_partial_list() -> None:
    selection = select(
        "How many research centres are there?", [STATED], "en", TermStats([STATED.text])
    )
    assert selection is not None and selection.count == 0
    text, _ = compose(selection, [STATED], "en")
    assert "12 research centres" in text and "The sources list" not in text


def test_a_part_of_the_whole_is_not_the_figure_asked() -> None:
    """ "Two of the research centres ..." counts a part: the list is counted."""
    part = page(
        5,
        "Research centres",
        CENTRES.text.split("\n\n", 1)[1].replace(
            "Our research centres work", "Two of the research centres work"
        ),
    )
    selection = select("How many research centres are there?", [part], "en", TermStats([part.text]))
    assert selection is not None and selection.count == 5


def test_the_list_on_a_page_in_the_other_language_only_is_counted() -> None:
    """An Italian question whose Italian pages state no figure and hold no such list: the
    English list is counted, and the answer says its source is in English."""
    about = page(6, "Ricerca", "I centri di ricerca del parco lavorano con le aziende.", "it")
    passages = [about, CENTRES]
    selection = select(
        "Quanti sono i centri di ricerca?", passages, "it", TermStats(p.text for p in passages)
    )
    assert selection is not None and selection.count == 5 and selection.language == "en"
    text, _ = compose(selection, passages, "it")
    assert "Le fonti ne elencano 5:" in text and "Polymer Lab" in text


def test_a_list_of_something_else_is_not_counted() -> None:
    selection = select("How many car parks are there?", [CAFES], "en", TermStats([CAFES.text]))
    assert selection is None or selection.count == 0
    assert asks_count("Quante aziende ci sono?") and not asks_count("Quanto costa?")
