"""Questions in several parts and follow-ups on hand-made pages of an imaginary craft school: a
part about who answered the part before is answered with that person's page, a statement
before a question naming its own subject is no part of it, a follow-up is answered by what it
asks rather than by the earlier turn's words, a list written as one sentence under a heading
naming what is asked is the list, the time-aware answer leaves questions of several
parts and the sums of planned things to the selector, a follow-up's "he" that only the last
answer named is that person, and a question comparing two things is answered for each."""

from __future__ import annotations

from datetime import date

from support.passages import page as support_page

from assistant import timeline
from assistant.compose import compose
from assistant.conversation import question_parts, question_pieces, reply_names
from assistant.extractive import asked_first, select
from assistant.schema import Turn
from assistant.terms import TermStats, terms
from assistant.units import split_units
from ingest.dates import encode, find_dates
from vectorstore.passages import Passage


def page(n: int, title: str, body: str, language: str = "en") -> Passage:
    """A page of this file's imaginary site."""
    return support_page(n, title, body, language, host="school.example")


def answer(question: str, passages: list[Passage], context: str = "") -> str:
    selection = select(question, passages, "en", TermStats(p.text for p in passages), context)
    assert selection is not None
    return compose(selection, passages, "en")[0]


GUILD = page(
    1,
    "The weaving guild",
    (
        "The weaving guild brings together the workshops of the valley.\n\n"
        "Its first head was Tobias Reed, who at the same time taught at the school.\n\n"
        "Before the school opened, the guild worked from a barn in the village."
    ),
)
PEOPLE = page(
    2,
    "People",
    (
        "From 1980 to 1990 Tobias Reed ran the looms of the Harbour Mill in Dunmore.\n\n"
        "Volunteers look after the gardens of the school."
    ),
)
THEMES = page(
    4,
    "Press sheet",
    (
        "## Workshop themes\n\n"
        "Glazing; Kiln firing; Raku; Slip casting; Natural dyes.\n\n"
        "## Visiting\n\n"
        "The workshops open to the public one Saturday a month."
    ),
)
THEME_NEWS = page(
    5,
    "A national workshop network",
    (
        "## The ceramics workshop theme\n\n"
        "The school co-founded, with the Lake Institute, the Hill University and the Glass "
        "Museum, the national workshop network on ceramics themes."
    ),
)


def test_a_part_about_who_answered_the_part_before_is_answered_with_their_page() -> None:
    """ "he" is the first head, named by the first part's answer: the second part is answered
    with what the page about him says, not with the guild's own past."""
    text = answer(
        "Who was the first head of the weaving guild, and where was he working before he came "
        "to the school?",
        [GUILD, PEOPLE],
    )
    assert "Tobias Reed" in text
    assert "Harbour Mill" in text


def test_a_statement_before_a_question_naming_its_own_subject_is_no_part_of_it() -> None:
    pieces = question_pieces(
        "The loom room comes from the guild and the school. When was the guild founded, and "
        "how much went into the loom room in 2020?"
    )
    assert pieces == [
        ("When was the guild founded", ""),
        ("how much went into the loom room in 2020?", ""),
    ]
    # a question leaning on the statement ("that institute") keeps it
    assert question_parts(
        "The hall sits behind an institute. How big is that institute? And when did the "
        "Glass Museum open?"
    ) == [
        "The hall sits behind an institute. How big is that institute?",
        "And when did the Glass Museum open?",
    ]
    # a part with a pronoun and no name of its own leans on the parts before it
    assert question_pieces("When did Acme Robotics move in and which group does it belong to?")[
        1
    ] == ("Acme Robotics which group does it belong to?", "which group does it belong to?")


def test_a_list_written_as_one_sentence_under_a_heading_naming_what_is_asked() -> None:
    """The best unit names several things of another kind (the network's founders); the
    sentence under the heading "Workshop themes" lists the themes asked for."""
    text = answer("What are the workshop themes at the school?", [THEME_NEWS, THEMES])
    assert "Glazing; Kiln firing; Raku" in text


