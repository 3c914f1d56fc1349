"""The keyword index: BM25 (``bm25s``) over every passage of the store, saved between processes.

- Built from every row of the store (``IndexStore.iter_rows``, read with its metadata), with
  the page alternates (hreflang) found in the metadata. ``HybridSearcher`` (vectorstore.search)
  rebuilds it when ``store.generation()`` changes.
- With a cache directory, a built index is saved there with its generation and loaded instead
  of rebuilt by the next process that finds the same generation (a restart, another worker):
  start-up then reads files instead of every row of the store. The process that syncs saves
  it (``save_keyword_index``, called at the end of a sync), so servers only load it; while one
  process builds a generation (a marker file beside the index), others wait for its result
  instead of building the same index again. A server that finds nothing saved is ready as soon
  as it has built the index and saves it from a thread (``load_or_build``'s
  ``save_in_background``); the files appear by an atomic rename, so nobody loads half of them.
- Saved passages are JSON lines, read one at a time; BM25's arrays are memory-mapped; an index
  loaded to replace another shares the passages that did not change (``KeywordIndex.load``'s
  ``reuse``): a server following a sync holds little more than one index at its peak.
- ``KeywordIndexOptions.doc_terms`` adds a second tokenizer (the answer engine's terms) whose
  document frequencies are counted in the same pass and saved with the index, so the answer
  engine never reads every passage itself.
- After a new index replaces the old one, freed memory is handed back to the system
  (``release_memory``: ``gc`` and glibc's ``malloc_trim``), so a worker's RSS does not ratchet
  up with each sync.
- Tokens come from ``vectorstore.text`` (folded, Italian and English stop words dropped); each
  passage is stemmed in its own language and a query both ways, so an Italian question still
  matches names and numbers in English pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.keyword_build import CorpusTokens, FlatCorpus, PieceCache, build_bm25
from vectorstore.passages import Filters, Passage, allowed, same_page
from vectorstore.store import IndexStore, to_passage
from vectorstore.text import query_tokens

log = logging.getLogger(__name__)

# Bump when tokens or the saved layout change, so saved keyword indexes are rebuilt.
_INDEX_FORMAT = "3"
PASSAGES_FILE = "passages.jsonl"  # one [id, text, metadata] a line
SAVE_THREAD = "kmr-keyword-index-save"
# A marker older than this is left by a process that died while building: ignore it.
_BUILD_MARKER_TTL = 1800.0


@dataclass(frozen=True)
class KeywordIndexOptions:
    """What else a keyword index counts while it reads every passage.

    ``doc_terms`` is a tokenizer whose document frequencies are kept with the index (the
    answer engine's term statistics); ``doc_terms_tag`` names its version, so an index saved
    with another version is rebuilt rather than trusted; ``doc_terms_prepare``, if given, lets
    the build read each distinct piece of text once (``vectorstore.keyword_build``).
    """

    doc_terms: Callable[[str], Sequence[str]] | None = None
    doc_terms_tag: str = ""
    # what ``doc_terms`` does to a whole text before it reads the text's whitespace-separated
    # pieces independently (the text itself if nothing): each distinct piece is then read once
    # per build; the same object back means "unchanged"
    doc_terms_prepare: Callable[[str], str] | None = None


@dataclass
class KeywordIndex:
    """BM25 over every passage of the store, plus the page alternates found in metadata."""

    passages: list[Passage]
    alternates: dict[str, dict[str, str]]  # source id -> {language: source id of translation}
    retriever: Any = None
    generation: str = ""
    # document frequencies of ``KeywordIndexOptions.doc_terms`` over the passages, if asked
    doc_freqs: dict[str, int] | None = None
    doc_terms_tag: str = ""

    @functools.cached_property
    def positions(self) -> dict[str, int]:
        """Each passage's position in ``passages`` by id (once per index, on first use)."""
        return {p.id: i for i, p in enumerate(self.passages)}

    @functools.cached_property
    def dated(self) -> list[Passage]:
        """The passages that state a date (once per index, on first use): a question about
        coming events reads these, not every passage."""
        return [p for p in self.passages if p.dates]

    @classmethod
    def build(
        cls,
        rows: Iterable[tuple[str, str, dict[str, Any]]],
        generation: str = "",
        options: KeywordIndexOptions | None = None,
    ) -> KeywordIndex:
        """Index (id, text, metadata) rows as read from the store."""
        passages, alternates = _read_rows(rows)
        index = cls(passages=passages, alternates=alternates, generation=generation)
        terms = DocumentCounts(options) if options and options.doc_terms else None
        tokens = CorpusTokens()
        for p in passages:  # one pass: each passage split once, each distinct piece read once
            pieces = p.text.split()
            tokens.add(pieces, p.language)
            if terms is not None:
                terms.add(p.text, pieces)
        if terms is not None:
            index.doc_freqs = terms.counts
            index.doc_terms_tag = terms.tag
        if passages:
            index.retriever = build_bm25(tokens)
        return index

    # --- saved to disk, keyed by generation --------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the index to ``directory`` atomically (a temporary sibling, then a rename).

        Passages are written one JSON line each, so neither the save nor the load holds the
        whole corpus as one string besides the passages themselves."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(directory)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        try:
            if self.retriever is not None:
                self.retriever.save(str(tmp / "bm25"), show_progress=False)
            with (tmp / PASSAGES_FILE).open("w", encoding="utf-8") as out:
                for p in self.passages:
                    out.write(json.dumps(_row(p), ensure_ascii=False))
                    out.write("\n")
            (tmp / "alternates.json").write_text(json.dumps(self.alternates))
            if self.doc_freqs is not None:
                (tmp / "doc_freqs.json").write_text(json.dumps(self.doc_freqs, ensure_ascii=False))
            # written last: a directory without it is incomplete and ignored
            (tmp / "generation.json").write_text(
                json.dumps(
                    {
                        "generation": self.generation,
                        "format": _INDEX_FORMAT,
                        "doc_terms": self.doc_terms_tag if self.doc_freqs is not None else None,
                        "passages": len(self.passages),
                    }
                )
            )
            old = directory.with_name(f".{directory.name}-old-{time.time_ns()}")
            if directory.exists():
                directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(
        cls,
        directory: Path,
        generation: str,
        options: KeywordIndexOptions | None = None,
        reuse: KeywordIndex | None = None,
    ) -> KeywordIndex | None:
        """The index saved in ``directory`` if it was built at ``generation`` (with the
        document frequencies ``options`` ask for), else None.

        ``reuse``: the index this one replaces; its passages that did not change are shared
        instead of copied, so the new index costs little more than what changed while both are
        in memory (a server following a sync).

        BM25's arrays are memory-mapped: a search reads the columns of its query's terms, so
        they cost RSS only as far as queries touch them (and the page cache is shared by the
        workers); a later save never writes into these files (it renames a new directory in)."""
        import bm25s

        try:
            stamp = json.loads((directory / "generation.json").read_text())
        except (OSError, ValueError):
            return None
        if not _stamp_fits(stamp, generation, options):
            return None
        wanted = _wanted_terms(options)
        try:
            doc_freqs = None
            if wanted is not None:
                doc_freqs = json.loads((directory / "doc_freqs.json").read_text())
            alternates = json.loads((directory / "alternates.json").read_text())
            passages = _shared(_saved_rows(directory / PASSAGES_FILE), reuse)
            if len(passages) != stamp.get("passages"):
                raise ValueError(f"{len(passages)} passages, {stamp.get('passages')} saved")
            retriever = None
            if passages:
                retriever = bm25s.BM25.load(
                    str(directory / "bm25"), mmap=True, show_progress=False, verbosity=0
                )
        except (OSError, ValueError, KeyError, TypeError) as exc:  # damaged: rebuild
            log.warning("saved keyword index in %s is unreadable (%s); rebuilding", directory, exc)
            return None
        return cls(
            passages=passages,
            alternates=alternates,
            retriever=retriever,
            generation=generation,
            doc_freqs=doc_freqs,
            doc_terms_tag=wanted or "",
        )

    def __len__(self) -> int:
        return len(self.passages)

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """1.0 for passages the filters allow, 0.0 for the others; None when no filter."""
        if filters is None or not (filters.language or filters.page_type or filters.url_prefix):
            return None
        return np.array(
            [1.0 if allowed(p, filters) else 0.0 for p in self.passages], dtype=np.float32
        )

    def search(
        self, query: str, n: int, filters: Filters | None = None
    ) -> list[tuple[Passage, float]]:
        """Up to ``n`` passages with a positive BM25 score, best first."""
        if self.retriever is None or n <= 0:
            return []
        vocab = self.retriever.vocab_dict
        tokens = [t for t in query_tokens(query) if t in vocab]
        if not tokens:
            return []
        scores = self.retriever.get_scores(tokens)
        weights = self.mask(filters)
        if weights is not None:
            scores = scores * weights
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.passages[i], float(scores[i])) for i in top if scores[i] > 0]

    def alternate_sources(self, source_id: str) -> dict[str, str]:
        """Translations of a page: {language: source id}, from hreflang metadata."""
        return self.alternates.get(source_id, {})


