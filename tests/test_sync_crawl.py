"""Sync over a crawled website (a real HTTP server on 127.0.0.1) and after pipeline changes."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.config import SAMPLE_SITE, Settings
from ingest.sync import sync
from vectorstore.store import IndexStore

try:
    from tests.site_server import SiteServer
except ImportError:
    from site_server import SiteServer  # type: ignore[no-redef]

PAGES = ["en/index.html", "en/partners/enea.html", "en/faq.html", "it/index.html", "it/faq.html"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / "www"
    for rel in PAGES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_SITE / rel, root / rel)
    with SiteServer(root) as server:
        yield server


@pytest.fixture
def crawl_settings(site: SiteServer, make_settings: Callable[..., Settings]) -> Settings:
    # The test server is 127.0.0.1; the pages name the real site as canonical.
    return make_settings(
        sources=[f"{site.base}/en/index.html"],
        crawl_delay=0,
        request_timeout=2,
        request_retries=0,
        canonical_hosts=["www.kilometrorosso.com"],
    )


def sources_in(store: IndexStore) -> set[str]:
    return {str(m["source"]) for _, _, m in store.iter_rows(include_documents=False)}


def test_recrawl_of_an_unchanged_site_downloads_and_embeds_nothing(
    site: SiteServer, crawl_settings: Settings, embeddings
) -> None:  # noqa: ANN001
    store = IndexStore(crawl_settings.store_options(), embeddings)
    first = sync(crawl_settings.sync_options(), store)
    assert first.new == len(PAGES) and first.chunks_embedded > 0
    sent = dict(site.bytes_sent)

    again = sync(crawl_settings.sync_options(), store)

    assert (again.unchanged, again.new, again.changed, again.chunks_embedded) == (
        len(PAGES),
        0,
        0,
        0,
    )
    assert all(site.bytes_sent[f"/{rel}"] == sent[f"/{rel}"] for rel in PAGES)  # all 304s
    assert site.request_headers["/en/faq.html"][-1].get("if-none-match")


def test_recrawl_reembeds_an_edited_page_and_drops_a_removed_one(
    site: SiteServer, crawl_settings: Settings, embeddings
) -> None:  # noqa: ANN001
    store = IndexStore(crawl_settings.store_options(), embeddings)
    sync(crawl_settings.sync_options(), store)
    assert "https://www.kilometrorosso.com/it/faq" in sources_in(store)
    enea = site.root / "en/partners/enea.html"
    enea.write_text(
        enea.read_text().replace("13 PhD positions", "15 PhD positions"), encoding="utf-8"
    )
    site.removed.add("/it/faq.html")

    report = sync(crawl_settings.sync_options(), store)

    assert (report.changed, report.removed) == (1, 1)
    assert "https://www.kilometrorosso.com/it/faq" not in sources_in(store)
    texts = [t for _, t, _ in store.iter_rows()]
    assert any("15 PhD positions" in t for t in texts) and not any(
        "13 PhD positions" in t for t in texts
    )


def test_an_unreachable_site_keeps_the_index(
    site: SiteServer, crawl_settings: Settings, embeddings
) -> None:  # noqa: ANN001
    store = IndexStore(crawl_settings.store_options(), embeddings)
    sync(crawl_settings.sync_options(), store)
    count = store.count()
    site.stop()

    report = sync(crawl_settings.sync_options(), store)

    assert report.removed == 0 and store.count() == count


def test_new_chunk_settings_rechunk_unchanged_files(
    make_settings: Callable[..., Settings], embeddings, tmp_path: Path
) -> None:  # noqa: ANN001
    root = tmp_path / "docs"
    root.mkdir()
    shutil.copy(SAMPLE_SITE / "docs/partner-handbook.md", root / "handbook.md")
    settings = make_settings(sources=[str(root)])
    store = IndexStore(settings.store_options(), embeddings)
    sync(settings.sync_options(), store)
    coarse = store.count()

    finer = make_settings(sources=[str(root)], chunk_size=500, chunk_overlap=80)
    report = sync(finer.sync_options(), store)

    assert report.changed == 1 and report.chunks_embedded > 0
    assert store.count() > coarse
    assert sync(finer.sync_options(), store).chunks_embedded == 0


def test_same_bytes_in_a_new_file_layout_count_as_unchanged(
    make_settings: Callable[..., Settings], embeddings, tmp_path: Path
) -> None:  # noqa: ANN001
    root = tmp_path / "docs"
    root.mkdir()
    page = root / "contacts.html"
    shutil.copy(SAMPLE_SITE / "en/contacts.html", page)
    settings = make_settings(sources=[str(root)])
    store = IndexStore(settings.store_options(), embeddings)
    sync(settings.sync_options(), store)
    # Only the site chrome changes (a new cookie banner text): the content is the same.
    page.write_text(
        page.read_text().replace(
            "This website uses technical cookies", "This site uses technical cookies"
        ),
        encoding="utf-8",
    )
    report = sync(settings.sync_options(), store)
    assert (report.unchanged, report.changed, report.chunks_embedded) == (1, 0, 0)
