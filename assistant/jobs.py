"""The admin sync, run in a background thread with its progress readable meanwhile.

One sync at a time per service process (and, through ingest.sync's file lock, per data
directory). The job's state is a plain dict so the API can return it unchanged.
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
SyncFunction = Callable[..., Any]  # ingest.sync.sync's signature


class JobAlreadyRunning(Exception):
    """A sync was requested while another one is still running."""


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

    def _sync_function(self) -> SyncFunction:
        if self._sync is None:
            from ingest.sync import sync  # heavy (extraction, crawling): only when needed

            self._sync = sync
        return self._sync

    def start(self, settings: Settings, store: Any, *, full: bool = False,
              on_finish: Callable[[SyncJob], None] | None = None) -> SyncJob:
        """Start a sync of settings.sources; raises JobAlreadyRunning."""
        with self._lock:
            if self.current is not None and self.current.status == "running":
                raise JobAlreadyRunning(self.current.id)
            job = SyncJob(id=uuid.uuid4().hex[:12], sources=list(settings.sources), full=full)
            self.current = job
            self._thread = threading.Thread(
                target=self._run, args=(job, settings, store, on_finish),
                name=f"kmr-sync-{job.id}", daemon=True,
            )
            self._thread.start()
            return job

    def _run(self, job: SyncJob, settings: Settings, store: Any,
             on_finish: Callable[[SyncJob], None] | None) -> None:
        def progress(report: Any) -> None:
            job.progress = _as_dict(report)

        try:
            report = self._sync_function()(settings, store, job.sources, full=job.full,
                                           progress=progress)
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
        """The latest job, or an idle status when none ran in this process."""
        if self.current is None:
            return {"id": None, "status": "idle", "sources": [], "full": False,
                    "started_at": None, "finished_at": None, "progress": {}, "error": None}
        return self.current.as_dict()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running job ends (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
