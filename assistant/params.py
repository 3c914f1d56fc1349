"""The answer engine's weights and thresholds, each with the reason for its value.

One frozen ``Params`` groups them by the step that reads them: ``scoring`` (a unit against the
question), ``selection`` (which units an extractive answer quotes), ``timeline`` (upcoming
events and the latest figure), ``directory`` (list and count questions), ``conversation``
(follow-ups) and ``sources`` (the snippets). Every field keeps its reason in its metadata
(``why``), so the reason is data: ``reasons(PARAMS)`` lists them all, and a test fails on a
field without one. The engine's functions take the group they read, defaulting to ``PARAMS``;
a caller that tunes them passes another (``dataclasses.replace(PARAMS.scoring, ...)``).

Thresholds that are outputs of a trained model (the guard's, the curated matcher's) stay in
that model's file; the search's fusion weights belong to ``vectorstore.search.SearchOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def why(value: T, reason: str) -> T:
    """A dataclass field defaulting to ``value`` that keeps ``reason`` (one line) as data."""
    return field(default=value, metadata={"why": reason})


@dataclass(frozen=True)
class ScoringParams:
    """How a unit (a sentence, list item or table row) is scored against the question."""

    history_weight: float = why(
        0.3, "terms of earlier turns only steer a follow-up; the question's own terms decide"
    )
    asked_weight: float = why(
        0.8, "a term found in the FAQ question a unit answers is nearly as good as in the unit"
    )
    context_weight: float = why(
        0.6, "a term found only in the unit's heading, lead-in or page title counts for less"
    )
    common_floor: float = why(
        0.4,
        "weight kept by a term found in every retrieved unit (the page's own subject); rarer "
        "terms rise to 1",
    )
    rank_prior: float = why(
        0.08, "bonus of the searcher's first passage over its last: breaks near-ties only"
    )
    long_chars: int = why(400, "a unit longer than this collects the question's terms by accident")
    long_penalty: float = why(0.1, "what a long unit loses: less than one shared rare term")
    short_chars: int = why(25, "a sentence shorter than this says too little to quote alone")
    short_penalty: float = why(0.05, "what a short sentence loses: a tie-breaker against it")
    type_bonus: float = why(
        0.25,
        "a unit holding the kind of thing asked for (a date for 'when') beats one that only "
        "shares words",
    )
    typed_alone_share: float = why(
        0.5,
        "share of the type bonus for a unit sharing no word but holding the thing asked for "
        "('+39 ...' for 'phone?')",
    )
    typed_alone_passages: int = why(
        3, "only the searcher's first passages may answer by type alone (others are off topic)"
    )
    semantic_band: float = why(
        0.08,
        "e5 cosines sit in a narrow band (0.75-0.9): a unit this far below the best one scores 0",
    )
    semantic_weight: float = why(
        0.5, "meaning (e5 closeness) beside the word overlap, same language: words decide first"
    )
    semantic_weight_cross: float = why(
        0.8, "meaning weighs more across languages, where the words rarely match"
    )
    semantic_alone: float = why(
        0.75, "a unit sharing no word with the question needs this much closeness (paraphrases)"
    )
    semantic_alone_passages: int = why(
        3, "and must come from the searcher's first passages, where paraphrases are on topic"
    )
    latest_bonus: float = why(
        0.3,
        "for 'now' questions, a unit dated with the latest year beats the history of the figure",
    )
    min_words: int = why(3, "a sentence of fewer words is a fragment (a label, a date), not quoted")


@dataclass(frozen=True)
class SelectionParams:
    """Which scored units an extractive answer quotes."""

    max_sentences: int = why(
        2, "an answer leads with one unit and adds a second only when it may be the answer"
    )
    max_sentences_per_part: int = why(
        2, "each part of a question with several parts gets two, so the whole stays short"
    )
    max_list_items: int = why(20, "a list answer quotes at most this many items of one list")
    follow_up_below: float = why(
        0.01,
        "a follow-up's unit worded from the earlier turns alone is scored this far under the "
        "unit answering it: just below, in its own order",
    )
    max_chars: int = why(700, "about a screen of the widget; longer quotes stop being read")
    same_language_share: float = why(
        0.75,
        "the asker's language is preferred unless its best unit scores below this share of "
        "the best",
    )
    see_also: int = why(
        2, "other pages an answer points to after its quote: the next best, not a reading list"
    )
    list_mean_weight: float = why(
        0.5, "a list's mean item score, beside how well its heading names the question's terms"
    )
    list_best_weight: float = why(0.3, "its best item's score: one item may name what is asked")
    list_item_bonus: float = why(
        0.05, "per item, so the fuller list wins (a chunk may hold only a table's tail)"
    )
    list_items_counted: int = why(
        8, "items beyond this many add nothing: a long list is not better"
    )
    same_word_stem: int = why(
        6,
        "a stem beginning with another this long names the same word (architect / "
        "architecture); shorter ones do not (studi / studio, lab / label)",
    )
    series_commas: int = why(
        3,
        "commas (outside brackets) of a sentence that names four things or more: two also set "
        "off an apposition ('The results, published in 2021, ...')",
    )
    named_list_top: int = why(
        3,
        "a list the question names by its heading is answered whole when one of this many "
        "best units is its item: the search agrees it is the list asked about",
    )


@dataclass(frozen=True)
class TimelineParams:
    """Upcoming events and the latest figure (``assistant.timeline``)."""

    stale_days: int = why(
        2 * 365, "a newest figure older than two years gets a note that it may be out of date"
    )
    relevant: float = why(
        0.5, "share of the best unit's score a dated unit needs to answer a 'now' question"
    )
    upcoming_relevant: float = why(
        0.3, "the same for an event of an upcoming question: event lists are wide and loose"
    )
    current_relevant: float = why(
        0.55,
        "the same for the latest figure and its older values: stricter, so it is the same figure",
    )
    max_events: int = why(8, "an upcoming answer lists at most this many events")
    event_days: int = why(
        92, "an event lasts at most about a quarter: a longer period is history, not a day out"
    )
    label_words: int = why(
        6,
        "at most this many words besides its dates make a line a date label ('Friday 4 "
        "December 2026, 09:30'), not a sentence",
    )
    coming_close: float = why(
        0.5,
        "a coming event sharing no word with the question joins the answer when its e5 "
        "closeness is at least this, relative to the closest coming event (0 at the band)",
    )
    wide_k: int = why(
        30,
        "passages of the wider search an upcoming or 'how many now' question also reads: an "
        "events table or a latest figure is often not among the few passages retrieved",
    )
    max_older: int = why(2, "a 'now' answer shows at most two older values of its figure")
    noun_close: float = why(
        0.87,
        "e5 cosine (query: the counted word; passage: the words after a number) from which a "
        "figure counts what a 'how many ... now?' question asks: above all 70 pairs of "
        "different quantities tried (max 0.868, 'patents'~'companies'), written from general "
        "words, not the sets; about half of the 60 same-quantity pairs pass (min 0.821)",
    )


@dataclass(frozen=True)
class DirectoryParams:
    """When a list or count question is answered from the partner directory."""

    fuzzy_min: float = why(
        0.86, "difflib ratio for a value named in the question (measured: typos and plurals)"
    )
    embed_min: float = why(
        0.90, "e5 cosine (query vs passage) for a value named in the other language"
    )
    embed_margin: float = why(
        0.02, "...and the value must beat the next one by this much, or it is a guess"
    )
    run_min: float = why(
        0.85,
        "e5 cosine for a run of the question's words naming a value in the other language: the "
        "low end of the cosines of right values (0.85-0.93, right and wrong alike above it)",
    )
    run_margin: float = why(
        0.04,
        "...named only when that run is closer to the value than to every other value by this "
        "much (a run naming nothing sits within 0.01 of its next value on the sample site)",
    )
    value_word_min: int = why(
        5, "a shorter word of the question names no value by itself ('park', 'sono', 'labs')"
    )
    topic_min_chars: int = why(
        6, "shorter topic words were mostly glue ('based', 'work') on the questions tried"
    )
    rare_share: float = why(
        0.15, "a topic word narrows the list only if at most this share of the pages hold it"
    )
    subject_gap: int = why(
        2, "words allowed between the cue and the organisation word ('which research labs')"
    )


@dataclass(frozen=True)
class ConversationParams:
    """How a follow-up is searched with the turns before it."""

    max_history_turns: int = why(
        2, "earlier user turns joined to a follow-up: older ones drift to other topics"
    )
    part_rank: int = why(
        5,
        "a part's best passage goes after the whole question's first five: placed after the "
        "first three it pushed answering pages out of the top five more often than it brought "
        "one in (independent two-page questions, both pages in the top five 0.80 -> 0.60)",
    )
    bridge_passages: int = why(
        2,
        "passages a part about what answered the part before adds from its own search ('where "
        "was he working before?' searched with the name the first part's answer gave)",
    )
    max_reply_names: int = why(
        6,
        "names of the last answer a follow-up is searched with ('his company' after 'Alberto "
        "Bombassei, founder of Brembo'): the first few, a long answer names many things",
    )
    max_query_chars: int = why(
        600, "the search query's length limit: e5 reads 512 tokens, the question comes first"
    )
    other_language_confidence: float = why(
        0.75,
        "py3langid's probability above which a question is taken to be in a language the "
        "site has no pages in (de/fr/es/pt); below it the question stays in it/en",
    )
    other_language_min_letters: int = why(
        12, "shorter questions (a name, 'orari?') are too short to tell another language"
    )


@dataclass(frozen=True)
class SourceParams:
    """The sources listed under an answer."""

    snippet_chars: int = why(240, "a source's snippet: two or three lines under its title")


@dataclass(frozen=True)
class Params:
    """Every weight and threshold of the answer engine, by the step that reads it."""

    scoring: ScoringParams = ScoringParams()
    selection: SelectionParams = SelectionParams()
    timeline: TimelineParams = TimelineParams()
    directory: DirectoryParams = DirectoryParams()
    conversation: ConversationParams = ConversationParams()
    sources: SourceParams = SourceParams()


PARAMS = Params()


def reasons(params: Any) -> dict[str, tuple[object, str]]:
    """Every parameter as ``"group.name" -> (value, reason)`` (the reason "" when missing)."""
    out: dict[str, tuple[object, str]] = {}
    for group in fields(params):
        value = getattr(params, group.name)
        if is_dataclass(value):
            for name, item in reasons(value).items():
                out[f"{group.name}.{name}"] = item
        else:
            out[group.name] = (value, str(group.metadata.get("why", "")))
    return out
