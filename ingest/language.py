"""Language of a page: the declared one, or a confident guess (the toolkit's
``identify_language``), else unknown."""

from __future__ import annotations

import logging
import re

from ingest.records import ExtractOptions
from vectorstore.language import identify_language

log = logging.getLogger(__name__)


MIN_LETTERS = 20  # below this a language guess is noise


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
    guess, prob = identify_language(text, min_letters=MIN_LETTERS)
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


def _own_hreflang(alternates: dict[str, str], url: str) -> str:
    """The language a page declares for itself among its hreflang alternates ('' if none)."""
    for lang, href in alternates.items():
        tag = _language_tag(lang)
        if url and tag and href.rstrip("/") == url.rstrip("/"):
            return tag
    return ""