def test_the_time_aware_answer_leaves_parts_and_planned_sums_to_the_selector() -> None:
    assert timeline.answers("When is the next open day?")
    assert timeline.answers("How many events are planned?")
    assert not timeline.answers("Which institute is the hall behind? And how big is it today?")
    # a planned sum is not asked of the events to come: either the planning participle is no
    # marker of them (time_intent, since now12) or the timeline leaves the question
    for planned in (
        "How much is the investment planned until 2027?",
        "E l'investimento previsto fino al 2027 quant'è?",
    ):
        assert not (timeline.answers(planned) and timeline.time_intent(planned) == "upcoming")


def dated_page(n: int, title: str, body: str) -> Passage:
    """A page of this file's imaginary site with the dates ingest would keep with it."""
    passage = page(n, title, body)
    return passage.model_copy(update={"dates": encode(find_dates(passage.text))})


STAFF = dated_page(
    6,
    "Staff",
    "## Anna Rossi – director\n\n"
    "Director of the school and of its campus since 1 October 2017, after a move from the city.",
)
MUSEUM = dated_page(
    7,
    "The Glass Museum",
    (
        "The Glass Museum moved to the campus in July 2010, into the old rope works.\n\n"
        "## Dates\n\n"
        "| Date | Event |\n"
        "|---|---|\n"
        "| July 2010 | Move to the campus |\n"
        "| July 2018 | Marta Lenz, head of the collections, becomes director of the museum |"
    ),
)


def test_a_now_follow_up_is_answered_about_the_subject_of_the_earlier_turn() -> None:
    """ "And who is the director now?" after a question about the museum's move asks who
    directs the museum: the school's director, in office since 2017 (an open period, so the
    newest state), is someone else's."""
    passages = [STAFF, MUSEUM]

    def ask(context: str = "") -> timeline.Timed | None:
        return timeline.answer(
            "And who is the director now?",
            passages,
            "en",
            TermStats(p.text for p in passages),
            None,
            date(2026, 11, 30),
            context=context,
        )

    timed = ask(context="When did the Glass Museum move to the campus?")
    assert timed is not None
    assert "Marta Lenz" in timed.units[0].text
    # asked with no earlier turn, the question is the school's: its director holds now
    alone = ask()
    assert alone is not None and "Anna Rossi" in alone.units[0].text


HEAD = page(
    11,
    "People of the weaving guild",
    (
        "## Tobias Reed – head of the guild\n\n"
        "Tobias Reed has run the weaving guild day to day since 2015, after a search of several "
        "months.\n\n"
        "A weaver who trained with honours at the Academy of Dunmore and holds a master's from "
        "the Linen School."
    ),
)
COURSES = page(
    12,
    "Courses",
    "The school teaches weaving and dyeing in two workshops; the guild sets the exams.",
)


def test_a_follow_up_leads_with_what_it_asks_not_with_the_earlier_turns_words() -> None:
    """ "where did he study?" after "who runs the weaving guild day to day?": the subject is
    the guild's head, what is asked a place; the sentence naming the academy leads, not the
    one repeating the earlier turn's words."""
    text = answer(
        "where did he study?", [HEAD, COURSES], context="who runs the weaving guild day to day?"
    )
    assert text.startswith("A weaver who trained with honours at the Academy of Dunmore")


def test_a_follow_up_that_says_too_little_keeps_the_order() -> None:
    """With no word of its own and no kind of thing asked ("and what exactly do they do
    there?"), nothing speaks to the follow-up: the units keep their scores."""
    passages = [HEAD, COURSES]
    units = [u for i, p in enumerate(passages) for u in split_units(p, i)]
    for n, unit in enumerate(units):
        unit.score = 1.0 - n / 10
        unit.term_set = frozenset(terms(unit.text))
    before = [u.score for u in units]
    asked_first(
        units, "and what exactly do they do there?", "who runs the weaving guild?", passages
    )
    assert [u.score for u in units] == before


GUILD_PEOPLE = page(
    13,
    "Who runs the weaving guild",
    (
        "## Tobias Reed – head of the guild\n\n"
        "Head of the weaving guild since 2015, after a search of several months.\n\n"
        "Previously in charge of the dye house at the Linen School of Dunmore, where he "
        "looked after the apprentices."
    ),
)
GUILD_NEWS = page(
    14,
    "Weaving guild news",
    (
        "2026: works on the guild's new hall in Harbour Street are expected to start in the "
        "spring.\n\n"
        "In 1990 Ann Lee was working at the Harbour Mill when the guild asked her to run its "
        "first shop."
    ),
)


