"""The session's embedding model: the real multilingual-e5-small, loaded once, and each distinct
text encoded once.

Many tests sync the same sample pages and so embed the same chunks, sentences and questions
again and again; on two CPU cores that repetition was a third of the fast subset's time. The
vectors handed out are the model's own (encoded by it the first time a text is seen, with the
same prompt), so nothing a test checks changes: only repeated work is saved. The embeddings'
public methods, their query cache and every seam tests count (``embed_documents``) are the real
``E5Embeddings`` ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from vectorstore import embeddings as embeddings_module
from vectorstore.embeddings import E5Embeddings, EmbeddingOptions, model_locator


class SessionEmbeddings(E5Embeddings):
    """``E5Embeddings`` that remembers every vector it encoded in this process."""

    def __init__(self, options: EmbeddingOptions) -> None:
        name, locate = model_locator(options)
        super().__init__(
            name,
            locate,
            variant=options.variant,
            batch_size=options.batch_size,
            torch_threads=options.torch_threads,
        )
        self.options = options
        self._seen: dict[tuple[str | None, str], np.ndarray] = {}
        self._seen_lock = threading.Lock()

    def _encode(self, texts: list[str], prompt: str | None) -> list[list[float]]:
        """The model's vectors of ``texts``; only texts not seen before with ``prompt`` are run."""
        with self._seen_lock:
            missing = [t for t in dict.fromkeys(texts) if (prompt, t) not in self._seen]
        if missing:
            vectors = np.asarray(super()._encode(missing, prompt), dtype=np.float32)
            with self._seen_lock:
                self._seen.update(((prompt, t), v) for t, v in zip(missing, vectors, strict=True))
        with self._seen_lock:
            return [self._seen[(prompt, t)].tolist() for t in texts]  # fresh lists every call


def share_session_model(monkeypatch: pytest.MonkeyPatch, model: SessionEmbeddings) -> None:
    """Make the application load ``model`` instead of a new copy when it asks for the same one.

    The CLI and the app factory load the model themselves (``load_embeddings``); with the
    session's options they now get the session's model, already in memory. Any other model
    (another name, folder or variant, a broken one) is still loaded for real.
    """
    real: Callable[[EmbeddingOptions], E5Embeddings] = embeddings_module.load_embeddings

    def load(options: EmbeddingOptions) -> E5Embeddings:
        return model if options == model.options else real(options)

    monkeypatch.setattr(embeddings_module, "load_embeddings", load)
    monkeypatch.setattr("assistant.runtime.load_embeddings", load)
