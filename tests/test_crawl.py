"""The website crawler, against a real HTTP server on 127.0.0.1 serving the sample site."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import SAMPLE_SITE, Settings
from ingest.crawl import CrawlOptions, Validators, crawl
from ingest.extract import ExtractOptions, extract
from ingest.records import Failure, Gone, NotModified, RawDocument, SourceEvent
from ingest.sources import iter_source
from ingest.urls import normalize_url

try:  # tests/ as a package (rootdir on sys.path) or as a plain folder (pytest's default)
    from tests.site_server import HUGE_BYTES, SiteServer
except ImportError:
    from site_server import HUGE_BYTES, SiteServer  # type: ignore[no-redef]

SAMPLE_PAGES = 48


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    """The sample site with robots.txt and a sitemap index."""
    with SiteServer(SAMPLE_SITE) as server:
        yield server


@pytest.fixture()
def bare() -> Iterator[SiteServer]:
    """The same files and special routes, without a sitemap, fresh counters per test."""
    with SiteServer(SAMPLE_SITE, sitemap=False, slow_seconds=2.0) as server:
        yield server


def settings(tmp_path: Path, **overrides: object) -> Settings:
    """Fast, small crawl settings for the test server."""
    values: dict[str, object] = dict(
        data_dir=tmp_path,
        crawl_delay=0,
        request_timeout=0.5,
        request_retries=1,
        crawl_max_pages=200,
        max_document_bytes=1_000_000,
        _env_file=None,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def options(tmp_path: Path, **overrides: object) -> CrawlOptions:
    """The crawler's options from those settings."""
    return settings(tmp_path, **overrides).crawl_options()


