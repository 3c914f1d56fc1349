"""The vocabulary of the directory readers: field labels, and the small text and link helpers
every reader shares (a tag's text, a plausible name, a link's target, 'Label: value' lines).

Pure functions of a parsed tag or a string; nothing here knows a site's class names or URLs.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urljoin, urlsplit

from bs4 import Tag

from ingest.directory import DirectoryEntry
from vectorstore.patterns import YEAR

# Column and field labels, lower case, English and Italian. A header or label matches a field
# when it equals a label or starts with one as a whole word. Order matters: the first field
# whose label matches wins ("Anno di arrivo" is a date before it is anything else).
LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "since",
        (
            "since",
            "dal",
            "from",
            "arrived",
            "arrival",
            "arrivo",
            "year",
            "anno",
            "founded",
            "established",
            "insediamento",
            "insediata",
            "on campus since",
            "presente dal",
        ),
    ),
    (
        "building",
        (
            "building",
            "edificio",
            "sede",
            "location",
            "where",
            "dove",
            "palazzina",
            "office",
            "offices",
            "uffici",
            "address",
            "indirizzo",
        ),
    ),
    (
        "sector",
        (
            "sector",
            "settore",
            "cluster",
            "field",
            "ambito",
            "industry",
            "comparto",
            "category",
            "categoria",
            "type",
            "tipo",
            "tipologia",
            "domain",
        ),
    ),
    (
        "description",
        (
            "what it does",
            "what they do",
            "description",
            "descrizione",
            "activity",
            "activities",
            "attività",
            "di cosa si occupa",
            "cosa fa",
            "about",
            "profile",
            "profilo",
            "focus",
            "business",
            "research",
            "ricerca",
        ),
    ),
    (
        "name",
        (
            "organisation",
            "organization",
            "organizzazione",
            "organisations",
            "organizations",
            "company",
            "companies",
            "azienda",
            "aziende",
            "impresa",
            "imprese",
            "società",
            "name",
            "nome",
            "partner",
            "partners",
            "resident",
            "residente",
            "ente",
            "enti",
            "realtà",
            "start-up",
            "startup",
            "start-ups",
            "startups",
            "institution",
            "istituto",
            "member",
            "membro",
            "tenant",
        ),
    ),
)
_PLACEHOLDERS = {"", "-", "–", "—", "n/a", "na", "n.d.", "nd", "?", "…", "..."}
_LABEL_LINE = re.compile(r"^\s*([^\W\d][\w /'’.-]{1,40}?)\s*[:：]\s*(\S.{0,300})$")
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
MAX_NAME_CHARS = 120


def resolve(href: str, key: str) -> str:
    """A link's target as a location key (a URL, or a normalised path for local files)."""
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
        return ""
    if href.startswith(("http://", "https://")):
        return href.split("#", 1)[0]
    if key.startswith(("http://", "https://")):
        return urljoin(key, href).split("#", 1)[0]
    path = urlsplit(href).path
    if not path:
        return ""
    if path.startswith("/"):
        return path.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(key), path))


