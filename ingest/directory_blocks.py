"""Directory structures other than tables: definition lists, lists whose items start with a
link, repeated sibling blocks (cards), and the page's own label:value facts.

- a **definition list** of names and descriptions gives ``row`` entries; one of labels and
  values is a fact box of the page itself;
- **cards**: three or more siblings with the same tag, each with a heading, most of them with
  label:value pairs;
- a **list** whose items each start with a link followed by a description;
- **facts**: a two-column table of labels, or "Label: value" lines.
"""

from __future__ import annotations

from bs4 import Tag

from ingest.directory import DirectoryEntry, DirectoryOptions
from ingest.directory_labels import (
    HEADINGS,
    MAX_NAME_CHARS,
    clean,
    context,
    field_of,
    first_link,
    label_lines,
    new_entry,
    plausible_name,
    resolve,
    tag_text,
)
from ingest.dom import _Tags


def _pairs(dl: Tag, options: DirectoryOptions) -> list[tuple[str, str, Tag]]:
    """(term, description, term tag) of a definition list, in order; the descriptions of one
    term (a text and a tag line: "<dd>...</dd><dd>Cluster X · since 2014</dd>") are one, a
    line each."""
    pairs: list[tuple[str, str, Tag]] = []
    term: Tag | None = None
    for child in dl.find_all(["dt", "dd"], limit=options.max_entries * 4):
        if child.find_parent("dl") is not dl:
            continue
        if child.name == "dt":
            term = child
        elif term is not None:
            text = tag_text(child, options.max_cell_chars)
            if pairs and pairs[-1][2] is term:
                joined = f"{pairs[-1][1]}\n{text}"[: options.max_cell_chars]
                pairs[-1] = (pairs[-1][0], joined, term)
            else:
                pairs.append((tag_text(term, 200), text, term))
    return pairs


def dl_entries(
    dl: Tag, number: int, key: str, options: DirectoryOptions
) -> tuple[list[DirectoryEntry], dict[str, str]]:
    """Entries of a directory ``dl``, or the label:value facts of a fact-box ``dl``."""
    pairs = _pairs(dl, options)
    labelled = [(field_of(t), d) for t, d, _ in pairs]
    if pairs and sum(1 for f, _ in labelled if f) * 2 >= len(pairs):
        return [], {f: clean(d) for f, d in labelled if f and clean(d)}
    if len(pairs) < options.min_items:
        return [], {}
    if sum(1 for t, _, _ in pairs if plausible_name(t)) * 4 < len(pairs) * 3:
        return [], {}  # questions and answers, a glossary of sentences: not a directory
    entries = []
    group = context(dl, "")  # a search back through the page: once, not per item
    for index, (term, description, tag) in enumerate(pairs[: options.max_entries], start=1):
        name = clean(term)
        if not plausible_name(name):
            continue
        link = first_link(tag) or _next_link(tag)
        fields, rest = label_lines(description)
        entries.append(
            new_entry(
                key,
                "row",
                name,
                description=rest,
                target=resolve(str(link["href"]), key) if link else "",
                where=f"definition list {number} item {index}",
                group=group,
                **fields,
            )
        )
    return entries, {}


def _next_link(term: Tag) -> Tag | None:
    """The first link of the description right after a term, or None."""
    sibling = term.find_next_sibling(["dd", "dt"])
    return first_link(sibling) if isinstance(sibling, Tag) and sibling.name == "dd" else None


def _block_lines(block: Tag, skip: Tag | None, options: DirectoryOptions) -> str:
    """A block's text, one line per innermost block element ('Label: value' lines apart)."""
    lines: list[str] = []
    for child in block.find_all(["p", "li", "div", "dd", "dt", "td", "th"], limit=60):
        if skip is not None and (child is skip or skip in child.parents):
            continue
        if child.find(["p", "li", "div", "dd", "td"]):
            continue  # only the innermost blocks, so no text is taken twice
        text = _label_first(child, options.max_cell_chars)
        if text:
            lines.append(text)
    if not lines:
        lines = [tag_text(block, options.max_cell_chars)]
    merged: list[str] = []
    for line in lines:  # "<dt>Sector</dt><dd>x</dd>" and "<span>Sector:</span> x" come apart
        if merged and (merged[-1].endswith(":") or _bare_label(merged[-1]) and ":" not in line):
            merged[-1] = f"{merged[-1].rstrip(':')}: {line}"
        else:
            merged.append(line)
    return "\n".join(merged)