def test_a_follow_up_about_whom_only_the_last_answer_named_is_answered_about_them() -> None:
    """ "where did he work before that?" after "who runs the weaving guild?" answered "The
    head is Tobias Reed": the user's turn names nobody, so "he" is the name the answer gave;
    the sentence about his earlier job leads, not one about the guild's works or someone
    else's job that holds "work" too."""
    passages = [GUILD_NEWS, GUILD_PEOPLE]
    question, context = "where did he work before that?", "Who runs the weaving guild day to day?"
    stats = TermStats(p.text for p in passages)
    reply = reply_names(
        question,
        [
            Turn(role="user", content=context),
            Turn(role="assistant", content="The head is Tobias Reed, in the role since 2015."),
        ],
    )
    assert reply == ("Tobias", "Reed")
    selection = select(question, passages, "en", stats, context, reply_names=reply)
    assert selection is not None
    text = compose(selection, passages, "en")[0]
    assert text.startswith("Previously in charge of the dye house at the Linen School")
    # the answer's text is only read for names: without them the follow-up is answered as
    # before, from the user's turns
    before = select(question, passages, "en", stats, context)
    assert before is not None
    assert not compose(before, passages, "en")[0].startswith("Previously")


HALL = page(
    15,
    "The loom hall",
    (
        "The loom hall opened in 1998 beside the river.\n\n"
        "The loom hall covers 2,400 m² on two floors and holds forty looms.\n\n"
        "Visitors can watch the weavers from a gallery."
    ),
)
DYE_HOUSE = page(
    16,
    "The dye house",
    (
        "The dye house is run by the Mill Trust, which restored it in 2004.\n\n"
        "With its drying yard the dye house covers 3,100 m².\n\n"
        "Courses in natural dyes take place in the dye house every spring."
    ),
)


def test_a_question_comparing_two_things_is_asked_of_each() -> None:
    """ "Which is larger, A or B?", "compare X of A with B", "is A bigger than B?", "A e B":
    one attribute of two things, asked once per thing; "between A and B", a title with "e"
    and a question offering two choices of another kind are not split."""
    assert question_parts("Which is larger, the loom hall or the whole dye house?") == [
        "Which is larger, the loom hall?",
        "Which is larger, the whole dye house?",
    ]
    assert question_parts("Compare the cost of the Loom Hall with the 2004 Dye House works.") == [
        "Compare the cost of the Loom Hall.",
        "Compare the cost of the 2004 Dye House works.",
    ]
    assert question_parts("Is the loom hall bigger than the dye house? Give both sizes.") == [
        "Is the loom hall bigger? Give both sizes.",
        "Is the dye house bigger? Give both sizes.",
    ]
    assert question_parts("In che anno sono state fondate Acme e la Filanda Rossi?") == [
        "In che anno sono state fondate Acme?",
        "In che anno sono state fondate la Filanda Rossi?",
    ]
    assert question_parts("What is the partnership between Acme and the Mill Trust?") == []
    assert question_parts("Qual era il tema del festival Il Rosso e il Blu?") == []
    assert question_parts("Is the shop open on Saturday or Sunday?") == []


def test_both_things_compared_are_answered_each_with_its_size() -> None:
    """Each thing's unit holding the asked attribute (a size for "larger") is quoted."""
    text = answer("Which is larger, the loom hall or the dye house?", [HALL, DYE_HOUSE])
    assert "2,400 m²" in text
    assert "3,100 m²" in text


def test_a_thing_compared_that_no_unit_is_about_adds_nothing() -> None:
    """No page is about the Rope Works: its part quotes nothing (not the dye house's size,
    which holds the kind of thing asked for but is about something else)."""
    text = answer("Which is larger, the loom hall or the Rope Works?", [HALL, DYE_HOUSE])
    assert "2,400 m²" in text
    assert "3,100 m²" not in text
