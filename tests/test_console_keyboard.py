"""The staff console from the keyboard alone, in the real browser (Debian's Chromium driven by
Playwright against the real app over the real index of the sample site, as in
tests/test_staff_browser.py): Tab, Shift+Tab, Enter, Space and Escape, never a click.

A staff member signs in with the admin key, searches, opens the gaps report, writes, saves,
edits and disables a curated answer, reads its history, opens an enquiry and marks it
answered, and switches the console between Italian and English. Every stop the keyboard makes
shows a focus outline and is on screen; tabbing through the whole console reaches every
control and leaves the page (nothing traps focus); the editor and the history give focus back
to the control that opened them; a list redrawn after an action keeps the keyboard's place."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import test_staff_browser
import test_widget_browser
from api_support import ADMIN_KEY, create_curated
from support.enquiries import enquiry

STAFF = "Marco Bianchi"
REFUSED = "Is there a swimming pool?"

pytestmark = test_widget_browser.BROWSER_TESTS

# One Chromium, one inbox and one live service for this module, as in the console's tests.
browser = test_widget_browser.browser
host_site = test_widget_browser.host_site
smtp = test_staff_browser.smtp
service = test_staff_browser.service
admin = test_staff_browser.admin_client  # an admin-API client as "other-editor"

# What the keyboard is on: None when focus is on no element (it left the page).
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const style = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  const text = (e.getAttribute('aria-label') || e.innerText || e.value || '').trim();
  return {
    key: e.id ? '#' + e.id : (e.getAttribute('data-key') || e.tagName.toLowerCase() + ':' + text.slice(0, 50)),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    on_screen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight
      && box.right > 0 && box.left < innerWidth,
  };
}"""

# Every control a keyboard user must be able to reach, as the page shows it now.
REACHABLE = """() => [...document.querySelectorAll(
    'a[href], button:not([disabled]), input:not([type=hidden]), select, textarea, summary, [tabindex="0"]')]
  .filter(e => e.checkVisibility() && !e.closest('details:not([open]) > :not(summary)'))
  .map(e => e.id ? '#' + e.id : (e.getAttribute('data-key') || e.tagName.toLowerCase() + ':'
    + (e.getAttribute('aria-label') || e.innerText || e.value || '').trim().slice(0, 50)))"""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from test_widget_browser.new_page(browser, locale="en-GB")


def focused(page: Any) -> dict[str, Any] | None:
    return page.evaluate(FOCUSED)


def is_on(page: Any, selector: str) -> bool:
    return bool(page.evaluate("s => !!document.activeElement?.matches(s)", selector))


def press(page: Any, key: str) -> dict[str, Any]:
    """Press ``key``; the keyboard must still be on a visible, outlined element of the page."""
    page.keyboard.press(key)
    now = focused(page)
    assert now is not None, f"{key} sent focus off the page"
    assert now["outline"], f"no visible focus outline on {now['key']}"
    assert now["on_screen"], f"{now['key']} has focus but is off screen"
    return now


def tab_to(page: Any, selector: str, *, back: bool = False, limit: int = 150) -> int:
    """Tab (Shift+Tab with ``back``) until ``selector`` has focus; every stop is checked by
    ``press``. Returns the number of presses."""
    for presses in range(1, limit + 1):
        press(page, "Shift+Tab" if back else "Tab")
        if is_on(page, selector):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} presses")


def sign_in(page: Any, service: Any) -> None:
    """Open the console and unlock it with the admin key, by keyboard."""
    page.goto(service.url + "/staff")
    tab_to(page, "#admin-key")
    page.keyboard.type(ADMIN_KEY)
    press(page, "Tab")
    assert is_on(page, "#staff-name")
    page.keyboard.type(STAFF)
    page.keyboard.press("Enter")
    page.locator("#admin-area").wait_for(state="visible")
    page.get_by_text("Admin key accepted.").wait_for()