def _bare_label(line: str) -> bool:
    """A line that is a field's label alone ("Building", "Resident since"): not a label with
    its value already ("Building: Padiglione A", which took the next label as its value), nor
    a sentence that opens with a label word ("Profile in Italian only.")."""
    return (
        bool(field_of(line))
        and ":" not in line
        and not line.endswith((".", "!", "?"))
        and len(line.split()) <= _LABEL_WORDS
    )


_LABEL_WORDS = 4

# Inline elements that hold a field's label before its value in one line.
_LABEL_TAGS = ("small", "span", "b", "strong", "em", "i", "label", "abbr")


def _label_first(block: Tag, limit: int) -> str:
    """A block's text, as "Label: value" when it opens with a known label in an element of
    its own and no colon ("<small>Cluster</small> <span>Robotics</span>")."""
    text = tag_text(block, limit)
    first = next((c for c in block.children if str(c).strip()), None)
    if not isinstance(first, Tag) or first.name not in _LABEL_TAGS:
        return text
    label = tag_text(first, 60)
    if label.endswith(":") or not field_of(label) or not text.startswith(label):
        return text
    value = text[len(label) :].strip()
    return f"{label}: {value}" if value else text


def _heading(block: Tag) -> Tag | None:
    """A card's title: its first heading, bold text or term that has text."""
    for tag in block.find_all([*HEADINGS, "strong", "b", "dt"], limit=3):
        if isinstance(tag, Tag) and tag.get_text(strip=True):
            return tag
    return None


_Card = tuple[Tag, str, dict[str, str], str, Tag | None]


def _card(block: Tag, options: DirectoryOptions) -> _Card | None:
    """(block, name, fields, rest, link) of a block read as a card, or None."""
    heading = _heading(block)
    if heading is None or heading.name in ("h1",) or block.find("table"):
        return None
    name = clean(tag_text(heading, MAX_NAME_CHARS + 1))
    if not plausible_name(name) or field_of(name):
        return None  # "<b>Sector:</b> x" items are a fact list, not cards
    fields, rest = label_lines(_block_lines(block, heading, options))
    link = first_link(heading) or first_link(block)
    if not fields and link is None:
        return None
    return block, name, fields, rest, link


def _shape(block: Tag) -> tuple[str, str]:
    """A block's tag and classes."""
    return block.name, " ".join(sorted(str(c) for c in block.get("class") or []))


def _signature(card: _Card) -> tuple[str, str, str]:
    """What makes blocks the same kind of card: tag, classes, heading tag."""
    block = card[0]
    heading = _heading(block)
    return *_shape(block), heading.name if heading is not None else ""


