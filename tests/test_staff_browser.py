"""The staff loop in a real browser: Debian's Chromium driven by Playwright against a live
uvicorn on 127.0.0.1 serving the real app over the real index of the sample site, with a real
SMTP server (aiosmtpd) on 127.0.0.1 as the district's inbox.

The widget's options, "ask the district", "forget this conversation", curated answers shown to
visitors; the staff console in Italian and English with curated answers, enquiries and what
visitors ask; no cookies; axe on both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_widget_browser
from api_support import ADMIN_KEY, LiveServer, api_settings, create_curated
from sqlalchemy import select
from support.enquiries import INBOX, smtp_settings
from test_widget_browser import (
    AXE,
    BROWSER_TESTS,
    ask,
    axe_violations,
    open_widget,
    record_dialogs,
)

from api import create_app

DECLINED = "Who won the football world cup in 1998?"
QUESTION = "How tall is the red wall you see from the motorway?"
STAFF = "Giulia Rossi"

pytestmark = BROWSER_TESTS


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smtp() -> Iterator[Any]:
    """The district's inbox: aiosmtpd on 127.0.0.1 (stopped and started again by tests)."""
    from support.smtp import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


# The Chromium and the other origin of the widget's tests (module-scoped: one each per module).
browser = test_widget_browser.browser
host_site = test_widget_browser.host_site


def _serve(sample_index: Any, tmp: Path, **overrides: Any) -> Iterator[Any]:
    settings = api_settings(sample_index, tmp, admin_api_key=ADMIN_KEY, **overrides)
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server:
        server.app = app
        yield server


