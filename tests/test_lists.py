"""List and count answers on hand-made pages of an imaginary craft school: a question asking for
several things gets the whole list its heading names, not the page's menu or timeline; a count
question leads with the figure of what it counts."""

from __future__ import annotations

from support.passages import page as support_page

from assistant.compose import compose
from assistant.extractive import asked_kind, asks_for_several, counts, select
from assistant.terms import TermStats
from assistant.units import split_units
from vectorstore.passages import Passage


def page(n: int, title: str, body: str, language: str = "en") -> Passage:
    """A page of this file's imaginary site."""
    return support_page(n, title, body, language, host="school.example")


def answer(question: str, passages: list[Passage], language: str = "en") -> str:
    selection = select(question, passages, language, TermStats(p.text for p in passages))
    assert selection is not None
    return compose(selection, passages, language)[0]


STUDIOS = page(
    1,
    "Teaching",
    (
        "To let the crafts learn from each other, the school organises its teaching into "
        "studios.\n\n"
        "## The studios\n\n"
        "- Ceramics\n- Weaving\n- Glassblowing\n- Printmaking\n- Woodturning\n\n"
        "## Opening hours\n\n"
        "The studios open at nine."
    ),
)
LABORATORI = page(
    2,
    "Didattica",
    (
        "Il laboratorio tessile conserva telai del Settecento.\n\n"
        "## I laboratori\n\n"
        "- Ceramica\n- Tessitura\n- Vetro soffiato\n- Stampa d'arte\n"
    ),
    language="it",
)
WORKSHOP = page(
    3,
    "The loom workshop",
    (
        "## In this section\n\n"
        "- Our story – from the first loom to the new wing\n"
        "- Visiting the loom workshop\n- Contacts\n\n"
        "## Milestones\n\n"
        "- 1998: the loom workshop opens in the old mill\n"
        "- 2004: a second room is added\n"
        "- 2019: the workshop moves to the new wing\n\n"
        "The firms funding the loom workshop directly are Alder Mills and Birch Yarns."
    ),
)
RESEARCH = page(
    6,
    "Research at the school",
    (
        "Research partners in the school's labs – the Lake Institute for Ceramics Conservation "
        "(since 2001), the Hill University, the Glass Museum and the Dye Archive.\n\n"
        "## Research areas\n\n"
        "- ancient glazes\n- natural dyes\n- furnace design\n"
    ),
)
MEMBERS = page(
    7,
    "The guild",
    (
        "The guild was founded in 1990 by 12 workshops.\n\n"
        "## Members over the years\n\n"
        "| Year | Member workshops |\n|---|---|\n| 1990 | 12 |\n| 2024 | 31 |\n"
    ),
)
CAMPUS = page(
    4,
    "The campus",
    (
        "The campus buildings hold a hall of 2,000 m² for the annual buildings fair.\n\n"
        "Visitors park next to the buildings on the east side.\n\n"
        "Since 2015 the campus has had four buildings, the last one a glass pavilion."
    ),
)


def test_questions_asking_for_several_things_of_one_kind() -> None:
    for question in (
        "What craft studios is the school organised into?",
        "Which research areas does the institute work on?",
        "Which start-ups are on campus?",
        "Che laboratori sono attivi nella scuola?",
        "Quali sono i laboratori?",
    ):
        assert asks_for_several(question), question
    for question in (
        "What time does the school open?",
        "What is the address?",
        "What year was the school founded?",
        "Che cosa fa la scuola?",
        "What does the ceramics studio make?",
    ):
        assert not asks_for_several(question), question


def test_the_list_after_the_sentence_introducing_it_is_quoted_whole() -> None:
    """The best sentence says the teaching is organised into studios; the list of studios
    follows under its own heading: the answer is the sentence and the whole list."""
    text = answer("What craft studios is the school organised into?", [STUDIOS])
    assert "organises its teaching into studios" in text
    for studio in ("Ceramics", "Weaving", "Glassblowing", "Printmaking", "Woodturning"):
        assert f"- {studio}" in text


def test_an_italian_question_with_a_plural_subject_gets_the_list() -> None:
    text = answer("Che laboratori sono attivi nella scuola?", [LABORATORI], "it")
    for name in ("Ceramica", "Tessitura", "Vetro soffiato", "Stampa d'arte"):
        assert f"- {name}" in text


def test_a_list_whose_heading_names_nothing_asked_is_not_quoted() -> None:
    """The page's menu and its timeline name the workshop the question names, but neither
    heading says what is asked (the firms): the sentence naming the firms answers."""
    text = answer("Which firms fund the loom workshop?", [WORKSHOP])
    assert "Alder Mills and Birch Yarns" in text
    assert "1998" not in text and "Contacts" not in text


def test_a_count_question_leads_with_the_figure_of_what_it_counts() -> None:
    """Two sentences name the buildings more often, with other figures (an area, a year);
    the one giving the number of buildings leads."""
    text = answer("How many buildings does the campus have?", [CAMPUS])
    assert text.startswith("Since 2015 the campus has had four buildings")


def test_a_figure_counts_the_thing_it_precedes_only() -> None:
    unit = split_units(CAMPUS, 0)
    assert [counts(u, "build") for u in unit] == [False, False, True]
    part = split_units(page(5, "Studios", "Two of the studios are new."), 0)
    assert not counts(part[0], "studio")


def test_a_sentence_naming_the_plural_asked_wins_over_a_list_sharing_a_word() -> None:
    """ "Which research partners ...": the list headed "Research areas" shares a word with
    the question but lists areas, not partners; the best sentence holds "partners" and names
    several: it answers."""
    assert asked_kind("Which research partners work in the labs?") == {"partner"}
    text = answer("Which research partners work in the labs?", [RESEARCH])
    assert "the Hill University, the Glass Museum" in text and "furnace" not in text


def test_a_table_row_under_a_header_naming_what_is_counted_counts_it() -> None:
    rows = [u for u in split_units(MEMBERS, 0) if u.kind == "row"]
    assert [u.text for u in rows] == ["1990: 12", "2024: 31"]
    assert all(counts(u, "workshop") for u in rows)
    assert not any(counts(u, "member") for u in split_units(RESEARCH, 0))


def test_a_table_row_holding_the_plural_asked_does_not_replace_its_table() -> None:
    builders = page(
        8,
        "Architecture",
        (
            "## Who designed the school\n\n"
            "| Building | Architects |\n|---|---|\n"
            "| Main hall | Rossi Studio, 1998 |\n"
            "| Glass wing | Lake & Hill, 2019 |\n"
            "| Kiln house | Ash, Birch, Cole, named among the school's architects |\n"
        ),
    )
    text = answer("Which architects designed the school?", [builders])
    assert "Rossi Studio" in text and "Lake & Hill" in text and "Kiln house" in text
