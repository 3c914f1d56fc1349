"""The shipped parameter files: what cannot be read is the part's own clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.model_files import read_parameters


class PartError(Exception):
    pass


def test_a_json_object_is_read(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text('{"weights": [1.0], "bias": 0}', encoding="utf-8")
    assert read_parameters(path, PartError, "part") == {"weights": [1.0], "bias": 0}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the part parameters"),
        ("{not json", "cannot read"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_what_cannot_be_read_is_the_parts_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PartError, match=message):
        read_parameters(path, PartError, "part")
