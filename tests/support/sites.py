"""Other sites for the tests: another site's profile, and sentences planted in a site's pages."""

from __future__ import annotations

import html
from pathlib import Path

from assistant.site import SiteProfile

VALLE_SERENA = SiteProfile(
    name="Parco Tecnologico Valle Serena",
    short_name="Valle Serena",
    description="a technology park in the Serena valley",
    phone="+39 0123 456789",
    contact_url="https://www.valleserena.example/contatti",
    public_url="https://assistant.valleserena.example",
)


def plant_paragraphs(site: Path, sentences: list[str]) -> None:
    """Insert each sentence as a visible paragraph of one page's main content, pages in turn.

    It goes right after the first paragraph inside ``<main>`` (or ``<article>``, else the
    body): a paragraph planted in a cookie banner or a header is dropped as page chrome
    and would test nothing.
    """
    pages = sorted(site.rglob("*.html"))
    for n, sentence in enumerate(sentences):
        page = pages[n % len(pages)]
        text = page.read_text(encoding="utf-8")
        starts = (text.find(tag) for tag in ("<main", "<article", "<body"))
        start = next((i for i in starts if i >= 0), 0)  # the first of them the page has
        end = text.find("</p>", start)
        if end < 0:
            raise ValueError(f"{page} has no paragraph to plant after")
        at = end + len("</p>")
        page.write_text(f"{text[:at]}\n<p>{html.escape(sentence)}</p>{text[at:]}", encoding="utf-8")
