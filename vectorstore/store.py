"""The Chroma collection of one embedding model: embedded (PersistentClient) or a server.

Errors::

    StoreError
     +-- StoreUnavailable   the server cannot be reached or the database cannot be opened
     +-- ModelMismatch      the collection was built with another embedding model
     +-- StoreReadOnly      a write (a sync) on an index opened from a read-only folder

Read-only folders: embedded Chroma cannot open a persist directory it cannot write
(chroma-core/chroma#1438, no read-only client). When the index folder is read-only, the
store copies it to a private temporary snapshot (``vectorstore.snapshot``) and serves from
that copy; ``read_only`` says why, and every write is refused with ``StoreReadOnly``.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from vectorstore.passages import Filters, Passage
from vectorstore.snapshot import snapshot_client, write_problem

log = logging.getLogger(__name__)

_PAGE = 1000  # rows per Chroma get() call when reading the whole collection


class StoreError(Exception):
    """Base class for vector store errors."""


class StoreUnavailable(StoreError):
    """The Chroma server or database cannot be reached."""


class ModelMismatch(StoreError):
    """The collection holds vectors of another embedding model."""


class StoreReadOnly(StoreError):
    """The index was opened from a read-only folder: it answers, but cannot be written."""


@dataclass(frozen=True)
class StoreOptions:
    """Where the index lives and whose vectors it holds (built by ``Settings``)."""

    chroma_path: Path
    """Folder of the embedded Chroma database (used when ``chroma_host`` is unset)."""
    chroma_host: str | None
    """Chroma server host; None means embedded Chroma in ``chroma_path``."""
    chroma_port: int
    """Chroma server port."""
    chroma_ssl: bool
    """Reach the Chroma server over HTTPS."""
    chroma_tenant: str
    """Chroma tenant (server mode)."""
    chroma_database: str
    """Chroma database (server mode)."""
    collection_prefix: str
    """Start of the collection name; the model and variant are appended."""
    embedding_model: str
    """Name (or folder) of the embedding model whose vectors the collection holds."""
    embedding_variant: str
    """How that model runs (``float32``, ``onnx-*``): vectors of two variants never mix."""

    @property
    def variant(self) -> str:
        """The variant as recorded in the collection's metadata."""
        return self.embedding_variant.strip().lower() or "float32"

    @property
    def collection_name(self) -> str:
        """Chroma collection for the model and variant (vectors never mix)."""
        model = (
            Path(self.embedding_model).name if "/" in self.embedding_model else self.embedding_model
        )
        variant = self.embedding_variant.strip().lower()
        if variant not in ("", "float32"):  # float32 keeps the name indexes already have
            model = f"{model}-{variant}"
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", model).strip("-_").lower()
        return f"{self.collection_prefix}-{slug}"[:63]


def make_client(options: StoreOptions, *, fresh: bool = False) -> chromadb.ClientAPI:
    """A Chroma client: HttpClient when a host is configured, else PersistentClient.

    ``fresh`` (embedded only) opens a new Chroma ``System`` instead of the one chromadb caches
    per path: an embedded client keeps the vector index it loaded in memory and never sees
    vectors another process wrote (chroma-core/chroma#3792), so a reader reopens it after a
    sync elsewhere. The new system replaces the cached one; the old one is freed with its
    last reference, so queries still running on it finish.
    """
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if fresh and not options.chroma_host:
            return _fresh_persistent_client(options.chroma_path, chroma_settings)
        if options.chroma_host:
            return chromadb.HttpClient(
                host=options.chroma_host,
                port=options.chroma_port,
                ssl=options.chroma_ssl,
                tenant=options.chroma_tenant,
                database=options.chroma_database,
                settings=chroma_settings,
            )
        # A read-only folder was probed and served from a snapshot by IndexStore already.
        options.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(options.chroma_path), settings=chroma_settings)
    except Exception as exc:  # chromadb raises bare ValueError/ConnectionError here
        where = (
            f"{options.chroma_host}:{options.chroma_port}"
            if options.chroma_host
            else options.chroma_path
        )
        raise StoreUnavailable(f"cannot open Chroma at {where}: {exc}") from exc


def _fresh_persistent_client(path: Path, chroma_settings: Any) -> chromadb.ClientAPI:
    """A PersistentClient on a new System, which loads the index from disk as it is now."""
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.config import System
    from chromadb.telemetry.product import ProductTelemetryClient

    path.mkdir(parents=True, exist_ok=True)
    chroma_settings.persist_directory = str(path)
    chroma_settings.is_persistent = True
    system = System(chroma_settings)
    system.instance(ProductTelemetryClient)  # type: ignore[type-abstract]
    system.instance(ServerAPI)  # type: ignore[type-abstract]
    system.start()
    return Client.from_system(system)  # also becomes chromadb's cached system for this path


def where_clause(filters: Filters | None) -> dict[str, Any] | None:
    """Translate exact-match filters into a Chroma ``where``; URL prefixes are applied later."""
    if filters is None:
        return None
    terms = []
    if filters.language:
        terms.append({"language": filters.language})
    if filters.page_type:
        terms.append({"page_type": filters.page_type})
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else {"$and": terms}


