"""The staff loop over real HTTP: a live uvicorn on 127.0.0.1 serving the real app over the
real index of the sample site, with a real SMTP server (aiosmtpd) on 127.0.0.1.

Curated answers written through the admin routes reach visitors (in either language) before
the index's answer; enquiries reach the inbox (or wait for a retry); a forgotten conversation
leaves the database; the reports and exports answer.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import ADMIN_KEY, LiveServer, api_settings, create_curated, read_sse
from support.enquiries import INBOX, enquiry, smtp_settings
from support.smtp import SmtpServer

from api import create_app

SCRIPT_ANSWER = (
    'Alberto Bombassei, founder of Brembo. <script>alert("x")</script><b>bold?</b> '
    '=HYPERLINK("http://evil.example")'
)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def service(
    sample_index: Any, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[Any]:
    """The service with admin routes and enquiries on (SMTP without TLS on 127.0.0.1)."""
    folder = tmp_path_factory.mktemp("api-staff")
    settings = api_settings(
        sample_index,
        folder,
        admin_api_key=ADMIN_KEY,
        **smtp_settings(smtp.port, enquiry_rate_limit="1000/hour"),
    )
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server:
        server.app = app
        server.database = folder / "app.sqlite"
        yield server


@pytest.fixture
def client(service: Any) -> Iterator[httpx.Client]:
    with service.client() as http:
        yield http


def staff(name: str = "Anna Rossi") -> dict[str, str]:
    return {"X-Admin-Key": ADMIN_KEY, "X-Staff-Name": name}


def create(client: httpx.Client, body: dict[str, Any], name: str = "Anna Rossi") -> dict:
    return create_curated(client, body, staff(name))


def rows(database: Path, sql: str, *params: Any) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql, params).fetchall()


# --- curated answers -------------------------------------------------------------------------
def test_a_curated_answer_is_offered_to_a_paraphrase_in_the_other_language_and_given_on_choice(
    client: httpx.Client,
) -> None:
    created = create(
        client,
        {
            "questions": ["Chi ha fondato il Kilometro Rosso?"],
            "answer_it": SCRIPT_ANSWER,
            "links": [{"title": "Storia", "url": "https://www.kilometrorosso.com/it/storia"}],
        },
    )
    assert created["version"] == 1 and created["created_by"] == "Anna Rossi"

    # Another wording is answered from the index, with the curated answer offered...
    asked = client.post("/api/chat", json={"question": "Who founded the Kilometro Rosso?"})
    assert asked.status_code == 200, asked.text
    offered = asked.json()
    assert offered["backend"] != "curated" and offered["curated"] is None
    assert {"answer_id": created["id"], "question": "Chi ha fondato il Kilometro Rosso?"} in (
        offered["suggestions"]
    )
    # ...and the visitor who chooses it gets it.
    response = client.post(
        "/api/chat",
        json={
            "question": "Chi ha fondato il Kilometro Rosso?",
            "curated_id": created["id"],
            "language": "en",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["backend"] == "curated" and body["abstained"] is False
    assert body["suggestions"] == []
    curated = body["curated"]
    assert curated["answer_id"] == created["id"]
    # Plain text, exactly as written: nothing interpreted, nothing rewritten.
    assert body["answer"] == curated["text"] == SCRIPT_ANSWER
    assert curated["language"] == "it" and curated["note"]  # only in Italian: said so
    assert curated["updated_at"] == date.today().isoformat()
    assert curated["links"] == [
        {"title": "Storia", "url": "https://www.kilometrorosso.com/it/storia"}
    ]
    assert body["sources"], "the index's sources follow the curated answer"
    assert len(body["message_id"]) == 32 and len(body["conversation_id"]) == 32


def test_the_stream_gives_the_curated_answer_too(client: httpx.Client) -> None:
    create(
        client,
        {
            "questions": ["Is there a canteen on the campus?", "C'è una mensa nel campus?"],
            "answer_en": "Yes: the campus restaurant is open on weekdays from 12:00 to 14:30.",
            "answer_it": "Sì: il ristorante del campus è aperto nei giorni feriali, 12-14.30.",
        },
    )
    with client.stream(
        "POST", "/api/chat/stream", json={"question": "c'è una mensa nel campus"}
    ) as response:
        assert response.status_code == 200
        events = read_sse(response)
    kinds = [name for name, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "done"
    done = json.loads(events[-1][1])
    assert done["backend"] == "curated" and done["curated"]["language"] == "it"
    assert done["answer"].startswith("Sì: il ristorante") and done["curated"]["note"] is None


def test_an_expired_or_disabled_curated_answer_is_not_given(client: httpx.Client) -> None:
    question = "Can I bring my dog to the district's offices?"
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    expired = create(
        client,
        {"questions": [question], "answer_en": "Dogs welcome.", "expires_on": yesterday},
    )
    body = client.post("/api/chat", json={"question": question}).json()
    assert body["backend"] != "curated" and body.get("curated") is None

    fresh = client.put(
        f"/api/admin/curated/{expired['id']}",
        json={"questions": [question], "answer_en": "Dogs welcome.", "version": 1},
        headers=staff(),
    ).json()
    assert client.post("/api/chat", json={"question": question}).json()["backend"] == "curated"

    disabled = client.post(
        f"/api/admin/curated/{expired['id']}/disable",
        json={"version": fresh["version"]},
        headers=staff("Marco"),
    )
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert client.post("/api/chat", json={"question": question}).json()["backend"] != "curated"


def test_two_edits_from_the_same_version_one_wins_the_other_gets_409_with_the_current(
    client: httpx.Client,
) -> None:
    created = create(client, {"questions": ["Where is the district?"], "answer_en": "In Bergamo."})
    url = f"/api/admin/curated/{created['id']}"

    def edit(name: str) -> httpx.Response:
        body = {
            "questions": ["Where is the district?"],
            "answer_en": f"In Bergamo, by the A4 ({name}).",
            "version": 1,
        }
        return client.put(url, json=body, headers=staff(name))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(edit, ["Giulia", "Paolo"]))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()
    conflict = next(r for r in results if r.status_code == 409).json()
    assert conflict["error"] == "version_conflict"
    assert conflict["current"] == winner and winner["version"] == 2

    history = client.get(f"{url}/history", headers=staff()).json()["history"]
    assert [(h["action"], h["actor"]) for h in history] == [
        ("create", "Anna Rossi"),
        ("update", winner["updated_by"]),
    ]


def test_curated_changes_need_the_admin_key_and_a_staff_name(client: httpx.Client) -> None:
    body = {"questions": ["Where is the district?"], "answer_en": "In Bergamo."}
    assert client.post("/api/admin/curated", json=body).status_code == 401
    no_name = client.post("/api/admin/curated", json=body, headers={"X-Admin-Key": ADMIN_KEY})
    assert no_name.status_code == 422
    bad_link = client.post(
        "/api/admin/curated",
        json={**body, "links": [{"title": "x", "url": "javascript:alert(1)"}]},
        headers=staff(),
    )
    assert bad_link.status_code == 422
    # A name in any script, percent-encoded as the console sends it.
    named = client.post(
        "/api/admin/curated", json=body, headers=staff("Niccol%C3%B2 %E6%9D%8E")
    ).json()
    assert named["created_by"] == "Niccolò 李"
    assert client.get("/api/admin/curated/999999", headers=staff()).status_code == 404


def test_a_wrong_method_is_answered_with_every_method_of_the_path(client: httpx.Client) -> None:
    # Starlette alone lists the first matching route's methods only (GET for this path).
    for _ in range(2):  # the second 405 uses the table built by the first
        templated = client.patch("/api/admin/curated/1", headers=staff())
        assert templated.status_code == 405 and templated.headers["allow"] == "GET, PUT"
    # A literal path wins over the template that also matches it ({enquiry_id}: GET, DELETE).
    literal = client.put("/api/admin/enquiries/retry-failed", headers=staff())
    assert literal.status_code == 405 and literal.headers["allow"] == "POST"


def test_curated_answers_export_as_csv_and_json(client: httpx.Client) -> None:
    create(client, {"questions": ["Who founded Brembo?"], "answer_en": SCRIPT_ANSWER})
    as_json = client.get("/api/admin/curated/export?format=json", headers=staff())
    assert as_json.status_code == 200
    assert "attachment" in as_json.headers["content-disposition"]
    exported = as_json.json()
    listed = client.get("/api/admin/curated", headers=staff()).json()["answers"]
    assert exported == listed and any(a["answer_en"] == SCRIPT_ANSWER for a in exported)

    as_csv = client.get("/api/admin/curated/export?format=csv", headers=staff())
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {int(row["id"]) for row in table} == {a["id"] for a in exported}
    # A cell a spreadsheet would run as a formula is neutralised.
    assert all(not row["answer_en"].startswith("=") for row in table)


def test_a_question_with_a_curated_answer_leaves_the_gaps_report(client: httpx.Client) -> None:
    question = "What is the recipe for a good tiramisu with mascarpone?"
    refused = client.post("/api/chat", json={"question": question}).json()
    assert refused["abstained"] is True

    def gaps() -> list[str]:
        report = client.get("/api/admin/gaps", headers=staff()).json()
        return [example for group in report["groups"] for example in group["examples"]]

    assert question in gaps()
    create(client, {"questions": [question], "answer_en": "Ask the restaurant on campus."})
    assert question not in gaps()
    assert client.post("/api/chat", json={"question": question}).json()["backend"] == "curated"


# --- enquiries -------------------------------------------------------------------------------
def test_an_enquiry_reaches_the_inbox_with_the_transcript_and_reply_to_the_visitor(
    client: httpx.Client, smtp: SmtpServer
) -> None:
    before = len(smtp.inbox.received)
    response = client.post("/api/enquiries", json=enquiry())
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["delivery"] == "sent" and "distretto" in receipt["message"]
    [(recipients, mail)] = smtp.inbox.received[before:]
    assert recipients == [INBOX] and mail["To"] == INBOX
    assert mail["Reply-To"] == "visitor@example.org"
    text = mail.get_content()
    assert "scolaresca" in text and "Non trovo questa informazione" in text
    assert "https://www.kilometrorosso.com/it/visita" in text and "Language: it" in text

    listed = client.get("/api/admin/enquiries?status=open", headers=staff()).json()
    assert receipt["id"] in [item["id"] for item in listed["enquiries"]]


def test_line_breaks_in_fields_cannot_add_headers_or_recipients(
    client: httpx.Client, smtp: SmtpServer
) -> None:
    injected = "visitor@example.org\r\nBcc: victim@example.net"
    refused = client.post("/api/enquiries", json=enquiry(email=injected))
    assert refused.status_code == 422

    before = len(smtp.inbox.received)
    sent = client.post(
        "/api/enquiries",
        json=enquiry(
            message="hello\r\nBcc: victim@example.net\r\nSubject: spoofed",
            transcript=[
                {"role": "user", "content": "Q?\r\nTo: victim@example.net\r\n\r\nbody"},
            ],
        ),
    )
    assert sent.status_code == 201, sent.text
    [(recipients, mail)] = smtp.inbox.received[before:]
    assert recipients == [INBOX]
    assert mail.get_all("Bcc") is None and mail.get_all("To") == [INBOX]
    assert (
        len(mail.get_all("Subject") or []) == 1 and "spoofed" not in mail["Subject"].split(":")[0]
    )
    assert "\n" not in mail["Subject"]


def test_nothing_is_sent_or_stored_without_consent(
    service: Any, client: httpx.Client, smtp: SmtpServer
) -> None:
    before = len(smtp.inbox.received)
    stored = len(rows(service.database, "SELECT id FROM enquiries"))
    response = client.post("/api/enquiries", json=enquiry(consent=False))
    assert response.status_code == 422 and "consent" in response.json()["detail"]
    assert len(smtp.inbox.received) == before
    assert len(rows(service.database, "SELECT id FROM enquiries")) == stored


def test_smtp_down_keeps_the_enquiry_tells_the_visitor_and_a_retry_sends_it(
    client: httpx.Client, smtp: SmtpServer
) -> None:
    smtp.stop()
    try:
        response = client.post("/api/enquiries", json=enquiry(language="en"))
    finally:
        smtp.start()
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["delivery"] == "failed"
    assert "saved" in receipt["message"] and "mail server" in receipt["message"]

    kept = client.get(f"/api/admin/enquiries/{receipt['id']}", headers=staff()).json()
    assert kept["delivery"] == "failed" and kept["status"] == "open" and kept["last_error"]

    before = len(smtp.inbox.received)
    retried = client.post(f"/api/admin/enquiries/{receipt['id']}/retry", headers=staff())
    assert retried.status_code == 200 and retried.json()["delivery"] == "sent"
    assert retried.json()["attempts"] == 2
    [(_, mail)] = smtp.inbox.received[before:]
    assert mail["X-Enquiry-Id"] == receipt["id"]


def test_smtp_refusing_keeps_the_enquiry_too(client: httpx.Client, smtp: SmtpServer) -> None:
    smtp.inbox.refuse = True
    try:
        response = client.post("/api/enquiries", json=enquiry())
    finally:
        smtp.inbox.refuse = False
    assert response.status_code == 202 and response.json()["delivery"] == "failed"
    counts = client.post("/api/admin/enquiries/retry-failed", headers=staff()).json()
    assert counts["sent"] >= 1 and counts["failed"] == 0


def test_staff_answer_an_enquiry_then_draft_a_curated_answer_and_delete_it(
    service: Any, client: httpx.Client
) -> None:
    sent = client.post("/api/enquiries", json=enquiry()).json()
    url = f"/api/admin/enquiries/{sent['id']}"
    answered = client.post(
        f"{url}/answered",
        json={"reply": "Sì, prenotando con due settimane di anticipo."},
        headers=staff("Lucia"),
    ).json()
    assert answered["status"] == "answered" and answered["answered_by"] == "Lucia"
    draft = client.get(f"{url}/curated-draft", headers=staff()).json()
    assert draft["enabled"] is False and draft["answer_it"].startswith("Sì, prenotando")
    saved = create(client, draft)
    assert saved["enabled"] is False

    assert client.delete(url, headers=staff()).json() == {"deleted": True}
    assert rows(service.database, "SELECT email FROM enquiries WHERE id = ?", sent["id"]) == []
    assert client.delete(url, headers=staff()).status_code == 404


def test_enquiries_without_smtp_say_so_clearly_and_are_rate_limited(
    sample_index: Any, tmp_path: Path
) -> None:
    settings = api_settings(sample_index, tmp_path, enquiry_rate_limit="2/hour")
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server, server.client() as http:
        first = http.post("/api/enquiries", json=enquiry())
        assert first.status_code == 503
        assert first.json()["error"] == "enquiries_unavailable"
        assert settings.contact_phone in first.json()["detail"]
        assert http.post("/api/enquiries", json=enquiry()).status_code == 503
        limited = http.post("/api/enquiries", json=enquiry())
        assert limited.status_code == 429 and "Retry-After" in limited.headers


# --- privacy ---------------------------------------------------------------------------------
def test_forgetting_a_conversation_deletes_its_rows_from_the_database(
    service: Any, client: httpx.Client
) -> None:
    first = client.post("/api/chat", json={"question": "Who founded Brembo's district?"}).json()
    conversation = first["conversation_id"]
    second = client.post(
        "/api/chat",
        json={"question": "Quando è stato inaugurato?", "conversation_id": conversation},
    ).json()
    assert second["conversation_id"] == conversation
    other = client.post("/api/chat", json={"question": "Where can visitors park?"}).json()
    assert client.post(
        "/api/feedback", json={"message_id": second["message_id"], "rating": "down"}
    ).is_success

    ids = (first["message_id"], second["message_id"])
    database = service.database
    assert (
        len(rows(database, "SELECT id FROM messages WHERE conversation_id = ?", conversation)) == 2
    )

    forgotten = client.request(
        "DELETE", "/api/conversation", json={"conversation_id": conversation}
    )
    assert forgotten.status_code == 200 and forgotten.json() == {"deleted": 2}
    assert rows(database, "SELECT id FROM messages WHERE id IN (?, ?)", *ids) == []
    assert rows(database, "SELECT id FROM feedback WHERE message_id = ?", ids[1]) == []
    assert rows(database, "SELECT id FROM messages WHERE id = ?", other["message_id"])

    by_ids = client.request(
        "DELETE", "/api/conversation", json={"message_ids": [other["message_id"]]}
    )
    assert by_ids.json() == {"deleted": 1}
    assert rows(database, "SELECT id FROM messages WHERE id = ?", other["message_id"]) == []
    again = client.request("DELETE", "/api/conversation", json={"conversation_id": conversation})
    assert again.json() == {"deleted": 0}
    bad = client.request("DELETE", "/api/conversation", json={"message_ids": ["not-an-id"]})
    assert bad.status_code == 422


def test_a_widget_on_another_site_may_send_the_delete(sample_index: Any, tmp_path: Path) -> None:
    origin = "https://www.example-partner.org"
    settings = api_settings(sample_index, tmp_path, cors_origins=[origin])
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server, server.client() as http:
        preflight = http.options(
            "/api/conversation",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "Content-Type",
            },
        )
    assert preflight.status_code == 200
    assert "DELETE" in preflight.headers["access-control-allow-methods"]


# --- what visitors ask -----------------------------------------------------------------------
def test_the_most_asked_questions_grouped_by_meaning_as_json_and_csv(
    client: httpx.Client,
) -> None:
    for question in (
        "Where can visitors park?",
        "Where can visitors park?",
        "Where can visitors park?",
        "Where can visitors park their car?",
        "Quando è stato inaugurato il Kilometro Rosso?",
    ):
        assert client.post("/api/chat", json={"question": question}).is_success
    report = client.get("/api/admin/questions?days=1", headers=staff()).json()
    assert report["days"] == 1
    top = report["groups"][0]
    assert top["question"] == "Where can visitors park?" and top["count"] >= 3
    assert 0 <= top["answer_rate"] <= 1 and top["languages"].get("en", 0) >= 3

    italian = client.get("/api/admin/questions?days=1&language=it", headers=staff()).json()
    assert all(set(g["languages"]) == {"it"} for g in italian["groups"])

    as_csv = client.get("/api/admin/questions?days=1&format=csv", headers=staff())
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert table[0]["question"] == "Where can visitors park?"
