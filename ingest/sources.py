"""Sources: where raw documents come from (a local tree of files, or a website).

``iter_source(source, options, known)`` is the one entry point: a URL is crawled
(ingest.crawl), anything else is read from disk (``iter_local``). Both yield the same
records (RawDocument / NotModified / Gone / Failure) and never raise on bad input: a file
that cannot be used becomes a Failure with its reason, logged, and the run goes on.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pathspec import GitIgnoreSpec, PathSpec

from ingest.records import ContentKind, Failure, RawDocument, SourceEvent

if TYPE_CHECKING:
    from ingest.crawl import CrawlOptions, Validators

log = logging.getLogger(__name__)

IGNORE_FILE = ".kmrignore"
KINDS: dict[str, ContentKind] = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
}


@dataclass(frozen=True)
class SourceOptions:
    """How sources are read (built by ``Settings``)."""

    max_document_bytes: int
    """Files larger than this are skipped."""
    crawl: CrawlOptions
    """How websites are crawled."""


def is_url(source: str) -> bool:
    """True for http(s) URLs, which are crawled rather than read from disk."""
    return source.lower().startswith(("http://", "https://"))


def iter_source(
    source: str, options: SourceOptions, known: Mapping[str, Validators] | None = None
) -> Iterator[SourceEvent]:
    """Events for one configured source: a website URL is crawled, a path is read.

    ``known`` (URL -> validators from the last sync) only matters for websites.
    """
    if is_url(source):
        from ingest.crawl import crawl  # httpx is only needed for websites

        yield from crawl(source, options.crawl, known or {})
    else:
        path = source[len("file://") :] if source.startswith("file://") else source
        yield from iter_local(Path(path), options, origin=source)


def printable(location: str | Path) -> str:
    """A location safe to log, store and print: bytes of a file name that are not valid
    UTF-8 (kept by Python as lone surrogates) are shown as ``\\xff`` escapes."""
    text = str(location)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", errors="backslashreplace")
    return text


def _os_reason(exc: OSError, what: str = "cannot open") -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"{what}: {exc.strerror or exc}"


def _skip(location: Path | str, reason: str, origin: str) -> Failure:
    location = printable(location)
    log.info("skipped %s: %s", location, reason)
    return Failure(location=location, reason=reason, origin=origin)


def iter_local(
    root: Path, options: SourceOptions, *, origin: str | None = None
) -> Iterator[SourceEvent]:
    """Raw documents for every supported file under ``root`` (a directory or one file).

    Identity: ``fallback_id`` is the POSIX path relative to the root (for a single file,
    the root is its folder). Hidden files and folders (.git, .DS_Store) and paths listed
    in the root's ``.kmrignore`` (gitignore syntax) are left out; unsupported types,
    empty, binary, oversized, unreadable files and symlink loops become Failures.
    """
    origin = origin if origin is not None else str(root)
    try:
        info = root.stat()
    except FileNotFoundError:
        yield _skip(root, "not found", origin)
        return
    except OSError as exc:  # ELOOP, EACCES...
        yield _skip(root, _os_reason(exc), origin)
        return
    if stat.S_ISDIR(info.st_mode):
        files = _walk(root, origin, _ignore_spec(root))
        base = root
    else:
        files = iter([root])
        base = root.parent
    for item in files:
        if isinstance(item, Failure):
            yield item
        elif printable(item) != str(item):
            # Its name could not be stored, shown or linked to; the rest of the tree goes on.
            yield _skip(item, "file name is not valid UTF-8", origin)
        else:
            try:
                event = _read_file(item, base, options.max_document_bytes, origin)
            except Exception as exc:  # noqa: BLE001 - one odd file never stops the listing
                event = _skip(item, f"unexpected error: {type(exc).__name__}: {exc}", origin)
            yield event


def _ignore_spec(root: Path) -> PathSpec | None:
    """The root's ``.kmrignore`` (gitignore syntax): paths the owner keeps out of the index."""
    path = root / IGNORE_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None
    return GitIgnoreSpec.from_lines(lines)


def _walk(root: Path, origin: str, ignore: PathSpec | None = None) -> Iterator[Path | Failure]:
    """Files under root in a stable order, following symlinks but never twice into a folder.

    Paths matched by ``ignore`` are left out silently: excluding them was a choice.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
        except OSError as exc:
            yield _skip(folder, _os_reason(exc, "cannot open folder"), origin)
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:
            yield _skip(folder, "symlink loop (folder already visited)", origin)
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            yield _skip(folder, _os_reason(exc, "cannot list folder"), origin)
            continue
        subfolders: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue  # .git, .DS_Store, editor swap files
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError as exc:
                yield _skip(path, _os_reason(exc), origin)
                continue
            relative = path.relative_to(root).as_posix() + ("/" if is_dir else "")
            if ignore is not None and ignore.match_file(relative):
                log.debug("ignored by %s: %s", IGNORE_FILE, relative)
                continue
            if is_dir:
                subfolders.append(path)
            else:
                yield path
        stack.extend(reversed(subfolders))


def _read_file(path: Path, base: Path, max_bytes: int, origin: str) -> SourceEvent:
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        return _skip(path, f"unsupported file type {path.suffix or '(none)'}", origin)
    try:
        info = path.stat()
    except OSError as exc:  # a dangling or looping symlink
        return _skip(path, _os_reason(exc), origin)
    if not stat.S_ISREG(info.st_mode):
        return _skip(path, "not a regular file", origin)  # a FIFO would block the read
    if info.st_size > max_bytes:
        return _skip(path, f"too large: {info.st_size} bytes (limit {max_bytes})", origin)
    try:
        with path.open("rb") as handle:
            # Read one byte past the cap: a file that grew since stat() is still refused.
            content = handle.read(max_bytes + 1)
    except PermissionError:
        return _skip(path, "unreadable: permission denied", origin)
    except OSError as exc:
        return _skip(path, _os_reason(exc, "unreadable"), origin)
    if len(content) > max_bytes:
        return _skip(path, f"too large: over {max_bytes} bytes", origin)
    if not content.strip():
        return _skip(path, "empty", origin)
    if kind != "pdf" and _looks_binary(content):
        return _skip(path, f"binary data in a {path.suffix} file", origin)
    if kind == "pdf" and b"%PDF-" not in content[:1024]:
        return _skip(path, "not a PDF (no %PDF- header)", origin)
    modified = datetime.fromtimestamp(info.st_mtime, tz=UTC).isoformat()
    return RawDocument(
        location=str(path.absolute()),
        kind=kind,
        content=content,
        origin=origin,
        fallback_id=path.relative_to(base).as_posix(),
        last_modified=modified,
    )


def _looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the first 8 KB (UTF-16 BOMs excepted)."""
    sample = data[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > len(sample) * 0.05
