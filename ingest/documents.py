"""Extraction step 6, documents: Markdown, plain text and PDF files -> a Page, and the small
text helpers every kind of document shares."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from ingest.decode import decode_text
from ingest.language import _choose_language, _language_tag
from ingest.markdown import tidy_markdown
from ingest.metadata import _absolute, _trusted_canonical, iso_date, page_type_from_url
from ingest.records import ExtractionError, ExtractOptions, Page, RawDocument

MIN_TEXT_CHARS = 20  # fewer letters than this is "no main content"


def _check_text_budget(text: str, options: ExtractOptions) -> None:
    if len(text) > options.max_text_chars:
        raise ExtractionError(
            f"over budget: {len(text):,} characters of text (limit {options.max_text_chars:,})"
        )


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _reader_url(raw: RawDocument) -> str:
    """Where a reader opens a page without a canonical URL: the fetched URL, or the path
    under the source root for files (an absolute path would leak the machine's layout)."""
    return raw.location if raw.location.startswith(("http://", "https://")) else raw.fallback_id


def _first_line(text: str, limit: int = 150) -> str:
    for line in text.splitlines():
        line = " ".join(line.strip().lstrip("#").split())
        if _letters(line) >= 2:
            if len(line) > limit:
                line = line[:limit].rsplit(" ", 1)[0] + "…"
            return line
    return ""


def _title_from_name(location: str) -> str:
    stem = PurePosixPath(location.replace("\\", "/").split("?")[0]).stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:]


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple YAML front matter ('key: value' lines between '---' fences) and the rest."""
    match = re.match(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", text, flags=re.S)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_][\w-]*", key.strip()):
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _setext_to_atx(text: str) -> str:
    """'Title\\n=====' -> '# Title' and 'Section\\n-----' -> '## Section'."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            line.strip()
            and not line.lstrip().startswith(("#", "-", "*", "|", ">"))
            and re.fullmatch(r"\s*(=+|-+)\s*", nxt)
            and len(nxt.strip()) >= 3
        ):
            out.append(("# " if nxt.strip()[0] == "=" else "## ") + line.strip())
            i += 2
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _page_from_text(
    raw: RawDocument, text: str, title: str, fields: dict[str, str], options: ExtractOptions
) -> Page:
    _check_text_budget(text, options)
    text = tidy_markdown(text)
    if _letters(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no text")
    canonical = _trusted_canonical(
        _absolute(
            fields.get("canonical_url") or fields.get("canonical") or fields.get("url", ""), ""
        ),
        raw,
        options,
    )
    declared = _language_tag(fields.get("lang") or fields.get("language"))
    location = canonical or raw.fallback_id
    return Page(
        source_id=canonical or raw.fallback_id,
        url=canonical or _reader_url(raw),
        title=title,
        text=text,
        language=declared or _choose_language("", text, options),
        description=fields.get("description", ""),
        page_type=(fields.get("page_type") or fields.get("type") or "").lower()
        or _doc_type(location, dict(options.page_type_words)),
        date=iso_date(fields.get("date", "")),
    )


def _doc_type(location: str, extra: Mapping[str, str]) -> str:
    kind = page_type_from_url(location, extra)
    return "" if kind == "home" else kind


def _extract_markdown(raw: RawDocument, options: ExtractOptions) -> Page:
    text = decode_text(raw.content, raw.charset)
    _check_text_budget(text, options)
    fields, body = _front_matter(text)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)  # comments are hidden text
    body = _setext_to_atx(body)
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", body, flags=re.M)
    title = (
        fields.get("title")
        or (" ".join(heading.group(1).split()) if heading else "")
        or _title_from_name(raw.location)
    )
    return _page_from_text(raw, body, title, fields, options)


def _extract_text(raw: RawDocument, options: ExtractOptions) -> Page:
    text = decode_text(raw.content, raw.charset)
    _check_text_budget(text, options)
    title = _first_line(text) or _title_from_name(raw.location)
    return _page_from_text(raw, _setext_to_atx(text), title, {}, options)


def _extract_pdf(raw: RawDocument, options: ExtractOptions) -> Page:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if b"%PDF-" not in raw.content[:1024]:
        raise ExtractionError("corrupt PDF (no PDF header)")
    try:
        reader = PdfReader(io.BytesIO(raw.content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        meta_title = str(info.title or "").strip() if info else ""
    except ExtractionError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise ExtractionError(f"encrypted PDF ({exc})") from exc
    except (
        PdfReadError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OSError,
        RecursionError,
        AssertionError,
        IndexError,
    ) as exc:
        raise ExtractionError(f"corrupt PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if _letters(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no text in PDF (scanned images?)")
    title = (
        meta_title
        if _letters(meta_title) >= 3
        else _first_line(text) or _title_from_name(raw.location)
    )
    return _page_from_text(raw, text, title, {}, options)
