"""A running service follows its sources: syncs by other processes are served without restart.

The API runs as its own process (``python -m assistant.cli serve``) over HTTP; pages are added
by ``kmr ingest`` run as another process, edited and deleted by a sync in the test process, in
embedded Chroma mode and against a real ``chroma run`` server. The schedule
(KMR_SYNC_INTERVAL) is tested inside the served process too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, free_port, wait_http

from assistant.config import SAMPLE_SITE, Settings
from assistant.jobs import JobAlreadyRunning, SyncJobs, SyncScheduler
from assistant.runtime import open_store
from ingest.sync import sync, sync_lock

ADMIN_KEY = "fresh-admin-key-0123456789"
FOLLOW_SECONDS = 30.0  # generous on a shared 2-core machine; typically a second or two

BIKE_PAGE = """<!doctype html>
<html lang="en"><head><title>Bicycle racks</title></head>
<body><main><h1>Bicycle racks</h1>
<p>{sentence}</p>
<p>The racks stand beside the main gate of the campus and are free for every visitor.</p>
</main></body></html>
"""
FIRST = "The bicycle racks of the district are made of zorblattium, a recycled alloy."
EDITED = "The bicycle racks of the district are now made of quintessium, a lighter alloy."


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """Two pages of the sample site, in a directory the test edits."""
    root = tmp_path / "site"
    for rel in ("en/faq.html", "en/campus/architecture.html"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_SITE / rel, root / rel)
    return root


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment that gives a child process these settings (and this code)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMR_")}
    env.update(
        PYTHONPATH=str(ROOT),
        KMR_DATA_DIR=str(settings.data_dir),
        KMR_MODEL_CACHE_DIR=str(settings.model_cache_dir),
        KMR_SOURCES=json.dumps(list(settings.sources)),
        KMR_COLLECTION_PREFIX=settings.collection_prefix,
        KMR_RATE_LIMIT="10000/minute",
        KMR_ADMIN_API_KEY=ADMIN_KEY,
        KMR_LOG_LEVEL="INFO",
    )
    if settings.chroma_host:
        env.update(KMR_CHROMA_HOST=settings.chroma_host, KMR_CHROMA_PORT=str(settings.chroma_port))
    env.update(extra)
    return env


class ApiProcess:
    """``kmr serve`` as a child process on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "assistant.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 300.0) -> None:
        wait_http(f"{self.url}/health", timeout=timeout, process=self.process)
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.url}/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ApiProcess]]:
    """Start ``kmr serve`` processes that are stopped at the end of the test."""
    started: list[ApiProcess] = []

    def start(settings: Settings, **extra: str) -> ApiProcess:
        api = ApiProcess(_environment(settings, **extra), tmp_path / f"api-{len(started)}.log")
        started.append(api)
        api.wait_ready()
        return api

    yield start
    for api in started:
        api.stop()


def _search(http: httpx.Client, query: str, k: int = 5) -> list[dict[str, Any]]:
    response = http.get("/api/search", params={"q": query, "k": k})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def _found(http: httpx.Client, word: str, k: int = 5) -> bool:
    """Whether a passage holding ``word`` is among the top ``k`` hits for it.

    Absence is checked with k=50, beyond this small index: a passage still in a stale keyword
    index (matched by BM25 alone) can be outranked in a top 5 by dense hits of other pages.
    """
    return any(word in hit["text"].lower() for hit in _search(http, word, k))


