"""Which sentences of a set reach the LLM's sources when planted inside an ordinary paragraph?

Each sentence of a set (``{"text", "addressed_to_ai"}`` rows; default
``data/eval/ai_addressed_fresh8.jsonl``, the newest set the guard was not fitted on) goes
between two ordinary sentences of one paragraph of a passage; the passages are masked as the
openai backend masks them (``prompts.mask_passages``' steps), once with paragraph masking alone
(main before issue 10 row 4), once with the quote step's units withheld too, and once with the
units of their paragraph's block withheld beside them (``guard.BLOCKS``). Prints, for the
sentences addressed to AI and for the look-alikes, how many still reach the sources and how
often both ordinary sentences stay, and the sentences addressed to AI that still reach them.
``--held-out`` judges with a guard fitted without the set's sentences
(``train_guard.fitted_without``, as ``bench_guard_planted.py --held-out``), so each set written
by others can be measured left out of training in turn. With ``--vectors-cache`` the texts'
vectors are read from (and added to) that file (``train_guard.Vectors``), the shipped guard
judging unless ``--held-out``. ``--paragraphs`` plants each sentence of the text, and the two
ordinary sentences, as paragraphs of their own (a flagged paragraph then takes its whole text
only with ``guard.PASSAGES``, the last run). Also printed: the texts with any sentence still in
the sources, and how many of those the quote step keeps from quotes judged whole.

Usage (loads the embedding model for a few seconds: run it under the heavy-job lock)::

    PYTHONPATH=$PWD python scripts/bench_guard_prompt.py [--set FILE] [--models-dir DIR]
        [--held-out] [--vectors-cache FILE.sqlite] [--paragraphs]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import guard  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.prompts import paragraphs, withhold  # noqa: E402
from vectorstore.embeddings import load_embeddings  # noqa: E402
from vectorstore.passages import Passage  # noqa: E402
from vectorstore.text import split_sentences  # noqa: E402

BEFORE, AFTER = "The campus opens at 8:00 on working days.", "Visitors sign in at the reception."


def _reaches(sentence: str, sources: str) -> bool:
    """Whether the sentence's first 40 characters (white space folded) are in the sources."""
    return " ".join(sentence.split())[:40] in " ".join(sources.split())


def _planted(text: str, apart: bool) -> str:
    """The passage text: the sentence between the two ordinary ones in one paragraph, or with
    ``apart`` each of them (and each sentence of the planted text) a paragraph of its own."""
    if not apart:
        return f"Notes\n\n{BEFORE} {text} {AFTER}"
    sentences = split_sentences(" ".join(text.split()))
    return "\n\n".join(["Notes", BEFORE, *sentences, AFTER])


def _partly_reaches(text: str, sources: str) -> bool:
    """Whether the text's first 40 characters, or one of its sentences of 12 characters or
    more, are in the sources (white space folded)."""
    folded = " ".join(sources.split())
    sentences = split_sentences(" ".join(text.split()))
    return _reaches(text, sources) or any(s in folded for s in sentences if len(s) >= 12)


def main() -> int:
    """Plant, mask both ways, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / "data/eval/ai_addressed_fresh8.jsonl")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--held-out", action="store_true")
    parser.add_argument("--vectors-cache", type=Path, default=None)
    parser.add_argument("--paragraphs", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line]
    if args.held_out or args.vectors_cache is not None:
        sys.path.insert(0, str(ROOT / "scripts"))
        from train_guard import Vectors, fitted_without

        vectors = Vectors(args.models_dir, args.vectors_cache)
        if args.held_out:
            classifier, _ = fitted_without(args.set, vectors)
            print(f"fitted without the set: {classifier.threshold=} {classifier.quote_bar=}")
            guard.use_classifier(classifier)
        installed = guard.use_vectors(vectors, vectors.model_name)
    else:
        with tempfile.TemporaryDirectory(prefix="kmr-prompt-") as scratch:
            settings = Settings(
                data_dir=Path(scratch), model_cache_dir=args.models_dir, _env_file=None
            )
            embeddings = load_embeddings(settings.embedding_options())
        installed = guard.use_vectors(embeddings.embed_documents, embeddings.model_name)
    if not installed:
        print("the guard's classifier does not read this embedding model", file=sys.stderr)
        return 1
    passages = [
        Passage(
            id=str(n),
            text=_planted(row["text"], args.paragraphs),
            title="Notes",
            url=f"https://example.org/{n}",
            source_id=str(n),
            language="en",
        )
        for n, row in enumerate(rows)
    ]
    cut = [paragraphs(p) for p in passages]
    runs = {"paragraphs masked": guard.mask_addressed(cut)}
    guard.BLOCKS = guard.PASSAGES = False
    runs["and units withheld"] = guard.mask_addressed(cut, withhold=withhold)
    guard.BLOCKS = True
    runs["and their blocks"] = guard.mask_addressed(cut, withhold=withhold)
    guard.PASSAGES = True
    runs["and their passages"] = guard.mask_addressed(cut, withhold=withhold)
    for addressed in (True, False):
        chosen = [n for n, row in enumerate(rows) if bool(row["addressed_to_ai"]) == addressed]
        kind = "addressed to AI" if addressed else "look-alikes"
        for name, texts in runs.items():
            sent = sum(_reaches(rows[n]["text"], texts[n]) for n in chosen)
            kept = sum(BEFORE in texts[n] and AFTER in texts[n] for n in chosen)
            print(
                f"{args.set.name}, {kind} ({len(chosen)}), {name}: {sent} reach the sources; "
                f"both ordinary sentences kept in {kept}"
            )
    withheld = runs["and their passages"]
    # What the quote step keeps from quotes (the text judged whole) must not reach the model
    # in part either: any of its sentences found in the sources counts.
    whole = guard.kept_from_quotes([row["text"] for row in rows])
    for addressed in (True, False):
        chosen = [n for n, row in enumerate(rows) if bool(row["addressed_to_ai"]) == addressed]
        partly = [n for n in chosen if _partly_reaches(rows[n]["text"], withheld[n])]
        leaked = [n for n in partly if whole[n]]
        print(
            f"{args.set.name}, {'addressed to AI' if addressed else 'look-alikes'}, and their "
            f"passages: {len(partly)} with a sentence in the sources; of those, {len(leaked)} kept "
            f"from quotes whole ({sum(whole[n] for n in chosen)} kept from quotes whole)"
        )
    for n, row in enumerate(rows):
        if row["addressed_to_ai"] and _partly_reaches(row["text"], withheld[n]):
            print(f"  reaches the sources: {row['text'][:150]!r}")
    guard.use_vectors(None)
    guard.use_classifier(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
