"""The language of a text, with a confidence: py3langid's character n-gram model, loaded once.

``identify_language`` is the one identifier: ingest asks it about a page's text (any language,
and too short a text is unknown), the answer engine about a question, restricted to the
languages it answers in (``assistant.conversation.detect_language`` adds the evidence of
function words, which short questions need).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

SAMPLE_CHARS = 5000  # the model's answer is settled long before this


class LanguageGuess(NamedTuple):
    """An ISO 639-1 code ("" when unknown) and the model's probability for it (0 to 1)."""

    language: str
    confidence: float


_UNKNOWN = LanguageGuess("", 0.0)
_lock = threading.Lock()
_identifiers: dict[frozenset[str], Any] = {}


def _identifier(among: frozenset[str]) -> Any:
    """py3langid's identifier restricted to ``among`` (empty: every language), built once."""
    with _lock:
        identifier = _identifiers.get(among)
        if identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            if among:
                identifier.set_languages(sorted(among))
            _identifiers[among] = identifier
        return identifier


def identify_language(text: str, among: Iterable[str] = (), min_letters: int = 0) -> LanguageGuess:
    """The most likely language of ``text`` and its probability.

    ``among`` restricts the answer to these languages (the probability is then among them);
    Runs of white space count as one space; only the first ``SAMPLE_CHARS`` characters are read.
    """
    sample = " ".join(text.split())[:SAMPLE_CHARS]
    if not sample or sum(ch.isalpha() for ch in sample) < min_letters:
        return _UNKNOWN
    language, probability = _identifier(frozenset(among)).classify(sample)
    return LanguageGuess(str(language), float(probability))