@pytest.fixture(scope="module")
def service(
    sample_index: Any,
    smtp: Any,
    host_site: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    yield from _serve(
        sample_index,
        tmp_path_factory.mktemp("staff-browser"),
        cors_origins=[host_site["origin"]],
        **smtp_settings(smtp.port, enquiry_rate_limit="1000/hour"),
    )


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page


def admin_client(service: Any) -> httpx.Client:
    return service.client(headers={"X-Admin-Key": ADMIN_KEY, "X-Staff-Name": "other-editor"})


def unlock_console(page: Any, service: Any, name: str = STAFF) -> None:
    page.goto(service.url + "/staff")
    page.fill("#admin-key", ADMIN_KEY)
    page.fill("#staff-name", name)
    page.click("#key-form button[type=submit]")
    page.locator("#admin-area").wait_for(state="visible")


# --- the console's languages ---------------------------------------------------------------
def test_the_console_follows_the_browser_language_and_has_a_switch(
    browser: Any, service: Any
) -> None:
    context = browser.new_context(locale="it-IT")
    page = context.new_page()
    try:
        page.goto(service.url + "/staff")
        assert page.evaluate("document.documentElement.lang") == "it"
        assert page.locator("h1").inner_text() == "Console del personale"
        assert page.get_by_role("button", name="Cerca", exact=True).is_visible()
        assert page.get_by_label("Chiave di amministrazione").is_visible()
        assert page.title() == "Assistente Kilometro Rosso: console del personale"

        unlock_console(page, service)
        page.get_by_text("Chiave di amministrazione accettata.").wait_for()
        page.click("#gaps-load")
        page.get_by_text("Rapporto delle lacune caricato").wait_for()
        assert page.locator("#stats dt").first.inner_text() == "Frammenti"
        assert page.get_by_role("link", name="Elenco dei partner").is_visible()

        switch = page.get_by_role("button", name="English")
        assert switch.get_attribute("aria-pressed") == "false"
        switch.click()
        assert switch.get_attribute("aria-pressed") == "true"
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1").inner_text() == "Staff console"
        # What was already on screen is said again in the new language.
        assert page.locator("#admin-status").inner_text().startswith("Gaps report loaded")
        assert page.locator("#stats dt").first.inner_text() == "Chunks"
        assert page.locator("#curated-title").inner_text() == "Curated answers"

        page.reload()
        assert page.locator("h1").inner_text() == "Staff console", "the choice is kept"
        page.get_by_role("button", name="Italiano").click()
        assert page.locator("#enquiries-title").inner_text() == "Richieste"
    finally:
        context.close()


# --- the widget's options and privacy -------------------------------------------------------
def test_widget_options_come_from_data_attributes(
    page: Any, service: Any, host_site: dict[str, Any]
) -> None:
    (host_site["root"] / "options.html").write_text(
        f"""<!doctype html>
<html lang="it"><head><meta charset="utf-8"><title>Opzioni</title></head>
<body><h1>Una pagina</h1>
<script src="{service.url}/widget.js" data-lang="en" data-position="bottom-left"
  data-greeting="Hello &lt;b&gt;visitor&lt;/b&gt;! Ask me about the campus."
  data-starters="{QUESTION}|Where is Kilometro Rosso?"></script>
</body></html>""",
        encoding="utf-8",
    )
    page.goto(host_site["origin"] + "/options.html")
    widget = open_widget(page)
    launcher = page.locator("kmr-chat button.launcher").bounding_box()
    viewport = page.viewport_size
    assert launcher["x"] < viewport["width"] / 2, "bottom-left"
    panel = widget.locator("section.panel").bounding_box()
    assert panel["x"] < viewport["width"] / 2
    assert widget.locator(".intro").inner_text() == "Hello <b>visitor</b>! Ask me about the campus."
    assert widget.locator(".intro b").count() == 0, "the greeting is text"
    assert widget.locator("button.send").inner_text() == "Send", "data-lang=en on an Italian page"
    assert widget.locator(".powered").inner_text() == "Answers come from the district's own pages."
    starters = widget.locator("button.starter")
    assert starters.all_inner_texts() == [QUESTION, "Where is Kilometro Rosso?"]

    starters.first.click()
    answer = widget.locator(".msg.bot").last
    answer.locator(".rate, .error").first.wait_for(timeout=60_000)
    assert "10" in answer.locator(".body").inner_text()
    assert widget.locator("button.starter").count() == 0, "starters go once the chat starts"

    (host_site["root"] / "plain.html").write_text(
        f"""<!doctype html><html lang="it"><head><meta charset="utf-8"><title>x</title></head>
<body><script src="{service.url}/widget.js" data-powered-by="off"></script></body></html>""",
        encoding="utf-8",
    )
    page.goto(host_site["origin"] + "/plain.html")
    widget = open_widget(page)
    assert widget.locator(".powered").count() == 0
    assert widget.locator("button.ask-district").inner_text() == "Chiedi al distretto"
    launcher = page.locator("kmr-chat button.launcher").bounding_box()
    assert launcher["x"] > page.viewport_size["width"] / 2, "bottom-right by default"
    assert page.errors == []


def test_the_widget_sets_no_cookies_and_keeps_the_chat_in_session_storage_only(
    context: Any, page: Any, service: Any, host_site: dict[str, Any]
) -> None:
    (host_site["root"] / "cookies.html").write_text(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>c</title></head>
<body><script src="{service.url}/widget.js"></script></body></html>""",
        encoding="utf-8",
    )
    for url in (service.url + "/", host_site["origin"] + "/cookies.html"):
        page.goto(url)
        widget = open_widget(page)
        answer = ask(widget, QUESTION)
        answer.get_by_role("button", name="Helpful answer", exact=True).click()
        answer.get_by_text("Thanks for your feedback.").wait_for()
        assert page.evaluate("document.cookie") == ""
        assert page.evaluate("localStorage.length") == 0
        keys = page.evaluate("Object.keys(sessionStorage)")
        assert keys == [f"kmr-chat:v1:{service.url}"]
    assert context.cookies() == []
    assert page.errors == []


# --- "ask the district" ----------------------------------------------------------------------
def open_handoff_after_a_declined_question(page: Any, url: str) -> Any:
    page.goto(url)
    widget = open_widget(page)
    answer = ask(widget, DECLINED)
    offer = answer.get_by_role("button", name="Ask the district")
    assert offer.is_visible(), "a declined question offers a person"
    offer.click()
    assert widget.locator("form.handoff").is_visible()
    assert widget.locator("#kmr-email").evaluate("e => e.getRootNode().activeElement === e")
    return widget


def test_a_declined_question_goes_to_the_district_by_email_only_when_the_visitor_sends_it(
    page: Any, service: Any, smtp: Any
) -> None:
    before = len(smtp.inbox.received)
    widget = open_handoff_after_a_declined_question(page, service.url + "/")
    result = widget.locator(".handoff .result")

    widget.locator("#kmr-email").fill("visitor@example")  # the browser accepts it; the API not
    widget.locator("#kmr-message").fill("Please tell me who won.")
    widget.locator("#kmr-consent").check()
    widget.get_by_role("button", name="Send to the district").click()
    widget.get_by_text("Please check your e-mail address.").wait_for()
    assert "error" in result.get_attribute("class")

    widget.locator("#kmr-email").fill("visitor@example.org")
    widget.locator("#kmr-consent").uncheck()
    widget.get_by_role("button", name="Send to the district").click()
    assert result.inner_text() == "Please tick the box to agree, or go back to the chat."
    assert len(smtp.inbox.received) == before, "nothing is sent without consent"

    widget.locator("#kmr-consent").check()
    widget.get_by_role("button", name="Send to the district").click()
    widget.get_by_text("Your enquiry has been sent to the district").wait_for()
    [(recipients, mail)] = smtp.inbox.received[before:]
    assert recipients == [INBOX]
    assert mail["Reply-To"] == "visitor@example.org"
    body = mail.get_content()
    assert DECLINED in body and "Please tell me who won." in body
    assert service.url + "/" in body, "the page the visitor was on"

    widget.get_by_role("button", name="Back to the chat").click()
    assert widget.locator(".log").is_visible() and widget.locator("form.handoff").is_hidden()
    assert page.errors == []

    # The enquiry is open in the console; staff answer it and turn the reply into a draft.
    unlock_console(page, service)
    page.click("#enquiries-load")
    card = page.locator("article.enquiry", has_text="visitor@example.org").first
    card.wait_for()
    card.locator("summary").click()
    assert DECLINED in card.locator("details").inner_text()
    card.get_by_label("Reply sent to the visitor").fill("France won the 1998 world cup.")
    card.get_by_role("button", name="Mark answered").click()
    page.get_by_text("Enquiry marked answered.").wait_for()
    page.select_option("#enquiry-filter", "answered")
    page.click("#enquiries-load")
    card = page.locator("article.enquiry", has_text="visitor@example.org").first
    card.get_by_role("button", name="Turn the reply into a curated answer").click()
    page.locator("#curated-form").wait_for(state="visible")
    assert page.input_value("#cur-answer-en") == "France won the 1998 world cup."
    assert page.input_value("#cur-questions").strip() == "Please tell me who won."
    assert not page.is_checked("#cur-enabled"), "a draft is not given to visitors until enabled"
    assert page.errors == []


def test_the_mail_server_down_keeps_the_enquiry_and_staff_retry(
    page: Any, service: Any, smtp: Any
) -> None:
    smtp.stop()
    try:
        widget = open_handoff_after_a_declined_question(page, service.url + "/")
        widget.locator("#kmr-email").fill("later@example.org")
        widget.locator("#kmr-consent").check()
        widget.get_by_role("button", name="Send to the district").click()
        widget.get_by_text("Your enquiry is kept").wait_for(timeout=30_000)
    finally:
        smtp.start()
    before = len(smtp.inbox.received)
    unlock_console(page, service)
    page.click("#enquiries-load")
    card = page.locator("article.enquiry", has_text="later@example.org").first
    card.wait_for()
    assert "e-mail not sent (1 attempt(s))" in card.inner_text()
    card.get_by_role("button", name="Retry sending").click()
    page.get_by_text("The enquiry has been sent.").wait_for(timeout=30_000)
    [(recipients, mail)] = smtp.inbox.received[before:]
    assert mail["Reply-To"] == "later@example.org"
    card = page.locator("article.enquiry", has_text="later@example.org").first
    assert "e-mail sent" in card.inner_text()
    card.get_by_role("button", name="Delete").click()
    card.get_by_role("button", name="Press again to delete for good").click()
    page.get_by_text("Enquiry deleted").wait_for()
    assert page.locator("article.enquiry", has_text="later@example.org").count() == 0
    assert page.errors == []


@pytest.fixture(scope="module")
def strict_service(
    sample_index: Any, smtp: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One enquiry per client per hour."""
    yield from _serve(
        sample_index,
        tmp_path_factory.mktemp("staff-strict"),
        **smtp_settings(smtp.port, enquiry_rate_limit="1/hour"),
    )


@pytest.fixture(scope="module")
def no_smtp_service(sample_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from _serve(sample_index, tmp_path_factory.mktemp("staff-no-smtp"), smtp_host=None)


def send_from_toolbar(page: Any, url: str, email: str, message: str) -> Any:
    page.goto(url)
    widget = open_widget(page)
    widget.get_by_role("button", name="Ask the district").first.click()
    widget.locator("#kmr-email").fill(email)
    widget.locator("#kmr-message").fill(message)
    widget.locator("#kmr-consent").check()
    widget.get_by_role("button", name="Send to the district").click()
    return widget


def test_rate_limited_and_unconfigured_enquiries_say_so(
    page: Any, strict_service: Any, no_smtp_service: Any, smtp: Any
) -> None:
    widget = send_from_toolbar(page, strict_service.url + "/", "one@example.org", "First one.")
    widget.get_by_text("Your enquiry has been sent").wait_for()
    page.evaluate("sessionStorage.clear()")
    widget = send_from_toolbar(page, strict_service.url + "/", "two@example.org", "Second one.")
    widget.get_by_text("Too many enquiries from this connection").wait_for()

    widget = send_from_toolbar(page, no_smtp_service.url + "/", "three@example.org", "Third.")
    widget.get_by_text("Enquiries cannot be sent from this site at the moment.").wait_for()
    assert not any(m["Reply-To"] == "three@example.org" for _, m in smtp.inbox.received)


# --- "forget this conversation" --------------------------------------------------------------
def test_forgetting_a_conversation_deletes_it_from_the_database_and_the_page(
    page: Any, service: Any
) -> None:
    from assistant.records_tables import Feedback, Message

    page.goto(service.url + "/")
    widget = open_widget(page)
    first = ask(widget, QUESTION)
    first.get_by_role("button", name="Unhelpful answer", exact=True).click()
    first.get_by_text("Thanks for your feedback.").wait_for()
    ask(widget, "Dove si trova il Kilometro Rosso?")
    state = json.loads(
        page.evaluate("k => sessionStorage.getItem(k)", f"kmr-chat:v1:{service.url}")
    )
    ids = [m["messageId"] for m in state["messages"] if m.get("messageId")]
    assert len(ids) == 2
    db = service.app.state.services.db
    db.flush()
    with db.engine.connect() as connection:
        assert len(connection.execute(select(Message.id).where(Message.id.in_(ids))).all()) == 2

    widget.get_by_role("button", name="Forget this conversation").click()
    widget.get_by_text("The conversation was deleted").wait_for()
    assert widget.locator(".msg").count() == 0
    saved = json.loads(
        page.evaluate("k => sessionStorage.getItem(k)", f"kmr-chat:v1:{service.url}")
    )
    assert saved["messages"] == [] and saved["conversationId"] is None
    with db.engine.connect() as connection:
        assert connection.execute(select(Message.id).where(Message.id.in_(ids))).all() == []
        assert connection.execute(select(Feedback).where(Feedback.message_id.in_(ids))).all() == []
    page.reload()
    assert page.locator("kmr-chat .msg").count() == 0, "nothing comes back on the next page"
    assert page.errors == []


# --- curated answers: console to widget -------------------------------------------------------
CURATED_Q = "What is the phone number of the lost and found office?"
CURATED_Q_IT = "Qual è il numero di telefono dell'ufficio oggetti smarriti?"
CURATED_A = "<script>window.__pwned='curated'</script> Call the reception: 035 000 0000."


def test_a_curated_answer_written_in_the_console_is_given_in_the_widget_as_text(
    page: Any, service: Any
) -> None:
    dialogs = record_dialogs(page)
    unlock_console(page, service)
    page.click("#curated-new")
    assert page.evaluate("document.activeElement.id") == "cur-questions"
    page.fill("#cur-questions", CURATED_Q + "\n" + CURATED_Q_IT)
    page.fill("#cur-answer-en", CURATED_A)
    page.fill("#cur-links", "Reception | https://www.kilometrorosso.com/en/contacts")
    page.click("#curated-save")
    page.get_by_text("Curated answer #").wait_for()
    row = page.locator("#curated-list tr", has_text=CURATED_Q)
    assert "<script>" in row.inner_text()
    assert page.locator("#curated-list script").count() == 0

    page.goto(service.url + "/")
    widget = open_widget(page)
    answer = ask(widget, CURATED_Q)
    body = answer.locator(".body")
    today = datetime.now(UTC).date()
    label = f"Answer from the district, {today.day} {today:%B} {today.year}"
    assert body.locator(".curated").inner_text() == label
    assert CURATED_A in body.inner_text(), "the script is shown as text"
    assert widget.locator("script, img, iframe").count() == 0
    assert page.evaluate("window.__pwned") is None
    link = body.locator("ul.links a")
    assert link.get_attribute("href") == "https://www.kilometrorosso.com/en/contacts"
    assert link.get_attribute("rel") == "noopener noreferrer"
    # The curated label comes before the text, and the index's sources after it.
    order = body.evaluate(
        """b => [...b.querySelectorAll('.curated, .sources-title')].map(n => n.className)"""
    )
    assert order[0] == "curated"

    # Written only in English: an Italian question gets it with a note.
    answer = ask(widget, CURATED_Q_IT)
    assert CURATED_A in answer.locator(".body").inner_text()
    notice = answer.locator(".notice").inner_text()
    assert notice == "Questa risposta del distretto è disponibile solo in inglese."
    assert dialogs == [] and page.errors == []


def test_another_wording_is_offered_the_curated_answer_and_a_click_gives_it(
    page: Any, service: Any
) -> None:
    question = "Can visitors borrow a wheelchair at the reception?"
    offered_as = "<b>Is a wheelchair</b> available for visitors?"
    with admin_client(service) as client:
        create_curated(
            client, {"questions": [offered_as], "answer_en": "Yes, <i>ask</i> at the desk."}
        )
    page.goto(service.url + "/")
    widget = open_widget(page)
    answer = ask(widget, question)
    assert answer.locator(".curated").count() == 0  # not given unasked
    offers = answer.get_by_role("list", name="Did you mean (an answer from the district):")
    choice = offers.get_by_role("button", name=offered_as)  # markup shown as text
    assert widget.locator(".suggested b").count() == 0
    choice.focus()
    choice.press("Enter")  # keyboard-usable
    given = widget.locator(".msg.bot").nth(1)
    given.locator(".rate").wait_for(timeout=60_000)
    assert widget.locator(".msg.user").nth(1).inner_text().endswith(offered_as)
    assert "Yes, <i>ask</i> at the desk." in given.locator(".body").inner_text()
    assert given.locator(".curated").count() == 1 and given.locator(".suggested").count() == 0
    assert page.errors == []


def test_the_widget_showing_offers_has_no_accessibility_violations(
    axe_page: Any, service: Any
) -> None:
    with admin_client(service) as client:
        create_curated(
            client, {"questions": ["Are guide dogs allowed on campus?"], "answer_en": "Yes."}
        )
    axe_page.goto(service.url + "/")
    widget = open_widget(axe_page)
    answer = ask(widget, "Can blind visitors come with their guide dog?")
    answer.locator(".suggested button").first.wait_for()
    assert axe_violations(axe_page) == []


def test_two_staff_editing_the_same_answer_lose_neither_edit(page: Any, service: Any) -> None:
    with admin_client(service) as client:
        answer = create_curated(
            client, {"questions": ["When does the canteen open?"], "answer_en": "At noon."}
        )
    unlock_console(page, service)
    page.click("#curated-load")
    row = page.locator("#curated-list tr", has_text="When does the canteen open?")
    row.get_by_role("button", name="Edit").click()
    page.fill("#cur-answer-en", "At 12:00, Monday to Friday.")
    with admin_client(service) as client:  # meanwhile, someone else saves first
        other = client.put(
            f"/api/admin/curated/{answer['id']}",
            json={
                "questions": ["When does the canteen open?"],
                "answer_en": "At 11:30.",
                "version": answer["version"],
            },
        )
        assert other.status_code == 200, other.text
    page.click("#curated-save")
    conflict = page.locator("#curated-conflict")
    conflict.wait_for(state="visible")
    assert "At 11:30." in conflict.inner_text() and "other-editor" in conflict.inner_text()
    assert page.input_value("#cur-answer-en") == "At 12:00, Monday to Friday.", "mine is kept"
    page.click("#curated-save")
    page.get_by_text("saved (version 3)").wait_for()

    row = page.locator("#curated-list tr", has_text="When does the canteen open?")
    row.get_by_role("button", name="Disable").click()
    page.get_by_text(f"Curated answer #{answer['id']} is disabled.").wait_for()
    row = page.locator("#curated-list tr", has_text="When does the canteen open?")
    assert "Disabled" in row.inner_text()
    row.get_by_role("button", name="History").click()
    history = page.locator("#curated-history-list li")
    history.nth(3).wait_for()
    texts = history.all_inner_texts()
    assert "created by other-editor" in texts[0]
    assert "edited by other-editor" in texts[1] and "At 11:30." in texts[1]
    assert f"edited by {STAFF}" in texts[2] and "disabled by" in texts[3]

    with page.expect_download() as download:
        page.click("#curated-json")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert any(item["answer_en"] == "At 12:00, Monday to Friday." for item in exported)
    with page.expect_download() as download:
        page.click("#curated-csv")
    assert "When does the canteen open?" in Path(download.value.path()).read_text("utf-8")
    assert page.errors == []


def test_staff_write_a_curated_answer_from_the_gaps_report_and_from_what_visitors_ask(
    page: Any, service: Any
) -> None:
    with service.client() as client:
        refused = client.post("/api/chat", json={"question": "Is there a swimming pool?"})
        assert refused.json()["abstained"] is True
    unlock_console(page, service)
    page.click("#gaps-load")
    page.get_by_text("Gaps report loaded").wait_for()
    row = page.locator("#gaps tr", has_text="Is there a swimming pool?")
    row.get_by_role("button", name="Write a curated answer").click()
    assert "Is there a swimming pool?" in page.input_value("#cur-questions")
    assert page.evaluate("document.activeElement.id") == "cur-questions"
    page.click("#curated-cancel")

    page.fill("#q-days", "1")
    page.click("#questions-load")
    page.get_by_text("group(s) of questions").wait_for(timeout=60_000)
    row = page.locator("#questions tr", has_text="Is there a swimming pool?")
    assert row.count() == 1
    row.get_by_role("button", name="Write a curated answer").click()
    assert "Is there a swimming pool?" in page.input_value("#cur-questions")
    with page.expect_download() as download:
        page.click("#questions-csv")
    assert "Is there a swimming pool?" in Path(download.value.path()).read_text("utf-8")

    page.fill("#q", "red wall")
    page.click("#search-form button[type=submit]")
    page.locator("#results li").first.wait_for()
    page.locator("#results li").first.get_by_role("button", name="Write a curated answer").click()
    assert page.input_value("#cur-questions") == "red wall"
    assert "https://www.kilometrorosso.com/" in page.input_value("#cur-links")
    assert page.errors == []


# --- the partner directory -------------------------------------------------------------------
def test_the_partner_directory_lists_what_the_index_holds_and_shares_the_consoles_key(
    page: Any, service: Any
) -> None:
    from playwright.sync_api import expect

    with admin_client(service) as client:
        records = client.get("/api/admin/directory").json()["organisations"]
    assert records, "the sample site lists organisations"
    first = records[0]
    page.goto(service.url + "/staff/directory")
    page.fill("#admin-key", "wrong-key-wrong-key")
    page.click("#key-form button[type=submit]")
    status = page.locator("#status")
    expect(status).to_have_text(
        "Could not load the directory: A valid X-Admin-Key header is required."
    )

    page.fill("#admin-key", ADMIN_KEY)
    page.click("#key-form button[type=submit]")
    expect(status).to_have_text(f"{len(records)} of {len(records)} organisations shown.")
    rows = page.locator("#records tbody tr")
    expect(rows).to_have_count(len(records))
    name = rows.first.locator("th")
    expect(name).to_have_text(first["name"])
    if first["url"].startswith(("http://", "https://")):
        expect(name.locator("a")).to_have_attribute("href", first["url"])
    expect(rows.first.locator("td").nth(5).locator("li")).to_have_count(len(first["found_on"]))

    page.fill("#filter", first["name"])
    matching = [
        o
        for o in records
        if first["name"].lower()
        in " ".join([o["name"], o["description"], *o["sectors"], *o["buildings"]]).lower()
    ]
    expect(status).to_have_text(f"{len(matching)} of {len(records)} organisations shown.")
    expect(rows).to_have_count(len(matching))

    page.goto(service.url + "/staff")  # the key typed on the directory unlocks the console
    expect(page.locator("#admin-area")).to_be_visible()
    assert page.errors == []


# --- accessibility ---------------------------------------------------------------------------
@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: run `npm ci` in {AXE.parents[2]}")
    context = browser.new_context(bypass_csp=True, locale="it-IT")
    yield context.new_page()
    context.close()


def test_the_console_in_italian_with_every_view_open_has_no_accessibility_violations(
    axe_page: Any, service: Any
) -> None:
    page = axe_page
    with admin_client(service) as client:
        client.post("/api/chat", json={"question": QUESTION})
    unlock_console(page, service)
    page.click("#curated-load")
    page.select_option("#enquiry-filter", "")
    page.click("#enquiries-load")
    page.locator("#enquiries-status").get_by_text("richieste").wait_for()
    page.click("#questions-load")
    page.get_by_text("gruppi di domande").wait_for(timeout=60_000)
    page.click("#gaps-load")
    page.get_by_text("Rapporto delle lacune caricato").wait_for()
    page.click("#curated-new")
    assert axe_violations(page) == []


def test_the_widget_with_starters_and_the_handoff_form_has_no_accessibility_violations(
    axe_page: Any, service: Any
) -> None:
    page = axe_page
    page.goto(service.url + "/")
    widget = open_widget(page)
    ask(widget, DECLINED)
    assert axe_violations(page) == []
    assert widget.locator("button.starter").count() == 0
    widget.get_by_role("button", name="New conversation").click()
    assert widget.locator("button.starter").count() == 2, "the demo page's starters"
    assert axe_violations(page) == []
    widget.get_by_role("button", name="Ask the district").first.click()
    widget.locator("#kmr-email").fill("visitor@example")
    widget.locator("#kmr-message").fill("A question for a person.")
    widget.locator("#kmr-consent").check()
    widget.get_by_role("button", name="Send to the district").click()
    widget.get_by_text("Please check your e-mail address.").wait_for()
    assert axe_violations(page) == []
