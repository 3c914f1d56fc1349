"""Extraction: a RawDocument's bytes -> a Page (clean main content plus metadata).

``extract(raw, options)`` is a pure function of the RawDocument. It never touches the network
or the disk, so the same bytes always give the same Page. It chains small steps, one module
each:

1. ``ingest.decode``: bytes -> text (declared charset, ``<meta charset>``, UTF-8, detection);
2. ``ingest.hidden``: drop comments, scripts and every element a reader cannot see;
3. ``ingest.chrome``: drop generic site chrome (menus, header/footer, sidebars, banners);
   when asked, ``ingest.directory_extract`` then reads the partner directory entries from
   this cleaned tree (the page is parsed once for both);
4. ``ingest.metadata``: title, description, language, canonical URL, page type, date;
5. ``ingest.markdown``: the main content as Markdown (trafilatura);
6. ``ingest.documents``: Markdown, text and PDF files.

Before any tree is built, an HTML page over the element budget is refused; every kind of
document is refused over the text budget (``ExtractOptions``).

Errors::

    ExtractionError(reason)   the document gives no usable text (binary junk, encrypted or
                              corrupt PDF, no main content) or is over a budget; the run
                              skips it with the reason
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from bs4 import BeautifulSoup

from ingest.chrome import remove_chrome
from ingest.decode import decode_text, looks_binary
from ingest.directory import DirectoryOptions, location_key
from ingest.directory_extract import page_entries, read_directory
from ingest.documents import (
    MIN_TEXT_CHARS,
    _check_text_budget,
    _extract_markdown,
    _extract_pdf,
    _extract_text,
    _first_line,
    _letters,
    _reader_url,
)
from ingest.dom import _Tags
from ingest.hidden import css_rules, hidden_reason, parse_declarations, remove_hidden
from ingest.language import _choose_language, _own_hreflang
from ingest.markdown import dechromed_markdown, html_to_markdown, tidy_markdown
from ingest.metadata import _guessed_date, _html_metadata, iso_date, page_type_from_url
from ingest.records import ExtractionError, ExtractOptions, Page, RawDocument

log = logging.getLogger(__name__)

__all__ = [
    "ExtractOptions",
    "ExtractionError",
    "MIN_TEXT_CHARS",
    "css_rules",
    "decode_text",
    "extract",
    "hidden_reason",
    "html_to_markdown",
    "iso_date",
    "looks_binary",
    "page_type_from_url",
    "parse_declarations",
    "remove_chrome",
    "remove_hidden",
    "tidy_markdown",
]


_START_TAG = re.compile(r"<[A-Za-z]")


def extract(
    raw: RawDocument,
    options: ExtractOptions | None = None,
    directory: DirectoryOptions | None = None,
) -> Page:
    """Turn one raw document into a Page; raise ExtractionError with a reason when it cannot.

    A document over one of the ``options`` budgets (elements, text length) is refused with
    a reason starting "over budget". With ``directory`` options, an HTML page's partner
    directory entries are read from the same cleaned tree (``Page.directory``).
    """
    options = options or ExtractOptions()
    if not raw.content:
        raise ExtractionError("empty")
    if raw.kind == "html":
        return _extract_html(raw, options, directory)
    if raw.kind == "pdf":
        return _extract_pdf(raw, options)
    if raw.kind == "markdown":
        return _extract_markdown(raw, options)
    if raw.kind == "text":
        return _extract_text(raw, options)
    raise ExtractionError(f"unsupported kind {raw.kind!r}")


def _extract_html(
    raw: RawDocument, options: ExtractOptions, directory: DirectoryOptions | None
) -> Page:
    html = decode_text(raw.content, raw.charset, sniff_meta=True)
    if "\ufffd" in html[:2000] and html.count("\ufffd") > len(html) // 10:
        raise ExtractionError("not text (undecodable bytes)")
    # Counted on the text, before any tree is built: the tree is what costs memory.
    elements = sum(1 for _ in _START_TAG.finditer(html))
    if elements > options.max_elements:
        raise ExtractionError(
            f"over budget: {elements:,} HTML elements (limit {options.max_elements:,})"
        )
    soup = BeautifulSoup(html, "lxml")
    tags = _Tags(soup)
    meta = _html_metadata(tags, raw, options)
    remove_hidden(soup, tags)
    from_web = raw.location.startswith(("http://", "https://"))
    url = meta.canonical or (raw.location if from_web else None)
    remove_chrome(soup, tags)
    # The directory reads the tree as a reader sees it, before the Markdown step rewrites it.
    reading = read_directory(tags, location_key(raw), directory) if directory is not None else None
    text, cleaned = dechromed_markdown(soup, tags, url)
    if _letters(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no main content")
    _check_text_budget(text, options)
    date = (
        meta.date
        or _guessed_date(cleaned, url or "", article=meta.page_type == "news")
        or (iso_date(raw.last_modified or "") if from_web else "")
    )
    title = meta.title or _first_line(text)
    page = Page(
        source_id=meta.canonical or raw.fallback_id,
        url=meta.canonical or _reader_url(raw),
        title=title,
        text=text,
        language=_choose_language(
            meta.language, text, options, _own_hreflang(meta.alternates, url or "")
        ),
        description=meta.description,
        page_type=meta.page_type,
        date=date,
        alternates=meta.alternates,
    )
    return replace(page, directory=page_entries(reading, page)) if reading is not None else page
