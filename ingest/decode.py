"""Extraction step 1, decode: document bytes -> text.

HTTP charset, then ``<meta charset>``, then UTF-8, then detection (charset_normalizer), so a
Latin-1 page without a charset keeps its accents and invalid UTF-8 never crashes; binary data
is refused with ExtractionError.
"""

from __future__ import annotations

import codecs
import re

from ingest.records import ExtractionError

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
