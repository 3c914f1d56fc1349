"""Embedding variants side by side: speed, memory and quality (a script that prints figures).

For each variant (``KMR_EMBEDDING_VARIANT`` values), on the same texts:

- speed worker (its own process, threads as when ingesting): model load time (a fresh
  process, imports included), chunks/s embedding the sample site's chunks in the sync's
  64-chunk calls at the ingest batch size, the process's peak RSS (VmHWM);
- query worker (its own process, 1 thread as when answering): one-query latency p50/p95
  (cache cleared before each question); model RSS = the process's RSS after loading and
  5 questions minus its RSS just before loading, once the variant's runtime (torch and
  sentence-transformers, or onnxruntime, tokenizers and sentencepiece) is imported; so it
  counts the weights, the tokenizer and the runtime's buffers, not the libraries' code;

Every worker is a fresh ``python`` (fork and exec) and the driver never loads a model
itself (exports are made in a worker too), so no figure inherits another process's memory:
peak RSS is read from /proc/self/status VmHWM, which starts afresh at exec, unlike
getrusage's ru_maxrss, which Linux carries across exec from the forking parent.
- quality (vectors from the speed worker): mean cosine to float32 on 500 passages (the
  site's chunks, then SQuAD-it paragraphs) and on the questions; dense retrieval hit@5 and
  MRR@10 on each eval set (chunk-level ranking, a hit is a gold page) and on SQuAD-it half
  A (paragraph retrieval over a stated subset).

The first run of an ONNX variant exports it (not timed; load time is measured after).

Usage: .venv/bin/python scripts/bench_embeddings.py [--variants float32,onnx-int8]
       [--models var/models] [--eval data/eval/dev.jsonl --eval data/eval/independent.jsonl]
       [--squad ../shared/qa/squad-it-half-a.json.gz] [--squad-paragraphs 400]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_EVALS = [ROOT / "data" / "eval" / "dev.jsonl", ROOT / "data" / "eval" / "independent.jsonl"]
# ../shared from the main checkout, ../../shared from a worktree in wt/<name>.
DEFAULT_SQUAD = next(
    (
        base / "shared" / "qa" / "squad-it-half-a.json.gz"
        for base in (ROOT.parent, ROOT.parent.parent)
        if (base / "shared" / "qa" / "squad-it-half-a.json.gz").is_file()
    ),
    ROOT.parent / "shared" / "qa" / "squad-it-half-a.json.gz",
)
SYNC_CALL = 64  # chunks per embed_documents call in ingest/sync.py
COSINE_TEXTS = 500


# --- inputs --------------------------------------------------------------------------------


def site_chunks(source: Path) -> list[dict]:
    """The sample site's chunks exactly as the sync makes them (text, url, source)."""
    from assistant.config import Settings
    from ingest.chunk import chunk_page
    from ingest.extract import ExtractionError, extract
    from ingest.records import RawDocument
    from ingest.sources import iter_source

    settings = Settings(data_dir=Path(tempfile.gettempdir()), _env_file=None)
    chunks: list[dict] = []
    seen: set[str] = set()
    for event in iter_source(str(source), settings.source_options(), {}):
        if not isinstance(event, RawDocument):
            continue
        try:
            page = extract(event)
        except ExtractionError:
            continue
        if page.source_id in seen:  # the sync indexes one document per canonical page
            continue
        seen.add(page.source_id)
        for chunk in chunk_page(page, settings.chunk_size, settings.chunk_overlap):
            meta = chunk.metadata
            chunks.append(
                {"text": chunk.text, "ids": [str(meta.get("source", "")), str(meta.get("url", ""))]}
            )
    return chunks


def eval_questions(path: Path) -> list[dict]:
    """Questions with gold pages, as the eval searches them (follow-ups with their context).

    Read leniently (only question, history and gold), so a set using a newer question
    kind than this checkout's eval schema still measures retrieval.
    """
    from assistant.conversation import retrieval_query
    from assistant.schema import Turn

    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if not row.get("gold"):
            continue
        history = [Turn(**turn) for turn in row.get("history") or []]
        questions.append({"query": retrieval_query(row["question"], history), "gold": row["gold"]})
    return questions


