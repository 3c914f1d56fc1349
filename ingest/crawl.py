"""Website crawler: same-host pages from a start URL and its sitemaps, politely.

``crawl(start_url, options, known)`` is a generator of SourceEvents, one per URL, yielded
as it goes so the sync step can show progress:

- RawDocument   an HTML page or a PDF (final URL after redirects as ``location``)
- NotModified   a 304 answer to a conditional request built from ``known`` validators
- Gone          a URL in ``known`` that now answers 404/410
- Failure       anything else (robots.txt disallows it, redirect loop, timeout after
                retries, HTTP error, other content type, too large), logged with its reason

Politeness: robots.txt (protego) for ``CrawlOptions.user_agent``, one request at a time with
``delay`` (or the robots Crawl-delay when larger) between requests, retries with
exponential backoff on 5xx, 429 and timeouts, bodies streamed and abandoned past
``max_document_bytes`` or when the content type is not wanted. URLs, dates, sitemaps and
links are read by ``ingest.urls``.
"""

from __future__ import annotations

import gzip
import logging
import re
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from ingest.records import Failure, Gone, NotModified, RawDocument, SourceEvent
from ingest.urls import http_date, iso_date, normalize_url, page_links, parse_sitemap, site_host

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
REDIRECT_CODES = {301, 302, 303, 307, 308}
BACKOFF_BASE = 0.5  # seconds; doubled at each retry
BACKOFF_CAP = 30.0
MAX_SITEMAPS = 50
HTML_TYPES = {"text/html", "application/xhtml+xml"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
# Links to these are never pages worth fetching.
_SKIP_EXTENSIONS = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|ico|bmp|tiff?|css|js|mjs|json|xml|rss|atom|zip|gz|tgz|rar|7z|"
    r"mp3|mp4|m4a|avi|mov|wmv|webm|ogg|wav|woff2?|ttf|eot|otf|exe|dmg|msi|apk|iso|"
    r"docx?|xlsx?|pptx?|odt|ods|csv)$",
    re.I,
)


@dataclass(frozen=True)
class CrawlOptions:
    """How far and how politely a website is crawled (built by ``Settings``)."""

    max_pages: int
    """Pages fetched per crawl at most (known pages are re-checked beyond it)."""
    max_depth: int
    """Link depth from the start URL."""
    delay: float
    """Seconds between requests to the same host (robots.txt Crawl-delay wins when larger)."""
    request_timeout: float
    """Seconds per HTTP request (a body may take four times as long)."""
    request_retries: int
    """Retries on 5xx, 429 and timeouts, with exponential backoff."""
    user_agent: str
    """User-Agent of the crawler, also matched against robots.txt."""
    max_document_bytes: int
    """Responses larger than this are skipped."""


@dataclass(frozen=True)
class Validators:
    """What the server said last time, for a conditional request on re-sync."""

    etag: str | None = None
    last_modified: str | None = None  # HTTP-date or ISO 8601


class _Skip(Exception):
    """A URL that gives no document; ``event`` says what to yield instead."""

    def __init__(self, event: SourceEvent) -> None:
        super().__init__(getattr(event, "reason", type(event).__name__))
        self.event = event


@dataclass
class _Fetched:
    url: str
    kind: str  # "html" | "pdf" | "xml"
    content: bytes
    charset: str | None
    etag: str | None
    last_modified: str | None
    noindex: bool = False
    nofollow: bool = False


