"""The sync guarantees with a real PostgreSQL as the record manager's database
(KMR_RECORD_DB_URL): unchanged content is not embedded again, an edit re-embeds only its
chunks, a deleted page leaves the index, and an ingest killed with SIGKILL half-way and run
again ends with exactly a clean run's index. (tests/test_sync.py proves the same on SQLite.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from assistant.config import SAMPLE_SITE, Settings
from ingest.sync import sync
from vectorstore.store import IndexStore

PAGES = [
    "en/partners/enea.html",
    "en/about/history.html",
    "it/chi-siamo/storia.html",
    "docs/guida-visitatori.txt",
]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A small copy of the sample site that tests may edit."""
    root = tmp_path / "site"
    for rel in PAGES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_SITE / rel, root / rel)
    return root


@pytest.fixture
def settings(make_settings: Callable[..., Settings], site: Path, postgres_url: str) -> Settings:
    return make_settings(sources=[str(site)], record_db_url=postgres_url)


@pytest.fixture
def store(settings: Settings, embeddings: Any) -> IndexStore:
    return IndexStore(settings.store_options(), embeddings)


def rows(store: IndexStore) -> dict[str, tuple[str, dict]]:
    return {i: (chunk, meta) for i, chunk, meta in store.iter_rows()}


def recorded_keys(url: str) -> set[str]:
    """Chunk ids in the record manager's table on PostgreSQL (empty before the first write)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {r[0] for r in connection.execute(text("SELECT key FROM upsertion_record"))}
    except SQLAlchemyError:
        return set()
    finally:
        engine.dispose()


def test_the_records_live_in_postgres_and_a_resync_embeds_nothing(
    settings: Settings, store: IndexStore
) -> None:
    first = sync(settings.sync_options(), store)
    assert (first.new, first.failed) == (len(PAGES), 0)
    assert recorded_keys(settings.record_url) == set(rows(store))
    assert not (settings.data_dir / "records.sqlite").exists()  # PostgreSQL, not the default
    before, generation = rows(store), store.generation()
    again = sync(settings.sync_options(), store)
    assert (again.unchanged, again.new, again.changed, again.removed) == (len(PAGES), 0, 0, 0)
    assert again.chunks_embedded == 0 and again.chunks_removed == 0
    assert rows(store) == before and store.generation() == generation


def test_an_edit_reembeds_only_its_chunks(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    sync(settings.sync_options(), store)
    before = rows(store)
    page = site / "en/partners/enea.html"
    page.write_text(
        page.read_text().replace("13 PhD positions.", "14 PhD positions."), encoding="utf-8"
    )
    report = sync(settings.sync_options(), store)
    assert (report.changed, report.unchanged) == (1, len(PAGES) - 1)
    after = rows(store)
    enea_before = {i for i, (_, m) in before.items() if m["source"].endswith("/en/partners/enea")}
    enea_after = {i for i, (_, m) in after.items() if m["source"].endswith("/en/partners/enea")}
    assert 1 <= report.chunks_embedded <= len(enea_before)
    assert len(enea_after - enea_before) == report.chunks_embedded
    assert set(before) - enea_before <= set(after)  # other pages untouched
    assert any("14 PhD" in chunk for chunk, _ in after.values())
    assert not any("13 PhD" in chunk for chunk, _ in after.values())
    assert recorded_keys(settings.record_url) == set(after)


def test_a_deleted_page_leaves_the_index_and_the_records(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    sync(settings.sync_options(), store)
    (site / "docs/guida-visitatori.txt").unlink()
    report = sync(settings.sync_options(), store)
    assert report.removed == 1
    remaining = rows(store)
    assert not any(m["source"].endswith("guida-visitatori.txt") for _, m in remaining.values())
    assert recorded_keys(settings.record_url) == set(remaining)


def test_sigkill_halfway_then_rerun_gives_the_clean_index(
    sample_index: Any, models_dir: Path, tmp_path: Path, postgres_url: str
) -> None:
    """An ingest killed with SIGKILL and run again ends with exactly a clean run's index."""
    data_dir = tmp_path / "killed"
    env = {
        **os.environ,
        "KMR_DATA_DIR": str(data_dir),
        "KMR_MODEL_CACHE_DIR": str(models_dir),
        "KMR_SOURCES": str(SAMPLE_SITE),
        "KMR_LOG_LEVEL": "WARNING",
        "KMR_RECORD_DB_URL": postgres_url,
    }
    command = [sys.executable, "-m", "assistant.cli", "ingest"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while len(recorded_keys(postgres_url)) < 64 and time.monotonic() < deadline:
        assert process.poll() is None, "ingest ended before it could be killed"
        time.sleep(0.1)
    time.sleep(1.0)  # into the middle of the next batch
    assert process.poll() is None, "ingest ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < len(recorded_keys(postgres_url)) < sample_index.store.count()

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    settings = Settings(
        data_dir=data_dir, model_cache_dir=models_dir, record_db_url=postgres_url, _env_file=None
    )
    rerun = IndexStore(settings.store_options(), sample_index.embeddings)
    clean_rows, rerun_rows = rows(sample_index.store), rows(rerun)
    assert rerun_rows.keys() == clean_rows.keys()  # same chunk ids: no duplicates, no orphans
    assert rerun.count() == len(rerun_rows)
    assert recorded_keys(postgres_url) == set(rerun_rows)  # the records agree with Chroma
