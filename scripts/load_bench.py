#!/usr/bin/env python
"""Load benchmark of the HTTP service: /api/search and /api/chat (extractive) at 1, 10 and 50
concurrent clients, plus time to the first streamed event of /api/chat/stream.

It starts its own uvicorn on 127.0.0.1 over an index of the sample site (built in a temporary
data dir unless --data-dir points at one), drives it with a bounded asyncio/httpx client, and
prints a table of client-side and server-side (X-Process-Time) latency percentiles and errors.

    python scripts/load_bench.py                       # build a fresh index, then measure
    python scripts/load_bench.py --data-dir /work/devindex --requests 200

Targets: chat p50 <= 30 ms and p95 <= 80 ms server-side at 10 clients; 0 errors at 50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import SAMPLE_SITE, Settings  # noqa: E402

EVAL_SET = ROOT / "data" / "eval" / "dev.jsonl"
FALLBACK_QUESTIONS = [
    "How tall is the red wall you see from the motorway?",
    "Quando è stato inaugurato il Kilometro Rosso?",
    "How do I get to Kilometro Rosso by train?",
    "Chi ha avuto l'idea del parco?",
]


@dataclass
class Run:
    """Latencies of one endpoint at one concurrency."""

    endpoint: str
    clients: int
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    first_event_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @staticmethod
    def pct(values: list[float], q: float) -> str:
        if not values:
            return "-"
        ordered = sorted(values)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
        return f"{ordered[index]:.1f}"

    def row(self) -> list[str]:
        n = len(self.client_ms) + self.errors
        rate = f"{len(self.client_ms) / self.seconds:.1f}" if self.seconds else "-"
        return [
            self.endpoint,
            str(self.clients),
            str(n),
            str(self.errors),
            self.pct(self.client_ms, 50),
            self.pct(self.client_ms, 95),
            self.pct(self.server_ms, 50),
            self.pct(self.server_ms, 95),
            self.pct(self.first_event_ms, 50),
            self.pct(self.first_event_ms, 95),
            rate,
        ]


HEADER = [
    "endpoint",
    "clients",
    "requests",
    "errors",
    "p50 ms",
    "p95 ms",
    "server p50",
    "server p95",
    "1st event p50",
    "1st event p95",
    "req/s",
]


def questions() -> list[str]:
    if not EVAL_SET.exists():
        return FALLBACK_QUESTIONS
    found = []
    for line in EVAL_SET.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item.get("kind") == "fact" and not item.get("history"):
            found.append(item["question"])
    return found or FALLBACK_QUESTIONS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_index(data_dir: Path, model_cache: Path | None) -> None:
    """Embed the sample site into data_dir (skipped when it is already there)."""
    from assistant.runtime import open_store
    from ingest.sync import sync

    settings = Settings(
        data_dir=data_dir, model_cache_dir=model_cache, sources=[str(SAMPLE_SITE)], _env_file=None
    )
    store = open_store(settings)
    if store.count() == 0:
        print(f"building the sample index in {data_dir} ...", file=sys.stderr)
        report = sync(settings.sync_options(), store)
        print(f"  {report.chunks_embedded} chunks in {report.seconds:.0f} s", file=sys.stderr)


def start_server(
    data_dir: Path, model_cache: Path | None, db: Path
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "KMR_DATA_DIR": str(data_dir),
        "KMR_ANSWER_BACKEND": "extractive",
        "KMR_RATE_LIMIT": "1000000/minute",
        "KMR_DATABASE_URL": f"sqlite:///{db}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    if model_cache:
        env["KMR_MODEL_CACHE_DIR"] = str(model_cache)
    env.update({"KMR_HOST": "127.0.0.1", "KMR_PORT": str(port), "KMR_LOG_LEVEL": "WARNING"})
    # What we ship: `kmr serve` (one uvicorn worker, one torch thread unless configured).
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit("the server did not become ready within 180 s")


async def drive(
    url: str,
    endpoint: str,
    clients: int,
    total: int,
    budget: float,
    asked: list[str],
    think: tuple[float, float] | None = None,
) -> Run:
    """``clients`` workers share ``total`` requests; stops early when the time budget ends.

    With ``think`` (min, max seconds) each client pauses between its requests, as a person
    using the widget does; without it clients send back to back (a closed loop).
    """
    label = f"{endpoint} (think {think[0]:g}-{think[1]:g} s)" if think else endpoint
    run = Run(label, clients)
    counter = iter(range(total))
    deadline = time.monotonic() + budget
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def one(i: int) -> None:
            question = asked[i % len(asked)]
            started = time.perf_counter()
            try:
                if endpoint == "search":
                    response = await http.get("/api/search", params={"q": question})
                elif endpoint == "chat":
                    response = await http.post("/api/chat", json={"question": question})
                else:
                    async with http.stream(
                        "POST", "/api/chat/stream", json={"question": question}
                    ) as response:
                        first = None
                        async for chunk in response.aiter_raw():
                            if first is None and chunk:
                                first = (time.perf_counter() - started) * 1000
                        if first is not None:
                            run.first_event_ms.append(first)
                if response.status_code != 200:
                    run.errors += 1
                    return
                run.client_ms.append((time.perf_counter() - started) * 1000)
                run.server_ms.append(float(response.headers["x-process-time"]) * 1000)
            except httpx.HTTPError:
                run.errors += 1

        async def worker() -> None:
            for i in counter:
                if time.monotonic() > deadline:
                    return
                await one(i)
                if think:
                    await asyncio.sleep(random.uniform(*think))

        begun = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        run.seconds = time.perf_counter() - begun
    return run


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="an existing index (default: build one)")
    parser.add_argument("--model-cache", type=Path, help="rebuilt model cache to reuse")
    parser.add_argument("--clients", default="1,10,50", help="concurrency levels")
    parser.add_argument("--requests", type=int, default=100, help="requests per level and endpoint")
    parser.add_argument("--budget", type=float, default=45.0, help="seconds per level at most")
    parser.add_argument(
        "--think",
        default="1,3",
        help="min,max seconds widget users pause between questions ('' to skip)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=20.0,
        help="seconds to let start-up background work finish before measuring",
    )
    args = parser.parse_args()
    think = tuple(float(x) for x in args.think.split(",")) if args.think else None

    with tempfile.TemporaryDirectory(prefix="kmr-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        build_index(data_dir, args.model_cache)
        process, url = start_server(data_dir, args.model_cache, Path(tmp) / "bench.sqlite")
        try:
            asked = questions()
            # Warm up: every question once (query and sentence caches, BM25), then let the
            # background pre-embedding of the index finish.
            asyncio.run(drive(url, "chat", 2, len(asked), 120, asked))
            time.sleep(args.settle)
            levels = [int(c) for c in args.clients.split(",")]
            plans = [(c, e, None) for c in levels for e in ("search", "chat", "stream")]
            if think:
                plans += [(c, "chat", think) for c in levels]
            runs = []
            for clients, endpoint, pause in plans:
                run = asyncio.run(
                    drive(url, endpoint, clients, args.requests, args.budget, asked, pause)
                )
                runs.append(run)
                print(
                    f"  {run.endpoint} x{clients}: {len(run.client_ms)} ok, {run.errors} errors",
                    file=sys.stderr,
                )
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(
        f"date: {time.strftime('%Y-%m-%d')}  machine: {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}; server: kmr serve, "
        f"{os.environ.get('KMR_WORKERS', '1')} worker(s), extractive; "
        f"{len(asked)} distinct questions (cached after warm-up)"
    )
    print(table([HEADER, *(run.row() for run in runs)]))
    by_key = {(r.endpoint, r.clients): r for r in runs}
    chat10 = by_key.get(("chat", 10))
    if chat10 and chat10.server_ms:
        p50 = statistics.median(chat10.server_ms)
        p95 = float(Run.pct(chat10.server_ms, 95))
        verdict = "met" if p50 <= 30 and p95 <= 80 else "NOT met"
        print(
            f"\nchat at 10 closed-loop clients, server-side: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
            f"(target p50 <= 30, p95 <= 80: {verdict})"
        )
    for key, run in by_key.items():
        if key[0].startswith("chat (think") and key[1] == 10 and run.server_ms:
            p50, p95 = statistics.median(run.server_ms), float(Run.pct(run.server_ms, 95))
            verdict = "met" if p50 <= 30 and p95 <= 80 else "NOT met"
            print(
                f"chat at 10 widget users ({key[0][6:-1]}), server-side: p50 {p50:.1f} ms, "
                f"p95 {p95:.1f} ms ({verdict})"
            )
    errors50 = sum(r.errors for r in runs if r.clients == 50)
    if any(r.clients == 50 for r in runs):
        print(f"errors at 50 clients: {errors50} (target 0)")


if __name__ == "__main__":
    main()
