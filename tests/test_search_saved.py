"""The keyword index is saved by generation and loaded by the next process instead of rebuilt."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from vectorstore.keyword_index import PASSAGES_FILE, SAVE_THREAD, KeywordIndex, wait_for_saves
from vectorstore.search import HybridSearcher
from vectorstore.store import IndexStore


def _add(store: IndexStore, chunk_id: str, text: str) -> None:
    vector = store.embeddings.embed_documents([text])[0]
    store.collection.upsert(
        ids=[chunk_id],
        embeddings=[vector],
        documents=[text],
        metadatas=[
            {
                "source": f"/site/{chunk_id}.html",
                "url": f"/site/{chunk_id}.html",
                "title": chunk_id,
                "language": "en",
                "page_type": "page",
            }
        ],
    )


def _counting_reads(store: IndexStore) -> list[int]:
    """Count the full reads of the store (iter_rows calls) from now on."""
    calls = [0]
    original = store.iter_rows

    def counting(*args: Any, **kwargs: Any):  # noqa: ANN202
        calls[0] += 1
        return original(*args, **kwargs)

    store.iter_rows = counting  # type: ignore[method-assign]
    return calls


def test_a_restarted_searcher_loads_the_saved_index_instead_of_reading_the_store(
    make_settings: Callable[..., Settings],
    embeddings: Any,
    tmp_path: Path,
) -> None:
    settings = make_settings(collection_prefix="saved")
    cache = tmp_path / "keyword-index"
    store = IndexStore(settings.store_options(), embeddings)
    _add(store, "racks", "Bicycle racks\n\nThe racks are made of zorblattium, a recycled alloy.")
    _add(store, "gate", "Main gate\n\nThe shuttle bus leaves from the main gate.")
    store.bump_generation()
    first = HybridSearcher(store, settings.search_options(), cache_dir=cache)
    assert first.search("zorblattium")[0].id == "racks"

    restarted_store = IndexStore(settings.store_options(), embeddings)
    reads = _counting_reads(restarted_store)
    restarted = HybridSearcher(restarted_store, settings.search_options(), cache_dir=cache)
    hits = restarted.search("zorblattium alloy")
    assert reads[0] == 0, "the saved index was loaded, the store not read"
    assert hits[0].id == "racks" and "zorblattium" in hits[0].text
    assert hits[0].url == "/site/racks.html" and hits[0].language == "en"

    # a sync elsewhere: the saved index is stale and rebuilt (then saved again)
    _add(store, "racks", "Bicycle racks\n\nThe racks are now made of quintessium.")
    store.bump_generation()
    restarted.refresh()
    assert reads[0] == 1
    assert restarted.search("quintessium")[0].id == "racks"
    assert not any("zorblattium" in p.text for p in restarted.search("zorblattium"))
    assert KeywordIndex.load(cache / store.collection_name, store.generation()) is not None


def test_a_damaged_saved_index_is_rebuilt_from_the_store(
    make_settings: Callable[..., Settings],
    embeddings: Any,
    tmp_path: Path,
) -> None:
    settings = make_settings(collection_prefix="damaged")
    cache = tmp_path / "keyword-index"
    store = IndexStore(settings.store_options(), embeddings)
    _add(store, "gate", "Main gate\n\nThe shuttle bus leaves from the main gate.")
    store.bump_generation()
    HybridSearcher(store, settings.search_options(), cache_dir=cache).keyword_index()
    (cache / store.collection_name / PASSAGES_FILE).write_text("{not json")

    reads = _counting_reads(store)
    searcher = HybridSearcher(store, settings.search_options(), cache_dir=cache)
    assert searcher.search("shuttle bus")[0].id == "gate"
    assert reads[0] == 1


def test_the_service_searcher_rebuilds_in_the_background_and_keeps_serving(
    make_settings: Callable[..., Settings],
    embeddings: Any,
    tmp_path: Path,
) -> None:
    settings = make_settings(collection_prefix="background")
    store = IndexStore(settings.store_options(), embeddings)
    _add(store, "gate", "Main gate\n\nThe shuttle bus leaves from the main gate.")
    store.bump_generation()
    searcher = HybridSearcher(
        store,
        settings.search_options(),
        check_interval=0.0,
        background_rebuild=True,
        cache_dir=tmp_path / "kw",
    )
    assert searcher.search("shuttle bus")[0].id == "gate"
    _add(store, "racks", "Bicycle racks\n\nThe racks are made of zorblattium.")
    store.bump_generation()
    searcher.search("shuttle bus")  # answered from the current index while the next is built
    index = searcher.wait_until_current(timeout=30)
    assert index.generation == store.generation()
    assert searcher.search("zorblattium")[0].id == "racks"


def test_the_service_answers_before_the_index_it_built_is_saved(
    make_settings: Callable[..., Settings],
    embeddings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing saved, a server builds the index and is ready at once; the save follows in
    a thread, and until its files are complete no process loads them (others wait for them)."""
    settings = make_settings(collection_prefix="latesave")
    store = IndexStore(settings.store_options(), embeddings)
    _add(store, "racks", "Bicycle racks\n\nThe racks are made of zorblattium, a recycled alloy.")
    store.bump_generation()
    saving, release = threading.Event(), threading.Event()
    real_save = KeywordIndex.save

    def held_save(index: KeywordIndex, directory: Path) -> None:
        saving.set()
        assert release.wait(30)
        real_save(index, directory)

    monkeypatch.setattr(KeywordIndex, "save", held_save)
    cache = tmp_path / "kw"
    searcher = HybridSearcher(
        store, settings.search_options(), background_rebuild=True, cache_dir=cache
    )
    hits: list[Any] = []
    # asked from a daemon thread, as a server's thread pool asks
    asker = threading.Thread(
        target=lambda: hits.extend(searcher.search("zorblattium")), daemon=True
    )
    asker.start()
    asker.join(30)
    assert hits and hits[0].id == "racks", "served while the save waits"
    assert saving.wait(10)
    path = cache / store.collection_name
    marker = path.with_name(f"{path.name}.building")
    assert KeywordIndex.load(path, store.generation()) is None, "nothing half-saved is loaded"
    assert marker.exists(), "other processes wait for this build instead of repeating it"
    (saver,) = [t for t in threading.enumerate() if t.name == SAVE_THREAD]
    assert not saver.daemon, "an orderly exit waits for the save"
    release.set()
    assert wait_for_saves(30), "the shutdown's wait returns once the files are in place"
    assert not marker.exists()
    loaded = KeywordIndex.load(path, store.generation())
    assert loaded is not None and [p.id for p in loaded.passages] == ["racks"]
