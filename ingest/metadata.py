"""Extraction step 4, metadata and page type: title, description, language, canonical URL
(only on a trusted host), hreflang alternates, page type (declared, schema.org, URL words from
ingest/page_types.json) and date."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

from bs4 import Tag

from ingest.chrome import _CONTENT_CONTAINERS, _in_content
from ingest.dom import _Tags
from ingest.language import _language_tag
from ingest.records import ExtractOptions, RawDocument

log = logging.getLogger(__name__)


@dataclass
class _Meta:
    canonical: str = ""
    title: str = ""
    description: str = ""
    language: str = ""
    alternates: dict[str, str] = field(default_factory=dict)
    page_type: str = ""
    date: str = ""


def _meta_index(tags: _Tags) -> dict[str, str]:
    """<meta name|property|itemprop|http-equiv=key content> as {key (lower case): content}.

    Built in one pass: looking each key up with soup.find() cost most of extraction's time.
    """
    index: dict[str, str] = {}
    for tag in tags.named("meta"):
        content = " ".join(str(tag.get("content") or "").split())
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = tag.get(attr)
            if key:
                index.setdefault(str(key).strip().lower(), content)
    return index


def _meta_content(index: dict[str, str], *keys: str) -> str:
    """The first non-empty meta content among ``keys``."""
    for key in keys:
        value = index.get(key.lower())
        if value:
            return value
    return ""


def _absolute(href: str, base: str) -> str:
    """An absolute http(s) URL without fragment, or '' when it cannot be made one."""
    href = href.strip()
    if not href:
        return ""
    url = urljoin(base, href) if base else href
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return url.split("#", 1)[0]


def _rel(tag: Tag) -> list[str]:
    rel = tag.get("rel")
    if rel is None:
        return []
    return [str(r).lower() for r in (rel if isinstance(rel, list) else str(rel).split())]


_STRONG_SEPARATOR = re.compile(r"\s+(?:\||·|•|»|—|::|~)\s+")


_DASH_SEPARATOR = re.compile(r"\s+[-–]\s+")


_ANY_SEPARATOR = r"\s+(?:\||·|•|»|—|::|~|-|–|:)\s+"


def _related(part: str, site_name: str) -> bool:
    part, site = part.lower().strip(), site_name.lower().strip()
    return bool(site) and len(part) >= 3 and (part in site or site in part)


def _trim_site_name(title: str, site_name: str, *, guess: bool = True) -> str:
    """'Contacts | Kilometro Rosso' -> 'Contacts': drop the site-name side of a title.

    The side that matches ``site_name`` goes; without a match, ``guess`` drops the suffix
    after the last strong separator (the common "Page | Site" pattern).
    """
    title = " ".join(title.split())
    for pattern in (_STRONG_SEPARATOR, _DASH_SEPARATOR):
        found = list(pattern.finditer(title))
        if not found:
            continue
        last = found[-1]
        head, tail = title[: last.start()].strip(), title[last.end() :].strip()
        if _related(tail, site_name):
            return head
        if _related(head, site_name):
            return tail
        if guess and pattern is _STRONG_SEPARATOR:
            return head
    return title


def _json_ld_types(tags: _Tags) -> tuple[set[str], str]:
    """@type values and the first datePublished from JSON-LD blocks."""
    types: set[str] = set()
    published = ""

    def walk(node: object) -> None:
        nonlocal published
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            kind = node.get("@type")
            for value in kind if isinstance(kind, list) else [kind]:
                if isinstance(value, str):
                    types.add(value)
            if not published and isinstance(node.get("datePublished"), str):
                published = node["datePublished"]
            for key in ("@graph", "mainEntity", "itemListElement"):
                if key in node:
                    walk(node[key])

    for script in tags.named("script"):
        if "ld+json" not in str(script.get("type") or "").lower():
            continue
        try:
            walk(json.loads(script.get_text() or "null"))
        except (ValueError, RecursionError):
            continue
    return types, published


# Generic words for sections of a site, by page type: data, extended by a setting.
_SECTION_WORDS: dict[str, list[str]] = {
    kind: words
    for kind, words in json.loads(
        (Path(__file__).with_name("page_types.json")).read_text(encoding="utf-8")
    ).items()
    if not kind.startswith("_")
}


_WORD_TO_TYPE = {word: kind for kind, words in _SECTION_WORDS.items() for word in words}


_SCHEMA_TYPES = {
    "NewsArticle": "news",
    "BlogPosting": "news",
    "ReportageNewsArticle": "news",
    "Event": "events",
    "FAQPage": "faq",
    "ContactPage": "contacts",
    "AboutPage": "about",
}


def page_type_from_url(url: str, extra: Mapping[str, str] | None = None) -> str:
    """A page type from generic section words in the URL path ('' when none).

    ``extra`` (word -> type) adds to or overrides the words of ingest/page_types.json.
    """
    words = {**_WORD_TO_TYPE, **extra} if extra else _WORD_TO_TYPE
    path = urlsplit(url).path if "://" in url else url
    segments = [
        PurePosixPath(s).stem.lower() if "." in s else s.lower()
        for s in path.strip("/").split("/")
        if s
    ]
    content = [
        s for s in segments if not re.fullmatch(r"[a-z]{2}([-_][a-z]{2})?|index|default|home", s)
    ]
    if not content:
        return "home"
    for segment in content:
        if segment in words:
            return words[segment]
    return ""


def _page_type(
    metas: dict[str, str], url: str, ld_types: set[str], extra: Mapping[str, str]
) -> str:
    declared = _meta_content(metas, "page-type", "page_type", "pagetype")
    if declared:
        return declared.lower()
    for schema, kind in _SCHEMA_TYPES.items():
        if schema in ld_types:
            return kind
    from_url = page_type_from_url(url, extra) if url else ""
    if from_url:
        return from_url
    if _meta_content(metas, "og:type").lower() == "article" or "Article" in ld_types:
        return "news"
    return ""


def iso_date(value: str) -> str:
    """An ISO date (YYYY-MM-DD) from ISO 8601 or HTTP-date text; '' when not a date."""
    value = (value or "").strip()
    if not value:
        return ""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
    if match:
        return match.group(0)
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return ""


def _declared_date(tags: _Tags, metas: dict[str, str], ld_published: str) -> str:
    """A publication date the page states in its metadata or main <time> element."""
    for value in (
        _meta_content(
            metas,
            "article:published_time",
            "og:published_time",
            "datePublished",
            "date",
            "dc.date",
            "dc.date.issued",
            "dcterms.date",
            "publish-date",
            "pubdate",
        ),
        ld_published,
    ):
        if iso_date(value):
            return iso_date(value)
    for time in tags.named("time"):
        # Only a <time> inside the article or main content dates the page (not a sidebar's).
        value = iso_date(str(time.get("datetime") or ""))
        if value and _in_content(time, tuple(_CONTENT_CONTAINERS)):
            return value
    return ""


def _guessed_date(cleaned_html: str, url: str, *, article: bool) -> str:
    """htmldate's guess on the cleaned page (sidebars would mislead it).

    Only a news item's text is searched for dates: elsewhere the years in the prose
    ("since 2019", a table of founding years) are not the page's date (measured).
    """
    try:
        from htmldate import find_date

        return (
            find_date(
                cleaned_html,
                extensive_search=article,
                original_date=True,
                url=url if url.startswith("http") else None,
            )
            or ""
        )
    except Exception:  # noqa: BLE001 - htmldate guesses; a failed guess is just no date
        return ""


def _html_metadata(tags: _Tags, raw: RawDocument, options: ExtractOptions) -> _Meta:
    meta = _Meta()
    from_web = raw.location.startswith(("http://", "https://"))
    base = raw.location if from_web else ""
    base_tag = next((t for t in tags.named("base") if t.get("href")), None)
    if base_tag is not None and from_web:
        base = urljoin(base, str(base_tag["href"]))
    links = [t for t in tags.named("link") if t.get("href")]
    for link in links:
        if "canonical" in _rel(link) and not meta.canonical:
            meta.canonical = _trusted_canonical(_absolute(str(link["href"]), base), raw, options)
    base = base or meta.canonical
    for link in links:
        if link.get("hreflang") and "alternate" in _rel(link):
            url = _absolute(str(link["href"]), base)
            if url:
                meta.alternates[str(link["hreflang"]).strip().lower()] = url
    metas = _meta_index(tags)
    site_name = _meta_content(metas, "og:site_name", "application-name")
    title_tag = tags.first("title")
    raw_title = " ".join(title_tag.get_text().split()) if title_tag else ""
    h1 = tags.first("h1")
    h1_text = " ".join(h1.get_text(" ").split()) if h1 else ""
    trimmed = _trim_site_name(raw_title, site_name) if raw_title else ""
    og_title = _meta_content(metas, "og:title", "twitter:title")
    if og_title:
        meta.title = _trim_site_name(og_title, site_name, guess=False)
    elif h1_text and re.match(
        re.escape(h1_text) + r"(\s*$|" + _ANY_SEPARATOR + ")", raw_title, re.I
    ):
        meta.title = h1_text  # "<h1> - Site name": the <h1> shows where the suffix starts
    elif trimmed and trimmed.lower() != site_name.lower():
        meta.title = trimmed
    else:
        meta.title = h1_text or trimmed or raw_title
    meta.description = _meta_content(metas, "description", "og:description", "twitter:description")
    html_tag = tags.first("html")
    meta.language = _language_tag(
        str(html_tag.get("lang") or html_tag.get("xml:lang") or "") if html_tag else ""
    ) or _language_tag(_meta_content(metas, "content-language", "language", "dc.language"))
    ld_types, ld_published = _json_ld_types(tags)
    meta.page_type = _page_type(
        metas,
        meta.canonical or (raw.location if from_web else raw.fallback_id),
        ld_types,
        dict(options.page_type_words),
    )
    meta.date = _declared_date(tags, metas, ld_published)
    return meta


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _trusted_canonical(canonical: str, raw: RawDocument, options: ExtractOptions) -> str:
    """``canonical`` when the document may claim it, else '' (it keeps its own identity).

    A page may only name a canonical URL on its own host, its source's host, or one of
    ``options.canonical_hosts``: otherwise any page could take over another site's identity.
    Local files have no host of their own, so without a configured list any host is taken.
    """
    if not canonical:
        return ""
    allowed = {_host(h if "://" in h else f"//{h}") for h in options.canonical_hosts}
    for own in (raw.location, raw.origin):
        if own.startswith(("http://", "https://")):
            allowed.add(_host(own))
    if not allowed or _host(canonical) in allowed:
        return canonical
    log.info("ignored canonical %s of %s: not on the source's host", canonical, raw.location)
    return ""
