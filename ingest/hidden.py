"""Extraction step 2, hidden text: drop what a reader cannot see.

Comments, scripts, and elements hidden by attributes, utility classes, inline styles or simple
``<style>`` rules (display, visibility, opacity, tiny or off-screen boxes, text the colour of
its background). Hidden text matters beyond tidiness: partner pages are third-party content and
may hide instructions meant for the assistant.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, Tag

from ingest.dom import _classes, _has_text, _removed, _Tags

log = logging.getLogger(__name__)


_HIDDEN_CLASSES = {
    "sr-only",
    "visually-hidden",
    "visuallyhidden",
    "screen-reader-text",
    "element-invisible",
    "sr-only-focusable",
    "screenreader-only",
    "hide-text",
    "u-hidden-visually",
}


# Framework utility classes that hide on every screen size, unless a responsive class shows
# the element again at some breakpoint (Bootstrap "d-none d-md-block", Tailwind "hidden md:block").
_HIDING_UTILITIES = {"hidden", "d-none", "invisible", "is-hidden", "hide"}


_RESPONSIVE_SHOW = re.compile(
    r"^(d-\w+-(block|flex|inline|inline-block|grid|table)|\w+:(block|flex|inline|inline-block|grid|table|visible))$"
)


_LENGTH = re.compile(r"^(-?\d*\.?\d+)\s*(px|pt|em|rem|%|vw|vh|)?$")


_SOFT_REASONS = {"opacity", "visibility", "transform"}  # also used by reveal-on-scroll effects


def _length(value: str) -> tuple[float, str] | None:
    match = _LENGTH.match(value.strip())
    if not match:
        return None
    return float(match.group(1)), match.group(2) or "px"


def _tiny(value: str, px: float = 1.0) -> bool:
    parsed = _length(value)
    if parsed is None:
        return False
    number, unit = parsed
    limit = {"px": px, "pt": px * 0.75, "em": 0.1, "rem": 0.1, "%": 10.0, "vw": 0.1, "vh": 0.1}
    return number <= limit.get(unit, px)


def _far_negative(value: str) -> bool:
    parsed = _length(value)
    if parsed is None:
        return False
    number, unit = parsed
    return number <= (-500 if unit in ("px", "pt") else -30 if unit in ("em", "rem") else -100)


def parse_declarations(style: str) -> dict[str, str]:
    """'color: red; DISPLAY:none !important' -> {'color': 'red', 'display': 'none'}."""
    result: dict[str, str] = {}
    for part in style.split(";"):
        name, sep, value = part.partition(":")
        if not sep:
            continue
        value = re.sub(r"!\s*important", "", value, flags=re.I).strip().lower()
        result[name.strip().lower()] = value
    return result


_NAMED_COLOURS = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "whitesmoke": (245, 245, 245),
    "snow": (255, 250, 250),
    "ivory": (255, 255, 240),
    "ghostwhite": (248, 248, 255),
}


def _colour(value: str) -> tuple[int, int, int, float] | None:
    """Parse a CSS colour into RGBA; None when unknown."""
    value = value.strip().lower()
    if value == "transparent":
        return (0, 0, 0, 0.0)
    if value in _NAMED_COLOURS:
        return (*_NAMED_COLOURS[value], 1.0)
    hexa = re.fullmatch(r"#([0-9a-f]{3,8})", value)
    if hexa:
        digits = hexa.group(1)
        if len(digits) in (3, 4):
            digits = "".join(ch * 2 for ch in digits)
        if len(digits) not in (6, 8):
            return None
        alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), alpha)
    func = re.fullmatch(r"rgba?\(([^)]*)\)", value)
    if func:
        parts = [p for p in re.split(r"[\s,/]+", func.group(1).strip()) if p]
        try:
            rgb = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            alpha = 1.0
            if len(parts) > 3:
                alpha = float(parts[3][:-1]) / 100 if parts[3].endswith("%") else float(parts[3])
        except ValueError:
            return None
        if len(rgb) == 3:
            return (int(rgb[0]), int(rgb[1]), int(rgb[2]), alpha)
    return None


def _background(decls: dict[str, str]) -> str | None:
    """The background colour a rule sets: a colour string, 'unknown' for images, or None."""
    for name in ("background-color", "background"):
        value = decls.get(name)
        if not value:
            continue
        if "url(" in value or "gradient" in value:
            return "unknown"
        for token in re.findall(r"#[0-9a-f]{3,8}|rgba?\([^)]*\)|[a-z]+", value):
            if _colour(token) is not None:
                return token
    return None


def hidden_reason(decls: dict[str, str]) -> str | None:
    """Why these declarations hide an element from a reader, or None when they do not."""
    get = decls.get
    if get("display") == "none":
        return "display"
    if get("visibility") in ("hidden", "collapse"):
        return "visibility"
    try:
        if "opacity" in decls and float(decls["opacity"].rstrip("%")) <= 0.05:
            return "opacity"
    except ValueError:
        pass
    if "font-size" in decls and _tiny(decls["font-size"], px=2.0):
        return "font-size"
    overflow = " ".join(filter(None, [get("overflow"), get("overflow-x"), get("overflow-y")]))
    if ("hidden" in overflow or "clip" in overflow) and (
        _tiny(get("width", "x")) or _tiny(get("height", "x")) or _tiny(get("max-height", "x"), 0)
    ):
        return "size"
    clip = get("clip", "")
    if clip.startswith("rect(") and all(
        _tiny(v) for v in re.split(r"[\s,]+", clip[5:].rstrip(")").strip()) if v
    ):
        return "clip"
    clip_path = get("clip-path", "").replace(" ", "")
    if clip_path in (
        "inset(50%)",
        "inset(100%)",
        "circle(0)",
        "circle(0px)",
        "polygon(0000,00,00)",
    ):
        return "clip"
    if get("position") in ("absolute", "fixed") and any(
        _far_negative(get(side, "0"))
        for side in ("left", "top", "right", "margin-left", "margin-top")
    ):
        return "off-screen"
    if _far_negative(get("text-indent", "0")):
        return "off-screen"
    transform = get("transform", "")
    if re.search(r"scale[xy]?\(\s*0(\.0+)?\s*[,)]", transform):
        return "transform"
    moved = re.search(r"translate[xy]?\(\s*(-?[\d.]+(?:px|em|rem|%)?)", transform)
    if moved and _far_negative(moved.group(1)):
        return "off-screen"
    colour = _colour(get("color", "")) if get("color") else None
    if colour is not None and colour[3] <= 0.05:
        return "colour"
    return None


def _same_colour(a: tuple[int, int, int, float], b: tuple[int, int, int, float]) -> bool:
    return all(abs(x - y) <= 16 for x, y in zip(a[:3], b[:3], strict=True))


def _split_css_blocks(css: str) -> Iterator[tuple[str, str]]:
    """Yield (prelude, body) for the top-level blocks of a stylesheet."""
    depth, start, prelude_start = 0, 0, 0
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                yield css[prelude_start:start].strip(), css[start + 1 : i]
                prelude_start = i + 1
        elif ch == ";" and depth == 0:
            prelude_start = i + 1  # @import / @charset statements


def css_rules(css: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (selector, declarations) from a stylesheet, minimally parsed.

    Rules inside ``@media`` apply only when the media query is plain screen/all (a rule
    for print or for narrow screens does not hide text from a desktop reader); other
    at-rules (@font-face, @keyframes...) are skipped.
    """
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for prelude, body in _split_css_blocks(css):
        if prelude.startswith("@"):
            at = prelude.lower()
            if (
                at.startswith("@media")
                and re.fullmatch(r"@media\s*(only\s+)?(screen|all)?\s*", at)
                or at.startswith("@supports")
                or at.startswith("@layer")
            ):
                yield from css_rules(body)
            continue
        decls = parse_declarations(body)
        for selector in prelude.split(","):
            selector = selector.strip()
            if selector:
                yield selector, decls


