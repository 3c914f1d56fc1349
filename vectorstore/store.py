"""The Chroma collection of one embedding model: embedded (PersistentClient) or a server.

Errors::

    StoreError
     +-- StoreUnavailable   the server cannot be reached or the database cannot be opened
     +-- ModelMismatch      the collection was built with another embedding model
     +-- StoreReadOnly      a write (a sync) on an index opened from a read-only folder

Read-only folders: embedded Chroma cannot open a persist directory it cannot write
(chroma-core/chroma#1438, no read-only client). When the index folder is read-only, the
store copies it to a private temporary snapshot and serves from that copy; ``read_only``
says why, and every write is refused with ``StoreReadOnly``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from assistant.config import Settings
from assistant.schema import Filters, Passage

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


def write_problem(directory: Path) -> str | None:
    """None when files can be created in ``directory``, else one phrase saying why not.

    ``os.access`` asks the kernel without writing into the index folder; it answers for the
    mount too (EROFS: a read-only bind mount or container layer is refused, also for root),
    as ``e5_rebuild.writable_or_raise`` relies on for the model cache."""
    if os.access(directory, os.W_OK | os.X_OK):
        return None
    read_only_mount = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    why = "read-only file system" if read_only_mount else "permission denied"
    return f"{directory} cannot be written ({why})"


SNAPSHOT_PREFIX = "kmr-index-snapshot-"


def remove_stale_snapshots() -> None:
    """Remove snapshots left by processes that no longer run (killed before cleaning up)."""
    for root in Path(tempfile.gettempdir()).glob(f"{SNAPSHOT_PREFIX}*"):
        try:
            pid = int((root / "owner.pid").read_text(encoding="ascii"))
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(root, ignore_errors=True)
        except (OSError, ValueError):  # not ours to judge (another user's, or being made)
            continue


def snapshot_client(path: Path, chroma_settings: Any) -> tuple[chromadb.ClientAPI, Path]:
    """A PersistentClient on a private temporary copy of the index folder ``path``.

    The copy is removed when the process exits (or the returned path is collected)."""
    remove_stale_snapshots()
    root = Path(tempfile.mkdtemp(prefix=SNAPSHOT_PREFIX))
    (root / "owner.pid").write_text(str(os.getpid()), encoding="ascii")
    copy = root / "chroma"
    try:
        shutil.copytree(path, copy)
        # The copy keeps the source's read-only modes: make it ours to write (Chroma writes
        # its SQLite journal and index metadata even when only reading).
        for item in [copy, *copy.rglob("*")]:
            item.chmod(item.stat().st_mode | 0o700 if item.is_dir() else 0o600)
        client = chromadb.PersistentClient(path=str(copy), settings=chroma_settings)
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return client, root


def make_client(settings: Settings, *, fresh: bool = False) -> chromadb.ClientAPI:
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
        if fresh and not settings.chroma_host:
            return _fresh_persistent_client(settings.chroma_path, chroma_settings)
        if settings.chroma_host:
            return chromadb.HttpClient(
                host=settings.chroma_host,
                port=settings.chroma_port,
                ssl=settings.chroma_ssl,
                tenant=settings.chroma_tenant,
                database=settings.chroma_database,
                settings=chroma_settings,
            )
        # A read-only folder was probed and served from a snapshot by IndexStore already.
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as exc:  # chromadb raises bare ValueError/ConnectionError here
        where = (
            f"{settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else settings.chroma_path
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


def read_only_problem(settings: Settings) -> str | None:
    """Why the embedded index folder cannot be written, or None (it can, or it is a server's)."""
    path = settings.chroma_path
    if settings.chroma_host or not path.is_dir():
        return None
    return write_problem(path)


def refuse_sync_if_read_only(settings: Settings) -> None:
    """Raise StoreReadOnly before anything is loaded when a sync could not write the index.

    ``IndexStore`` would serve such a folder from a snapshot copy and refuse the sync only
    after copying the whole index; a command that only syncs asks this first."""
    problem = read_only_problem(settings)
    if problem is not None:
        raise StoreReadOnly(f"Syncs are disabled: {problem}.")


class IndexStore:
    """Chroma collection for the configured model, with the LangChain vector store on top."""

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        client: chromadb.ClientAPI | None = None,
    ) -> None:
        self.settings = settings
        self.embeddings = embeddings
        # Why the index cannot be written (None: it can): set when served from a snapshot.
        self.read_only: str | None = None
        if client is None:
            client = self._open_snapshot_if_read_only()
        self.client = client or make_client(settings)
        self.model_name = settings.embedding_model
        self.variant = settings.embedding_variant.strip().lower() or "float32"
        self.collection_name = settings.collection_name
        self.collection = self._open_collection()
        self.vector_store = self._langchain_store()
        # The generation this process's view of an embedded index was loaded at.
        self.view_generation = str((self.collection.metadata or {}).get("generation", "0"))

    def _open_snapshot_if_read_only(self) -> chromadb.ClientAPI | None:
        """A client on a temporary copy when the embedded index folder is read-only."""
        problem = read_only_problem(self.settings)
        if problem is None:
            return None
        path = self.settings.chroma_path
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
        return not self.settings.chroma_host

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
        client = make_client(self.settings, fresh=True)
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
