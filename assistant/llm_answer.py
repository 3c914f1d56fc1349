"""The LLM path: the chat model streams an answer over fenced sources, then it is checked.

The hard abstention checks run first (a price question with no price in the sources...); the
model judges the rest itself. Deltas are streamed sentence by sentence with the prompt's
numbering, invalid markers dropped and unsourced contacts removed; the final answer is checked
again as a whole (``finish``): markers valid, sources renumbered 1..N in order of first
citation, no leaked system prompt, and the contacts when nothing was cited. When the model
fails, the extractive answer is given with a notice (``fallback``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

from langchain_core.language_models import BaseChatModel

from assistant import abstain, llm, prompts
from assistant.compose import abstention, contacts_of, emit, injection_refusal, source_of
from assistant.config import Settings
from assistant.schema import (
    Answer,
    AnswerEvent,
    DeltaEvent,
    DoneEvent,
    Source,
    SourcesEvent,
)
from assistant.terms import TermStats
from vectorstore.passages import Passage
from vectorstore.patterns import EMAIL, PHONE_LIKE, PHONE_MIN_DIGITS, digits

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\[\s*(?:(?:source|fonte|src)\s*)?(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]", re.I)


def clean_markers(text: str, valid: int) -> str:
    """Keep markers [1]..[valid] (splitting "[1, 2]" into "[1][2]"), drop any other."""

    def fix(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        return "".join(f"[{n}]" for n in numbers if 1 <= n <= valid)

    text = _MARKER.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text))


def renumber(text: str, passages: Sequence[Passage]) -> tuple[str, list[Source]]:
    """Renumber markers 1..N in order of first citation; the sources are the cited passages."""
    order: dict[int, int] = {}
    for match in re.finditer(r"\[(\d+)\]", text):
        old = int(match.group(1))
        if 1 <= old <= len(passages) and old not in order:
            order[old] = len(order) + 1
    text = re.sub(
        r"\[(\d+)\]",
        lambda m: f"[{order[int(m.group(1))]}]" if int(m.group(1)) in order else "",
        text,
    )
    sources = [
        source_of(passages[old - 1], new) for old, new in sorted(order.items(), key=lambda i: i[1])
    ]
    return text, sources


def scrub_contacts(text: str, allowed: str) -> str:
    """Remove e-mail addresses and phone numbers that appear neither in the sources nor the
    configured contacts: an LLM must not invent personal contact data."""
    digits_allowed = {digits(m.group(0)) for m in PHONE_LIKE.finditer(allowed)}
    folded = allowed.lower()

    def email(match: re.Match[str]) -> str:
        return match.group(0) if match.group(0).lower() in folded else "[…]"

    def phone(match: re.Match[str]) -> str:
        number = digits(match.group(0))
        if len(number) < PHONE_MIN_DIGITS or any(
            number in d or d in number for d in digits_allowed if len(d) >= PHONE_MIN_DIGITS
        ):
            return match.group(0)
        return "[…]"

    return PHONE_LIKE.sub(phone, EMAIL.sub(email, text))


def stream(
    chat_model: BaseChatModel,
    settings: Settings,
    question: str,
    lang: str,
    passages: Sequence[Passage],
    stats: TermStats,
    fallback: Callable[[str], Answer],
) -> Iterator[AnswerEvent]:
    """SourcesEvent, DeltaEvents, DoneEvent(checked answer); on a model failure, DoneEvent with
    ``fallback(notice)`` (the extractive answer)."""
    contacts = contacts_of(settings)
    verdict = abstain.assess(question, lang, passages, stats, None, lexical=False)
    if not verdict.answerable:
        yield from emit(abstention(lang, contacts, verdict, passages))
        return
    # What the model reads and the visitor sees as snippets: planted paragraphs masked.
    passages = prompts.mask_passages(passages)
    yield SourcesEvent(sources=[source_of(p, n) for n, p in enumerate(passages, start=1)])
    messages = prompts.answer_messages(question, passages, lang, settings)
    allowed = " ".join(p.text for p in passages) + f" {contacts['phone']} {contacts['url']}"
    raw: list[str] = []
    pending = ""
    try:
        for chunk in llm.stream_text(chat_model, messages, settings.llm_timeout):
            raw.append(chunk)
            pending += chunk
            ready, pending = _split_ready(pending)
            if ready and not _leaks(ready):
                yield DeltaEvent(text=scrub_contacts(clean_markers(ready, len(passages)), allowed))
    except llm.LLMError as exc:
        log.warning("LLM failed, falling back to the extractive answer: %s", exc)
        table = (
            prompts.LLM_FALLBACK_NOTICE
            if isinstance(exc, llm.LLMTimeout)
            else prompts.LLM_ERROR_NOTICE
        )
        yield DoneEvent(answer=fallback(prompts.phrase(table, lang)))
        return
    if pending and not _leaks(pending):
        yield DeltaEvent(text=scrub_contacts(clean_markers(pending, len(passages)), allowed))
    yield DoneEvent(answer=finish("".join(raw), lang, passages, contacts, allowed))


def finish(
    raw: str, lang: str, passages: Sequence[Passage], contacts: Mapping[str, str], allowed: str
) -> Answer:
    """Validate the model's reply: markers, sources, contacts, leaks, abstention."""
    if _leaks(raw):
        return injection_refusal(lang, contacts, backend="openai")
    text = scrub_contacts(clean_markers(raw.strip(), len(passages)), allowed)
    text, sources = renumber(text, passages)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    if not sources:
        # No valid citation: the model said it does not know (rule 4), or answered without
        # grounding. Either way it is not a sourced answer: make sure the contacts are there.
        if contacts["phone"] not in text and contacts["url"] not in text:
            text = prompts.say(prompts.ABSTAIN, lang, contacts)
        return Answer(text=text, sources=[], language=lang, abstained=True, backend="openai")
    return Answer(text=text, sources=sources, language=lang, abstained=False, backend="openai")


def _split_ready(buffer: str) -> tuple[str, str]:
    """Cut the streamed text after its last sentence end or newline (markers stay whole)."""
    cut = max(buffer.rfind("\n"), *(buffer.rfind(p) for p in (". ", "! ", "? ", "] ")))
    if cut < 0:
        return "", buffer
    cut += 1
    # never cut inside a marker like "[12"
    if buffer.rfind("[", 0, cut) > buffer.rfind("]", 0, cut):
        return "", buffer
    return buffer[:cut], buffer[cut:]


def _leaks(text: str) -> bool:
    """The model is repeating its system prompt."""
    lowered = text.lower()
    return any(marker.lower() in lowered for marker in prompts.LEAK_MARKERS)