def test_sign_in_search_and_the_gaps_report_with_the_keyboard_alone(
    page: Any, service: Any
) -> None:
    with service.client() as client:
        assert client.post("/api/chat", json={"question": REFUSED}).json()["abstained"]
    page.goto(service.url + "/staff")
    press(page, "Tab")
    assert is_on(page, "a.skip-link"), "the first stop skips the header"
    page.keyboard.press("Enter")
    assert is_on(page, "main")
    press(page, "Tab")
    assert is_on(page, "#q"), "after the skip link, the search"

    tab_to(page, "#admin-key")
    page.keyboard.type(ADMIN_KEY)
    press(page, "Tab")
    page.keyboard.type(STAFF)
    page.keyboard.press("Enter")
    page.get_by_text("Admin key accepted.").wait_for()

    tab_to(page, "#q", back=True)
    page.keyboard.type("red wall")
    page.keyboard.press("Enter")
    page.locator("#results li").first.wait_for()
    tab_to(page, '[data-key="result-0"]')
    page.keyboard.press("Enter")
    assert is_on(page, "#cur-questions"), "the editor takes focus"
    assert page.input_value("#cur-questions") == "red wall"
    page.keyboard.press("Escape")
    assert page.locator("#curated-form").is_hidden()
    assert is_on(page, '[data-key="result-0"]'), "Escape gives focus back to the opener"

    tab_to(page, "#gaps-load")
    page.keyboard.press("Enter")
    page.get_by_text("Gaps report loaded").wait_for()
    tab_to(page, '[data-key^="gap-"]')
    row = page.evaluate("document.activeElement.closest('tr').innerText")
    assert REFUSED in row
    page.keyboard.press("Space")
    assert is_on(page, "#cur-questions")
    assert REFUSED in page.input_value("#cur-questions")
    tab_to(page, "#curated-cancel")
    page.keyboard.press("Enter")
    assert page.locator("#curated-form").is_hidden()
    assert is_on(page, '[data-key^="gap-"]'), "Cancel gives focus back to the opener"
    assert page.errors == []


def test_switching_the_language_with_the_keyboard_keeps_focus_on_the_switch(
    page: Any, service: Any
) -> None:
    sign_in(page, service)
    page.reload()  # the key stays in the tab; start again from the top of the page
    tab_to(page, '[data-set-lang="it"]')
    page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.lang") == "it"
    assert page.locator("h1").inner_text() == "Console del personale"
    assert is_on(page, '[data-set-lang="it"]')
    assert page.get_attribute('[data-set-lang="it"]', "aria-pressed") == "true"
    press(page, "Shift+Tab")
    assert is_on(page, '[data-set-lang="en"]')
    page.keyboard.press("Space")
    assert page.locator("h1").inner_text() == "Staff console"
    assert page.get_attribute('[data-set-lang="en"]', "aria-pressed") == "true"
    assert page.errors == []


def test_a_curated_answer_written_saved_edited_and_disabled_with_the_keyboard_alone(
    page: Any, service: Any
) -> None:
    sign_in(page, service)
    tab_to(page, "#curated-new")
    page.keyboard.press("Enter")
    assert is_on(page, "#cur-questions")
    page.keyboard.type("Is there a gym on the campus?")
    page.keyboard.press("Enter")  # a new line in the questions, not a submit
    page.keyboard.type("C'è una palestra nel campus?")
    press(page, "Tab")
    assert is_on(page, "#cur-answer-it"), "Tab leaves a text area"
    page.keyboard.type("No, ma ce n'è una a 2 km.")
    press(page, "Tab")
    page.keyboard.type("No, but there is one 2 km away.")
    tab_to(page, "#cur-enabled")
    page.keyboard.press("Space")
    assert not page.is_checked("#cur-enabled")
    page.keyboard.press("Space")
    assert page.is_checked("#cur-enabled")
    tab_to(page, "#curated-save")
    page.keyboard.press("Enter")
    page.get_by_text("Curated answer #").wait_for()
    assert "created" in page.locator("#curated-status").inner_text()
    assert is_on(page, "#curated-new"), "focus goes back to the button that opened the editor"
    with admin(service) as client:
        answers = client.get("/api/admin/curated").json()["answers"]
    [saved] = [a for a in answers if a["questions"][0] == "Is there a gym on the campus?"]
    assert saved["questions"][1] == "C'è una palestra nel campus?"
    assert saved["answer_en"] == "No, but there is one 2 km away."
    assert saved["created_by"] == STAFF
    ident = saved["id"]

    edit = f'[data-key="edit-{ident}"]'
    tab_to(page, edit)
    page.keyboard.press("Enter")
    assert is_on(page, "#cur-questions")
    tab_to(page, "#cur-answer-en")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("No; the nearest gym is 2 km away.")
    page.keyboard.press("Escape")
    assert page.locator("#curated-form").is_hidden() and is_on(page, edit)

    page.keyboard.press("Enter")
    tab_to(page, "#cur-answer-en")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("No; the nearest gym is 2 km away.")
    tab_to(page, "#curated-save")
    page.keyboard.press("Enter")
    page.get_by_text(f"Curated answer #{ident} saved (version 2).").wait_for()
    assert is_on(page, edit), "the redrawn list gives focus back to the same Edit button"

    history = f'[data-key="history-{ident}"]'
    tab_to(page, history)
    page.keyboard.press("Enter")
    page.locator("#curated-history-list li").nth(1).wait_for()
    assert is_on(page, "#curated-history-title")
    tab_to(page, "#curated-history-close")
    page.keyboard.press("Escape")
    assert page.locator("#curated-history").is_hidden() and is_on(page, history)

    toggle = f'[data-key="toggle-{ident}"]'
    tab_to(page, toggle, back=True)
    page.keyboard.press("Enter")
    page.get_by_text(f"Curated answer #{ident} is disabled.").wait_for()
    assert is_on(page, toggle), "focus stays on the redrawn switch"
    assert page.locator(toggle).inner_text() == "Enable"
    with admin(service) as client:
        current = client.get(f"/api/admin/curated/{ident}").json()
    assert current["answer_en"] == "No; the nearest gym is 2 km away."
    assert current["enabled"] is False and current["version"] == 3
    assert page.errors == []


