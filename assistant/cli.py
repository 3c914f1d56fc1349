"""The `kmr` command line: answers to stdout, progress and diagnostics to stderr.

Errors from the parts (store unreachable, model missing, a sync already running, bad settings)
are translated here into one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from assistant.config import Settings

app = typer.Typer(
    help="Kilometro Rosso district assistant: ingest content, ask questions, serve the API.",
    no_args_is_help=True,
    add_completion=False,
)

LangOpt = Annotated[str | None, typer.Option("--lang", help="Only passages in this language (it, en).")]
TypeOpt = Annotated[str | None, typer.Option("--type", help="Only this page type (e.g. partner, news).")]
PrefixOpt = Annotated[str | None, typer.Option("--url-prefix", help="Only sources under this URL.")]


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        _fail(f"invalid settings: {exc}")
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return settings


def _answering(settings: Settings) -> Settings:
    """One torch thread for question answering unless configured (measured: with two threads a
    single query embedding took ~1.4 s while other work used the CPU, 25 ms with one)."""
    if settings.torch_threads is None:
        return settings.model_copy(update={"torch_threads": 1})
    return settings


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _edge() -> Iterator[None]:
    """Translate the project's errors into a one-line message and exit status 2."""
    from ingest.sync import SyncError
    from vectorstore.embeddings import EmbeddingModelError
    from vectorstore.store import StoreError

    try:
        yield
    except (StoreError, SyncError, EmbeddingModelError) as exc:
        _fail(str(exc))


def _filters(lang: str | None, page_type: str | None, prefix: str | None):  # noqa: ANN202
    from assistant.schema import Filters

    if not (lang or page_type or prefix):
        return None
    return Filters(language=lang, page_type=page_type, url_prefix=prefix)


