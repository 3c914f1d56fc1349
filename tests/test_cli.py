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
    return {
        "KMR_DATA_DIR": str(tmp_path / "data"),
        "KMR_MODEL_CACHE_DIR": str(models_dir),
        "KMR_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    shutil.copy(SAMPLE_SITE / "docs/press-fact-sheet.md", root)
    shutil.copy(SAMPLE_SITE / "it/contatti.html", root)
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


@pytest.mark.usefixtures("shared_model")  # the session's model, not a new copy
def test_ingest_prints_a_summary_and_a_second_run_embeds_nothing(
    env: dict[str, str], docs: Path
) -> None:
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


@pytest.mark.usefixtures("shared_model")  # the session's model, not a new copy
def test_stats_describes_the_index(env: dict[str, str], docs: Path) -> None:
    runner.invoke(app, ["ingest", str(docs)], env=env)
    result = runner.invoke(app, ["stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["documents"] == 2 and stats["chunks"] >= 2
    assert stats["documents_by_language"] == {"en": 1, "it": 1}
    assert stats["embedding_model"] == "multilingual-e5-small" and stats["last_sync"]


@pytest.mark.usefixtures("shared_model")  # the session's model, not a new copy
def test_serve_says_what_to_do_when_the_index_is_empty(
    env: dict[str, str], docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after the upgrade that made onnx-int8 the default: its collection starts empty."""
    from assistant import cli

    served: list[object] = []  # the seam to uvicorn, which would block here
    monkeypatch.setattr(cli, "run_server", served.append)
    empty = runner.invoke(app, ["serve"], env=env)
    assert empty.exit_code == 0 and len(served) == 1, empty.output
    assert "the index kmr-multilingual-e5-small-onnx-int8 is empty" in empty.stderr
    assert "kmr ingest" in empty.stderr and "KMR_EMBEDDING_VARIANT=float32" in empty.stderr

    assert runner.invoke(app, ["ingest", str(docs)], env=env).exit_code == 0
    built = runner.invoke(app, ["serve"], env=env)
    assert built.exit_code == 0 and len(served) == 2 and "is empty" not in built.stderr


def test_ask_prints_an_answer_with_numbered_sources(sample_index) -> None:  # noqa: ANN001
    settings = sample_index.settings
    env = {
        "KMR_DATA_DIR": str(settings.data_dir),
        "KMR_MODEL_CACHE_DIR": str(settings.models_path),
        "KMR_LOG_LEVEL": "WARNING",
    }
    result = runner.invoke(app, ["ask", "How long is the red wall?"], env=env)
    assert result.exit_code == 0, result.output
    assert "Sources:" in result.stdout and "[1]" in result.stdout
    assert "kilometrorosso.com" in result.stdout


# --- every error is one line and exit 2 -----------------------------------------------------
def _broken_model(tmp_path: Path) -> str:
    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]'
    )
    (folder / "config.json").write_text("{ this is not json")
    return str(folder)


def _malformed_eval(tmp_path: Path) -> str:
    path = tmp_path / "malformed.jsonl"
    path.write_text('{"id": "q1", "question": "ok"}\n{"id": "q2", "question": \n')
    return str(path)


BAD_INVOCATIONS = {
    "unknown command": (["frobnicate"], {}),
    "missing argument": (["ask"], {}),
    "unknown option": (["ask", "x", "--colour", "red"], {}),
    "option of the wrong type": (["ingest", "--max-pages", "lots"], {}),
    "eval file that does not exist": (["eval", "nowhere.jsonl"], {}),
    "malformed eval file": (["eval", "{malformed}"], {}),
    "invalid setting": (["stats"], {"KMR_CHUNK_SIZE": "lots"}),
    "inconsistent settings": (["ask", "x"], {"KMR_ANSWER_BACKEND": "openai"}),
    "port out of range": (["serve", "--port", "70000"], {}),
    "unknown embedding model": (["ask", "x"], {"KMR_EMBEDDING_MODEL": "no-such-model"}),
    "model folder that does not exist": (["ask", "x"], {"KMR_EMBEDDING_MODEL": "/nonexistent/m"}),
    "unusable model": (["ask", "How long is the wall?"], {"KMR_EMBEDDING_MODEL": "{broken}"}),
    "unreachable Chroma server": (
        ["stats"],
        {"KMR_CHROMA_HOST": "127.0.0.1", "KMR_CHROMA_PORT": "{port}"},
    ),
}


@pytest.mark.parametrize("case", list(BAD_INVOCATIONS), ids=list(BAD_INVOCATIONS))
def test_every_error_is_one_line_and_exit_2(case: str, env: dict[str, str], tmp_path: Path) -> None:
    args, extra = BAD_INVOCATIONS[case]
    values = {
        "{malformed}": _malformed_eval(tmp_path),
        "{broken}": _broken_model(tmp_path),
        "{port}": str(free_port()),
    }
    args = [values.get(a, a) for a in args]
    extra = {k: values.get(v, v) for k, v in extra.items()}
    result = runner.invoke(app, args, env={**env, **extra})
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_malformed_eval_file_names_its_line(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", _malformed_eval(tmp_path)], env=env)
    assert result.exit_code == 2 and "malformed.jsonl:2" in result.stderr


@pytest.mark.slow  # a whole process
def test_ask_with_an_unusable_model_prints_one_line_in_a_real_process(
    env: dict[str, str], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    process = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ask", "How long is the wall?"],
        env={
            **os.environ,
            **env,
            "KMR_EMBEDDING_MODEL": _broken_model(tmp_path),
            "KMR_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(root),
        },
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    errors = [line for line in process.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and process.stderr.rstrip().endswith(errors[0]), process.stderr
