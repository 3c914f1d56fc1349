"""Ready fast, whatever the index size: nothing is computed for the whole index at start.

`kmr ingest` (a real process) leaves the keyword index of the new generation saved, with the
answer engine's term counts, and the vectors of every quotable unit stored; a server started
afterwards loads them (the store is not read, no unit is embedded) and answers from them. A
server over an index whose units were never stored embeds only the units of the passages it
retrieved. The seam counted is the embedding model's ``embed_documents`` (the real model runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api import create_app
from assistant import unit_vectors
from assistant.config import SAMPLE_SITE, Settings
from assistant.runtime import (
    keyword_index_dir,
    open_runtime,
    open_store,
    prepare_served_index,
    sync_index,
    unit_vector_cache,
)
from assistant.term_counts import keyword_index_options
from assistant.terms import TermStats
from assistant.unit_vectors import unit_texts
from ingest.sync import sync
from tests.api_support import LiveServer, api_settings
from vectorstore.keyword_index import KeywordIndex, is_saved, save_keyword_index

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("en/faq.html", "en/campus/architecture.html", "it/faq.html")
QUESTION = "Who founded Kilometro Rosso?"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """Three pages of the sample site."""
    root = tmp_path / "site"
    for rel in PAGES:
        if (SAMPLE_SITE / rel).exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SAMPLE_SITE / rel, root / rel)
    return root


def _counting(monkeypatch: pytest.MonkeyPatch, embeddings: Any) -> list[str]:
    """Every text the model embeds as a document from now on (the real model still runs)."""
    texts: list[str] = []
    original = embeddings.embed_documents

    def counting(batch: list[str]) -> list[list[float]]:
        texts.extend(batch)
        return original(batch)

    monkeypatch.setattr(embeddings, "embed_documents", counting)
    return texts


def _counting_splits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passages split into units from now on (the real split still runs)."""
    split: list[str] = []
    original = unit_vectors.split_units

    def counting(passage: Any, *args: Any, **kwargs: Any) -> Any:
        split.append(passage.id)
        return original(passage, *args, **kwargs)

    monkeypatch.setattr(unit_vectors, "split_units", counting)
    return split


def _counting_reads(store: Any) -> list[int]:
    calls = [0]
    original = store.iter_rows

    def counting(*args: Any, **kwargs: Any):  # noqa: ANN202
        calls[0] += 1
        return original(*args, **kwargs)

    store.iter_rows = counting
    return calls


@pytest.mark.slow  # two whole `kmr ingest` processes, each loading the model
def test_kmr_ingest_leaves_what_a_server_needs_and_the_server_only_loads_it(
    make_settings: Callable[..., Settings],
    embeddings: Any,
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(sources=[str(site)], collection_prefix="ingested")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMR_")}
    env.update(
        PYTHONPATH=str(ROOT),
        KMR_DATA_DIR=str(settings.data_dir),
        KMR_MODEL_CACHE_DIR=str(settings.model_cache_dir),
        KMR_SOURCES=json.dumps([str(site)]),
        KMR_COLLECTION_PREFIX=settings.collection_prefix,
    )
    ingest = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]

    store = open_store(settings, embeddings)
    path = keyword_index_dir(settings) / store.collection_name
    assert is_saved(path, store.generation(), keyword_index_options())
    saved = KeywordIndex.load(path, store.generation(), keyword_index_options())
    assert saved is not None and saved.doc_freqs
    # the counts saved are the ones the answer engine used to count over every passage
    assert saved.doc_freqs == TermStats(p.text for p in saved.passages).df

    embedded = _counting(monkeypatch, embeddings)
    runtime = open_runtime(settings, embeddings)
    reads = _counting_reads(runtime.store)
    runtime.warm()
    answer = runtime.assistant.answer(QUESTION)
    assert not answer.abstained and answer.sources, answer
    assert reads[0] == 0, "the saved keyword index was loaded, the store not read"
    assert embedded == [], "every unit vector came from what the sync stored"
    stats = runtime.assistant.term_stats([])
    assert stats.n == len(saved.passages) and stats.df == saved.doc_freqs

    # a second ingest with nothing changed embeds nothing and keeps the saved index
    again = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "unit vectors: 0 embedded" in again.stderr, again.stderr[-3000:]


