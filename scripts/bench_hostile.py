"""Benchmark: hostile inputs through the extraction worker (issue 10, rows 1 and 13).

Writes each input into a folder (kept, so ``/usr/bin/time -v kmr ingest FOLDER`` can be run on
it too) and extracts it in the worker with the default budgets, printing per input the outcome,
chunks, wall time, the worker's CPU time and its peak resident memory (sampled every 50 ms).

    PYTHONPATH=$PWD flock /tmp/kmr-heavy.lock python scripts/bench_hostile.py /tmp/hostile
"""

from __future__ import annotations

import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ingest.extract import ExtractionError, ExtractOptions
from ingest.records import RawDocument
from ingest.worker import ExtractionWorker, WorkerLimits


def _html(body: str, head: str = "") -> bytes:
    return f"<html lang='en'><head><title>Bench</title>{head}</head><body>{body}</body></html>".encode()


def inputs() -> dict[str, bytes]:
    """The inputs of rows 1 and 13, all under the 10 MB byte cap."""
    css = "".join(f".c{i} p {{ color: #{i % 256:02x}0000; background: #fff }}" for i in range(800))
    paragraphs = "".join(
        f"<div class='c{i % 800}'><p>Paragraph {i}.</p></div>" for i in range(40_000)
    )
    return {
        "inline-100k.html": _html("<p>" + "<i>a</i> " * 100_000 + "</p>"),
        "inline-1m-8mb.html": _html("<p>" + "<i>a</i>" * 1_000_000 + "</p>"),
        "one-line-5mb.txt": ("word " * 1_000_000).encode(),
        "one-word-2mb.html": _html("<p>" + "Kilometro " * 190_000 + "</p>"),
        "one-word-9mb.html": _html("<p>" + "Kilometro " * 900_000 + "</p>"),
        "css-800x40k.html": _html(paragraphs, f"<style>{css}</style>"),
    }


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"# {datetime.now(UTC).isoformat(timespec='seconds')} {platform.machine()} "
        f"{platform.node()}; default budgets {WorkerLimits()} {ExtractOptions()}"
    )
    print(
        f"{'input':22} {'MB':>5} {'outcome':58} {'chunks':>6} {'wall s':>7} {'cpu s':>6} "
        f"{'peak MB':>7}"
    )
    with ExtractionWorker(WorkerLimits()) as worker:
        for name, content in inputs().items():
            (folder / name).write_bytes(content)
            kind = "text" if name.endswith(".txt") else "html"
            raw = RawDocument(
                location=str(folder / name),
                kind=kind,
                content=content,  # type: ignore[arg-type]
                origin=str(folder),
                fallback_id=name,
            )
            started = time.monotonic()
            try:
                _, chunks = worker.process(raw, ExtractOptions())
                outcome, count = "indexed", len(chunks)
            except ExtractionError as exc:
                outcome, count = f"skipped: {exc.reason}"[:58], 0
            print(
                f"{name:22} {len(content) / 1e6:5.1f} {outcome:58} {count:6} "
                f"{time.monotonic() - started:7.1f} {worker.last_cpu_seconds:6.1f} "
                f"{worker.last_peak_mb:7.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kmr-hostile"))
