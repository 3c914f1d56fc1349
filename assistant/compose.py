"""Answers written out: the extractive quote with its citations, the refusals, their events.

- ``compose``: the units an extractive ``Selection`` chose, as text with ``[n]`` markers (the
  lead unit first), then "see also" markers for the other relevant pages, and the sources
  numbered in order of first citation;
- ``source_of``: the Source entry of a passage (title, URL, a snippet);
- ``abstention`` / ``injection_refusal``: the answers given when the sources do not answer, or
  the whole message was an injection, with the contacts;
- ``emit``: the events of a composed answer (sources, sentence-sized deltas, done).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from assistant import abstain, prompts
from assistant.config import Settings
from assistant.extractive import Selection
from assistant.params import PARAMS, SourceParams
from assistant.schema import (
    Answer,
    AnswerEvent,
    DeltaEvent,
    DoneEvent,
    Source,
    SourcesEvent,
)
from assistant.units import Unit, body_of, clean_inline
from vectorstore.passages import Passage


def source_of(
    passage: Passage, n: int, snippet: str | None = None, params: SourceParams = PARAMS.sources
) -> Source:
    """A Source entry for a passage (its snippet cut to ``params.snippet_chars``)."""
    text = snippet if snippet is not None else clean_inline(body_of(passage))
    most = params.snippet_chars
    if len(text) > most:
        text = text[: most - 1].rsplit(" ", 1)[0] + "…"
    return Source(
        n=n, title=passage.title, url=passage.url, language=passage.language, snippet=text
    )


SEE_ALSO = prompts.SEE_ALSO  # the LLM is asked for the same closing line


def compose(
    selection: Selection, passages: Sequence[Passage], language: str
) -> tuple[str, list[Source]]:
    """The answer text with [n] markers, and its sources numbered in order of first citation."""
    numbers: dict[int, int] = {}
    snippets: dict[int, str] = {}
    parts: list[str] = []
    listed = False  # the group before was a list: one item more continues it
    for passage_index, lead, units in selection.groups:
        n = numbers.setdefault(passage_index, len(numbers) + 1)
        snippets.setdefault(passage_index, units[0].text)
        if len(units) == 1 and not (listed and units[0].kind in {"item", "row"}):
            parts.append(f"{_sentence(units[0])} [{n}]")
            listed = False
            continue
        listed = True
        lines = [f"{lead} [{n}]"] if lead else []
        lines += [f"- {u.text}" for u in units]
        if not lead:
            lines[-1] += f" [{n}]"
        parts.append("\n".join(lines))
    text = _join(parts)
    if selection.count:
        counted = _COUNTED.get(language, _COUNTED["en"]).format(n=selection.count)
        text = f"{counted}\n\n{text}"
    also = [numbers.setdefault(i, len(numbers) + 1) for i in selection.see_also]
    if also:
        markers = " ".join(f"[{n}]" for n in also)
        text += "\n\n" + prompts.phrase(SEE_ALSO, language, markers=markers)
    if selection.language and selection.language != language:
        note = prompts.phrase(
            prompts.SOURCE_IN_OTHER_LANGUAGE,
            language,
            name=prompts.language_name(selection.language, language),
        )
        text = f"{note}\n{text}"
    sources = [
        source_of(passages[index], n, snippets.get(index))
        for index, n in sorted(numbers.items(), key=lambda item: item[1])
    ]
    return text, sources


# The opening of "how many X?" answered by counting the list the sources give (extractive).
_COUNTED = {
    "en": "The sources list {n}:",
    "it": "Le fonti ne elencano {n}:",
}


def _sentence(unit: Unit) -> str:
    text = unit.text.strip()
    return text if text[-1:] in ".!?:;…" else text + "."


def _join(parts: Sequence[str]) -> str:
    """Sentences run on; a list stands in its own paragraph."""
    out = ""
    for part in parts:
        if not out:
            out = part
        elif "\n" in part or "\n" in out:
            out += "\n\n" + part
        else:
            out += " " + part
    return out


def contacts_of(settings: Settings) -> dict[str, str]:
    """What every refusal names, by placeholder: the site profile's names and contacts
    (``phone`` and ``url`` among them, as the prompts name them)."""
    return settings.site_profile().values()


def injection_refusal(
    lang: str, contacts: Mapping[str, str], backend: str, notice: str | None = None
) -> Answer:
    """The refusal of a message that was only an injection (or of a reply leaking the prompt)."""
    text = prompts.say(prompts.REFUSE_INJECTION, lang, contacts)
    return Answer(
        text=text, sources=[], language=lang, abstained=True, backend=backend, notice=notice
    )


def abstention(
    lang: str,
    contacts: Mapping[str, str],
    verdict: abstain.Verdict | None = None,
    passages: Sequence[Passage] = (),
    notice: str | None = None,
) -> Answer:
    """The sources do not answer: say so with the contacts, quoting the passage that says the
    opposite of what was asked when the verdict found one (``contacts``: phone and url)."""
    if verdict is not None and verdict.negative and 0 <= verdict.negative_passage < len(passages):
        passage = passages[verdict.negative_passage]
        text = prompts.say(
            prompts.ABSTAIN_QUOTING, lang, contacts, quote=verdict.negative, marker="[1]"
        )
        return Answer(
            text=text,
            sources=[source_of(passage, 1, verdict.negative)],
            language=lang,
            abstained=True,
            backend="extractive",
            notice=notice,
        )
    text = prompts.say(prompts.ABSTAIN, lang, contacts)
    return Answer(
        text=text, sources=[], language=lang, abstained=True, backend="extractive", notice=notice
    )


# The one line that opens an answer to a question in a language the site has no pages in
# (assistant.conversation.OTHER_LANGUAGES), in the asker's language; the answer is in English.
OTHER_LANGUAGE_NOTES = {
    "de": "Diese Website hat keine Seiten auf Deutsch, daher antworte ich auf Englisch.",
    "fr": "Ce site n'a pas de pages en français, je réponds donc en anglais.",
    "es": "Este sitio no tiene páginas en español, así que respondo en inglés.",
    "pt": "Este site não tem páginas em português, por isso respondo em inglês.",
}
OTHER_LANGUAGE_NOTE = "The site has no pages in your language, so this answer is in English."


def with_language_note(answer: Answer, asked_in: str) -> Answer:
    """The answer opened by one line saying it is in English because the site has no pages
    in ``asked_in`` (the question's language); unchanged when ``asked_in`` is empty."""
    if not asked_in:
        return answer
    note = OTHER_LANGUAGE_NOTES.get(asked_in, OTHER_LANGUAGE_NOTE)
    return answer.model_copy(update={"text": f"{note}\n{answer.text}"})


def with_language_notes(events: Iterator[AnswerEvent], asked_in: str) -> Iterator[AnswerEvent]:
    """The events of a streamed answer (the LLM's) with the ``with_language_note`` line: its
    delta after the sources, and in the final answer."""
    for event in events:
        if isinstance(event, DoneEvent) and asked_in:
            yield DoneEvent(answer=with_language_note(event.answer, asked_in))
            continue
        yield event
        if isinstance(event, SourcesEvent) and asked_in:
            note = OTHER_LANGUAGE_NOTES.get(asked_in, OTHER_LANGUAGE_NOTE)
            yield DeltaEvent(text=f"{note}\n")


def emit(answer: Answer) -> Iterator[AnswerEvent]:
    """Events of a composed answer: its sources, its text in sentence-sized deltas, done."""
    yield SourcesEvent(sources=answer.sources)
    pieces = re.split(r"(?<=\])(?= )|(?<=\n)", answer.text)
    for piece in pieces:
        if piece:
            yield DeltaEvent(text=piece)
    yield DoneEvent(answer=answer)
