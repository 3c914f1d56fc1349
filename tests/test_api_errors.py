"""The one error tree: every class it names exists, and each edge reads the same table."""

from __future__ import annotations

import pytest

from assistant.errors import (
    ERROR_KINDS,
    INTERNAL,
    AnswerFailed,
    InvalidInput,
    KmrError,
    error_classes,
    kind_of,
    one_line,
)


def test_every_class_named_in_the_table_exists_and_is_an_exception() -> None:
    classes = error_classes()
    assert len(classes) == len(ERROR_KINDS)
    assert all(issubclass(cls, Exception) for cls in classes)


def test_the_tree_is_drawn_with_every_class_of_the_table() -> None:
    import assistant.errors as module

    drawing = module.__doc__ or ""
    for dotted in ERROR_KINDS:
        assert dotted.rpartition(".")[2] in drawing, f"{dotted} is missing from the drawing"


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        ("assistant.records_db.UnknownMessage", "unknown_message", 404),
        ("assistant.records_db.DatabaseBusy", "database_busy", 503),
        ("assistant.records_db.DatabaseReadOnly", "database_read_only", 503),
        ("vectorstore.store.StoreUnavailable", "store_unavailable", 503),
        ("vectorstore.store.ModelMismatch", "store_unavailable", 503),
        ("assistant.jobs.JobAlreadyRunning", "sync_running", 409),
        ("assistant.evaluate.EvalFileError", "invalid_file", 422),
    ],
)
def test_errors_of_every_layer_find_their_place(error: str, code: str, status: int) -> None:
    import importlib

    module, _, name = error.rpartition(".")
    exc = getattr(importlib.import_module(module), name)("x")
    kind = kind_of(exc)
    assert (kind.code, kind.http_status, kind.exit_code) == (code, status, 2)


def test_own_errors_and_unknown_ones() -> None:
    assert kind_of(InvalidInput("bad")).http_status == 422
    assert kind_of(AnswerFailed("broke")).http_status == 500
    assert kind_of(KmrError("?")) is INTERNAL
    assert kind_of(ZeroDivisionError()) is INTERNAL
    assert kind_of(ZeroDivisionError()).exit_code == 2


def test_one_line_says_what_went_wrong_on_one_line() -> None:
    assert one_line(InvalidInput("bad\n  file")) == "bad file"
    assert one_line(OSError("disk\nfull")) == "unexpected OSError: disk full"
    assert one_line(KeyError()) == "unexpected KeyError"
