"""The partner directory's records: what an entry is, the limits of reading one, and the table
that stores the entries beside the sync ledger.

The directory is read from each HTML page during extraction (``ingest.directory_extract``,
with the readers in ``ingest.directory_tables`` and ``ingest.directory_blocks`` and their
shared vocabulary in ``ingest.directory_labels``), stored here per source document, and
merged into organisations by the answer side (``assistant.directory``). It reads general
structure only, never a site's class names or URLs:

- a **table** whose header row names a column with an organisation label ("Organisation",
  "Azienda", ...), or whose first column is mostly links to pages: one ``row`` entry per body
  row, the other columns mapped by their header label (``directory_labels.LABELS``) or kept as details;
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
and its language versions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, select
from sqlalchemy.engine import Engine

from ingest.records import RawDocument

log = logging.getLogger(__name__)


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
        """The entry as plain JSON-ready values (as stored)."""
        return asdict(self)


def location_key(raw: RawDocument) -> str:
    """The key links resolve to: the URL of a fetched page, the path under root of a file."""
    return raw.location if raw.location.startswith(("http://", "https://")) else raw.fallback_id


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
