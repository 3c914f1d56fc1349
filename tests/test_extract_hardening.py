"""Extraction under hostile and odd inputs (issue 10, rows 1, 3, 12, 13, 14): budgets, deep
nesting, heavy inline markup, foreign canonical URLs, AES PDFs, unsure language guesses."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter

from ingest.chunk import chunk_page
from ingest.extract import (
    ExtractionError,
    ExtractOptions,
    extract,
    page_type_from_url,
)
from ingest.records import RawDocument
from ingest.worker import WorkerLimits, extract_and_chunk
from vectorstore.language import identify_language

SENTENCE = "The reception of the science park is open from eight to seven on weekdays. "


def raw(
    content: bytes,
    kind: str = "html",
    *,
    location: str = "/site/page.html",
    origin: str = "/site",
    fallback_id: str = "page.html",
) -> RawDocument:
    return RawDocument(
        location=location,
        kind=kind,
        content=content,
        origin=origin,  # type: ignore[arg-type]
        fallback_id=fallback_id,
    )


def page_html(body: str, head: str = "", lang: str = "en") -> bytes:
    return (
        f"<!doctype html><html lang='{lang}'><head><title>Test page</title>{head}</head>"
        f"<body>{body}</body></html>"
    ).encode()


# --- row 14: very deep nesting keeps its text ---------------------------------------------


@pytest.mark.parametrize("depth", [300, 3000])
def test_deeply_nested_text_is_kept(depth: int) -> None:
    body = "<div>" * depth + f"<p>{SENTENCE}</p>" + "</div>" * depth
    assert SENTENCE.strip() in extract(raw(page_html(body))).text


# --- row 1: many inline elements cost linear memory and time ------------------------------


@pytest.mark.slow  # 100,000 elements: seconds of CPU by design
def test_a_block_of_many_inline_elements_keeps_its_text() -> None:
    # 100,000 <i>a</i>: 5 GB RSS on main (quadratic in trafilatura's Markdown writer).
    html = page_html("<p>" + "<i>a</i> " * 100_000 + "</p>")
    page, chunks = extract_and_chunk(raw(html), ExtractOptions(), WorkerLimits())
    assert page.text.count("a") >= 100_000
    assert len(chunks) < 10  # "a a a ..." chunks are identical: stored once


def test_emphasis_survives_in_ordinary_paragraphs() -> None:
    html = page_html(
        f"<main><h1>Test page</h1><p>{SENTENCE}<strong>Closed on Sunday.</strong></p></main>"
    )
    assert "**Closed on Sunday.**" in extract(raw(html)).text


def test_too_many_elements_is_refused_before_parsing() -> None:
    html = page_html("<p>" + "<i>a</i>" * 2_000 + "</p>")
    with pytest.raises(ExtractionError, match=r"over budget: 2,\d{3} HTML elements"):
        extract(raw(html), ExtractOptions(max_elements=1_000))


# --- row 13: text and chunk budgets, identical chunks once --------------------------------


def test_one_line_text_over_the_text_budget_is_refused() -> None:
    content = ("word " * 1_000_000).encode()  # 5 MB on one line
    with pytest.raises(ExtractionError, match="over budget: 5,000,000 characters"):
        extract(raw(content, "text", location="/site/big.txt", fallback_id="big.txt"))


def test_chunk_budget() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + SENTENCE * 12 for i in range(40)).encode()
    document = raw(text, "text", location="/site/long.txt", fallback_id="long.txt")
    with pytest.raises(ExtractionError, match=r"over budget: \d+ chunks \(limit 5\)"):
        extract_and_chunk(document, ExtractOptions(), WorkerLimits(max_chunks=5))


def test_a_page_of_one_repeated_word_is_few_chunks() -> None:
    # 11,550 identical chunks on main.
    content = ("Kilometro " * 1_100_000).encode()
    page = extract(
        raw(content, "text", location="/site/w.txt", fallback_id="w.txt"),
        ExtractOptions(max_text_chars=20_000_000),
    )
    chunks = chunk_page(page)
    assert len(chunks) <= 3
    assert len({c.text for c in chunks}) == len(chunks)
    assert [c.metadata["chunk_index"] for c in chunks] == list(range(len(chunks)))


# --- row 3: a canonical URL on another host is not taken ----------------------------------


def test_crawled_page_cannot_claim_a_canonical_url_on_another_host() -> None:
    head = "<link rel='canonical' href='https://www.kilometrorosso.com/en/contacts'>"
    html = page_html(f"<p>{SENTENCE}</p>", head)
    page = extract(
        raw(
            html,
            location="https://evil.example/contacts",
            origin="https://evil.example/",
            fallback_id="https://evil.example/contacts",
        )
    )
    assert page.source_id == "https://evil.example/contacts"
    assert page.url == "https://evil.example/contacts"


def test_canonical_on_the_same_site_or_a_configured_host_is_taken() -> None:
    head = "<link rel='canonical' href='https://kilometrorosso.com/en/contacts'>"
    html = page_html(f"<p>{SENTENCE}</p>", head)
    same_site = raw(
        html,
        location="https://www.kilometrorosso.com/en/contacts?ref=x",
        origin="https://www.kilometrorosso.com/",
        fallback_id="https://www.kilometrorosso.com/en/contacts?ref=x",
    )
    assert extract(same_site).source_id == "https://kilometrorosso.com/en/contacts"
    local = raw(html)
    assert extract(local).source_id == "https://kilometrorosso.com/en/contacts"
    assert extract(local, ExtractOptions(canonical_hosts=("example.org",))).source_id == "page.html"
    assert (
        extract(local, ExtractOptions(canonical_hosts=("kilometrorosso.com",))).source_id
        == "https://kilometrorosso.com/en/contacts"
    )


# --- row 12: AES-encrypted PDFs with an empty password ------------------------------------


def aes_pdf(user_password: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "Campus visitor guide"})
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 770 Td ({SENTENCE}) Tj ET".encode("latin-1"))
    page = writer.pages[0]
    page[NameObject("/Contents")] = writer._add_object(stream)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_aes_pdf_with_an_empty_password_is_read() -> None:
    content = aes_pdf("")
    assert b"/AESV3" in content or b"/V 5" in content
    page = extract(raw(content, "pdf", location="/site/guide.pdf", fallback_id="guide.pdf"))
    assert "open from eight to seven" in page.text


def test_aes_pdf_with_a_password_is_skipped_with_its_reason() -> None:
    with pytest.raises(ExtractionError, match="encrypted PDF"):
        extract(raw(aes_pdf("s3cret"), "pdf", location="/site/g.pdf", fallback_id="g.pdf"))


# --- row 14: unsure language guesses are not used -----------------------------------------


NAMES = "ALBINI_next Brembo Sofar Enea UniBg Intellimech"


def test_low_confidence_language_guess_is_not_used() -> None:
    # Names only: py3langid still answers (main stored "pcm"-like guesses), unsure of it.
    guess, probability = identify_language(NAMES)
    assert guess not in ("en", "it") and probability < 0.5
    document = raw(NAMES.encode(), "text", location="/site/n.txt", fallback_id="n.txt")
    assert extract(document, ExtractOptions(min_language_confidence=0.0)).language == guess
    assert extract(document).language == ""  # unknown, rather than a wrong guess


def test_unsure_guess_falls_back_to_the_pages_own_hreflang() -> None:
    text = NAMES
    head = (
        "<link rel='canonical' href='https://site.example/en/x'>"
        "<link rel='alternate' hreflang='en' href='https://site.example/en/x'>"
        "<link rel='alternate' hreflang='it' href='https://site.example/it/x'>"
    )
    html = (f"<html><head><title>X</title>{head}</head><body><p>{text}</p></body></html>").encode()
    assert extract(raw(html)).language == "en"


def test_confident_guess_is_used() -> None:
    text = (
        "Il parco scientifico è aperto dal lunedì al venerdì, dalle otto alle diciannove; "
        "i visitatori parcheggiano nel parcheggio accanto all'ingresso principale."
    )
    document = raw(text.encode(), "text", location="/site/i.txt", fallback_id="i.txt")
    assert extract(document).language == "it"


# --- page types as data, extended by a setting --------------------------------------------


def test_page_type_words_come_from_data_and_a_setting_extends_them() -> None:
    html = page_html(f"<p>{SENTENCE}</p>")
    document = raw(
        html,
        location="https://park.example/it/bandi/2026-call",
        origin="https://park.example/",
        fallback_id="https://park.example/it/bandi/x",
    )
    assert extract(document).page_type == ""
    extended = ExtractOptions(page_type_words=(("bandi", "news"),))
    assert extract(document, extended).page_type == "news"
    assert page_type_from_url("https://park.example/en/faq") == "faq"  # from page_types.json