class DocumentCounts:
    """In how many passages each term of ``options.doc_terms`` occurs, counted one passage at a
    time (each distinct piece read once when ``options.doc_terms_prepare`` is given)."""

    def __init__(self, options: KeywordIndexOptions) -> None:
        assert options.doc_terms is not None
        self.prepare = options.doc_terms_prepare
        self.tag = options.doc_terms_tag
        self._corpus = FlatCorpus()
        self._ids = self._corpus.ids_of(options.doc_terms)
        self._pieces = PieceCache(self._ids)

    def add(self, text: str, pieces: list[str] | None = None) -> None:
        """Count one passage; ``pieces``: ``text.split()``, if the caller has it already."""
        if self.prepare is None:
            self._corpus.append(self._ids(text))
            return
        prepared = self.prepare(text)
        if pieces is None or prepared is not text:
            pieces = prepared.split()
        self._corpus.append(self._pieces.tokens(pieces))

    @property
    def counts(self) -> dict[str, int]:
        return self._corpus.document_frequencies()


def count_documents(texts: Iterable[str], options: KeywordIndexOptions) -> dict[str, int]:
    """In how many of ``texts`` each term of ``options.doc_terms`` occurs."""
    counts = DocumentCounts(options)
    for text in texts:
        counts.add(text)
    return counts.counts


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once (None where there is none: musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc only).

    Measured 2026-11-30 (2-core x86_64, one process, 20k synthetic passages): after replacing
    its keyword index three times a process held 420-455 MB RSS with ``gc.collect`` alone and
    327-334 MB with ``malloc_trim`` too; the call takes ~0.2 s, once per index swap."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _row(passage: Passage) -> list[Any]:
    """A passage as one saved row: (id, text, metadata as the store holds it)."""
    meta = {
        "title": passage.title,
        "url": passage.url,
        "source": passage.source_id,
        "language": passage.language,
        "page_type": passage.page_type,
        "heading": passage.heading,
    }
    if passage.dates:
        meta["dates"] = passage.dates
    return [passage.id, passage.text, meta]


