"""Are a finished unit's files still what its completion record says? (size and SHA-256)

A unit whose shard or table is missing, truncated or changed is not done: a rerun of the
stage redoes it (`DatasetWriter.is_done`), and `musclekit inspect` lists it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from musclekit.dataset import layout
from musclekit.dataset.atomic import file_sha256

# Files this process already hashed, by (path, size, mtime_ns, inode): a run asks `is_done`
# about a unit more than once; a file rewritten since has another key and is hashed again.
_HASHED: dict[tuple[str, int, int, int], str] = {}


def _sha256(path: Path, st: os.stat_result) -> str:
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _HASHED.get(key)
    if digest is None:
        digest = _HASHED[key] = file_sha256(path)
    return digest


@dataclass(frozen=True)
class Damage:
    unit_id: str
    path: str  # relative to the dataset root
    problem: str  # "missing", "size", "checksum"
    detail: str

    def sentence(self) -> str:
        return (f"unit {self.unit_id}: {self.path} {self.detail}; rerun the stage that wrote it "
                "to redo the unit")


def check_files(root: Path, unit_id: str, files: list[dict], hashes: bool = True) -> list[Damage]:
    """Damage among `files` (records' shard/table entries: path, n_bytes, sha256)."""
    out = []
    for entry in files:
        rel = entry["path"]
        path = root / rel
        try:
            st = os.stat(path)
            size = st.st_size
        except FileNotFoundError:
            out.append(Damage(unit_id, rel, "missing", "is missing"))
            continue
        want = entry.get("n_bytes")
        if want is not None and size != want:
            out.append(Damage(unit_id, rel, "size",
                              f"has {size} bytes, its record says {want} (truncated or changed)"))
            continue
        digest = entry.get("sha256")
        if hashes and digest and _sha256(path, st) != digest:
            out.append(Damage(unit_id, rel, "checksum",
                              "fails its SHA-256 checksum (changed or corrupted on disk)"))
    return out


def record_files(record: dict) -> list[dict]:
    return list(record.get("shards", [])) + list(record.get("tables", []))


def unit_damage(root: Path, unit_id: str, hashes: bool = True) -> list[Damage] | None:
    """Damage of one finished unit's files; None when the unit has no (readable) record."""
    record_file = root / layout.unit_record_path(unit_id)
    try:
        record = json.loads(record_file.read_text())
        files = record_files(record)
        for entry in files:
            entry["path"]  # noqa: B018 - a record without paths is unreadable
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    return check_files(root, unit_id, files, hashes)


def dataset_damage(root: str | Path, hashes: bool = True) -> list[Damage]:
    """Damage of every finished unit of the dataset at `root`."""
    root = Path(root)
    units = root / layout.UNITS_DIR
    out: list[Damage] = []
    if not units.is_dir():
        return out
    for file in sorted(units.glob("*.json")):
        if file.name.startswith(layout.TMP_PREFIX):
            continue
        out.extend(unit_damage(root, file.stem, hashes) or [])
    return out
