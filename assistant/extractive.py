"""Extractive answers: choose the units of the retrieved passages to quote, with citations.

No model writes anything: passages are cut into units (``assistant.units``), each unit is scored
against the question (``assistant.scoring``), and the answer leads with the one unit most likely
to hold the answer (``assistant.lead``), adding a second only when it is nearly as likely,
preferring passages in the asker's language; the pages of the next best units are offered as
"see also". When the question asks for several things (a list wording, or a plural subject:
"what technology clusters ...?") and a list whose heading or lead-in names what is asked
answers it, the list is quoted whole (none when the best unit is a sentence naming several
things; continued across chunks); "how many X?" leads with the unit giving a figure of X;
a question with several parts gets a lead for each part (a part about who answered the part
before, "and where was he working before?", with the names that answer gave: ``bridged``); a
follow-up's units worded from the earlier turns alone go below the best one about the same
subject that holds its own words or the kind it asks for (``asked_first``), the subject being
the names the last answer gave when the user's turns name nothing ("where did he work before
that?"); a part asking of one of two things compared is led by a unit about that thing,
preferring what the comparative compares (a size for "larger", a date for "first").
Sentences that address an AI assistant are never quoted. ``assistant.compose`` writes the
chosen units out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from assistant import lead
from assistant.conversation import (
    compared_pieces,
    names,
    question_parts,
    question_pieces,
    subject_terms,
)
from assistant.guard import unquotable
from assistant.params import PARAMS, Params
from assistant.scoring import (
    Query,
    Similarity,
    answer_types,
    asks_for_list,
    asks_place,
    compared_types,
    names_place,
    prefer_latest,
    score_units,
    usable,
)
from assistant.terms import TermStats, terms
from assistant.units import Unit, split_units
from vectorstore.passages import Passage
from vectorstore.text import fold


@dataclass
class Selection:
    """What the extractive answer quotes, grouped in display order."""

    groups: list[tuple[int, str, list[Unit]]]  # (passage index, "lead" text, units)
    best_score: float
    language: str  # language of the quoted passages
    see_also: list[int] = field(default_factory=list)  # other relevant passages (indexes)
    # the units compared for the lead, best score first, distinct (one-part questions)
    ranked: list[Unit] = field(default_factory=list, repr=False)
    # "how many X?" answered by counting a list the sources give whole: its items (0: not so)
    count: int = 0
    # the parts searched with what answered the part before ("Mirano Sancin where was he
    # working before?"): the engine searches them too and selects again
    bridged: list[str] = field(default_factory=list)


def split_question(question: str) -> list[str]:
    """The parts of a question asking several things, as they are searched and led
    (``conversation.question_parts``: "When did ENEA arrive and how much went into JOiiNT
    LAB?" -> its two questions); the question alone when it asks one thing."""
    return question_parts(question) or [question]


def select(
    question: str,
    passages: Sequence[Passage],
    language: str,
    stats: TermStats | None = None,
    context: str = "",
    similarity: Similarity | None = None,
    params: Params = PARAMS,
    reply_names: Sequence[str] = (),
) -> Selection | None:
    """Choose the units to quote, preferring passages in the asker's language.

    A question with several parts gets the best units of each part. ``reply_names`` are the
    names the last answer gave that the earlier user turns did not
    (``conversation.reply_names``): a follow-up's "he" when those turns name nothing
    (``asked_first``).
    """
    if not passages:
        return None
    stats = stats or TermStats(p.text for p in passages)
    # each part as it is searched: one leaning on an earlier part carries what that one names
    pieces = question_pieces(question)
    one = partial(
        _select_one,
        passages=passages,
        language=language,
        stats=stats,
        context=context,
        similarity=similarity,
        params=params,
        reply=reply_names,
    )
    if len(pieces) < 2:
        return one(question, max_sentences=params.selection.max_sentences)
    most = params.selection.max_sentences_per_part
    selections: list[Selection | None] = []
    bridged: list[str] = []
    compared = compared_pieces(question)
    for i, (part, leaning) in enumerate(pieces):
        # a part asking of one of two things compared wants what the comparative compares
        # ("which is larger, A?": a size), not a name for its "which"
        asked = (compared_types(part) or None) if part in compared else None
        # and is answered by a unit about its own thing (the names its sibling lacks)
        thing = _own_names(part, compared) if part in compared else frozenset()
        answered = selections[-1] if selections else None
        taken: frozenset[tuple[int, int]] = frozenset()
        if leaning and answered is not None and asks_name(pieces[i - 1][0]):
            # "Who was its first president, and where was he working before?": "he" is
            # who answered the part before, named by its lead unit; the part leads with a
            # unit of its own (the one naming him answers the part before)
            found_names = answer_names(answered, question)
            if found_names:
                part = " ".join([*found_names, leaning])
                bridged.append(part)
                taken = frozenset((u.passage, u.position) for _, _, g in answered.groups for u in g)
        selections.append(one(part, max_sentences=most, taken=taken, asked=asked, thing=thing))
    found = [sel for sel in selections if sel is not None]
    if not found:
        return None
    chosen: list[Unit] = []
    seen: set[tuple[int, int]] = set()
    for sel in found:
        for _, _, units in sel.groups:
            for unit in units:
                if (unit.passage, unit.position) not in seen:
                    seen.add((unit.passage, unit.position))
                    chosen.append(unit)
    languages = {sel.language for sel in found}
    lang = language if language in languages else found[0].language
    cited = {u.passage for u in chosen}
    see_also = list(dict.fromkeys(i for sel in found for i in sel.see_also if i not in cited))
    return Selection(
        groups=_group(chosen),
        best_score=max(s.best_score for s in found),
        language=lang,
        see_also=see_also[: params.selection.see_also],
        bridged=bridged,
    )


def _own_names(part: str, compared: frozenset[str]) -> frozenset[str]:
    """The terms of the names a compared part holds that the other compared parts do not:
    the thing it asks about ("the Loom Hall" of "compare the cost of the Loom Hall")."""
    others = frozenset(t for p in compared - {part} for n in names(f"of {p}") for t in terms(n))
    return frozenset(t for n in names(f"of {part}") for t in terms(n)) - others


# A part whose answer is a name: "who ...", "which labs ...", "chi ...", "quale istituto ...".
_ASKS_NAME = re.compile(r"\b(who|whom|which|chi|qual[ei]?)\b", re.I)


def asks_name(part: str) -> bool:
    """The part asks for someone or something by name (who, which, chi, quale)."""
    return bool(_ASKS_NAME.search(part))


def answer_names(selection: Selection, question: str) -> list[str]:
    """The names the lead unit of ``selection`` gives that ``question`` does not use (the
    person or place a later part's "he", "that institute" points to), the first
    ``max_reply_names``."""
    if not selection.groups:
        return []
    asked = {fold(w.lower()) for w in names(question)}
    lead_text = selection.groups[0][2][0].text
    found = [w for w in names(lead_text) if fold(w.lower()) not in asked]
    return list(dict.fromkeys(found))[: PARAMS.conversation.max_reply_names]


def _select_one(
    question: str,
    passages: Sequence[Passage],
    language: str,
    stats: TermStats,
    context: str,
    max_sentences: int,
    similarity: Similarity | None,
    params: Params,
    taken: frozenset[tuple[int, int]] = frozenset(),
    reply: Sequence[str] = (),
    asked: Sequence[re.Pattern[str]] | None = None,
    thing: frozenset[str] = frozenset(),
) -> Selection | None:
    scoring, limits = params.scoring, params.selection
    referent = _referent(question, context, reply)
    # what the follow-up's "he" stands for weighs as the earlier turns do
    query = Query.build(question, stats, " ".join([context, *referent]), scoring)
    units = [u for i, p in enumerate(passages) for u in split_units(p, i)]
    units = [u for u, bad in zip(units, unquotable(units), strict=True) if not bad]
    boosts = answer_types(question) if asked is None else list(asked)
    score_units(units, query, passages, boosts, similarity, language, question, scoring)
    prefer_latest(units, question, scoring)
    if context:
        asked_first(units, question, context, passages, limits.follow_up_below, referent)
    candidates = [
        u
        for u in units
        if u.score > 0
        and usable(u, scoring)
        and (u.passage, u.position) not in taken
        and (not thing or thing & about_terms(u, passages))
    ]
    if not candidates:
        return None

    def best_in(lang: str | None) -> float:
        scores = [
            u.score for u in candidates if lang is None or passages[u.passage].language == lang
        ]
        return max(scores, default=0.0)

    overall = best_in(None)
    same = best_in(language)
    # Prefer the asker's language unless its best unit is clearly worse.
    use_lang = language if same >= limits.same_language_share * overall and same > 0 else None
    if use_lang is None:
        best_unit = max(candidates, key=lambda u: u.score)
        use_lang = passages[best_unit.passage].language
    pool = [u for u in candidates if passages[u.passage].language == use_lang]
    pool.sort(key=lambda u: (-u.score, u.passage, u.position))
    best = pool[0]

    chosen: list[Unit] = []
    ranked = _distinct(pool)
    if asks_for_several(question):
        chosen = _list_answer(ranked, pool, units, query, passages, params, asked_kind(question))
    if not chosen and not answer_types(question) and not asks_place(question):
        # a question asking no particular kind of thing (a date, a figure, a place, a name)
        chosen = _named_list(ranked, units, query, passages, params)
    listed = bool(chosen)
    if not chosen:
        # Lead with the unit most likely to hold the answer (assistant.lead); a second one
        # only when it is nearly as likely.
        chosen = lead.load_model().choose(ranked, max_sentences)
        if len(chosen) > 1 and sum(len(u.text) for u in chosen) > limits.max_chars:
            chosen = chosen[:1]
    counted_term = _counted_term(question) if asks_count(question) else ""
    if counted_term and not listed and chosen and not counts(chosen[0], counted_term):
        # "how many X?": the best unit giving a figure of X leads (not one about X giving
        # another figure, or none); the answer keeps its length
        counting = next((u for u in chosen if counts(u, counted_term)), None) or next(
            (u for u in ranked[: lead.TOP_UNITS] if counts(u, counted_term)), None
        )
        if counting is not None:
            chosen = [counting, *[u for u in chosen if u is not counting]][: len(chosen)]
    count = 0
    if asks_count(question) and not states_figure(chosen):
        counted = _counted_list(question, pool, units, query, passages, params)
        if not counted and len(pool) < len(candidates):
            # the list may be on a page in the other language only (with every candidate in
            # the pool already, the same search would find nothing again)
            every = sorted(candidates, key=lambda u: (-u.score, u.passage, u.position))
            counted = _counted_list(question, every, units, query, passages, params)
        if counted:
            chosen, count = counted, len(counted)
            use_lang = passages[counted[0].passage].language
    cited = {u.passage for u in chosen}
    see_also: list[int] = []
    for unit in ranked[: lead.TOP_UNITS // 2]:
        if unit.passage not in cited and unit.passage not in see_also:
            see_also.append(unit.passage)
    return Selection(
        groups=_group(chosen),
        best_score=best.score,
        language=use_lang,
        see_also=see_also[: limits.see_also],
        ranked=ranked[: lead.TOP_UNITS],
        count=count,
    )


def asked_first(
    units: Sequence[Unit],
    question: str,
    context: str,
    passages: Sequence[Passage],
    below: float = PARAMS.selection.follow_up_below,
    referent: Sequence[str] = (),
) -> None:
    """A follow-up takes its subject from the earlier turns (``context``) and what it asks from
    its own words and answer type: a unit holding the earlier turns' words but none of the
    follow-up's own nor the kind of thing it asks for ("Director of the district since 2017"
    for "where did he study?" after "who runs the district?") is scored just below the best
    unit that holds one of them about the same subject (the earlier turns' names, else their
    words, in its own words, its heading, lead-in or page title). Nothing
    changes when no such unit is found: the follow-up then says too little to tell.

    With a ``referent`` (``_referent``: the names the last answer gave, when the earlier user
    turns name nothing), the subject is what it names, and a unit about something else goes
    below the best one about it too: "he" is the person the answer named, not another.
    """
    own = frozenset(terms(question))
    named = frozenset(t for name in referent for t in terms(name)) - own
    earlier = (frozenset(terms(context)) | named) - own
    subject = named or subject_terms(context) or earlier
    if not earlier:
        return

    place = asks_place(question)

    def speaks(unit: Unit) -> bool:
        # its own words, or the kind of thing it asks for ("where" -> a place)
        return bool(unit.typed or own & unit.term_set or (place and names_place(unit.text)))

    scored = [u for u in units if u.score > 0]
    answering = [u for u in scored if subject & about_terms(u, passages) and speaks(u)]
    worded = [
        u
        for u in scored
        if (earlier & u.term_set and not speaks(u))
        or (named and not subject & about_terms(u, passages))
    ]
    if not answering or not worded:
        return
    top = max(u.score for u in answering)
    highest = max(u.score for u in worded)
    if highest < top:
        return
    # below the answering unit, in their own order
    scale = max(top - below, top / 2) / highest
    for unit in worded:
        unit.score *= scale


def _referent(question: str, context: str, reply: Sequence[str]) -> tuple[str, ...]:
    """What a follow-up's pronoun stands for when only the last answer named it: ``reply``
    (the names that answer gave, ``conversation.reply_names``) when the earlier user turns
    (``context``) and the follow-up itself name nothing ("where did he work before that?"
    after "who is the director?" / "The director is Ann Lee ..."); () otherwise. Only names
    are read from the answer, never what it says to do."""
    if not context or not reply or subject_terms(context) or names(question):
        return ()
    return tuple(reply)


def about_terms(unit: Unit, passages: Sequence[Passage]) -> frozenset[str]:
    """What a unit is about: the terms of its words, its heading, its lead-in and its page's
    title (a follow-up's subject may be named in any of them)."""
    heading = terms(f"{unit.context} {unit.lead} {passages[unit.passage].title}")
    return unit.term_set | frozenset(heading)


def _distinct(pool: Sequence[Unit]) -> list[Unit]:
    """The pool without units repeating another's words (the same fact on two pages)."""
    seen: list[str] = []
    out: list[Unit] = []
    for unit in pool:
        key = fold(re.sub(r"\W+", " ", unit.text)).strip()
        if any(key in s or s in key for s in seen):
            continue
        seen.append(key)
        out.append(unit)
    return out


def _list_block(
    unit: Unit,
    units: Sequence[Unit],
    question: str,
    params: Params,
    passages: Sequence[Passage] | None = None,
) -> list[Unit]:
    """The whole list or table containing ``unit`` (or introduced by it), usable items only;
    with ``passages``, continued across the chunks of its page that were retrieved."""
    if unit.kind in {"item", "row"}:
        block = [u for u in units if u.passage == unit.passage and u.block == unit.block]
    elif unit.text.endswith(":"):
        block = [
            u
            for u in units
            if u.passage == unit.passage and u.lead == unit.text and u.kind in {"item", "row"}
        ]
    else:
        return []
    block = [u for u in block if usable(u, params.scoring)]
    if block and passages is not None:
        block = _across_chunks(block, units, passages, params)
    if len(block) < 2 and not (unit.kind == "row" and not asks_for_several(question)):
        return []
    return block[: params.selection.max_list_items]


def _across_chunks(
    block: list[Unit], units: Sequence[Unit], passages: Sequence[Passage], params: Params
) -> list[Unit]:
    """The block with its continuation in another retrieved chunk of the same page: a list or
    table that ends its chunk goes on where a chunk of that page starts with items under the
    same heading (and one that starts its chunk, where one ends so); the rows two chunks
    share (their overlap) once."""
    by_passage: dict[int, list[Unit]] = {}
    for u in units:
        by_passage.setdefault(u.passage, []).append(u)
    own = by_passage.get(block[0].passage, [])
    source, heading = passages[block[0].passage].source_id, block[0].context
    texts = {u.text for u in block}

    def same_list(run: list[Unit]) -> bool:
        context = run[0].context
        return (
            run[0].kind == block[0].kind
            and bool(context)
            and (heading.startswith(context) or context.startswith(heading))
        )

    before: list[Unit] = []
    after: list[Unit] = []
    for i, theirs in by_passage.items():
        if i == block[0].passage or passages[i].source_id != source:
            continue
        first = [u for u in theirs if u.block == theirs[0].block and u.kind != "sentence"]
        last = [u for u in theirs if u.block == theirs[-1].block and u.kind != "sentence"]
        if own and own[-1] is block[-1] and first and same_list(first):
            after += [u for u in first if usable(u, params.scoring) and u.text not in texts]
        elif own and own[0] is block[0] and last and same_list(last):
            before += [u for u in last if usable(u, params.scoring) and u.text not in texts]
    return before + block + after


def list_neighbours(
    passages: Sequence[Passage], index: Sequence[Passage], positions: Mapping[str, int]
) -> list[Passage]:
    """The chunks of the index that continue a list or table a retrieved chunk cuts: the next
    chunk of its page when it ends with items and that chunk starts with some, and the chunk
    before when it starts with items (the index keeps each page's chunks in order;
    ``positions`` gives a passage's place in it by id)."""
    wanted = {p.id for p in passages}
    out: list[Passage] = []
    for i in sorted({positions[p.id] for p in passages if p.id in positions}):  # index order
        passage = index[i]
        units = split_units(passage, 0)
        if not units:
            continue
        around = []
        if units[-1].kind in {"item", "row"} and i + 1 < len(index):
            around.append((index[i + 1], 0))
        if units[0].kind in {"item", "row"} and i > 0:
            around.append((index[i - 1], -1))
        for other, edge in around:
            if other.source_id != passage.source_id or other.id in wanted:
                continue
            theirs = split_units(other, 0)
            if theirs and theirs[edge].kind in {"item", "row"}:
                wanted.add(other.id)
                out.append(other)
    return out


# "What/which [one or two words] <plural noun> ...": a question asking for several things of one
# kind ("What technology clusters is the district organised into?", "Which research areas does
# it work on?"); "che <plural noun> <verb>" in Italian ("Che prototipi sono stati sviluppati?").
# Grammar of the two languages, not topics: an English plural ends in -s (not -ss/-us/-is, and
# not an auxiliary verb), the words before it are not verbs or articles (then the plural is an
# object: "what does the ceramics studio make?"); an Italian masculine plural ends in -i.
_NOT_A_MODIFIER = (
    r"(?!(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|the|a|an)\b)"
)
_PLURAL_SUBJECT = re.compile(
    rf"(?:^|[.;:!?]\s*)(?:(?:what|which)\s+(?:{_NOT_A_MODIFIER}[\w-]+\s+){{0,2}}?"
    r"(?!(?:is|was|has|does|this|its|us|as|yes|his)\b)(?P<en>[\w-]*[^\Wsui]s)\b"
    r"|che\s+(?!(?:cosa|ci|si|mi|ti|vi|lui|lei)\b)(?P<it>\w{3,}i)\s+(?:sono|ci|si|hanno|ha|"
    r"vengono|posso|possono|offre|offrono|\w+(?:ano|ono))\b)",
    re.I,
)


def asks_for_several(question: str) -> bool:
    """The question asks for several things (``scoring.asks_for_list``'s wordings, or a
    what/which question whose subject is plural): a list that answers it is quoted whole."""
    return asks_for_list(question) or bool(_PLURAL_SUBJECT.search(question.strip()))


def asked_kind(question: str) -> frozenset[str]:
    """The terms of the plural a question asks for ("What technology clusters is ...?" ->
    the terms of "clusters"); empty when its wording names none."""
    found = _PLURAL_SUBJECT.search(question.strip())
    if found is None:
        return frozenset()
    return frozenset(terms(found.group("en") or found.group("it") or ""))


# A sentence that names several things itself: "A, B and C", "A, B e C" (the grammar of the
# two languages the site is written in, not topic words).
_ENUMERATION = re.compile(
    r"(?:^|[:–—]\s*)(?:[^,;:.]{1,40},\s*){2,}[^,;:.]{1,40}\s(?:and|e|ed)\s\w"
    r"|(?:^|[:–—]\s*)(?:[^;:.]{1,60};\s*){2,}[^;:.]{1,60}\.?$",  # or "A; B; C": semicolons
    re.I,
)


def enumerates(unit: Unit) -> bool:
    """Whether a sentence lists several things itself ("...: A, B, C and D": from its start,
    a colon or a dash, three or more short names separated by commas, the last joined by
    "and"/"e"; or three or more separated by semicolons, to its end)."""
    return unit.kind == "sentence" and bool(_ENUMERATION.search(unit.text))


def _list_answer(
    ranked: Sequence[Unit],
    pool: Sequence[Unit],
    units: Sequence[Unit],
    query: Query,
    passages: Sequence[Passage],
    params: Params,
    kind: frozenset[str] = frozenset(),
) -> list[Unit]:
    """The list that answers a list question, or [] when the best unit answers it alone.

    A best unit that is a sentence naming several things itself is the answer (another list
    of the page answers something else); so is the list right after the best sentence when
    its heading names the plural asked (``_list_after``), or the best unit alone when it
    holds the plural and names several (``_names_the_kind``); otherwise the list whose
    heading best names the question (``_best_list``). Tried and dropped: quoting the list
    the best unit belongs to (it lost lists whose heading names the question to a list
    holding one matching item).
    """
    headed = _under_best_headings(ranked, units)
    if ranked and enumerates(ranked[0]):
        # the best sentence names several things: it answers, unless a sentence naming
        # several things sits under a heading naming more of what is asked
        return _headed_enumeration(
            [u for u in headed if u is not ranked[0]],
            query,
            kind,
            _heading_share(ranked[0], query),
            loose=True,
        )
    if ranked:
        following = _list_after(ranked[0], units, query, passages, params, kind)
        if following:
            return following
        if _names_the_kind(ranked[0], kind):
            return [ranked[0]]
    return _best_list(pool, units, query, passages, params) or _headed_enumeration(
        headed, query, kind, loose=True
    )


def _under_best_headings(ranked: Sequence[Unit], units: Sequence[Unit]) -> list[Unit]:
    """The best units (``lead.TOP_UNITS``), then the other sentences under their headings:
    a sentence naming the things asked may share no word with the question, its heading
    does ("Malattie renali, trapianti, diabete, ..." under "Le ricerche")."""
    top = list(ranked[: lead.TOP_UNITS])
    headings = {(u.passage, u.context) for u in top if u.context}
    seen = {(u.passage, u.position) for u in top}
    return top + [
        u
        for u in units
        if u.kind == "sentence"
        and (u.passage, u.context) in headings
        and (u.passage, u.position) not in seen
    ]


def _headed_enumeration(
    ranked: Sequence[Unit],
    query: Query,
    kind: frozenset[str],
    above: float = 0.0,
    loose: bool = False,
) -> list[Unit]:
    """The sentence naming several things itself (``enumerates``) under a heading that names
    what is asked and carries more than ``above`` of the question's term weight ("Higher
    Education; Advanced Materials; ..." under "Technology clusters" for "what are the
    technology clusters?"): the list written as a sentence; the one whose heading carries
    most, then the best scored. [] when none. ``loose``: a series between commas names
    several too (``_comma_series``), when its items are too long for ``enumerates``
    ("Malattie renali e strategie per ritardare la dialisi, trapianti, ..." under "Le
    ricerche")."""
    found = [
        u
        for u in ranked
        if (enumerates(u) or (loose and _comma_series(u)))
        and _named_by_heading([u], query, kind)
        and _heading_share(u, query) > above
    ]
    if not found:
        return []
    return [max(found, key=lambda u: (_heading_share(u, query), u.score))]


def _comma_series(unit: Unit, commas: int = PARAMS.selection.series_commas) -> bool:
    """A sentence naming several things between ``commas`` commas or more (outside
    brackets), whatever their length: "Malattie renali e strategie per ritardare la dialisi,
    trapianti, diabete, malattie rare, ..."."""
    bare = re.sub(r"\([^()]*\)", "", unit.text)
    return unit.kind == "sentence" and bare.count(",") >= commas


def _heading_share(unit: Unit, query: Query) -> float:
    """The share of the question's term weight that a unit's heading and lead-in carry."""
    about = frozenset(terms(f"{unit.context} {unit.lead}"))
    return sum(w for t, w in query.weights.items() if t in about) / query.total


def _names_the_kind(unit: Unit, kind: frozenset[str]) -> bool:
    """A unit (sentence or list item) holding the plural asked and naming several things after
    commas ("Research institutions on campus – the Istituto Italiano di Tecnologia (JOiiNT
    LAB), ENEA, the University of Bergamo and ..."): it answers "which research institutions
    ...?" itself, where ``enumerates`` misses a long name. Not a table row: one row holding
    the plural ("...: SOM, cited among the campus architects") is a part of its table."""
    return unit.kind != "row" and bool(kind & unit.term_set) and unit.text.count(",") >= 2


def _topical(block: Sequence[Unit], query: Query, passages: Sequence[Passage]) -> float:
    """The share of the question's term weight that a list's heading, lead-in or page title
    carries: what the list is about (its items are often bare names)."""
    about = frozenset(
        terms(" ".join([block[0].context, block[0].lead, passages[block[0].passage].title]))
    )
    return sum(w for t, w in query.weights.items() if t in about) / query.total


def _named_by_heading(block: Sequence[Unit], query: Query, kind: frozenset[str]) -> bool:
    """The list's own heading or lead-in (not only its page's title) names the kind of thing
    asked (``asked_kind``), or, when the question's wording names none, carries a term of the
    question: a list headed "The clusters" answers "what clusters ...?", a timeline on the
    page the question names does not, nor a list of research areas "which research
    institutions ...?"."""
    heading = frozenset(terms(f"{block[0].context} {block[0].lead}"))
    return _share_a_word(heading, kind or frozenset(query.weights))


def _share_a_word(
    these: frozenset[str], those: frozenset[str], stem: int = PARAMS.selection.same_word_stem
) -> bool:
    """Two sets of terms share a word: the same stem, or one stem beginning with another of
    at least ``stem`` letters (a list headed "Architecture" names the architects asked for:
    the stemmer keeps the noun and the agent noun apart)."""
    if these & those:
        return True
    return any(
        len(short) >= stem and long.startswith(short)
        for a in these
        for b in those
        for short, long in ((a, b) if len(a) <= len(b) else (b, a),)
    )


def _named_list(
    ranked: Sequence[Unit],
    units: Sequence[Unit],
    query: Query,
    passages: Sequence[Passage],
    params: Params,
) -> list[Unit]:
    """The whole list one of the best units belongs to, when the question names that list's
    heading, every term of it ("The handbook has a checklist for new partners - what's on
    it?" and the items under "Checklist for new partners"): asked for by its name, a list is
    answered whole, whatever the wording ("what's on it?", "cosa si consiglia di vedere
    dall'esterno?"), unless an item holds what else the question asks (then that item is
    the answer). Items only (a table row's context holds its header too); [] when none of
    the ``params.selection.named_list_top`` best units is such an item."""
    asked = query.weights.keys()
    for unit in ranked[: params.selection.named_list_top]:
        if unit.kind != "item":
            continue
        heading = frozenset(t for t in terms(unit.context) if not t.isdigit())  # not "8."
        if not heading or not heading <= asked:
            continue
        block = _list_block(unit, units, "list", params, passages)
        # what the question says besides the list's heading and its page's title: held by
        # an item, it asks for that item ("Where did <heading> work before he became
        # director?" and the item "Director since 2017"), not for the list
        rest = asked - heading - frozenset(terms(passages[unit.passage].title))
        if len(block) >= 2 and not any(rest & u.term_set for u in block):
            return block
    return []


def _list_after(
    unit: Unit,
    units: Sequence[Unit],
    query: Query,
    passages: Sequence[Passage],
    params: Params,
    kind: frozenset[str] = frozenset(),
) -> list[Unit]:
    """The list or table right after the best unit when that unit is a sentence introducing
    it ("... organises its activities into technology clusters." then, under a heading, the
    clusters): the sentence, then the whole list. Only a list whose heading or lead-in names
    what is asked (``_named_by_heading``), or one the sentence announces (``announces``: "...
    runs two laboratories." then a table of two); [] otherwise."""
    if unit.kind != "sentence":
        return []
    after = [u for u in units if u.passage == unit.passage and u.position == unit.position + 1]
    if not after or after[0].kind not in {"item", "row"}:
        return []
    block = _list_block(after[0], units, "list", params, passages)
    if len(block) < 2:
        return []
    if not _named_by_heading(block, query, kind) and not announces(unit, len(block)):
        return []
    if block[0].lead == unit.text:
        return block  # the lead-in ("... include:") is shown above the list
    return [unit, *block]


# Words announcing the items that follow (EN and IT grammar, not topics): "the following",
# "as follows", "i seguenti", "tra cui", "ecco".
_ANNOUNCING = re.compile(
    r"\b(?:the\s+following|as\s+follows|seguent[ei]|tra\s+cui|fra\s+cui|ecco|"
    r"(?:listed|shown)\s+below|di\s+seguito)\b",
    re.I,
)
# Number words two to twenty, EN and IT, as ``_FIGURE`` reads them.
_NUMBER_WORDS = {
    word: n
    for words in (
        "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty",
        "due tre quattro cinque sei sette otto nove dieci undici dodici tredici quattordici "
        "quindici sedici diciassette diciotto diciannove venti",
    )
    for n, word in enumerate(words.split(), start=2)
}


def announces(unit: Unit, items: int) -> bool:
    """A sentence announcing the ``items`` items that follow it: it ends with a colon, says
    "the following" / "tra cui", or states their number ("runs two laboratories" before a
    table of two; not a part of a whole, "two of the labs")."""
    text = unit.text.strip()
    if text.endswith(":") or _ANNOUNCING.search(text):
        return True
    for found in _FIGURE.finditer(text):
        if _PARTITIVE.match(text, found.end()):
            continue
        word = found.group(0).lower()
        if _NUMBER_WORDS.get(word, int(word) if word.isdigit() else 0) == items:
            return True
    return False


def _best_list(
    pool: Sequence[Unit],
    units: Sequence[Unit],
    query: Query,
    passages: Sequence[Passage],
    params: Params,
) -> list[Unit]:
    """The list or table that best answers a list question.

    A list is about the question when its heading, lead-in or page title carries the
    question's terms (items themselves are often bare names); its items' scores come next.
    A list whose own heading and lead-in carry none of them is never taken (``[]`` when no
    list is left).
    """
    limits = params.selection
    best: list[Unit] = []
    best_score = 0.0
    seen: set[tuple[int, int]] = set()
    for unit in pool:
        key = (unit.passage, unit.block)
        if unit.kind not in {"item", "row"} or key in seen:
            continue
        seen.add(key)
        block = _list_block(unit, units, "list", params, passages)
        if len(block) < 2:
            continue
        if not _named_by_heading(block, query, frozenset()):
            # a list whose heading and lead-in share no term with the question answers
            # something else (the page's menu, a timeline holding one name asked for)
            continue
        topical = _topical(block, query, passages)
        mean = sum(u.score for u in block) / len(block)
        # A list question wants the fuller list (a chunk may hold only a table's tail).
        score = (
            topical
            + limits.list_mean_weight * mean
            + limits.list_best_weight * max(u.score for u in block)
            + limits.list_item_bonus * min(len(block), limits.list_items_counted)
        )
        if score > best_score:
            best, best_score = block, score
    return best


# "How many ...?" in English and Italian (grammar, not topics).
_COUNT_CUE = re.compile(r"\b(how\s+many|number\s+of|quant[ie]|quante)\b", re.I)
# A figure: a number that is not a year, or a number word (two to twenty, EN and IT).
_FIGURE = re.compile(
    r"\b(?!(?:19|20)\d\d\b)\d+\b|\b(two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|due|tre|"
    r"quattro|cinque|sei|sette|otto|nove|dieci|undici|dodici|tredici|quattordici|quindici|"
    r"sedici|diciassette|diciotto|diciannove|venti)\b",
    re.I,
)


def asks_count(question: str) -> bool:
    """The question asks how many of something there are."""
    return bool(_COUNT_CUE.search(question))


# A figure followed by a partitive counts a part ("two of the clusters", "due dei cluster").
_PARTITIVE = re.compile(r"\s+(?:of|dei|degli|delle|tra|fra)\b", re.I)


# A sum and a size as pages state them, and the bare figure a count is: an answer type whose
# evidence holds the first two and not the third asks for a measure (cost, area, length).
_MEASURED = ("1.5 million euro", "13,000 m²")
_BARE = "13,000"


def asks_measure(question: str) -> bool:
    """The question asks for a sum of money or a size ("how much is the investment?", "how
    big is it?"): an answer type of ``scoring.ANSWER_TYPES`` whose evidence is a figure with
    its unit, not a bare number (a count) or a date."""
    return any(
        any(e.search(x) for x in _MEASURED) and not e.search(_BARE) for e in answer_types(question)
    )


def states_figure(chosen: Sequence[Unit]) -> bool:
    """Some chosen unit states a figure (a number not a year, or a number word) that is not
    a part of a whole ("two of the clusters" does not say how many there are)."""
    return any(
        not _PARTITIVE.match(u.text, found.end())
        for u in chosen
        for found in _FIGURE.finditer(u.text)
    )


def _counted_term(question: str) -> str:
    """What a "how many X?" question counts: the first term after the cue ("quanti [sono i]
    cluster", "how many research centres"); '' when none."""
    cue = _COUNT_CUE.search(question)
    found = terms(question[cue.end() :])[:1] if cue else []
    return found[0] if found else ""


# A word that may stand between a figure and what it counts ("three multi-tenant buildings"):
# letters and hyphens only (not a unit such as "m²", not a word closing a clause).
_MODIFIER = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def counts(unit: Unit, counted: str) -> bool:
    """The unit gives a figure of ``counted`` (a term): a number (not a year) or a number word
    followed by it, at most two plain words between ("14 organisations", "tre edifici", "the
    three multi-tenant buildings"), or a table row stating a figure under a header naming it;
    not a part of a whole ("two of the clusters"), nor a figure of something else ("2,000 m²
    for the buildings fair")."""
    for found in _FIGURE.finditer(unit.text):
        rest = unit.text[found.end() :]
        if _PARTITIVE.match(rest):
            continue
        if unit.kind == "row" and counted in terms(unit.context):
            return True  # a table of counts: "2025: 77" under the header "Member companies"
        for word in rest.split()[:3]:
            if counted in terms(word):
                return True
            if not _MODIFIER.fullmatch(word):
                break
    return False


def _counted_list(
    question: str,
    pool: Sequence[Unit],
    units: Sequence[Unit],
    query: Query,
    passages: Sequence[Passage],
    params: Params,
) -> list[Unit]:
    """For "how many X?" that no retrieved sentence answers with a figure: the list of X the
    sources give, to count, when its heading, lead-in or page title names what is counted
    (the first term of the question after "how many"); [] otherwise, or when the list may be cut
    (``max_list_items``)."""
    # what is counted: the first term after the cue, not later ones ("quanti posti auto ci
    # sono nel parcheggio" counts places, and a list under "parcheggio" does not list them)
    counted = {_counted_term(question)} - {""}
    block = _best_list(pool, units, query, passages, params)
    if not counted or len(block) < 2 or len(block) >= params.selection.max_list_items:
        return []
    about = set(
        terms(" ".join([block[0].context, block[0].lead, passages[block[0].passage].title]))
    )
    return block if counted & about else []


def _group(chosen: Sequence[Unit]) -> list[tuple[int, str, list[Unit]]]:
    """Keep the chosen order (the lead first); items of one list stay together under their
    lead-in, in the list's order."""
    groups: list[tuple[int, str, list[Unit]]] = []
    for unit in chosen:
        if unit.kind in {"item", "row"}:
            for passage, _, members in groups:
                if (
                    passage == unit.passage
                    and members[-1].kind in {"item", "row"}
                    and members[-1].block == unit.block
                ):
                    members.append(unit)
                    members.sort(key=lambda u: u.position)
                    break
            else:
                groups.append((unit.passage, unit.lead, [unit]))
            continue
        groups.append((unit.passage, "", [unit]))
    return groups
