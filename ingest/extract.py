"""Extraction: a RawDocument's bytes -> a Page (clean main content plus metadata).

``extract(raw)`` is a pure function of the RawDocument. It never touches the network or the
disk, so the same bytes always give the same Page.

HTML goes through three steps:

1. decode: HTTP charset, then ``<meta charset>``, then UTF-8, then detection
   (charset_normalizer), so a Latin-1 page without a charset keeps its accents and invalid
   UTF-8 never crashes;
2. pre-clean the DOM with BeautifulSoup: drop comments, scripts, hidden and visually hidden
   blocks (inline styles and simple ``<style>`` rules), and generic site chrome (``nav``,
   ``header``, ``footer``, ``aside``, ARIA landmarks, consent banners, breadcrumbs). Hidden
   text matters beyond tidiness: partner pages are third-party content and may hide
   instructions meant for the assistant;
3. trafilatura picks the main content and renders Markdown (headings, lists, tables).

Nothing here depends on one site's class names or ids: the rules use HTML semantics, ARIA
roles, CSS properties and a few generic words (cookie, consent, breadcrumb).

Errors::

    ExtractionError(reason)   the document gives no usable text (binary junk, encrypted or
                              corrupt PDF, no main content); the run skips it with the reason
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from bs4.element import Declaration, ProcessingInstruction
from lxml.html import HtmlElement

from ingest.records import Page, RawDocument

log = logging.getLogger(__name__)

MIN_TEXT_CHARS = 20  # fewer letters than this is "no main content"
_LANG_MIN_CHARS = 20  # below this a language guess is noise
# libxml2 (under lxml, trafilatura and htmldate) silently drops what lies deeper than 255
# elements; deeper wrappers are unwrapped before the page reaches it, keeping their text.
_MAX_DEPTH = 200
_BLOCKS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "td",
    "th",
    "pre",
    "blockquote",
    "main",
    "article",
    "section",
}
_START_TAG = re.compile(r"<[A-Za-z]")
# trafilatura's Markdown output costs memory quadratic in the inline elements of one block
# (20,000 <i> in a paragraph: 0.47 GB; 60,000: 3.6 GB, measured); past this many, a block's
# inline markup is dropped and its text kept.
_MAX_INLINE_PER_BLOCK = 200
_INLINE = {
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "del",
    "em",
    "font",
    "i",
    "ins",
    "kbd",
    "mark",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "tt",
    "u",
}


@dataclass(frozen=True)
class ExtractOptions:
    """Per-document limits and trust rules of extraction (built from the settings by the caller).

    ``canonical_hosts``: hosts a declared canonical URL may point to besides the document's
    own (a crawled page's host, or its start URL's); for local files, when empty, any host.
    ``min_language_confidence``: a detected language below this probability is not used.
    ``page_type_words``: URL path words that name a page type, beyond ingest/page_types.json.
    """

    max_elements: int = 200_000
    max_text_chars: int = 2_000_000
    canonical_hosts: tuple[str, ...] = ()
    min_language_confidence: float = 0.8
    page_type_words: tuple[tuple[str, str], ...] = ()  # (URL word, page type) pairs


class ExtractionError(Exception):
    """The document gives no usable text; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def extract(raw: RawDocument, options: ExtractOptions | None = None) -> Page:
    """Turn one raw document into a Page; raise ExtractionError with a reason when it cannot.

    A document over one of the ``options`` budgets (elements, text length) is refused with
    a reason starting "over budget".
    """
    options = options or ExtractOptions()
    if not raw.content:
        raise ExtractionError("empty")
    if raw.kind == "html":
        return _extract_html(raw, options)
    if raw.kind == "pdf":
        return _extract_pdf(raw, options)
    if raw.kind == "markdown":
        return _extract_markdown(raw, options)
    if raw.kind == "text":
        return _extract_text(raw, options)
    raise ExtractionError(f"unsupported kind {raw.kind!r}")


def _check_text_budget(text: str, options: ExtractOptions) -> None:
    if len(text) > options.max_text_chars:
        raise ExtractionError(
            f"over budget: {len(text):,} characters of text (limit {options.max_text_chars:,})"
        )


