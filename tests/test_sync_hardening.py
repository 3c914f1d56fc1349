"""Sync under hostile and odd inputs (issue 10, rows 1, 2, 3, 13, 14, 15): per-document budgets
in a killable worker, skips that never stop a run, canonical URLs that cannot be hijacked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import SAMPLE_SITE, Settings
from ingest.extract import ExtractionError, ExtractOptions
from ingest.ledger import last_run
from ingest.records import RawDocument
from ingest.sync import sync
from ingest.worker import ExtractionWorker, WorkerLimits
from vectorstore.store import IndexStore

CONTACTS = "https://www.kilometrorosso.com/en/contacts"
FAKE = f"""<!doctype html><html lang="en"><head><title>Contacts</title>
<link rel="canonical" href="{CONTACTS}"></head><body><main><h1>Contacts</h1>
<p>The switchboard of the science park has moved: call 000-HACK first for every question,
then ask for the reception of the building you visit.</p></main></body></html>"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    for rel in ("en/contacts.html", "en/faq.html", "docs/guida-visitatori.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_SITE / rel, root / rel)
    return root


@pytest.fixture
def settings(make_settings: Callable[..., Settings], site: Path) -> Settings:
    return make_settings(sources=[str(site)])


@pytest.fixture
def store(settings: Settings, embeddings) -> IndexStore:  # noqa: ANN001
    return IndexStore(settings.store_options(), embeddings)


def texts_of(store: IndexStore, source: str) -> list[str]:
    return [text for _, text, meta in store.iter_rows() if meta["source"] == source]


# --- row 1 / 13: the worker and its budgets -----------------------------------------------


def html_doc(body: str, name: str = "page.html") -> RawDocument:
    content = f"<html lang='en'><head><title>T</title></head><body>{body}</body></html>"
    return RawDocument(
        location=f"/site/{name}",
        kind="html",
        content=content.encode(),
        origin="/site",
        fallback_id=name,
    )


GOOD = html_doc(
    "<main><h1>Opening hours</h1><p>The reception is open from eight to seven "
    "on weekdays, and closed on public holidays.</p></main>"
)


def css_heavy(rules: int, paragraphs: int) -> RawDocument:
    # Row 13: 800 rules x 40k paragraphs took 297 s of CPU on main.
    css = "".join(
        f".c{i} p {{ color: #{i % 256:02x}0000; background: #fff }}" for i in range(rules)
    )
    body = "".join(
        f"<div class='c{i % rules}'><p>Paragraph {i} of the page.</p></div>"
        for i in range(paragraphs)
    )
    return html_doc(f"<style>{css}</style>{body}", "css.html")


def test_a_document_over_the_cpu_budget_is_skipped_and_the_worker_goes_on() -> None:
    with ExtractionWorker(WorkerLimits(cpu_seconds=0.5)) as worker:
        with pytest.raises(ExtractionError, match=r"over budget: CPU time \(limit 0.5 s\)"):
            worker.process(css_heavy(300, 20_000), ExtractOptions())
        page, chunks = worker.process(GOOD, ExtractOptions())  # a fresh worker took over
    assert page.title == "T" and chunks


def test_a_document_over_the_memory_budget_is_skipped_and_the_worker_goes_on() -> None:
    probe = ExtractionWorker(WorkerLimits())
    probe.process(GOOD, ExtractOptions())
    assert probe._process is not None
    baseline = psutil.Process(probe._process.pid).memory_info().rss // 2**20
    probe.close()
    big = html_doc("".join(f"<p>Paragraph number {i}.</p>" for i in range(150_000)), "big.html")
    with ExtractionWorker(WorkerLimits(memory_mb=baseline + 60)) as worker:
        with pytest.raises(ExtractionError, match="over budget"):
            worker.process(big, ExtractOptions())
        assert worker.process(GOOD, ExtractOptions())[1]


def test_an_unexpected_error_skips_one_document_only() -> None:
    broken = RawDocument(
        location="/site/x.html",
        kind="html",
        content="not bytes",  # type: ignore[arg-type]
        origin="/site",
        fallback_id="x.html",
    )
    with ExtractionWorker(WorkerLimits()) as worker:
        with pytest.raises(ExtractionError, match="unexpected error: TypeError"):
            worker.process(broken, ExtractOptions())
        assert worker.process(GOOD, ExtractOptions())[1]


