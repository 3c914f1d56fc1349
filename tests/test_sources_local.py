"""Local sources: a tree of files (or one file) becomes raw documents or clear skips."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PdfWriter

from assistant.config import SAMPLE_SITE, Settings
from ingest.extract import extract
from ingest.records import Failure, RawDocument, SourceEvent
from ingest.sources import SourceOptions, iter_local, iter_source

PAGE = b"<!doctype html><html lang='en'><head><title>A page</title></head><body><main><h1>A page</h1><p>Some real content about the campus and its laboratories.</p></main></body></html>"


def options(tmp_path: Path, **overrides: object) -> SourceOptions:
    settings = Settings(data_dir=tmp_path, _env_file=None, **overrides)  # type: ignore[arg-type]
    return settings.source_options()


def docs(events: list[SourceEvent]) -> dict[str, RawDocument]:
    return {e.fallback_id: e for e in events if isinstance(e, RawDocument)}


def failures(events: list[SourceEvent], root: Path) -> dict[str, str]:
    return {
        Path(e.location).relative_to(root.absolute()).as_posix()
        if Path(e.location).is_absolute()
        else e.location: e.reason
        for e in events
        if isinstance(e, Failure)
    }


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "en" / "news").mkdir(parents=True)
    (root / "en" / "index.html").write_bytes(PAGE)
    (root / "en" / "news" / "item.htm").write_bytes(PAGE)
    (root / "guide.md").write_text("# Guide\n\nHow to reach the campus by bus.\n")
    (root / "notes.txt").write_text("Opening hours\n\nMonday to Friday.\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / ".git").mkdir()
    (root / ".git" / "config.html").write_bytes(PAGE)
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    return root


def test_a_tree_yields_supported_files_with_paths_under_the_root(
    tree: Path, tmp_path: Path
) -> None:
    events = list(iter_local(tree, options(tmp_path)))
    found = docs(events)
    assert sorted(found) == ["en/index.html", "en/news/item.htm", "guide.md", "notes.txt"]
    assert [found[k].kind for k in sorted(found)] == ["html", "html", "markdown", "text"]
    assert found["guide.md"].location == str((tree / "guide.md").absolute())
    assert found["guide.md"].origin == str(tree)
    assert failures(events, tree) == {"logo.png": "unsupported file type .png"}


def test_hidden_folders_and_files_are_ignored(tree: Path, tmp_path: Path) -> None:
    locations = [e.location for e in iter_local(tree, options(tmp_path))]
    assert not any("/.git/" in loc or ".DS_Store" in loc for loc in locations)


def test_modification_time_is_iso_utc(tree: Path, tmp_path: Path) -> None:
    os.utime(tree / "guide.md", (1_700_000_000, 1_700_000_000))
    doc = docs(list(iter_local(tree, options(tmp_path))))["guide.md"]
    assert doc.last_modified == "2023-11-14T22:13:20+00:00"
    assert datetime.fromisoformat(doc.last_modified).utcoffset().total_seconds() == 0


def test_a_single_file_is_rooted_at_its_folder(tree: Path, tmp_path: Path) -> None:
    events = list(iter_local(tree / "en" / "news" / "item.htm", options(tmp_path)))
    assert list(docs(events)) == ["item.htm"]


def test_iter_source_reads_paths_and_keeps_the_source_as_origin(tree: Path, tmp_path: Path) -> None:
    events = list(iter_source(str(tree) + "/", options(tmp_path), {}))
    assert len(docs(events)) == 4
    assert {e.origin for e in events} == {str(tree) + "/"}


def test_sample_site_is_read_whole(tmp_path: Path) -> None:
    events = list(iter_local(SAMPLE_SITE, options(tmp_path)))
    manifest = json.loads((SAMPLE_SITE / "manifest.json").read_text())
    found = docs(events)
    assert {f["file"] for f in manifest["files"]} <= set(found)
    assert set(failures(events, SAMPLE_SITE)) <= {"manifest.json"}  # unless .kmrignore lists it


def test_kmrignore_leaves_paths_out_silently(tree: Path, tmp_path: Path) -> None:
    (tree / "drafts").mkdir()
    (tree / "drafts" / "next.html").write_bytes(PAGE)
    (tree / "README.md").write_text("# About this folder\n\nNotes for maintainers only.\n")
    (tree / ".kmrignore").write_text("# not content\nREADME.md\ndrafts/\n*.png\n")
    events = list(iter_local(tree, options(tmp_path)))
    assert sorted(docs(events)) == ["en/index.html", "en/news/item.htm", "guide.md", "notes.txt"]
    assert failures(events, tree) == {}  # ignored on purpose: no skip reported


def test_files_without_canonical_are_cited_by_their_path_under_the_root(
    tree: Path, tmp_path: Path
) -> None:
    page = extract(docs(list(iter_local(tree, options(tmp_path))))["guide.md"])
    assert page.url == page.source_id == "guide.md"


def test_canonical_url_becomes_the_identity_after_extraction(tmp_path: Path) -> None:
    doc = docs(list(iter_local(SAMPLE_SITE / "en" / "faq.html", options(tmp_path))))["faq.html"]
    assert extract(doc).source_id == "https://www.kilometrorosso.com/en/faq"
    (tmp_path / "plain.html").write_bytes(PAGE)
    plain = docs(list(iter_local(tmp_path / "plain.html", options(tmp_path))))["plain.html"]
    assert extract(plain).source_id == "plain.html"


def test_pdf_files_are_read_as_pdf(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "brochure.pdf").write_bytes(buffer.getvalue())
    (doc,) = docs(list(iter_local(tmp_path, options(tmp_path)))).values()
    assert doc.kind == "pdf" and doc.content.startswith(b"%PDF-")


# --- bad input: a clear skip with its reason, and the run goes on ----------------------


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "blank.md").write_bytes(b"  \n\n")
    (tmp_path / "ok.html").write_bytes(PAGE)
    events = list(iter_local(tmp_path, options(tmp_path)))
    assert failures(events, tmp_path) == {"empty.html": "empty", "blank.md": "empty"}
    assert list(docs(events)) == ["ok.html"]


def test_binary_data_named_html(tmp_path: Path) -> None:
    (tmp_path / "photo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4096))
    events = list(iter_local(tmp_path, options(tmp_path)))
    assert failures(events, tmp_path) == {"photo.html": "binary data in a .html file"}


def test_a_pdf_without_pdf_bytes(tmp_path: Path) -> None:
    (tmp_path / "fake.pdf").write_text("this is not a PDF at all")
    events = list(iter_local(tmp_path, options(tmp_path)))
    assert failures(events, tmp_path) == {"fake.pdf": "not a PDF (no %PDF- header)"}


def test_file_over_the_size_cap_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.html"
    with big.open("wb") as handle:  # sparse: 50 MB on paper, nothing on disk
        handle.truncate(50 * 1024 * 1024)
    events = list(iter_local(tmp_path, options(tmp_path, max_document_bytes=1_000_000)))
    assert failures(events, tmp_path) == {"big.html": "too large: 52428800 bytes (limit 1000000)"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    locked = tmp_path / "locked.html"
    locked.write_bytes(PAGE)
    locked.chmod(0)
    try:
        events = list(iter_local(tmp_path, options(tmp_path)))
    finally:
        locked.chmod(0o644)
    assert failures(events, tmp_path) == {"locked.html": "unreadable: permission denied"}


def test_a_fifo_named_html_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.html")
    events = list(iter_local(tmp_path, options(tmp_path)))
    assert failures(events, tmp_path) == {"pipe.html": "not a regular file"}


def test_symlink_loops_do_not_hang(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "a").mkdir(parents=True)
    (root / "a" / "page.html").write_bytes(PAGE)
    (root / "a" / "back").symlink_to(root, target_is_directory=True)  # a/back -> site
    (root / "self.html").symlink_to(root / "self.html")  # points at itself
    (root / "dangling.html").symlink_to(root / "missing.html")
    events = list(iter_local(root, options(tmp_path)))
    assert list(docs(events)) == ["a/page.html"]
    skipped = failures(events, root)
    assert "symlink loop" in skipped["a/back"]
    assert skipped["self.html"] == "symlink loop"
    assert skipped["dangling.html"].startswith("cannot open")


def test_a_missing_root(tmp_path: Path) -> None:
    events = list(iter_local(tmp_path / "nowhere", options(tmp_path)))
    assert [(type(e), e.reason) for e in events] == [(Failure, "not found")]  # type: ignore[union-attr]