def test_an_enquiry_opened_and_marked_answered_with_the_keyboard_alone(
    page: Any, service: Any
) -> None:
    with service.client() as client:
        sent = client.post("/api/enquiries", json=enquiry(email="keys@example.org"))
        assert sent.status_code == 201, sent.text
        ident = sent.json()["id"]
    sign_in(page, service)
    tab_to(page, "#enquiries-load")
    page.keyboard.press("Enter")
    page.locator(f'article.enquiry[data-id="{ident}"]').wait_for()

    tab_to(page, f'[data-key="transcript-{ident}"]')
    page.keyboard.press("Enter")
    details = page.locator(f'article.enquiry[data-id="{ident}"] details')
    assert details.evaluate("d => d.open"), "Enter opens the conversation"
    assert "Posso portare una scolaresca" in details.inner_text()
    tab_to(page, f'[data-key="reply-{ident}"]')
    page.keyboard.type("Sì: scriva a visite@example.org per fissare una data.")
    tab_to(page, f'[data-key="answered-{ident}"]')
    page.keyboard.press("Enter")
    page.get_by_text("Enquiry marked answered.").wait_for()
    # The answered enquiry leaves the open list: focus goes to the section, not the page's top.
    assert is_on(page, "#enquiries-title")
    press(page, "Tab")
    assert is_on(page, "#enquiry-filter"), "Tab goes on from where the enquiry was"
    with admin(service) as client:
        stored = client.get(f"/api/admin/enquiries/{ident}").json()
    assert stored["status"] == "answered" and stored["answered_by"] == STAFF
    assert stored["reply"] == "Sì: scriva a visite@example.org per fissare una data."
    assert page.errors == []


def test_tabbing_through_the_whole_console_reaches_every_control_and_never_traps_focus(
    page: Any, service: Any
) -> None:
    with admin(service) as client:
        create_curated(
            client, {"questions": ["Where can I charge an electric car?"], "answer_en": "P2."}
        )
    sign_in(page, service)
    for load in ("#enquiries-load", "#gaps-load"):
        tab_to(page, load)
        page.keyboard.press("Enter")
    page.get_by_text("Gaps report loaded").wait_for()
    tab_to(page, "#curated-new", back=True)
    page.keyboard.press("Enter")
    assert is_on(page, "#cur-questions")
    expected = page.evaluate(REACHABLE)

    page.focus("a.skip-link")  # from the top (a focus call, not a click)
    start = focused(page)
    assert start is not None, "the skip link takes the focus"
    forward = [start["key"]]
    for _ in range(len(expected) * 4):
        page.keyboard.press("Tab")
        now = focused(page)
        if now is None or now["key"] == forward[0]:
            break  # left the page, or came round to the start: not trapped
        assert now["outline"] and now["on_screen"], now
        if now["key"] != forward[-1]:  # a date field takes several presses
            forward.append(now["key"])
    else:
        raise AssertionError(f"focus never left the page; last stops {forward[-5:]}")
    missing = [key for key in expected if key not in forward]
    assert missing == [], "controls the keyboard never reaches"

    backward: list[str] = []  # from where the forward walk ended, back to the top
    for _ in range(len(expected) * 4):
        page.keyboard.press("Shift+Tab")
        now = focused(page)
        if now is None:
            continue  # between the page's end and its last control
        assert now["outline"] and now["on_screen"], now
        if not backward or now["key"] != backward[-1]:
            backward.append(now["key"])
        if now["key"] == forward[0]:
            break
    assert backward[0] == forward[-1], "Shift+Tab from the end comes back to the last control"
    assert backward[-1] == forward[0], "and goes all the way back to the top"
    assert sorted(set(backward)) == sorted(set(forward))
    assert page.errors == []
