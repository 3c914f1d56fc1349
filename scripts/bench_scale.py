"""Scale benchmark: the served index at 1k, 10k and 100k chunks.

Embedding 100k chunks takes hours here, so the index is grown from the sample site: the site is
synced once for real (real text, real vectors), then synthetic chunks are added, each made of
sentences of three real chunks, with the normalised sum of their vectors plus noise as its
vector. BM25 thus sees realistic Italian and English text and Chroma realistic neighbours.

After the rows are written, this process does what the end of every sync does
(``prepare_served_index``: build and save the keyword index with the answer engine's
term counts, store the vectors of units not stored yet), timed.

For each size the service runs as a real process (``kmr serve``'s code path, one worker, one
torch thread) and is measured over HTTP on 127.0.0.1; latencies are server-side
(X-Process-Time) with the client's (one loopback round trip more) beside them:

- start-up to ``/ready`` without a saved keyword index (the server builds it) and with the one
  the sync saved;
- first-answer latency right after ready (p50/p95 of the first 20 chat questions);
- ``/api/search`` and ``/api/chat`` p50/p95 over the evaluation questions;
- RSS of the worker after the questions, and after three syncs by another process (each
  changes 20 chunks, then does the end-of-sync work, timed: the keyword-index build is the
  "BM25 rebuild"), with the seconds until ``/api/search`` serves the changed text.

Run it alone (under the heavy lock), e.g.::

    flock /tmp/kmr-heavy.lock python scripts/bench_scale.py --sizes 1000 10000 100000

The embedding variant is ``KMR_EMBEDDING_VARIANT``'s (the server gets the same one); each
variant has its own collection, so each is inserted once per output directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import SAMPLE_SITE, Settings  # noqa: E402

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_BATCH = 2000


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, by linear interpolation."""
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def questions() -> list[tuple[str, str]]:
    """(question, language) of the evaluation set, in file order."""
    rows = [
        json.loads(line)
        for line in (ROOT / "data/eval/dev.jsonl").read_text().splitlines()
        if line.strip()
    ]
    return [(r["question"], r.get("lang", "en")) for r in rows if not r.get("history")]


# --- building the index ------------------------------------------------------------------
def seed_rows(settings: Settings) -> tuple[list[str], list[str], list[dict], np.ndarray]:
    """The sample site synced for real: ids, texts, metadata, vectors."""
    from assistant.runtime import open_store
    from ingest.sync import sync

    store = open_store(settings)
    if store.count() == 0:
        report = sync(settings.sync_options(), store, [str(SAMPLE_SITE)])
        print(f"seed: sample site synced, {report.chunks_embedded} chunks embedded", flush=True)
    got = store.collection.get(include=["documents", "metadatas", "embeddings"])
    return got["ids"], got["documents"], got["metadatas"], np.asarray(got["embeddings"])


class SyntheticUnitVectors:
    """Stands in for the model when the first end-of-sync stores the units of the synthetic
    chunks (their sentences recombine the seed's, so most texts are new to the model: embedding
    them would take hours at 100k). Unit vectors of the text's hash: the timing of answers
    does not depend on their values, their quality does (measured by `kmr eval` instead)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            rng = np.random.default_rng(abs(hash(text)) % (1 << 32))
            vector = rng.normal(size=384)
            out.append((vector / np.linalg.norm(vector)).tolist())
        return out


def end_of_sync(settings: Settings, synthetic_units: bool = False) -> dict[str, float]:
    """What every sync does at its end (``prepare_served_index``), timed: the keyword index
    built and saved (or found saved), then the vectors of the units not stored yet."""
    from dataclasses import asdict

    from assistant.runtime import open_store, prepare_served_index

    store = open_store(settings)
    model: Any = SyntheticUnitVectors() if synthetic_units else None
    return asdict(prepare_served_index(settings, store, model))


def build_index(settings: Settings, size: int, seed: tuple, rng: random.Random) -> float:
    """A collection of ``size`` chunks: the seed's, then synthetic ones. Returns seconds."""
    from assistant.runtime import open_store

    ids, texts, metas, vectors = seed
    store = open_store(settings)
    if store.count() >= size:
        return 0.0
    started = time.perf_counter()
    bodies = [t.partition("\n\n")[2] or t for t in texts]
    sentences = [[s for s in _SENTENCE.split(b) if len(s) > 20] or [b] for b in bodies]
    noise = np.random.default_rng(rng.randrange(1 << 30))
    batch: dict[str, list] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}

    def flush() -> None:
        if batch["ids"]:
            store.collection.add(**batch)
            for values in batch.values():
                values.clear()

    for i, text, meta, vector in zip(ids, texts, metas, vectors, strict=True):
        batch["ids"].append(i)
        batch["documents"].append(text)
        batch["metadatas"].append(meta)
        batch["embeddings"].append(vector.tolist())
    for n in range(size - len(ids)):
        picks = [rng.randrange(len(ids)) for _ in range(3)]
        head = texts[picks[0]].partition("\n\n")[0][:200]
        body = " ".join(rng.choice(sentences[p]) for p in picks for _ in range(2))
        meta = dict(metas[picks[0]])
        page = n // 8
        lang = meta.get("language", "en")
        meta.update(
            source=f"https://synthetic.example/{lang}/page-{page}",
            url=f"https://synthetic.example/{lang}/page-{page}",
        )
        meta.pop("alternates", None)
        vec = vectors[picks].sum(axis=0) + noise.normal(0, 0.02, vectors.shape[1])
        batch["ids"].append(f"syn-{n}")
        batch["documents"].append(f"{head}\n\n{body}")
        batch["metadatas"].append(meta)
        batch["embeddings"].append((vec / np.linalg.norm(vec)).tolist())
        if len(batch["ids"]) >= _BATCH:
            flush()
    flush()
    store.bump_generation(last_sync=datetime.now(UTC).isoformat(timespec="seconds"))
    return time.perf_counter() - started


