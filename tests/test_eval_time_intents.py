"""scripts/eval_time.py --intents: which questions of a set the time markers, the spans counted
from today and the duration cue fire on (no index needed), and a clear error for a missing set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "eval_time.py"


def _intents(*sets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--intents", *sets],
        capture_output=True,
        text=True,
        cwd=SCRIPT.parent.parent,
        check=False,
    )


def test_the_intents_of_a_set_are_listed(tmp_path: Path) -> None:
    questions = [
        "Which events are planned in the next twelve months?",
        "Da quanti anni è aperto il parco?",
        "Who designed the red wall?",
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    run = _intents(str(path))
    assert run.returncode == 0, run.stderr
    assert "span: 1\n    - Which events are planned in the next twelve months?" in run.stdout
    assert "duration: 1\n    - Da quanti anni è aperto il parco?" in run.stdout


def test_a_missing_set_is_a_clear_error(tmp_path: Path) -> None:
    run = _intents(str(tmp_path / "nope.jsonl"))
    assert run.returncode == 2
    assert "no such question set" in run.stderr and "nope.jsonl" in run.stderr
