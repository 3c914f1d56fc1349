"""Extraction step 3, chrome: drop generic site chrome (menus, page header and footer,
sidebars, consent banners, breadcrumbs, forms) by HTML semantics and ARIA roles, never by one
site's class names."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from ingest.dom import _classes, _has_text, _removed, _Tags

_CHROME_TAGS = [
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "select",
    "textarea",
    "input",
    "label",
    "dialog",
    "iframe",
    "svg",
    "canvas",
    "video",
    "audio",
    "map",
]


_CHROME_ROLES = {
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
    "toolbar",
    "tablist",
    "alert",
}


_CONSENT = re.compile(
    r"cookie|consent|gdpr|\bcmp\b|cmp[-_]|iubenda|cookiebot|onetrust|cc[-_]banner", re.I
)


_BREADCRUMB = re.compile(r"breadcrumb|briciole", re.I)


_SKIP_LINK = re.compile(r"^\s*(skip|jump|salta|vai)\b", re.I)


_CONTENT_CONTAINERS = ["article", "main"]


def _names(tag: Tag) -> str:
    return " ".join([str(tag.get("id", "")), *_classes(tag), str(tag.get("aria-label", ""))])


def _in_content(tag: Tag, names: tuple[str, ...]) -> bool:
    """True when an ancestor is one of ``names`` (tag name or ARIA role)."""
    return any(
        parent.name in names or str(parent.get("role", "")).lower() in names
        for parent in tag.parents
        if isinstance(parent, Tag)
    )


def remove_chrome(soup: BeautifulSoup, tags: _Tags | None = None) -> None:
    """Drop generic site chrome: menus, page header/footer, sidebars, consent banners, forms."""
    tags = tags or _Tags(soup)
    body = tags.first("body") or soup
    total = max(_has_text(body), 1)
    kept: list[Tag] = []
    for tag in tags.live():
        if _removed(tag) or tag.parent is None:
            continue  # gone with an ancestor, or unwrapped
        name = tag.name
        role = str(tag.get("role", "")).lower()
        # A page's or an article's own header holds its title and date; an aside inside an
        # article is a content call-out.
        if (name == "header" or role == "banner") and _in_content(tag, ("article", "main")):
            continue
        if (name == "aside" or role == "complementary") and _in_content(tag, ("article",)):
            continue
        if (name == "aside" or role == "complementary") and is_content_box(tag):
            kept.append(tag)
            continue
        if name == "form" and _has_text(tag) > total * 0.5:
            continue  # ASP.NET wraps the whole page in one <form>
        if name == "button" and tag.find_parent(
            ["h1", "h2", "h3", "h4", "h5", "h6", "summary", "dt"]
        ):
            tag.unwrap()  # an accordion's question is a button inside its heading
            continue
        if (
            name in _CHROME_TAGS
            or role in _CHROME_ROLES
            or str(tag.get("aria-modal", "")) == "true"
        ):
            if name in ("header",) and _has_text(tag) > total * 0.6:
                continue  # a page built inside <header> is still a page
            tag.decompose()
            continue
        label = _names(tag)
        if label.strip() and name not in ("html", "body", "main", "article"):
            if _CONSENT.search(label) and _has_text(tag) < 2000:
                tag.decompose()
                continue
            if _BREADCRUMB.search(label):
                tag.decompose()
                continue
        if (
            name == "a"
            and str(tag.get("href", "")).startswith("#")
            and _SKIP_LINK.match(tag.get_text())
        ):
            tag.decompose()
    _into_content(kept, tags)


# A box beside the content is navigation when most of its text is links ("Latest news" and
# its titles), content when little of it is ("The park in numbers", "Updated September 2026",
# "13 resident organisations", ...): the usual link-density reading of boilerplate detection.
_BOX_MAX_LINK_SHARE = 0.3
_BOX_MIN_CHARS = 40


def is_content_box(tag: Tag) -> bool:
    """A sidebar box whose text is content (figures, dates, sentences), not links: at least
    ``_BOX_MIN_CHARS`` characters, at most ``_BOX_MAX_LINK_SHARE`` of them inside links, no
    form fields."""
    text = _has_text(tag)
    if text < _BOX_MIN_CHARS or tag.find(["form", "input", "select", "textarea", "button"]):
        return False
    linked = sum(_has_text(a) for a in tag.find_all("a"))
    return linked <= _BOX_MAX_LINK_SHARE * text


def _into_content(boxes: list[Tag], tags: _Tags) -> None:
    """Content boxes kept beside the page's main container go to its end, as sections: the
    Markdown step reads that container only, and drops ``<aside>`` elements."""
    if not boxes:
        return  # most pages: no walk over the page's tags for a container
    container = next(
        (t for t in tags.live() if t.name == "main" or str(t.get("role", "")).lower() == "main"),
        None,
    )
    for box in boxes:
        if _removed(box):
            continue
        box.name = "section"
        if box.get("role"):
            del box["role"]
        if container is not None and not _in_content(box, ("main",)):
            container.append(box.extract())
