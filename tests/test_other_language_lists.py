"""A list question whose list the site gives on its pages in the other language only: an
imaginary craft school whose guild memberships are listed on its English page, asked in
Italian (the real e5 model compares the lists' headings with the question)."""

from __future__ import annotations

from collections.abc import Sequence

from support.passages import page as support_page

from assistant.compose import compose
from assistant.extractive import names_several, other_language_list, select
from assistant.terms import TermStats
from assistant.unit_vectors import UnitVectors
from vectorstore.passages import Passage


def page(n: int, title: str, body: str, language: str) -> Passage:
    """A page of this file's imaginary site."""
    return support_page(n, title, body, language, host="school.example")


CHI_SIAMO = page(
    1,
    "Chi siamo",
    (
        "La scuola di mestieri è nata nel 1990 in un vecchio mulino sul fiume. "
        "Ogni anno vi studiano circa duecento allievi, che lavorano accanto ai maestri artigiani."
    ),
    "it",
)
NETWORKS = page(
    2,
    "Networks and memberships",
    (
        "From the start the school has worked with other schools.\n\n"
        "## Craft guilds the school belongs to\n\n"
        "- The Northern Weavers' Guild, since 1992\n"
        "- The European Ceramics Circle, since 2004\n"
        "- The Glassmakers' Association, since 2011\n"
    ),
    "en",
)
VISITING = page(
    3,
    "Visiting",
    (
        "## Opening hours\n\n"
        "- Monday to Friday: 9:00–18:00\n"
        "- Saturday: 10:00–13:00\n\n"
        "## Fees\n\n"
        "- Adults: 5 euros\n"
        "- Students: free\n"
    ),
    "en",
)
PASSAGES = [CHI_SIAMO, NETWORKS, VISITING]
QUESTION = "A quali corporazioni artigiane aderisce la scuola?"


def _similarity(embeddings: object) -> object:
    vectors = UnitVectors(embeddings)  # type: ignore[arg-type]

    def similarity(question: str, texts: Sequence[str]) -> Sequence[float]:
        return vectors.similarity(question, texts, persist=False)

    return similarity


def test_the_asker_language_pages_give_no_list() -> None:
    # the Italian page has no list: without the other language the lead sentence answers
    selection = select(QUESTION, PASSAGES, "it", TermStats(p.text for p in PASSAGES))
    assert selection is not None
    assert not selection.listed


def test_the_list_on_the_english_page_answers_the_italian_question(embeddings) -> None:  # noqa: ANN001
    listing = other_language_list(QUESTION, PASSAGES, "it", _similarity(embeddings))  # type: ignore[arg-type]
    assert listing is not None and listing.listed and listing.language == "en"
    text = compose(listing, PASSAGES, "it")[0]
    for member in ("Northern Weavers", "European Ceramics Circle", "Glassmakers"):
        assert member in text
    assert "Saturday" not in text and "Adults" not in text


def test_no_list_when_none_stands_out_or_none_is_asked(embeddings) -> None:  # noqa: ANN001
    similarity = _similarity(embeddings)
    # not a list question
    assert other_language_list("Quando è nata la scuola?", PASSAGES, "it", similarity) is None  # type: ignore[arg-type]
    # two lists on the other page, neither clearly closer to the question than the other
    both = page(
        4,
        "Members",
        "## Member schools\n\n- Alpha School\n- Beta School\n\n"
        "## Member schools abroad\n\n- Gamma School\n- Delta School\n",
        "en",
    )
    assert (
        other_language_list("Quali scuole sono socie?", [CHI_SIAMO, both], "it", similarity)  # type: ignore[arg-type]
        is None
    )
    # the asker's own language is never searched again
    assert other_language_list(QUESTION, [CHI_SIAMO], "it", similarity) is None  # type: ignore[arg-type]


def test_a_sentence_naming_several_things_in_the_asker_language_is_kept() -> None:
    # the Italian page names the guilds in one line: the engine does not look further
    chi_siamo = page(
        5,
        "Chi siamo",
        "Le corporazioni della scuola: Tessitori del Nord (1992), Cerchio europeo della "
        "ceramica (2004), Associazione dei vetrai (2011), Gilda dei tintori (2015), Unione "
        "dei falegnami (2020).",
        "it",
    )
    passages = [chi_siamo, NETWORKS]
    selection = select(QUESTION, passages, "it", TermStats(p.text for p in passages))
    assert selection is not None and names_several(selection)
    plain = select(QUESTION, PASSAGES, "it", TermStats(p.text for p in PASSAGES))
    assert plain is not None and not names_several(plain)
