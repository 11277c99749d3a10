"""Remove a unit of work or a whole stream from a dataset, leaving it readable.

Readers see a unit through its completion record, so a removal rewrites (or deletes) the
records first, each atomically, then `meta/info.json`, and deletes the shard files last: a
removal killed at any point leaves a dataset every command reads (at worst shard files
without a record, which `musclekit validate` reports and the next removal or writer ignores).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from musclekit.dataset import layout
from musclekit.dataset.atomic import fsync_dir, locked, write_json_atomic
from musclekit.dataset.reader import load_info, load_unit_records
from musclekit.errors import InputError


@dataclass
class Removal:
    """What a removal did: units deleted, units rewritten without the stream, streams
    undeclared, files deleted (paths relative to the dataset root)."""

    units_removed: list[str] = field(default_factory=list)
    units_trimmed: list[str] = field(default_factory=list)
    streams_removed: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = []
        if self.units_removed:
            parts.append(f"units {', '.join(self.units_removed)}")
        if self.units_trimmed:
            parts.append(f"the stream's part of units {', '.join(self.units_trimmed)}")
        if self.streams_removed:
            parts.append(f"streams {', '.join(self.streams_removed)}")
        return "removed " + ("; ".join(parts) if parts else "nothing") + \
            f" ({len(self.files_removed)} file(s) deleted)"


def remove_from_dataset(path: str | Path, units: list[str] | None = None,
                        streams: list[str] | None = None) -> Removal:
    """Remove the units `units` and every part of the streams `streams` from the dataset at
    `path`. A stream left without data is undeclared. Raises InputError, naming what exists,
    for a unit or stream the dataset does not have; nothing is changed then."""
    root = Path(path)
    units, streams = list(units or []), list(streams or [])
    if not units and not streams:
        raise InputError("say what to remove: --unit UNIT_ID or --stream NAME (`musclekit "
                         f"inspect {root}` lists them)")
    if not (root / layout.INFO_PATH).is_file():
        raise InputError(f"{root} is not a musclekit dataset (no {layout.INFO_PATH}); give the "
                         "dataset folder")
    with locked(root / layout.LOCK_PATH):
        info = load_info(root)
        records = {r.unit_id: r for r in load_unit_records(root)}
        unknown_units = [u for u in units if u not in records]
        if unknown_units:
            raise InputError(f"{root} has no unit {', '.join(map(repr, unknown_units))}; its "
                             f"units: {', '.join(sorted(records)) or 'none'}")
        unknown_streams = [s for s in streams if s not in info.streams]
        if unknown_streams:
            raise InputError(f"{root} has no stream {', '.join(map(repr, unknown_streams))}; "
                             f"its streams: {', '.join(sorted(info.streams)) or 'none'}")
        done = Removal()
        doomed: list[str] = []
        for unit_id, record in records.items():
            if unit_id in units:
                doomed += [s.path for s in record.shards] + [t.path for t in record.tables]
                done.units_removed.append(unit_id)
                continue
            hit = [s for s in record.shards if s.stream in streams]
            if not hit:
                continue
            doomed += [s.path for s in hit]
            keep = [s for s in record.shards if s.stream not in streams]
            if not keep and not record.tables:
                done.units_removed.append(unit_id)
                continue
            kept_seqs = {q for s in keep for q in s.sequences}
            trimmed = record.model_copy(update={
                "shards": keep,
                "sequence_streams": [x for x in record.sequence_streams if x.stream not in streams],
                "sequences": [q for q in record.sequences if q.id in kept_seqs]
                if keep else record.sequences,
            })
            write_json_atomic(root / layout.unit_record_path(unit_id),
                              trimmed.model_dump(mode="json"))
            done.units_trimmed.append(unit_id)
        # Records go first: once a record is gone, its shards are invisible to readers.
        for unit_id in done.units_removed:
            (root / layout.unit_record_path(unit_id)).unlink()
        fsync_dir(root / layout.UNITS_DIR)
        left = {s.stream for uid, r in records.items() if uid not in done.units_removed
                for s in r.shards if s.stream not in streams}
        had_data = {s.stream for r in records.values() for s in r.shards}
        for name in sorted(info.streams):
            if name in streams or (name in had_data and name not in left):
                del info.streams[name]
                done.streams_removed.append(name)
        if done.streams_removed:
            write_json_atomic(root / layout.INFO_PATH, info.model_dump(mode="json"))
        for rel in doomed:
            try:
                os.unlink(root / rel)
                done.files_removed.append(rel)
            except FileNotFoundError:
                continue
        for name in done.streams_removed:
            folder = root / layout.DATA_DIR / name
            try:
                folder.rmdir()
            except OSError:
                pass
    return done