def _shared(
    rows: Iterable[tuple[str, str, dict[str, Any]]], reuse: KeywordIndex | None
) -> list[Passage]:
    """Passages of ``rows``; each equal to one of ``reuse``'s is that very object (passages
    are never changed in place: searches hand out copies)."""
    known = {p.id: p for p in reuse.passages} if reuse is not None else {}
    passages = []
    for chunk_id, text, meta in rows:
        passage = to_passage(chunk_id, text, meta)
        old = known.get(chunk_id)
        passages.append(old if old is not None and old == passage else passage)
    return passages


def _saved_rows(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The rows of a saved passages file, read one line at a time."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            chunk_id, text, meta = json.loads(line)
            yield chunk_id, text, meta


def _remove_stale_temporaries(directory: Path) -> None:
    """Remove the half-written siblings of ``directory`` left by a process killed mid-save
    (old enough that no live save can still be writing them)."""
    for path in directory.parent.glob(f".{directory.name}-*"):
        try:
            if time.time() - path.stat().st_mtime > _BUILD_MARKER_TTL:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _read_rows(
    rows: Iterable[tuple[str, str, dict[str, Any]]],
) -> tuple[list[Passage], dict[str, dict[str, str]]]:
    """Passages and page alternates from (id, text, metadata) rows."""
    passages: list[Passage] = []
    alternates: dict[str, dict[str, str]] = {}
    for chunk_id, text, meta in rows:
        passage = to_passage(chunk_id, text, meta)
        passages.append(passage)
        alt = _alternates(meta)
        if alt and same_page(passage.source_id) not in alternates:
            alternates[same_page(passage.source_id)] = alt
    return passages, alternates


def _alternates(meta: dict[str, Any]) -> dict[str, str]:
    raw = meta.get("alternates")
    if not raw:
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except (TypeError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        str(k).split("-")[0].lower(): same_page(str(v))
        for k, v in value.items()
        if v and k != "x-default"
    }


# --- saved indexes, shared between processes ---------------------------------------------
def load_or_build(
    store: IndexStore,
    path: Path,
    generation: str,
    options: KeywordIndexOptions | None = None,
    *,
    save_in_background: bool = False,
    reuse: KeywordIndex | None = None,
) -> KeywordIndex:
    """The index saved at ``path`` for ``generation``; else build it, save it and return it.

    One builder per generation: threads of this process take turns (the second loads what the
    first saved), and while another process builds it (its marker file is there and its pid
    alive) this one waits for the result rather than reading every row of the store again.
    With ``save_in_background`` (a server that found nothing saved) the built index is
    returned at once and saved by a thread that keeps the marker and this path's lock until
    the files are in place: nobody builds it twice meanwhile, and the atomic rename means no
    process ever loads a half-written index. ``reuse``: the index being replaced (see
    ``KeywordIndex.load``).
    """
    started = time.perf_counter()
    lock = _path_lock(path)
    lock.acquire()
    handed_over = False
    try:
        index = KeywordIndex.load(path, generation, options, reuse)
        marker = path.with_name(f"{path.name}.building")
        while index is None and _other_builder(marker, generation):
            time.sleep(0.2)
            index = KeywordIndex.load(path, generation, options, reuse)
        if index is not None:
            log.info(
                "keyword index loaded: %d passages, generation %s, %.0f ms",
                len(index),
                generation,
                (time.perf_counter() - started) * 1000,
            )
            return index
        claimed = _claim(marker, generation)
        try:
            index = build_keyword_index(store, generation, options)
        except BaseException:
            if claimed:
                marker.unlink(missing_ok=True)
            raise
        if save_in_background:
            # not a daemon (said explicitly: a thread of the server's pool would pass its own
            # daemon flag on), and the service's shutdown waits for it (``wait_for_saves``)
            saver = threading.Thread(
                target=_save_and_release,
                args=(index, path, marker if claimed else None, lock),
                name=SAVE_THREAD,
                daemon=False,
            )
            with _SAVERS_GUARD:
                _SAVERS[:] = [t for t in _SAVERS if t.is_alive()] + [saver]
            saver.start()
            handed_over = True
        else:
            _save_and_release(index, path, marker if claimed else None, None)
        return index
    finally:
        if not handed_over:
            lock.release()


_SAVERS: list[threading.Thread] = []  # background saves started by this process
_SAVERS_GUARD = threading.Lock()


def wait_for_saves(timeout: float = 60.0) -> bool:
    """Wait until the indexes this process saves in the background are written; False if some
    save outlived ``timeout``. Called at the service's shutdown: uvicorn re-raises SIGTERM once
    it has stopped, which ends the process without waiting for any thread."""
    deadline = time.monotonic() + timeout
    with _SAVERS_GUARD:
        savers = list(_SAVERS)
    for saver in savers:
        saver.join(max(0.0, deadline - time.monotonic()))
    return not any(saver.is_alive() for saver in savers)


def _save_and_release(
    index: KeywordIndex, path: Path, marker: Path | None, lock: threading.Lock | None
) -> None:
    """Save ``index`` at ``path`` (a failure is logged: it costs the next start only), then
    remove our build marker and release ``lock``."""
    started = time.perf_counter()
    try:
        index.save(path)
        log.info(
            "keyword index saved to %s in %.0f ms", path, (time.perf_counter() - started) * 1000
        )
    except OSError as exc:  # a read-only or full disk costs the next start only
        log.warning("could not save the keyword index to %s: %s", path, exc)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
        if lock is not None:
            lock.release()


def save_keyword_index(
    store: IndexStore, cache_dir: Path, options: KeywordIndexOptions | None = None
) -> KeywordIndex:
    """The keyword index of the store's current generation, built and saved unless it is saved
    already (the end of a sync), so that servers load it instead of building it."""
    return load_or_build(store, cache_dir / store.collection_name, store.generation(), options)


def is_saved(path: Path, generation: str, options: KeywordIndexOptions | None = None) -> bool:
    """Whether ``path`` holds a complete index of ``generation`` (with the counts asked for)."""
    try:
        stamp = json.loads((path / "generation.json").read_text())
    except (OSError, ValueError):
        return False
    return _stamp_fits(stamp, generation, options)


def _wanted_terms(options: KeywordIndexOptions | None) -> str | None:
    """The tag of the document frequencies ``options`` ask for (None: none asked)."""
    return options.doc_terms_tag if options and options.doc_terms else None


def _stamp_fits(
    stamp: dict[str, Any], generation: str, options: KeywordIndexOptions | None
) -> bool:
    """Whether a saved index's stamp is of ``generation``, this format and, if ``options`` ask
    for document frequencies, counted with their tokenizer (else it is rebuilt)."""
    wanted = _wanted_terms(options)
    return (
        stamp.get("generation") == generation
        and stamp.get("format") == _INDEX_FORMAT
        and (wanted is None or stamp.get("doc_terms") == wanted)
    )


_PATH_LOCKS: dict[Path, threading.Lock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


def _path_lock(path: Path) -> threading.Lock:
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(path.resolve(), threading.Lock())


def build_keyword_index(
    store: IndexStore, generation: str, options: KeywordIndexOptions | None
) -> KeywordIndex:
    """The index of every row of ``store``, stamped ``generation``; its size and time logged."""
    started = time.perf_counter()
    # generation is read before the rows: a sync finishing meanwhile bumps it again
    index = KeywordIndex.build(store.iter_rows(), generation=generation, options=options)
    log.info(
        "keyword index built: %d passages, generation %s, %.0f ms",
        len(index),
        generation,
        (time.perf_counter() - started) * 1000,
    )
    return index


def _claim(marker: Path, generation: str) -> bool:
    """Say "I am building ``generation``" (False if the marker cannot be written)."""
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"generation": generation, "pid": os.getpid()}))
        tmp.replace(marker)
        return True
    except OSError:
        return False


def _other_builder(marker: Path, generation: str) -> bool:
    """Whether another live process is building ``generation`` right now."""
    try:
        data = json.loads(marker.read_text())
        age = time.time() - marker.stat().st_mtime
    except (OSError, ValueError):
        return False
    pid = int(data.get("pid", 0))
    if data.get("generation") != generation or pid == os.getpid() or age > _BUILD_MARKER_TTL:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False  # it died mid-build
    except PermissionError:
        pass  # alive, another user's
    return True