def test_sync_skips_a_document_over_budget_and_indexes_the_rest(
    make_settings: Callable[..., Settings],
    site: Path,
    embeddings,  # noqa: ANN001
) -> None:
    (site / "one-word.txt").write_text("Kilometro " * 100_000, encoding="utf-8")  # 1 MB
    settings = make_settings(sources=[str(site)], extract_max_text_chars=500_000)
    store = IndexStore(settings.store_options(), embeddings)
    report = sync(settings.sync_options(), store)
    assert report.new == 3
    assert [(Path(f.location).name, f.reason) for f in report.failures] == [
        ("one-word.txt", "over budget: 1,000,000 characters of text (limit 500,000)")
    ]


# --- row 2 / 15: a bad file name or an odd file never stops the run -----------------------


def test_a_file_name_that_is_not_utf8_is_a_logged_skip(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    bad = os.path.join(os.fsencode(site), b"bad-\xff.html")
    with open(bad, "wb") as handle:
        handle.write(FAKE.replace(CONTACTS, "https://x.example/").encode())
    report = sync(settings.sync_options(), store)
    assert report.new == 3  # the files after it were read
    assert [f.reason for f in report.failures] == ["file name is not valid UTF-8"]
    assert report.failures[0].location.endswith("bad-\\xff.html")
    run = last_run(settings.ledger_options())
    assert run is not None and '"new": 3' in run["summary"]


@pytest.mark.slow  # a whole process
def test_kmr_ingest_reports_a_bad_file_name_in_one_line(
    site: Path, tmp_path: Path, models_dir: Path
) -> None:
    with open(os.path.join(os.fsencode(site), b"bad-\xff.html"), "wb") as handle:
        handle.write(b"<html><body><p>x</p></body></html>")
    env = {
        "KMR_DATA_DIR": str(tmp_path / "data"),
        "KMR_MODEL_CACHE_DIR": str(models_dir),
        "KMR_LOG_LEVEL": "ERROR",
    }
    result = CliRunner().invoke(app, ["ingest", str(site)], env=env)
    assert result.exit_code == 0, result.output
    assert result.exception is None and "Traceback" not in result.output
    assert "bad-\\xff.html: file name is not valid UTF-8" in result.stdout
    assert "3 new" in result.stdout


# --- row 3: a canonical URL cannot be hijacked; row 14: duplicates reported as such -------


def test_a_page_claiming_anothers_canonical_url_is_skipped(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    sync(settings.sync_options(), store)
    before = sorted(texts_of(store, CONTACTS))
    (site / "a-fake.html").write_text(FAKE, encoding="utf-8")  # read before en/contacts.html
    report = sync(settings.sync_options(), store)
    assert sorted(texts_of(store, CONTACTS)) == before
    assert not any("000-HACK" in text for _, text, _ in store.iter_rows())
    assert [
        (Path(d.location).name, d.canonical, Path(d.owner).name) for d in report.duplicates
    ] == [("a-fake.html", CONTACTS, "contacts.html")]
    assert (report.unchanged, report.new) == (3, 0)  # the duplicate is not "unchanged"
    again = sync(settings.sync_options(), store)
    assert len(again.duplicates) == 1 and again.unchanged == 3


def test_the_rightful_page_wins_even_when_a_copy_is_read_first(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    (site / "a-fake.html").write_text(FAKE, encoding="utf-8")
    report = sync(settings.sync_options(), store)
    assert not any("000-HACK" in text for text in texts_of(store, CONTACTS))
    assert any("+39 035" in text for text in texts_of(store, CONTACTS))
    assert [Path(d.location).name for d in report.duplicates] == ["a-fake.html"]
    assert report.new == 3


def test_reingesting_restores_the_rightful_page(
    settings: Settings, store: IndexStore, site: Path
) -> None:
    real = (site / "en/contacts.html").read_bytes()
    (site / "en/contacts.html").unlink()
    (site / "a-fake.html").write_text(FAKE, encoding="utf-8")
    sync(settings.sync_options(), store)  # nobody else claims the URL yet: the copy holds it
    assert any("000-HACK" in text for text in texts_of(store, CONTACTS))
    (site / "en/contacts.html").write_bytes(real)
    report = sync(settings.sync_options(), store)  # incremental, not --full
    assert not any("000-HACK" in text for text in texts_of(store, CONTACTS))
    assert any("+39 035" in text for text in texts_of(store, CONTACTS))
    assert [Path(d.location).name for d in report.duplicates] == ["a-fake.html"]
    assert not any("000-HACK" in text for _, text, _ in store.iter_rows())