# --- decoding --------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
# WHATWG: browsers read these labels as windows-1252, and real pages rely on it.
_CP1252_ALIASES = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii"}


def looks_binary(data: bytes) -> bool:
    """True when the bytes are clearly not text (NUL bytes or many control characters)."""
    sample = data[:8192]
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > len(sample) * 0.05


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _CP1252_ALIASES:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _mostly_utf8(data: bytes) -> bool:
    """True when the bytes are UTF-8 with at most a few broken sequences."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return bad == 0 or good >= bad


def decode_text(data: bytes, declared: str | None = None, *, sniff_meta: bool = False) -> str:
    """Decode document bytes: BOM, declared charset, ``<meta charset>``, UTF-8, then detection.

    Never raises on bad bytes (they become U+FFFD); raises ExtractionError("not text") for
    binary data.
    """
    if looks_binary(data):
        raise ExtractionError("not text (binary data)")
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    candidates: list[str | None] = [_codec(declared)]
    if sniff_meta:
        match = _META_CHARSET.search(data[:4096])
        candidates.append(_codec(match.group(1).decode("ascii", "ignore")) if match else None)
    for codec in candidates:
        if not codec:
            continue
        # A page that says UTF-8 but is not (a common CMS mistake) is detected instead.
        if codec == "utf-8" and not _mostly_utf8(data):
            break
        return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return data.decode("utf-8", errors="replace")
    text = _detect_and_decode(data)
    if text.count("\ufffd") > max(10, len(text) // 20):
        raise ExtractionError("not text (undecodable bytes)")
    return text


_WESTERN = ("cp1252", "iso8859_15", "latin_1")


def _detect_and_decode(data: bytes) -> str:
    """Decode bytes of unknown single- or multi-byte encoding.

    charset_normalizer ranks several Latin code pages as equally good on short Italian or
    English text (cp1250 turns "città" into "cittŕ"); among equally good guesses the
    Western one wins, since that is what undeclared pages on Italian and English sites use.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data[:200_000]))
    if not matches:
        return data.decode("cp1252", errors="replace")
    best = matches[0]
    ties = [
        m.encoding
        for m in matches
        if m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.01
    ]
    for name in _WESTERN:
        if name in ties:
            return data.decode("cp1252" if name == "latin_1" else name, errors="replace")
    return data.decode(_codec(best.encoding) or "cp1252", errors="replace")


# --- language --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """Best ISO 639-1 guess for the text and its probability ("" when too short)."""
    sample = " ".join(text.split())[:5000]
    if sum(ch.isalpha() for ch in sample) < _LANG_MIN_CHARS:
        return "", 0.0
    lang, prob = _identifier().classify(sample)
    return str(lang), float(prob)


def _language_tag(value: str | None) -> str:
    """'en-US' / 'it_IT' -> 'en' / 'it'."""
    if not value:
        return ""
    tag = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return tag if re.fullmatch(r"[a-z]{2,3}", tag) else ""


def _choose_language(declared: str, text: str, options: ExtractOptions, fallback: str = "") -> str:
    """The declared language, unless the text is long and clearly in another language.

    Undeclared, a guess below ``options.min_language_confidence`` (short or mixed text gives
    guesses such as Nigerian Pidgin for English) is not used: ``fallback`` (e.g. the page's
    own hreflang) or '' (unknown) is.
    """
    guess, prob = detect_language(text)
    if not declared:
        if guess and prob >= options.min_language_confidence:
            return guess
        return fallback
    # Sites often keep a theme's default lang="en-US" over Italian text; trust a confident
    # guess on enough text over the attribute.
    if guess and guess != declared and prob > 0.98 and len(text) > 600:
        log.info("declared language %s overridden by detected %s", declared, guess)
        return guess
    return declared


# --- hidden text -----------------------------------------------------------------------

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


def _removed(tag: Tag) -> bool:
    """True once a tag (or an ancestor) was decomposed.

    Reads the flag directly: ``tag.decomposed`` falls back to a subtree search for tags
    never decomposed, which made deep or large pages quadratic (measured).
    """
    return bool(tag.__dict__.get("_decomposed", False))


def _has_text(tag: Tag) -> int:
    return len(tag.get_text(" ", strip=True))


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


