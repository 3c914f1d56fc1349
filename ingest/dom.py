"""The parsed page shared by the HTML steps: every tag from one pass, and small tag helpers."""

from __future__ import annotations

from bs4 import Comment, NavigableString, Tag
from bs4.element import Declaration, ProcessingInstruction


class _Tags:
    """Every tag (and comment) of a document from one pass over it.

    bs4's find_all() runs a slow matcher over the whole tree on every call; a page with
    60,000 table cells spent seconds in a dozen of them (measured). Tags removed later are
    skipped with ``_removed``.
    """

    def __init__(self, root: Tag) -> None:
        self.all: list[Tag] = []
        self.comments: list[NavigableString] = []
        self.by_name: dict[str, list[Tag]] = {}
        for node in root.descendants:
            if isinstance(node, Tag):
                self.all.append(node)
                self.by_name.setdefault(node.name, []).append(node)
            elif isinstance(node, (Comment, Declaration, ProcessingInstruction)):
                self.comments.append(node)

    def named(self, *names: str) -> list[Tag]:
        """Live tags with one of these names, in document order."""
        if len(names) == 1:
            return [t for t in self.by_name.get(names[0], []) if not _removed(t)]
        wanted = set(names)
        return [t for t in self.all if t.name in wanted and not _removed(t)]

    def first(self, name: str) -> Tag | None:
        found = self.named(name)
        return found[0] if found else None

    def live(self) -> list[Tag]:
        return [t for t in self.all if not _removed(t)]


def _removed(tag: Tag) -> bool:
    """True once a tag (or an ancestor) was decomposed.

    Reads the flag directly: ``tag.decomposed`` falls back to a subtree search for tags
    never decomposed, which made deep or large pages quadratic (measured).
    """
    return bool(tag.__dict__.get("_decomposed", False))


def _has_text(tag: Tag) -> int:
    return len(tag.get_text(" ", strip=True))


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class")
    if value is None:
        return []
    return [str(c) for c in value] if isinstance(value, list) else str(value).split()