_STYLE_PROPS = {
    "display",
    "visibility",
    "opacity",
    "font-size",
    "width",
    "height",
    "max-height",
    "overflow",
    "overflow-x",
    "overflow-y",
    "clip",
    "clip-path",
    "position",
    "left",
    "top",
    "right",
    "margin-left",
    "margin-top",
    "text-indent",
    "transform",
    "color",
    "background",
    "background-color",
}


_MAX_HIDING_RULES = 500


_MAX_COLOUR_RULES = 300


def _computed_styles(soup: BeautifulSoup, tags: _Tags) -> dict[int, dict[str, str]]:
    """Declarations per element (by id()): simple stylesheet rules, then the inline style.

    Rules that hide by themselves come first; colour rules (for text the colour of its
    background) follow up to a cap, since each rule is one selector match over the page.
    """
    hiding: list[tuple[str, dict[str, str]]] = []
    colours: list[tuple[str, dict[str, str]]] = []
    for style in tags.named("style"):
        for selector, decls in css_rules(style.get_text()):
            relevant = {k: v for k, v in decls.items() if k in _STYLE_PROPS}
            # Pseudo-classes/elements (:hover, ::before) and the root element do not hide
            # content as the page loads.
            if not relevant or ":" in selector or re.fullmatch(r"(html|body|\*)", selector):
                continue
            if hidden_reason(relevant):
                hiding.append((selector, relevant))
            elif {"color", "background", "background-color"} & relevant.keys():
                colours.append((selector, relevant))
    rules = hiding[:_MAX_HIDING_RULES] + colours[:_MAX_COLOUR_RULES]
    matched: list[tuple[int, Tag, dict[str, str]]] = []
    for order, (selector, relevant) in enumerate(rules):
        try:
            found = soup.select(selector)
        except Exception:  # noqa: BLE001 - soupsieve rejects selectors it does not know
            continue
        matched.extend((order, tag, relevant) for tag in found)
    styles: dict[int, dict[str, str]] = {}
    for _, tag, relevant in sorted(matched, key=lambda item: item[0]):
        styles.setdefault(id(tag), {}).update(relevant)
    for tag in tags.all:
        if tag.has_attr("style"):
            styles.setdefault(id(tag), {}).update(parse_declarations(str(tag.get("style", ""))))
    return styles


