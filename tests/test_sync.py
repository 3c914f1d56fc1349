"""Sync keeps the Chroma index in step with its sources, embedded and on a real server."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.config import SAMPLE_SITE, Settings
from ingest.sync import SyncError, sync, sync_lock
from vectorstore.store import IndexStore

SUBSET = [
    "en/partners/enea.html",
    "en/about/history.html",
    "it/chi-siamo/storia.html",
    "en/faq.html",
    "docs/partner-handbook.md",
    "docs/guida-visitatori.txt",
]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A small copy of the sample site that tests may edit."""
    root = tmp_path / "site"
    for rel in SUBSET:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_SITE / rel, root / rel)
    return root


@pytest.fixture(params=["embedded", "server"])
def settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], site: Path
) -> Settings:
    """Settings for an embedded store and for a real `chroma run` server."""
    if request.param == "embedded":
        return make_settings(sources=[str(site)])
    server = request.getfixturevalue("chroma_server")
    prefix = f"t{time.time_ns()}"  # one collection per test on the shared server
    return make_settings(
        sources=[str(site)],
        chroma_host=server.host,
        chroma_port=server.port,
        collection_prefix=prefix,
    )


@pytest.fixture
def store(settings: Settings, embeddings) -> IndexStore:  # noqa: ANN001
    return IndexStore(settings.store_options(), embeddings)


def rows(store: IndexStore) -> dict[str, tuple[str, dict]]:
    return {i: (text, meta) for i, text, meta in store.iter_rows()}


def test_first_sync_indexes_every_document(settings: Settings, store: IndexStore) -> None:
    report = sync(settings.sync_options(), store)
    assert (report.seen, report.new, report.failed) == (len(SUBSET), len(SUBSET), 0)
    assert report.chunks_embedded == store.count() > len(SUBSET)
    sources = {meta["source"] for _, meta in rows(store).values()}
    assert "https://www.kilometrorosso.com/en/partners/enea" in sources  # canonical URL wins
    assert any(s.endswith("partner-handbook.md") for s in sources)  # else the path under the root


def test_second_sync_over_unchanged_content_embeds_nothing(
    settings: Settings, store: IndexStore
) -> None:
    sync(settings.sync_options(), store)
    before, generation = rows(store), store.generation()
    report = sync(settings.sync_options(), store)
    assert (report.unchanged, report.new, report.changed, report.removed) == (len(SUBSET), 0, 0, 0)
    assert report.chunks_embedded == 0 and report.chunks_removed == 0
    assert rows(store) == before and store.generation() == generation


def test_edited_page_reembeds_only_what_changed(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    sync(settings.sync_options(), store)
    before = rows(store)
    page = site / "en/partners/enea.html"
    page.write_text(
        page.read_text().replace("13 PhD positions.", "14 PhD positions."), encoding="utf-8"
    )
    report = sync(settings.sync_options(), store)
    assert (report.changed, report.unchanged) == (1, len(SUBSET) - 1)
    after = rows(store)
    enea_before = {i for i, (_, m) in before.items() if m["source"].endswith("/en/partners/enea")}
    enea_after = {i for i, (_, m) in after.items() if m["source"].endswith("/en/partners/enea")}
    assert 1 <= report.chunks_embedded < len(enea_before) + 1
    assert len(enea_after - enea_before) == report.chunks_embedded
    assert not any("13 PhD" in text for text, _ in after.values())  # stale chunk gone
    assert any("14 PhD" in text for text, _ in after.values())
    others = set(before) - enea_before
    assert others <= set(after)  # other pages untouched


def test_deleted_file_leaves_the_index(settings: Settings, store: IndexStore, site: Path) -> None:
    sync(settings.sync_options(), store)
    (site / "docs/guida-visitatori.txt").unlink()
    report = sync(settings.sync_options(), store)
    assert report.removed == 1
    assert not any(m["source"].endswith("guida-visitatori.txt") for _, m in rows(store).values())


def test_unreadable_update_keeps_the_previous_version(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    sync(settings.sync_options(), store)
    before = rows(store)
    (site / "en/faq.html").write_bytes(b"\x00\x01\x02\xff" * 500)  # binary junk named .html
    report = sync(settings.sync_options(), store)
    assert report.failed == 1 and "faq.html" in report.failures[0].location
    assert rows(store) == before  # nothing lost


def test_readers_never_see_duplicates(settings: Settings, store: IndexStore, site: Path) -> None:
    sync(settings.sync_options(), store)
    page = site / "it/chi-siamo/storia.html"
    page.write_text(
        page.read_text().replace("</h1>", "</h1><p>Nuovo paragrafo di prova.</p>", 1),
        encoding="utf-8",
    )
    sync(settings.sync_options(), store)
    sync(settings.sync_options(), store)
    seen = [(m["source"], text) for text, m in rows(store).values()]
    assert len(seen) == len(set(seen))


def test_full_sync_drops_sources_no_longer_listed(
    settings: Settings, store: IndexStore, site: Path, tmp_path: Path
) -> None:
    sync(settings.sync_options(), store)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(SAMPLE_SITE / "en/contacts.html", other / "contacts.html")
    report = sync(settings.sync_options(), store, [str(other)], full=True)
    assert report.new == 1 and report.removed == len(SUBSET)
    assert {m["source"] for _, m in rows(store).values()} == {
        "https://www.kilometrorosso.com/en/contacts"
    }


def test_one_sync_at_a_time(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    with (
        sync_lock(settings.data_dir),
        pytest.raises(SyncError, match="another sync"),
        sync_lock(settings.data_dir),
    ):
        pass


def _upserted(records_db: Path) -> int:
    try:
        with sqlite3.connect(records_db) as conn:
            return int(conn.execute("select count(*) from upsertion_record").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_halfway_then_rerun_gives_the_clean_index(
    sample_index, models_dir: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    """An ingest killed with SIGKILL and run again ends with exactly a clean run's index."""
    data_dir = tmp_path / "killed"
    env = {
        **os.environ,
        "KMR_DATA_DIR": str(data_dir),
        "KMR_MODEL_CACHE_DIR": str(models_dir),
        "KMR_SOURCES": str(SAMPLE_SITE),
        "KMR_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "assistant.cli", "ingest"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while _upserted(data_dir / "records.sqlite") < 64 and time.monotonic() < deadline:
        assert process.poll() is None, "ingest ended before it could be killed"
        time.sleep(0.05)
    time.sleep(1.0)  # let it get into the middle of the next batch
    process.send_signal(signal.SIGKILL)
    process.wait()

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    clean = sample_index.store
    settings = Settings(data_dir=data_dir, model_cache_dir=models_dir, _env_file=None)
    rerun = IndexStore(settings.store_options(), sample_index.embeddings)
    clean_rows, rerun_rows = rows(clean), rows(rerun)
    assert rerun_rows.keys() == clean_rows.keys()  # same chunk ids: no duplicates, no orphans
    assert rerun.count() == len(rerun_rows)
    with sqlite3.connect(data_dir / "records.sqlite") as conn:
        recorded = {r[0] for r in conn.execute("select key from upsertion_record")}
    assert recorded == set(rerun_rows)  # the record manager agrees with Chroma