def to_passage(
    chunk_id: str, text: str, meta: dict[str, Any] | None, score: float = 0.0
) -> Passage:
    """Build a Passage from a Chroma row."""
    meta = meta or {}
    return Passage(
        id=chunk_id,
        text=text or "",
        title=str(meta.get("title", "")),
        url=str(meta.get("url", "")),
        source_id=str(meta.get("source", "")),
        language=str(meta.get("language", "")),
        page_type=str(meta.get("page_type", "")),
        heading=str(meta.get("heading", "")),
        score=score,
        dates=str(meta.get("dates", "") or ""),
    )


def read_only_problem(options: StoreOptions) -> str | None:
    """Why the embedded index folder cannot be written, or None (it can, or it is a server's)."""
    path = options.chroma_path
    if options.chroma_host or not path.is_dir():
        return None
    return write_problem(path)


def refuse_sync_if_read_only(options: StoreOptions) -> None:
    """Raise StoreReadOnly before anything is loaded when a sync could not write the index.

    ``IndexStore`` would serve such a folder from a snapshot copy and refuse the sync only
    after copying the whole index; a command that only syncs asks this first."""
    problem = read_only_problem(options)
    if problem is not None:
        raise StoreReadOnly(f"Syncs are disabled: {problem}.")


class IndexStore:
    """Chroma collection for the configured model, with the LangChain vector store on top."""

    def __init__(
        self,
        options: StoreOptions,
        embeddings: Embeddings,
        client: chromadb.ClientAPI | None = None,
    ) -> None:
        self.options = options
        self.embeddings = embeddings
        # Why the index cannot be written (None: it can): set when served from a snapshot.
        self.read_only: str | None = None
        if client is None:
            client = self._open_snapshot_if_read_only()
        self.client = client or make_client(options)
        self.model_name = options.embedding_model
        self.variant = options.variant
        self.collection_name = options.collection_name
        self.collection = self._open_collection()
        self.vector_store = self._langchain_store()
        # The generation this process's view of an embedded index was loaded at.
        self.view_generation = str((self.collection.metadata or {}).get("generation", "0"))

    def _open_snapshot_if_read_only(self) -> chromadb.ClientAPI | None:
        """A client on a temporary copy when the embedded index folder is read-only."""
        problem = read_only_problem(self.options)
        if problem is None:
            return None
        path = self.options.chroma_path
        from chromadb.config import Settings as ChromaSettings

        started = time.perf_counter()
        try:
            client, root = snapshot_client(path, ChromaSettings(anonymized_telemetry=False))
        except Exception as exc:
            raise StoreUnavailable(
                f"cannot open the read-only index at {path} from a temporary copy: {exc}"
            ) from exc
        self._remove_snapshot = weakref.finalize(self, shutil.rmtree, root, True)
        self.read_only = "the index folder is read-only"
        log.warning(
            "%s: answering from a read-only snapshot copied to %s in %.0f ms; syncs are refused",
            problem,
            root,
            (time.perf_counter() - started) * 1000,
        )
        return client

    def close(self) -> None:
        """Remove the temporary snapshot now (the service's shutdown: uvicorn re-raises
        SIGTERM after it, so exit handlers do not run)."""
        remove = getattr(self, "_remove_snapshot", None)
        if remove is not None:
            remove()

    def require_writable(self) -> None:
        """Raise StoreReadOnly when the index was opened from a read-only folder."""
        if self.read_only is not None:
            raise StoreReadOnly(
                f"Syncs are disabled: {self.read_only}, so the service answers from a "
                "read-only copy of the index."
            )

    def _langchain_store(self) -> Chroma:
        return Chroma(
            client=self.client,
            collection_name=self.collection_name,
            embedding_function=self.embeddings,
            create_collection_if_not_exists=False,
        )

    @property
    def embedded(self) -> bool:
        """True for an embedded (PersistentClient) index, False for a Chroma server."""
        return not self.options.chroma_host

    def refresh_view(self, generation: str | None = None) -> bool:
        """Make this process see the index as the last sync left it; True if it reopened.

        A Chroma server serves every client the same data, so only an embedded index whose
        generation moved (a sync in another process) is reopened. The client, collection and
        LangChain store are swapped together; callers holding the old ones finish on them.
        """
        generation = generation if generation is not None else self.generation()
        if generation == self.view_generation:
            return False
        if not self.embedded or self.read_only is not None:  # a snapshot never changes
            self.view_generation = generation
            return False
        started = time.perf_counter()
        client = make_client(self.options, fresh=True)
        try:
            collection = client.get_collection(self.collection_name, embedding_function=None)
        except Exception as exc:
            raise StoreUnavailable(
                f"cannot reopen collection {self.collection_name}: {exc}"
            ) from exc
        self.client, self.collection = client, collection
        self.vector_store = self._langchain_store()
        self.view_generation = generation
        log.info(
            "reopened the embedded index at generation %s in %.0f ms",
            generation,
            (time.perf_counter() - started) * 1000,
        )
        return True

    def _open_collection(self) -> Any:
        try:
            collection = self.client.get_or_create_collection(
                self.collection_name,
                metadata={
                    "embedding_model": self.model_name,
                    "embedding_variant": self.variant,
                    "generation": "0",
                },
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except Exception as exc:
            raise StoreUnavailable(f"cannot open collection {self.collection_name}: {exc}") from exc
        metadata = collection.metadata or {}
        stored_model = metadata.get("embedding_model")
        # Collections made before variants existed hold float32 vectors.
        stored_variant = metadata.get("embedding_variant", "float32") if stored_model else None
        if stored_model and (stored_model, stored_variant) != (self.model_name, self.variant):
            raise ModelMismatch(
                f"collection {self.collection_name} holds vectors of {stored_model!r} "
                f"({stored_variant}), not {self.model_name!r} ({self.variant}); use another "
                "collection_prefix or re-ingest with --full"
            )
        return collection

    # --- health ------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""
        try:
            self.client.heartbeat()
            self.collection.count()
        except Exception as exc:
            raise StoreUnavailable(f"Chroma is not reachable: {exc}") from exc

    def count(self) -> int:
        """Number of chunks in the collection."""
        try:
            return int(self.collection.count())
        except Exception as exc:
            raise StoreUnavailable(f"Chroma is not reachable: {exc}") from exc

    # --- generation: changes after every sync, so derived indexes (BM25) know to rebuild ---
    def generation(self) -> str:
        """An opaque token that changes whenever a sync changed the collection."""
        try:
            collection = self.client.get_collection(self.collection_name, embedding_function=None)
        except Exception as exc:
            raise StoreUnavailable(f"Chroma is not reachable: {exc}") from exc
        return str((collection.metadata or {}).get("generation", "0"))

    def bump_generation(self, **extra: str | int | float) -> None:
        """Record that the collection changed (and when the last sync ran)."""
        self.require_writable()
        metadata = dict(self.collection.metadata or {})
        metadata.pop("hnsw:space", None)
        metadata.update(extra)
        metadata["generation"] = f"{time.time():.6f}"
        metadata["embedding_model"] = self.model_name
        metadata["embedding_variant"] = self.variant
        self.collection.modify(metadata=metadata)
        self.view_generation = metadata["generation"]  # our own writes are in our view already

    def info(self) -> dict[str, Any]:
        """The collection's metadata (model, generation, last sync)."""
        collection = self.client.get_collection(self.collection_name, embedding_function=None)
        return dict(collection.metadata or {})

    # --- reads -------------------------------------------------------------------------
    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors stored for these chunk ids, read without running the model (ids not in
        the collection are left out)."""
        if not ids:
            return {}
        try:
            result = self.collection.get(ids=list(ids), include=["embeddings"])
        except Exception as exc:
            raise StoreUnavailable(f"Chroma get failed: {exc}") from exc
        found = result.get("embeddings")
        if found is None:
            return {}
        return {
            i: np.asarray(v, dtype=np.float32) for i, v in zip(result["ids"], found, strict=False)
        }

    def dense(self, query: str, k: int, filters: Filters | None = None) -> list[Passage]:
        """Nearest chunks to the query by cosine similarity (score = 1 - distance).

        No count() first: Chroma answers an empty collection, or k above its size, with what
        it has, and one round trip per query matters with a server.
        """
        vector = self.embeddings.embed_query(query)
        try:
            result = self.collection.query(
                query_embeddings=[vector],
                n_results=k,
                where=where_clause(filters),
                include=["documents", "metadatas", "distances"],
            )
        except Exception as exc:
            raise StoreUnavailable(f"Chroma query failed: {exc}") from exc
        ids = result["ids"][0]
        docs = (result.get("documents") or [[]])[0]
        metas = (result.get("metadatas") or [[]])[0]
        dists = (result.get("distances") or [[]])[0]
        return [
            to_passage(i, d, m, 1.0 - float(dist))
            for i, d, m, dist in zip(ids, docs, metas, dists, strict=False)
        ]

    def iter_rows(
        self, where: dict[str, Any] | None = None, include_documents: bool = True
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every (id, text, metadata) in the collection, page by page."""
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            try:
                page = self.collection.get(where=where, limit=_PAGE, offset=offset, include=include)
            except Exception as exc:
                raise StoreUnavailable(f"Chroma read failed: {exc}") from exc
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [""] * len(ids)
            metas = page.get("metadatas") or [{}] * len(ids)
            yield from zip(ids, docs, metas, strict=False)
            if len(ids) < _PAGE:
                return
            offset += _PAGE

    def all_passages(self) -> list[Passage]:
        """All chunks as passages (for the keyword index)."""
        return [to_passage(i, d, m) for i, d, m in self.iter_rows()]

    def delete(self, ids: list[str]) -> None:
        """Remove chunks by id."""
        self.require_writable()
        if ids:
            self.collection.delete(ids=ids)
