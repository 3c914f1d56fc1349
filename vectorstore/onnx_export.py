"""ONNX variants of the rebuilt e5 model: exported once, cached beside it, verified at load.

A variant is built from the rebuilt sentence-transformers folder (``e5_rebuild``), offline:
``torch.onnx.export`` writes the BERT encoder (eager attention), onnxruntime's transformer
optimizer fuses its attention, LayerNorm and GELU nodes, and for ``onnx-int8``
``quantize_dynamic`` turns the weight matrices into int8 (activations are quantised per
call), but those matching the variant's ``keep_float``, and the 250k-row word-embedding
table is stored as int8 rows with one float scale each (a lookup table, so it is
dequantised after the lookup). The result lives in a sibling folder, e.g.
``models/multilingual-e5-small-onnx-int8/``::

    model.onnx            the graph (input_ids, attention_mask -> last_hidden_state)
    sentencepiece.model   the compact tokenizer (``e5_tokenizer``), written from the
    tokenizer-rules.json  rebuilt folder's tokenizer.json
    kmr-export.json       manifest: variant, the source model's fingerprint, each file's
                          size and SHA-256, prompts, window, the nodes kept in float32 and
                          the check made at export

The folder is written in a temporary sibling and renamed into place; before it is used its
manifest must match the source model and every file its recorded size and SHA-256, so a
half-written, truncated or corrupted export is rebuilt, never loaded. A usable export is
opened without writing anything, so a read-only cache works.

Errors::

    RebuildError (model_cache)
     +-- ExportError    the export failed or does not reproduce the float32 model
     +-- ReadOnlyCache  an export is needed and the cache folder cannot be written
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vectorstore.e5_rebuild import MARKER, folder_is_complete
from vectorstore.e5_tokenizer import write_tokenizer
from vectorstore.model_cache import (  # the same build-beside, swap-in and clean-up steps
    RebuildError,
    building,
    remove_leftovers,
    sha256_file,
    writable_or_raise,
)

if TYPE_CHECKING:
    from vectorstore.onnx_encoder import OnnxEncoder

log = logging.getLogger(__name__)

MANIFEST = "kmr-export.json"
MODEL_FILE = "model.onnx"
_FORMAT = 4  # bump when the export recipe changes: old exports are rebuilt
_OPSET = 17
# Texts of very different lengths, embedded in one padded batch at export, so a graph
# that mishandles padding or the attention mask is refused there and then.
_PROBES = [
    "passage: Il Kilometro Rosso è un parco scientifico e tecnologico a Bergamo.",
    "query: where can I park?",
    # No trailing space: the bare tokenizers library keeps one that transformers' strips.
    "passage: " + " ".join(["Laboratori di prova, metrologia e prototipazione rapida."] * 12),
    "passage: x",
]


class ExportError(RebuildError):
    """The ONNX export failed, or its vectors do not match the float32 model's."""


@dataclass(frozen=True)
class Variant:
    """How one variant is built, and how close its probe vectors must stay to float32."""

    name: str
    quantize: bool
    min_probe_cosine: float
    summary: str
    keep_float: str = ""
    """Regex of graph node names left in float32 when quantising (empty: none)."""


FLOAT32 = "float32"
VARIANTS: dict[str, Variant | None] = {
    FLOAT32: None,  # the rebuilt folder itself, run by sentence-transformers
    "onnx-fp32": Variant("onnx-fp32", False, 0.9999, "ONNX Runtime, fused graph, float32 weights"),
    "onnx-int8": Variant(
        "onnx-int8",
        True,
        0.98,  # 0.95 let a broken lookup table through
        "ONNX Runtime, fused graph, dynamic int8 weight matrices but the first six FFN "
        "down-projections, int8 word-embedding rows",
        # The FFN down-projections' inputs (after GELU) carry outliers: their max is 75-308
        # times their RMS in layers 0-5 (int8 error 9-36 %), 27-69 times in 6-11. Keeping
        # those six in float32 brought every retrieval figure back within 0.01 of float32
        # (keeping all twelve: no better, 10 % slower; measured 2026-12-01, README).
        keep_float=r"layer\.[0-5]/output/dense/MatMul$",
    ),
}


def export_folder(source: Path, variant: str) -> Path:
    """Where ``variant`` of the model in ``source`` is cached: a sibling folder."""
    return source.parent / f"{source.name}-{variant}"


def _source_identity(source: Path) -> dict[str, Any]:
    """What the export was made from: the rebuilt folder's own fingerprint."""
    marker = folder_is_complete(source)
    if marker is None:
        raise ExportError(f"{source} is not a complete rebuilt model folder (no valid {MARKER})")
    return {k: marker.get(k) for k in ("format", "model", "weights", "tokenizer")}