def test_a_served_app_answers_its_first_question_embedding_only_retrieved_units(
    make_settings: Callable[..., Settings],
    embeddings: Any,
    site: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(sources=[str(site)], collection_prefix="served")
    store = open_store(settings, embeddings)
    assert (
        sync(settings.sync_options(), store).failed == 0
    )  # a bare sync: no unit vector stored on disk
    runtime = open_runtime(settings, embeddings)
    every_unit = {t for p in runtime.searcher.keyword_index().passages for t in unit_texts(p)}
    embedded = _counting(monkeypatch, embeddings)
    app = create_app(api_settings(runtime, tmp_path), runtime=runtime)
    with LiveServer(app) as server, server.client() as http:
        assert http.get("/ready").status_code == 200
        assert embedded == [], "nothing is embedded at start"
        response = http.post("/api/chat", json={"question": QUESTION})
        assert response.status_code == 200, response.text
        assert response.json()["sources"], response.json()
        retrieved = runtime.searcher.search(QUESTION, k=settings.retrieval_k)
        needed = {t for p in retrieved for t in unit_texts(p)}
        assert embedded, "the first answer embeds its units on the spot"
        assert set(embedded) <= needed, set(embedded) - needed
        assert len(set(embedded)) < len(every_unit)
        first = len(embedded)
        # asked again, and asked of a restarted process: the vectors are found, not embedded
        assert http.post("/api/chat", json={"question": QUESTION}).status_code == 200
        assert len(embedded) == first
    restarted = open_runtime(settings, embeddings)
    restarted.assistant.answer(QUESTION)
    assert len(embedded) == first, "the vectors written to disk served the restarted process"


def test_a_sync_that_removes_a_page_prunes_the_vectors_of_its_units(
    make_settings: Callable[..., Settings],
    embeddings: Any,
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(sources=[str(site)], collection_prefix="pruned")
    store = open_store(settings, embeddings)
    assert sync_index(settings, store).failed == 0
    passages = save_keyword_index(store, keyword_index_dir(settings)).passages
    gone = [p for p in passages if "architecture" in p.source_id]
    kept = [p for p in passages if p not in gone]
    assert gone and kept
    kept_texts = {t for p in kept for t in unit_texts(p)}
    gone_texts = {t for p in gone for t in unit_texts(p)} - kept_texts
    cache = unit_vector_cache(settings, store)
    assert cache.missing([*kept_texts, *gone_texts]) == [], "the sync stored every unit"
    kept_before = cache.get(list(kept_texts))
    cache.close()

    (site / "en/campus/architecture.html").unlink()
    split = _counting_splits(monkeypatch)
    report = sync_index(settings, store)
    assert report.removed == 1 and report.chunks_removed == len(gone)
    assert split == [], "pruning is a set difference: no passage was split again"

    cache = unit_vector_cache(settings, store)
    assert cache.missing(kept_texts) == []
    assert set(cache.missing(gone_texts)) == gone_texts, "the removed page's vectors are gone"
    assert len(cache) == len(kept_texts), "nothing else is left in the file"
    assert cache.undone([p.text for p in gone]) == list(range(len(gone)))
    assert cache.undone([p.text for p in kept]) == []
    kept_after = cache.get(list(kept_texts))
    assert kept_after.keys() == kept_before.keys()
    assert all(np.array_equal(kept_after[t], kept_before[t]) for t in kept_texts), "untouched"
    cache.close()

    # the next sync finds nothing to prune (nor to embed), even when asked to prune
    assert sync_index(settings, store).chunks_removed == 0
    again = prepare_served_index(settings, store, prune=True)
    assert (again.units_pruned, again.units_embedded) == (0, 0)
    cache = unit_vector_cache(settings, store)
    assert len(cache) == len(kept_texts)
    cache.close()

    # a sync whose end did not run (killed, or it failed) leaves marks of removed passages:
    # the next end of a sync sees more marks than passages and prunes anyway
    (site / "it/faq.html").unlink()
    assert sync(settings.sync_options(), store).chunks_removed > 0
    healed = prepare_served_index(settings, store)
    assert healed.units_pruned > 0
    cache = unit_vector_cache(settings, store)
    left = save_keyword_index(store, keyword_index_dir(settings)).passages
    assert len(cache) == len({t for p in left for t in unit_texts(p)})
    cache.close()
