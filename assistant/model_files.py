"""Reading the parameter files the learned parts ship with (guard, answerability, lead unit,
curated suggestions).

Each part keeps its own format and checks; this reads the file once and turns what can go
wrong on disk (missing, unreadable, not JSON, not an object) into that part's own error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_parameters(path: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """The JSON object in ``path``; ``error`` (the part's own exception) when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise error(f"cannot read the {what} parameters {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"malformed {what} parameters {path}: not a JSON object")
    return data
