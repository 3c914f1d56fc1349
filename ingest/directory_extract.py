"""Extraction of the partner directory: one entry per organisation a page lists or describes.

It runs inside the extraction step (``ingest.extract.extract(raw, directory=options)``), on
the same tree the Markdown step reads: after hidden text and site chrome are removed, before
that step rewrites the tree. So it shares the extraction worker's CPU and memory budget and
the page is parsed once. It never raises on odd markup (a malformed table gives fewer
entries, not an error) and keeps at most ``DirectoryOptions.max_entries`` per page.

Two phases, because the page's language is known only once its text is extracted:

1. ``read_directory(tags, key, options)``: the readers (``ingest.directory_tables``,
   ``ingest.directory_blocks``) find tables, definition lists, link lists, cards and the
   page's own label:value facts;
2. ``page_entries(reading, page)``: the entries stamped with the page's URL and language,
   a ``page`` entry when the page describes one organisation with its facts, and the page's
   ``stub`` (title, URL, language, hreflang alternates), so that the served directory can
   link an entry to the organisation's own page and its language versions (see
   assistant/directory.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bs4 import Tag

from ingest.directory import DirectoryEntry, DirectoryOptions
from ingest.directory_blocks import card_entries, dl_entries, list_entries, page_facts
from ingest.directory_labels import MAX_NAME_CHARS, new_entry, tag_text
from ingest.directory_tables import table_entries
from ingest.dom import _Tags
from ingest.records import Page

log = logging.getLogger(__name__)

_PAGE_FACTS = ("sector", "building", "since")


@dataclass(frozen=True)
class DirectoryReading:
    """What the readers found on one cleaned page, before the page's identity is known."""

    key: str  # location key of the page (ingest.directory.location_key)
    entries: list[DirectoryEntry]  # rows and groups, in reading order
    facts: dict[str, str]  # the page's own label:value facts
    heading: str  # the page's h1 text ('' when it has none)
    options: DirectoryOptions


def read_directory(tags: _Tags, key: str, options: DirectoryOptions) -> DirectoryReading:
    """Read every directory structure of a page cleaned of hidden text and chrome.

    Reads only: the tree is left as it is for the next extraction step.
    """
    entries: list[DirectoryEntry] = []
    facts: dict[str, str] = {}
    seen: set[int] = set()
    for number, table in enumerate(tags.named("table"), start=1):
        found = _safely(table_entries, table, number, key, options)
        if found:
            seen.update(id(t) for t in table.descendants if isinstance(t, Tag))
        entries += found
    for number, dl in enumerate(tags.named("dl"), start=1):
        try:
            found, box = dl_entries(dl, number, key, options)
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            log.debug("%s: definition list %d skipped: %s", key, number, exc)
            continue
        entries += found
        for kind, value in box.items():
            facts.setdefault(kind, value)
        seen.update(id(t) for t in dl.descendants if isinstance(t, Tag))
        seen.add(id(dl))
    for number, lst in enumerate(tags.named("ul", "ol"), start=1):
        if id(lst) not in seen:
            found = _safely(list_entries, lst, number, key, options)
            if found:
                seen.update(id(t) for t in lst.descendants if isinstance(t, Tag))
                seen.add(id(lst))
            entries += found
    try:
        entries += card_entries(tags, key, options, seen)
        for kind, value in page_facts(tags, options).items():
            facts.setdefault(kind, value)
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        log.debug("%s: blocks skipped: %s", key, exc)
    h1 = tags.first("h1")
    heading = tag_text(h1, MAX_NAME_CHARS + 1) if h1 is not None else ""
    return DirectoryReading(key, entries, facts, heading, options)


def page_entries(reading: DirectoryReading, page: Page) -> tuple[DirectoryEntry, ...]:
    """The page's directory entries: what was read, its ``page`` entry if any, its stub."""
    entries = [replace(e, url=page.url, language=page.language) for e in reading.entries]
    name = _page_name(reading.heading, page)
    rows = [e for e in entries if e.kind == "row"]
    described = {k: v for k, v in reading.facts.items() if k in _PAGE_FACTS}
    if len(described) >= 2 and len(rows) < reading.options.min_items:
        # A page describing one organisation (its facts), not a listing.
        entries.append(
            _own_entry(
                reading.key,
                page,
                "page",
                name,
                description=reading.facts.get("description") or page.description,
                where="label:value pairs",
                **described,
            )
        )
    entries.append(
        _own_entry(
            reading.key,
            page,
            "stub",
            name,
            description=page.description,
            where="page",
            group=page.title,
            # an organisation's own page stating only its arrival ("Insediata ad aprile
            # 2026") gives it to the listing's row that links here (directory_merge)
            since=reading.facts.get("since", "") if len(rows) < reading.options.min_items else "",
        )
    )
    return tuple(_dedupe(entries)[: reading.options.max_entries + 1])


def _own_entry(key: str, page: Page, kind: str, name: str, **values: object) -> DirectoryEntry:
    """An entry for the page itself: with its URL, language and language versions."""
    return new_entry(
        key,
        kind,
        name,
        url=page.url,
        language=page.language,
        alternates=dict(page.alternates),
        **values,
    )


def _page_name(heading: str, page: Page) -> str:
    """The page's h1, or the first part of its title when the h1 is missing or too long."""
    name = heading
    if not name or len(name) > MAX_NAME_CHARS:
        name = page.title.split(" | ")[0].strip()
    return name[:MAX_NAME_CHARS]


def _safely(function: Callable[..., list[DirectoryEntry]], *args: object) -> list[DirectoryEntry]:
    """``function(*args)``, or no entries (with a debug log) when odd markup trips it."""
    try:
        return function(*args)
    except (ValueError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        log.debug("directory structure skipped: %s", exc)
        return []


def _dedupe(entries: Iterable[DirectoryEntry]) -> list[DirectoryEntry]:
    """The first entry of each (kind, name, target)."""
    out: dict[tuple[str, str, str], DirectoryEntry] = {}
    for entry in entries:
        out.setdefault((entry.kind, entry.name.lower(), entry.target), entry)
    return list(out.values())
