"""The ONNX variants' compact tokenizer: transformers' token ids from a fraction of the memory.

The reference is what sentence-transformers tokenises with for the float32 model: the
transformers tokenizer of the rebuilt folder.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from support.scripts import load_script

from assistant.config import SAMPLE_SITE
from vectorstore.e5_rebuild import ensure_e5
from vectorstore.e5_tokenizer import PIECES_FILE, E5Tokenizer, write_tokenizer

ROOT = Path(__file__).resolve().parent.parent
ODD = [
    "",
    " ",
    "  \t\n ",
    "hello ",
    " hello",
    "a  b",
    "a\tb\n",
    "\r\nwindows\r\n",
    "a\u0085b",  # NEL: whitespace to transformers, not to SentencePiece's own normaliser
    "\u00a0nbsp\u00a0here\u2009thin",
    "zero\u200bwidth",
    "a\u3000b",
    "line\u2028sep",
    "\ufeffbom",
    "a\u00adb soft hyphen",
    "x <mask> y",
    "x<mask>y",
    "<s>a</s>",
    "<unk> <pad>",
    "a  <s>  b",
    "<mask>",
    "ﬁ café",
    "Ａｂｃ１２３ ＡＢＣ",
    "ｶﾞ ﾊﾝｶｸ",  # half-width kana: the charsmap composes them
    "e\u0301 combining",
    "😀👍🏽 emoji 🇮🇹",
    "中文字符测试 العربية क्षत्रिय",
    "\x00\x01ctrl\x7f",
    "Ⅻ ㎏ ℃ ™ ①②③",
    "ß straße İstanbul É UPPER Ç ǅ",
    "\u200djoiner\u200cnonjoiner",
    "passage: " + "x" * 3000,
    "passage: " + " ".join(["parola"] * 800),  # longer than the window: cut at 512 ids
]


def _bench() -> ModuleType:
    """scripts/bench_embeddings.py, for the same texts the benchmark embeds."""
    return load_script("bench_embeddings")


@pytest.fixture(scope="module")
def rebuilt(models_dir: Path) -> Path:
    """The rebuilt float32 folder (tokenizer.json and transformers' tokenizer config)."""
    return ensure_e5(models_dir)


@pytest.fixture(scope="module")
def compact(rebuilt: Path, tmp_path_factory: pytest.TempPathFactory) -> E5Tokenizer:
    folder = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer(rebuilt / "tokenizer.json", folder)
    return E5Tokenizer(folder, max_seq_length=512, pad_id=1)


@pytest.fixture(scope="module")
def reference(rebuilt: Path):  # noqa: ANN201
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(rebuilt), local_files_only=True)

    def ids(texts: list[str]) -> list[list[int]]:
        return tokenizer(texts, truncation=True, max_length=512)["input_ids"]

    return ids


def _real_texts() -> list[str]:
    bench = _bench()
    texts = ["passage: " + chunk["text"] for chunk in bench.site_chunks(SAMPLE_SITE)]
    for name in ("dev", "independent"):
        texts += [
            "query: " + q["query"]
            for q in bench.eval_questions(ROOT / "data/eval" / f"{name}.jsonl")
        ]
    if bench.DEFAULT_SQUAD.is_file():  # ../shared/qa: present on the development machines
        paragraphs, questions = bench.squad_subset(bench.DEFAULT_SQUAD, 100_000)  # all
        texts += ["passage: " + p for p in paragraphs] + ["query: " + q["query"] for q in questions]
    return texts


@pytest.fixture(scope="module")
def piece_scores(rebuilt: Path) -> list[float]:
    spec = json.loads((rebuilt / "tokenizer.json").read_text(encoding="utf-8"))
    return [score for _, score in spec["model"]["vocab"]]


