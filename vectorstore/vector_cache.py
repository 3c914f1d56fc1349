"""Vectors of short texts kept on disk, shared by the processes of one data directory.

The answer engine compares a question with the sentences, list items and headings of the
retrieved passages. Embedding them per question costs about a second on a CPU; the sync that
writes the passages embeds them once instead (``missing`` then ``put``), and every server
process reads them here. A text is keyed by a hash of the model's name and the text, so two
models never share a vector; the vectors are stored as they came (float32), so an answer reads
the same numbers whether a vector was stored at ingest or computed on the spot.

SQLite in WAL mode: readers never wait for the writing sync, and a process that dies mid-write
leaves the last committed state. One file per collection: ``prune`` (called at the end of a
sync that removed chunks, or whenever more documents are marked than the index holds, e.g.
after a sync whose pruning was interrupted) deletes every vector and mark of texts no longer in
that index. A document is marked done with the keys of its texts (table ``units``), so pruning
is a set difference in SQL: the marks of documents not in the index go, then every vector no
remaining document names; no passage is split again (that took ~20 s a sync at 100k chunks).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_BATCH = 500  # SQLite's default limit on bound parameters is 999 (older builds)


class VectorCache:
    """text -> vector, on disk, for one embedding model."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
                " WITHOUT ROWID"
            )
            # passages whose texts were all stored: the next sync skips them without splitting
            self._db.execute("CREATE TABLE IF NOT EXISTS done (key BLOB PRIMARY KEY) WITHOUT ROWID")
            has_units = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'units'"
            ).fetchone()
            # which texts each done document has (its vectors' keys), for ``prune``
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS units (doc BLOB, key BLOB, PRIMARY KEY (doc, key))"
                " WITHOUT ROWID"
            )
            if not has_units:  # marks made before documents kept their keys: mark them again
                self._db.execute("DELETE FROM done")
            self._db.commit()

    def key(self, text: str) -> bytes:
        """16 bytes of SHA-256 of the model name and the text."""
        return hashlib.sha256(f"{self.model}\0{text}".encode()).digest()[:16]

    def _done_key(self, document: str) -> bytes:
        """The key of a document's mark in the ``done`` table."""
        return self.key(f"\x01document\x01{document}")

    def _select(self, columns: str, table: str, keys: Sequence[bytes]) -> list[tuple]:
        """Rows of ``table`` whose key is one of ``keys`` (in batches of bound parameters)."""
        rows: list[tuple] = []
        with self._lock:
            for start in range(0, len(keys), _BATCH):
                batch = keys[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                rows += self._db.execute(
                    f"SELECT {columns} FROM {table} WHERE key IN ({marks})", batch
                ).fetchall()
        return rows

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``texts`` (those not stored are absent)."""
        keys = {self.key(t): t for t in dict.fromkeys(texts)}
        rows = self._select("key, vector", "vectors", list(keys))
        return {keys[key]: np.frombuffer(blob, dtype=np.float32) for key, blob in rows}

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts (each once, in order) that have no stored vector (keys only are read)."""
        keys = {self.key(t): t for t in dict.fromkeys(texts)}
        stored = {key for (key,) in self._select("key", "vectors", list(keys))}
        return [t for key, t in keys.items() if key not in stored]

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of ``texts`` (one row of ``vectors`` each)."""
        rows = [
            (self.key(t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock:
            try:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
                self._db.commit()
            except sqlite3.Error as exc:  # a busy or read-only file: the vectors stay computed
                self._db.rollback()
                log.warning("could not store %d vectors in %s: %s", len(rows), self.path, exc)

    def undone(self, documents: Sequence[str]) -> list[int]:
        """Positions of the ``documents`` not yet marked done (see ``mark_done``)."""
        keys = [self._done_key(d) for d in documents]
        done = {key for (key,) in self._select("key", "done", keys)}
        return [i for i, k in enumerate(keys) if k not in done]

    def mark_done(self, documents: Iterable[tuple[str, Iterable[str]]]) -> None:
        """Remember that every text of these (document, its texts) is stored."""
        marks: list[tuple[bytes]] = []
        units: list[tuple[bytes, bytes]] = []
        for document, texts in documents:
            doc = self._done_key(document)
            marks.append((doc,))
            units += [(doc, self.key(t)) for t in texts]
        with self._lock:
            try:
                self._db.executemany("INSERT OR IGNORE INTO units VALUES (?, ?)", units)
                self._db.executemany("INSERT OR IGNORE INTO done VALUES (?)", marks)
                self._db.commit()
            except sqlite3.Error as exc:
                self._db.rollback()
                log.warning("could not record stored documents in %s: %s", self.path, exc)

    def prune(self, documents: Iterable[str]) -> int:
        """Keep only the marks of ``documents`` (the index's passages) and the vectors of their
        texts; the number of vectors deleted."""
        keep = [(self._done_key(d),) for d in documents]
        with self._lock:
            try:
                self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key BLOB PRIMARY KEY)")
                self._db.execute("DELETE FROM temp.keep")
                self._db.executemany("INSERT OR IGNORE INTO temp.keep VALUES (?)", keep)
                self._db.execute("DELETE FROM done WHERE key NOT IN (SELECT key FROM temp.keep)")
                self._db.execute("DELETE FROM units WHERE doc NOT IN (SELECT key FROM temp.keep)")
                deleted = self._db.execute(
                    "DELETE FROM vectors WHERE key NOT IN (SELECT key FROM units)"
                ).rowcount
                self._db.execute("DELETE FROM temp.keep")
                self._db.commit()
            except sqlite3.Error as exc:  # a busy file: pruned by a later sync
                self._db.rollback()
                log.warning("could not prune the vectors in %s: %s", self.path, exc)
                return 0
        return int(deleted)

    def marked(self) -> int:
        """How many documents are marked done (more than the index holds: some are stale)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM done").fetchone()[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
