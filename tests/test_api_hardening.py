"""Hostile and odd requests, and a service database that is locked or read-only: each test
reproduces a defect of the hardening issue over real HTTP (live uvicorn, real index)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import ADMIN_KEY, LiveServer, api_settings
from support.read_only import can_mount_read_only, mounted_read_only

from api import create_app

QUESTION = "How tall is the red wall you see from the motorway?"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def service(sample_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = api_settings(
        sample_index,
        tmp_path_factory.mktemp("hardening"),
        admin_api_key=ADMIN_KEY,
        cors_origins=["https://www.example-partner.org"],
    )
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server:
        server.app = app
        yield server


@pytest.fixture
def client(service: Any) -> Iterator[httpx.Client]:
    with service.client() as http:
        yield http


def post_json_text(client: httpx.Client, path: str, text: str) -> httpx.Response:
    """A body sent as written (json.dumps would refuse nothing, but we want the escapes)."""
    return client.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


# --- row 8: lone surrogates and history length ---------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        (
            "/api/chat",
            r'{"question":"and?","history":[{"role":"user","content":"x \udfff"}]}',
            "content",
        ),
        (
            "/api/chat/stream",
            r'{"question":"and?","history":[{"role":"user","content":"x \udfff"}]}',
            "content",
        ),
        ("/api/chat", r'{"question":"wall \ud800?"}', "question"),
        ("/api/chat", r'{"question":"wall?","page_url":"https://x.org/\udc00"}', "page_url"),
        (
            "/api/feedback",
            r'{"message_id":"' + "0" * 32 + r'","rating":"up","comment":"\udfff"}',
            "comment",
        ),
    ],
)
def test_a_lone_surrogate_in_any_string_is_a_clean_422(
    client: httpx.Client, path: str, body: str, where: str
) -> None:
    response = post_json_text(client, path, body)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(where in problem["loc"] for problem in problems), problems


def test_search_refuses_a_lone_surrogate_in_its_query(client: httpx.Client) -> None:
    response = client.get("/api/search?q=wall%ED%A0%80")  # invalid UTF-8 in the query string
    assert response.status_code in (200, 422), response.text  # replaced or refused, never 500


def test_history_turns_have_a_length_cap(service: Any, client: httpx.Client) -> None:
    cap = service.app.state.services.settings.max_turn_chars
    response = client.post(
        "/api/chat",
        json={"question": "and?", "history": [{"role": "user", "content": "y" * (cap + 1)}]},
    )
    assert response.status_code == 422
    assert ["body", "history", 0, "content"] in [p["loc"] for p in response.json()["detail"]]
    spec = client.get("/openapi.json").json()
    turn = spec["components"]["schemas"]["Turn"]["properties"]["content"]
    assert turn["maxLength"] == cap


# --- row 14: strict types, CORS refusals in JSON, HEAD ---------------------------------------
@pytest.mark.parametrize("body", [{"full": 0}, {"full": "true"}, {"full": 1}])
def test_sync_refuses_what_is_not_a_boolean(client: httpx.Client, body: dict) -> None:
    response = client.post("/api/admin/sync", json=body, headers={"X-Admin-Key": ADMIN_KEY})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "full"]
    status = client.get("/api/admin/sync", headers={"X-Admin-Key": ADMIN_KEY}).json()
    assert status["status"] == "idle", "a refused request starts nothing"


def test_chat_refuses_numbers_for_strings(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"question": 42})
    assert response.status_code == 422


def test_a_refused_cors_preflight_is_a_json_error(client: httpx.Client) -> None:
    response = client.options(
        "/api/chat",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "cors_rejected" and "origin" in body["detail"].lower()
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("path", ["/", "/staff", "/widget.js", "/health", "/ready"])
def test_head_works_where_get_does(client: httpx.Client, path: str) -> None:
    response = client.head(path)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers.get("content-length", "0")) >= 0


# --- row 5: the rate limit's client identity ----------------------------------------------
def test_x_forwarded_for_is_ignored_by_default(sample_index: Any, tmp_path: Path) -> None:
    settings = api_settings(sample_index, tmp_path, rate_limit="3/minute")
    with LiveServer(create_app(settings, runtime=sample_index)) as server, server.client() as http:
        codes = [
            http.get(
                "/api/search", params={"q": "wall"}, headers={"X-Forwarded-For": f"198.51.100.{i}"}
            ).status_code
            for i in range(6)
        ]
    assert codes == [200, 200, 200, 429, 429, 429], "a spoofed header must not buy a new budget"


def test_a_trusted_proxy_gives_each_visitor_a_budget(sample_index: Any, tmp_path: Path) -> None:
    settings = api_settings(
        sample_index, tmp_path, rate_limit="2/minute", trusted_proxies=["127.0.0.0/8"]
    )
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server, server.client() as http:

        def search(visitor: str) -> int:
            return http.get(
                "/api/search",
                params={"q": "wall"},
                headers={"X-Forwarded-For": f"{visitor}, 127.0.0.1"},
            ).status_code

        assert [search("203.0.113.5") for _ in range(3)] == [200, 200, 429]
        assert search("203.0.113.6") == 200, "another visitor behind the proxy has its own budget"
        message_id = http.post(
            "/api/chat", json={"question": QUESTION}, headers={"X-Forwarded-For": "203.0.113.9"}
        ).json()["message_id"]
        db = app.state.services.db
        assert db.message(message_id).client_hash == db.client_hash("203.0.113.9")


# --- row 9: a locked database ------------------------------------------------------------
def test_a_locked_database_answers_503_and_loses_no_answer(
    sample_index: Any, tmp_path: Path
) -> None:
    settings = api_settings(sample_index, tmp_path)
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server, server.client() as http:
        first = http.post("/api/chat", json={"question": QUESTION}).json()["message_id"]
        db = app.state.services.db
        assert db.flush()
        holder = sqlite3.connect(tmp_path / "app.sqlite", timeout=1, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            during = [
                http.post("/api/chat", json={"question": f"{QUESTION} ({i})"}) for i in range(3)
            ]
            assert [r.status_code for r in during] == [200, 200, 200], "answers go on"
            started = time.monotonic()
            rated = http.post("/api/feedback", json={"message_id": first, "rating": "up"})
            assert rated.status_code == 503, rated.text
            assert rated.json()["error"] == "database_busy"
            assert int(rated.headers["retry-after"]) > 0
            assert time.monotonic() - started < 10
        finally:
            holder.execute("COMMIT")
            holder.close()
        assert db.flush(timeout=30, wait_out_locks=True), (
            "the queued answers are written once the lock goes"
        )
        for response in during:
            stored = db.message(response.json()["message_id"])
            assert stored is not None and stored.answer == response.json()["answer"]
        again = http.post("/api/feedback", json={"message_id": first, "rating": "up"})
        assert again.status_code == 200


# --- row 10: statistics while Chroma is down are in tests/test_api.py (server test) ---------


# --- row 6: a read-only database folder ---------------------------------------------------
@pytest.mark.slow  # a whole process
@pytest.mark.skipif(
    not can_mount_read_only(),
    reason="needs `unshare -rm` (user namespaces) to mount the data directory read-only",
)
def test_the_service_starts_and_answers_when_its_database_folder_is_read_only(
    embeddings: Any, models_dir: Path, tmp_path: Path
) -> None:
    from conftest import free_port, wait_http

    from assistant.config import SAMPLE_SITE, Settings
    from assistant.records_db import RecordsDB
    from assistant.runtime import open_runtime
    from ingest.sync import sync

    site = tmp_path / "site"
    for name in ("en/campus/architecture.html", "en/faq.html"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes((SAMPLE_SITE / name).read_bytes())
    data, database = tmp_path / "data", tmp_path / "database"
    database.mkdir()
    url = f"sqlite:///{database / 'app.sqlite'}"
    settings = Settings(
        data_dir=data,
        model_cache_dir=models_dir,
        sources=[str(site)],
        database_url=url,
        _env_file=None,
    )
    runtime = open_runtime(settings, embeddings=embeddings)
    assert sync(settings.sync_options(), runtime.store).failed == 0
    RecordsDB(settings).close()  # the service ran once before: its database exists
    del runtime

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KMR_DATA_DIR": str(data),
        "KMR_MODEL_CACHE_DIR": str(models_dir),
        "KMR_SOURCES": json.dumps([str(site)]),
        "KMR_ADMIN_API_KEY": ADMIN_KEY,
        "KMR_LOG_LEVEL": "INFO",
        "KMR_DATABASE_URL": url,
    }
    serve = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1"]
    command = mounted_read_only(database, [*serve, "--port", str(port)])
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", timeout=180, process=process)
        with httpx.Client(base_url=base, timeout=60) as http:
            ready = http.get("/ready")
            assert ready.status_code == 200, ready.text
            body = ready.json()
            assert body["checks"]["database"]["ok"] is False
            assert "read-only" in body["detail"]
            chat = http.post("/api/chat", json={"question": QUESTION})
            assert chat.status_code == 200, chat.text
            assert "10" in chat.json()["answer"]
            rated = http.post(
                "/api/feedback", json={"message_id": chat.json()["message_id"], "rating": "up"}
            )
            assert rated.status_code == 503
            assert rated.json()["error"] == "database_read_only"
            stats = http.get("/api/admin/stats", headers={"X-Admin-Key": ADMIN_KEY})
            assert stats.status_code == 200, stats.text
            assert stats.json()["chunks"] > 0
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert "read-only" in text, text[-2000:]
    assert "Traceback" not in text, text[-4000:]
