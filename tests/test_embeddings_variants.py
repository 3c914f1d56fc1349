"""Model variants (ONNX exports of the rebuilt e5) and read-only model caches.

The onnx-int8 export is made once per session, offline, from the session's rebuilt folder
(tests/conftest.py ``models_dir``); tests that damage an export or need a read-only cache
work on hard-linked copies in their own folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from support.read_only import read_only_command

from assistant.config import DEFAULT_EMBEDDING_VARIANT, SAMPLE_SITE, Settings
from ingest.sync import sync
from vectorstore.e5_rebuild import E5_NAME
from vectorstore.e5_tokenizer import PIECES_FILE, RULES_FILE
from vectorstore.embeddings import E5Embeddings, EmbeddingModelError, load_embeddings
from vectorstore.onnx_export import (
    MANIFEST,
    MODEL_FILE,
    VARIANTS,
    ExportError,
    Variant,
    build_export,
    ensure_export,
    export_folder,
    verified_manifest,
)
from vectorstore.store import IndexStore

ROOT = Path(__file__).resolve().parent.parent
VARIANT = "onnx-int8"
TEXTS = [
    "Il Kilometro Rosso è un parco scientifico e tecnologico a Bergamo.",
    "Getting here: from Bergamo railway station, bus line 10 stops at the entrance.",
    "La mensa aziendale è aperta dalle 12 alle 14:30 e offre menù vegetariani.",
    "Brembo designs and produces high-performance braking systems.",
]


@pytest.fixture(scope="session")
def e5_source(embeddings: E5Embeddings, models_dir: Path) -> Path:
    """The session's rebuilt float32 folder."""
    embeddings.load()
    return models_dir / E5_NAME


@pytest.fixture(scope="session")
def int8_export(e5_source: Path) -> Path:
    """The onnx-int8 export beside the session's rebuilt folder (made once)."""
    folder, _ = ensure_export(e5_source, VARIANT)
    return folder


@pytest.fixture(scope="session")
def int8_embeddings(int8_export: Path, embeddings: E5Embeddings) -> E5Embeddings:
    """The session's model: onnx-int8 is the default variant."""
    assert embeddings.variant == VARIANT
    return embeddings


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and mtime: a write shows up here."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def _linked_copy(folder: Path, into: Path) -> Path:
    """A hard-linked copy (cheap); replace files in it, never edit them in place."""
    target = into / folder.name
    shutil.copytree(folder, target, copy_function=os.link)
    return target


# --- the export ------------------------------------------------------------------------------


def test_the_export_runs_offline_from_the_shipped_weights(
    int8_export: Path, e5_source: Path
) -> None:
    assert int8_export == export_folder(e5_source, VARIANT)
    assert int8_export.name == f"{E5_NAME}-{VARIANT}"
    manifest = json.loads((int8_export / MANIFEST).read_text())
    assert manifest["variant"] == VARIANT
    # The compact tokenizer (vectorstore.e5_tokenizer), not the 17 MB tokenizer.json.
    assert set(manifest["files"]) == {MODEL_FILE, PIECES_FILE, RULES_FILE}
    assert manifest["prompts"]["query"] == "query: " and manifest["max_seq_length"] == 512
    # The export checked itself against the float32 model on texts of mixed lengths.
    assert min(manifest["probe_cosines"]) >= VARIANTS[VARIANT].min_probe_cosine >= 0.98
    # One fused attention op per layer (the fast path of ONNX Runtime's CPU kernels).
    assert manifest["fused_operators"].get("Attention") == 12
    # Weight matrices and the 250k x 384 word-embedding table in int8: the float32 graph is
    # 470 MB, the table alone 384 MB.
    assert (int8_export / MODEL_FILE).stat().st_size < 150_000_000
    assert verified_manifest(int8_export, e5_source, VARIANT) is not None
    assert not list(int8_export.parent.glob(f".{int8_export.name}.tmp-*"))


