"""The openai answer backend driven by a fake chat model at LangChain's seam, recording what
it is sent (retrieval, index and guard stay real)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from assistant.answer import Assistant
from assistant.runtime import Runtime


def recorded_llm_run(
    runtime: Runtime, questions: list[str], reply: str = "See the sources [1]."
) -> tuple[list[str], list[list[Any]]]:
    """The user messages the openai backend sends for ``questions``, and the events it
    streams back (the fake model answers ``reply`` each time)."""
    sent: list[str] = []

    class Recording(FakeListChatModel):
        def _stream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
            sent.append(str(messages[-1].content))
            yield from super()._stream(messages, *args, **kwargs)

    settings = runtime.settings.model_copy(
        update={
            "answer_backend": "openai",
            "llm_base_url": "http://127.0.0.1:9/v1",
            "llm_model": "test-model",
        }
    )
    fake = Recording(responses=[reply] * len(questions))
    assistant = Assistant(settings, runtime.searcher, chat_model=fake)
    events = [list(assistant.stream(question, [])) for question in questions]
    return sent, events