# --- site chrome -----------------------------------------------------------------------

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


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class")
    if value is None:
        return []
    return [str(c) for c in value] if isinstance(value, list) else str(value).split()


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


# --- metadata --------------------------------------------------------------------------


@dataclass
class _Meta:
    canonical: str = ""
    title: str = ""
    description: str = ""
    language: str = ""
    alternates: dict[str, str] = field(default_factory=dict)
    page_type: str = ""
    date: str = ""


def _meta_index(tags: _Tags) -> dict[str, str]:
    """<meta name|property|itemprop|http-equiv=key content> as {key (lower case): content}.

    Built in one pass: looking each key up with soup.find() cost most of extraction's time.
    """
    index: dict[str, str] = {}
    for tag in tags.named("meta"):
        content = " ".join(str(tag.get("content") or "").split())
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = tag.get(attr)
            if key:
                index.setdefault(str(key).strip().lower(), content)
    return index


def _meta_content(index: dict[str, str], *keys: str) -> str:
    """The first non-empty meta content among ``keys``."""
    for key in keys:
        value = index.get(key.lower())
        if value:
            return value
    return ""


def _absolute(href: str, base: str) -> str:
    """An absolute http(s) URL without fragment, or '' when it cannot be made one."""
    href = href.strip()
    if not href:
        return ""
    url = urljoin(base, href) if base else href
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return url.split("#", 1)[0]


def _rel(tag: Tag) -> list[str]:
    rel = tag.get("rel")
    if rel is None:
        return []
    return [str(r).lower() for r in (rel if isinstance(rel, list) else str(rel).split())]


_STRONG_SEPARATOR = re.compile(r"\s+(?:\||·|•|»|—|::|~)\s+")
_DASH_SEPARATOR = re.compile(r"\s+[-–]\s+")
_ANY_SEPARATOR = r"\s+(?:\||·|•|»|—|::|~|-|–|:)\s+"


def _related(part: str, site_name: str) -> bool:
    part, site = part.lower().strip(), site_name.lower().strip()
    return bool(site) and len(part) >= 3 and (part in site or site in part)


def _trim_site_name(title: str, site_name: str, *, guess: bool = True) -> str:
    """'Contacts | Kilometro Rosso' -> 'Contacts': drop the site-name side of a title.

    The side that matches ``site_name`` goes; without a match, ``guess`` drops the suffix
    after the last strong separator (the common "Page | Site" pattern).
    """
    title = " ".join(title.split())
    for pattern in (_STRONG_SEPARATOR, _DASH_SEPARATOR):
        found = list(pattern.finditer(title))
        if not found:
            continue
        last = found[-1]
        head, tail = title[: last.start()].strip(), title[last.end() :].strip()
        if _related(tail, site_name):
            return head
        if _related(head, site_name):
            return tail
        if guess and pattern is _STRONG_SEPARATOR:
            return head
    return title


def _json_ld_types(tags: _Tags) -> tuple[set[str], str]:
    """@type values and the first datePublished from JSON-LD blocks."""
    types: set[str] = set()
    published = ""

    def walk(node: object) -> None:
        nonlocal published
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            kind = node.get("@type")
            for value in kind if isinstance(kind, list) else [kind]:
                if isinstance(value, str):
                    types.add(value)
            if not published and isinstance(node.get("datePublished"), str):
                published = node["datePublished"]
            for key in ("@graph", "mainEntity", "itemListElement"):
                if key in node:
                    walk(node[key])

    for script in tags.named("script"):
        if "ld+json" not in str(script.get("type") or "").lower():
            continue
        try:
            walk(json.loads(script.get_text() or "null"))
        except (ValueError, RecursionError):
            continue
    return types, published


# Generic words for sections of a site, by page type: data, extended by a setting.
_SECTION_WORDS: dict[str, list[str]] = {
    kind: words
    for kind, words in json.loads(
        (Path(__file__).with_name("page_types.json")).read_text(encoding="utf-8")
    ).items()
    if not kind.startswith("_")
}
_WORD_TO_TYPE = {word: kind for kind, words in _SECTION_WORDS.items() for word in words}
_SCHEMA_TYPES = {
    "NewsArticle": "news",
    "BlogPosting": "news",
    "ReportageNewsArticle": "news",
    "Event": "events",
    "FAQPage": "faq",
    "ContactPage": "contacts",
    "AboutPage": "about",
}


