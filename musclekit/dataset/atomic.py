"""Crash-safe file writing: write a temporary sibling, fsync, then rename over the target."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from musclekit.dataset.layout import TMP_PREFIX


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def temp_sibling(target: Path) -> Path:
    """A temporary name next to `target` (same filesystem, so rename is atomic).

    Readers never look at names starting with TMP_PREFIX."""
    return target.with_name(f"{TMP_PREFIX}{os.getpid()}-{target.name}")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_file(tmp: Path, target: Path) -> None:
    """fsync `tmp`, rename it over `target`, fsync the folder so the rename survives a crash."""
    fsync_file(tmp)
    os.replace(tmp, target)
    fsync_dir(target.parent)


def write_json_atomic(target: Path, payload: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(target)
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    commit_file(tmp, target)


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """An exclusive advisory lock, for read-modify-write of shared metadata between processes."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
