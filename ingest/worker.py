"""Extraction and chunking in a separate process, under a per-document CPU and memory budget.

Extraction parses untrusted bytes with libraries whose cost can grow far faster than the
input (a page of a million inline elements, thousands of CSS rules over thousands of
paragraphs). It therefore never runs in the calling process, which may be the API server:
a worker process does it, one document at a time, while the caller watches the worker's CPU
time and resident memory and kills it when a document goes over budget. The document is then
skipped with its reason, a fresh worker is started, and the run goes on.

Errors::

    ExtractionError(reason)   raised by ``ExtractionWorker.process`` for any document that
                              gives no usable text, goes over a budget, or fails in any
                              unexpected way (the reason says which)
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import psutil

from ingest.chunk import chunk_page
from ingest.directory import DirectoryOptions
from ingest.extract import ExtractionError, ExtractOptions, extract
from ingest.records import Chunk, Page, RawDocument

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.05  # how often the CPU and memory of a busy worker are read
_START_SECONDS = 120.0  # a worker that cannot import its libraries in this time is broken


@dataclass(frozen=True)
class WorkerLimits:
    """Per-document budgets of the worker process, and how to chunk what it extracts."""

    cpu_seconds: float = 30.0
    memory_mb: int = 768  # resident memory of the worker process (KMR_EXTRACT_MEMORY_MB)
    max_chunks: int = 2000
    chunk_size: int = 1000
    chunk_overlap: int = 150
    directory: DirectoryOptions = field(default_factory=DirectoryOptions)

    @property
    def wall_seconds(self) -> float:
        """A hang (no CPU used) is cut too; generous, since the machine may be shared."""
        return self.cpu_seconds * 4 + 30


def extract_and_chunk(
    raw: RawDocument, options: ExtractOptions, limits: WorkerLimits
) -> tuple[Page, list[Chunk]]:
    """The worker's job, also usable in-process: a Page and its chunks, within the chunk budget.

    The page's partner directory entries are read by the same extraction (one parse).
    """
    page = extract(raw, options, limits.directory)
    chunks = chunk_page(page, limits.chunk_size, limits.chunk_overlap)
    if len(chunks) > limits.max_chunks:
        raise ExtractionError(f"over budget: {len(chunks)} chunks (limit {limits.max_chunks})")
    return page, chunks


def _serve(conn: Connection, memory_mb: int) -> None:
    """Worker main loop: warm up, then answer jobs until told to stop."""
    # The libraries are loaded before the first job, so their cost is not charged to it.
    import trafilatura  # noqa: F401

    from vectorstore.language import identify_language

    identify_language("warm up the language identifier with a short english sentence")
    # A hard stop behind the parent's polling: an allocation burst between two polls hits
    # the address-space limit (MemoryError or death) instead of the machine's memory.
    usage = psutil.Process().memory_info().vms
    limit = usage + 2 * memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        raw, options, limits = job
        try:
            result: tuple = ("ok", extract_and_chunk(raw, options, limits))
        except ExtractionError as exc:
            result = ("skip", exc.reason, "")
        except MemoryError:
            result = ("skip", f"over budget: memory (limit {limits.memory_mb} MB)", "")
        except RecursionError:
            result = ("skip", "over budget: nesting too deep to parse", "")
        except Exception as exc:  # noqa: BLE001 - any bug on odd input skips one document only
            result = (
                "skip",
                f"unexpected error: {type(exc).__name__}: {exc}",
                traceback.format_exc(),
            )
        conn.send(result)


class ExtractionWorker:
    """A killable worker process that extracts and chunks one document at a time.

    Started on first use and again after each kill; ``close()`` ends it. Not thread-safe:
    one sync uses one worker.
    """

    def __init__(self, limits: WorkerLimits) -> None:
        self.limits = limits
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        # What the last document cost the worker (sampled every _POLL_SECONDS), for logs
        # and benchmarks.
        self.last_cpu_seconds = 0.0
        self.last_peak_mb = 0.0

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> tuple[BaseProcess, Connection]:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._process, self._conn
        self._stop()
        # spawn, not fork: the caller may be a threaded server holding a model in memory.
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(child, self.limits.memory_mb), name="kmr-extract", daemon=True
        )
        process.start()
        child.close()
        if not parent.poll(_START_SECONDS):
            process.kill()
            raise RuntimeError("the extraction worker did not start")
        parent.recv()
        self._process, self._conn = process, parent
        return process, parent

    def process(self, raw: RawDocument, options: ExtractOptions) -> tuple[Page, list[Chunk]]:
        """Extract and chunk ``raw`` in the worker; ExtractionError with the reason otherwise."""
        process, conn = self._start()
        conn.send((raw, options, self.limits))
        watched = psutil.Process(process.pid)
        times = watched.cpu_times()
        cpu_start, started = times.user + times.system, time.monotonic()
        memory_limit = self.limits.memory_mb * 1024 * 1024
        self.last_cpu_seconds, self.last_peak_mb = 0.0, watched.memory_info().rss / 2**20
        while not conn.poll(_POLL_SECONDS):
            reason = self._over_budget(watched, cpu_start, started, memory_limit)
            if reason:
                self._kill()
                raise ExtractionError(f"over budget: {reason}")
        try:
            message = conn.recv()
        except (EOFError, OSError) as exc:
            code = process.exitcode
            self._kill()
            raise ExtractionError(
                f"over budget: the extraction worker ended (exit code {code}), "
                f"most likely out of its {self.limits.memory_mb} MB memory budget"
            ) from exc
        with contextlib.suppress(psutil.Error):
            times = watched.cpu_times()
            self.last_cpu_seconds = times.user + times.system - cpu_start
        if message[0] == "ok":
            return message[1]
        if message[2]:
            log.debug("extraction of %s failed:\n%s", raw.location, message[2])
        raise ExtractionError(message[1])

    def _over_budget(
        self, watched: psutil.Process, cpu_start: float, started: float, memory_limit: int
    ) -> str:
        """Why the busy worker must be stopped now ('' while it is within budget)."""
        try:
            times = watched.cpu_times()
            rss = watched.memory_info().rss
        except psutil.Error:
            return "the extraction worker ended unexpectedly"
        cpu = times.user + times.system - cpu_start
        self.last_cpu_seconds = cpu
        self.last_peak_mb = max(self.last_peak_mb, rss / 2**20)
        if cpu > self.limits.cpu_seconds:
            return f"CPU time (limit {self.limits.cpu_seconds:g} s)"
        if rss > memory_limit:
            return f"memory (limit {self.limits.memory_mb} MB)"
        if time.monotonic() - started > self.limits.wall_seconds:
            return f"wall time (limit {self.limits.wall_seconds:g} s)"
        return ""

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._stop()

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def close(self) -> None:
        """Stop the worker (politely, then by force)."""
        if self._process is not None and self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        self._stop()
