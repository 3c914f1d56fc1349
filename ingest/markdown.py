"""Extraction step 5, HTML to Markdown: trafilatura picks the main content of the cleaned
page and renders headings, lists and tables.

Before it, wrappers nested deeper than libxml2 reads are unwrapped and blocks with thousands of
inline elements lose their inline markup (trafilatura's Markdown writer is quadratic in them).
"""

from __future__ import annotations

import re
from functools import lru_cache

from bs4 import BeautifulSoup, Tag
from lxml.html import HtmlElement

from ingest.chrome import remove_chrome
from ingest.dom import _Tags
from ingest.hidden import remove_hidden
from vectorstore.text import ends_as_question

# libxml2 (under lxml, trafilatura and htmldate) silently drops what lies deeper than 255
# elements; deeper wrappers are unwrapped before the page reaches it, keeping their text.
_MAX_DEPTH = 200


_BLOCKS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "td",
    "th",
    "pre",
    "blockquote",
    "main",
    "article",
    "section",
}


# trafilatura's Markdown output costs memory quadratic in the inline elements of one block
# (20,000 <i> in a paragraph: 0.47 GB; 60,000: 3.6 GB, measured); past this many, a block's
# inline markup is dropped and its text kept.
_MAX_INLINE_PER_BLOCK = 200


_INLINE = {
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "del",
    "em",
    "font",
    "i",
    "ins",
    "kbd",
    "mark",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "tt",
    "u",
}


@lru_cache(maxsize=1)
def _trafilatura_config():  # type: ignore[no-untyped-def]
    from trafilatura.settings import use_config

    config = use_config()
    # Short pages (opening hours, a contact card) are content too; the pre-clean has
    # already removed the chrome trafilatura would otherwise fall back to.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "40")
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "10")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def _strip_heavy_inline(tree: HtmlElement) -> None:
    """Drop the inline markup (keeping the text) of blocks that hold too much of it."""
    from lxml import etree

    counts: dict[HtmlElement, int] = {}
    for element in tree.iter(*_INLINE):
        block = element.getparent()
        while block is not None and block.tag in _INLINE:
            block = block.getparent()
        if block is not None:
            counts[block] = counts.get(block, 0) + 1
    for block, count in counts.items():
        if count > _MAX_INLINE_PER_BLOCK:
            etree.strip_tags(block, *_INLINE)
            # strip_tags leaves one text node per removed tag, and lxml joins them on every
            # read of .text (trafilatura reads often: quadratic); set once, they are one.
            for element in block.iter():
                element.text = element.text
                if element is not block:
                    element.tail = element.tail


def _trafilatura(html: str, url: str | None, *, recall: bool) -> str:
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return ""
    _strip_heavy_inline(tree)
    text = trafilatura.extract(
        tree,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_formatting=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_recall=recall,
        favor_precision=not recall,
        config=_trafilatura_config(),
    )
    return text or ""


_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")


def tidy_markdown(text: str) -> str:
    """Trim spaces (source indentation would read as code blocks) and runs of blank lines."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.rstrip()
        lines.append(line if _LIST_ITEM.match(line) else line.lstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_markdown(html: str, url: str | None = None) -> str:
    """Main content of an HTML page as Markdown, hidden text and site chrome removed."""
    soup = BeautifulSoup(html, "lxml")
    tags = _Tags(soup)
    remove_hidden(soup, tags)
    remove_chrome(soup, tags)
    return dechromed_markdown(soup, tags, url)[0]


def dechromed_markdown(soup: BeautifulSoup, tags: _Tags, url: str | None) -> tuple[str, str]:
    """(Markdown of the main content, cleaned HTML) of a page whose chrome is already removed.

    Rewrites ``soup`` (captions, a ``<main>`` wrapper, deep wrappers unwrapped): a step that
    reads the cleaned tree (the partner directory) runs before this one.
    """
    for caption in tags.named("caption"):
        # trafilatura renders a caption as a fake first table row; a paragraph reads better.
        table = caption.find_parent("table")
        if table is not None:
            paragraph = soup.new_tag("p")
            paragraph.string = caption.get_text(" ", strip=True)
            table.insert_before(paragraph)
        caption.decompose()
    for term in tags.named("dt"):
        _join_short_value(term)
    for stamp in tags.named("time"):
        # trafilatura deletes <time> with its text ("Survey of <time>30 June 2026</time>: 1,420
        # people" became "Survey of : 1,420 people"): the date a page states is content.
        stamp.unwrap()
    body = tags.first("body")
    live = tags.live()
    if body is not None and not any(
        t.name in ("main", "article") or str(t.get("role", "")).lower() in ("main", "article")
        for t in live
    ):
        # Without a content container trafilatura falls back to collecting loose
        # paragraphs and loses headings and lists (measured); a <main> around the body
        # keeps them, and its link-density pruning still drops sidebars.
        main = soup.new_tag("main")
        for child in list(body.contents):
            main.append(child.extract())
        body.append(main)
    _flatten_deep(tags)
    # Recall mode: precision mode drops lists and short pages' only paragraphs; the chrome
    # it guards against is already gone.
    cleaned = str(soup)
    return tidy_markdown(_trafilatura(cleaned, url, recall=True)), cleaned


# A definition whose value is at most this many words is a label and its value ("Companies"
# / "52"): written as one line, since trafilatura lists a term and its definition apart.
_SHORT_VALUE_WORDS = 6


def _join_short_value(term: Tag) -> None:
    """A term followed by one short definition ("<dt>Companies</dt><dd>52</dd>") becomes one
    line "Companies: 52"; a longer definition (an FAQ answer) or several stay as they are."""
    value = term.find_next_sibling()
    if value is None or value.name != "dd" or term.parent is None:
        return
    after = value.find_next_sibling()
    if after is not None and after.name == "dd":
        return
    label = term.get_text(" ", strip=True)
    text = value.get_text(" ", strip=True)
    if not label or not text or ends_as_question(label) or len(text.split()) > _SHORT_VALUE_WORDS:
        return
    if value.find(["p", "ul", "ol", "dl", "table", "div"]) is not None:
        return
    term.clear()
    term.append(f"{label.rstrip(':')}: {text}")
    value.decompose()


def _flatten_deep(tags: _Tags) -> None:
    """Unwrap elements nested deeper than libxml2 reads, so their text is kept.

    Depth is counted over the elements that stay: a block (paragraph, heading, list, table)
    is kept while it fits, wrappers beyond the limit give way to their content.
    """
    depth: dict[int, int] = {}
    deep: list[Tag] = []
    for tag in tags.live():
        parent = tag.parent
        level = depth.get(id(parent), 0) if parent is not None else 0
        keep = level < _MAX_DEPTH or (tag.name in _BLOCKS and level < _MAX_DEPTH + 40)
        depth[id(tag)] = level + 1 if keep else level
        if not keep:
            deep.append(tag)
    for tag in reversed(deep):
        tag.unwrap()
