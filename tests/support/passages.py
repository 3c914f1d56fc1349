"""Hand-made pages for the answer engine's tests: one passage per page, its title first."""

from __future__ import annotations

from vectorstore.passages import Passage


def page(n: int, title: str, body: str, language: str = "en", host: str = "example.org") -> Passage:
    """Page ``n`` of an imaginary site at ``host``: one passage, its title then its body."""
    url = f"https://{host}/{language}/{n}"
    return Passage(
        id=f"p{n}",
        text=f"{title}\n\n{body}",
        title=title,
        url=url,
        source_id=url,
        language=language,
    )