def test_int8_vectors_stay_close_to_float32_and_rank_the_same(
    int8_embeddings: E5Embeddings, float32_embeddings: E5Embeddings
) -> None:
    embeddings = float32_embeddings
    assert int8_embeddings.variant == VARIANT and int8_embeddings.dimension == 384
    assert (int8_embeddings.query_prompt, int8_embeddings.passage_prompt) == (
        "query: ",
        "passage: ",
    )
    ours = np.array(int8_embeddings.embed_documents(TEXTS))
    ref = np.array(embeddings.embed_documents(TEXTS))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(ours * ref, axis=1))) > 0.95
    for question in ["Come arrivo in treno?", "When is the canteen open?", "chi produce freni?"]:
        q = np.array(int8_embeddings.embed_query(question))
        q_ref = np.array(embeddings.embed_query(question))
        assert int(np.argmax(ours @ q)) == int(np.argmax(ref @ q_ref)), question
    # A text's vector is its own: alone or among others it is the same (the int8 graph
    # quantises activations per call, so in a shared batch it depended on its neighbours).
    # The encoder itself, not the session's cache of texts already encoded.
    encoder = int8_embeddings.load()
    among = encoder.encode([*TEXTS, "x " * 300], prompt="passage: ", batch_size=16)
    alone = encoder.encode([TEXTS[3]], prompt="passage: ", batch_size=16)
    assert np.array_equal(alone[0], among[3])
    assert np.allclose(alone[0], ours[3], atol=1e-6)


def test_the_float32_export_reproduces_the_float32_model(
    e5_source: Path, float32_embeddings: E5Embeddings
) -> None:
    embeddings = float32_embeddings
    folder, manifest = ensure_export(e5_source, "onnx-fp32")
    assert min(manifest["probe_cosines"]) >= 0.9999
    assert manifest["fused_operators"].get("Attention") == 12
    model = E5Embeddings(E5_NAME, lambda: e5_source, variant="onnx-fp32")
    long_text = " ".join(TEXTS * 12)  # ~1,000 characters: the length of an ingested chunk
    ours = np.array(model.embed_documents([*TEXTS, long_text]))
    ref = np.array(embeddings.embed_documents([*TEXTS, long_text]))
    assert float(np.min(np.sum(ours * ref, axis=1))) > 0.9999


def test_an_export_that_does_not_reproduce_float32_is_refused(
    e5_source: Path, tmp_path: Path
) -> None:
    """The int8 graph held to the float32 tolerance: a real graph that drifts, never kept."""
    models = tmp_path / "models"
    models.mkdir()
    source = _linked_copy(e5_source, models)
    target = export_folder(source, "onnx-fp32")
    strict_int8 = Variant("onnx-fp32", True, 0.9999, "int8 weights held to float32's tolerance")

    with pytest.raises(ExportError, match="does not reproduce the float32 model"):
        build_export(source, target, strict_int8)

    assert not target.exists()
    assert sorted(p.name for p in models.iterdir()) == [source.name]  # no temporary left


# --- choosing a variant ------------------------------------------------------------------------


def test_an_unknown_variant_lists_the_accepted_values(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embedding_variant="onnx-int4", _env_file=None)
    with pytest.raises(EmbeddingModelError) as error:
        load_embeddings(settings.embedding_options())
    message = str(error.value)
    assert "onnx-int4" in message and "\n" not in message
    assert all(name in message for name in ("float32", "onnx-fp32", "onnx-int8"))


def test_a_variant_of_another_model_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        embedding_model=str(tmp_path),
        embedding_variant=VARIANT,
        _env_file=None,
    )
    with pytest.raises(EmbeddingModelError, match="only for multilingual-e5-small"):
        load_embeddings(settings.embedding_options())


def test_the_variant_is_part_of_the_collection_name() -> None:
    float32 = Settings(embedding_variant="float32", _env_file=None)
    int8 = Settings(embedding_variant=VARIANT, _env_file=None)
    assert float32.collection_name == "kmr-multilingual-e5-small"  # existing indexes keep it
    assert int8.collection_name == "kmr-multilingual-e5-small-onnx-int8"
    assert Settings(_env_file=None).collection_name == int8.collection_name  # the default


