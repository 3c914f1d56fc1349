"""The one error tree, and the one table that turns an error into an exit code or an HTTP status.

The assistant's own errors descend from ``KmrError``; errors of the lower layers (which must not
import this module) and a few library errors are placed in the same tree by the table below,
named by dotted path so that importing this module loads nothing heavy::

    KmrError                                          exit  HTTP  code
     +-- InvalidInput      bad argument, file, body     2    422  invalid_request
     |    +-- assistant.evaluate.EvalFileError          2    422  invalid_file
     +-- NotFound          nothing by that name         2    404  not_found
     |    +-- UnknownMessage (records_db)               2    404  unknown_message
     +-- Conflict          busy with the same thing     2    409  conflict
     |    +-- assistant.jobs.JobAlreadyRunning          2    409  sync_running
     |    +-- ingest.sync.SyncError                     2    409  sync_failed
     +-- RateLimited       too many requests            2    429  rate_limited
     +-- Unavailable       a part is down or busy       2    503  unavailable
     |    +-- vectorstore.store.StoreError              2    503  store_unavailable
     |    |    +-- vectorstore.store.StoreReadOnly      2    503  store_read_only
     |    +-- vectorstore.embeddings.EmbeddingModelError 2   503  model_unavailable
     |    +-- DatabaseBusy (records_db, locked)         2    503  database_busy + Retry-After
     |    +-- DatabaseReadOnly (records_db)             2    503  database_read_only
     |    +-- DatabaseUnavailable (records_db, down)    2    503  database_unavailable
     +-- AnswerFailed      the engine broke, store up   2    500  answer_failed
          +-- assistant.answer.AnswerError              2    500  answer_failed
    anything else                                       2    500  internal_error

Each edge translates once: the CLI prints ``Error: <message>`` on one line and exits with
``exit``; the API answers ``{"error": code, "detail": public detail, "request_id"}`` with the
status. For 5xx the detail is a fixed public sentence, never the exception text.
"""

from __future__ import annotations

from dataclasses import dataclass


class KmrError(Exception):
    """Base class of the assistant's own errors."""


class InvalidInput(KmrError):
    """An argument, file or request body that cannot be used as given."""


class NotFound(KmrError):
    """Nothing exists by the name the caller gave."""


class Conflict(KmrError):
    """The same work is already under way."""


class RateLimited(KmrError):
    """A client asked more often than the configured rate allows."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(f"Too many requests: the limit is {limit}. Please wait.")
        self.limit = limit
        self.retry_after = retry_after


class Unavailable(KmrError):
    """A part the request needs is down, busy or read-only; trying later may work."""


class AnswerFailed(KmrError):
    """The answer engine failed although the store answers."""


@dataclass(frozen=True)
class ErrorKind:
    """How one class of error is shown at the edges."""

    code: str
    http_status: int
    exit_code: int = 2
    public_detail: str | None = None  # None: the exception's own text is safe to show
    retry_after: int | None = None


STORE_DOWN = "The knowledge base is temporarily unavailable. Please try again in a moment."
DB_DOWN = (
    "The service is temporarily unavailable (its database does not answer). Please try again "
    "in a moment."
)
INDEX_READ_ONLY = (
    "Syncs are disabled: the index folder is read-only, so the service answers from a "
    "read-only copy of the index."
)
INTERNAL = ErrorKind("internal_error", 500)

# Most specific first; the first entry in an error's MRO wins. Keys are classes of this
# module or dotted paths of classes elsewhere (checked by tests/test_errors.py).
ERROR_KINDS: dict[str, ErrorKind] = {
    "assistant.evaluate.EvalFileError": ErrorKind("invalid_file", 422),
    "assistant.errors.InvalidInput": ErrorKind("invalid_request", 422),
    "assistant.records_db.UnknownMessage": ErrorKind(
        "unknown_message",
        404,
        public_detail="No answer with this message id (it may have expired).",
    ),
    "assistant.errors.NotFound": ErrorKind("not_found", 404),
    "assistant.jobs.JobAlreadyRunning": ErrorKind("sync_running", 409),
    "ingest.sync.SyncError": ErrorKind("sync_failed", 409),
    "assistant.errors.Conflict": ErrorKind("conflict", 409),
    "assistant.errors.RateLimited": ErrorKind("rate_limited", 429, retry_after=60),
    "vectorstore.store.StoreReadOnly": ErrorKind(
        "store_read_only", 503, public_detail=INDEX_READ_ONLY
    ),
    "vectorstore.store.StoreError": ErrorKind(
        "store_unavailable", 503, public_detail=STORE_DOWN, retry_after=5
    ),
    "vectorstore.embeddings.EmbeddingModelError": ErrorKind(
        "model_unavailable",
        503,
        public_detail="The language model of the search is not available. Please try again later.",
    ),
    "assistant.records_db.DatabaseBusy": ErrorKind(
        "database_busy",
        503,
        public_detail="The service database is busy. Please try again in a moment.",
        retry_after=5,
    ),
    "assistant.records_db.DatabaseReadOnly": ErrorKind(
        "database_read_only",
        503,
        public_detail="The service database is read-only: feedback, curated answers and "
        "enquiries cannot be recorded at the moment.",
    ),
    "assistant.records_db.DatabaseUnavailable": ErrorKind(
        "database_unavailable",
        503,
        public_detail=DB_DOWN,
        retry_after=5,
    ),
    "assistant.errors.Unavailable": ErrorKind("unavailable", 503, retry_after=5),
    "assistant.answer.AnswerError": ErrorKind(
        "answer_failed",
        500,
        public_detail="Sorry, the answer could not be composed. Please try again.",
    ),
    "assistant.errors.AnswerFailed": ErrorKind(
        "answer_failed",
        500,
        public_detail="Sorry, the answer could not be composed. Please try again.",
    ),
}


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def kind_of(exc: BaseException) -> ErrorKind:
    """The edge treatment of an error: its nearest class in the table, else internal."""
    for cls in type(exc).__mro__:
        kind = ERROR_KINDS.get(_dotted(cls))
        if kind is not None:
            return kind
    return INTERNAL


def is_known(exc: BaseException) -> bool:
    """True when the error is in the table (its text is meant for the user)."""
    return kind_of(exc) is not INTERNAL


def one_line(exc: BaseException) -> str:
    """The error as one line for a terminal: its own text, else its class name."""
    text = " ".join(str(exc).split())
    if not is_known(exc):
        text = f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")
    return text or type(exc).__name__


def error_classes() -> list[type[Exception]]:
    """Every class of the table, imported (for an edge that registers handlers per class)."""
    import importlib

    classes: list[type[Exception]] = []
    for dotted in ERROR_KINDS:
        module, _, name = dotted.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise TypeError(f"{dotted} is not an exception class")
        classes.append(cls)
    return classes