def verified_manifest(folder: Path, source: Path, variant: str) -> dict[str, Any] | None:
    """The export's manifest if it is complete, intact and made from ``source``; else None.

    Reads only. Every file is hashed: a same-size corruption is caught here rather than
    loaded as silently wrong vectors (about 0.1 s for the int8 model).
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != _FORMAT or manifest.get("variant") != variant:
            return None
        if manifest.get("source") != _source_identity(source):
            return None
        files = manifest["files"]
        if MODEL_FILE not in files:
            return None
        for rel, want in files.items():
            path = folder / rel
            if path.stat().st_size != want["size"] or sha256_file(path) != want["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ExportError):
        return None
    return manifest


# --- building ------------------------------------------------------------------------------


def _export_graph(source: Path, onnx_path: Path) -> dict[str, Any]:
    """Write the float32 BERT graph of ``source`` to ``onnx_path``; returns its config."""
    import torch
    from transformers import AutoModel

    # Eager attention: its graph is the pattern onnxruntime's optimizer fuses into one
    # Attention op per layer (1.2x in float32, 1.4x in int8 over unfused SDPA, measured
    # 2026-11-30). The float32 drift once blamed on the fusion (probe cosine 0.998) was a
    # probe ending in a space: the fused float32 graph reproduces torch at cosine 1.0.
    model = AutoModel.from_pretrained(
        str(source), local_files_only=True, attn_implementation="eager"
    ).eval()

    class _Encoder(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
            return out.last_hidden_state

    ids = torch.tensor([[0, 581, 2, 1], [0, 581, 9, 2]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python branches on shapes; the probe check below is
        # what proves the graph right for other batch sizes, lengths and padding.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Encoder(model),
            (ids, mask),
            str(onnx_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=_OPSET,
            dynamo=False,  # the TorchScript exporter gives the graph the fusions expect
        )
    return model.config.to_dict()


def _optimize(onnx_in: Path, onnx_out: Path, config: dict[str, Any]) -> dict[str, int]:
    """Fuse attention, LayerNorm and GELU (onnxruntime's BERT optimizer); fused op counts.

    The embeddings are left unfused (no EmbedLayerNormalization), so the word-embedding
    lookup stays a plain Gather that ``_quantize_lookup_table`` can shrink.
    """
    from vectorstore.onnx_encoder import import_onnxruntime

    import_onnxruntime()  # first, so that its telemetry stays off
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_embed_layer_norm = False
    optimized = optimize_model(
        str(onnx_in),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        optimization_options=options,
    )
    optimized.save_model_to_file(str(onnx_out))
    stats = optimized.get_fused_operator_statistics()
    return {k: int(v) for k, v in stats.items() if v}


def _quantize_lookup_table(onnx_in: Path, onnx_out: Path, min_rows: int = 10_000) -> int:
    """Store each large Gather table as int8 rows plus one float32 scale per row.

    ``quantize_dynamic`` would quantise the word-embedding table with a single scale for
    all 250k rows; one scale per row (max-abs / 127) keeps every token's vector to within
    0.4 % of its largest value, and the lookup becomes Gather(int8) -> Cast -> Mul(Gather
    scale). The 384 MB float32 table becomes 96 MB. Returns how many tables were shrunk.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(onnx_in))
    graph = model.graph
    tables = {init.name: init for init in graph.initializer}
    nodes = []
    done = 0
    for node in graph.node:
        table = tables.get(node.input[0]) if node.op_type == "Gather" else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if table is None or axis != 0 or len(table.dims) != 2 or table.dims[0] < min_rows:
            nodes.append(node)
            continue
        weights = numpy_helper.to_array(table).astype(np.float32)
        scale = np.abs(weights).max(axis=1, keepdims=True) / 127.0
        scale[scale == 0] = 1.0
        rows = np.clip(np.rint(weights / scale), -127, 127).astype(np.int8)
        name, ids, out = table.name, node.input[1], node.output[0]
        graph.initializer.remove(table)
        graph.initializer.extend(
            [
                numpy_helper.from_array(rows, f"{name}_int8"),
                numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"),
            ]
        )
        nodes += [
            helper.make_node("Gather", [f"{name}_int8", ids], [f"{out}_int8"], axis=0),
            helper.make_node("Cast", [f"{out}_int8"], [f"{out}_float"], to=TensorProto.FLOAT),
            helper.make_node("Gather", [f"{name}_scale", ids], [f"{out}_scale"], axis=0),
            helper.make_node("Mul", [f"{out}_float", f"{out}_scale"], [out]),
        ]
        done += 1
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(onnx_out))
    return done


