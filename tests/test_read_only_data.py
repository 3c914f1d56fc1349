"""A read-only data folder (index, service database, keyword index): the service starts and
answers from a temporary copy of the index, /ready and the staff console say that syncs and
stored answers are disabled and why, and syncs are refused with a clear error.

The folder is made really read-only: as root (where chmod stops nothing) with a read-only bind
mount inside a private mount namespace (``unshare -rm``), which the served process runs in;
as any other user with ``chmod -R a-w``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import ADMIN_KEY
from support.read_only import read_only_command

QUESTION = "How tall is the red wall you see from the motorway?"
ROOT = Path(__file__).resolve().parent.parent


def _digest(folder: Path) -> str:
    """One hash of every file's path and bytes (the folder must not change)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def indexed(embeddings: Any, models_dir: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    """A data folder synced once (index, ledger, service database) and the env to serve it."""
    from assistant.config import SAMPLE_SITE, Settings
    from assistant.records_db import RecordsDB
    from assistant.runtime import open_runtime
    from ingest.sync import sync

    site = tmp_path / "site"
    for name in ("en/campus/architecture.html", "en/faq.html"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes((SAMPLE_SITE / name).read_bytes())
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data, model_cache_dir=models_dir, sources=[str(site)], _env_file=None
    )
    runtime = open_runtime(settings, embeddings=embeddings)
    assert sync(settings.sync_options(), runtime.store).failed == 0
    RecordsDB(settings).close()  # the service ran once before: its database exists
    del runtime
    scratch = tmp_path / "tmp"  # the snapshot's temporary folder, checked after the run
    scratch.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KMR_DATA_DIR": str(data),
        "KMR_MODEL_CACHE_DIR": str(models_dir),
        "KMR_SOURCES": json.dumps([str(site)]),
        "KMR_ADMIN_API_KEY": ADMIN_KEY,
        "KMR_LOG_LEVEL": "INFO",
        "TMPDIR": str(scratch),
    }
    env.pop("KMR_DATABASE_URL", None)
    env.pop("KMR_CHROMA_HOST", None)
    return data, scratch, env


@pytest.mark.slow  # a whole `kmr serve` process, loading the model
def test_the_service_answers_from_a_read_only_data_folder_and_refuses_syncs(
    indexed: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    from conftest import free_port, wait_http

    data, scratch, env = indexed
    before = _digest(data)
    port = free_port()
    serve = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1"]
    command = read_only_command(data, [*serve, "--port", str(port)])
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", timeout=180, process=process)
        with httpx.Client(base_url=base, timeout=60) as http:
            ready = http.get("/ready")
            assert ready.status_code == 200, ready.text
            body = ready.json()
            assert body["status"] == "ready"
            assert body["syncs"] == "disabled"
            assert body["checks"]["index"] == {
                "ok": False,
                "blocking": False,
                "detail": body["checks"]["index"]["detail"],
            }
            assert body["database"] == "read_only"
            assert "Syncs are disabled: the index folder is read-only" in body["detail"]
            assert "questions, answers and feedback are not stored" in body["detail"]

            chat = http.post("/api/chat", json={"question": QUESTION})
            assert chat.status_code == 200, chat.text
            assert "10" in chat.json()["answer"]

            refused = http.post(
                "/api/admin/sync", json={"full": True}, headers={"X-Admin-Key": ADMIN_KEY}
            )
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "store_read_only"
            assert "index folder is read-only" in refused.json()["detail"]
            status = http.get("/api/admin/sync", headers={"X-Admin-Key": ADMIN_KEY})
            assert status.json()["status"] == "idle"  # nothing was started

            # the staff console shows /ready's detail as text
            staff = http.get("/staff")
            assert staff.status_code == 200 and 'id="service-notice"' in staff.text
            script = http.get("/static/staff.js").text
            assert 'fetch("/ready")' in script and "notice.textContent = " in script
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert "answering from a read-only snapshot" in text, text[-3000:]
    assert "Traceback" not in text, text[-4000:]
    assert _digest(data) == before
    assert list(scratch.iterdir()) == [], "the snapshot is removed when the service stops"


def test_ingest_on_a_read_only_data_folder_is_one_clear_line(
    indexed: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    data, _, env = indexed
    before = _digest(data)
    command = read_only_command(data, [sys.executable, "-m", "assistant.cli", "ingest"])
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Syncs are disabled" in errors[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "snapshot" not in done.stderr  # refused before the index is copied to one
    assert _digest(data) == before
