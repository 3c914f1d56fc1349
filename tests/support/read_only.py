"""Run a command with a folder it cannot write, also as root (where permission bits do not stop
writes): the folder is bind-mounted read-only in a private user and mount namespace
(``unshare -rm``, a write is EROFS even for root); any other user gets it chmod-ed read-only."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


@functools.cache
def can_mount_read_only() -> bool:
    """Whether ``unshare -rm`` can bind-mount a folder read-only (user namespaces)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run(
            [unshare, "-rm", "sh", "-c", f'mount --bind -o ro "{folder}" "{folder}"'],
            capture_output=True,
            check=False,
        )
    return probe.returncode == 0


def mounted_read_only(folder: Path, argv: list[str]) -> list[str]:
    """``argv`` run in a mount namespace where ``folder`` is read-only."""
    script = f'mount --bind -o ro "{folder}" "{folder}" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, "sh", *argv]


def read_only_command(folder: Path, argv: list[str]) -> list[str]:
    """``argv`` run with ``folder`` read-only (mount namespace as root, chmod otherwise);
    skips the test as root where namespaces are not allowed."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return argv
    if not can_mount_read_only():
        pytest.skip("as root, needs `unshare -rm` (user namespaces) to mount the folder read-only")
    return mounted_read_only(folder, argv)