def tag_text(tag: Tag, limit: int) -> str:
    """A tag's text on one line, cut at a word before ``limit`` characters (with "…")."""
    text = " ".join(tag.get_text(" ", strip=True).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def clean(value: str) -> str:
    """A cell's value without stray punctuation; '' for a placeholder ("-", "n/a", "?")."""
    value = " ".join(value.split()).strip(" :;,")
    return "" if value.lower() in _PLACEHOLDERS else value


def field_of(label: str) -> str:
    """The field a header or label names ('' when none): 'Settore' -> 'sector'."""
    label = " ".join(re.sub(r"[^\w\s'’-]", " ", label.lower()).split())
    if not label or len(label) > 40:
        return ""
    for name, words in LABELS:
        for word in words:
            if label == word or label.startswith(word + " ") or label.endswith(" " + word):
                return name
    return ""


def plausible_name(text: str) -> bool:
    """A name starts with a letter, is short, and is not a question or a sentence."""
    text = text.strip()
    return (
        0 < len(text) <= MAX_NAME_CHARS
        and text[0].isalpha()
        and not text.endswith(("?", ".", ":"))
        and len(text.split()) <= 10
    )


def year_in(text: str) -> int:
    """The first plausible year (1950-2099) in ``text``, 0 when none."""
    match = YEAR.search(text)
    return int(match.group(1)) if match else 0


def context(tag: Tag, header: str) -> str:
    """What a structure lists, in the page's words: its name column's header and the
    nearest heading before it ("Start-up · Start-ups on campus")."""
    heading = tag.find_previous(HEADINGS)
    parts = [header, tag_text(heading, 120) if isinstance(heading, Tag) else ""]
    return " · ".join(p for p in dict.fromkeys(parts) if p)


def first_link(tag: Tag) -> Tag | None:
    """The first of a tag's (first five) links that has text, or None."""
    for link in tag.find_all("a", href=True, limit=5):
        if isinstance(link, Tag) and link.get_text(strip=True):
            return link
    return None


# A tag line's piece without a colon: a sector or building label word followed by a name
# ("Cluster Digitale e ICT", "Building C"), or an arrival ("nel parco dal 2014", "on site since
# 2019"). Only short pieces: a sentence of a description ("Building robots since 1998 ...") is
# not a tag, and "founded in 2011" is not an arrival.
_TAG_PIECE_WORDS = 6
# "since" labels that do not say when the organisation arrived ("Founded 1998", "Anno 2019").
_NOT_ARRIVAL = {"founded", "established", "year", "anno", "from"}
# A date at the end of a piece: a year, with the month before it when there is one.
_ENDS_WITH_YEAR = re.compile(r"(?:\b[^\W\d_]{3,}\s+)?\b(?:19|20)\d\d$")
_SINCE_PIECE = re.compile(r"\b(?:since|from|dal|dall['’]|dalla)\s+(?:\w+\s+)?(?:19|20)\d\d$", re.I)


def _tag_piece(piece: str) -> tuple[str, str]:
    """(field, value) of an unlabelled tag-line piece, or ('', '')."""
    words = piece.split()
    if not 2 <= len(words) <= _TAG_PIECE_WORDS or piece.endswith((".", "?", "!")):
        return "", ""
    kind = field_of(words[0])
    if kind in ("sector", "building") and (words[1][0].isupper() or len(words[1]) == 1):
        return kind, piece if kind == "building" else " ".join(words[1:])
    if _SINCE_PIECE.search(piece):
        return "since", piece  # "nel parco dal 2014"
    dated = _ENDS_WITH_YEAR.search(piece)
    if kind == "since" and dated and words[0].lower() not in _NOT_ARRIVAL:
        return "since", dated.group(0)  # an arrival word and a date: "Insediata ad aprile 2026"
    return "", ""


def label_lines(text: str) -> tuple[dict[str, str], str]:
    """Known 'Label: value' pieces of a block's text, and the rest of it; a short piece with
    no colon that starts with a sector or building label ("Cluster Digitale e ICT") or states
    an arrival ("nel parco dal 2014") counts as one too."""
    fields: dict[str, str] = {}
    rest: list[str] = []
    for piece in re.split(r"\s*(?:\n|·|•|\|)\s*", text):
        match = _LABEL_LINE.match(piece)
        kind = field_of(match.group(1)) if match else ""
        if match and kind and kind != "name" and kind not in fields:
            fields[kind] = clean(match.group(2))
            continue
        kind, value = ("", "") if match else _tag_piece(piece.strip())
        if kind and kind not in fields and clean(value):
            fields[kind] = clean(value)
        elif piece.strip():
            rest.append(piece.strip())
    return fields, " ".join(rest)


def new_entry(key: str, kind: str, name: str, **values: object) -> DirectoryEntry:
    """An entry found on the page at ``key``; its year is read from its ``since`` value.

    The page's reader URL and language, unless given, are stamped on later
    (ingest.directory_extract), once the extraction has chosen them.
    """
    return DirectoryEntry(
        kind=kind,
        name=name,
        key=key,
        year=year_in(str(values.get("since", ""))),
        **values,  # type: ignore[arg-type]
    )
