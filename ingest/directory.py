"""Extraction of the partner directory: one entry per organisation a page lists or describes.

Runs in the extraction worker (ingest.worker) on the same untrusted HTML as ``extract``, so it
shares its CPU and memory budget; it never raises on odd markup (a malformed table gives
fewer entries, not an error) and keeps at most ``DirectoryOptions.max_entries`` per page.

It reads general structure only, never a site's class names or URLs:

- a **table** whose header row names a column with an organisation label ("Organisation",
  "Azienda", ...), or whose first column is mostly links to pages: one ``row`` entry per body
  row, the other columns mapped by their header label (``LABELS``) or kept as details;
  merged cells (rowspan/colspan) are spread over the cells they cover;
- a table whose key column is a grouping label ("Cluster", "Settore", "Building"...) and no
  name column: one ``group`` entry per row (the group value and the text naming its members;
  the served directory assigns the group to the organisations that text names);
- a **definition list** of names and descriptions (``row`` entries), or of labels and values
  (a fact box of the page itself);
- **repeated sibling blocks** (cards): three or more siblings with the same tag, each with a
  heading, and label:value pairs or a link;
- a **list** whose items each start with a link followed by a description;
- **label:value pairs** on a page (a two-column table of labels, a ``dl``, or "Label: value"
  lines): the page itself describes one organisation (a ``page`` entry with those fields).

Every HTML page also yields one ``stub`` entry (its title, URL, language and hreflang
alternates), so that the served directory can link an entry to the organisation's own page
and its language versions (see assistant/directory.py).
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, select
from sqlalchemy.engine import Engine

from ingest.chrome import remove_chrome
from ingest.decode import decode_text
from ingest.dom import _Tags
from ingest.hidden import remove_hidden
from ingest.records import Page, RawDocument

log = logging.getLogger(__name__)

# Column and field labels, lower case, English and Italian. A header or label matches a field
# when it equals a label or starts with one as a whole word. Order matters: the first field
# whose label matches wins ("Anno di arrivo" is a date before it is anything else).
LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "since",
        (
            "since",
            "dal",
            "from",
            "arrived",
            "arrival",
            "arrivo",
            "year",
            "anno",
            "founded",
            "established",
            "insediamento",
            "insediata",
            "on campus since",
            "presente dal",
        ),
    ),
    (
        "building",
        (
            "building",
            "edificio",
            "sede",
            "location",
            "where",
            "dove",
            "palazzina",
            "office",
            "offices",
            "uffici",
            "address",
            "indirizzo",
        ),
    ),
    (
        "sector",
        (
            "sector",
            "settore",
            "cluster",
            "field",
            "ambito",
            "industry",
            "comparto",
            "category",
            "categoria",
            "type",
            "tipo",
            "tipologia",
            "domain",
        ),
    ),
    (
        "description",
        (
            "what it does",
            "what they do",
            "description",
            "descrizione",
            "activity",
            "activities",
            "attività",
            "di cosa si occupa",
            "cosa fa",
            "about",
            "profile",
            "profilo",
            "focus",
            "business",
            "research",
            "ricerca",
        ),
    ),
    (
        "name",
        (
            "organisation",
            "organization",
            "organizzazione",
            "organisations",
            "organizations",
            "company",
            "companies",
            "azienda",
            "aziende",
            "impresa",
            "imprese",
            "società",
            "name",
            "nome",
            "partner",
            "partners",
            "resident",
            "residente",
            "ente",
            "enti",
            "realtà",
            "start-up",
            "startup",
            "start-ups",
            "startups",
            "institution",
            "istituto",
            "member",
            "membro",
            "tenant",
        ),
    ),
)
_GROUP_FIELDS = ("sector", "building")
# Header words that name a column of names without saying names of what (people, products):
# such a column is a directory only next to a column of organisation facts.
_GENERIC_NAME = {"name", "nome"}
_PLACEHOLDERS = {"", "-", "–", "—", "n/a", "na", "n.d.", "nd", "?", "…", "..."}
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_LABEL_LINE = re.compile(r"^\s*([^\W\d][\w /'’.-]{1,40}?)\s*[:：]\s*(\S.{0,300})$")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
MAX_NAME_CHARS = 120


@dataclass(frozen=True)
class DirectoryOptions:
    """Limits of directory extraction (built from the settings by the caller)."""

    max_entries: int = 1000  # per document; rows past it are dropped with a log line
    max_cell_chars: int = 400  # a longer cell is cut (descriptions stay short in answers)
    min_items: int = 3  # repeated blocks / list items needed before they count as a directory
    max_span: int = 50  # a rowspan/colspan larger than this is taken as this


@dataclass(frozen=True)
class DirectoryEntry:
    """One organisation (or one group assignment, or one page stub) found on a page.

    ``kind``: "row" (an entry of a directory table/list/cards), "page" (the page itself
    describes one organisation with label:value pairs), "group" (``sector``/``building``
    value and, in ``description``, the text naming its members), "stub" (the page's identity,
    used to link entries to organisations' own pages).
    ``target``: where the entry's link points, as a location key comparable with stubs'
    ``key`` (a URL, or a path under the source root for local files).
    """

    kind: str
    name: str
    description: str = ""
    sector: str = ""
    building: str = ""
    since: str = ""
    year: int = 0
    target: str = ""
    key: str = ""  # location key of the page the entry was found on
    url: str = ""  # reader URL of the page the entry was found on
    language: str = ""
    alternates: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    where: str = ""  # what structure it came from, e.g. "table 1 row 4" (staff console)
    group: str = ""  # the name column's header and the heading above the structure

    def as_dict(self) -> dict:
        return asdict(self)


def location_key(raw: RawDocument) -> str:
    """The key links resolve to: the URL of a fetched page, the path under root of a file."""
    return raw.location if raw.location.startswith(("http://", "https://")) else raw.fallback_id


def _resolve(href: str, key: str) -> str:
    """A link's target as a location key (a URL, or a normalised path for local files)."""
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
        return ""
    if href.startswith(("http://", "https://")):
        return href.split("#", 1)[0]
    if key.startswith(("http://", "https://")):
        return urljoin(key, href).split("#", 1)[0]
    path = urlsplit(href).path
    if not path:
        return ""
    if path.startswith("/"):
        return path.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(key), path))


