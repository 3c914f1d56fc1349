"""Quotable units: a retrieved passage cut into sentences, list items and table rows.

``split_units`` reads a chunk's Markdown body (``body_of``: without the title and heading path
the chunker puts first) line by line: headings become the local context of what follows, list
items and table rows keep their block, their header and the sentence that leads into them (a
line right after an item goes on with it, as Markdown reads a wrapped item), and paragraphs are
cut into sentences (the text toolkit's ``split_sentences``: the sentence ends of
every script, an HTML comment apart, common abbreviations kept whole). On FAQ pages a question
is not a unit but what the next units answer (``Unit.asked``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vectorstore.passages import Passage
from vectorstore.text import chunk_body, ends_as_question, split_sentences


@dataclass
class Unit:
    """A quotable piece of a passage: a sentence, a list item or a table row."""

    passage: int  # index into the passage list
    position: int  # order inside the passage
    text: str
    kind: str  # "sentence" | "item" | "row"
    block: int  # consecutive items/rows of one list or table share a block
    context: str = ""  # local heading, table header or list lead-in: scored, not quoted
    lead: str = ""  # the sentence introducing a list ("The campus includes:")
    asked: str = ""  # the FAQ question this unit answers, if any
    score: float = 0.0
    cosine: float = 0.0  # e5 cosine with the question (when the scorer has a similarity)
    typed: bool = False  # holds the kind of thing asked for (a date for "when")
    term_set: frozenset[str] = field(default_factory=frozenset)


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|`)")
# A backslash escape of CommonMark (trafilatura writes ``ALBINI\\_next``): the character alone.
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
# A Markdown heading line ("## Services"); also read by ``prompts`` to cut passages the same way.
HEADING = re.compile(r"^\s*#{1,6}\s+")


def clean_inline(text: str) -> str:
    """Markdown inline markup to plain text."""
    escaped: list[str] = []  # escaped characters are text, never markup: set aside first

    def set_aside(match: re.Match[str]) -> str:
        escaped.append(match.group(1))
        return f"\x00{len(escaped) - 1}\x00"

    text = _MD_ESCAPE.sub(set_aside, text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPH.sub("", text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: escaped[int(m.group(1))], text)
    return re.sub(r"\s+", " ", text).strip()


def body_of(passage: Passage) -> str:
    """The chunk text without its "<title>\\n<heading path>\\n\\n" prefix."""
    return chunk_body(passage.text, passage.title, passage.heading)


def _row_cells(line: str) -> list[str]:
    return [clean_inline(c) for c in line.strip().strip("|").split("|")]


def _row_text(cells: list[str]) -> str:
    """A table row as a unit: "first cell: the others" ('' when every cell is empty)."""
    shown = [c for c in cells if c and c not in {"-", "–"}]
    return shown[0] + (": " + ", ".join(shown[1:]) if len(shown) > 1 else "") if shown else ""


def _data_first_row(cells: list[str]) -> bool:
    """A two-column table's first row that states a number ("Resident companies | 58") is a
    label and its value, not a header: Markdown gives every table a header row, and a table
    of labels and values has none ("Indicator | Value" states no number)."""
    return len(cells) == 2 and bool(cells[0]) and any(c.isdigit() for c in cells[1])


def split_units(passage: Passage, index: int) -> list[Unit]:
    """Cut one passage into quotable units, remembering lists, tables and local headings."""
    units: list[Unit] = []
    heading = passage.heading.split(">")[-1].strip() if passage.heading else ""
    block = 0
    header: list[str] = []
    previous_kind = ""
    paragraph: list[str] = []
    last_sentence = ""

    def flush_paragraph() -> None:
        nonlocal paragraph, last_sentence
        if not paragraph:
            return
        for sentence in split_sentences(clean_inline(" ".join(paragraph))):
            units.append(Unit(index, len(units), sentence, "sentence", -1, heading))
            last_sentence = sentence
        paragraph = []

    lines = body_of(passage).split("\n")
    for number, line in enumerate(lines):
        kind, text = line_unit(line)
        if kind == "blank":
            flush_paragraph()
            previous_kind = ""
            continue
        if kind == "heading":
            flush_paragraph()
            heading = clean_inline(HEADING.sub("", text))
            last_sentence = ""
            previous_kind = "heading"
            continue
        if kind in {"separator", "row"}:
            flush_paragraph()
            if kind == "separator":
                continue
            if previous_kind != "row":
                block += 1
                previous_kind = "row"
                following = lines[number + 1].strip() if number + 1 < len(lines) else ""
                if _TABLE_SEP.match(following) and not _data_first_row(_row_cells(line)):
                    header = _row_cells(line)  # a header row is followed by |---|
                    continue
                header = []
            if not text:
                continue
            context = " ".join([heading, *header])
            lead = last_sentence if last_sentence.endswith(":") else ""
            units.append(Unit(index, len(units), text, "row", block, context, lead))
            continue
        if kind == "item":
            flush_paragraph()
            if previous_kind != "item":
                block += 1
            lead = last_sentence if last_sentence.endswith(":") else ""
            units.append(Unit(index, len(units), text, "item", block, heading, lead))
            previous_kind = "item"
            continue
        if previous_kind == "item" and units and units[-1].kind == "item":
            # a line right after an item, with no blank line between, goes on with it
            # (Markdown's lazy continuation: a plain-text list wraps its items so)
            units[-1].text = f"{units[-1].text} {clean_inline(text)}"
            continue
        if previous_kind in {"item", "row"}:
            flush_paragraph()
        paragraph.append(text)
        previous_kind = "text"
    flush_paragraph()
    return _questions_as_context([u for u in units if len(u.text) >= 3])


def _questions_as_context(units: list[Unit]) -> list[Unit]:
    """FAQ pages: a question is never an answer, but it says what the next units answer."""
    out: list[Unit] = []
    asked = ""
    for unit in units:
        if ends_as_question(unit.text):
            asked = unit.text
            continue
        if asked:
            unit.asked = asked
            # an answer runs until the next question or the end of its list item/paragraph
        out.append(unit)
    return out


def embedding_text(unit: Unit) -> str:
    """What is embedded for a unit: a bare list item or table row gets its heading/lead-in."""
    if unit.kind in {"item", "row"}:
        about = unit.lead or unit.context
        return f"{about}: {unit.text}" if about else unit.text
    return unit.text


def line_unit(line: str) -> tuple[str, str]:
    """How ``split_units`` reads one line of a body (``prompts.withhold`` reads it the same
    way): its kind ("blank", "heading", "separator", "row", "item" or "text") and the unit
    text of a row or an item (else the stripped line)."""
    stripped = line.strip()
    if not stripped:
        return "blank", ""
    if HEADING.match(stripped):
        return "heading", stripped
    if stripped.startswith("|") and stripped.count("|") >= 2:
        if _TABLE_SEP.match(stripped):
            return "separator", stripped
        return "row", _row_text(_row_cells(stripped))
    if _LIST_ITEM.match(stripped):
        return "item", clean_inline(_LIST_ITEM.sub("", stripped))
    return "text", stripped
