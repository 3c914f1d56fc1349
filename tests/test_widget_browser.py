"""The widget and the pages in a real browser: Debian's Chromium driven by Playwright against
a live uvicorn on 127.0.0.1 serving the real app over the real index of the sample site."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import ADMIN_KEY, LiveServer, api_settings

from api import create_app

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "How tall is the red wall you see from the motorway?"

# The marks of every browser test (here, the staff console's, its keyboard tests).
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at "
        "/usr/bin/chromium (apt-get install chromium); CI installs it",
    ),
]
pytestmark = BROWSER_TESTS


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def host_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Another origin (another port) whose Italian page embeds the widget, with hostile CSS."""
    root = tmp_path_factory.mktemp("host-site")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        functools.partial(_QuietHandler, directory=str(root)),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"root": root, "origin": f"http://127.0.0.1:{server.server_address[1]}"}
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def service(
    sample_index: Any, host_site: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    settings = api_settings(
        sample_index,
        tmp_path_factory.mktemp("browser-api"),
        admin_api_key=ADMIN_KEY,
        cors_origins=[host_site["origin"]],
    )
    app = create_app(settings, runtime=sample_index)
    with LiveServer(app) as server:
        server.app = app
        yield server


def new_page(browser: Any, **context: Any) -> Iterator[Any]:
    """A page in its own browser context, its script errors collected in ``page.errors``."""
    context_ = browser.new_context(**context)
    page = context_.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    context_.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from new_page(browser)


def open_widget(page: Any) -> Any:
    launcher = page.locator("kmr-chat").locator("button.launcher")
    launcher.click()
    return page.locator("kmr-chat")


def ask(widget: Any, question: str) -> Any:
    """Type a question, send it with Enter, and wait for the finished answer."""
    widget.locator("textarea#kmr-question").fill(question)
    widget.locator("textarea#kmr-question").press("Enter")
    answer = widget.locator(".msg.bot").last
    answer.locator(".rate, .error").first.wait_for(timeout=60_000)
    return answer


def record_dialogs(page: Any) -> list[str]:
    """Dismiss every alert, confirm or prompt the page opens; the list keeps their messages."""
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def saved_state(page: Any, service: Any) -> dict[str, Any]:
    raw = page.evaluate("key => sessionStorage.getItem(key)", f"kmr-chat:v1:{service.url}")
    return json.loads(raw)


# --- the demo page -------------------------------------------------------------------------
def test_a_visitor_asks_sees_a_streamed_cited_answer_and_rates_it(page: Any, service: Any) -> None:
    streams: list[str] = []
    page.on(
        "response",
        lambda r: (
            streams.append(r.headers.get("content-type", ""))
            if r.url.endswith("/api/chat/stream")
            else None
        ),
    )
    page.goto(service.url + "/")
    widget = open_widget(page)
    assert widget.locator("section.panel").is_visible()
    answer = ask(widget, QUESTION)

    assert streams and streams[0].startswith("text/event-stream")
    assert "10" in answer.locator(".body").inner_text()
    citation = answer.locator("a.cite").first
    href = citation.get_attribute("href")
    assert href.startswith("https://www.kilometrorosso.com/")
    assert citation.get_attribute("rel") == "noopener noreferrer"
    sources = answer.locator("ol.sources a")
    assert sources.count() >= 1 and sources.first.inner_text().strip()

    answer.get_by_role("button", name="Helpful answer", exact=True).click()
    answer.get_by_text("Thanks for your feedback.").wait_for()
    assert (
        answer.get_by_role("button", name="Helpful answer", exact=True).get_attribute(
            "aria-pressed"
        )
        == "true"
    )
    message_id = saved_state(page, service)["messages"][-1]["messageId"]
    stored = service.app.state.services.db.feedback_for(message_id)
    assert stored is not None and stored.rating == "up"
    assert page.errors == []


def test_the_conversation_survives_navigation_until_a_new_one_is_started(
    page: Any, service: Any
) -> None:
    page.goto(service.url + "/")
    widget = open_widget(page)
    first = ask(widget, QUESTION).locator(".body").inner_text()

    page.goto(service.url + "/?another-page")
    widget = page.locator("kmr-chat")
    assert widget.locator("section.panel").is_visible(), "the open chat stays open"
    assert widget.locator(".msg.user").first.inner_text().endswith(QUESTION)
    assert widget.locator(".msg.bot .body").first.inner_text() == first

    widget.get_by_role("button", name="New conversation").click()
    assert widget.locator(".msg").count() == 0
    assert saved_state(page, service)["messages"] == []


def test_the_widget_works_from_the_keyboard(page: Any, service: Any) -> None:
    page.goto(service.url + "/")
    launcher = page.locator("kmr-chat button.launcher")
    for _ in range(12):  # tab past the page's links to the launcher
        page.keyboard.press("Tab")
        if launcher.evaluate("b => b.getRootNode().activeElement === b"):
            break
    assert launcher.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    textarea = page.locator("kmr-chat textarea#kmr-question")
    assert textarea.evaluate("t => t.getRootNode().activeElement === t")
    page.keyboard.type("Dove si trova il Kilometro Rosso?")
    page.keyboard.press("Enter")
    page.locator("kmr-chat .msg.bot .rate").wait_for(timeout=60_000)
    page.keyboard.press("Escape")
    assert page.locator("kmr-chat section.panel").is_hidden()
    assert launcher.evaluate("b => b.getRootNode().activeElement === b")


def test_the_widget_fits_a_phone_screen(browser: Any, service: Any) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        page.goto(service.url + "/")
        open_widget(page)
        box = page.locator("kmr-chat section.panel").bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
        send = page.locator("kmr-chat button.send").bounding_box()
        assert send["y"] + send["height"] <= 667, "the send button is on screen"
    finally:
        context.close()


def test_embedded_cross_origin_in_an_italian_page_with_hostile_css(
    page: Any, service: Any, host_site: dict[str, Any]
) -> None:
    (host_site["root"] / "index.html").write_text(
        f"""<!doctype html>
<html lang="it"><head><meta charset="utf-8"><title>Sito ospite</title>
<style>
  * {{ color: #0f0 !important; font-size: 3px !important; display: inline !important; }}
  button {{ visibility: hidden !important; }} section {{ display: none !important; }}
</style></head>
<body><h1>Un sito qualsiasi</h1>
<script src="{service.url}/widget.js" data-color="#004488"></script>
</body></html>""",
        encoding="utf-8",
    )
    page.goto(host_site["origin"] + "/index.html")
    launcher = page.locator("kmr-chat button.launcher")
    assert launcher.inner_text().strip().endswith("Chiedi all'assistente del Kilometro Rosso")
    assert launcher.is_visible(), "the host page's CSS does not reach inside the widget"
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 68, 136)"
    widget = open_widget(page)
    assert widget.locator("section.panel").is_visible()
    answer = ask(widget, "Quando è stato inaugurato il Kilometro Rosso?")
    assert "2009" in answer.locator(".body").inner_text()
    assert answer.get_by_role("button", name="Risposta utile", exact=True).is_visible()
    assert (
        page.evaluate("getComputedStyle(document.querySelector('h1')).color") == "rgb(0, 255, 0)"
    ), "and the widget does not restyle the host page"
    assert page.errors == []


