"""Read-only index folders: whether a folder can be written, and a private copy to serve from.

Embedded Chroma cannot open a persist directory it cannot write (chroma-core/chroma#1438, no
read-only client), so ``IndexStore`` serves such a folder from a temporary snapshot made here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import chromadb


def write_problem(directory: Path) -> str | None:
    """None when files can be created in ``directory``, else one phrase saying why not.

    ``os.access`` asks the kernel without writing into the index folder; it answers for the
    mount too (EROFS: a read-only bind mount or container layer is refused, also for root),
    as ``e5_rebuild.writable_or_raise`` relies on for the model cache."""
    if os.access(directory, os.W_OK | os.X_OK):
        return None
    read_only_mount = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    why = "read-only file system" if read_only_mount else "permission denied"
    return f"{directory} cannot be written ({why})"


SNAPSHOT_PREFIX = "kmr-index-snapshot-"


def remove_stale_snapshots() -> None:
    """Remove snapshots left by processes that no longer run (killed before cleaning up)."""
    for root in Path(tempfile.gettempdir()).glob(f"{SNAPSHOT_PREFIX}*"):
        try:
            pid = int((root / "owner.pid").read_text(encoding="ascii"))
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(root, ignore_errors=True)
        except (OSError, ValueError):  # not ours to judge (another user's, or being made)
            continue


def snapshot_client(path: Path, chroma_settings: Any) -> tuple[chromadb.ClientAPI, Path]:
    """A PersistentClient on a private temporary copy of the index folder ``path``.

    The copy is removed when the process exits (or the returned path is collected)."""
    remove_stale_snapshots()
    root = Path(tempfile.mkdtemp(prefix=SNAPSHOT_PREFIX))
    (root / "owner.pid").write_text(str(os.getpid()), encoding="ascii")
    copy = root / "chroma"
    try:
        shutil.copytree(path, copy)
        # The copy keeps the source's read-only modes: make it ours to write (Chroma writes
        # its SQLite journal and index metadata even when only reading).
        for item in [copy, *copy.rglob("*")]:
            item.chmod(item.stat().st_mode | 0o700 if item.is_dir() else 0o600)
        client = chromadb.PersistentClient(path=str(copy), settings=chroma_settings)
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return client, root
