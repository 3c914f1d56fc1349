"""Model folders in the cache: built in a temporary sibling, swapped in whole, cleaned up.

Shared by the e5 rebuild (``vectorstore.e5_rebuild``) and its ONNX exports
(``vectorstore.onnx_export``), so a killed build never leaves a half folder and a read-only
cache fails with one line saying what to do.

Errors::

    RebuildError        a model folder cannot be built (sources missing, malformed, mismatched)
     +-- ReadOnlyCache  the cache folder cannot be written and holds no usable model
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RebuildError(Exception):
    """A model folder cannot be built: the e5 weights or tokenizer are missing, malformed or
    do not match (or, for a subclass, the cache cannot be written or the export failed)."""


class ReadOnlyCache(RebuildError):
    """The model cache folder cannot be written and does not hold a usable model."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_fingerprint(path: Path) -> dict[str, object]:
    """Name, size and SHA-256 of a source file, as recorded in the marker."""
    return {"name": path.name, "size": path.stat().st_size, "sha256": sha256_file(path)}


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as indented UTF-8 JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def building(target: Path) -> Iterator[Path]:
    """A temporary sibling folder of ``target`` to build in.

    When the block ends without an error the folder is published in place of ``target``
    (``publish_folder``); on any error, or a kill signal, it is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        publish_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish_folder(tmp: Path, target: Path) -> None:
    """Make a finished temporary folder readable by all and swap it in place of ``target``."""
    # mkdtemp makes the folder private; the service may run as another user.
    for path in (tmp, *tmp.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / "folder")
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)


def remove_leftovers(target: Path) -> None:
    """Delete what killed builds of ``target`` left beside it.

    A build writes into a ``.<name>.tmp-*`` sibling (``building``) and ``publish_folder``
    moves the folder it replaces to ``.<name>.old-*``; a build killed midway leaves either behind. Call it
    while holding the build's file lock, just before building, so that no other process's
    build in progress is removed.
    """
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for stale in target.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def writable_or_raise(folder: Path, what: str) -> None:
    """Raise ReadOnlyCache (one line, saying what to do) unless ``folder`` can be written.

    Checked before any write, so a read-only cache never gets a lock file or a temporary
    folder; the error names the missing piece instead of an OSError from deep inside.
    """
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK):
        return
    raise ReadOnlyCache(
        f"the model cache {folder} is read-only and holds no usable {what}: build it once "
        "with a writable KMR_MODEL_CACHE_DIR (any kmr command that embeds, e.g. `kmr ingest`) "
        "and copy that folder here, or point KMR_MODEL_CACHE_DIR at a writable folder"
    )
