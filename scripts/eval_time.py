"""Time and list questions (data/eval/time_lists.jsonl) through the real engine, at each check's
"today", over an ingested index; prints the figures of issue 11.

Usage (the index must exist: ``KMR_DATA_DIR=... kmr ingest data/sample-site``)::

    KMR_DATA_DIR=/tmp/idx PYTHONPATH=$PWD .venv/bin/python scripts/eval_time.py \
        [--set data/eval/time_lists.jsonl] [--json out.json] [--show]
    PYTHONPATH=$PWD .venv/bin/python scripts/eval_time.py --intents [SET ...]  # no index needed

Figures (checks of one question are counted separately, one per "today"):

- completeness: mean share of ``must_include`` groups found in the answer, over the checks
  that have some; reported for the time questions (upcoming, past, now) and, apart, for the
  list and count questions about organisations (the partner directory's part);
- past-as-upcoming: checks of "upcoming" questions whose answer contains a ``must_not_include``
  term (an event that is over, or one not yet announced at that date), or that expect no
  event (``expected_count`` 0) and do not say that none is announced, target 0;
- latest figure: share of "now" checks whose answer has every ``must_include`` group and no
  ``must_not_include`` term, target >= 0.95;
- none-stated: "upcoming" checks expecting 0 events whose answer says none is announced.

Each figure is given per language, per date ("site": the check at the site's own date,
2026-11-30; "other": the check at the question's other date) and per kind of question.

It uses only the settings, runtime and evaluation helpers that exist before issue 11 too, so
the same script measures main (``PYTHONPATH=/work/main``): main ignores ``today``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.eval_match import contains

SITE_DATE = "2026-11-30"
TIME_KINDS = ("upcoming", "past", "now")
LIST_KINDS = ("list", "count")
# How an answer says that nothing is announced (ours and plain wording), for "none-stated".
NONE_STATED = (
    "no upcoming",
    "no event",
    "none is announced",
    "not announced",
    "nessun evento",
    "non è annunciato",
    "non sono annunciati",
)


def load(path: Path) -> list[dict[str, Any]]:
    """The questions of a JSONL set."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def judge(question: dict[str, Any], check: dict[str, Any], text: str) -> dict[str, Any]:
    """One check of one answer: which groups were found, which forbidden terms appeared."""
    groups = check.get("must_include") or []
    found = [any(contains(text, alt) for alt in group) for group in groups]
    bad = [term for term in check.get("must_not_include") or [] if contains(text, term)]
    return {
        "id": question["id"],
        "lang": question["lang"],
        "kind": question["kind"],
        "today": check["today"],
        "when": "site" if check["today"] == SITE_DATE else "other",
        "completeness": sum(found) / len(found) if found else None,
        "all_found": all(found),
        "forbidden": bad,
        "expected_count": check.get("expected_count"),
        "none_stated": any(contains(text, s) for s in NONE_STATED),
        "answer": text,
    }


def _mean(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.2f} (n={len(values)})" if values else "-"


def _as_upcoming(row: dict[str, Any]) -> bool:
    """An upcoming check answered with something over (or not yet known) as if coming."""
    return bool(row["forbidden"]) or (row["expected_count"] == 0 and not row["none_stated"])


