"""Each layer gets only its own options, built from the one Settings at the edge, and the
options keep the index's identity exactly as it was (a changed name or fingerprint would make
every existing index be rebuilt)."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from ingest.sync import pipeline_fingerprint

# Computed by the code before the options existed (ingest.sync from Settings, premerge2), when
# float32 was the default variant: an index built then keeps its name; its fingerprint changes
# only with PIPELINE_VERSION (7 since time8, 6 since time6: such an index is extracted again once; with 5 the
# three fingerprints below were dbbb2ab1..., ef039ed7..., 8f9929e4..., checked equal on merging).
FLOAT32_FINGERPRINT = "e8a0bbe959e2be272a43f348e5996683665592d55b387fdb8970dc6576462190"
# The default since onnx-int8 became it (a new collection: the upgrade embeds once).
DEFAULT_FINGERPRINT = "ec9d75f3ad72671c60cedd06e6ba2131b9cc78a85c56bc9169fdeaa588f521dc"
TUNED_FINGERPRINT = "50c7d91b14c1878a6c29a4cab23029cbbc207fa02c46afd7dbca254962929475"
TUNED = dict(
    chunk_size=600,
    chunk_overlap=100,
    canonical_hosts=["a.org", "b.org"],
    language_min_confidence=0.5,
    page_type_words={"bandi": "news", "eventi": "event"},
    embedding_variant="onnx-int8",
    collection_prefix="t",
)


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **overrides)  # type: ignore[arg-type]


def test_collection_names_and_pipeline_fingerprints_are_unchanged(tmp_path: Path) -> None:
    default, tuned = _settings(tmp_path), _settings(tmp_path, **TUNED)
    float32 = _settings(tmp_path, embedding_variant="float32")
    assert float32.collection_name == "kmr-multilingual-e5-small"
    assert default.collection_name == "kmr-multilingual-e5-small-onnx-int8"
    assert tuned.collection_name == "t-multilingual-e5-small-onnx-int8"
    assert default.store_options().collection_name == default.collection_name
    assert pipeline_fingerprint(float32.sync_options(), float32.collection_name) == (
        FLOAT32_FINGERPRINT
    )
    assert pipeline_fingerprint(default.sync_options(), default.collection_name) == (
        DEFAULT_FINGERPRINT
    )
    assert pipeline_fingerprint(tuned.sync_options(), tuned.collection_name) == TUNED_FINGERPRINT


def test_the_options_carry_the_settings_they_are_built_from(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        sources=["a", "https://example.org/"],
        crawl_max_pages=7,
        max_document_bytes=5000,
        retrieval_k=3,
        record_db_url="sqlite:////tmp/records.sqlite",
        embed_batch_size=4,
    )
    sync = settings.sync_options()
    assert sync.sources == ("a", "https://example.org/")
    assert sync.source.max_document_bytes == sync.source.crawl.max_document_bytes == 5000
    assert sync.source.crawl.max_pages == 7
    assert sync.source.crawl.user_agent == settings.user_agent
    assert sync.ledger.url == "sqlite:////tmp/records.sqlite"
    assert sync.ledger.data_dir == tmp_path
    assert sync.worker.chunk_size == settings.chunk_size
    assert settings.search_options().retrieval_k == 3
    assert settings.embedding_options().batch_size == 4
    assert settings.embedding_options().models_path == tmp_path / "models"
    assert settings.store_options().chroma_path == tmp_path / "chroma"