def _text(tag: Tag, limit: int) -> str:
    text = " ".join(tag.get_text(" ", strip=True).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _clean(value: str) -> str:
    value = " ".join(value.split()).strip(" :;,")
    return "" if value.lower() in _PLACEHOLDERS else value


def field_of(label: str) -> str:
    """The field a header or label names ('' when none): 'Settore' -> 'sector'."""
    label = " ".join(re.sub(r"[^\w\s'’-]", " ", label.lower()).split())
    if not label or len(label) > 40:
        return ""
    for name, words in LABELS:
        for word in words:
            if label == word or label.startswith(word + " ") or label.endswith(" " + word):
                return name
    return ""


def _plausible_name(text: str) -> bool:
    """A name starts with a letter, is short, and is not a question or a sentence."""
    text = text.strip()
    return (
        0 < len(text) <= MAX_NAME_CHARS
        and text[0].isalpha()
        and not text.endswith(("?", ".", ":"))
        and len(text.split()) <= 10
    )


def _year(text: str) -> int:
    match = _YEAR.search(text)
    return int(match.group(1)) if match else 0


def _context(tag: Tag, header: str) -> str:
    """What a structure lists, in the page's words: its name column's header and the
    nearest heading before it ("Start-up · Start-ups on campus")."""
    heading = tag.find_previous(_HEADINGS)
    parts = [header, _text(heading, 120) if isinstance(heading, Tag) else ""]
    return " · ".join(p for p in dict.fromkeys(parts) if p)


def _first_link(tag: Tag) -> Tag | None:
    for link in tag.find_all("a", href=True, limit=5):
        if isinstance(link, Tag) and link.get_text(strip=True):
            return link
    return None


# --- tables ------------------------------------------------------------------------------
def _grid(table: Tag, options: DirectoryOptions) -> list[list[Tag | None]]:
    """The table's rows as a grid of cells, merged cells spread over what they cover."""
    rows: list[list[Tag | None]] = []
    carried: dict[int, tuple[Tag, int]] = {}  # column -> (cell, rows still to cover)
    for tr in table.find_all("tr", limit=options.max_entries + 2):
        if tr.find_parent("table") is not table:
            continue  # a row of a nested table
        row: list[Tag | None] = []
        queue = list(tr.find_all(["td", "th"], recursive=False))
        column = 0
        while queue or column in carried:
            if column in carried:
                cell, left = carried[column]
                row.append(cell)
                if left <= 1:
                    del carried[column]
                else:
                    carried[column] = (cell, left - 1)
                column += 1
                continue
            cell = queue.pop(0)
            colspan = min(_span(cell.get("colspan")), options.max_span)
            rowspan = min(_span(cell.get("rowspan")), options.max_span)
            for _ in range(colspan):
                row.append(cell)
                if rowspan > 1:
                    carried[column] = (cell, rowspan - 1)
                column += 1
            if column > options.max_span * 2:
                break
        rows.append(row)
    return rows


def _span(value: object) -> int:
    try:
        return max(1, int(str(value).strip()))
    except (TypeError, ValueError):
        return 1


def _table_entries(
    table: Tag, number: int, page: _PageInfo, options: DirectoryOptions
) -> list[DirectoryEntry]:
    grid = _grid(table, options)
    if len(grid) < 2:
        return []
    first = grid[0]
    has_header = bool(first) and all(c is not None and c.name == "th" for c in first)
    if not has_header:
        return []  # a table without a header row is handled as label:value pairs, if at all
    headers = [_text(c, 80) if c is not None else "" for c in first]
    fields = [field_of(h) for h in headers]
    body = grid[1:]
    name_col = fields.index("name") if "name" in fields else -1
    facts = {"sector", "building", "since", "description"} & set(fields)
    if name_col >= 0 and headers[name_col].lower() in _GENERIC_NAME and not facts:
        name_col = -1
    if name_col < 0 and not fields[0]:
        # An unlabelled first column of links to pages is a column of names.
        linked = sum(1 for r in body if r and r[0] is not None and _first_link(r[0]))
        name_col = 0 if linked >= max(2, len(body) // 2 + 1) else -1
    if name_col < 0:
        group_col = next((i for i, f in enumerate(fields) if f in _GROUP_FIELDS), -1)
        if group_col == 0:
            return _group_rows(body, headers, fields[group_col], number, page, options)
        return []
    names = [c for r in body if name_col < len(r) and (c := r[name_col]) is not None]
    if sum(1 for c in names if _plausible_name(_text(c, MAX_NAME_CHARS + 1))) * 2 <= len(names):
        return []  # a column of figures or sentences (a statistics table), not of names
    group = _context(table, headers[name_col])
    entries: list[DirectoryEntry] = []
    for index, row in enumerate(body, start=1):
        if len(entries) >= options.max_entries:
            log.info("%s: table %d cut at %d entries", page.key, number, options.max_entries)
            break
        cell = row[name_col] if name_col < len(row) else None
        if cell is None:
            continue
        name = _clean(_text(cell, MAX_NAME_CHARS + 1))
        if not _plausible_name(name):
            continue
        link = _first_link(cell)
        values: dict[str, str] = {}
        details: dict[str, str] = {}
        for column, (header, kind) in enumerate(zip(headers, fields, strict=True)):
            if column == name_col or column >= len(row) or row[column] is None:
                continue
            if row[column] is cell:
                continue  # a merged cell spanning the name column too
            value = _clean(_text(row[column], options.max_cell_chars))  # type: ignore[arg-type]
            if not value:
                continue
            if kind and kind != "name" and kind not in values:
                values[kind] = value
            elif header:
                details[header] = value
        entries.append(
            page.entry(
                "row",
                name,
                target=_resolve(str(link["href"]), page.key) if link else "",
                where=f"table {number} row {index}",
                details=details,
                group=group,
                **values,
            )
        )
    return entries


def _group_rows(
    body: list[list[Tag | None]],
    headers: list[str],
    kind: str,
    number: int,
    page: _PageInfo,
    options: DirectoryOptions,
) -> list[DirectoryEntry]:
    """Rows of a table keyed by a group (a cluster, a building): who is in each group."""
    entries = []
    for index, row in enumerate(body[: options.max_entries], start=1):
        if not row or row[0] is None:
            continue
        value = _clean(_text(row[0], MAX_NAME_CHARS))
        members = "; ".join(
            _text(c, options.max_cell_chars) for c in dict.fromkeys(row[1:]) if c is not None
        )
        if value and members:
            entries.append(
                page.entry(
                    "group",
                    value,
                    description=members,
                    where=f"table {number} row {index}",
                    **{kind: value},
                )
            )
    return entries


# --- definition lists, lists, cards --------------------------------------------------------
def _pairs(dl: Tag, options: DirectoryOptions) -> list[tuple[str, str, Tag]]:
    """(term, description, term tag) of a definition list, in order."""
    pairs: list[tuple[str, str, Tag]] = []
    term: Tag | None = None
    for child in dl.find_all(["dt", "dd"], limit=options.max_entries * 4):
        if child.find_parent("dl") is not dl:
            continue
        if child.name == "dt":
            term = child
        elif term is not None:
            pairs.append((_text(term, 200), _text(child, options.max_cell_chars), term))
    return pairs


def _dl_entries(
    dl: Tag, number: int, page: _PageInfo, options: DirectoryOptions
) -> tuple[list[DirectoryEntry], dict[str, str]]:
    """Entries of a directory ``dl``, or the label:value facts of a fact-box ``dl``."""
    pairs = _pairs(dl, options)
    labelled = [(field_of(t), d) for t, d, _ in pairs]
    if pairs and sum(1 for f, _ in labelled if f) * 2 >= len(pairs):
        return [], {f: _clean(d) for f, d in labelled if f and _clean(d)}
    if len(pairs) < options.min_items:
        return [], {}
    if sum(1 for t, _, _ in pairs if _plausible_name(t)) * 4 < len(pairs) * 3:
        return [], {}  # questions and answers, a glossary of sentences: not a directory
    entries = []
    group = _context(dl, "")  # a search back through the page: once, not per item
    for index, (term, description, tag) in enumerate(pairs[: options.max_entries], start=1):
        name = _clean(term)
        if not _plausible_name(name):
            continue
        link = _first_link(tag) or _next_link(tag)
        fields, rest = _label_lines(description)
        entries.append(
            page.entry(
                "row",
                name,
                description=rest,
                target=_resolve(str(link["href"]), page.key) if link else "",
                where=f"definition list {number} item {index}",
                group=group,
                **fields,
            )
        )
    return entries, {}


def _next_link(term: Tag) -> Tag | None:
    sibling = term.find_next_sibling(["dd", "dt"])
    return _first_link(sibling) if isinstance(sibling, Tag) and sibling.name == "dd" else None


def _label_lines(text: str) -> tuple[dict[str, str], str]:
    """Known 'Label: value' pieces of a block's text, and the rest of it."""
    fields: dict[str, str] = {}
    rest: list[str] = []
    for piece in re.split(r"\s*(?:\n|·|•|\|)\s*", text):
        match = _LABEL_LINE.match(piece)
        kind = field_of(match.group(1)) if match else ""
        if match and kind and kind != "name" and kind not in fields:
            fields[kind] = _clean(match.group(2))
        elif piece.strip():
            rest.append(piece.strip())
    return fields, " ".join(rest)


def _block_lines(block: Tag, skip: Tag | None, options: DirectoryOptions) -> str:
    """A block's text, one line per innermost block element ('Label: value' lines apart)."""
    lines: list[str] = []
    for child in block.find_all(["p", "li", "div", "dd", "dt", "td", "th"], limit=60):
        if skip is not None and (child is skip or skip in child.parents):
            continue
        if child.find(["p", "li", "div", "dd", "td"]):
            continue  # only the innermost blocks, so no text is taken twice
        text = _text(child, options.max_cell_chars)
        if text:
            lines.append(text)
    if not lines:
        lines = [_text(block, options.max_cell_chars)]
    merged: list[str] = []
    for line in lines:  # "<dt>Sector</dt><dd>x</dd>" and "<span>Sector:</span> x" come apart
        if merged and (merged[-1].endswith(":") or field_of(merged[-1]) and ":" not in line):
            merged[-1] = f"{merged[-1].rstrip(':')}: {line}"
        else:
            merged.append(line)
    return "\n".join(merged)


def _heading(block: Tag) -> Tag | None:
    for tag in block.find_all([*_HEADINGS, "strong", "b", "dt"], limit=3):
        if isinstance(tag, Tag) and tag.get_text(strip=True):
            return tag
    return None


def _card_entries(
    tags: _Tags, page: _PageInfo, options: DirectoryOptions, seen: set[int]
) -> list[DirectoryEntry]:
    """Repeated sibling blocks with a heading each: cards of a directory."""
    entries: list[DirectoryEntry] = []
    for number, parent in enumerate(tags.live(), start=1):
        children = [c for c in parent.find_all(recursive=False) if isinstance(c, Tag)]
        if len(children) < options.min_items or id(parent) in seen:
            continue
        names = [c.name for c in children]
        common = max(set(names), key=names.count)
        blocks = [c for c in children if c.name == common]
        if len(blocks) < options.min_items or common in ("tr", "td", "th", "dt", "dd"):
            continue
        found = []
        for block in blocks:
            heading = _heading(block)
            if heading is None or heading.name in ("h1",) or block.find("table"):
                continue
            name = _clean(_text(heading, MAX_NAME_CHARS + 1))
            if not _plausible_name(name) or field_of(name):
                continue  # "<b>Sector:</b> x" items are a fact list, not cards
            fields, rest = _label_lines(_block_lines(block, heading, options))
            link = _first_link(heading) or _first_link(block)
            if not fields and link is None:
                continue
            found.append((block, name, fields, rest, link))
        # Cards are a directory only when most of them carry facts: a news list or a
        # row of teasers has headings and links but no labelled values.
        if len(found) < options.min_items or sum(1 for f in found if f[2]) * 2 < len(found):
            continue
        group = _context(parent, "")  # a search back through the page: once, not per card
        for index, (block, name, fields, rest, link) in enumerate(found, start=1):
            seen.update(id(t) for t in block.descendants if isinstance(t, Tag))
            entries.append(
                page.entry(
                    "row",
                    name,
                    description=rest[: options.max_cell_chars],
                    target=_resolve(str(link["href"]), page.key) if link else "",
                    where=f"block group {number} item {index}",
                    group=group,
                    **fields,
                )
            )
            if len(entries) >= options.max_entries:
                return entries
    return entries


def _own_text(item: Tag, first: Tag, limit: int) -> str:
    """An item's text outside its leading element and outside any link."""
    parts = []
    for text in item.find_all(string=True):
        parent = text.parent
        if (
            parent is None
            or parent is first
            or first in parent.parents
            or parent.name == "a"
            or parent.find_parent("a")
        ):
            continue
        parts.append(str(text))
    return " ".join(" ".join(parts).split()).strip(" :–—-,·|")[:limit]


def _list_entries(
    lst: Tag, number: int, page: _PageInfo, options: DirectoryOptions
) -> list[DirectoryEntry]:
    """A list whose items each start with a link (the name) followed by a description."""
    items = list(lst.find_all("li", recursive=False, limit=options.max_entries + 1))
    if len(items) < options.min_items:
        return []
    found = []
    for li in items:
        first = next((c for c in li.children if str(c).strip()), None)
        if not isinstance(first, Tag):
            continue
        link = first if first.name == "a" else first.find("a", href=True)
        if not isinstance(link, Tag) or not link.get("href"):
            continue
        name = _clean(_text(link, MAX_NAME_CHARS + 1))
        rest = _own_text(li, first, options.max_cell_chars)
        if _plausible_name(name) and len(rest.split()) >= 3:
            found.append((name, link, rest))
    if len(found) < options.min_items or len(found) * 2 < len(items):
        return []
    entries = []
    group = _context(lst, "")  # a search back through the page: once, not per item
    for index, (name, link, rest) in enumerate(found, start=1):
        fields, description = _label_lines(rest.replace(";", "\n"))
        entries.append(
            page.entry(
                "row",
                name,
                description=description,
                target=_resolve(str(link["href"]), page.key),
                where=f"list {number} item {index}",
                group=group,
                **fields,
            )
        )
    return entries


# --- the page itself ------------------------------------------------------------------------
def _facts(tags: _Tags, options: DirectoryOptions) -> dict[str, str]:
    """Label:value facts of the page: two-column label tables and 'Label: value' lines."""
    facts: dict[str, str] = {}
    for table in tags.named("table"):
        for tr in table.find_all("tr", limit=40):
            cells = tr.find_all(["th", "td"], recursive=False)
            if len(cells) == 2 and cells[1].name == "td":
                kind = field_of(_text(cells[0], 60))
                value = _clean(_text(cells[1], options.max_cell_chars))
                if kind and kind != "name" and value:
                    facts.setdefault(kind, value)
    for tag in tags.named("p", "li", "div"):
        if tag.find(["p", "li", "div", "table"]):
            continue
        text = _text(tag, options.max_cell_chars)
        if ":" in text[:42]:
            fields, _ = _label_lines(text)
            for kind, value in fields.items():
                facts.setdefault(kind, value)
    return facts


@dataclass
class _PageInfo:
    key: str
    url: str
    language: str
    alternates: dict[str, str]

    def entry(self, kind: str, name: str, **values: object) -> DirectoryEntry:
        year_from = str(values.get("since", ""))
        return DirectoryEntry(
            kind=kind,
            name=name,
            key=self.key,
            url=self.url,
            language=self.language,
            alternates=dict(self.alternates) if kind in ("page", "stub") else {},
            year=_year(year_from),
            **values,  # type: ignore[arg-type]
        )


def _page_name(tags: _Tags, page: Page) -> str:
    h1 = tags.first("h1")
    name = _text(h1, MAX_NAME_CHARS + 1) if h1 is not None else ""
    if not name or len(name) > MAX_NAME_CHARS:
        name = page.title.split(" | ")[0].strip()
    return name[:MAX_NAME_CHARS]


def extract_directory(
    raw: RawDocument, page: Page, options: DirectoryOptions | None = None
) -> tuple[DirectoryEntry, ...]:
    """The directory entries of one HTML document (empty for other kinds).

    Never raises on odd markup: a structure it cannot read is skipped with a debug log.
    """
    options = options or DirectoryOptions()
    if raw.kind != "html":
        return ()
    soup = BeautifulSoup(decode_text(raw.content, raw.charset, sniff_meta=True), "lxml")
    tags = _Tags(soup)
    remove_hidden(soup, tags)
    remove_chrome(soup, tags)
    info = _PageInfo(location_key(raw), page.url, page.language, page.alternates)
    entries: list[DirectoryEntry] = []
    facts: dict[str, str] = {}
    seen: set[int] = set()
    for number, table in enumerate(tags.named("table"), start=1):
        found = _safely(_table_entries, table, number, info, options)
        if found:
            seen.update(id(t) for t in table.descendants if isinstance(t, Tag))
        entries += found
    for number, dl in enumerate(tags.named("dl"), start=1):
        try:
            found, box = _dl_entries(dl, number, info, options)
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            log.debug("%s: definition list %d skipped: %s", info.key, number, exc)
            continue
        entries += found
        for kind, value in box.items():
            facts.setdefault(kind, value)
        seen.update(id(t) for t in dl.descendants if isinstance(t, Tag))
        seen.add(id(dl))
    for number, lst in enumerate(tags.named("ul", "ol"), start=1):
        if id(lst) not in seen:
            found = _safely(_list_entries, lst, number, info, options)
            if found:
                seen.update(id(t) for t in lst.descendants if isinstance(t, Tag))
                seen.add(id(lst))
            entries += found
    try:
        entries += _card_entries(tags, info, options, seen)
        for kind, value in _facts(tags, options).items():
            facts.setdefault(kind, value)
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        log.debug("%s: blocks skipped: %s", info.key, exc)
    name = _page_name(tags, page)
    rows = [e for e in entries if e.kind == "row"]
    described = {k: v for k, v in facts.items() if k in ("sector", "building", "since")}
    if len(described) >= 2 and len(rows) < options.min_items:
        # A page describing one organisation (its facts), not a listing.
        entries.append(
            info.entry(
                "page",
                name,
                description=facts.get("description") or page.description,
                where="label:value pairs",
                **{k: v for k, v in facts.items() if k in ("sector", "building", "since")},
            )
        )
    entries.append(
        info.entry("stub", name, description=page.description, where="page", group=page.title)
    )
    return tuple(_dedupe(entries)[: options.max_entries + 1])


def _safely(function: Callable[..., list[DirectoryEntry]], *args: object) -> list[DirectoryEntry]:
    """``function(*args)``, or no entries (with a debug log) when odd markup trips it."""
    try:
        return function(*args)
    except (ValueError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        log.debug("directory structure skipped: %s", exc)
        return []


def _dedupe(entries: Iterable[DirectoryEntry]) -> list[DirectoryEntry]:
    out: dict[tuple[str, str, str], DirectoryEntry] = {}
    for entry in entries:
        out.setdefault((entry.kind, entry.name.lower(), entry.target), entry)
    return list(out.values())


# --- storage: one table beside the sync ledger ----------------------------------------------
# The entries live in the sync records database (SQLite in data_dir, or the server named by
# KMR_RECORD_DB_URL), written in the same step as the document's ledger row: every process that
# reads that database (the API server, a CLI, another machine on PostgreSQL) sees a sync's
# changes at once, with no file to publish, and a document's entries go when its chunks go.
_meta = MetaData()
directory_table = Table(
    "kmr_directory",
    _meta,
    Column("source_id", String, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False),
    Column("data", Text, nullable=False),  # the entry as JSON
    Column("synced_at", Float, nullable=False),
)


def create_table(engine: Engine) -> None:
    """Create the directory table if it is missing."""
    _meta.create_all(engine)


def save_entries(engine: Engine, source_id: str, entries: Iterable[DirectoryEntry]) -> None:
    """Replace the entries of one document (an empty list removes them)."""
    now = time.time()
    rows = [
        {
            "source_id": source_id,
            "position": i,
            "kind": e.kind,
            "name": e.name,
            "data": json.dumps(e.as_dict(), ensure_ascii=False),
            "synced_at": now,
        }
        for i, e in enumerate(entries)
    ]
    with engine.begin() as conn:
        conn.execute(directory_table.delete().where(directory_table.c.source_id == source_id))
        if rows:
            conn.execute(directory_table.insert(), rows)


def delete_entries(engine: Engine, source_id: str) -> None:
    """Remove the entries of a document that left the index."""
    save_entries(engine, source_id, [])


def prune_entries(engine: Engine, live: set[str]) -> None:
    """Remove the entries of every document not in ``live`` (a full sync's clean-up)."""
    with engine.connect() as conn:
        held = {r[0] for r in conn.execute(select(directory_table.c.source_id).distinct())}
    for source_id in held - live:
        delete_entries(engine, source_id)


def load_entries(engine: Engine) -> list[tuple[str, DirectoryEntry]]:
    """Every stored entry with its document's source id, in document order."""
    query = select(directory_table.c.source_id, directory_table.c.data).order_by(
        directory_table.c.source_id, directory_table.c.position
    )
    out = []
    with engine.connect() as conn:
        for source_id, data in conn.execute(query):
            try:
                out.append((source_id, DirectoryEntry(**json.loads(data))))
            except (ValueError, TypeError) as exc:  # a row from another version: skip it
                log.warning("directory entry of %s unreadable: %s", source_id, exc)
    return out


def state(engine: Engine) -> tuple[int, float]:
    """(row count, latest write time): changes whenever a sync changes the directory."""
    query = select(func.count(), func.max(directory_table.c.synced_at))
    with engine.connect() as conn:
        count, latest = conn.execute(query).one()
    return int(count or 0), float(latest or 0.0)
