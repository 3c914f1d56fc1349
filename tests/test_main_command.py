"""The README's main command: build the sample index in one go, serve the demo page."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
from conftest import ROOT, free_port, wait_http


def test_scripts_run_builds_the_index_serves_the_widget_and_a_second_ingest_embeds_nothing(
    tmp_path: Path, models_dir: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KMR_DATA_DIR": str(tmp_path / "var"),
        "KMR_MODEL_CACHE_DIR": str(models_dir),
        "KMR_PORT": str(port),
        "KMR_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", timeout=600, process=server)
        assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "widget.js" in page.text
        answer = httpx.post(  # a functional check: latency is the benchmarks' business
            f"http://127.0.0.1:{port}/api/chat",
            json={"question": "Where is Kilometro Rosso?"},
            timeout=120,
        ).json()
        assert answer["sources"] and not answer["abstained"]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    output = log.read_text()
    assert "documents: 51 seen, 51 new" in output, output
    assert f"http://127.0.0.1:{port}/" in output  # the demo page URL is printed

    again = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "kmr"), "ingest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "51 unchanged" in again.stdout and "chunks: 0 embedded" in again.stdout