def test_onnx_int8_is_the_default_for_e5_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DEFAULT_EMBEDDING_VARIANT == VARIANT and VARIANTS[DEFAULT_EMBEDDING_VARIANT]
    assert Settings(data_dir=tmp_path, _env_file=None).embedding_options().variant == VARIANT
    # Another model, no variant set: float32, with one line saying why.
    with caplog.at_level("INFO", logger="assistant.config"):
        minilm = Settings(data_dir=tmp_path, embedding_model="all-MiniLM-L6-v2", _env_file=None)
    assert minilm.embedding_variant == "float32"
    assert minilm.collection_name == "kmr-all-minilm-l6-v2"
    assert [r.getMessage() for r in caplog.records] == [
        "embedding model all-MiniLM-L6-v2 runs float32 (the onnx-int8 default is for "
        "multilingual-e5-small only)"
    ]
    # Set in the environment, as operators do: float32 stays available, for e5 too.
    monkeypatch.setenv("KMR_EMBEDDING_VARIANT", "float32")
    assert Settings(data_dir=tmp_path, _env_file=None).embedding_options().variant == "float32"


def test_switching_variant_embeds_everything_once_then_nothing(
    make_settings: Callable[..., Settings],
    float32_embeddings: E5Embeddings,
    int8_embeddings: E5Embeddings,
    tmp_path: Path,
) -> None:
    """An index built by float32 (every index before onnx-int8 became the default), then
    the default: everything embedded once more, into its own collection, then nothing."""
    embeddings = float32_embeddings
    site = tmp_path / "site"
    site.mkdir()
    for page in sorted(SAMPLE_SITE.rglob("*.html"))[:3]:
        shutil.copy(page, site / page.name)
    float32 = make_settings(sources=[str(site)], embedding_variant="float32")
    int8 = make_settings(sources=[str(site)])
    assert int8.embedding_variant == VARIANT

    first = sync(float32.sync_options(), IndexStore(float32.store_options(), embeddings))
    assert first.failed == 0 and first.chunks_embedded > 0
    switched = sync(int8.sync_options(), IndexStore(int8.store_options(), int8_embeddings))
    assert switched.chunks_embedded == first.chunks_embedded
    assert (
        sync(int8.sync_options(), IndexStore(int8.store_options(), int8_embeddings)).chunks_embedded
        == 0
    )
    # The float32 collection is still there, whole: switching back costs nothing.
    back = IndexStore(float32.store_options(), embeddings)
    assert sync(float32.sync_options(), back).chunks_embedded == 0
    assert back.count() == IndexStore(int8.store_options(), int8_embeddings).count()
    assert IndexStore(int8.store_options(), int8_embeddings).info()["embedding_variant"] == VARIANT


# --- damaged exports ---------------------------------------------------------------------------


