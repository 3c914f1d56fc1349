"""Shared fixtures: real parts built once per session.

- ``make_settings``: Settings in a fresh tmp data dir, sharing the session's rebuilt model.
- ``embeddings``: the real multilingual-e5-small (the default onnx-int8 variant), loaded once;
  each distinct text encoded once. ``float32_embeddings``: the float32 reference, on demand.
- ``shared_model``: the CLI and the app factory use that model instead of loading their own.
- ``sample_index``: a Runtime over an embedded index of the bundled sample site.
- ``chroma_server``: a real ``chroma run`` on 127.0.0.1, stopped at the end.
- ``postgres_server``, ``postgres_url``, ``llama_server``: see tests/support/fixtures.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.embeddings import SessionEmbeddings, share_session_model
from support.fixtures import llama_server, postgres_server, postgres_url  # noqa: F401

from assistant.config import SAMPLE_SITE, Settings

ROOT = Path(__file__).resolve().parent.parent

# What makes a test slow here: the sample index (built once, minutes on two cores), a real server
# or browser, an ONNX export of the model, or a whole process started from the README's commands.
# A single test that is slow for its own reason (a whole process, seconds of CPU by design) carries
# ``@pytest.mark.slow`` with the reason beside it.
SLOW_FIXTURES = {"sample_index", "chroma_server", "postgres_server", "postgres_url", "llama_server"}
SLOW_FILES = {
    "test_main_command.py",
    "test_fresh.py",
    "test_llm_server.py",
    "test_embeddings_variants.py",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that needs a slow part, so ``-m "not slow"`` is a fast subset."""
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        marked = {mark.name for mark in item.iter_markers()}
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            needs & SLOW_FIXTURES
            or marked & {"server", "browser"}
            or "server" in params.values()
            or item.path.name in SLOW_FILES
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def default_site_terms() -> Iterator[None]:
    """The terms drop the default site's names again after each test: a service with another
    site profile switches them for the whole process (``terms.use_site``, called where an
    answer engine is built), which a later test must not inherit."""
    yield
    from assistant.site import DEFAULT_SITE
    from assistant.terms import use_site

    use_site(DEFAULT_SITE)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KMR_* variable or .env file of the developer's leaks into a test."""
    for name in list(os.environ):
        if name.startswith("KMR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One rebuilt embedding model for the whole session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def make_settings(tmp_path: Path, models_dir: Path) -> Callable[..., Settings]:
    """Settings with a fresh data dir under tmp_path; keyword arguments override fields."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "model_cache_dir": models_dir,
            "sources": [str(SAMPLE_SITE)],
            "_env_file": None,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def embeddings(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SessionEmbeddings:
    """The real embedding model as configured by default (multilingual-e5-small, onnx-int8,
    exported from the rebuilt folder at the session's start), loaded once per session; a text
    it already encoded is not encoded again (tests/support/embeddings.py)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("emb"), model_cache_dir=models_dir, _env_file=None
    )
    model = SessionEmbeddings(settings.embedding_options())
    model.load()
    return model


@pytest.fixture(scope="session")
def float32_embeddings(
    embeddings: SessionEmbeddings, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> SessionEmbeddings:
    """The float32 reference (sentence-transformers on torch, from the same rebuilt folder),
    for the tests that set it on purpose; loaded once, when first asked for."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("emb-float32"),
        model_cache_dir=models_dir,
        embedding_variant="float32",
        _env_file=None,
    )
    model = SessionEmbeddings(settings.embedding_options())
    model.load()
    return model


@pytest.fixture
def shared_model(embeddings: SessionEmbeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and the app factory get the session's model instead of loading their own."""
    share_session_model(monkeypatch, embeddings)


@pytest.fixture(scope="session")
def sample_index(embeddings, models_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A Runtime over a fresh embedded index of the bundled sample site (built once)."""
    from assistant.runtime import open_runtime
    from ingest.sync import sync

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("sample-index"),
        model_cache_dir=models_dir,
        sources=[str(SAMPLE_SITE)],
        _env_file=None,
    )
    runtime = open_runtime(settings, embeddings=embeddings)
    report = sync(settings.sync_options(), runtime.store)
    assert report.failed == 0, report.failures
    return runtime


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers (any status below 500)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class ChromaServer:
    """A real `chroma run` process on 127.0.0.1 that tests can stop and start again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.host = "127.0.0.1"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = path.parent / f"chroma-{self.port}.log"

    def start(self) -> None:
        chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    chroma,
                    "run",
                    "--path",
                    str(self.path),
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        wait_http(f"http://{self.host}:{self.port}/api/v2/heartbeat", process=self.process)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A real Chroma server on 127.0.0.1 for the whole session."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db")
    server.start()
    try:
        yield server
    finally:
        server.stop()
