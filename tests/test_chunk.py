"""Chunking: structure-aware pieces of about chunk_size characters with stable ids."""

from __future__ import annotations

import re

from ingest.chunk import chunk_page
from ingest.records import Page

LONG_SECTION = " ".join(
    f"Sentence number {i} explains one more fact about the red wall and its portals."
    for i in range(60)
)

TEXT = f"""# Campus guide

Kilometro Rosso is an innovation district on the A4 motorway.

## Buildings

- Centro delle Professioni
- Spark
- Pixel

| Building | Year |
|---|---|
| BiG Technology Center | 2024 |

## The red wall

{LONG_SECTION}

### Portals

Six large portals show moving images to drivers.
"""


def page(text: str = TEXT, **kw: str) -> Page:
    values = dict(
        source_id="https://example.org/campus",
        url="https://example.org/campus",
        title="Campus guide",
        text=text,
        language="en",
    )
    values.update(kw)
    return Page(**values)  # type: ignore[arg-type]


def test_every_chunk_starts_with_title_and_heading_path() -> None:
    chunks = chunk_page(page(), size=1000, overlap=150)
    assert all(c.text.startswith("Campus guide\n") for c in chunks)
    portal = next(c for c in chunks if "Six large portals" in c.text)
    assert portal.text.startswith("Campus guide\nThe red wall > Portals\n\n")
    assert portal.metadata["heading"] == "The red wall > Portals"


def test_chunks_stay_near_the_target_size_and_end_on_sentences() -> None:
    chunks = chunk_page(page(), size=1000, overlap=150)
    bodies = [c.text.split("\n\n", 1)[1] for c in chunks]
    assert all(len(b) <= 1000 for b in bodies)
    wall = [b for b in bodies if "Sentence number" in b]
    assert len(wall) >= 4  # the long section was split
    assert all(b.rstrip().endswith(".") for b in wall)  # never cut mid-sentence


def test_long_sections_overlap_between_pieces() -> None:
    chunks = [c for c in chunk_page(page(), size=1000, overlap=150) if "Sentence number" in c.text]
    first_numbers = [re.findall(r"Sentence number (\d+)", c.text) for c in chunks]
    for previous, following in zip(first_numbers, first_numbers[1:], strict=False):
        assert following[0] in previous  # the next piece repeats the end of the previous one


def test_lists_and_small_tables_stay_whole() -> None:
    chunks = chunk_page(page(), size=1000, overlap=150)
    buildings = next(c for c in chunks if "- Spark" in c.text)
    assert "- Centro delle Professioni\n- Spark\n- Pixel" in buildings.text
    assert "| BiG Technology Center | 2024 |" in buildings.text


def test_ids_are_stable_and_follow_content_and_source() -> None:
    first = [c.id for c in chunk_page(page())]
    assert first == [c.id for c in chunk_page(page())]
    assert len(set(first)) == len(first)
    edited = chunk_page(page(TEXT.replace("Six large portals", "Seven large portals")))
    assert [c.id for c in edited][:-1] == first[:-1] and edited[-1].id != first[-1]
    other_source = chunk_page(page(source_id="https://example.org/other"))
    assert not set(first) & {c.id for c in other_source}


def test_metadata_carries_what_search_and_citations_need() -> None:
    chunk = chunk_page(page(page_type="campus", date="2026-11-01"))[0]
    for key in (
        "source",
        "url",
        "title",
        "language",
        "page_type",
        "heading",
        "chunk_index",
        "date",
    ):
        assert key in chunk.metadata
    assert chunk.metadata["page_type"] == "campus"
    assert all(isinstance(v, str | int | float | bool) for v in chunk.metadata.values())


def test_empty_text_gives_no_chunks() -> None:
    assert chunk_page(page("   \n\n")) == []


def test_a_date_line_above_a_heading_stays_with_that_heading() -> None:
    """A line "14 June 2027" over "## Tide pool workshop" dates the workshop: a chunk boundary between
    the two sections must not leave the date at the end of the previous event's chunk."""
    filler = " ".join(f"The tour shows the {n} tanks of the aquarium." for n in range(14))
    text = (
        "# Aquarium calendar\n\n"
        f"2 March 2027\n\n## Night tour\n\n{filler}\n\n"
        "14 June 2027 · from 10:00\n\n## Tide pool workshop\n\nChildren learn about crabs.\n"
    )
    chunks = chunk_page(page(text, title="Aquarium calendar"), size=700, overlap=0)
    workshop = next(c for c in chunks if "Tide pool workshop" in c.text)
    night = next(c for c in chunks if "Night tour" in c.text)
    assert workshop is not night  # the boundary falls between the two events
    assert "14 June 2027" in workshop.text and "14 June 2027" not in night.text
    assert "2027-06-14" in str(workshop.metadata["dates"])
    assert "2 March 2027" in night.text