def _count_differences(got: list[list[int]], want: list[list[int]], scores: list[float]) -> int:
    """How many texts differ; each difference must be a tie between equal-score segmentations.

    Two segmentations of a word whose scores sum to the same value up to rounding (e.g.
    "nnn" as n+nn or nn+n): SentencePiece (float32 sums) and the tokenizers library
    (float64) break such ties differently. Same pieces, another order.
    """
    differ = 0
    for ours, theirs in zip(got, want, strict=True):
        if ours != theirs:
            differ += 1
            assert sorted(ours) == sorted(theirs), (ours, theirs)
            assert sum(scores[i] for i in ours) == pytest.approx(sum(scores[i] for i in theirs))
    return differ


def test_ids_match_transformers_on_the_site_the_eval_sets_and_squad(
    compact: E5Tokenizer,
    reference,  # noqa: ANN001
    piece_scores: list[float],
) -> None:
    texts = _real_texts()
    assert len(texts) > 300
    got = [compact.encode(t) for t in texts]
    # Measured: 1 tie in 5,396 texts (a SQuAD-it paragraph's "pnnn"), none on the site.
    assert _count_differences(got, reference(texts), piece_scores) <= len(texts) // 1000


def test_ids_match_transformers_on_odd_text(compact: E5Tokenizer, reference) -> None:  # noqa: ANN001
    want = reference(ODD)
    for text, ids in zip(ODD, want, strict=True):
        assert compact.encode(text) == ids, repr(text)
    assert len(compact.encode(ODD[-1])) == 512


def test_on_random_strings_any_difference_is_a_tie_of_equal_score(
    compact: E5Tokenizer,
    reference,  # noqa: ANN001
    piece_scores: list[float],
) -> None:
    chars = [chr(c) for c in [*range(32, 0x250), *range(0x2000, 0x2070), *range(0x3000, 0x3040)]]
    chars += [chr(c) for c in [*range(0xFF00, 0xFFEF), 9, 10, 13, 0x85, 0xA0, 0x1680, 0xFEFF]]
    rng = random.Random(0)
    texts = ["".join(rng.choices(chars, k=rng.randint(1, 40))) for _ in range(3000)]
    got = [compact.encode(t) for t in texts]
    assert _count_differences(got, reference(texts), piece_scores) <= 10  # measured: 3


def test_batches_are_padded_with_a_mask(compact: E5Tokenizer) -> None:
    ids, mask = compact.batch(["query: dove parcheggio?", "x"])
    assert ids.dtype == mask.dtype == np.int64 and ids.shape == mask.shape
    assert ids[1, 0] == 0 and ids[1, 2] == 2 and set(ids[1, 3:].tolist()) == {1}
    assert mask[0].all() and mask[1].tolist() == [1, 1, 1] + [0] * (ids.shape[1] - 3)


_RSS = """
import sys
from pathlib import Path

def rss():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024

import sentencepiece, tokenizers
from vectorstore.e5_tokenizer import E5Tokenizer
before = rss()
if sys.argv[1] == "compact":
    E5Tokenizer(Path(sys.argv[2]), max_seq_length=512, pad_id=1).encode("query: dove parcheggio?")
else:
    tokenizers.Tokenizer.from_file(sys.argv[2]).encode("query: dove parcheggio?")
print(rss() - before)
"""


def test_the_compact_tokenizer_holds_a_fraction_of_the_memory(
    rebuilt: Path, tmp_path: Path
) -> None:
    """~55 MB against the tokenizers library's ~282 MB for the same 250,002 pieces."""
    write_tokenizer(rebuilt / "tokenizer.json", tmp_path)
    assert (tmp_path / PIECES_FILE).stat().st_size < 10_000_000

    def grown(kind: str, path: Path) -> float:
        done = subprocess.run(
            [sys.executable, "-c", _RSS, kind, str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
            timeout=120,
        )
        return float(done.stdout.strip())

    compact_mb = grown("compact", tmp_path)
    full_mb = grown("full", rebuilt / "tokenizer.json")
    assert compact_mb < 100 and compact_mb < full_mb / 3, (compact_mb, full_mb)