# --- hostile content ------------------------------------------------------------------------
HOSTILE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Parking &lt;img src=x onerror="window.__pwned='title'"&gt; rules</title>
<link rel="canonical" href="https://www.kilometrorosso.com/en/visit/parking-rules">
</head><body><main><article>
<h1>Visitor parking &lt;img src=x onerror="window.__pwned='h1'"&gt; rules</h1>
<p>Visitor parking at the district is free of charge in car park P3, next to the red wall, and
the gate sign there reads &lt;script&gt;window.__pwned='script'&lt;/script&gt; because of a printing
error that the facility team has promised to fix.</p>
<p>Bicycles can be left in the covered racks of car park P3, whose second sign shows
&lt;img src=x onerror="window.__pwned='img'"&gt; instead of the opening hours, also a misprint.</p>
<p>Visitor parking is open every day from seven in the morning until nine in the evening, and
overnight parking needs a permit issued by the reception desk of the main building.</p>
</article></main></body></html>
"""


@pytest.fixture(scope="module")
def hostile_service(
    embeddings: Any, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A small separate index holding one page whose text is markup."""
    from assistant.config import Settings
    from assistant.runtime import open_runtime
    from ingest.sync import sync

    tmp = tmp_path_factory.mktemp("hostile")
    site = tmp / "site"
    site.mkdir()
    (site / "parking-rules.html").write_text(HOSTILE_PAGE, encoding="utf-8")
    settings = Settings(
        data_dir=tmp / "data",
        model_cache_dir=models_dir,
        sources=[str(site)],
        rate_limit="10000/minute",
        _env_file=None,
    )
    runtime = open_runtime(settings, embeddings=embeddings)
    assert sync(settings.sync_options(), runtime.store).failed == 0
    app = create_app(settings, runtime=runtime)
    with LiveServer(app) as server:
        yield server
    shutil.rmtree(tmp, ignore_errors=True)