def page_type_from_url(url: str, extra: Mapping[str, str] | None = None) -> str:
    """A page type from generic section words in the URL path ('' when none).

    ``extra`` (word -> type) adds to or overrides the words of ingest/page_types.json.
    """
    words = {**_WORD_TO_TYPE, **extra} if extra else _WORD_TO_TYPE
    path = urlsplit(url).path if "://" in url else url
    segments = [
        PurePosixPath(s).stem.lower() if "." in s else s.lower()
        for s in path.strip("/").split("/")
        if s
    ]
    content = [
        s for s in segments if not re.fullmatch(r"[a-z]{2}([-_][a-z]{2})?|index|default|home", s)
    ]
    if not content:
        return "home"
    for segment in content:
        if segment in words:
            return words[segment]
    return ""


def _page_type(
    metas: dict[str, str], url: str, ld_types: set[str], extra: Mapping[str, str]
) -> str:
    declared = _meta_content(metas, "page-type", "page_type", "pagetype")
    if declared:
        return declared.lower()
    for schema, kind in _SCHEMA_TYPES.items():
        if schema in ld_types:
            return kind
    from_url = page_type_from_url(url, extra) if url else ""
    if from_url:
        return from_url
    if _meta_content(metas, "og:type").lower() == "article" or "Article" in ld_types:
        return "news"
    return ""


def iso_date(value: str) -> str:
    """An ISO date (YYYY-MM-DD) from ISO 8601 or HTTP-date text; '' when not a date."""
    value = (value or "").strip()
    if not value:
        return ""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
    if match:
        return match.group(0)
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return ""


def _declared_date(tags: _Tags, metas: dict[str, str], ld_published: str) -> str:
    """A publication date the page states in its metadata or main <time> element."""
    for value in (
        _meta_content(
            metas,
            "article:published_time",
            "og:published_time",
            "datePublished",
            "date",
            "dc.date",
            "dc.date.issued",
            "dcterms.date",
            "publish-date",
            "pubdate",
        ),
        ld_published,
    ):
        if iso_date(value):
            return iso_date(value)
    for time in tags.named("time"):
        # Only a <time> inside the article or main content dates the page (not a sidebar's).
        value = iso_date(str(time.get("datetime") or ""))
        if value and _in_content(time, tuple(_CONTENT_CONTAINERS)):
            return value
    return ""


def _guessed_date(cleaned_html: str, url: str, *, article: bool) -> str:
    """htmldate's guess on the cleaned page (sidebars would mislead it).

    Only a news item's text is searched for dates: elsewhere the years in the prose
    ("since 2019", a table of founding years) are not the page's date (measured).
    """
    try:
        from htmldate import find_date

        return (
            find_date(
                cleaned_html,
                extensive_search=article,
                original_date=True,
                url=url if url.startswith("http") else None,
            )
            or ""
        )
    except Exception:  # noqa: BLE001 - htmldate guesses; a failed guess is just no date
        return ""


