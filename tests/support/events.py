"""What the answer engine's streamed events carry, read the way the widget reads them."""

from __future__ import annotations

from collections.abc import Iterable

from assistant.schema import DoneEvent, SourcesEvent


def source_snippets(runs: Iterable[Iterable[object]]) -> list[str]:
    """Every source snippet the visitor is shown over ``runs`` (each a stream of events): the
    sources event's and the final answer's."""
    return [
        source.snippet
        for events in runs
        for event in events
        for source in (
            event.sources
            if isinstance(event, SourcesEvent)
            else event.answer.sources
            if isinstance(event, DoneEvent)
            else []
        )
    ]