def figures(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The issue's figures over some checks."""
    time_rows = [r for r in rows if r["kind"] in TIME_KINDS]
    lists = [r for r in rows if r["kind"] in LIST_KINDS]
    upcoming = [r for r in rows if r["kind"] == "upcoming"]
    now = [r for r in rows if r["kind"] == "now"]
    empty = [r for r in upcoming if r["expected_count"] == 0]
    return {
        "completeness (time)": _mean(
            [r["completeness"] for r in time_rows if r["completeness"] is not None]
        ),
        "completeness (lists/counts, directory)": _mean(
            [r["completeness"] for r in lists if r["completeness"] is not None]
        ),
        "past-as-upcoming": f"{sum(1 for r in upcoming if _as_upcoming(r))} of {len(upcoming)}",
        "latest figure (now)": _mean(
            [1.0 if r["all_found"] and not r["forbidden"] else 0.0 for r in now]
        ),
        "none-stated": f"{sum(1 for r in empty if r['none_stated'])} of {len(empty)}",
        "forbidden terms (all)": f"{sum(1 for r in rows if r['forbidden'])} of {len(rows)}",
    }


def report(rows: Sequence[dict[str, Any]]) -> str:
    """Figures overall, per language and per date, as text."""
    slices: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        slices["all"].append(r)
        slices[f"lang={r['lang']}"].append(r)
        slices[f"date={r['when']}"].append(r)
        slices[f"kind={r['kind']}"].append(r)
    names = list(figures(rows))
    kinds = [f"kind={k}" for k in (*TIME_KINDS, *LIST_KINDS)]
    lines = []
    for name in names:
        lines.append(f"{name}:")
        for key in ("all", "lang=en", "lang=it", "date=site", "date=other", *kinds):
            if slices[key] and figures(slices[key])[name] not in {"-", "0 of 0"}:
                lines.append(f"  {key:<11} {figures(slices[key])[name]}")
    return "\n".join(lines)


def run(path: Path, show: bool) -> list[dict[str, Any]]:
    """Answer every check of the set at its own "today" and judge it."""
    from assistant.config import load_settings
    from assistant.runtime import open_runtime

    settings = load_settings()
    runtime = open_runtime(settings)
    runtime.warm()
    assistant = runtime.assistant
    rows = []
    for question in load(path):
        for check in question["checks"]:
            today = datetime.strptime(check["today"], "%Y-%m-%d").replace(tzinfo=UTC).date()
            assistant.settings = settings.model_copy(update={"today": today})
            answer = assistant.answer(question["question"], [])
            row = judge(question, check, answer.text)
            rows.append(row)
            if show:
                mark = "ok " if row["all_found"] and not row["forbidden"] else "BAD"
                print(f"--- {mark} {row['id']} @ {row['today']}: {question['question']}")
                print(answer.text)
                if row["forbidden"]:
                    print(f"    forbidden: {row['forbidden']}")
    return rows


def intents(paths: Sequence[Path]) -> str:
    """How often the time-intent markers, the spans counted from today and the duration cue
    fire on question sets they were not written from."""
    from assistant.timeline import asks_duration, span_intent, time_intent

    lines = []
    for path in paths:
        questions = []
        for row in load(path):
            questions += [row[k] for k in ("question", "a", "b") if isinstance(row.get(k), str)]
        counts: dict[str, list[str]] = defaultdict(list)
        for q in questions:
            counts[time_intent(q) or "none"].append(q)
            if span_intent(q):
                counts["span"].append(q)  # "the next twelve months", "da qui a fine anno"
            if asks_duration(q):
                counts["duration"].append(q)  # "how many years has X been open?"
        lines.append(f"{path} ({len(questions)} questions):")
        for intent in ("upcoming", "current", "past", "span", "duration"):
            lines.append(f"  {intent}: {len(counts[intent])}")
            lines += [f"    - {q}" for q in counts[intent]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=Path("data/eval/time_lists.jsonl"))
    parser.add_argument("--json", type=Path, help="write every judged check here")
    parser.add_argument("--show", action="store_true", help="print every answer")
    parser.add_argument("--from", dest="saved", type=Path, help="report on a --json file again")
    parser.add_argument(
        "--intents",
        nargs="*",
        type=Path,
        metavar="SET",
        help="time intents, spans and durations on these question sets (default: dev and "
        "independent), no index needed",
    )
    args = parser.parse_args()
    if args.intents is not None:
        missing = [str(p) for p in args.intents if not p.is_file()]
        if missing:
            parser.error(f"--intents: no such question set: {', '.join(missing)}")
        others = args.intents or [Path("data/eval/dev.jsonl"), Path("data/eval/independent.jsonl")]
        print(intents([p for p in others if p.exists()]))
        return 0
    if args.saved:
        print(report(json.loads(args.saved.read_text("utf-8"))))
        return 0
    rows = run(args.set, args.show)
    print(f"set: {args.set} ({len(rows)} checks), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(report(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