def squad_subset(path: Path, max_paragraphs: int) -> tuple[list[str], list[dict]]:
    """The first ``max_paragraphs`` paragraphs (in file order) and all their questions."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    paragraphs: list[str] = []
    questions: list[dict] = []
    for article in data:
        for paragraph in article["paragraphs"]:
            if len(paragraphs) >= max_paragraphs:
                return paragraphs, questions
            index = len(paragraphs)
            paragraphs.append(paragraph["context"])
            questions += [{"query": qa["question"], "gold": index} for qa in paragraph["qas"]]
    return paragraphs, questions


# --- workers (each in its own process) ---------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    """Peak RSS of this process image (VmHWM; ru_maxrss would include the parent's)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _import_runtime(variant: str) -> None:
    """Import what the variant runs on, so the RSS baseline includes the libraries."""
    if variant == "float32":
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    else:
        import sentencepiece  # noqa: F401

        from vectorstore.onnx_encoder import import_onnxruntime

        import_onnxruntime()  # with its telemetry off, as the service loads it
        import tokenizers  # noqa: F401


def _model(variant: str, models: Path, threads: int | None):  # noqa: ANN202
    from assistant.config import Settings
    from vectorstore.embeddings import load_embeddings

    settings = Settings(
        data_dir=Path(tempfile.gettempdir()),
        model_cache_dir=models,
        embedding_variant=variant,
        torch_threads=threads,
        _env_file=None,
    )
    return load_embeddings(settings.embedding_options()), settings


def worker_speed(variant: str, models: Path, work: Path, repeat: int) -> dict:
    """Load time, chunks/s at the ingest batch size, peak RSS; then the quality vectors."""
    inputs = json.loads((work / "inputs.json").read_text())
    started = time.perf_counter()
    model, settings = _model(variant, models, None)
    model.load()
    load_s = time.perf_counter() - started
    texts = [c["text"] for c in inputs["chunks"]]
    model.embed_documents(texts[:8])  # warm-up
    timed = texts[: inputs["timed_chunks"]]
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for i in range(0, len(timed), SYNC_CALL):
            model.embed_documents(timed[i : i + SYNC_CALL])
        runs.append(time.perf_counter() - started)
    peak = _peak_mb()
    passages = texts + inputs["squad_paragraphs"]
    queries = [q["query"] for q in inputs["queries"]]
    np.save(work / f"{variant}-passages.npy", np.array(model.embed_documents(passages), "f4"))
    encoder = model.load()  # questions in batches, with the query prompt, like embed_query
    vectors = encoder.encode(
        queries,
        prompt=model.query_prompt,
        batch_size=32,
        normalize_embeddings=True,
        convert_to_numpy=True,
    )
    np.save(work / f"{variant}-queries.npy", np.asarray(vectors, "f4"))
    return {
        "load_s": load_s,
        "chunks": len(timed),
        "batch_size": settings.embed_batch_size,
        "chunks_per_s": len(timed) / statistics.median(runs),
        "runs_s": runs,
        "ingest_peak_mb": peak,
    }


def worker_query(variant: str, models: Path, work: Path) -> dict:
    """One-question latency with one thread (as when answering), cache cleared each time."""
    inputs = json.loads((work / "inputs.json").read_text())
    started = time.perf_counter()
    model, _ = _model(variant, models, 1)
    _import_runtime(variant)
    rss_before = _rss_mb()
    model.load()
    load_s = time.perf_counter() - started
    queries = [q["query"] for q in inputs["latency_queries"]]
    for q in queries[:5]:
        model.embed_query(q)
    rss_loaded = _rss_mb()
    times = []
    for q in queries:
        model.clear_cache()
        started = time.perf_counter()
        model.embed_query(q)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "load_1thread_s": load_s,
        "queries": len(times),
        "p50_ms": float(np.percentile(times, 50)),
        "p95_ms": float(np.percentile(times, 95)),
        "rss_loaded_mb": rss_loaded,
        "model_rss_mb": rss_loaded - rss_before,
        "serve_peak_mb": _peak_mb(),
    }


# --- quality -------------------------------------------------------------------------------


