"""Directory tables: a table whose header names an organisation column (or whose first
column is links to pages) gives one ``row`` entry per body row; a table keyed by a group
("Cluster", "Building") with no name column gives one ``group`` entry per row.

Merged cells (rowspan/colspan) are spread over the cells they cover; a column of figures or
sentences is not a column of names.
"""

from __future__ import annotations

import logging

from bs4 import Tag

from ingest.directory import DirectoryEntry, DirectoryOptions
from ingest.directory_labels import (
    MAX_NAME_CHARS,
    clean,
    context,
    field_of,
    first_link,
    new_entry,
    plausible_name,
    resolve,
    tag_text,
)

log = logging.getLogger(__name__)

_GROUP_FIELDS = ("sector", "building")
# Header words that name a column of names without saying names of what (people, products):
# such a column is a directory only next to a column of organisation facts.
_GENERIC_NAME = {"name", "nome"}


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
    """A rowspan/colspan attribute as a count (1 when missing or not a number)."""
    try:
        return max(1, int(str(value).strip()))
    except (TypeError, ValueError):
        return 1


def table_entries(
    table: Tag, number: int, key: str, options: DirectoryOptions
) -> list[DirectoryEntry]:
    """The entries of one table (``number`` counts the page's tables), or none."""
    grid = _grid(table, options)
    if len(grid) < 2:
        return []
    first = grid[0]
    has_header = bool(first) and all(c is not None and c.name == "th" for c in first)
    if not has_header:
        return []  # a table without a header row is handled as label:value pairs, if at all
    headers = [tag_text(c, 80) if c is not None else "" for c in first]
    fields = [field_of(h) for h in headers]
    body = grid[1:]
    name_col = fields.index("name") if "name" in fields else -1
    facts = {"sector", "building", "since", "description"} & set(fields)
    if name_col >= 0 and headers[name_col].lower() in _GENERIC_NAME and not facts:
        name_col = -1
    if name_col < 0 and not fields[0]:
        # An unlabelled first column of links to pages is a column of names.
        linked = sum(1 for r in body if r and r[0] is not None and first_link(r[0]))
        name_col = 0 if linked >= max(2, len(body) // 2 + 1) else -1
    if name_col < 0:
        group_col = next((i for i, f in enumerate(fields) if f in _GROUP_FIELDS), -1)
        if group_col == 0:
            return _group_rows(body, headers, fields[group_col], number, key, options)
        return []
    names = [c for r in body if name_col < len(r) and (c := r[name_col]) is not None]
    if sum(1 for c in names if plausible_name(tag_text(c, MAX_NAME_CHARS + 1))) * 2 <= len(names):
        return []  # a column of figures or sentences (a statistics table), not of names
    group = context(table, headers[name_col])
    entries: list[DirectoryEntry] = []
    for index, row in enumerate(body, start=1):
        if len(entries) >= options.max_entries:
            log.info("%s: table %d cut at %d entries", key, number, options.max_entries)
            break
        cell = row[name_col] if name_col < len(row) else None
        if cell is None:
            continue
        name = clean(tag_text(cell, MAX_NAME_CHARS + 1))
        if not plausible_name(name):
            continue
        link = first_link(cell)
        values: dict[str, str] = {}
        details: dict[str, str] = {}
        for column, (header, kind) in enumerate(zip(headers, fields, strict=True)):
            if column == name_col or column >= len(row) or row[column] is None:
                continue
            if row[column] is cell:
                continue  # a merged cell spanning the name column too
            value = clean(tag_text(row[column], options.max_cell_chars))  # type: ignore[arg-type]
            if not value:
                continue
            if kind and kind != "name" and kind not in values:
                values[kind] = value
            elif header:
                details[header] = value
        entries.append(
            new_entry(
                key,
                "row",
                name,
                target=resolve(str(link["href"]), key) if link else "",
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
    key: str,
    options: DirectoryOptions,
) -> list[DirectoryEntry]:
    """Rows of a table keyed by a group (a cluster, a building): who is in each group."""
    entries = []
    for index, row in enumerate(body[: options.max_entries], start=1):
        if not row or row[0] is None:
            continue
        value = clean(tag_text(row[0], MAX_NAME_CHARS))
        members = "; ".join(
            tag_text(c, options.max_cell_chars) for c in dict.fromkeys(row[1:]) if c is not None
        )
        if value and members:
            entries.append(
                new_entry(
                    key,
                    "group",
                    value,
                    description=members,
                    where=f"table {number} row {index}",
                    **{kind: value},
                )
            )
    return entries