def test_a_corrupt_or_half_written_export_is_detected_and_rebuilt(
    e5_source: Path, int8_export: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    source = _linked_copy(e5_source, models)
    export = _linked_copy(int8_export, models)
    model_file = export / MODEL_FILE
    size = model_file.stat().st_size

    # Same size, different bytes: only the hash can tell.
    data = bytearray(model_file.read_bytes())
    data[size // 2] ^= 0xFF
    model_file.unlink()
    model_file.write_bytes(bytes(data))
    assert verified_manifest(export, source, VARIANT) is None

    # Half written: truncated model, and a killed export's temporary folder beside it.
    model_file.unlink()
    model_file.write_bytes(bytes(data[: size // 3]))
    leftover = models / f".{export.name}.tmp-killed"
    leftover.mkdir()
    (leftover / MODEL_FILE).write_bytes(b"\0" * 1000)
    assert verified_manifest(export, source, VARIANT) is None

    folder, manifest = ensure_export(source, VARIANT)

    assert folder == export and manifest == verified_manifest(export, source, VARIANT)
    assert (export / MODEL_FILE).stat().st_size == manifest["files"][MODEL_FILE]["size"]
    assert not leftover.exists()
    model = E5Embeddings(E5_NAME, lambda: source, variant=VARIANT)
    assert len(model.embed_query("dove parcheggio?")) == 384


def test_an_export_that_fails_to_load_is_exported_again(
    e5_source: Path, int8_export: Path, tmp_path: Path
) -> None:
    """Hashes that match but a graph ONNX Runtime refuses (e.g. a runtime downgrade)."""
    models = tmp_path / "models"
    models.mkdir()
    source = _linked_copy(e5_source, models)
    export = _linked_copy(int8_export, models)
    (export / MODEL_FILE).unlink()
    (export / MODEL_FILE).write_bytes(b"not an onnx graph")
    manifest = json.loads((export / MANIFEST).read_text())
    digest = hashlib.sha256(b"not an onnx graph").hexdigest()
    manifest["files"][MODEL_FILE] = {"size": 17, "sha256": digest}
    (export / MANIFEST).unlink()
    (export / MANIFEST).write_text(json.dumps(manifest))
    assert verified_manifest(export, source, VARIANT) is not None

    model = E5Embeddings(E5_NAME, lambda: source, variant=VARIANT)
    assert len(model.embed_query("orari della mensa")) == 384
    assert (export / MODEL_FILE).stat().st_size > 1_000_000


# --- ONNX Runtime's telemetry ------------------------------------------------------------------


def test_loading_the_default_writes_no_telemetry_files(
    int8_export: Path, models_dir: Path, tmp_path: Path
) -> None:
    """ONNX Runtime's Linux wheels write a device id under ~/.cache/Microsoft and a .ses file
    in the temporary folder at import, and upload usage events, unless ORT_DISABLE_TELEMETRY=1
    is set before they load: the project sets it (vectorstore.onnx_encoder)."""
    home, scratch = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), TMPDIR=str(scratch), PYTHONPATH=str(ROOT))
    base = tmp_path / "base"
    (base / "models").mkdir(parents=True)
    for folder in (models_dir / E5_NAME, int8_export):
        _linked_copy(folder, base / "models")
    done = subprocess.run(
        [sys.executable, "-c", _LOAD, str(base), VARIANT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.split("\n")[0] == f"{VARIANT} 384", done.stdout + done.stderr
    assert list(home.iterdir()) == [] and list(scratch.iterdir()) == []


# --- read-only caches --------------------------------------------------------------------------

_LOAD = """
import sys
from pathlib import Path
from assistant.config import Settings
from vectorstore.embeddings import EmbeddingModelError, load_embeddings
for variant in sys.argv[2:]:
    settings = Settings(data_dir=Path(sys.argv[1]) / "data", model_cache_dir=Path(sys.argv[1]) / "models",
                        embedding_variant=variant, torch_threads=1, _env_file=None)
    try:
        print(variant, len(load_embeddings(settings.embedding_options()).embed_query("dove parcheggio?")))
    except EmbeddingModelError as exc:
        print("ERROR", exc)
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can traverse (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="kmr-readonly-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in (path, *path.rglob("*")):
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


def _load_read_only(base: Path, *variants: str) -> subprocess.CompletedProcess:
    """Load the given variants from ``base/models`` in a process that cannot write there.

    As root, permission bits do not stop writes, so the cache is bind-mounted read-only in a
    user namespace (``unshare -rm``: a write is EROFS even for root); as any other user it is
    made read-only with chmod.
    """
    models = base / "models"
    data = base / "data"
    data.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(data), "HF_HOME": str(data / "hf")}
    load = [sys.executable, "-c", _LOAD, str(base), *variants]
    command = read_only_command(models, load)
    return subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=str(data), timeout=300, check=False
    )


def test_a_read_only_cache_with_the_model_loads_without_writing(
    e5_source: Path, int8_export: Path, shared_dir: Path
) -> None:
    models = shared_dir / "models"
    models.mkdir()
    _linked_copy(e5_source, models)
    _linked_copy(int8_export, models)
    before = _tree(models)

    done = _load_read_only(shared_dir, "float32", VARIANT)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["float32 384", f"{VARIANT} 384"], done.stdout
    assert _tree(models) == before  # no lock file, no temporary folder, nothing touched


def test_a_read_only_cache_without_the_model_is_one_clear_line(
    e5_source: Path, shared_dir: Path
) -> None:
    no_export = shared_dir / "no-export"
    (no_export / "models").mkdir(parents=True)
    _linked_copy(e5_source, no_export / "models")  # the float32 model, but no export
    no_model = shared_dir / "no-model"
    (no_model / "models").mkdir(parents=True)

    for base, variant, missing in [
        (no_export, VARIANT, f"{E5_NAME}-{VARIANT}"),
        (no_model, "float32", E5_NAME),
    ]:
        done = _load_read_only(base, variant)

        assert done.returncode == 0, done.stderr[-2000:]
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ERROR "), done.stdout
        assert "read-only" in lines[0] and missing in lines[0]
        assert "KMR_MODEL_CACHE_DIR" in lines[0]
        assert not list((base / "models").glob(".*"))  # not even a lock file
