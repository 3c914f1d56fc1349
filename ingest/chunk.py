"""Split a page into structure-aware chunks with stable ids.

Sections follow the Markdown headings; consecutive short sections are packed together up to
``chunk_size`` characters, and a long section is split on paragraphs, lines and then sentence
ends, with ``chunk_overlap`` characters shared between its pieces. Every chunk's text starts with
the page title and the heading path, because that prefix measurably improves retrieval.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter
from langchain_text_splitters.markdown import ExperimentalMarkdownSyntaxTextSplitter

from ingest.dates import chunk_metadata as date_metadata
from ingest.dates import find_dates as date_mentions
from ingest.dates import words_besides
from ingest.records import Chunk, Page
from vectorstore.text import BREAK, chunk_text

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
# Paragraphs, then lines (lists, table rows), then sentence ends, then words: never mid-word.
_SEPARATORS = [r"\n\n", r"\n", BREAK, r"\s+"]
_HEADING_LINE = re.compile(r"^#{1,6}\s+(.*)$")


@dataclass
class _Section:
    path: list[str]
    body: str


def heading_path(metadata: dict[str, str], title: str) -> list[str]:
    """Headings above a section, without a top heading that repeats the page title."""
    path = [metadata[key] for _, key in _HEADERS if metadata.get(key)]
    if path and _same(path[0], title):
        path = path[1:]
    return path


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _sections(page: Page) -> list[_Section]:
    splitter = ExperimentalMarkdownSyntaxTextSplitter(
        headers_to_split_on=_HEADERS, strip_headers=False
    )
    sections = []
    for doc in splitter.split_text(page.text):
        body = doc.page_content.strip()
        first, _, rest = body.partition("\n")
        match = _HEADING_LINE.match(first)
        if match and _same(match.group(1), page.title):
            body = rest.strip()  # the title is already in every chunk's prefix
        if body:
            sections.append(_Section(heading_path(doc.metadata, page.title), body))
    return sections


# A line above a heading that is a date and little else ("Friday 4 December 2026, 09:30" over
# "## Hackathon") is that heading's: at most this many words besides the date (the bound of
# assistant.params' TimelineParams.label_words, which reads such a line back as a label).
_KICKER_WORDS = 6


def _kicker(body: str) -> tuple[str, str]:
    """(the body without it, its last line) when the body ends with a short dated line."""
    head, _, last = body.rpartition("\n\n")
    if "\n" in last.strip() or _HEADING_LINE.match(last.strip()):
        return body, ""
    mentions = date_mentions(last)
    if not mentions or words_besides(last, mentions) > _KICKER_WORDS:
        return body, ""
    return head.strip(), last.strip()


def _carry_kickers(sections: list[_Section]) -> list[_Section]:
    """A section ending with a short dated line gives that line to the next section, before
    its heading: the date belongs to what the heading names, and a chunk boundary between
    the two sections would cut the event from its date."""
    out: list[_Section] = []
    carried = ""
    for number, section in enumerate(sections):
        body = f"{carried}\n\n{section.body}" if carried else section.body
        carried = ""
        if number + 1 < len(sections):
            rest, line = _kicker(body)
            if line:
                body, carried = rest, line
        if body:
            out.append(_Section(section.path, body))
    return out


def _pack(sections: list[_Section], size: int, overlap: int) -> list[_Section]:
    """Pack short neighbouring sections together; split long ones with overlap."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=overlap,
        separators=_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
    )
    packed: list[_Section] = []
    current: _Section | None = None
    for section in sections:
        if len(section.body) > size:
            if current:
                packed.append(current)
                current = None
            packed.extend(
                _Section(section.path, piece) for piece in splitter.split_text(section.body)
            )
            continue
        if current and len(current.body) + 2 + len(section.body) <= size:
            current.body = f"{current.body}\n\n{section.body}"
        else:
            if current:
                packed.append(current)
            current = _Section(list(section.path), section.body)
    if current:
        packed.append(current)
    return packed


def _without_leading_heading(body: str, path: list[str]) -> str:
    """Drop the section's own heading line: the prefix already carries the heading path."""
    first, _, rest = body.partition("\n")
    match = _HEADING_LINE.match(first)
    if match and path and _same(match.group(1), path[-1]) and rest.strip():
        return rest.strip()
    return body


def chunk_id(text: str, metadata: dict[str, str | int | float | bool]) -> str:
    """Stable id: the same content with the same metadata from the same source, the same id."""
    payload = json.dumps({"text": text, "metadata": metadata}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


def chunk_page(page: Page, size: int = 1000, overlap: int = 150) -> list[Chunk]:
    """Chunks of a page, each prefixed with its title and heading path.

    A chunk whose text repeats an earlier one of the same page is stored once: a page of one
    repeated word would otherwise give thousands of identical chunks.
    """
    chunks: list[Chunk] = []
    texts: set[str] = set()
    for section in _pack(_carry_kickers(_sections(page)), size, overlap):
        heading = " > ".join(section.path)
        body = _without_leading_heading(section.body, section.path)
        text = chunk_text(page.title, heading, body)
        if text in texts:
            continue
        texts.add(text)
        index = len(chunks)
        metadata: dict[str, str | int | float | bool] = {
            "source": page.source_id,
            "url": page.url,
            "title": page.title,
            "language": page.language,
            "page_type": page.page_type,
            "heading": heading,
            "chunk_index": index,
            "date": page.date,
            "description": page.description[:300],
            "alternates": json.dumps(page.alternates, sort_keys=True) if page.alternates else "",
            **date_metadata(text),  # the dates the text states (ingest.dates)
        }
        chunks.append(Chunk(id=chunk_id(text, metadata), text=text, metadata=metadata))
    return chunks
