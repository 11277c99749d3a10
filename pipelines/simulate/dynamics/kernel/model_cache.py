"""The cache of prepared models: one folder per content key, shared by every run, dataset and
worker of the user (or of a cluster, on a shared filesystem).

An entry is published by renaming a finished temporary folder into place, so a reader sees a
whole entry or none; it is accepted only when its `prep.json` reads and every file it lists
has the SHA-256 recorded there (a folder damaged after the fact is prepared again, never
used). Where the cache lives: the stage's `cache_dir` when given, else `$MUSCLEKIT_MODEL_CACHE`,
else `$XDG_CACHE_HOME/musclekit/prepared-models`, else `~/.cache/musclekit/prepared-models`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from musclekit.dataset.atomic import file_sha256

CACHE_ENV = "MUSCLEKIT_MODEL_CACHE"
# Part of every key: bump it when the same inputs would give a different prepared model
# (entries of the old format are then left alone, never read as the new one).
FORMAT = "prep-4"  # 4: no actuator on a coordinate left locked in a joint with free ones


def default_cache_dir() -> Path:
    """The user's cache of prepared models (see the module's docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "musclekit" / "prepared-models"


def file_digests(folder: Path, names: list[str]) -> dict[str, str]:
    """{name: SHA-256} of the files `names` (relative to `folder`)."""
    return {n: file_sha256(folder / n) for n in sorted(names)}


def entry_complete(folder: Path) -> bool:
    """Whether `folder` holds a whole, unchanged prepared model: its `prep.json` reads and
    lists its files, each with the recorded SHA-256."""
    try:
        info = json.loads((folder / "prep.json").read_text())
    except (OSError, ValueError):
        return False
    files = info.get("files")
    if not isinstance(files, dict) or "model.osim" not in files:
        return False
    try:
        return all(file_sha256(folder / n) == digest for n, digest in files.items())
    except OSError:
        return False


def publish(tmp: Path, folder: Path) -> None:
    """Make the finished `tmp` the entry `folder` by one rename. A complete entry already
    there (another worker won the race) is kept and `tmp` dropped; an incomplete one (a
    damaged folder) is moved aside and removed first."""
    if folder.exists() and not entry_complete(folder):
        aside = folder.with_name(tmp.name + ".old")
        try:
            os.replace(folder, aside)
        except OSError:
            pass
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:
        # A complete entry appeared meanwhile: same key, same content; keep the first one.
        shutil.rmtree(tmp, ignore_errors=True)
