"""Start-up and shutdown of the service, in one place.

At start: load the embedding model, open the store and its keyword index (serving anyway when
it is down: /ready says 503 and requests retry), check the LLM server when one is configured,
purge what is past its retention (conversations, feedback, enquiries), start the scheduled sync (``KMR_SYNC_INTERVAL``), then the
background tasks
listed in ``BACKGROUND_TASKS`` (each an ``async def task(services)`` that runs until
cancelled). At shutdown: cancel the tasks, then write what the database queue still holds and
wait for a keyword index still being saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError

from assistant.errors import KmrError
from assistant.jobs import SyncScheduler
from assistant.privacy import purge
from assistant.web.deps import Services
from vectorstore.keyword_index import wait_for_saves
from vectorstore.store import StoreError

log = logging.getLogger("kmr.api")

PURGE_INTERVAL_SECONDS = 3600.0
ENQUIRY_RETRY_SECONDS = 600.0

BackgroundTask = Callable[[Services], Coroutine[Any, Any, None]]


async def purge_periodically(services: Services) -> None:
    """Delete expired conversations every hour (never fatal: logged and retried)."""
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        await _purge(services)


async def _purge(services: Services) -> None:
    """Each kind on its own clock: conversations, feedback, enquiries (``privacy.purge``)."""
    try:  # privacy.purge logs what it removed
        await run_in_threadpool(
            lambda: purge(services.settings, services.db, services.staff.usable_handoff)
        )
    except (SQLAlchemyError, KmrError) as exc:
        log.warning("retention purge failed (retried later): %s", " ".join(str(exc).split())[:300])


def _retry_failed(services: Services) -> dict[str, int]:
    """Send the failed enquiries again, on a database that can record it: on a read-only one
    a sent e-mail could not be marked sent, and every retry would send it again."""
    if not services.db.writable:
        return {"sent": 0, "failed": 0}
    handoff = services.staff.usable_handoff  # None: a database that cannot hold enquiries
    return handoff.retry_failed() if handoff is not None else {"sent": 0, "failed": 0}


async def retry_enquiries_periodically(services: Services) -> None:
    """Send again, now and then, the enquiries the mail server did not take (never fatal)."""
    while True:
        await asyncio.sleep(ENQUIRY_RETRY_SECONDS)
        if not services.staff.handoff_enabled:
            continue
        try:  # in the pool: the first use of the handoff creates its table
            counts = await run_in_threadpool(_retry_failed, services)
            if any(counts.values()):
                log.info("enquiries sent again: %s", counts)
        except (SQLAlchemyError, KmrError) as exc:
            log.warning("retrying enquiries failed: %s", " ".join(str(exc).split())[:300])


BACKGROUND_TASKS: list[BackgroundTask] = [
    purge_periodically,
    retry_enquiries_periodically,
]


async def _start(services: Services) -> None:
    """The start-up steps; none of them stops the service from starting."""
    await run_in_threadpool(services.holder.load_model)
    try:  # the keyword index too, so that the first question does not wait for it
        await run_in_threadpool(lambda: services.holder.get().warm())
    except StoreError as exc:  # serve anyway: /ready says 503 and we retry on demand
        log.error("store unavailable at start: %s", exc)
    if services.llm_check is not None:
        problem = await run_in_threadpool(services.llm_check.problem)
        if problem:  # serve anyway (extractive fallback); /ready says why
            log.error("LLM not usable: %s", problem)
    if services.db.problem:
        log.error("starting without storing conversations: %s", services.db.problem)
    await _purge(services)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: start-up, background tasks, orderly shutdown."""
    services: Services = app.state.services
    await _start(services)
    scheduler = None
    if services.settings.sync_interval:  # KMR_SYNC_INTERVAL: syncs without cron
        scheduler = SyncScheduler(
            services.jobs,
            services.settings,
            lambda: services.holder.get().store,
            services.settings.sync_interval,
        )
        scheduler.start()
    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(start(services), name=getattr(start, "__name__", "task"))
        for start in BACKGROUND_TASKS
    ]
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # a task that died earlier must not stop the shutdown
                log.exception("background task %s failed", task.get_name())
        await run_in_threadpool(services.db.close)
        # a keyword index built at start may still be being saved: let it finish
        if not await run_in_threadpool(wait_for_saves):
            log.warning("stopped before the keyword index was saved (the next start builds it)")
        runtime = services.holder.opened
        if runtime is not None:  # a read-only index's temporary snapshot goes
            await run_in_threadpool(runtime.store.close)
