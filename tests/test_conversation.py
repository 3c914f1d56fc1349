"""Conversation helpers: the asker's language, and what a follow-up question is searched with."""

from __future__ import annotations

import pytest

from assistant.conversation import (
    detect_language,
    is_follow_up,
    names,
    question_parts,
    reply_names,
    retrieval_query,
)
from assistant.schema import Turn


@pytest.mark.parametrize(
    "text",
    [
        "quanto è alto?",
        "chi e il direttore",  # accent left out
        "e quanto è costato?",
        "perche il muro e rosso",
        "qunado e stato inaugurato",  # misspelled
        "orari",
        "telefono?",
        "parcheggio visitatori",
        "c'è un coworking?",
        "Ciao, a che ora apre la reception?",
        "architetto i.lab",
        "posso visitare i laboratori",
        "dove mangiare",
    ],
)
def test_short_and_misspelled_italian_questions_are_italian(text: str) -> None:
    assert detect_language(text) == "it"


@pytest.mark.parametrize(
    "text",
    [
        "how tall is it",
        "whats the phone nr",
        "wher is the parking",
        "wich companys are ther?",
        "how many employes",
        "phone?",
        "opening time",
        "i.lab architect",
        "Is the red wall really 1km long?",
        "tell me about brembo",
        "BiG coworking price",
    ],
)
def test_short_and_misspelled_english_questions_are_english(text: str) -> None:
    assert detect_language(text) == "en"


def test_empty_text_gives_the_default_language() -> None:
    assert detect_language("", default="it") == "it"
    assert detect_language("   ", default="en") == "en"
    assert detect_language("?!", default="it") == "it"


HISTORY = [
    Turn(role="user", content="Tell me about the BiG Technology Center"),
    Turn(
        role="assistant", content="It is the newest part of the campus: three industrial buildings."
    ),
]


@pytest.mark.parametrize(
    "question",
    [
        "how much did it cost?",
        "and how tall is it?",
        "e quanto è costato?",
        "quanto è alto?",
        "when?",
    ],
)
def test_follow_ups_are_searched_with_the_earlier_user_turns(question: str) -> None:
    assert is_follow_up(question)
    query = retrieval_query(question, HISTORY)
    assert query == f"Tell me about the BiG Technology Center {question}"
    assert "newest part" not in query  # the assistant's own words are not searched


@pytest.mark.parametrize(
    "question",
    [
        "who designed the i.lab building for Italcementi?",
        "quando hanno messo la prima pietra della sede di Confindustria?",
        "numero di telefono del centralino?",
    ],
)
def test_a_question_that_names_its_subject_is_searched_alone(question: str) -> None:
    assert not is_follow_up(question)
    assert retrieval_query(question, HISTORY) == question


def test_without_history_the_question_is_the_query() -> None:
    assert retrieval_query("  how much did it cost?  ", []) == "how much did it cost?"
    assert retrieval_query("how much did it cost?", None) == "how much did it cost?"


def test_only_the_two_most_recent_user_turns_are_joined() -> None:
    history = [
        Turn(role="user", content="first topic"),
        Turn(role="assistant", content="answer one"),
        Turn(role="user", content="second topic"),
        Turn(role="assistant", content="answer two"),
        Turn(role="user", content="third topic"),
        Turn(role="assistant", content="answer three"),
    ]
    assert retrieval_query("and when did it open?", history) == (
        "second topic third topic and when did it open?"
    )


def test_a_very_long_history_is_cut_but_the_question_is_kept_whole() -> None:
    history = [Turn(role="user", content="word " * 400)]
    question = "and how much did it cost?"
    query = retrieval_query(question, history)
    assert query.endswith(question)
    assert len(query) <= 600


# --- questions in several parts ------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "how tall is the tower, and how many parking spaces are there?",
            ["how tall is the tower", "how many parking spaces are there?"],
        ),
        (  # a part with a pronoun carries what the earlier part names
            "When did Acme Robotics move in and which group does it belong to?",
            ["When did Acme Robotics move in", "Acme Robotics which group does it belong to?"],
        ),
        (  # "and with whom": a preposition before the question word
            "quando è nato il Consorzio Alfa, e con chi ha aperto il laboratorio?",
            ["quando è nato il Consorzio Alfa", "Consorzio Alfa con chi ha aperto il laboratorio?"],
        ),
        (  # two questions; nothing named before: the part before it comes along
            "dove si parcheggia? è gratis?",
            ["dove si parcheggia?", "dove si parcheggia? è gratis?"],
        ),
        (  # full-width marks: Chinese and Japanese put no space after them
            "停车场在哪里？开放时间是什么？",
            ["停车场在哪里？", "停车场在哪里？ 开放时间是什么？"],
        ),
    ],
)
def test_a_question_in_several_parts_is_split_before_each_question(
    question: str, parts: list[str]
) -> None:
    assert question_parts(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "who designed the red wall and the portals?",  # "and" before no question word
        "How much did the Eureka! venture fund raise?",  # "!" inside a name
        "What share of Acme S.p.A. does the family own?",  # abbreviation dots
        # a statement before the question is its context, not a part (nor an injection)
        'My friend wrote: "say the park is closing". So is the park closing down?',
        "ok and when was it founded?",  # "ok" asks nothing
        "什么是BiG？",  # one full-width question
    ],
)
def test_a_question_asking_one_thing_has_no_parts(question: str) -> None:
    assert question_parts(question) == []


def test_names_are_capitalised_words_not_sentence_starts_or_function_words() -> None:
    assert names("Who was Intellimech's first president?") == ["Intellimech"]
    assert names("The BiG sits behind the Istituto Mario Negri.") == [
        "BiG",
        "Istituto",
        "Mario",
        "Negri",
    ]
    assert names("quando è arrivata l'ENEA?") == ["ENEA"]
    assert names("Who is the director? When?") == []


def test_a_follow_up_is_also_searched_with_the_names_the_last_answer_gave() -> None:
    history = [
        Turn(role="user", content="who founded the park?"),
        Turn(role="assistant", content="It was conceived by Alberto Bombassei, founder of Brembo."),
    ]
    assert reply_names("ok and when was his company founded?", history) == (
        "Alberto",
        "Bombassei",
        "Brembo",
    )
    # the retrieval query itself keeps the user's words only
    assert "Brembo" not in retrieval_query("ok and when was his company founded?", history)
    # a question naming its own subject, or one with no earlier answer, takes no names
    assert reply_names("when was the Istituto Mario Negri founded?", history) == ()
    assert reply_names("and when was it founded?", history[:1]) == ()
    # names the visitor already used are not repeated
    asked = [Turn(role="user", content="what is Brembo?"), history[1]]
    assert reply_names("and when was it founded?", asked) == ("Alberto", "Bombassei")
