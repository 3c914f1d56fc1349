"""The `kmr` command line: answers to stdout, progress and diagnostics to stderr.

Every error a command can meet (bad usage, bad settings, a malformed file, store unreachable,
model unusable, a sync already running, anything unexpected) is translated once, by
``OneLineErrors``, into one line ``Error: ...`` on stderr and the exit status of its class in
``assistant.errors`` (2); the traceback goes to the log at DEBUG level (``KMR_LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from assistant.config import Settings
from assistant.errors import InvalidInput, kind_of, one_line

if TYPE_CHECKING:
    from vectorstore.passages import Filters

log = logging.getLogger("kmr.cli")
MAX_ERROR_CHARS = 400  # one readable line; the whole text is in the DEBUG log


def _say_error(text: str) -> None:
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    click.echo(f"Error: {text}", err=True)


class OneLineLogs(logging.Formatter):
    """Diagnostics on stderr, one line each: a logged exception shows its one-line text, and
    its traceback only at DEBUG level."""

    def __init__(self, *, show_tracebacks: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.show_tracebacks = show_tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None and not self.show_tracebacks:
            text = f"{record.getMessage()} ({one_line(record.exc_info[1])})"
            record = logging.makeLogRecord(
                {**record.__dict__, "msg": text, "args": (), "exc_info": None, "exc_text": None}
            )
        return " ".join(super().format(record).split("\n"))


class OneLineErrors(TyperGroup):
    """The CLI's one edge for errors: one line on stderr, the exit code of the error tree."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # `kmr` alone: the help text, as usual
            code = exc.exit_code
        except click.ClickException as exc:  # bad usage: unknown option, missing argument
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            _say_error(exc.format_message() + hint)
            code = 2
        except click.Abort:
            click.echo("Aborted.", err=True)
            code = 1
        except Exception as exc:
            log.debug("error details", exc_info=exc)
            _say_error(one_line(exc))
            code = kind_of(exc).exit_code
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    help="Kilometro Rosso district assistant: ingest content, ask questions, serve the API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LangOpt = Annotated[
    str | None, typer.Option("--lang", help="Only passages in this language (it, en).")
]
TypeOpt = Annotated[
    str | None, typer.Option("--type", help="Only this page type (e.g. partner, news).")
]
PrefixOpt = Annotated[str | None, typer.Option("--url-prefix", help="Only sources under this URL.")]


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"invalid settings: {problems}") from exc
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineLogs(show_tracebacks=settings.log_level.upper() == "DEBUG"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
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


def _filters(lang: str | None, page_type: str | None, prefix: str | None) -> Filters | None:
    from vectorstore.passages import Filters

    if not (lang or page_type or prefix):
        return None
    return Filters(language=lang, page_type=page_type, url_prefix=prefix)


# --- ingest ----------------------------------------------------------------------------------
def _progress_bar() -> tuple[Callable[[Any], None], Callable[[], None]]:
    """A sync's progress bar on stderr; log lines meanwhile are printed above it, not into it
    (the end of a sync logs while the bar is still open), until ``close``."""
    from contextlib import ExitStack

    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    cleanup = ExitStack()
    cleanup.enter_context(logging_redirect_tqdm())
    bar = cleanup.enter_context(
        tqdm(unit=" doc", desc="ingest", file=sys.stderr, dynamic_ncols=True, mininterval=0.2)
    )
    state = {"events": 0}

    def update(report: Any) -> None:
        events = report.seen + len(report.failures)
        bar.update(max(0, events - state["events"]))
        state["events"] = events
        bar.set_postfix(chunks=report.chunks_embedded, failed=report.failed, refresh=False)

    return update, cleanup.close


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
    for duplicate in getattr(report, "duplicates", []):
        typer.echo(
            f"  duplicate: {duplicate.location}: {duplicate.canonical} belongs to {duplicate.owner}"
        )


@app.command()
def ingest(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Paths or URLs; default: the configured sources.")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Re-read everything and drop what these sources no longer hold."
        ),
    ] = False,
    max_pages: Annotated[int | None, typer.Option(help="Crawl at most this many pages.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Crawl at most this link depth.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Ingest pages and documents into the index, incrementally.

    Example: kmr ingest data/sample-site https://www.example.org/ --max-pages 200
    """
    from assistant.runtime import open_store, sync_index
    from vectorstore.store import refuse_sync_if_read_only

    settings = _settings(crawl_max_pages=max_pages, crawl_max_depth=max_depth)
    # before loading the model or copying the index
    refuse_sync_if_read_only(settings.store_options())
    store = open_store(settings)
    update, close = _progress_bar()
    try:
        report = sync_index(settings, store, sources or None, full=full, progress=update)
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
    """Show what the index holds: documents and chunks by language and type, model, last sync,
    and the questions stored (the same figures as GET /api/admin/stats).

    Example: kmr stats
    """
    from assistant.records_db import RecordsDB
    from assistant.runtime import open_store
    from assistant.stats import collect_stats

    settings = _settings()
    db = RecordsDB(settings)
    try:
        data = collect_stats(settings, open_store(settings), db)
    finally:
        db.close()
    if as_json:
        typer.echo(data.model_dump_json(indent=2))
        return
    typer.echo(f"model: {data.embedding_model}  collection: {data.collection}")
    typer.echo(f"documents: {data.documents}  chunks: {data.chunks}")
    for name, counts in (
        ("documents by language", data.documents_by_language),
        ("documents by type", data.documents_by_type),
        ("chunks by language", data.chunks_by_language),
        ("chunks by type", data.chunks_by_type),
    ):
        typer.echo(f"{name}: " + ", ".join(f"{k or '-'} {v}" for k, v in counts.items()))
    typer.echo(f"last sync: {data.last_sync or 'never'}")
    c = data.conversations
    typer.echo(
        f"questions: {c.questions} ({c.refused} refused, feedback {c.feedback_up} up / "
        f"{c.feedback_down} down)"
    )


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
    runtime = open_runtime(settings)
    site = settings.site_profile()
    typer.echo(
        f"Ask about the {site.short_name} district (Ctrl-D to quit, /new to start over).", err=True
    )
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
            history += [
                Turn(role="user", content=question),
                Turn(role="assistant", content=final.text),
            ]


@app.command("eval")
def evaluate(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, help="Question sets, one JSON object a line."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure retrieval, answers, abstention, injections and latency, per question set.

    Example: kmr eval data/eval/dev.jsonl data/eval/independent.jsonl
    """
    from assistant.evaluate import load_questions, run_eval
    from assistant.runtime import open_runtime

    settings = _answering(_settings())
    for file in files:  # a malformed file fails here, before the model loads
        load_questions(file)
    runtime = open_runtime(settings)
    reports = [run_eval(runtime, file) for file in files]
    if as_json:
        data = [r.as_dict() for r in reports]
        typer.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        typer.echo("\n\n".join(r.format_text() for r in reports))


# --- service ---------------------------------------------------------------------------------
def _announce(settings: Settings) -> None:
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    typer.echo(f"Demo page with the chat widget: {base}/", err=True)
    typer.echo(f"Staff console: {base}/staff   API docs: {base}/docs", err=True)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as KMR_* variables, for the server processes that rebuild them."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"KMR_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return env


def run_server(settings: Settings) -> None:
    """uvicorn with the app factory (``api:create_app``); the settings travel as KMR_*."""
    import uvicorn

    from assistant.web import APP_FACTORY, SERVER_OPTIONS

    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    os.environ.update(settings_environment(settings))
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        **SERVER_OPTIONS,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (KMR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KMR_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (KMR_WORKERS).")] = None,
) -> None:
    """Serve the API, the chat widget, the demo page and the staff console.

    Example: kmr serve --port 8000
    """
    settings = _answering(_settings(host=host, port=port, workers=workers))
    _warn_if_index_empty(settings)
    _announce(settings)
    run_server(settings)


def _warn_if_index_empty(settings: Settings) -> None:
    """One line when the configured collection is empty, as after the upgrade that made
    onnx-int8 the default variant: its collection is new, the float32 index another one."""
    from assistant.runtime import open_store
    from vectorstore.store import StoreError, read_only_problem

    if read_only_problem(settings.store_options()) is not None:
        return  # served from a snapshot as it is; opening one here would copy it twice
    try:
        store = open_store(settings)
        empty = store.count() == 0
    except StoreError:
        return  # the service starts anyway and /ready says why
    if empty:
        typer.echo(
            f"Warning: the index {store.collection_name} is empty, so every question will be "
            "declined: build it with `kmr ingest` (`kmr up` builds an empty index itself). "
            "An index built with another embedding variant (float32 was the default before "
            "onnx-int8) is in another collection: KMR_EMBEDDING_VARIANT=float32 serves it.",
            err=True,
        )


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Bind address (KMR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KMR_PORT).")] = None,
) -> None:
    """Build the index from the configured sources if it is empty, then serve.

    Example: kmr up
    """
    from assistant.runtime import open_store, sync_index

    settings = _settings(host=host, port=port)
    store = open_store(settings)
    if store.count() == 0:
        typer.echo(f"Building the index from {', '.join(settings.sources)} ...", err=True)
        update, close = _progress_bar()
        try:
            report = sync_index(settings, store, progress=update)
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