def card_entries(
    tags: _Tags, key: str, options: DirectoryOptions, seen: set[int]
) -> list[DirectoryEntry]:
    """Repeated sibling blocks with a heading each: cards of a directory.

    A group of blocks that holds another group's cards is their sections ("Life sciences"
    with its cards), not cards; and a card of an accepted group's kind (same tag, classes and
    heading tag) is read also where its section holds fewer than ``options.min_items`` of them
    (a cluster with one or two members).
    """
    groups: list[tuple[int, Tag, list[_Card]]] = []
    for number, parent in enumerate(tags.live(), start=1):
        children = [c for c in parent.find_all(recursive=False) if isinstance(c, Tag)]
        if len(children) < options.min_items or id(parent) in seen:
            continue
        names = [c.name for c in children]
        common = max(set(names), key=names.count)
        blocks = [c for c in children if c.name == common]
        if len(blocks) < options.min_items or common in ("tr", "td", "th", "dt", "dd"):
            continue
        found = [card for block in blocks if (card := _card(block, options)) is not None]
        # Cards are a directory only when most of them carry facts: a news list or a
        # row of teasers has headings and links but no labelled values.
        if len(found) < options.min_items or sum(1 for f in found if f[2]) * 2 < len(found):
            continue
        groups.append((number, parent, found))
    inner = {id(card[0]) for _, _, found in groups for card in found}
    groups = [
        g for g in groups
        if not any(id(t) in inner for card in g[2] for t in card[0].descendants if isinstance(t, Tag))
    ]  # fmt: skip
    kinds = {_signature(card) for _, _, found in groups for card in found}
    shapes = {kind[:2] for kind in kinds}
    taken = {id(card[0]) for _, _, found in groups for card in found}
    for tag in tags.live() if kinds else []:
        if id(tag) in taken or id(tag) in seen or not isinstance(tag.parent, Tag):
            continue
        if _shape(tag) not in shapes:
            continue  # not read as a card: only a block of a kind already accepted can be one
        card = _card(tag, options)
        if card is not None and card[2] and _signature(card) in kinds:
            groups.append((0, tag.parent, [card]))
            taken.add(id(tag))
    entries: list[DirectoryEntry] = []
    for number, parent, found in groups:
        group = context(parent, "")  # a search back through the page: once, not per card
        for index, (block, name, fields, rest, link) in enumerate(found, start=1):
            seen.update(id(t) for t in block.descendants if isinstance(t, Tag))
            entries.append(
                new_entry(
                    key,
                    "row",
                    name,
                    description=rest[: options.max_cell_chars],
                    target=resolve(str(link["href"]), key) if link else "",
                    where=f"block group {number or 'single'} item {index}",
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


def list_entries(
    lst: Tag, number: int, key: str, options: DirectoryOptions
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
        name = clean(tag_text(link, MAX_NAME_CHARS + 1))
        rest = _own_text(li, first, options.max_cell_chars)
        if plausible_name(name) and len(rest.split()) >= 3:
            found.append((name, link, rest))
    if len(found) < options.min_items or len(found) * 2 < len(items):
        return []
    entries = []
    group = context(lst, "")  # a search back through the page: once, not per item
    for index, (name, link, rest) in enumerate(found, start=1):
        fields, description = label_lines(rest.replace(";", "\n"))
        entries.append(
            new_entry(
                key,
                "row",
                name,
                description=description,
                target=resolve(str(link["href"]), key),
                where=f"list {number} item {index}",
                group=group,
                **fields,
            )
        )
    return entries


def page_facts(tags: _Tags, options: DirectoryOptions) -> dict[str, str]:
    """Label:value facts of the page: two-column label tables and 'Label: value' lines."""
    facts: dict[str, str] = {}
    for table in tags.named("table"):
        for tr in table.find_all("tr", limit=40):
            cells = tr.find_all(["th", "td"], recursive=False)
            if len(cells) == 2 and cells[1].name == "td":
                kind = field_of(tag_text(cells[0], 60))
                value = clean(tag_text(cells[1], options.max_cell_chars))
                if kind and kind != "name" and value:
                    facts.setdefault(kind, value)
    for tag in tags.named("h2", "h3", "h4", "h5", "h6"):
        # a heading stating the arrival in a few words: "Insediata ad aprile 2026" (only
        # that: "Building E first stone" heads news, not a fact of the page)
        fields, _ = label_lines(tag_text(tag, 80))
        if "since" in fields:
            facts.setdefault("since", fields["since"])
    for tag in tags.named("p", "li", "div"):
        if tag.find(["p", "li", "div", "table"]):
            continue
        text = tag_text(tag, options.max_cell_chars)
        if ":" in text[:42]:
            fields, _ = label_lines(text)
            for kind, value in fields.items():
                facts.setdefault(kind, value)
    return facts