def _ranks(query_vectors: np.ndarray, doc_vectors: np.ndarray, depth: int = 10) -> np.ndarray:
    scores = query_vectors @ doc_vectors.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :depth]


def _hit_mrr(ranks: list[int | None]) -> tuple[float, float]:
    hit5 = sum(1 for r in ranks if r is not None and r <= 5) / len(ranks)
    mrr = sum(1 / r for r in ranks if r is not None and r <= 10) / len(ranks)
    return hit5, mrr


def quality(work: Path, variant: str, inputs: dict) -> dict:
    """Cosines to float32 and retrieval figures of ``variant``'s vectors."""
    from assistant.eval_match import first_gold_rank

    passages = np.load(work / f"{variant}-passages.npy")
    queries = np.load(work / f"{variant}-queries.npy")
    ref_p = np.load(work / "float32-passages.npy")
    ref_q = np.load(work / "float32-queries.npy")
    n_chunks = len(inputs["chunks"])
    out: dict = {
        "cos_passages": float(np.mean(np.sum(passages[:COSINE_TEXTS] * ref_p[:COSINE_TEXTS], 1))),
        "cos_passages_min": float(
            np.min(np.sum(passages[:COSINE_TEXTS] * ref_p[:COSINE_TEXTS], 1))
        ),
        "cos_queries": float(np.mean(np.sum(queries * ref_q, 1))),
        "sets": {},
    }
    chunk_vectors, squad_vectors = passages[:n_chunks], passages[n_chunks:]
    for name, (start, end) in inputs["query_sets"].items():
        qs = inputs["queries"][start:end]
        top = _ranks(queries[start:end], squad_vectors if name == "squad-it-a" else chunk_vectors)
        ranks = []
        for q, row in zip(qs, top, strict=True):
            if name == "squad-it-a":
                hits = [i + 1 for i, doc in enumerate(row) if doc == q["gold"]]
                ranks.append(hits[0] if hits else None)
            else:
                ids = [inputs["chunks"][doc]["ids"] for doc in row]
                ranks.append(first_gold_rank(ids, q["gold"]))
        hit5, mrr = _hit_mrr(ranks)
        out["sets"][name] = {"n": len(qs), "hit@5": hit5, "mrr@10": mrr}
    return out


# --- the driver ----------------------------------------------------------------------------


