"""The records that flow through the ingestion pipeline.

sources  --RawDocument / NotModified / Gone / Failure-->  extract  --Page-->  chunk  --Chunk--> sync

Every source (local files, a crawled website) yields the same kinds of events, so the sync step
never needs to know where content came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

ContentKind = Literal["html", "pdf", "markdown", "text"]


@dataclass(frozen=True)
class RawDocument:
    """Bytes read from a file or fetched from a URL, before extraction."""

    location: str  # file path or final URL after redirects
    kind: ContentKind
    content: bytes
    origin: str  # the source root or start URL this came from
    fallback_id: str  # identity when the page declares no canonical URL (path under root / URL)
    charset: str | None = None  # from the HTTP Content-Type header, when any
    etag: str | None = None
    last_modified: str | None = None  # HTTP Last-Modified or file mtime (ISO 8601)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the raw bytes: unchanged bytes are never extracted or embedded again."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class NotModified:
    """A page the server answered 304 to: keep what the index holds for it."""

    location: str
    origin: str


@dataclass(frozen=True)
class Gone:
    """A page that disappeared from its source (404/410 on re-crawl)."""

    location: str
    origin: str


@dataclass(frozen=True)
class Failure:
    """A file or URL that could not be read; the run goes on without it."""

    location: str
    reason: str
    origin: str = ""


SourceEvent = RawDocument | NotModified | Gone | Failure


@dataclass(frozen=True)
class Page:
    """Clean main content of one document plus its metadata."""

    source_id: str  # canonical URL when declared, else the raw document's fallback_id
    url: str  # where a reader can open it (canonical URL, final URL or file path)
    title: str
    text: str  # Markdown: headings (#), lists (-), tables (|) keep their structure
    language: str  # ISO 639-1, e.g. "it", "en"
    description: str = ""
    page_type: str = ""  # e.g. news, partner, faq; "" when it cannot be derived
    date: str = ""  # ISO date from the page or the server, "" when unknown
    alternates: dict[str, str] = field(default_factory=dict)  # hreflang -> URL
    directory: tuple = ()  # ingest.directory.DirectoryEntry items found on the page


@dataclass(frozen=True)
class Chunk:
    """A piece of a page, ready to embed. ``text`` starts with the title and heading path."""

    id: str  # stable: same content from the same source gives the same id
    text: str
    metadata: dict[str, str | int | float | bool]


@dataclass(frozen=True)
class ExtractOptions:
    """Per-document limits and trust rules of extraction (built from the settings by the caller).

    ``canonical_hosts``: hosts a declared canonical URL may point to besides the document's
    own (a crawled page's host, or its start URL's); for local files, when empty, any host.
    ``min_language_confidence``: a detected language below this probability is not used.
    ``page_type_words``: URL path words that name a page type, beyond ingest/page_types.json.
    """

    max_elements: int = 200_000
    max_text_chars: int = 2_000_000
    canonical_hosts: tuple[str, ...] = ()
    min_language_confidence: float = 0.8
    page_type_words: tuple[tuple[str, str], ...] = ()  # (URL word, page type) pairs


class ExtractionError(Exception):
    """The document gives no usable text; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