def test_markup_in_sources_is_shown_as_text_and_never_runs(page: Any, hostile_service: Any) -> None:
    dialogs = record_dialogs(page)
    page.goto(hostile_service.url + "/")
    widget = open_widget(page)
    answer = ask(widget, "Where can visitors park for free and what does the gate sign read?")
    shown = answer.locator(".body").inner_text()
    stored = saved_state(page, hostile_service)["messages"][-1]
    assert "<script>" in stored["text"] or "<img" in stored["text"], (
        "the answer quotes the hostile sentence"
    )
    assert "<script>" in shown or "<img" in shown, "and the markup shows up as plain text"
    assert "onerror" in " ".join(s["title"] for s in stored["sources"])
    assert answer.locator("ol.sources").inner_text().count("<img") >= 1
    assert widget.locator("img, script, iframe").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == [] and page.errors == []


# --- accessibility ---------------------------------------------------------------------------
def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target)}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: run `npm ci` in {AXE.parents[2]}")
    context = browser.new_context(bypass_csp=True)  # axe is injected as an inline script
    yield context.new_page()
    context.close()


def test_demo_page_with_the_widget_open_has_no_serious_accessibility_problems(
    axe_page: Any, service: Any
) -> None:
    axe_page.goto(service.url + "/")
    widget = open_widget(axe_page)
    ask(widget, QUESTION)
    assert axe_violations(axe_page) == []


def test_staff_console_has_no_serious_accessibility_problems(axe_page: Any, service: Any) -> None:
    axe_page.goto(service.url + "/staff")
    axe_page.fill("#q", "red wall")
    axe_page.click("button[type=submit] >> text=Search")
    axe_page.locator("#results li").first.wait_for()
    axe_page.fill("#admin-key", ADMIN_KEY)
    axe_page.click("text=Use key")
    axe_page.locator("#admin-area").wait_for(state="visible")
    axe_page.click("#gaps-load")
    axe_page.get_by_text("Gaps report loaded").wait_for()
    assert axe_violations(axe_page) == []


def test_staff_console_searches_with_filters_and_shows_admin_panels(
    page: Any, service: Any
) -> None:
    page.goto(service.url + "/staff")
    page.fill("#q", "parcheggio")
    page.select_option("#language", "it")
    page.click("button[type=submit] >> text=Search")
    page.locator("#results li").first.wait_for()
    metas = page.locator("#results li .meta").all_inner_texts()
    assert metas and all(m.startswith("it") for m in metas[::2])
    assert page.locator("#results .preview").first.inner_text().strip()

    page.fill("#admin-key", "wrong-key-wrong-key")
    page.click("text=Use key")
    page.get_by_text("A valid X-Admin-Key header is required.").wait_for()
    assert page.locator("#admin-area").is_hidden()

    page.fill("#admin-key", ADMIN_KEY)
    page.click("text=Use key")
    page.locator("#admin-area").wait_for(state="visible")
    assert int(page.locator("#stats dd").first.inner_text()) > 0
    page.click("#gaps-load")
    page.get_by_text("Gaps report loaded").wait_for()
    assert page.evaluate("sessionStorage.getItem('kmr-admin-key')") == ADMIN_KEY
    assert page.errors == []
