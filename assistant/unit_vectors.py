"""Sentence vectors of quotable units, with the retrieval model, cached in memory and on disk.

The answer engine blends word overlap with meaning (``assistant.scoring``) and the guard judges
unit texts by their vectors; both read them through ``UnitVectors``. A sync stores the vectors
of the units of every passage it wrote (``store_unit_vectors``), so a question seldom embeds
anything but itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.guard import label
from assistant.units import embedding_text, split_units
from vectorstore.passages import Passage
from vectorstore.vector_cache import VectorCache

STORE_BATCH = 64  # unit texts per embedding call when a sync stores them


class UnitVectors:
    """Cosines between a question and quotable units, with the retrieval model.

    Nothing is embedded at start, whatever the index size. A question needs the vectors of its
    retrieved passages' units only: they come from a bounded in-memory LRU, else from ``disk``
    (stored by the sync that wrote the passages, see ``store_unit_vectors``), else they are
    embedded on the spot and written to ``disk`` for the other processes. The question vector
    comes from the model's own query cache, so the retrieval query costs nothing twice.
    """

    def __init__(
        self, embeddings: Embeddings, cache_size: int = 20_000, disk: VectorCache | None = None
    ) -> None:
        self.embeddings = embeddings
        self.cache_size = cache_size
        self.disk = disk
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str], *, persist: bool = True) -> np.ndarray:
        """Normalised passage vectors of ``texts`` (embedding only the ones stored nowhere).

        ``persist=False`` keeps fresh vectors in memory only: texts made of a visitor's words
        never reach ``disk``, which holds the district's public text alone."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing and self.disk is not None:
            stored = self.disk.get(missing)
            if stored:
                with self._lock:
                    self._cache.update(stored)
                missing = [t for t in missing if t not in stored]
        if missing:
            fresh = np.asarray(self.embeddings.embed_documents(missing), dtype=np.float32)
            if self.disk is not None and persist:
                self.disk.put(missing, fresh)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            found = []
            for text in texts:
                vector = self._cache.get(text)
                if vector is None:  # evicted meanwhile by a concurrent call: embed again
                    vector = np.asarray(self.embeddings.embed_documents([text])[0], np.float32)
                else:
                    self._cache.move_to_end(text)
                found.append(vector)
        return np.vstack(found) if found else np.zeros((0, 1), dtype=np.float32)

    def similarity(self, query: str, texts: Sequence[str], *, persist: bool = True) -> list[float]:
        """Cosine of the query with each text (``persist`` as in ``vectors``)."""
        if not texts:
            return []
        q = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
        return (self.vectors(texts, persist=persist) @ q).tolist()


def unit_texts(passage: Passage) -> list[str]:
    """Every text of a passage whose vector a question may need: each unit as the answer
    engine embeds it, and its text, heading, lead-in and opening label ("Note for visitors" in
    "Note for visitors: ...") as the guard screens them; and the page title, which the
    answerability model compares a unit with when it has no heading."""
    texts: dict[str, None] = {passage.title: None} if passage.title else {}
    for unit in split_units(passage, 0):
        opening = label(unit.text) if unit.kind == "sentence" else ""  # as the guard reads it
        for text in (embedding_text(unit), unit.text, unit.context, unit.lead, opening):
            if text:
                texts.setdefault(text, None)
    return list(texts)


def store_unit_vectors(
    disk: VectorCache, embeddings: Embeddings, passages: Sequence[Passage]
) -> int:
    """Embed and store the unit texts of ``passages`` that ``disk`` lacks (end of a sync);
    passages stored by an earlier sync are skipped without being split. Each passage is marked
    done with its texts, so ``VectorCache.prune`` keeps the right vectors without splitting
    the index again. The number embedded."""
    todo = [passages[i] for i in disk.undone([p.text for p in passages])]
    embedded = 0
    for start in range(0, len(todo), STORE_BATCH):
        units = {p.text: unit_texts(p) for p in todo[start : start + STORE_BATCH]}
        texts = disk.missing(t for found in units.values() for t in found)
        for at in range(0, len(texts), STORE_BATCH):
            batch = texts[at : at + STORE_BATCH]
            disk.put(batch, np.asarray(embeddings.embed_documents(batch), dtype=np.float32))
        embedded += len(texts)
        disk.mark_done(units.items())  # with their texts: pruning never splits them again
    return embedded