def _quantize(onnx_in: Path, onnx_out: Path, keep_float: str = "") -> list[str]:
    """Dynamic int8 quantisation of the weight matrices, except nodes matching ``keep_float``.

    MatMulConstBOnly keeps activation-by-activation products (attention scores) in
    float32: quantising those costs far more accuracy than it saves time. Returns the
    names of the nodes kept in float32.
    """
    import re

    import onnx

    from vectorstore.onnx_encoder import import_onnxruntime

    import_onnxruntime()  # first, so that its telemetry stays off
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = ["MatMul", "Attention"]
    graph = onnx.load(str(onnx_in), load_external_data=False).graph
    kept = [
        n.name
        for n in graph.node
        if keep_float and n.op_type in ops and re.search(keep_float, n.name)
    ]
    quantize_dynamic(
        str(onnx_in),
        str(onnx_out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=ops,
        nodes_to_exclude=kept,
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return kept


def encoder_settings(source: Path) -> dict[str, Any]:
    """Prompts, window and pad id of the rebuilt folder, recorded in the manifest."""
    st_config = json.loads((source / "config_sentence_transformers.json").read_text("utf-8"))
    bert_config = json.loads((source / "config.json").read_text("utf-8"))
    window = json.loads((source / "sentence_bert_config.json").read_text("utf-8"))
    return {
        "prompts": st_config.get("prompts") or {},
        "max_seq_length": int(window.get("max_seq_length") or 512),
        "pad_id": int(bert_config.get("pad_token_id", 1)),
    }


def open_encoder(
    folder: Path, manifest: dict[str, Any], *, threads: int | None = None
) -> OnnxEncoder:
    """An ``OnnxEncoder`` over the export in ``folder``, set up from its manifest."""
    from vectorstore.e5_tokenizer import E5Tokenizer
    from vectorstore.onnx_encoder import OnnxEncoder

    tokenizer = E5Tokenizer(
        folder, max_seq_length=int(manifest["max_seq_length"]), pad_id=int(manifest["pad_id"])
    )
    return OnnxEncoder(
        folder / MODEL_FILE, tokenizer, prompts=manifest.get("prompts") or {}, threads=threads
    )


def _probe_cosines(source: Path, folder: Path, settings: dict[str, Any]) -> list[float]:
    """Cosines between the export's and the float32 model's vectors of the probe texts."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    want = reference.encode(_PROBES, batch_size=len(_PROBES), normalize_embeddings=True)
    got = open_encoder(folder, settings).encode(_PROBES, batch_size=len(_PROBES))
    return [round(float(c), 6) for c in np.sum(want * got, axis=1)]


def build_export(source: Path, target: Path, variant: Variant) -> None:
    """Export ``variant`` of ``source`` into a temporary sibling, check it, swap it in."""
    from vectorstore.onnx_encoder import import_onnxruntime

    import_onnxruntime()  # before torch.onnx or transformers could load it with telemetry on
    started = time.perf_counter()
    with building(target) as tmp:
        work = tmp / "work"
        work.mkdir()
        config = _export_graph(source, work / "raw.onnx")
        fused = _optimize(work / "raw.onnx", work / "fused.onnx", config)
        kept: list[str] = []
        if variant.quantize:
            kept = _quantize(work / "fused.onnx", work / "int8.onnx", variant.keep_float)
            if not _quantize_lookup_table(work / "int8.onnx", tmp / MODEL_FILE):
                raise ExportError("the graph has no word-embedding lookup to quantise")
        else:
            (work / "fused.onnx").rename(tmp / MODEL_FILE)
        shutil.rmtree(work)
        write_tokenizer(source / "tokenizer.json", tmp)
        settings = encoder_settings(source)
        cosines = _probe_cosines(source, tmp, settings)
        if min(cosines) < variant.min_probe_cosine:
            raise ExportError(
                f"the {variant.name} export does not reproduce the float32 model "
                f"(probe cosines {cosines}, need >= {variant.min_probe_cosine})"
            )
        files = {
            p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(tmp.iterdir())
            if p.is_file()
        }
        manifest = {
            "format": _FORMAT,
            "variant": variant.name,
            "summary": variant.summary,
            "source": _source_identity(source),
            "files": files,
            **settings,
            "fused_operators": fused,
            "kept_float": kept,
            "probe_cosines": cosines,
            "export_seconds": round(time.perf_counter() - started, 2),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    log.info(
        "exported %s of %s in %.1f s (probe cosines %s)",
        variant.name,
        source.name,
        time.perf_counter() - started,
        cosines,
    )


def ensure_export(source: Path, variant: str, *, force: bool = False) -> tuple[Path, dict]:
    """The verified export folder of ``variant`` and its manifest, exporting it if needed.

    Writes nothing when a valid export is present; otherwise exports under a file lock
    (concurrent callers wait, then reuse), or raises ReadOnlyCache if the cache is read-only.
    """
    from filelock import FileLock

    spec = VARIANTS.get(variant)
    if spec is None:
        raise ExportError(f"{variant!r} is not an exported variant")
    target = export_folder(source, variant)
    if not force:
        manifest = verified_manifest(target, source, variant)
        if manifest is not None:
            return target, manifest
    writable_or_raise(target.parent, f"{target.name} export")
    with FileLock(str(target.parent / f".{target.name}.lock"), timeout=900):
        manifest = None if force else verified_manifest(target, source, variant)
        if manifest is None:
            if target.exists():
                log.warning("%s is missing, stale or damaged: exporting it again", target)
            remove_leftovers(target)
            # The first start with the default variant waits here: say why.
            log.info(
                "exporting %s of %s once into %s (about 35 s on 2 cores; cached after)",
                variant,
                source.name,
                target,
            )
            build_export(source, target, spec)
            manifest = verified_manifest(target, source, variant)
            if manifest is None:
                raise ExportError(f"{target} failed its own check right after the export")
    return target, manifest
