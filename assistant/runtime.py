"""The running parts, built once at the edge (CLI command or app lifespan) and passed in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

from assistant.answer import Assistant
from assistant.config import Settings
from assistant.llm import build_chat_model
from vectorstore.embeddings import load_embeddings
from vectorstore.search import HybridSearcher
from vectorstore.store import IndexStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Settings, the embedding model, the store, the searcher and the answer engine."""

    settings: Settings
    embeddings: Embeddings
    store: IndexStore
    searcher: HybridSearcher
    assistant: Assistant

    def warm(self) -> None:
        """Load (or build) the keyword index now, so the first question does not wait for it."""
        self.searcher.keyword_index()


def open_runtime(settings: Settings, embeddings: Embeddings | None = None) -> Runtime:
    """Open the store and wire the parts; the model itself loads on first use."""
    embeddings = embeddings or load_embeddings(settings)
    store = IndexStore(settings, embeddings)
    # The service rebuilds the keyword index beside the queries and saves it for the next start.
    searcher = HybridSearcher(
        store, settings, cache_dir=keyword_index_dir(settings), background_rebuild=True
    )
    assistant = Assistant(settings, searcher, chat_model=build_chat_model(settings))
    return Runtime(settings, embeddings, store, searcher, assistant)


def keyword_index_dir(settings: Settings) -> Path:
    """Where saved keyword indexes live (one directory per collection)."""
    return settings.data_dir / "keyword-index"


def open_store(settings: Settings, embeddings: Embeddings | None = None) -> IndexStore:
    """Only the store, for ingestion and statistics."""
    return IndexStore(settings, embeddings or load_embeddings(settings))