# --- the server --------------------------------------------------------------------------
def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMR_")}
    env.update(
        PYTHONPATH=str(ROOT),
        KMR_DATA_DIR=str(settings.data_dir),
        KMR_MODEL_CACHE_DIR=str(settings.model_cache_dir),
        KMR_RATE_LIMIT="1000000/minute",
        KMR_LOG_LEVEL="INFO",
        # the server embeds with the benchmark's variant, so both use the same collection
        KMR_EMBEDDING_VARIANT=settings.embedding_variant,
    )
    return env


def serve_main() -> None:
    """The server process: `kmr serve`'s path (one worker, one torch thread)."""
    from assistant.cli import run_server

    settings = Settings()
    run_server(settings.model_copy(update={"torch_threads": settings.torch_threads or 1}))


class Server:
    """A server process (default: ``serve_main``; ``command``: another way to start it)."""

    def __init__(
        self, settings: Settings, port: int, log: Path, command: list[str] | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        env = environment(settings) | {"KMR_PORT": str(port), "KMR_HOST": "127.0.0.1"}
        self.started = time.perf_counter()
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                command or [sys.executable, __file__, "--serve"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 1800) -> float:
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            if time.perf_counter() - self.started > timeout:
                raise TimeoutError("not ready")
            time.sleep(0.1)

    def rss_mb(self) -> tuple[float, float]:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
        return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


SERVER_MS: list[float] = []  # X-Process-Time of the requests timed since the last reset


def timed(client: httpx.Client, method: str, path: str, **kwargs: Any) -> float:
    """Client-side milliseconds of one request; its server-side time goes to SERVER_MS."""
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    SERVER_MS.append(float(response.headers["x-process-time"]) * 1000)
    return elapsed


def summary(client_ms: list[float]) -> dict[str, float]:
    """p50/p95 server-side (X-Process-Time) and client-side, then SERVER_MS is reset."""
    server = list(SERVER_MS)
    SERVER_MS.clear()
    return {
        "server_p50": round(percentile(server, 50), 1),
        "server_p95": round(percentile(server, 95), 1),
        "client_p50": round(percentile(client_ms, 50), 1),
        "client_p95": round(percentile(client_ms, 95), 1),
        "max": round(max(client_ms), 1),
    }


def measure_size(size: int, args: argparse.Namespace, seed: tuple, port: int) -> dict[str, Any]:
    from assistant.runtime import keyword_index_dir

    settings = Settings(data_dir=args.out / f"n{size}", model_cache_dir=args.models, _env_file=None)
    rng = random.Random(size)
    result: dict[str, Any] = {"chunks": size, "variant": settings.embedding_variant}
    # the machine's 1-minute load at the start (other jobs slow every figure down)
    result["load_at_start"] = round(os.getloadavg()[0], 2)
    result["insert_s"] = round(build_index(settings, size, seed, rng), 1)
    result["end_of_sync"] = end_of_sync(settings, synthetic_units=True)
    print(f"# {size}: inserted, end of sync {result['end_of_sync']}", flush=True)
    qs = questions()
    log = args.out / f"server-{size}.log"

    # 1. no saved keyword index (as before this change, or a damaged one): the server builds it
    shutil.rmtree(keyword_index_dir(settings), ignore_errors=True)
    server = Server(settings, port, log)
    try:
        result["ready_unsaved_s"] = round(server.wait_ready(), 1)
        print(f"# {size}: ready without a saved index in {result['ready_unsaved_s']} s", flush=True)
    finally:
        server.stop()

    # 2. the start after a sync: the keyword index and the unit vectors are loaded
    end_of_sync(settings)  # the server above saved it already: nothing to build
    server = Server(settings, port, log)
    try:
        result["ready_s"] = round(server.wait_ready(), 1)
        with httpx.Client(base_url=server.url, timeout=300) as http:
            SERVER_MS.clear()
            first = [timed(http, "POST", "/api/chat", json={"question": q}) for q, _ in qs[:20]]
            result["first_answer_ms"] = summary(first)
            search = [
                timed(http, "GET", "/api/search", params={"q": q}) for _ in range(2) for q, _ in qs
            ]
            result["search_ms"] = summary(search)
            chat = [timed(http, "POST", "/api/chat", json={"question": q}) for q, _ in qs[20:]]
            result["chat_ms"] = summary(chat)
            result["rss_mb"], result["rss_peak_mb"] = map(round, server.rss_mb())
            result["syncs"] = [
                follow_a_sync(settings, http, server, size, round_) for round_ in range(3)
            ]
            # questions after the rebuilds, then the worker's memory
            for q, _ in qs[:20]:
                timed(http, "POST", "/api/chat", json={"question": q})
            SERVER_MS.clear()
            result["rss_after_syncs_mb"], result["rss_after_syncs_peak_mb"] = map(
                round, server.rss_mb()
            )
            result["load_at_end"] = round(os.getloadavg()[0], 2)
    finally:
        server.stop()
    return result


def follow_a_sync(
    settings: Settings, http: httpx.Client, server: Server, size: int, round_: int
) -> dict[str, Any]:
    """Change 20 chunks from this process and do the end-of-sync work, as `kmr ingest` does;
    seconds until the server's search serves the new text."""
    from assistant.runtime import open_store

    store = open_store(settings)
    word = f"zorblattium{size}x{round_}"
    got = store.collection.get(
        ids=[f"syn-{i}" for i in range(20 * round_, 20 * round_ + 20)],
        include=["documents", "metadatas", "embeddings"],
    )
    store.collection.upsert(
        ids=got["ids"],
        embeddings=got["embeddings"],
        metadatas=got["metadatas"],
        documents=[f"{d} The racks are made of {word}." for d in got["documents"]],
    )
    store.bump_generation()
    started = time.perf_counter()
    work = end_of_sync(settings)
    changed = set(got["ids"])

    def served_now() -> bool:
        # k=50: a chunk matched by BM25 alone ranks below the dense-only hits of a top 5
        hits = http.get("/api/search", params={"q": word, "k": 50}).json()["results"]
        return any(h["id"] in changed for h in hits)

    # A server checks the generation when asked (at most once a second): ask, as visitors would.
    while not served_now():
        if time.perf_counter() - started > 900:
            raise TimeoutError("the server never served the new text")
        time.sleep(0.05)
    return {"served_after_s": round(time.perf_counter() - started, 2), **work}


def first_chat(out: Path, models: Path, port: int) -> dict[str, Any]:
    """The README's main command on the sample site, as `./scripts/run` runs it after its
    install step (`kmr up` in a fresh data directory): seconds to `/ready` and the first chat's
    latency; then the same after a restart (the index is there, nothing is built)."""
    data = out / "first-chat"
    shutil.rmtree(data, ignore_errors=True)
    settings = Settings(data_dir=data, model_cache_dir=models, _env_file=None)
    result: dict[str, Any] = {}
    for start in ("fresh", "restart"):
        log = out / f"first-chat-{start}.log"
        server = Server(settings, port, log, [sys.executable, "-m", "assistant.cli", "up"])
        try:
            ready = server.wait_ready()
            with httpx.Client(base_url=server.url, timeout=300) as http:
                SERVER_MS.clear()
                client = timed(http, "POST", "/api/chat", json={"question": questions()[0][0]})
                result[start] = {
                    "ready_s": round(ready, 1),
                    "first_chat_ms": round(client, 1),
                    "first_chat_server_ms": round(SERVER_MS.pop(), 1),
                    "second_chat_ms": round(
                        timed(http, "POST", "/api/chat", json={"question": questions()[1][0]}), 1
                    ),
                }
                SERVER_MS.clear()
        finally:
            server.stop()
        print(f"# first chat, {start} start: {result[start]}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--out", type=Path, default=Path("/tmp/kmr-bench-scale"))
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="Where the rebuilt embedding model is cached (default: OUT/models).",
    )
    parser.add_argument("--port", type=int, default=0, help="Default: a free port.")
    parser.add_argument(
        "--first-chat",
        action="store_true",
        help="Only time `kmr up` on the sample site from an empty data directory, then a restart.",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main()
        return
    args.out.mkdir(parents=True, exist_ok=True)
    args.models = args.models or args.out / "models"
    if not args.port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            args.port = int(sock.getsockname()[1])
    if args.first_chat:
        result = first_chat(args.out, args.models, args.port)
        (args.out / "first-chat.json").write_text(json.dumps(result, indent=2))
        return
    seed_settings = Settings(
        data_dir=args.out / "seed", model_cache_dir=args.models, _env_file=None
    )
    seed = seed_rows(seed_settings)
    print(
        f"# bench_scale {datetime.now(UTC).isoformat(timespec='minutes')} on "
        f"{platform.machine()}, {os.cpu_count()} cores; seed {len(seed[0])} real chunks",
        flush=True,
    )
    results = []
    for size in args.sizes:
        result = measure_size(size, args, seed, args.port)
        results.append(result)
        print(json.dumps(result), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
