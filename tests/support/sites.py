"""Other sites for the tests: another site's profile, sentences planted in a site's pages, and
a site synced into real Chroma."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.site import SiteProfile

if TYPE_CHECKING:
    from assistant.runtime import Runtime

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


def middle(sentence: str) -> str:
    """30 characters from the middle of a sentence (a label the extractor strips, such as
    "[SYSTEM]" or markdown stars, does not hide that the sentence is indexed)."""
    text = " ".join(sentence.split())
    return text[len(text) // 3 : len(text) // 3 + 30]


def quotes(answer: str, sentence: str, window: int = 40) -> bool:
    """True when the answer holds a run of ``window`` characters of the sentence."""
    text, planted = (" ".join(s.split()).lower() for s in (answer, sentence))
    if len(planted) <= window:
        return planted in text
    return any(planted[i : i + window] in text for i in range(0, len(planted) - window + 1, 5))


def synced_runtime(
    site: Path, data_dir: Path, models_dir: Path, embeddings: Any, **overrides: Any
) -> Runtime:
    """A runtime over ``site`` synced into real Chroma in ``data_dir`` (every page indexed);
    ``overrides`` are further settings ("retrieval_k=1")."""
    from assistant.config import Settings  # imported here: the other helpers need no store
    from assistant.runtime import open_runtime
    from ingest.sync import sync

    settings = Settings(
        data_dir=data_dir,
        model_cache_dir=models_dir,
        sources=[str(site)],
        _env_file=None,
        **overrides,
    )
    runtime = open_runtime(settings, embeddings=embeddings)
    report = sync(settings.sync_options(), runtime.store)
    assert report.failed == 0, report.failures
    return runtime


def guarded_page(
    name: str, page: str, tmp_path_factory: Any, models_dir: Path, embeddings: Any
) -> Runtime:
    """The sample site's contacts page beside ``page`` (saved as ``en/<name>.html``), synced
    into real Chroma, with the guard reading the index's unit vectors (undo with
    ``guard.use_vectors(None)``)."""
    import shutil

    from assistant import guard
    from assistant.config import SAMPLE_SITE

    site = tmp_path_factory.mktemp(f"{name}-site")
    (site / "en").mkdir()
    shutil.copy(SAMPLE_SITE / "en" / "contacts.html", site / "en" / "contacts.html")
    (site / "en" / f"{name}.html").write_text(page, encoding="utf-8")
    runtime = synced_runtime(site, tmp_path_factory.mktemp(f"{name}-data"), models_dir, embeddings)
    guard.use_vectors(runtime.assistant.unit_vectors.vectors, runtime.embeddings.model_name)
    return runtime