def _eventually(check: Callable[[], Any], what: str, timeout: float = FOLLOW_SECONDS) -> float:
    """Seconds until ``check()`` is truthy; fails after ``timeout``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.25)
    return time.monotonic() - started


def _chat(http: httpx.Client, question: str) -> dict[str, Any]:
    response = http.post("/api/chat", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def _follows_its_sources(
    settings: Settings, site: Path, embeddings: Any, serve: Callable[..., ApiProcess]
) -> None:
    store = open_store(settings, embeddings)
    assert sync(settings.sync_options(), store).failed == 0
    api = serve(settings)
    page = site / "en" / "bicycle-racks.html"
    with httpx.Client(base_url=api.url, timeout=120) as http:
        assert not _found(http, "zorblattium", 50)

        # added by `kmr ingest`, a third process
        page.write_text(BIKE_PAGE.format(sentence=FIRST))
        ingest = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "ingest"],
            cwd=ROOT,
            env=_environment(settings),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert ingest.returncode == 0, ingest.stderr[-3000:]
        _eventually(
            lambda: _found(http, "zorblattium"), "the ingested page is found by /api/search"
        )
        answer = _chat(http, "What are the bicycle racks made of?")
        assert "zorblattium" in answer["answer"].lower(), answer
        assert any("bicycle-racks" in s["url"] for s in answer["sources"]), answer

        # edited (a sync in the test process, not the server's)
        page.write_text(BIKE_PAGE.format(sentence=EDITED))
        assert sync(settings.sync_options(), store).failed == 0
        _eventually(
            lambda: _found(http, "quintessium") and not _found(http, "zorblattium", 50),
            "the edited text is found by /api/search and the old text is gone",
        )
        answer = _chat(http, "What are the bicycle racks made of?")
        assert "quintessium" in answer["answer"].lower(), answer
        assert "zorblattium" not in answer["answer"].lower(), answer

        # deleted
        page.unlink()
        assert sync(settings.sync_options(), store).failed == 0
        _eventually(
            lambda: not _found(http, "quintessium", 50), "the deleted page is gone from /api/search"
        )
        answer = _chat(http, "What are the bicycle racks made of?")
        assert not any("bicycle-racks" in s["url"] for s in answer["sources"]), answer
        assert "quintessium" not in answer["answer"].lower(), answer
        # the pages that were there all along are still served
        assert _search(http, "architecture campus")
    assert api.process.poll() is None, "the server kept running throughout"


def test_embedded_service_serves_pages_synced_by_other_processes(
    make_settings: Callable[..., Settings],
    site: Path,
    embeddings: Any,
    serve: Callable[..., ApiProcess],
) -> None:
    settings = make_settings(sources=[str(site)], collection_prefix="fresh")
    _follows_its_sources(settings, site, embeddings, serve)


def test_chroma_server_service_serves_pages_synced_by_other_processes(
    make_settings: Callable[..., Settings],
    site: Path,
    embeddings: Any,
    serve: Callable[..., ApiProcess],
    chroma_server: Any,
) -> None:
    settings = make_settings(
        sources=[str(site)],
        collection_prefix=f"fresh{free_port()}",
        chroma_host=chroma_server.host,
        chroma_port=chroma_server.port,
    )
    _follows_its_sources(settings, site, embeddings, serve)


def test_the_served_schedule_syncs_and_skips_while_another_process_syncs(
    make_settings: Callable[..., Settings],
    site: Path,
    embeddings: Any,
    serve: Callable[..., ApiProcess],
) -> None:
    settings = make_settings(sources=[str(site)], collection_prefix="sched")
    assert sync(settings.sync_options(), open_store(settings, embeddings)).failed == 0
    headers = {"X-Admin-Key": ADMIN_KEY}
    with sync_lock(settings.data_dir):  # "another process" is syncing: the test holds the lock
        api = serve(settings, KMR_SYNC_INTERVAL="10")
        with httpx.Client(base_url=api.url, timeout=120, headers=headers) as http:
            refused = http.post("/api/admin/sync", json={})
            assert refused.status_code == 409, refused.text
            assert "another process" in refused.json()["detail"]

            def skipped() -> bool:
                return http.get("/api/admin/sync").json()["schedule"]["skipped"] >= 1

            _eventually(skipped, "a tick during another process's sync is skipped", 40)
            schedule = http.get("/api/admin/sync").json()["schedule"]
            assert schedule["interval_seconds"] == 10 and schedule["started"] == 0
            assert "another process" in schedule["last_skip_reason"]

    (site / "en" / "bicycle-racks.html").write_text(BIKE_PAGE.format(sentence=FIRST))
    with httpx.Client(base_url=api.url, timeout=120, headers=headers) as http:
        _eventually(
            lambda: _found(http, "zorblattium"),
            "the scheduled sync's new page is served",
            90,
        )
        status = http.get("/api/admin/sync").json()
        assert status["trigger"] == "schedule" and status["schedule"]["started"] >= 1, status
        assert status["status"] in {"running", "succeeded"}, status


# --- the schedule itself, with the sync function as the seam ------------------------------
class _SlowSync:
    """Stands in for ingest.sync.sync: blocks until released, counting its runs."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.runs = 0

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.runs += 1
        self.release.wait(30)
        return {"seen": 0, "failures": []}


def test_a_sync_that_overruns_its_interval_makes_ticks_skipped_not_stacked(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    slow = _SlowSync()
    jobs = SyncJobs(sync_function=slow)
    scheduler = SyncScheduler(jobs, settings, lambda: object(), interval=0.2)
    scheduler.start()
    try:
        _eventually(lambda: scheduler.skipped >= 3, "ticks during a running sync are skipped", 10)
        assert slow.runs == 1 and scheduler.started == 1
        assert jobs.status()["schedule"]["skipped"] >= 3
        with pytest.raises(JobAlreadyRunning):
            jobs.start(settings, object())
        slow.release.set()
        _eventually(lambda: scheduler.started >= 2, "the next tick after it ends starts one", 10)
    finally:
        slow.release.set()
        scheduler.stop()
        jobs.wait(10)
    assert jobs.status()["trigger"] == "schedule"


def test_an_admin_sync_is_refused_while_another_process_holds_the_lock(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    jobs = SyncJobs(sync_function=_SlowSync())
    with sync_lock(settings.data_dir), pytest.raises(JobAlreadyRunning, match="another process"):
        jobs.start(settings, object())
    assert jobs.status()["status"] == "idle"


def test_a_sync_that_fails_half_way_leaves_the_served_index_usable(
    make_settings: Callable[..., Settings],
    site: Path,
    embeddings: Any,
    tmp_path: Path,
) -> None:
    from assistant.runtime import open_runtime

    settings = make_settings(sources=[str(site)], collection_prefix="halfway")
    runtime = open_runtime(settings, embeddings=embeddings)
    assert sync(settings.sync_options(), runtime.store).failed == 0
    before = {p.id for p in runtime.searcher.search("campus architecture", k=5)}
    assert before
    second = tmp_path / "second"
    (second / "en").mkdir(parents=True)
    (second / "en" / "bicycle-racks.html").write_text(BIKE_PAGE.format(sentence=FIRST))

    def fails_after_the_first_source(
        settings: Settings, store: Any, sources: list[str], **kwargs: Any
    ) -> Any:
        """The real sync of the first source, then a crash (the seam: ingest.sync.sync)."""
        sync(settings.sync_options(), store, sources[:1], **kwargs)
        raise RuntimeError("the crawler lost its network")

    jobs = SyncJobs(sync_function=fails_after_the_first_source)
    failing = settings.model_copy(update={"sources": [str(second), str(site)]})
    jobs.start(failing, runtime.store)
    jobs.wait(120)
    status = jobs.status()
    assert status["status"] == "failed" and "lost its network" in status["error"], status
    runtime.searcher.refresh()
    assert {p.id for p in runtime.searcher.search("campus architecture", k=5)} == before
    assert any("bicycle-racks" in p.source_id for p in runtime.searcher.search("zorblattium"))
    with sync_lock(settings.data_dir):  # the failed sync released the lock
        pass
