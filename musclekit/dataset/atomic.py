"""Crash-safe file writing: write a temporary sibling, fsync, then rename over the target."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from musclekit.dataset.layout import TMP_PREFIX

# `.tmp-<pid>.<host>-<name>`; names written before the host tag was added lack `.<host>`.
_TEMP_NAME = re.compile(re.escape(TMP_PREFIX) + r"(\d+)(?:\.([0-9a-f]{8}))?-")


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def temp_sibling(target: Path) -> Path:
    """A temporary name next to `target` (same filesystem, so rename is atomic).

    Readers never look at names starting with TMP_PREFIX. The name holds the writer's pid
    and machine, so a later run can tell a killed writer's leftover from a live write."""
    from musclekit.process import host_tag

    return target.with_name(f"{TMP_PREFIX}{os.getpid()}.{host_tag()}-{target.name}")


def temp_owner(name: str) -> tuple[int, str | None] | None:
    """(pid, host tag or None) of a temporary name made by `temp_sibling`, else None."""
    m = _TEMP_NAME.match(name)
    return None if m is None else (int(m.group(1)), m.group(2))


def remove_stale_temp_files(folders: Iterable[Path]) -> list[Path]:
    """Delete the temporary files in `folders` (not recursive) whose writer was a process of
    this machine that no longer runs (a killed write); returns them. Live writes and those
    of other machines (a shared filesystem) are left alone."""
    from musclekit.process import is_stale

    removed = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            owner = temp_owner(entry.name) if entry.name.startswith(TMP_PREFIX) else None
            if owner is not None and entry.is_file(follow_symlinks=False) and is_stale(*owner):
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
                removed.append(Path(entry.path))
    return removed


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
