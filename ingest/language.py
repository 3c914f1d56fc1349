"""Language of a page: the declared one, or a confident guess (py3langid), else unknown."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from ingest.records import ExtractOptions

log = logging.getLogger(__name__)


_LANG_MIN_CHARS = 20  # below this a language guess is noise


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


def _own_hreflang(alternates: dict[str, str], url: str) -> str:
    """The language a page declares for itself among its hreflang alternates ('' if none)."""
    for lang, href in alternates.items():
        tag = _language_tag(lang)
        if url and tag and href.rstrip("/") == url.rstrip("/"):
            return tag
    return ""
