"""Extraction CPU with and without the partner directory, on a local tree of HTML pages.

The directory is read from the tree the extraction has already parsed and cleaned
(``extract(raw, directory=options)``), so its cost is what its readers take. Prints the CPU
seconds per pass over every page (median of ``--repeat`` passes, after one warm-up pass) and,
with ``--records``, writes every page's directory entries as JSON, to compare two versions.

Usage (run under the heavy-job lock):
    PYTHONPATH=$PWD flock -w 1800 /tmp/kmr-heavy.lock .venv/bin/python \
        scripts/bench_directory.py [--source data/sample-site] [--repeat 10] [--records out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from assistant.config import SAMPLE_SITE
from ingest.directory import DirectoryOptions
from ingest.extract import ExtractionError, extract
from ingest.records import RawDocument


def documents(root: Path) -> list[RawDocument]:
    """Every HTML page under ``root``, identified by its path under it."""
    return [
        RawDocument(
            location=str(path),
            kind="html",
            content=path.read_bytes(),
            origin=str(root),
            fallback_id=path.relative_to(root).as_posix(),
        )
        for path in sorted(root.rglob("*.html"))
    ]


def one_pass(docs: list[RawDocument], directory: DirectoryOptions | None) -> tuple[float, dict]:
    """CPU seconds of extracting every page, and each page's directory entries."""
    records: dict[str, object] = {}
    started = time.process_time()
    for raw in docs:
        try:
            page = extract(raw, directory=directory)
        except ExtractionError as exc:
            records[raw.fallback_id] = f"skipped: {exc.reason}"
            continue
        records[raw.fallback_id] = [e.as_dict() for e in page.directory]
    return time.process_time() - started, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(SAMPLE_SITE))
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--records", help="write the directory entries here (JSON)")
    args = parser.parse_args()
    docs = documents(Path(args.source))
    results = {}
    for label, options in (("extract", None), ("extract + directory", DirectoryOptions())):
        one_pass(docs, options)  # warm-up: imports, trafilatura, the language identifier
        runs = [one_pass(docs, options) for _ in range(args.repeat)]
        results[label] = statistics.median(seconds for seconds, _ in runs)
        print(
            f"{label}: {len(docs)} pages, CPU s per pass: median {results[label]:.3f}, "
            f"min {min(s for s, _ in runs):.3f}, max {max(s for s, _ in runs):.3f}"
        )
        if options is not None and args.records:
            Path(args.records).write_text(
                json.dumps(runs[-1][1], ensure_ascii=False, indent=1, sort_keys=True)
            )
    extra = results["extract + directory"] / results["extract"] - 1
    print(f"the directory adds {extra:+.0%} to extraction CPU")


if __name__ == "__main__":
    main()
