"""Measure the partner directory on the sample site: records found vs expected, list/count
answers' completeness on data/eval/time_lists.jsonl, and how often questions it was not written
from are taken by the directory.

Usage (loads the embedding model; run under the heavy-job lock):
    PYTHONPATH=$PWD flock -w 1800 /tmp/kmr-heavy.lock .venv/bin/python scripts/eval_directory.py

Expected organisations: the rows of the sample site's resident directory table
(data/sample-site/en/partners/index.html, 15 current residents; the "Former residents" list is
not counted), read by hand and written below.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from assistant.config import SAMPLE_SITE, Settings
from assistant.directory_match import filter_values, match, ngrams
from assistant.directory_merge import norm
from assistant.eval_match import contains
from assistant.runtime import open_runtime
from ingest.sync import sync

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = [
    "Brembo",
    "Brembo SGL Carbon Ceramic Brakes",
    "Istituto Mario Negri",
    "Intellimech",
    "JOiiNT LAB",
    "ENEA",
    "Confindustria Bergamo",
    "University of Bergamo",
    "ALBINI_next",
    "BGreen Technologies",
    "Sofar",
    "EsaNanoTech",
    "BioPharmaSpec",
    "Manpower",
    "Digital Innovation Hub Bergamo",
]
HELD_OUT = ["dev.jsonl", "independent.jsonl", "paraphrases.jsonl", "ai_addressed.jsonl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="/tmp/kmr-eval-models", help="model cache dir")
    args = parser.parse_args()
    print(f"# eval_directory {datetime.now(UTC).isoformat(timespec='minutes')}")
    print(f"# machine: {platform.machine()}, {platform.node()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            model_cache_dir=Path(args.models),
            sources=[str(SAMPLE_SITE)],
            _env_file=None,
        )
        runtime = open_runtime(settings)
        started = time.monotonic()
        report = sync(settings.sync_options(), runtime.store)
        print(f"sync: {report.ingested} documents, {time.monotonic() - started:.1f} s")
        assistant = runtime.assistant
        assert assistant.directory is not None
        orgs, stubs = assistant.directory.organisations()

        # 1. Records vs the organisations the directory page lists.
        names = [o.name for o in orgs]
        found = [e for e in EXPECTED if any(n.lower().startswith(e.lower()) for n in names)]
        extra = [n for n in names if not any(n.lower().startswith(e.lower()) for e in EXPECTED)]
        print(f"records: {len(orgs)}; expected found {len(found)}/{len(EXPECTED)}; extra {extra}")
        with_page = sum(1 for o in orgs if o.found_on and o.url != o.found_on[0]["url"])
        print(f"records linked to their own page: {with_page}/{len(orgs)}")
        print(f"records with two language versions: {sum(len(o.languages) > 1 for o in orgs)}")

        # 2. List and count questions of the time/list set (today = the first check's date).
        lines = (ROOT / "data" / "eval" / "time_lists.jsonl").read_text().splitlines()
        items = [json.loads(line) for line in lines if line.strip()]
        groups_total = groups_hit = 0
        taken = taken_total = taken_hit = 0
        for item in items:
            if item["kind"] not in ("list", "count"):
                continue
            check = item["checks"][0]
            today = date.fromisoformat(check["today"])
            assistant.settings = settings.model_copy(update={"today": today})
            answer = assistant.answer(item["question"], language=item["lang"])
            must = check["must_include"]
            hit = sum(any(contains(answer.text, alt) for alt in g) for g in must)
            groups_total += len(must)
            groups_hit += hit
            mark = "directory" if answer.backend == "directory" else "passages"
            if answer.backend == "directory":
                taken += 1
                taken_total += len(must)
                taken_hit += hit
            print(f"  {item['id']} [{mark}] {hit}/{len(must)}  {item['question']}")
            if answer.backend != "directory" and assistant.directory.similarity is not None:
                # Diagnostics: the values closest to the question by embedding.
                words = norm(item["question"]).split()
                grams = [g for n in (1, 2, 3) for g in ngrams(words, n)]
                values = list(filter_values(orgs))
                best = sorted(
                    ((max(assistant.directory.similarity(v, grams)), v) for v in values),
                    reverse=True,
                )[:2]
                print("      closest values:", [(round(s, 3), v) for s, v in best])
        print(
            f"list/count completeness (today {items[0]['checks'][0]['today']}): all "
            f"{groups_hit}/{groups_total} = {groups_hit / max(groups_total, 1):.2f}; answered by "
            f"the directory: {taken} questions, {taken_hit}/{taken_total} = "
            f"{taken_hit / max(taken_total, 1):.2f}"
        )

        # 3. Questions it was not written from: how many does the directory take?
        for name in HELD_OUT:
            path = ROOT / "data" / "eval" / name
            if not path.exists():
                continue
            rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            questions = [q for r in rows for q in (r.get("question"), r.get("a"), r.get("b")) if q]
            questions = list(dict.fromkeys(questions))
            hits = [q for q in questions if match(q, orgs, stubs, assistant.directory.similarity)]
            print(f"held-out {name}: {len(hits)}/{len(questions)} taken by the directory")
            for q in hits:
                print(f"    {q}")


if __name__ == "__main__":
    main()
