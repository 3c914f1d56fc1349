"""Syncs run by the service (admin route or schedule) in a background thread, with their
progress readable meanwhile.

One sync at a time per service process, and, through ingest.sync's file lock, per data
directory: a sync asked for while another process (``kmr ingest``, another worker) holds the
lock is refused with JobAlreadyRunning instead of starting and failing. Before writing, the
store's view is brought up to date (an embedded view left behind by another process's sync
must not write its stale vector index over theirs). ``SyncScheduler`` starts one every
``sync_interval`` seconds; a tick that finds a sync running is skipped, never queued. The
job's state is a plain dict so the API can return it unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from assistant.config import Settings

log = logging.getLogger(__name__)

JobStatus = Literal["idle", "running", "succeeded", "failed"]
SyncFunction = Callable[..., Any]  # ingest.sync.sync's signature (assistant.runtime.sync_index)


class JobAlreadyRunning(Exception):
    """A sync was requested while another one is still running (here or in another process)."""


OTHER_PROCESS = "of another process"  # JobAlreadyRunning's argument when the lock is held elsewhere


def lock_is_free(settings: Settings) -> bool:
    """Whether no process holds the data directory's sync lock right now (a hint: racy)."""
    from ingest.sync import SyncError, sync_lock

    try:
        with sync_lock(settings.data_dir):
            return True
    except SyncError:
        return False


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _as_dict(report: Any) -> dict[str, Any]:
    """SyncReport (or anything with as_dict) as a dict; failures reduced to a count and sample."""
    data = dict(report.as_dict()) if hasattr(report, "as_dict") else dict(report)
    failures = data.get("failures") or []
    data["failures"] = failures[:20]  # enough to diagnose, small enough to poll
    return data


@dataclass
class SyncJob:
    """One admin sync: what it was asked to do and how far it got."""

    id: str
    sources: list[str]
    full: bool
    trigger: str = "admin"  # "admin" or "schedule"
    status: JobStatus = "running"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "sources": self.sources,
            "full": self.full,
            "trigger": self.trigger,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": self.progress,
            "error": self.error,
        }


class SyncJobs:
    """Starts syncs in a thread and remembers the latest one."""

    def __init__(self, sync_function: SyncFunction | None = None) -> None:
        self._sync = sync_function
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.current: SyncJob | None = None
        self.scheduler: SyncScheduler | None = None  # set by SyncScheduler, shown in status()

    @property
    def running(self) -> bool:
        """Whether a sync started by this process is still running."""
        return self.current is not None and self.current.status == "running"

    def _sync_function(self) -> SyncFunction:
        if self._sync is None:
            # the sync and what servers load after it; heavy: only when needed
            from assistant.runtime import sync_index

            self._sync = sync_index
        return self._sync

    def start(
        self,
        settings: Settings,
        store: Any,
        *,
        full: bool = False,
        on_finish: Callable[[SyncJob], None] | None = None,
        trigger: str = "admin",
    ) -> SyncJob:
        """Start a sync of settings.sources; raises JobAlreadyRunning, or StoreReadOnly when
        the index was opened from a read-only folder (before touching the lock file, which
        that folder cannot hold either)."""
        require_writable = getattr(store, "require_writable", None)
        if callable(require_writable):
            require_writable()
        with self._lock:
            if self.current is not None and self.running:
                raise JobAlreadyRunning(self.current.id)
            if not lock_is_free(settings):
                raise JobAlreadyRunning(OTHER_PROCESS)
            job = SyncJob(
                id=uuid.uuid4().hex[:12], sources=list(settings.sources), full=full, trigger=trigger
            )
            self.current = job
            self._thread = threading.Thread(
                target=self._run,
                args=(job, settings, store, on_finish),
                name=f"kmr-sync-{job.id}",
                daemon=True,
            )
            self._thread.start()
            return job

    def _run(
        self,
        job: SyncJob,
        settings: Settings,
        store: Any,
        on_finish: Callable[[SyncJob], None] | None,
    ) -> None:
        def progress(report: Any) -> None:
            job.progress = _as_dict(report)

        try:
            refresh_view = getattr(store, "refresh_view", None)
            if callable(refresh_view):
                refresh_view()
            report = self._sync_function()(
                settings, store, job.sources, full=job.full, progress=progress
            )
            job.progress = _as_dict(report)
            job.status = "succeeded"
        except Exception as exc:  # reported to the admin, never raised into the server
            log.exception("admin sync %s failed", job.id)
            job.error = f"{type(exc).__name__}: {exc}"
            job.status = "failed"
        finally:
            job.finished_at = time.time()
            if on_finish is not None:
                on_finish(job)

    def status(self) -> dict[str, Any]:
        """The latest job (or an idle status when none ran in this process) and the schedule."""
        data: dict[str, Any]
        if self.current is None:
            data = {
                "id": None,
                "status": "idle",
                "sources": [],
                "full": False,
                "trigger": None,
                "started_at": None,
                "finished_at": None,
                "progress": {},
                "error": None,
            }
        else:
            data = self.current.as_dict()
        data["schedule"] = self.scheduler.as_dict() if self.scheduler is not None else None
        return data

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running job ends (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class SyncScheduler:
    """Starts a sync every ``interval`` seconds in a thread; busy ticks are skipped.

    Ticks keep a fixed grid (start + n * interval), so a sync that overruns its interval
    makes the ticks that fall during it skipped (counted, with the reason), not stacked.
    ``store`` is a callable so a store that cannot be opened yet costs a skipped tick.
    """

    def __init__(
        self, jobs: SyncJobs, settings: Settings, store: Callable[[], Any], interval: float
    ) -> None:
        self.jobs = jobs
        self.settings = settings
        self.store = store
        self.interval = interval
        self.started = 0
        self.skipped = 0
        self.last_skipped_at: float | None = None
        self.last_skip_reason: str | None = None
        self.next_run_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        jobs.scheduler = self

    def start(self) -> None:
        """Start ticking; the first sync runs one interval from now."""
        self.next_run_at = time.time() + self.interval
        self._thread = threading.Thread(target=self._loop, name="kmr-sync-schedule", daemon=True)
        self._thread.start()
        log.info("scheduled sync every %.0f s", self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking (a running sync finishes on its own)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while self.next_run_at is not None:
            if self._stop.wait(max(0.0, self.next_run_at - time.time())):
                return
            self.tick()
            now = time.time()
            self.next_run_at += self.interval
            while self.next_run_at <= now:  # only if a tick itself overran: never catch up
                self.next_run_at += self.interval

    def tick(self) -> SyncJob | None:
        """Start a sync now unless one is running; returns the job, or None if skipped."""
        try:
            job = self.jobs.start(self.settings, self.store(), trigger="schedule")
        except JobAlreadyRunning as exc:
            self._skip(f"sync {exc} still running")
            return None
        except Exception as exc:  # the store is down: try again at the next tick
            self._skip(f"{type(exc).__name__}: {exc}")
            return None
        self.started += 1
        return job

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.last_skipped_at = time.time()
        self.last_skip_reason = reason
        log.warning("scheduled sync skipped: %s", reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval_seconds": self.interval,
            "started": self.started,
            "next_run_at": _iso(self.next_run_at),
            "skipped": self.skipped,
            "last_skipped_at": _iso(self.last_skipped_at),
            "last_skip_reason": self.last_skip_reason,
        }