class _Crawler:
    """State of one crawl: client, robots rules, pacing, frontier."""

    def __init__(
        self,
        start_url: str,
        options: CrawlOptions,
        known: Mapping[str, Validators],
        client: httpx.Client,
    ) -> None:
        self.options = options
        self.origin = start_url
        self.start = normalize_url(start_url)
        self.host = site_host(self.start)
        self.known = {normalize_url(url): value for url, value in known.items()}
        self.client = client
        self.robots: Protego | None = None
        self.robots_failed: str | None = None
        self.delay = options.delay
        self.last_request = 0.0

    # -- plumbing -----------------------------------------------------------------------

    def _wait(self) -> None:
        pause = self.delay - (time.monotonic() - self.last_request)
        if pause > 0:
            time.sleep(pause)
        self.last_request = time.monotonic()

    def _fail(self, url: str, reason: str) -> Failure:
        log.info("skipped %s: %s", url, reason)
        return Failure(location=url, reason=reason, origin=self.origin)

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets the crawler fetch ``url``."""
        return self.robots is None or self.robots.can_fetch(url, self.options.user_agent)

    def same_site(self, url: str) -> bool:
        """Whether ``url`` is an http(s) URL of the start URL's site."""
        return urlsplit(url).scheme in ("http", "https") and site_host(url) == self.host

    def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """One GET (streamed), retried with backoff on timeouts, connection errors, 5xx and 429."""
        attempts = self.options.request_retries + 1
        for attempt in range(attempts):
            self._wait()
            last = attempt == attempts - 1
            try:
                request = self.client.build_request("GET", url, headers=headers)
                response = self.client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                if last:
                    raise _Skip(self._fail(url, f"timed out after {attempts} attempt(s)")) from exc
                self._backoff(attempt, None, url, "timeout")
                continue
            except httpx.TransportError as exc:
                if last:
                    raise _Skip(
                        self._fail(url, f"connection failed: {type(exc).__name__}")
                    ) from exc
                self._backoff(attempt, None, url, type(exc).__name__)
                continue
            if (response.status_code >= 500 or response.status_code == 429) and not last:
                retry_after = response.headers.get("retry-after")
                response.close()
                self._backoff(attempt, retry_after, url, f"HTTP {response.status_code}")
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: str | None, url: str, why: str) -> None:
        pause = min(BACKOFF_BASE * 2**attempt, BACKOFF_CAP)
        if retry_after and retry_after.strip().isdigit():
            pause = min(max(pause, float(retry_after)), BACKOFF_CAP)
        log.info("retrying %s in %.1fs (%s)", url, pause, why)
        time.sleep(pause)

    def fetch(
        self, url: str, *, validators: Validators | None = None, accept_xml: bool = False
    ) -> _Fetched:
        """GET a same-site URL, following redirects by hand (robots and loops checked)."""
        headers: dict[str, str] = {}
        if validators is not None:
            if validators.etag:
                headers["If-None-Match"] = validators.etag
            since = http_date(validators.last_modified)
            if since:
                headers["If-Modified-Since"] = since
        chain = [url]
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(current, headers)
            try:
                if response.status_code in REDIRECT_CODES:
                    target = response.headers.get("location", "")
                    if not target:
                        raise _Skip(
                            self._fail(url, f"HTTP {response.status_code} without Location")
                        )
                    nxt = normalize_url(urljoin(current, target))
                    if nxt in chain:
                        raise _Skip(self._fail(url, "redirect loop: " + " -> ".join(chain + [nxt])))
                    if not self.same_site(nxt):
                        raise _Skip(self._fail(url, f"redirects off-site to {nxt}"))
                    if not self.allowed(nxt):
                        raise _Skip(
                            self._fail(url, f"redirects to {nxt}, disallowed by robots.txt")
                        )
                    chain.append(nxt)
                    current = nxt
                    continue
                return self._read(url, current, response, accept_xml=accept_xml)
            finally:
                response.close()
        raise _Skip(self._fail(url, f"too many redirects (more than {MAX_REDIRECTS})"))

    def _read(
        self, url: str, final: str, response: httpx.Response, *, accept_xml: bool
    ) -> _Fetched:
        status = response.status_code
        if status == 304:
            raise _Skip(NotModified(location=url, origin=self.origin))
        if status in (404, 410):
            if url in self.known:
                log.info("gone %s: HTTP %d", url, status)
                raise _Skip(Gone(location=url, origin=self.origin))
            raise _Skip(self._fail(url, f"HTTP {status}"))
        if status >= 400:
            raise _Skip(self._fail(url, f"HTTP {status}"))
        if status != 200:
            raise _Skip(self._fail(url, f"unexpected HTTP {status}"))
        content_type = response.headers.get("content-type", "")
        mime = content_type.split(";")[0].strip().lower()
        charset = response.charset_encoding
        if mime in HTML_TYPES:
            kind = "html"
        elif mime in PDF_TYPES:
            kind = "pdf"
        elif accept_xml and (
            mime.endswith("xml")
            or mime in ("application/gzip", "application/x-gzip", "text/plain", "")
        ):
            kind = "xml"
        elif not mime:
            kind = "unknown"  # decided from the first bytes below
        else:
            raise _Skip(self._fail(url, f"content type {mime} is not HTML or PDF"))
        limit = self.options.max_document_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _Skip(self._fail(url, f"too large: {declared} bytes (limit {limit})"))
        body = bytearray()
        deadline = time.monotonic() + self.options.request_timeout * 4
        try:
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    raise _Skip(self._fail(url, f"too large: over {limit} bytes"))
                if time.monotonic() > deadline:
                    raise _Skip(self._fail(url, "body download too slow"))
        except httpx.TimeoutException as exc:
            raise _Skip(self._fail(url, "timed out while reading the body")) from exc
        except httpx.TransportError as exc:
            raise _Skip(
                self._fail(url, f"connection broke while reading: {type(exc).__name__}")
            ) from exc
        content = bytes(body)
        if kind == "unknown":
            head = content[:1024].lstrip().lower()
            if head.startswith(b"%pdf-"):
                kind = "pdf"
            elif b"<html" in head or head.startswith(b"<!doctype html"):
                kind = "html"
            else:
                raise _Skip(self._fail(url, "no content type and not HTML or PDF"))
        robots_header = response.headers.get("x-robots-tag", "").lower()
        return _Fetched(
            url=final,
            kind=kind,
            content=content,
            charset=charset,
            etag=response.headers.get("etag"),
            last_modified=iso_date(response.headers.get("last-modified")),
            noindex="noindex" in robots_header or "none" in robots_header.split(","),
            nofollow="nofollow" in robots_header,
        )

    # -- robots and sitemaps ------------------------------------------------------------

    def load_robots(self) -> None:
        """Read robots.txt (a 5xx or no answer: nothing may be fetched; a 4xx: no rules)."""
        parts = urlsplit(self.start)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        try:
            response = self._send(robots_url, {})
        except _Skip as skip:
            self.robots_failed = getattr(skip.event, "reason", "unreachable")
            return
        try:
            if response.status_code >= 500:
                # RFC 9309: an unreachable robots.txt means "assume complete disallow".
                self.robots_failed = f"robots.txt answered HTTP {response.status_code}"
                return
            if response.status_code != 200:
                return  # 4xx: no rules
            text = response.read()[: 512 * 1024].decode("utf-8", errors="replace")
        finally:
            response.close()
        self.robots = Protego.parse(text)
        robots_delay = self.robots.crawl_delay(self.options.user_agent)
        if robots_delay and robots_delay > self.delay:
            self.delay = float(robots_delay)
            log.info("robots.txt asks for %.1fs between requests", self.delay)

    def sitemap_urls(self) -> Iterator[str]:
        """Page URLs listed by the site's sitemaps (robots.txt ``Sitemap:`` or /sitemap.xml)."""
        parts = urlsplit(self.start)
        declared: list[str] = list(self.robots.sitemaps) if self.robots is not None else []
        queue = deque(declared or [f"{parts.scheme}://{parts.netloc}/sitemap.xml"])
        seen: set[str] = set()
        while queue and len(seen) < MAX_SITEMAPS:
            sitemap = normalize_url(queue.popleft())
            if sitemap in seen or not self.same_site(sitemap) or not self.allowed(sitemap):
                continue
            seen.add(sitemap)
            try:
                fetched = self.fetch(sitemap, accept_xml=True)
            except _Skip as skip:
                log.info("sitemap %s not used: %s", sitemap, getattr(skip.event, "reason", skip))
                continue
            content = fetched.content
            if content[:2] == b"\x1f\x8b":
                try:
                    content = gzip.decompress(content)[: self.options.max_document_bytes]
                except (OSError, EOFError):
                    continue
            children, pages = parse_sitemap(content)
            queue.extend(children)
            yield from pages


