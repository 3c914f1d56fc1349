"""List answers that are whole, on hand-made pages of an imaginary glassworks guild: a sentence
announcing the items that follow it is answered with them, a wrapped list item is never cut at
its line break, and a directory question joining two filters by "and"/"e" gets both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from support.passages import page as support_page

from assistant.compose import compose
from assistant.directory_match import match
from assistant.directory_merge import Organisation, build
from assistant.extractive import announces, select
from assistant.terms import TermStats
from assistant.units import split_units
from ingest.directory import DirectoryEntry
from vectorstore.passages import Passage


def page(n: int, title: str, body: str, language: str = "en") -> Passage:
    """A page of this file's imaginary site."""
    return support_page(n, title, body, language, host="guild.example")


def answer(question: str, passages: list[Passage], language: str = "en") -> str:
    selection = select(question, passages, language, TermStats(p.text for p in passages))
    assert selection is not None
    return compose(selection, passages, language)[0]


LABS = page(
    1,
    "Guild laboratories",
    (
        "The guild runs two laboratories on campus to bring its research closer to local "
        "makers.\n\n"
        "## The two laboratories\n\n"
        "| Laboratory | Focus |\n|---|---|\n"
        "| Furnace design | Energy-saving furnaces for small studios. |\n"
        "| Recycled glass | Glass from bottles collected in the valley. |\n\n"
        "## Funding\n\n"
        "The region funds both laboratories until 2030."
    ),
)


def test_a_sentence_announcing_the_number_of_items_gets_the_items_that_follow() -> None:
    """ "Which labs ...?": the best sentence says the guild runs two laboratories and a table
    of two follows; its heading does not name "labs" in the question's words, the sentence's
    figure announces it: the answer is the sentence and both rows."""
    text = answer("Which labs does the guild run?", [LABS])
    assert "runs two laboratories" in text
    assert "Furnace design" in text and "Recycled glass" in text


def test_what_announces_a_list() -> None:
    for sentence, items, expected in (
        ("The guild runs two laboratories on campus.", 2, True),
        ("The guild runs two laboratories on campus.", 3, False),  # not three
        ("Two of the laboratories are new.", 2, False),  # a part of a whole
        ("The studios are the following.", 4, True),
        ("I laboratori attivi sono tre.", 3, True),
        ("Ecco cosa offre la scuola.", 5, True),
        ("The courses are listed below.", 6, True),
        ("The guild was founded in 1990.", 2, False),
        ("Gli spazi sono elencati di seguito.", 3, True),
        ("A seguito della crisi la scuola chiuse.", 3, False),
    ):
        unit = split_units(page(9, "T", sentence), 0)[0]
        assert announces(unit, items) is expected, sentence


# A plain-text guide whose list items wrap onto the next line (no indentation kept).
GUIDE = page(
    2,
    "Visitor guide",
    (
        "## What to see from outside\n\n"
        "* The red chimney - built in 1890, about 40\n"
        "metres high, the oldest on the river.\n"
        "* The kiln yard - the stacks of bricks recall a chess\n"
        "board.\n"
        "* The glass gate - six panels by local makers.\n\n"
        "## Opening hours\n\n"
        "The yard opens at nine."
    ),
    language="en",
)


def test_a_wrapped_list_item_goes_on_after_its_line_break() -> None:
    items = [u.text for u in split_units(GUIDE, 0) if u.kind == "item"]
    assert items == [
        "The red chimney - built in 1890, about 40 metres high, the oldest on the river.",
        "The kiln yard - the stacks of bricks recall a chess board.",
        "The glass gate - six panels by local makers.",
    ]
    text = answer("What can I see from outside?", [GUIDE])
    assert "about 40." not in text and "a chess." not in text


HANDBOOK = page(
    3,
    "Member handbook",
    (
        "## 4. Kilns\n\n"
        "Members book the kilns a week ahead; new members get a first firing free.\n\n"
        "## 5. Checklist for new members\n\n"
        "1. Agree your bench and timing with the workshop team.\n"
        "2. Check your kiln needs early (temperature, size) if you fire large pieces.\n"
        "3. Plan deliveries of raw glass through the yard gate.\n"
        "4. Introduce yourself to the staff and to your bench neighbours.\n"
    ),
)


def test_a_list_the_question_names_by_its_heading_is_answered_whole() -> None:
    """ "... a checklist for new members - what's on it?" names the heading of a list, every
    word of it, and asks nothing else: the whole checklist, not its first item or a sentence
    sharing "new members"."""
    text = answer("The member handbook has a checklist for new members - what's on it?", [HANDBOOK])
    for item in ("bench and timing", "kiln needs", "raw glass", "bench neighbours"):
        assert item in text, item
    # a question asking one fact of the list's subject is not answered with the list, nor
    # one whose other words an item holds (that item answers)
    text = answer("When do new members book the kilns?", [HANDBOOK])
    assert "bench neighbours" not in text
    text = answer("What does the checklist for new members say about deliveries?", [HANDBOOK])
    assert "raw glass" in text and "bench neighbours" not in text
    text = answer("Where is the checklist for new members?", [HANDBOOK])  # a place
    assert "bench neighbours" not in text