def _run_worker(kind: str, variant: str, models: Path, work: Path, repeat: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--variants",
        variant,
        "--models",
        str(models),
        "--work",
        str(work),
        "--repeat",
        str(repeat),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KMR_")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker for {variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare(args: argparse.Namespace, work: Path) -> dict:
    from assistant.config import SAMPLE_SITE

    chunks = site_chunks(SAMPLE_SITE)
    timed = chunks[: args.max_chunks] if args.max_chunks else chunks
    queries: list[dict] = []
    sets: dict[str, tuple[int, int]] = {}
    for path in args.eval or [p for p in DEFAULT_EVALS if p.is_file()]:
        qs = eval_questions(Path(path))
        sets[Path(path).stem] = (len(queries), len(queries) + len(qs))
        queries += qs
    latency = list(queries)
    paragraphs: list[str] = []
    if args.squad and Path(args.squad).is_file():
        paragraphs, squad_qs = squad_subset(Path(args.squad), args.squad_paragraphs)
        sets["squad-it-a"] = (len(queries), len(queries) + len(squad_qs))
        queries += squad_qs
    inputs = {
        "chunks": chunks,
        "timed_chunks": len(timed),
        "squad_paragraphs": paragraphs,
        "queries": queries,
        "query_sets": sets,
        "latency_queries": latency,
    }
    (work / "inputs.json").write_text(json.dumps(inputs, ensure_ascii=False))
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="float32,onnx-fp32,onnx-int8")
    parser.add_argument("--models", default="var/models", help="Model cache (built if missing).")
    parser.add_argument("--eval", action="append", help="Eval question file (repeatable).")
    parser.add_argument("--squad", default=str(DEFAULT_SQUAD))
    parser.add_argument("--squad-paragraphs", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3, help="Timed passes over the chunks.")
    parser.add_argument(
        "--max-chunks", type=int, default=0, help="Time only the first N chunks (0: all)."
    )
    parser.add_argument("--worker", choices=["speed", "query", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    models = Path(args.models).resolve()

    if args.worker:
        work = Path(args.work)
        if args.worker == "load":
            _model(args.variants, models, None)[0].load()
            result = {}
        elif args.worker == "speed":
            result = worker_speed(args.variants, models, work, args.repeat)
        else:
            result = worker_query(args.variants, models, work)
        print(json.dumps(result))
        return

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "float32" not in variants:
        variants.insert(0, "float32")  # the reference every figure is compared to
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = _prepare(args, work)
        for variant in variants:  # export/rebuild once, untimed, so load times are warm-cache
            _run_worker("load", variant, models, work, args.repeat)
        results = {}
        for variant in variants:
            results[variant] = _run_worker("speed", variant, models, work, args.repeat)
            results[variant] |= _run_worker("query", variant, models, work, args.repeat)
        for variant in variants:
            results[variant] |= quality(work, variant, inputs)
    _print(results, inputs, args)


def _print(results: dict, inputs: dict, args: argparse.Namespace) -> None:
    base = results["float32"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"date: {now}  machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    sets = {k: v[1] - v[0] for k, v in inputs["query_sets"].items()}
    print(
        f"texts: {base['chunks']} of {len(inputs['chunks'])} sample-site chunks timed "
        f"(sync calls of {SYNC_CALL}, "
        f"batch size {base['batch_size']}); {len(inputs['latency_queries'])} latency questions; "
        f"cosine on {COSINE_TEXTS} passages; retrieval sets {sets}"
        + (
            f" (SQuAD-it half A: first {len(inputs['squad_paragraphs'])} paragraphs)"
            if inputs["squad_paragraphs"]
            else ""
        )
    )
    names = list(results)
    rows = [
        ("model load, s (fresh process)", "load_s", "{:.2f}"),
        ("chunks/s (ingest threads)", "chunks_per_s", "{:.1f}"),
        ("query p50 ms (1 thread)", "p50_ms", "{:.1f}"),
        ("query p95 ms (1 thread)", "p95_ms", "{:.1f}"),
        ("process RSS after load, MB (1 thread)", "rss_loaded_mb", "{:.0f}"),
        ("model RSS, MB (1 thread)", "model_rss_mb", "{:.0f}"),
        ("peak RSS ingest process, MB", "ingest_peak_mb", "{:.0f}"),
        ("peak RSS query process, MB", "serve_peak_mb", "{:.0f}"),
        ("mean cosine to float32, passages", "cos_passages", "{:.4f}"),
        ("min cosine to float32, passages", "cos_passages_min", "{:.4f}"),
        ("mean cosine to float32, questions", "cos_queries", "{:.4f}"),
    ]
    print("| figure | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for label, key, fmt in rows:
        cells = []
        for name in names:
            value = results[name][key]
            ratio = (
                value / base[key]
                if key
                in (
                    "chunks_per_s",
                    "p50_ms",
                    "p95_ms",
                    "rss_loaded_mb",
                    "model_rss_mb",
                    "ingest_peak_mb",
                    "serve_peak_mb",
                )
                else None
            )
            cell = fmt.format(value)
            if ratio is not None and name != "float32":
                cell += f" ({ratio:.2f}x)"
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + " |")
    for set_name in inputs["query_sets"]:
        for metric in ("hit@5", "mrr@10"):
            cells = []
            for name in names:
                value = results[name]["sets"][set_name][metric]
                delta = value - base["sets"][set_name][metric]
                cells.append(f"{value:.3f}" + (f" ({delta:+.3f})" if name != "float32" else ""))
            n = results["float32"]["sets"][set_name]["n"]
            print(f"| {set_name} {metric} (n={n}) | " + " | ".join(cells) + " |")
    print(
        "targets: chunks/s >= 2x, query latency <= 0.5x, RSS <= 0.5x, hit@5 and MRR within "
        "0.01 of float32 on every set"
    )
    if args.squad and not inputs["squad_paragraphs"]:
        print(f"SQuAD-it file not found at {args.squad}: not measured")


if __name__ == "__main__":
    main()
