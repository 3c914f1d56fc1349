"""The `kmr` command line: summaries, exit codes and errors translated at the edge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import free_port
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import SAMPLE_SITE

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    return {"KMR_DATA_DIR": str(tmp_path / "data"), "KMR_MODEL_CACHE_DIR": str(models_dir),
            "KMR_LOG_LEVEL": "WARNING"}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    shutil.copy(SAMPLE_SITE / "docs/press-fact-sheet.md", root)
    shutil.copy(SAMPLE_SITE / "it/contatti.html", root)
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


def test_ingest_prints_a_summary_and_a_second_run_embeds_nothing(env: dict[str, str], docs: Path) -> None:
    first = runner.invoke(app, ["ingest", str(docs)], env=env)
    assert first.exit_code == 0, first.output
    assert "2 seen, 2 new, 0 changed, 0 unchanged, 0 removed, 1 failed" in first.stdout
    assert "photo.png: unsupported file type" in first.stdout
    assert "chunks/s" in first.stdout

    second = runner.invoke(app, ["ingest", str(docs), "--json"], env=env)
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert (summary["unchanged"], summary["chunks_embedded"]) == (2, 0)


def test_ingest_fails_when_nothing_can_be_read(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.html").write_bytes(b"")
    (bad / "junk.html").write_bytes(bytes(range(256)) * 40)
    result = runner.invoke(app, ["ingest", str(bad)], env=env)
    assert result.exit_code == 1
    assert "empty.html" in result.stdout and "junk.html" in result.stdout
    assert "nothing could be read" in result.stderr


def test_an_unreachable_chroma_server_is_a_one_line_error(env: dict[str, str], docs: Path) -> None:
    env = {**env, "KMR_CHROMA_HOST": "127.0.0.1", "KMR_CHROMA_PORT": str(free_port())}
    result = runner.invoke(app, ["ingest", str(docs)], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output


def test_invalid_settings_are_reported_not_raised(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["stats"], env={**env, "KMR_CHUNK_SIZE": "lots"})
    assert result.exit_code == 2 and "invalid settings" in result.stderr


def test_stats_describes_the_index(env: dict[str, str], docs: Path) -> None:
    runner.invoke(app, ["ingest", str(docs)], env=env)
    result = runner.invoke(app, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["documents"] == 2 and stats["chunks"] >= 2
    assert stats["documents_by_language"] == {"en": 1, "it": 1}
    assert stats["model"] == "multilingual-e5-small" and stats["last_sync"]


def test_ask_prints_an_answer_with_numbered_sources(sample_index) -> None:  # noqa: ANN001
    settings = sample_index.settings
    env = {"KMR_DATA_DIR": str(settings.data_dir), "KMR_MODEL_CACHE_DIR": str(settings.models_path),
           "KMR_LOG_LEVEL": "WARNING"}
    result = runner.invoke(app, ["ask", "How long is the red wall?"], env=env)
    assert result.exit_code == 0, result.output
    assert "Sources:" in result.stdout and "[1]" in result.stdout
    assert "kilometrorosso.com" in result.stdout
