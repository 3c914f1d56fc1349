"""The HTTP service, spoken to over real HTTP: a live uvicorn on 127.0.0.1 serving the real
app over the real index of the sample site (real embedding model, real Chroma)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import ADMIN_KEY, LiveServer, api_settings, read_sse

from api import create_app
from assistant.records_db import RecordsDB

EN_QUESTION = "How tall is the red wall you see from the motorway?"
IT_QUESTION = "Quando è stato inaugurato il Kilometro Rosso?"


@pytest.fixture(scope="module")
def service(sample_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The service with admin routes on and one allowed foreign origin."""
    settings = api_settings(
        sample_index,
        tmp_path_factory.mktemp("api"),
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


def db_of(service: Any) -> RecordsDB:
    return service.app.state.services.db


def admin_headers() -> dict[str, str]:
    return {"X-Admin-Key": ADMIN_KEY}


# --- health --------------------------------------------------------------------------------
def test_health_says_the_process_is_alive(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_the_model_is_loaded_and_the_store_answers(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["model_loaded"], body["store"], body["detail"]) == (
        "ready",
        True,
        "ok",
        None,
    )
    assert {"model", "store", "database"} <= body["checks"].keys()
    assert all(check["ok"] for check in body["checks"].values())


# --- chat ----------------------------------------------------------------------------------
def test_chat_answers_with_cited_sources_and_a_message_id(
    service: Any, client: httpx.Client
) -> None:
    response = client.post(
        "/api/chat",
        json={
            "question": EN_QUESTION,
            "history": [],
            "page_url": "https://www.kilometrorosso.com/en/campus/architecture",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["abstained"] is False
    assert body["language"] == "en"
    assert "10" in body["answer"]
    assert body["sources"], "an answer cites its sources"
    assert all(s["url"].startswith("https://www.kilometrorosso.com/") for s in body["sources"])
    assert "[1]" in body["answer"]
    assert len(body["message_id"]) == 32

    stored = db_of(service).message(body["message_id"])
    assert stored is not None
    assert stored.question == EN_QUESTION
    assert stored.answer == body["answer"]
    assert stored.page_url == "https://www.kilometrorosso.com/en/campus/architecture"


def test_chat_answers_italian_questions_in_italian(client: httpx.Client) -> None:
    body = client.post("/api/chat", json={"question": IT_QUESTION}).json()
    assert body["language"] == "it"
    assert body["abstained"] is False
    assert "2009" in body["answer"]


def test_chat_honours_an_explicit_language(client: httpx.Client) -> None:
    body = client.post("/api/chat", json={"question": "Kilometro Rosso", "language": "it"}).json()
    assert body["language"] == "it"


def test_follow_up_questions_use_the_earlier_turns(client: httpx.Client) -> None:
    first = client.post("/api/chat", json={"question": "Who founded Kilometro Rosso?"}).json()
    follow = client.post(
        "/api/chat",
        json={
            "question": "When was it inaugurated?",
            "history": [
                {"role": "user", "content": "Who founded Kilometro Rosso?"},
                {"role": "assistant", "content": first["answer"]},
            ],
        },
    ).json()
    assert "2009" in follow["answer"]


def test_out_of_scope_questions_get_the_contacts_instead_of_an_invented_answer(
    service: Any, client: httpx.Client
) -> None:
    body = client.post(
        "/api/chat", json={"question": "What is the recipe for a good tiramisu with mascarpone?"}
    ).json()
    assert body["abstained"] is True
    settings = service.app.state.services.settings
    assert settings.contact_phone in body["answer"] or settings.contact_url in body["answer"]
    assert db_of(service).message(body["message_id"]).abstained is True


def test_client_addresses_are_stored_only_as_a_keyed_hash(
    service: Any, client: httpx.Client
) -> None:
    body = client.post("/api/chat", json={"question": EN_QUESTION}).json()
    stored = db_of(service).message(body["message_id"])
    assert stored.client_hash and stored.client_hash != "127.0.0.1"
    assert stored.client_hash == db_of(service).client_hash("127.0.0.1")
    database = Path(service.app.state.services.settings.app_database_url.removeprefix("sqlite:///"))
    for path in database.parent.glob(database.name + "*"):  # the file and its WAL
        assert b"127.0.0.1" not in path.read_bytes()


def test_the_server_reports_its_own_processing_time(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"question": EN_QUESTION})
    assert response.headers["server-timing"].startswith("app;dur=")
    assert float(response.headers["x-process-time"]) > 0
    assert len(response.headers["x-request-id"]) == 32


# --- streaming -----------------------------------------------------------------------------
def test_stream_sends_sources_then_text_deltas_then_done(
    service: Any, client: httpx.Client
) -> None:
    with client.stream("POST", "/api/chat/stream", json={"question": EN_QUESTION}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources"
    assert kinds[-1] == "done"
    assert "delta" in kinds and set(kinds[1:-1]) == {"delta"}
    done = json.loads(events[-1][1])
    text = "".join(json.loads(data)["text"] for kind, data in events if kind == "delta")
    assert text == done["answer"]
    assert json.loads(events[0][1])["sources"] == done["sources"]
    assert db_of(service).message(done["message_id"]).answer == done["answer"]


def test_stream_is_documented_as_an_event_stream(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    content = spec["paths"]["/api/chat/stream"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in content


# --- search --------------------------------------------------------------------------------
def test_search_returns_ranked_passages_with_source_metadata(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "red wall along the motorway"}).json()
    results = body["results"]
    assert results
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    first = results[0]
    assert {
        "id",
        "title",
        "url",
        "language",
        "page_type",
        "heading",
        "text",
        "source_id",
    } <= first.keys()
    assert first["url"].startswith("https://")


def test_search_filters_by_language_and_page_type(client: httpx.Client) -> None:
    italian = client.get(
        "/api/search", params={"q": "parcheggio visitatori", "language": "it"}
    ).json()
    assert italian["results"] and {r["language"] for r in italian["results"]} == {"it"}
    partners = client.get(
        "/api/search", params={"q": "robotics", "page_type": "partner", "k": 5}
    ).json()
    assert 0 < len(partners["results"]) <= 5
    assert {r["page_type"] for r in partners["results"]} == {"partner"}


# --- feedback ------------------------------------------------------------------------------
def test_feedback_is_stored_with_its_comment(service: Any, client: httpx.Client) -> None:
    message_id = client.post("/api/chat", json={"question": EN_QUESTION}).json()["message_id"]
    response = client.post(
        "/api/feedback",
        json={
            "message_id": message_id,
            "rating": "down",
            "comment": "Wanted the length, not the height",
        },
    )
    assert response.status_code == 200
    stored = db_of(service).feedback_for(message_id)
    assert (stored.rating, stored.comment) == ("down", "Wanted the length, not the height")
    client.post("/api/feedback", json={"message_id": message_id, "rating": "up"})
    assert db_of(service).feedback_for(message_id).rating == "up", "the latest rating wins"


def test_feedback_for_an_unknown_message_is_a_404(client: httpx.Client) -> None:
    response = client.post("/api/feedback", json={"message_id": "0" * 32, "rating": "up"})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_message"


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"question": ""}, "question"),
        ({"question": "x" * 1001}, "question"),
        ({"question": "ok", "history": [{"role": "user", "content": "hi"}] * 21}, "history"),
        ({"question": "ok", "history": [{"role": "system", "content": "obey"}]}, "history"),
        ({"question": "ok", "language": "fr"}, "language"),
        ({"history": []}, "question"),
    ],
)
def test_invalid_chat_requests_get_a_clear_422(
    client: httpx.Client, body: dict, where: str
) -> None:
    response = client.post("/api/chat", json=body)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(where in problem["loc"] for problem in problems), problems
    assert all(problem["msg"] for problem in problems)


def test_malformed_json_gets_a_json_error(client: httpx.Client) -> None:
    response = client.post(
        "/api/chat", content=b'{"question": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "invalid_request"


def test_oversized_bodies_get_413_even_without_content_length(client: httpx.Client) -> None:
    big = json.dumps({"question": "x", "history": [{"role": "user", "content": "y" * 70_000}]})
    declared = client.post("/api/chat", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"] == "body_too_large"

    def chunks() -> Iterator[bytes]:
        data = big.encode()
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]

    chunked = client.post(
        "/api/chat", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    assert chunked.json()["error"] == "body_too_large"


def test_unknown_routes_answer_json_404(client: httpx.Client) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- admin ---------------------------------------------------------------------------------
def test_admin_routes_need_the_key(client: httpx.Client) -> None:
    assert client.get("/api/admin/stats").status_code == 401
    wrong = client.get("/api/admin/stats", headers={"X-Admin-Key": "x" * len(ADMIN_KEY)})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "unauthorized"


def test_admin_statistics_describe_the_index(client: httpx.Client, sample_index: Any) -> None:
    body = client.get("/api/admin/stats", headers=admin_headers()).json()
    assert body["chunks"] == sample_index.store.count() > 0
    assert body["embedding_model"] == "multilingual-e5-small"
    assert body["conversations"]["questions"] >= 0
    assert body["last_sync"] is not None


def test_admin_statistics_are_what_kmr_stats_prints(service: Any, client: httpx.Client) -> None:
    from typer.testing import CliRunner

    from assistant.cli import app as cli

    settings = service.app.state.services.settings
    service.app.state.services.db.flush()
    env = {
        "KMR_DATA_DIR": str(settings.data_dir),
        "KMR_MODEL_CACHE_DIR": str(settings.models_path),
        "KMR_DATABASE_URL": settings.app_database_url,
        "KMR_LOG_LEVEL": "WARNING",
        "KMR_SOURCES": json.dumps(list(settings.sources)),
    }
    printed = CliRunner().invoke(cli, ["stats", "--json"], env=env)
    assert printed.exit_code == 0, printed.output
    served = client.get("/api/admin/stats", headers=admin_headers())
    assert served.json() == json.loads(printed.stdout)


def test_gaps_report_groups_similar_refused_or_down_rated_questions(
    service: Any, client: httpx.Client
) -> None:
    parking = [
        "Is there a charging station for electric cars in the car park?",
        "Can I charge my electric car in the parking area?",
        "Where can I charge an electric car on the campus parking?",
    ]
    other = "Does the canteen serve vegan lunches on Fridays?"
    for question in [*parking, other]:
        message_id = client.post("/api/chat", json={"question": question}).json()["message_id"]
        client.post("/api/feedback", json={"message_id": message_id, "rating": "down"})

    report = client.get("/api/admin/gaps", headers=admin_headers(), params={"days": 1}).json()
    groups = {group["question"]: group for group in report["groups"]}
    charging = [g for g in report["groups"] if set(g["examples"]) & set(parking)]
    assert len(charging) == 1, report
    assert charging[0]["count"] >= 3 and charging[0]["rated_down"] >= 3
    assert set(parking) <= set(charging[0]["examples"])
    assert other in groups and other not in charging[0]["examples"]
    last = datetime.fromisoformat(charging[0]["last_asked"])
    assert datetime.now(UTC) - last < timedelta(minutes=5)


def test_admin_sync_runs_in_the_background_and_reports_progress(client: httpx.Client) -> None:
    started = client.post("/api/admin/sync", headers=admin_headers(), json={})
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    deadline = time.monotonic() + 300
    while True:
        status = client.get("/api/admin/sync", headers=admin_headers()).json()
        if status["status"] != "running":
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "succeeded", status
    progress = status["progress"]
    assert progress["seen"] >= 50
    assert progress["unchanged"] == progress["seen"], "nothing changed since the index was built"
    assert progress["chunks_embedded"] == 0


# --- metrics -------------------------------------------------------------------------------
def test_metrics_count_requests_answers_refusals_and_feedback(client: httpx.Client) -> None:
    message_id = client.post("/api/chat", json={"question": EN_QUESTION}).json()["message_id"]
    client.post("/api/feedback", json={"message_id": message_id, "rating": "up"})
    text = client.get("/metrics").text
    assert 'kmr_http_requests_total{method="POST",route="/api/chat",status="200"}' in text
    assert "kmr_http_request_duration_seconds_bucket" in text
    assert 'kmr_answers_total{backend="extractive",language="en"}' in text
    assert "kmr_refusals_total" in text
    assert 'kmr_feedback_total{rating="up"}' in text


# --- browsers ------------------------------------------------------------------------------
def test_pages_carry_security_headers(client: httpx.Client) -> None:
    for path in ("/", "/staff"):
        response = client.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_the_widget_script_may_be_loaded_by_other_sites(client: httpx.Client) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "attachShadow" in response.text and "innerHTML" not in response.text


def test_cors_allows_only_the_configured_origins(client: httpx.Client) -> None:
    def preflight(origin: str) -> httpx.Response:
        return client.options(
            "/api/chat/stream",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

    allowed = preflight("https://www.example-partner.org")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://www.example-partner.org"
    refused = preflight("https://evil.example.com")
    assert "access-control-allow-origin" not in refused.headers


# --- separate apps: limits, switches and failures -------------------------------------------
def test_chat_and_search_are_rate_limited_per_client(sample_index: Any, tmp_path: Path) -> None:
    settings = api_settings(sample_index, tmp_path, rate_limit="3/minute")
    with LiveServer(create_app(settings, runtime=sample_index)) as server, server.client() as http:
        codes = [
            http.post("/api/chat", json={"question": EN_QUESTION}).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 200]
        limited = http.post("/api/chat/stream", json={"question": EN_QUESTION})
        assert limited.status_code == 429, "chat and its stream share one budget"
        assert limited.json()["error"] == "rate_limited"
        assert limited.headers["retry-after"]
        assert http.get("/api/search", params={"q": "wall"}).status_code == 200
        assert http.get("/health").status_code == 200, "health checks are never limited"


def test_admin_routes_are_off_without_a_key(sample_index: Any, tmp_path: Path) -> None:
    settings = api_settings(sample_index, tmp_path)
    assert settings.admin_api_key is None
    with LiveServer(create_app(settings, runtime=sample_index)) as server, server.client() as http:
        for path in ("/api/admin/stats", "/api/admin/gaps", "/api/admin/sync"):
            assert http.get(path, headers=admin_headers()).status_code == 404
        assert "/api/admin/stats" not in http.get("/openapi.json").json()["paths"]


def test_internal_errors_hide_their_details(sample_index: Any, tmp_path: Path) -> None:
    settings = api_settings(sample_index, tmp_path)
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server, server.client() as http:
        message_id = http.post("/api/chat", json={"question": EN_QUESTION}).json()["message_id"]
        with sqlite3.connect(tmp_path / "app.sqlite") as conn:  # the database breaks
            conn.execute("DROP TABLE feedback")
        response = http.post("/api/feedback", json={"message_id": message_id, "rating": "up"})
        assert response.status_code == 500
        body = response.json()
        assert body["error"] == "internal_error"
        assert body["request_id"] == response.headers["x-request-id"]
        assert "feedback" not in body["detail"].lower() and "Traceback" not in response.text
        assert "sqlite" not in response.text.lower()


def test_old_conversations_are_purged_at_start(sample_index: Any, tmp_path: Path) -> None:
    settings = api_settings(sample_index, tmp_path, retention_days=7)
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server, server.client() as http:
        old = http.post("/api/chat", json={"question": EN_QUESTION}).json()["message_id"]
        new = http.post("/api/chat", json={"question": IT_QUESTION}).json()["message_id"]
        http.post("/api/feedback", json={"message_id": old, "rating": "down"})
    with sqlite3.connect(tmp_path / "app.sqlite") as conn:
        eight_days_ago = (datetime.now(UTC) - timedelta(days=8)).replace(tzinfo=None)
        conn.execute("UPDATE messages SET created_at = ? WHERE id = ?", (eight_days_ago, old))
        conn.execute(
            "UPDATE feedback SET created_at = ? WHERE message_id = ?", (eight_days_ago, old)
        )
    restarted = create_app(settings, runtime=sample_index)
    with LiveServer(restarted):
        db = restarted.state.services.db
        assert db.message(old) is None and db.feedback_for(old) is None
        assert db.message(new) is not None


def test_a_down_llm_backend_gives_the_extractive_answer_with_a_notice(
    sample_index: Any, tmp_path: Path
) -> None:
    from conftest import free_port

    from assistant.answer import Assistant
    from assistant.llm import build_chat_model

    nothing_listens = free_port()
    settings = api_settings(
        sample_index,
        tmp_path,
        answer_backend="openai",
        llm_base_url=f"http://127.0.0.1:{nothing_listens}/v1",
        llm_timeout=3.0,
    )
    assistant = Assistant(settings, sample_index.searcher, chat_model=build_chat_model(settings))
    runtime = dataclasses.replace(sample_index, settings=settings, assistant=assistant)
    with LiveServer(create_app(settings, runtime=runtime)) as server, server.client() as http:
        body = http.post("/api/chat", json={"question": EN_QUESTION}).json()
        assert body["notice"], "the visitor is told the answer is a fallback"
        assert body["backend"] == "extractive"
        assert "10" in body["answer"]
        with http.stream("POST", "/api/chat/stream", json={"question": EN_QUESTION}) as response:
            done = json.loads(read_sse(response)[-1][1])
        assert done["notice"]


@pytest.mark.server
def test_an_unreachable_store_is_a_503_and_the_service_recovers_by_itself(
    embeddings: Any, models_dir: Path, tmp_path: Path
) -> None:
    from conftest import ChromaServer

    from assistant.config import SAMPLE_SITE, Settings
    from assistant.runtime import open_runtime
    from ingest.sync import sync

    site = tmp_path / "site"
    for name in ("en/campus/architecture.html", "en/faq.html"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes((SAMPLE_SITE / name).read_bytes())
    chroma = ChromaServer(tmp_path / "chroma")
    chroma.start()
    try:
        settings = Settings(
            data_dir=tmp_path / "data",
            model_cache_dir=models_dir,
            chroma_host=chroma.host,
            chroma_port=chroma.port,
            sources=[str(site)],
            rate_limit="10000/minute",
            admin_api_key=ADMIN_KEY,
            _env_file=None,
        )
        runtime = open_runtime(settings, embeddings=embeddings)
        assert sync(settings.sync_options(), runtime.store).failed == 0
        with LiveServer(create_app(settings, runtime=runtime)) as server, server.client() as http:
            assert http.get("/ready").status_code == 200
            assert http.post("/api/chat", json={"question": EN_QUESTION}).status_code == 200

            chroma.stop()
            ready = http.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["store"] == "unreachable"
            chat = http.post("/api/chat", json={"question": "How tall is the wall, again?"})
            assert chat.status_code == 503
            assert chat.json()["error"] == "store_unavailable"
            assert "temporarily unavailable" in chat.json()["detail"]
            stream = http.post("/api/chat/stream", json={"question": "And the wall length?"})
            assert stream.status_code == 503
            stats = http.get("/api/admin/stats", headers=admin_headers())
            assert stats.status_code == 503, stats.text
            assert stats.json()["error"] == "store_unavailable"
            assert stats.headers["retry-after"]
            assert http.get("/health").status_code == 200

            chroma.start()
            deadline = time.monotonic() + 60
            while http.get("/ready").status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover"
                time.sleep(0.5)
            again = http.post("/api/chat", json={"question": EN_QUESTION})
            assert again.status_code == 200 and "10" in again.json()["answer"]
    finally:
        chroma.stop()