def crawl(
    start_url: str,
    options: CrawlOptions,
    known: Mapping[str, Validators] | None = None,
    *,
    client: httpx.Client | None = None,
) -> Iterator[SourceEvent]:
    """Crawl one site from ``start_url``, yielding one event per URL as it goes.

    ``known`` maps URLs fetched before (RawDocument.location) to their validators: each is
    re-requested conditionally (NotModified when unchanged, Gone when deleted), whatever
    the page and depth limits.
    """
    known = known or {}
    own_client = client is None
    if client is None:
        client = httpx.Client(
            headers={"User-Agent": options.user_agent},
            timeout=httpx.Timeout(options.request_timeout),
            follow_redirects=False,
        )
    try:
        yield from _crawl(_Crawler(start_url, options, known, client))
    finally:
        if own_client:
            client.close()


def _crawl(crawler: _Crawler) -> Iterator[SourceEvent]:
    options = crawler.options
    crawler.load_robots()
    if crawler.robots_failed:
        # Without robots.txt nothing may be fetched; known pages are kept, not deleted.
        reason = f"robots.txt unavailable ({crawler.robots_failed}): site not crawled"
        yield crawler._fail(crawler.origin, reason)
        for url in crawler.known:
            yield Failure(location=url, reason=reason, origin=crawler.origin)
        return
    queue: deque[tuple[str, int]] = deque()
    queued: set[str] = set()

    def add(url: str, depth: int, *, asked: bool = False) -> None:
        """Queue a URL once; discovered links to images, scripts or archives are not pages."""
        url = normalize_url(url)
        if url in queued or not crawler.same_site(url):
            return
        if not asked and _SKIP_EXTENSIONS.search(urlsplit(url).path):
            return
        queued.add(url)
        queue.append((url, depth))

    add(crawler.start, 0, asked=True)
    for url in crawler.known:
        add(url, 0, asked=True)
    for url in crawler.sitemap_urls():
        add(url, 0)
    fetched_pages = 0
    done: set[str] = set()  # final URLs already yielded (redirects may lead to one twice)
    while queue:
        url, depth = queue.popleft()
        if url in done:
            continue
        is_known = url in crawler.known
        if fetched_pages >= options.max_pages and not is_known:
            log.info("page limit %d reached; %d URLs left", options.max_pages, len(queue))
            # Known pages are still re-checked, so a limit never looks like a deletion.
            continue
        if not crawler.allowed(url):
            yield crawler._fail(url, "disallowed by robots.txt")
            continue
        fetched_pages += 1
        try:
            page = crawler.fetch(url, validators=crawler.known.get(url))
        except _Skip as skip:
            yield skip.event
            continue
        if page.kind == "html":
            links, noindex, nofollow = page_links(page.content, page.url)
            if depth < options.max_depth and not (nofollow or page.nofollow):
                for link in links:
                    add(link, depth + 1)
            if noindex or page.noindex:
                yield crawler._fail(url, "page asks not to be indexed (robots noindex)")
                continue
        if page.url in done:
            log.debug("%s redirects to %s, already crawled", url, page.url)
            continue
        done.update((url, page.url))
        queued.add(page.url)
        yield RawDocument(
            location=page.url,
            kind="pdf" if page.kind == "pdf" else "html",
            content=page.content,
            origin=crawler.origin,
            fallback_id=page.url,
            charset=page.charset,
            etag=page.etag,
            last_modified=page.last_modified,
        )
