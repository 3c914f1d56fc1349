"""Run an exported e5 model with ONNX Runtime: no torch, no sentence-transformers.

The encoder does what sentence-transformers does for the rebuilt folder (tokenise into the
same ids, ``vectorstore.e5_tokenizer``, truncated to the model's window, mean-pool over the
attention mask, L2-normalise), so a vector from here and one from the float32 model
differ only by the variant's numerics. It runs one text per call (``MAX_BATCH``), whatever
the caller asks: the int8 graph quantises activations per call, so in a batch a text's vector
depended on its neighbours and their padding (the same chunk in two batches of 8: cosine
down to 0.9984), and an index's vectors on the order things were embedded in. Alone, a text
always gets the same vector, at no cost here: on 2 cores the int8 graph embedded the sample
site's 154 chunks at 41-45 chunks/s one at a time and 35-42 in batches of 8 (measured
2026-12-02, two runs each, under the shared heavy-job lock); no padding, no arena growth.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

MAX_BATCH = 1


def import_onnxruntime() -> ModuleType:
    """``onnxruntime``, loaded with its telemetry off.

    Its Linux wheels (1.32 here) upload usage events to Microsoft and, at import, write a
    device id under ~/.cache/Microsoft and a ``.ses`` file in the temporary folder, unless
    ``ORT_DISABLE_TELEMETRY=1`` is set before the library loads (measured 2026-12-01: with
    it, nothing is written). An operator's own setting of the variable is kept.
    """
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    return onnxruntime


class BatchTokenizer(Protocol):
    """What the encoder needs of a tokenizer (``e5_tokenizer.E5Tokenizer`` is one)."""

    def batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Padded int64 ids and attention mask of ``texts``."""
        ...


class OnnxEncoder:
    """An ONNX Runtime session plus its tokenizer, with a sentence-transformers-like encode."""

    def __init__(
        self,
        model_file: Path,
        tokenizer: BatchTokenizer,
        *,
        prompts: dict[str, str] | None = None,
        threads: int | None = None,
    ) -> None:
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        # 0 lets ONNX Runtime use every physical core, like torch's own default.
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads would otherwise spin for a while after every call and take
        # CPU from the other processes sharing the machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = tokenizer
        self.prompts = dict(prompts or {})
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def _batch(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.tokenizer.batch(texts)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        return summed / np.clip(weights.sum(axis=1), 1e-9, None)

    def encode(
        self,
        texts: list[str],
        prompt: str | None = None,
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        **_ignored: object,
    ) -> np.ndarray:
        """Vectors of ``texts`` (``prompt`` prefixed), in input order, as a float32 array."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        inputs = [(prompt or "") + text for text in texts]
        order = np.argsort([-len(text) for text in inputs], kind="stable")
        out = np.empty((len(inputs), self.dimension), dtype=np.float32)
        size = max(1, min(batch_size, MAX_BATCH))
        for start in range(0, len(inputs), size):
            index = order[start : start + size]
            out[index] = self._batch([inputs[i] for i in index])
        if normalize_embeddings:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out
