"""What the crawler reads URLs from, and the forms in which it compares them.

Pure functions: URL normalisation (courlan), the site a URL belongs to, HTTP dates for
conditional requests, the URLs a sitemap lists and the links (and robots meta) of a page.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html


def normalize_url(url: str) -> str:
    """Canonical form for de-duplication: no fragment, no tracking parameters, lower-case host."""
    from courlan import normalize_url as courlan_normalize

    url = urldefrag(url.strip())[0]
    with contextlib.suppress(ValueError, AttributeError):  # malformed: keep it as it is
        url = courlan_normalize(url)  # drops utm_*, gclid, fbclid...; sorts the query
    url = urldefrag(url)[0]
    parts = urlsplit(url)
    if not parts.path:
        url = parts._replace(path="/").geturl()
    return url


def site_host(url: str) -> str:
    """The host a URL belongs to, lower-case and without ``www.`` (same site, either way)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def http_date(value: str | None) -> str | None:
    """An HTTP-date for If-Modified-Since from an HTTP-date or ISO 8601 string."""
    if not value:
        return None
    try:
        return format_datetime(parsedate_to_datetime(value).astimezone(UTC), usegmt=True)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def iso_date(header: str | None) -> str | None:
    """ISO 8601 (UTC) from an HTTP Last-Modified header; None when unparseable."""
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(UTC).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def parse_sitemap(content: bytes) -> tuple[list[str], list[str]]:
    """(child sitemaps, page URLs) from a sitemap or sitemap index; text sitemaps too."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        lines = content.decode("utf-8", errors="replace").split()
        return [], [line for line in lines if line.startswith(("http://", "https://"))]
    locs = [(el.getparent(), (el.text or "").strip()) for el in root.iter("{*}loc")]
    children = [
        url
        for parent, url in locs
        if parent is not None and etree.QName(parent).localname == "sitemap"
    ]
    pages = [
        url for parent, url in locs if parent is not None and etree.QName(parent).localname == "url"
    ]
    return children, pages


def page_links(content: bytes, base_url: str) -> tuple[list[str], bool, bool]:
    """(absolute links, noindex, nofollow) of an HTML page."""
    try:
        doc = lxml_html.fromstring(content)
    except (etree.ParserError, ValueError):
        return [], False, False
    robots = " ".join(
        doc.xpath("//meta[translate(@name,'ROBOTS','robots')='robots']/@content")
    ).lower()
    noindex = "noindex" in robots or "none" in robots.split(",")
    nofollow = "nofollow" in robots or "none" in robots.split(",")
    base = doc.xpath("//base/@href")
    base_url = urljoin(base_url, base[0]) if base else base_url
    links = []
    for element in doc.xpath(
        "//a[@href] | //area[@href] | //link[@rel='alternate'][@hreflang][@href]"
    ):
        if "nofollow" in (element.get("rel") or "").lower():
            continue
        href = (element.get("href") or "").strip()
        if href and not href.lower().startswith(("mailto:", "tel:", "javascript:", "data:", "#")):
            links.append(urljoin(base_url, href))
    return links, noindex, nofollow