def of_type(events: list[SourceEvent], kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def reasons(events: list[SourceEvent]) -> dict[str, str]:
    return {event.location: event.reason for event in of_type(events, Failure)}


@pytest.fixture(scope="module")
def first_crawl(site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> list[SourceEvent]:
    return list(crawl(f"{site.base}/en/index.html", options(tmp_path_factory.mktemp("c")), {}))


def test_crawl_finds_every_sample_page_once(
    site: SiteServer, first_crawl: list[SourceEvent]
) -> None:
    docs = of_type(first_crawl, RawDocument)
    locations = [doc.location for doc in docs]
    assert len(locations) == len(set(locations)) == SAMPLE_PAGES
    assert set(locations) == {f"{site.base}{path}" for path in site.html_paths()}
    assert all(doc.kind == "html" and doc.origin == f"{site.base}/en/index.html" for doc in docs)


def test_crawled_documents_carry_validators_and_charset(first_crawl: list[SourceEvent]) -> None:
    doc = of_type(first_crawl, RawDocument)[0]
    assert doc.etag and doc.etag.startswith('"')
    assert doc.last_modified == "2026-01-01T00:00:00+00:00"
    assert doc.charset == "utf-8"
    assert doc.fallback_id == doc.location


def test_crawled_pages_extract_with_their_canonical_identity(
    first_crawl: list[SourceEvent],
) -> None:
    doc = next(d for d in of_type(first_crawl, RawDocument) if d.location.endswith("/en/faq.html"))
    # The test server is 127.0.0.1: the real site's host is trusted by configuration.
    page = extract(doc, ExtractOptions(canonical_hosts=("www.kilometrorosso.com",)))
    assert page.source_id == "https://www.kilometrorosso.com/en/faq"
    assert page.language == "en"


def test_a_crawled_page_cannot_name_a_canonical_url_on_another_host(
    first_crawl: list[SourceEvent],
) -> None:
    doc = next(d for d in of_type(first_crawl, RawDocument) if d.location.endswith("/en/faq.html"))
    page = extract(doc)
    assert page.source_id == page.url == doc.location


def test_broken_links_are_reported_not_fatal(first_crawl: list[SourceEvent]) -> None:
    failures = reasons(first_crawl)
    assert failures, "the sample site links to pages that do not exist"
    assert all(reason == "HTTP 404" for reason in failures.values())


def test_resync_sends_conditional_requests_and_detects_removed_pages(
    site: SiteServer, first_crawl: list[SourceEvent], tmp_path: Path
) -> None:
    docs = of_type(first_crawl, RawDocument)
    known = {doc.location: Validators(doc.etag, doc.last_modified) for doc in docs}
    known[f"{site.base}/en/news/2018-old-story.html"] = Validators('"old"', None)
    before = dict(site.bytes_sent)

    events = list(crawl(f"{site.base}/en/index.html", options(tmp_path), known))

    assert len(of_type(events, NotModified)) == SAMPLE_PAGES
    assert of_type(events, RawDocument) == []
    assert [g.location for g in of_type(events, Gone)] == [
        f"{site.base}/en/news/2018-old-story.html"
    ]
    faq = site.request_headers["/en/faq.html"][-1]
    assert faq["if-none-match"] == known[f"{site.base}/en/faq.html"].etag
    assert faq["if-modified-since"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert site.bytes_sent["/en/faq.html"] == before["/en/faq.html"], "a 304 carries no body"


def test_if_modified_since_alone_is_enough(site: SiteServer, tmp_path: Path) -> None:
    url = f"{site.base}/en/contacts.html"
    known = {url: Validators(etag=None, last_modified="2026-01-01T00:00:00+00:00")}
    events = list(crawl(url, options(tmp_path, crawl_max_pages=1, crawl_max_depth=0), known))
    assert NotModified(location=url, origin=url) in events


def test_changed_page_is_downloaded_again(site: SiteServer, tmp_path: Path) -> None:
    url = f"{site.base}/en/contacts.html"
    known = {url: Validators(etag='"stale"', last_modified=None)}
    events = list(crawl(url, options(tmp_path, crawl_max_pages=1, crawl_max_depth=0), known))
    assert [d.location for d in of_type(events, RawDocument)] == [url]


def test_page_limit(site: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{site.base}/en/index.html", options(tmp_path, crawl_max_pages=5), {}))
    assert len(of_type(events, RawDocument)) + len(of_type(events, Failure)) <= 5
    assert len(of_type(events, RawDocument)) >= 4


def test_depth_limit_without_sitemap(bare: SiteServer, tmp_path: Path) -> None:
    start = f"{bare.base}/en/partners/brembo.html"
    only_start = list(crawl(start, options(tmp_path, crawl_max_depth=0), {}))
    assert [d.location for d in of_type(only_start, RawDocument)] == [start]

    one_hop = list(crawl(start, options(tmp_path, crawl_max_depth=1), {}))
    found = {d.location for d in of_type(one_hop, RawDocument)}
    assert f"{bare.base}/en/index.html" in found  # linked from the page
    assert f"{bare.base}/en/about/people.html" not in found  # two hops away


def test_sitemap_pages_are_seeds(site: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{site.base}/en/faq.html", options(tmp_path, crawl_max_depth=0), {}))
    assert len(of_type(events, RawDocument)) == SAMPLE_PAGES


def test_polite_delay_between_requests(bare: SiteServer, tmp_path: Path) -> None:
    started = time.monotonic()
    events = list(
        crawl(f"{bare.base}/en/faq.html", options(tmp_path, crawl_delay=0.3, crawl_max_depth=0), {})
    )
    assert len(of_type(events, RawDocument)) == 1
    assert time.monotonic() - started >= 0.3  # robots.txt, then the page


def test_robots_crawl_delay_wins_when_larger(tmp_path: Path) -> None:
    with SiteServer(SAMPLE_SITE, sitemap=False, robots_delay=0.4) as server:
        started = time.monotonic()
        list(crawl(f"{server.base}/en/faq.html", options(tmp_path, crawl_max_depth=0), {}))
        assert time.monotonic() - started >= 0.4


def test_tracking_parameters_and_fragments_do_not_make_new_pages(
    bare: SiteServer, tmp_path: Path
) -> None:
    events = list(crawl(f"{bare.base}/links.html", options(tmp_path, crawl_max_depth=1), {}))
    assert sorted(d.location for d in of_type(events, RawDocument)) == [
        f"{bare.base}/en/faq.html",
        f"{bare.base}/guide.pdf",
        f"{bare.base}/links.html",
    ]
    assert bare.hits["/en/faq.html"] == 1
    assert bare.hits["/assets/logo.png"] == 0


def test_pdf_links_are_fetched_as_pdf(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/links.html", options(tmp_path, crawl_max_depth=1), {}))
    (pdf,) = [d for d in of_type(events, RawDocument) if d.location.endswith(".pdf")]
    assert pdf.kind == "pdf" and pdf.content.startswith(b"%PDF-")


def test_normalize_url() -> None:
    assert (
        normalize_url("HTTP://Example.org:80/a?utm_source=x&id=3&fbclid=1#frag")
        == "http://example.org/a?id=3"
    )
    assert normalize_url("https://example.org") == "https://example.org/"
    assert normalize_url("https://example.org/p?gclid=1") == "https://example.org/p"


def test_redirect_records_the_final_url(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/redirect", options(tmp_path, crawl_max_depth=0), {}))
    assert [d.location for d in of_type(events, RawDocument)] == [f"{bare.base}/en/index.html"]


# --- bad input: a clear skip with its reason, and the run goes on ----------------------


def test_redirect_loop_is_a_failure(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/loop-a", options(tmp_path), {}))
    assert len(events) == 1 and "redirect loop" in reasons(events)[f"{bare.base}/loop-a"]


def test_server_error_then_success_is_retried(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/flaky", options(tmp_path, crawl_max_depth=0), {}))
    assert [d.location for d in of_type(events, RawDocument)] == [f"{bare.base}/flaky"]
    assert bare.hits["/flaky"] == 2


def test_persistent_server_error_gives_up_after_retries(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/always-500", options(tmp_path, request_retries=2), {}))
    assert reasons(events) == {f"{bare.base}/always-500": "HTTP 500"}
    assert bare.hits["/always-500"] == 3


def test_timeout_is_retried_then_skipped(bare: SiteServer, tmp_path: Path) -> None:
    started = time.monotonic()
    events = list(crawl(f"{bare.base}/slow", options(tmp_path, request_timeout=0.3), {}))
    assert "timed out" in reasons(events)[f"{bare.base}/slow"]
    assert bare.hits["/slow"] == 2  # first try + one retry
    assert time.monotonic() - started < 5


def test_disallowed_by_robots_is_never_fetched(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/private/secret.html", options(tmp_path), {}))
    assert reasons(events) == {f"{bare.base}/private/secret.html": "disallowed by robots.txt"}
    assert bare.hits["/private/secret.html"] == 0


@pytest.mark.parametrize(
    ("path", "mime"), [("/photo", "image/png"), ("/brochure", "application/zip")]
)
def test_other_content_types_are_skipped_without_download(
    bare: SiteServer, tmp_path: Path, path: str, mime: str
) -> None:
    events = list(crawl(f"{bare.base}{path}", options(tmp_path), {}))
    assert reasons(events) == {f"{bare.base}{path}": f"content type {mime} is not HTML or PDF"}
    assert bare.bytes_sent[path] < HUGE_BYTES / 4


def test_huge_page_is_capped_while_streaming(bare: SiteServer, tmp_path: Path) -> None:
    started = time.monotonic()
    events = list(crawl(f"{bare.base}/huge", options(tmp_path), {}))
    assert reasons(events) == {f"{bare.base}/huge": "too large: over 1000000 bytes"}
    assert bare.bytes_sent["/huge"] < HUGE_BYTES / 4
    assert time.monotonic() - started < 10


def test_declared_length_over_the_cap_is_refused_before_reading(
    bare: SiteServer, tmp_path: Path
) -> None:
    events = list(crawl(f"{bare.base}/huge-declared", options(tmp_path), {}))
    assert "too large: 52428800 bytes" in reasons(events)[f"{bare.base}/huge-declared"]


def test_charset_from_the_content_type_header(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/latin1", options(tmp_path, crawl_max_depth=0), {}))
    (doc,) = of_type(events, RawDocument)
    assert doc.charset == "iso-8859-1"
    assert "Perché il caffè è buono" in extract(doc).text


def test_noindex_pages_are_skipped(bare: SiteServer, tmp_path: Path) -> None:
    events = list(crawl(f"{bare.base}/noindex.html", options(tmp_path), {}))
    assert "noindex" in reasons(events)[f"{bare.base}/noindex.html"]


def test_known_page_that_is_gone_yields_gone(bare: SiteServer, tmp_path: Path) -> None:
    start = f"{bare.base}/en/faq.html"
    known = {f"{bare.base}/gone": Validators('"v1"', None)}
    events = list(crawl(start, options(tmp_path, crawl_max_depth=0), known))
    assert Gone(location=f"{bare.base}/gone", origin=start) in events


def test_unreachable_site_keeps_known_pages(tmp_path: Path) -> None:
    server = SiteServer(SAMPLE_SITE).start()
    base = server.base
    server.stop()  # nothing listens on that port any more
    known = {f"{base}/en/faq.html": Validators('"v1"', None)}
    events = list(crawl(f"{base}/en/index.html", options(tmp_path, request_retries=0), known))
    assert of_type(events, Gone) == []
    assert {f"{base}/en/index.html", f"{base}/en/faq.html"} == set(reasons(events))


def test_iter_source_dispatches_urls_to_the_crawler(bare: SiteServer, tmp_path: Path) -> None:
    events = list(
        iter_source(
            f"{bare.base}/en/faq.html",
            settings(tmp_path, crawl_max_depth=0).source_options(),
            {},
        )
    )
    assert [d.location for d in of_type(events, RawDocument)] == [f"{bare.base}/en/faq.html"]