def _html_metadata(tags: _Tags, raw: RawDocument, options: ExtractOptions) -> _Meta:
    meta = _Meta()
    from_web = raw.location.startswith(("http://", "https://"))
    base = raw.location if from_web else ""
    base_tag = next((t for t in tags.named("base") if t.get("href")), None)
    if base_tag is not None and from_web:
        base = urljoin(base, str(base_tag["href"]))
    links = [t for t in tags.named("link") if t.get("href")]
    for link in links:
        if "canonical" in _rel(link) and not meta.canonical:
            meta.canonical = _trusted_canonical(_absolute(str(link["href"]), base), raw, options)
    base = base or meta.canonical
    for link in links:
        if link.get("hreflang") and "alternate" in _rel(link):
            url = _absolute(str(link["href"]), base)
            if url:
                meta.alternates[str(link["hreflang"]).strip().lower()] = url
    metas = _meta_index(tags)
    site_name = _meta_content(metas, "og:site_name", "application-name")
    title_tag = tags.first("title")
    raw_title = " ".join(title_tag.get_text().split()) if title_tag else ""
    h1 = tags.first("h1")
    h1_text = " ".join(h1.get_text(" ").split()) if h1 else ""
    trimmed = _trim_site_name(raw_title, site_name) if raw_title else ""
    og_title = _meta_content(metas, "og:title", "twitter:title")
    if og_title:
        meta.title = _trim_site_name(og_title, site_name, guess=False)
    elif h1_text and re.match(
        re.escape(h1_text) + r"(\s*$|" + _ANY_SEPARATOR + ")", raw_title, re.I
    ):
        meta.title = h1_text  # "<h1> - Site name": the <h1> shows where the suffix starts
    elif trimmed and trimmed.lower() != site_name.lower():
        meta.title = trimmed
    else:
        meta.title = h1_text or trimmed or raw_title
    meta.description = _meta_content(metas, "description", "og:description", "twitter:description")
    html_tag = tags.first("html")
    meta.language = _language_tag(
        str(html_tag.get("lang") or html_tag.get("xml:lang") or "") if html_tag else ""
    ) or _language_tag(_meta_content(metas, "content-language", "language", "dc.language"))
    ld_types, ld_published = _json_ld_types(tags)
    meta.page_type = _page_type(
        metas,
        meta.canonical or (raw.location if from_web else raw.fallback_id),
        ld_types,
        dict(options.page_type_words),
    )
    meta.date = _declared_date(tags, metas, ld_published)
    return meta


# --- HTML ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _trafilatura_config():  # type: ignore[no-untyped-def]
    from trafilatura.settings import use_config

    config = use_config()
    # Short pages (opening hours, a contact card) are content too; the pre-clean has
    # already removed the chrome trafilatura would otherwise fall back to.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "40")
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "10")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def _strip_heavy_inline(tree: HtmlElement) -> None:
    """Drop the inline markup (keeping the text) of blocks that hold too much of it."""
    from lxml import etree

    counts: dict[HtmlElement, int] = {}
    for element in tree.iter(*_INLINE):
        block = element.getparent()
        while block is not None and block.tag in _INLINE:
            block = block.getparent()
        if block is not None:
            counts[block] = counts.get(block, 0) + 1
    for block, count in counts.items():
        if count > _MAX_INLINE_PER_BLOCK:
            etree.strip_tags(block, *_INLINE)
            # strip_tags leaves one text node per removed tag, and lxml joins them on every
            # read of .text (trafilatura reads often: quadratic); set once, they are one.
            for element in block.iter():
                element.text = element.text
                if element is not block:
                    element.tail = element.tail


def _trafilatura(html: str, url: str | None, *, recall: bool) -> str:
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return ""
    _strip_heavy_inline(tree)
    text = trafilatura.extract(
        tree,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_formatting=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_recall=recall,
        favor_precision=not recall,
        config=_trafilatura_config(),
    )
    return text or ""


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")