RICERCHE = page(
    4,
    "Il museo del vetro",
    (
        "I laboratori del museo lavorano nel campus dal 2010.\n\n"
        "## Le ricerche\n\n"
        "Emissioni dei forni e modi per ridurle o evitarle, smalti antichi e loro chimica, "
        "tinture naturali, restauro delle vetrate e alcuni aspetti del riciclo del vetro. "
        "Al trasloco lavoravano nei laboratori circa 20 ricercatori."
    ),
    language="it",
)


def test_a_sentence_naming_several_under_the_heading_asked_answers_a_list_question() -> None:
    """ "Di quali ricerche si occupa il museo?": no list; the sentence under "Le ricerche"
    names five topics, some too long for a bare enumeration: it answers, not the
    laboratories' arrival."""
    text = answer("Di quali ricerche si occupano i laboratori del museo?", [RICERCHE], "it")
    assert text.startswith("Emissioni dei forni e modi per ridurle o evitarle")


def test_the_enumeration_under_the_heading_asked_wins_over_one_sharing_more_words() -> None:
    """A guide names the museum and its labs among the campus's residents, in a sentence that
    shares more words with the question than the list of research topics (which shares none:
    its heading, "Le ricerche", does): the topics answer."""
    guide = page(
        5,
        "Guida del campus",
        (
            "## Chi trovi nel campus\n\n"
            "La fornace storica, il museo del vetro (laboratori di ricerca), la scuola di "
            "restauro e alcune start-up."
        ),
        language="it",
    )
    text = answer("Di quali ricerche si occupano i laboratori del museo?", [guide, RICERCHE], "it")
    assert text.startswith("Emissioni dei forni e modi per ridurle o evitarle")


FACTS = page(
    6,
    "School fact sheet",
    (
        "## Ten years in numbers\n\n"
        "- The school was weighing a new building for large looms in 2015.\n"
        "- The first building, the old mill, housed the ceramics studio.\n\n"
        "## Architecture\n\n"
        "- Main hall and the mill's new roof: Rossi Studio\n"
        "- Glass wing: Lake & Hill (2019)\n"
        "- Kiln house: Ash Partners\n"
    ),
)


def test_a_heading_naming_the_kind_by_another_form_of_the_word_is_about_it() -> None:
    """ "Which architects ...?" and a list headed "Architecture": the stems differ
    ("architect", "architectur"), the word is the same; the list of buildings' designers
    answers, not a list sharing "building"."""
    text = answer("Which architects have designed buildings at the school?", [FACTS])
    assert "Rossi Studio" in text and "Lake & Hill" in text and "Ash Partners" in text


def _directory() -> list[Organisation]:
    """Organisations of four sectors, named in English only."""

    def entry(name: str, sector: str) -> tuple[str, DirectoryEntry]:
        url = f"https://guild.example/en/members/{name.lower()}"
        return url, DirectoryEntry(kind="page", name=name, url=url, language="en", sector=sector)

    return build(
        [
            entry("Kilnworks", "Advanced Materials"),
            entry("Claystone", "Advanced Materials"),
            entry("Blowlight", "Energy and Sustainability"),
            entry("Loomcraft", "Textiles"),
            entry("Pillbox", "Life Sciences"),
        ]
    )


def test_two_filters_joined_by_and_each_select_their_organisations(embeddings) -> None:  # noqa: ANN001
    """ "Quali aziende lavorano nei settori materiali avanzati ed energia?": each side names
    an English sector by meaning (the real model, as the served assistant compares them);
    the answer holds the organisations of both, not of the first alone."""

    def similarity(value: str, texts: Sequence[str]) -> list[float]:
        q = np.asarray(embeddings.embed_query(value))
        return [float(np.asarray(v) @ q) for v in embeddings.embed_documents(list(texts))]

    orgs = _directory()
    both = {"Kilnworks", "Claystone", "Blowlight"}
    for question in (
        "Quali aziende lavorano nei settori materiali avanzati ed energia?",
        "Quali aziende lavorano nell'energia e nei materiali avanzati?",
    ):
        found = match(question, orgs, [], similarity)
        assert found is not None, question
        assert {o.name for o in found.organisations} == both, question
    # one filter, and a conjunction joining no second filter: one sector
    for question in (
        "Quali aziende lavorano sui materiali avanzati?",
        "Quali aziende lavorano sui materiali avanzati e dove si trovano?",
    ):
        found = match(question, orgs, [], similarity)
        assert found is not None, question
        assert {o.name for o in found.organisations} == {"Kilnworks", "Claystone"}, question
    # a value holding "and" named whole is one filter
    found = match("Which companies work in Energy and Sustainability?", orgs, [], similarity)
    assert found is not None
    assert {o.name for o in found.organisations} == {"Blowlight"}