def remove_hidden(soup: BeautifulSoup, tags: _Tags | None = None) -> list[str]:
    """Drop comments, scripts and every element a reader cannot see; return what was dropped."""
    tags = tags or _Tags(soup)
    dropped: list[str] = []
    for node in tags.comments:
        node.extract()
    styles = _computed_styles(soup, tags)
    for tag in tags.named("script", "style", "noscript", "template", "object", "embed"):
        tag.decompose()
    body = tags.first("body") or soup
    total = max(_has_text(body), 1)
    candidates: list[tuple[Tag, str]] = []
    for tag in tags.live():
        reason = _why_hidden(tag, styles)
        if reason and tag.name not in ("html", "head", "body") and tag.find_parent("head") is None:
            candidates.append((tag, reason))
    for tag, reason in candidates:
        if _removed(tag):
            continue
        size = _has_text(tag)
        # Reveal-on-scroll themes start whole sections at opacity 0: a block that holds
        # most of the page is far likelier that than an injection.
        if reason in _SOFT_REASONS and size > total * 0.5:
            continue
        if size:
            dropped.append(f"{reason}: {tag.get_text(' ', strip=True)[:80]}")
        tag.decompose()
    if dropped:
        log.debug("dropped %d hidden blocks: %s", len(dropped), dropped[:5])
    return dropped


def _why_hidden(tag: Tag, styles: dict[int, dict[str, str]]) -> str | None:
    if tag.has_attr("hidden"):
        return "hidden-attribute"
    if str(tag.get("aria-hidden", "")).lower() == "true":
        return "aria-hidden"
    if tag.name == "input" and str(tag.get("type", "")).lower() == "hidden":
        return "hidden-input"
    classes = {c.lower() for c in _classes(tag)}
    if classes & _HIDDEN_CLASSES:
        return "screen-reader-only"
    if classes & _HIDING_UTILITIES and not any(_RESPONSIVE_SHOW.match(c) for c in classes):
        return "utility-class"
    decls = styles.get(id(tag))
    if not decls:
        return None
    reason = hidden_reason(decls)
    if reason:
        return reason
    if "color" in decls:
        colour = _colour(decls["color"])
        if colour is not None and _same_colour(colour, _effective_background(tag, styles)):
            return "colour"
    return None


def _effective_background(
    tag: Tag, styles: dict[int, dict[str, str]]
) -> tuple[int, int, int, float]:
    """The nearest declared background colour; white when none (the browser default)."""
    node: Tag | None = tag
    while node is not None and isinstance(node, Tag):
        background = _background(styles.get(id(node), {}))
        if background == "unknown":
            return (-999, -999, -999, 1.0)  # an image: never "the same colour" as text
        if background:
            parsed = _colour(background)
            if parsed is not None and parsed[3] > 0.05:
                return parsed
        node = node.parent
    return (255, 255, 255, 1.0)