# --- ingest ----------------------------------------------------------------------------------
def _progress_bar() -> tuple[Callable[[Any], None], Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(unit=" doc", desc="ingest", file=sys.stderr, dynamic_ncols=True, mininterval=0.2)
    state = {"events": 0}

    def update(report: Any) -> None:
        events = report.seen + len(report.failures)
        bar.update(max(0, events - state["events"]))
        state["events"] = events
        bar.set_postfix(chunks=report.chunks_embedded, failed=report.failed, refresh=False)

    return update, bar.close


def print_summary(report: Any) -> None:
    """The final summary of a sync, on stdout."""
    typer.echo(
        f"documents: {report.seen} seen, {report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged, {report.removed} removed, {report.failed} failed"
    )
    typer.echo(
        f"chunks: {report.chunks_embedded} embedded, {report.chunks_removed} removed "
        f"in {report.seconds:.1f} s ({report.chunks_per_second:.1f} chunks/s)"
    )
    for failure in report.failures:
        typer.echo(f"  failed: {failure.location}: {failure.reason}")


@app.command()
def ingest(
    sources: Annotated[list[str] | None, typer.Argument(help="Paths or URLs; default: the configured sources.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-read everything and drop what these sources no longer hold.")] = False,
    max_pages: Annotated[int | None, typer.Option(help="Crawl at most this many pages.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Crawl at most this link depth.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Ingest pages and documents into the index, incrementally.

    Example: kmr ingest data/sample-site https://www.example.org/ --max-pages 200
    """
    from assistant.runtime import open_store
    from ingest.sync import sync

    settings = _settings(crawl_max_pages=max_pages, crawl_max_depth=max_depth)
    with _edge():
        store = open_store(settings)
        update, close = _progress_bar()
        try:
            report = sync(settings, store, sources or None, full=full, progress=update)
        finally:
            close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_summary(report)
    if report.ingested == 0:
        typer.echo("Error: nothing could be read from the sources", err=True)
        raise typer.Exit(1)


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show what the index holds: documents and chunks by language and type, model, last sync.

    Example: kmr stats
    """
    settings = _settings()
    with _edge():
        data = index_stats(settings)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"model: {data['model']}  collection: {data['collection']}")
    typer.echo(f"documents: {data['documents']}  chunks: {data['chunks']}")
    for key in ("documents_by_language", "documents_by_type", "chunks_by_language", "chunks_by_type"):
        typer.echo(f"{key.replace('_', ' ')}: " + ", ".join(f"{k or '-'} {v}" for k, v in data[key].items()))
    typer.echo(f"last sync: {data['last_sync'] or 'never'}")


def index_stats(settings: Settings) -> dict[str, Any]:
    """Counts of the index (used by `kmr stats` and the admin API)."""
    from datetime import UTC, datetime

    from assistant.runtime import open_store
    from ingest.sync import last_run, ledger_documents

    store = open_store(settings)
    docs = ledger_documents(settings)
    rows = [m for _, _, m in store.iter_rows(include_documents=False)]
    run = last_run(settings)
    return {
        "model": settings.embedding_model,
        "collection": store.collection_name,
        "documents": len({d["source_id"] for d in docs}),
        "chunks": len(rows),
        "documents_by_language": dict(Counter(d["language"] for d in docs).most_common()),
        "documents_by_type": dict(Counter(d["page_type"] for d in docs).most_common()),
        "chunks_by_language": dict(Counter(str(m.get("language", "")) for m in rows).most_common()),
        "chunks_by_type": dict(Counter(str(m.get("page_type", "")) for m in rows).most_common()),
        "last_sync": datetime.fromtimestamp(run["finished_at"], UTC).isoformat(timespec="seconds") if run else None,
    }


# --- questions -------------------------------------------------------------------------------
def print_answer(answer: Any) -> None:
    """An answer and its numbered sources, on stdout."""
    if answer.notice:
        typer.echo(f"({answer.notice})", err=True)
    typer.echo(answer.text)
    if answer.sources:
        typer.echo("\nSources:")
        for source in answer.sources:
            typer.echo(f"  [{source.n}] {source.title} ({source.language}) {source.url}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Italian or English.")],
    lang: LangOpt = None,
    page_type: TypeOpt = None,
    url_prefix: PrefixOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer one question from the index, with its sources.

    Example: kmr ask "Quanto è lungo il muro rosso?"
    """
    from assistant.runtime import open_runtime

    settings = _answering(_settings())
    with _edge():
        runtime = open_runtime(settings)
        answer = runtime.assistant.answer(question, [], _filters(lang, page_type, url_prefix))
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
    else:
        print_answer(answer)


@app.command()
def chat(lang: LangOpt = None, page_type: TypeOpt = None, url_prefix: PrefixOpt = None) -> None:
    """Talk with the assistant; earlier turns are kept, so follow-ups work. /new starts over.

    Example: kmr chat
    """
    from assistant.runtime import open_runtime
    from assistant.schema import DeltaEvent, DoneEvent, ErrorEvent, Turn

    settings = _answering(_settings())
    filters = _filters(lang, page_type, url_prefix)
    history: list[Turn] = []
    with _edge():
        runtime = open_runtime(settings)
        typer.echo("Ask about the Kilometro Rosso district (Ctrl-D to quit, /new to start over).", err=True)
        while True:
            try:
                question = input("> ").strip()
            except (EOFError, KeyboardInterrupt):
                typer.echo("", err=True)
                return
            if not question:
                continue
            if question == "/new":
                history = []
                continue
            final = None
            for event in runtime.assistant.stream(question, history, filters):
                if isinstance(event, DeltaEvent):
                    typer.echo(event.text, nl=False)
                elif isinstance(event, DoneEvent):
                    final = event.answer
                elif isinstance(event, ErrorEvent):
                    typer.echo(f"\nError: {event.message}", err=True)
            typer.echo("")
            if final is not None:
                for source in final.sources:
                    typer.echo(f"  [{source.n}] {source.title} {source.url}")
                history += [Turn(role="user", content=question),
                            Turn(role="assistant", content=final.text)]


@app.command("eval")
def evaluate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Questions, one JSON object a line.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure retrieval, answers, abstention, injections and latency on a question set.

    Example: kmr eval data/eval/dev.jsonl
    """
    from assistant.evaluate import run_eval
    from assistant.runtime import open_runtime

    settings = _answering(_settings())
    with _edge():
        runtime = open_runtime(settings)
        report = run_eval(runtime, file)
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.format_text())


# --- service ---------------------------------------------------------------------------------
def _announce(settings: Settings) -> None:
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    typer.echo(f"Demo page with the chat widget: {base}/", err=True)
    typer.echo(f"Staff console: {base}/staff   API docs: {base}/docs", err=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (KMR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KMR_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (KMR_WORKERS).")] = None,
) -> None:
    """Serve the API, the chat widget, the demo page and the staff console.

    Example: kmr serve --port 8000
    """
    from api import serve as run_server

    settings = _answering(_settings(host=host, port=port, workers=workers))
    _announce(settings)
    with _edge():
        run_server(settings)


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Bind address (KMR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KMR_PORT).")] = None,
) -> None:
    """Build the index from the configured sources if it is empty, then serve.

    Example: kmr up
    """
    from api import serve as run_server
    from assistant.runtime import open_store
    from ingest.sync import sync

    settings = _settings(host=host, port=port)
    with _edge():
        store = open_store(settings)
        if store.count() == 0:
            typer.echo(f"Building the index from {', '.join(settings.sources)} ...", err=True)
            update, close = _progress_bar()
            try:
                report = sync(settings, store, progress=update)
            finally:
                close()
            print_summary(report)
            if report.ingested == 0:
                _fail("nothing could be read from the sources", 1)
        else:
            typer.echo(f"Index ready: {store.count()} chunks in {store.collection_name}.", err=True)
        del store
        _announce(settings)
        run_server(_answering(settings))


if __name__ == "__main__":
    app()