def tidy_markdown(text: str) -> str:
    """Trim spaces (source indentation would read as code blocks) and runs of blank lines."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.rstrip()
        lines.append(line if _LIST_ITEM.match(line) else line.lstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_markdown(html: str, url: str | None = None) -> str:
    """Main content of an HTML page as Markdown, hidden text and site chrome removed."""
    soup = BeautifulSoup(html, "lxml")
    tags = _Tags(soup)
    remove_hidden(soup, tags)
    return _main_markdown(soup, tags, url)[0]


def _main_markdown(soup: BeautifulSoup, tags: _Tags, url: str | None) -> tuple[str, str]:
    """(Markdown of the main content, cleaned HTML); removes the chrome from ``soup``."""
    remove_chrome(soup, tags)
    for caption in tags.named("caption"):
        # trafilatura renders a caption as a fake first table row; a paragraph reads better.
        table = caption.find_parent("table")
        if table is not None:
            paragraph = soup.new_tag("p")
            paragraph.string = caption.get_text(" ", strip=True)
            table.insert_before(paragraph)
        caption.decompose()
    body = tags.first("body")
    live = tags.live()
    if body is not None and not any(
        t.name in ("main", "article") or str(t.get("role", "")).lower() in ("main", "article")
        for t in live
    ):
        # Without a content container trafilatura falls back to collecting loose
        # paragraphs and loses headings and lists (measured); a <main> around the body
        # keeps them, and its link-density pruning still drops sidebars.
        main = soup.new_tag("main")
        for child in list(body.contents):
            main.append(child.extract())
        body.append(main)
    _flatten_deep(tags)
    # Recall mode: precision mode drops lists and short pages' only paragraphs; the chrome
    # it guards against is already gone.
    cleaned = str(soup)
    return tidy_markdown(_trafilatura(cleaned, url, recall=True)), cleaned


def _flatten_deep(tags: _Tags) -> None:
    """Unwrap elements nested deeper than libxml2 reads, so their text is kept.

    Depth is counted over the elements that stay: a block (paragraph, heading, list, table)
    is kept while it fits, wrappers beyond the limit give way to their content.
    """
    depth: dict[int, int] = {}
    deep: list[Tag] = []
    for tag in tags.live():
        parent = tag.parent
        level = depth.get(id(parent), 0) if parent is not None else 0
        keep = level < _MAX_DEPTH or (tag.name in _BLOCKS and level < _MAX_DEPTH + 40)
        depth[id(tag)] = level + 1 if keep else level
        if not keep:
            deep.append(tag)
    for tag in reversed(deep):
        tag.unwrap()


def _extract_html(raw: RawDocument, options: ExtractOptions) -> Page:
    html = decode_text(raw.content, raw.charset, sniff_meta=True)
    if "\ufffd" in html[:2000] and html.count("\ufffd") > len(html) // 10:
        raise ExtractionError("not text (undecodable bytes)")
    # Counted on the text, before any tree is built: the tree is what costs memory.
    elements = sum(1 for _ in _START_TAG.finditer(html))
    if elements > options.max_elements:
        raise ExtractionError(
            f"over budget: {elements:,} HTML elements (limit {options.max_elements:,})"
        )
    soup = BeautifulSoup(html, "lxml")
    tags = _Tags(soup)
    meta = _html_metadata(tags, raw, options)
    remove_hidden(soup, tags)
    from_web = raw.location.startswith(("http://", "https://"))
    url = meta.canonical or (raw.location if from_web else None)
    text, cleaned = _main_markdown(soup, tags, url)
    if _letters(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no main content")
    _check_text_budget(text, options)
    date = (
        meta.date
        or _guessed_date(cleaned, url or "", article=meta.page_type == "news")
        or (iso_date(raw.last_modified or "") if from_web else "")
    )
    title = meta.title or _first_line(text)
    return Page(
        source_id=meta.canonical or raw.fallback_id,
        url=meta.canonical or _reader_url(raw),
        title=title,
        text=text,
        language=_choose_language(
            meta.language, text, options, _own_hreflang(meta.alternates, url or "")
        ),
        description=meta.description,
        page_type=meta.page_type,
        date=date,
        alternates=meta.alternates,
    )


def _reader_url(raw: RawDocument) -> str:
    """Where a reader opens a page without a canonical URL: the fetched URL, or the path
    under the source root for files (an absolute path would leak the machine's layout)."""
    return raw.location if raw.location.startswith(("http://", "https://")) else raw.fallback_id


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _trusted_canonical(canonical: str, raw: RawDocument, options: ExtractOptions) -> str:
    """``canonical`` when the document may claim it, else '' (it keeps its own identity).

    A page may only name a canonical URL on its own host, its source's host, or one of
    ``options.canonical_hosts``: otherwise any page could take over another site's identity.
    Local files have no host of their own, so without a configured list any host is taken.
    """
    if not canonical:
        return ""
    allowed = {_host(h if "://" in h else f"//{h}") for h in options.canonical_hosts}
    for own in (raw.location, raw.origin):
        if own.startswith(("http://", "https://")):
            allowed.add(_host(own))
    if not allowed or _host(canonical) in allowed:
        return canonical
    log.info("ignored canonical %s of %s: not on the source's host", canonical, raw.location)
    return ""


def _own_hreflang(alternates: dict[str, str], url: str) -> str:
    """The language a page declares for itself among its hreflang alternates ('' if none)."""
    for lang, href in alternates.items():
        tag = _language_tag(lang)
        if url and tag and href.rstrip("/") == url.rstrip("/"):
            return tag
    return ""


# --- Markdown, text, PDF ---------------------------------------------------------------


def _first_line(text: str, limit: int = 150) -> str:
    for line in text.splitlines():
        line = " ".join(line.strip().lstrip("#").split())
        if _letters(line) >= 2:
            if len(line) > limit:
                line = line[:limit].rsplit(" ", 1)[0] + "…"
            return line
    return ""


def _title_from_name(location: str) -> str:
    stem = PurePosixPath(location.replace("\\", "/").split("?")[0]).stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:]


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple YAML front matter ('key: value' lines between '---' fences) and the rest."""
    match = re.match(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", text, flags=re.S)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_][\w-]*", key.strip()):
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _setext_to_atx(text: str) -> str:
    """'Title\\n=====' -> '# Title' and 'Section\\n-----' -> '## Section'."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            line.strip()
            and not line.lstrip().startswith(("#", "-", "*", "|", ">"))
            and re.fullmatch(r"\s*(=+|-+)\s*", nxt)
            and len(nxt.strip()) >= 3
        ):
            out.append(("# " if nxt.strip()[0] == "=" else "## ") + line.strip())
            i += 2
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _page_from_text(
    raw: RawDocument, text: str, title: str, fields: dict[str, str], options: ExtractOptions
) -> Page:
    _check_text_budget(text, options)
    text = tidy_markdown(text)
    if _letters(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no text")
    canonical = _trusted_canonical(
        _absolute(
            fields.get("canonical_url") or fields.get("canonical") or fields.get("url", ""), ""
        ),
        raw,
        options,
    )
    declared = _language_tag(fields.get("lang") or fields.get("language"))
    location = canonical or raw.fallback_id
    return Page(
        source_id=canonical or raw.fallback_id,
        url=canonical or _reader_url(raw),
        title=title,
        text=text,
        language=declared or _choose_language("", text, options),
        description=fields.get("description", ""),
        page_type=(fields.get("page_type") or fields.get("type") or "").lower()
        or _doc_type(location, dict(options.page_type_words)),
        date=iso_date(fields.get("date", "")),
    )


def _doc_type(location: str, extra: Mapping[str, str]) -> str:
    kind = page_type_from_url(location, extra)
    return "" if kind == "home" else kind


def _extract_markdown(raw: RawDocument, options: ExtractOptions) -> Page:
    text = decode_text(raw.content, raw.charset)
    _check_text_budget(text, options)
    fields, body = _front_matter(text)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)  # comments are hidden text
    body = _setext_to_atx(body)
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", body, flags=re.M)
    title = (
        fields.get("title")
        or (" ".join(heading.group(1).split()) if heading else "")
        or _title_from_name(raw.location)
    )
    return _page_from_text(raw, body, title, fields, options)


def _extract_text(raw: RawDocument, options: ExtractOptions) -> Page:
    text = decode_text(raw.content, raw.charset)
    _check_text_budget(text, options)
    title = _first_line(text) or _title_from_name(raw.location)
    return _page_from_text(raw, _setext_to_atx(text), title, {}, options)


def _extract_pdf(raw: RawDocument, options: ExtractOptions) -> Page:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if b"%PDF-" not in raw.content[:1024]:
        raise ExtractionError("corrupt PDF (no PDF header)")
    try:
        reader = PdfReader(io.BytesIO(raw.content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        meta_title = str(info.title or "").strip() if info else ""
    except ExtractionError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise ExtractionError(f"encrypted PDF ({exc})") from exc
    except (
        PdfReadError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OSError,
        RecursionError,
        AssertionError,
        IndexError,
    ) as exc:
        raise ExtractionError(f"corrupt PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if _letters(text) < MIN_TEXT_CHARS:
        raise ExtractionError("no text in PDF (scanned images?)")
    title = (
        meta_title
        if _letters(meta_title) >= 3
        else _first_line(text) or _title_from_name(raw.location)
    )
    return _page_from_text(raw, text, title, {}, options)
