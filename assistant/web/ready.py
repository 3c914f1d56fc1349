"""The readiness checks behind ``/ready``: one small function per part, in one list.

A check takes the app's ``Services`` and returns a ``CheckResult``. A failed *blocking*
check makes /ready answer 503 (the service cannot answer questions); a failed non-blocking
one keeps 200 and says, in ``detail``, what the service cannot do (e.g. store questions in a
read-only database). Add a check by appending a function to ``READY_CHECKS`` (or to
``Services.ready_checks`` of one app). Checks run in the thread pool; keep them quick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from assistant.errors import DB_DOWN, INDEX_READ_ONLY, STORE_DOWN
from assistant.records_db import DatabaseUnavailable
from assistant.web.deps import Services
from assistant.web.models import CheckResult, ReadyResponse
from vectorstore.store import StoreError

log = logging.getLogger("kmr.api")

ReadyCheck = Callable[[Services], CheckResult]


def model_check(services: Services) -> CheckResult:
    """The embedding model is loaded (it loads during start-up)."""
    if services.holder.model_loaded:
        return CheckResult(ok=True)
    return CheckResult(ok=False, detail="The model is loading.")


def store_check(services: Services) -> CheckResult:
    """The store answers."""
    try:
        services.runtime().store.ping()
    except StoreError as exc:
        log.warning("not ready: %s", exc)
        return CheckResult(ok=False, detail=STORE_DOWN)
    return CheckResult(ok=True)


def index_check(services: Services) -> CheckResult:
    """The index can be written by syncs (non-blocking: an index folder that is read-only is
    served from a temporary copy, so questions are answered; only syncs are refused)."""
    try:
        store = services.runtime().store
    except StoreError:  # the store check reports it
        return CheckResult(ok=True, blocking=False)
    if store.read_only is None:
        return CheckResult(ok=True, blocking=False)
    return CheckResult(ok=False, blocking=False, detail=INDEX_READ_ONLY)


def database_check(services: Services) -> CheckResult:
    """The service database answers (blocking: an answer that cannot be recorded is not
    given) and can be written (non-blocking: a read-only database only stops the storing)."""
    try:
        services.db.ping()
    except DatabaseUnavailable as exc:
        log.warning("not ready: service database: %s", exc)
        return CheckResult(ok=False, detail=DB_DOWN)
    problem = services.db.problem
    if problem is None:
        return CheckResult(ok=True, blocking=False)
    return CheckResult(ok=False, blocking=False, detail=problem[0].upper() + problem[1:] + ".")


def llm_check(services: Services) -> CheckResult:
    """The configured chat model can be used (only with the openai backend). A server that
    does not answer is non-blocking (answers fall back to the extractive engine); a refused
    key or an unknown model name is blocking: a configuration error to fix."""
    if services.llm_check is None:
        return CheckResult(ok=True, blocking=False)
    problem = services.llm_check.problem()
    if problem is None:
        return CheckResult(ok=True, blocking=False)
    if problem.reachable:
        return CheckResult(ok=False, detail=f"LLM: {problem}")
    return CheckResult(
        ok=False,
        blocking=False,
        detail=f"LLM: {problem} (answers fall back to the extractive engine)",
    )


READY_CHECKS: dict[str, ReadyCheck] = {
    "model": model_check,
    "store": store_check,
    "index": index_check,
    "database": database_check,
    "llm": llm_check,
}


def readiness(services: Services, checks: dict[str, ReadyCheck] | None = None) -> ReadyResponse:
    """Run the checks; ready when no blocking check failed."""
    results = {name: check(services) for name, check in (checks or READY_CHECKS).items()}
    blocked = any(not r.ok and r.blocking for r in results.values())
    details = [r.detail for r in results.values() if not r.ok and r.detail]
    store = results.get("store")
    database = results.get("database")
    llm = results.get("llm")
    index = results.get("index")
    return ReadyResponse(
        status="unavailable" if blocked else "ready",
        model_loaded=services.holder.model_loaded,
        store="ok" if store is None or store.ok else "unreachable",
        database="ok"
        if database is None or database.ok
        else ("unreachable" if database.blocking else "read_only"),
        syncs="enabled" if index is None or index.ok else "disabled",
        llm=None
        if services.llm_check is None or llm is None
        else ("ok" if llm.ok else "misconfigured" if llm.blocking else "unreachable"),
        checks=results,
        detail=" ".join(details) or None,
    )
