"""Writing a musclekit dataset: one unit of work at a time, atomically, resumably.

A unit (a clip, a sequence, a chunk batch) writes at most one shard per stream, one row
group per sequence, to temporary names. Only when the unit finishes cleanly are the shards
validated, fsync'ed and renamed into place, and only then is the unit's completion record
written. Readers trust completion records alone, so a killed writer leaves nothing they
accept, and rerunning the same command skips finished units and redoes the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from musclekit.dataset import layout
from musclekit.dataset.atomic import (
    commit_file,
    file_sha256,
    locked,
    remove_stale_temp_files,
    temp_sibling,
    write_json_atomic,
)
from musclekit.dataset.columns import (
    NUMPY_DTYPE,
    Flag,
    dictionary_constant,
    numpy_column,
    stream_schema,
    values_to_columns,
)
from musclekit.dataset.families import get_family
from musclekit.dataset.metadata import (
    NAME_PATTERN,
    DatasetInfo,
    Provenance,
    SequenceInfo,
    SequenceStreamRecord,
    ShardRecord,
    StreamSpec,
    SubjectInfo,
    TableRecord,
    UnitRecord,
    pydantic_message,
)
from musclekit.dataset.schema_check import validate_against_schema
from musclekit.errors import FormatError

COMPRESSION = "zstd"
# Level 1 keeps writes close to raw pyarrow speed; higher levels gain little on float data.
COMPRESSION_LEVEL = 1
# Range checks allow float32 round-off at the bounds.
RANGE_TOLERANCE = 1e-5


class DatasetWriter:
    """Opens or creates a dataset folder for writing units of work."""

    def __init__(self, root: Path, info: DatasetInfo) -> None:
        self.root = root
        self.info = info

    @classmethod
    def create_or_open(
        cls,
        path: str | Path,
        name: str | None = None,
        streams: Iterable[StreamSpec] = (),
        description: str = "",
        subjects: Iterable[SubjectInfo] = (),
    ) -> DatasetWriter:
        """Create the dataset at `path`, or open the existing one and add missing streams.

        A stream that exists with a different layout (channels, units, rate, family) is a
        FormatError: two writers would otherwise disagree about what the shards hold.

        A dataset whose creation was killed (its lock file exists, its metadata does not) is
        created again in place; temporary files of killed writers are removed.
        """
        root = Path(path)
        info_file = root / layout.INFO_PATH
        if root.exists() and not root.is_dir():
            raise FormatError(f"{root} exists and is not a folder; choose another --out path")
        if root.is_dir() and not info_file.exists() and any(
            p for p in root.iterdir() if not p.name.startswith(".")
        ) and not _creation_interrupted(root):
            raise FormatError(
                f"{root} is a non-empty folder that is not a musclekit dataset "
                f"(no {layout.INFO_PATH}); choose an empty or new --out folder"
            )
        root.mkdir(parents=True, exist_ok=True)
        with locked(root / layout.LOCK_PATH):
            removed = remove_stale_temp_files(_temp_folders(root))
            if removed:
                from musclekit.progress import console

                console.print(f"{root}: removed {len(removed)} temporary file(s) of writes "
                              "that were killed", soft_wrap=True)
            if info_file.exists():
                from musclekit.dataset.reader import load_info

                info = load_info(root)
            else:
                try:
                    info = DatasetInfo(name=name or root.name, description=description)
                except ValidationError as err:
                    raise FormatError(f"invalid dataset metadata: {pydantic_message(err)}") from err
            writer = cls(root, info)
            changed = writer._merge_streams(streams) | writer._merge_subjects(subjects)
            if changed or not info_file.exists():
                writer._save_info()
        return writer

    def add_streams(self, streams: Iterable[StreamSpec]) -> None:
        """Declare more streams (e.g. keypoints added to an aligned capture)."""
        with locked(self.root / layout.LOCK_PATH):
            from musclekit.dataset.reader import load_info

            self.info = load_info(self.root)
            if self._merge_streams(streams):
                self._save_info()

    def _merge_streams(self, streams: Iterable[StreamSpec]) -> bool:
        changed = False
        for spec in streams:
            have = self.info.streams.get(spec.name)
            if have is None:
                self.info.streams[spec.name] = spec
                changed = True
            elif not have.same_layout(spec):
                raise FormatError(
                    f"dataset {self.root} already has a stream {spec.name!r} with another layout: "
                    f"{_layout_difference(have, spec)}. Write this data to another dataset "
                    "folder (--out NEW), or make it match: channel names can be renamed at the "
                    "source (align: --channels SRC=NAME,...)"
                )
        return changed

    def _merge_subjects(self, subjects: Iterable[SubjectInfo]) -> bool:
        changed = False
        for subject in subjects:
            if self.info.subjects.get(subject.id) != subject:
                self.info.subjects[subject.id] = subject
                changed = True
        return changed

    def _save_info(self) -> None:
        payload = self.info.model_dump(mode="json")
        validate_against_schema(payload, "dataset-info-v1.schema.json", "meta/info.json")
        write_json_atomic(self.root / layout.INFO_PATH, payload)

    def is_done(self, unit_id: str) -> bool:
        """True when the unit finished before: its record exists and every shard and table it
        names is there with the size and SHA-256 the record gives. A damaged unit is not done
        (a rerun redoes it), and says so once."""
        from musclekit.dataset.integrity import unit_damage

        if not (self.root / layout.unit_record_path(unit_id)).exists():
            return False
        damage = unit_damage(self.root, unit_id)
        if damage is None:
            return False
        if damage:
            from musclekit.progress import console

            for item in damage:
                console.print(f"[yellow]redoing[/] {item.sentence().split(';')[0]}",
                              soft_wrap=True)
            return False
        return True

    def unit(self, unit_id: str, provenance: Provenance) -> UnitWriter:
        """Start a unit of work; use as a context manager (commit on clean exit)."""
        if not re.fullmatch(NAME_PATTERN, unit_id):
            raise FormatError(
                f"unit id {unit_id!r} may hold only letters, digits, '_', '.', '-' and must "
                "start with a letter or digit"
            )
        return UnitWriter(self, unit_id, provenance)


class UnitWriter:
    """Collects the sequences, subjects and tables of one unit; commits them atomically."""

    def __init__(self, dataset: DatasetWriter, unit_id: str, provenance: Provenance) -> None:
        self.dataset = dataset
        self.unit_id = unit_id
        self.provenance = provenance
        self._writers: dict[str, tuple[Path, pq.ParquetWriter, list[str], list[int]]] = {}
        self._tables: dict[str, tuple[Path, int]] = {}
        self._sequences: dict[str, SequenceInfo] = {}
        self._seq_streams: list[SequenceStreamRecord] = []
        self._subjects: dict[str, SubjectInfo] = {}
        self._closed = False

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> UnitWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    # -- content ---------------------------------------------------------------------
    def add_subject(self, subject: SubjectInfo) -> None:
        self._subjects[subject.id] = subject

    def write_sequence(
        self,
        stream: str,
        sequence: SequenceInfo,
        time_s: np.ndarray,
        values: np.ndarray | None = None,
        flags: np.ndarray | None = None,
        timestamp_ns: np.ndarray | None = None,
        aux: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Write one sequence of one stream as one row group.

        time_s: (T,) seconds from the sequence start on the stream's clock, strictly increasing.
        values: (T, C) for scalar families, (T, C, K) for families with K components;
            NaN marks a missing value. Rows whose values are all NaN are flagged MISSING.
        flags: optional (T,) uint8 `Flag` bits. Rows flagged MISSING have their values nulled.
        timestamp_ns: optional (T,) int64 measured absolute times (UTC ns).
        aux: the stream's declared aux columns, each (T,).
        """
        spec = self._spec(stream)
        where = f"stream {stream!r}, sequence {sequence.id!r}"
        time_s = np.asarray(time_s, dtype=np.float64)
        if time_s.ndim != 1:
            raise FormatError(f"{where}: time_s must be one-dimensional, got shape {time_s.shape}")
        n = time_s.shape[0]
        if not np.all(np.isfinite(time_s)):
            raise FormatError(f"{where}: time_s holds NaN or infinite values")
        if n > 1 and not np.all(np.diff(time_s) > 0):
            bad = int(np.argmax(np.diff(time_s) <= 0))
            raise FormatError(
                f"{where}: time_s must increase strictly; frame {bad + 1} "
                f"({time_s[bad + 1]:.6f} s) does not come after frame {bad} ({time_s[bad]:.6f} s)"
            )
        values = self._check_values(spec, where, values, n)
        flag_col = self._flags(where, values, flags, n)
        missing_rows = (flag_col & np.uint8(Flag.MISSING)).astype(bool)
        if values is not None and missing_rows.any():
            values = values.copy()
            values[missing_rows] = np.nan
        self._check_range(spec, where, values)

        columns: list[pa.Array] = [
            dictionary_constant(sequence.id, n),
            dictionary_constant(sequence.subject_id, n),
            numpy_column(np.arange(n, dtype=np.int32), pa.int32()),
            numpy_column(time_s, pa.float64()),
            self._timestamps(where, timestamp_ns, n),
            numpy_column(flag_col, pa.uint8()),
        ]
        columns += self._aux_columns(spec, where, aux or {}, n)
        if values is not None:
            columns += values_to_columns(values)
        schema = stream_schema(spec)
        table = pa.Table.from_arrays(columns, schema=schema)

        key = (sequence.id, stream)
        if any((r.sequence_id, r.stream) == key for r in self._seq_streams):
            raise FormatError(f"{where} was already written in unit {self.unit_id!r}")
        if stream not in self._writers:
            final = self.dataset.root / layout.shard_path(stream, self.unit_id)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_sibling(final)
            pw = pq.ParquetWriter(tmp, schema, compression=COMPRESSION,
                                  compression_level=COMPRESSION_LEVEL)
            self._writers[stream] = (tmp, pw, [], [])
        tmp, pw, seq_ids, counts = self._writers[stream]
        pw.write_table(table, row_group_size=max(n, 1))
        seq_ids.append(sequence.id)
        counts.append(n)

        self._merge_sequence(sequence)
        missing = missing_rows
        self._seq_streams.append(SequenceStreamRecord(
            sequence_id=sequence.id, stream=stream, n_frames=n, n_missing=int(missing.sum()),
            duration_s=float(time_s[-1] - time_s[0]) if n > 1 else 0.0,
            gaps=_gap_intervals(time_s, missing),
        ))

    def write_table(self, name: str, frame: Any) -> None:
        """Write a per-unit table (a pandas or polars DataFrame), e.g. a per-chunk report."""
        if name in self._tables:
            raise FormatError(f"table {name!r} was already written in unit {self.unit_id!r}")
        if hasattr(frame, "to_arrow"):
            table = frame.to_arrow()
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        final = self.dataset.root / layout.table_path(name, self.unit_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_sibling(final)
        pq.write_table(table, tmp, compression=COMPRESSION)
        self._tables[name] = (tmp, table.num_rows)

    # -- commit / abort --------------------------------------------------------------
    def commit(self) -> UnitRecord:
        """Validate and rename the shards into place, then write the completion record."""
        if self._closed:
            raise FormatError(f"unit {self.unit_id!r} was already closed")
        self._closed = True
        root = self.dataset.root
        shards, tables = [], []
        try:
            self._check_not_owned()
            for stream, (tmp, pw, seq_ids, counts) in self._writers.items():
                pw.close()
                self._verify_shard(tmp, stream, seq_ids, counts)
                final = root / layout.shard_path(stream, self.unit_id)
                digest = file_sha256(tmp)
                size = tmp.stat().st_size
                commit_file(tmp, final)
                shards.append(ShardRecord(stream=stream, path=layout.shard_path(stream, self.unit_id),
                                          sha256=digest, n_rows=sum(counts), n_bytes=size,
                                          sequences=seq_ids))
            for name, (tmp, n_rows) in self._tables.items():
                final = root / layout.table_path(name, self.unit_id)
                digest, size = file_sha256(tmp), tmp.stat().st_size
                commit_file(tmp, final)
                tables.append(TableRecord(name=name, path=layout.table_path(name, self.unit_id),
                                          sha256=digest, n_rows=n_rows, n_bytes=size))
        except BaseException:
            self._remove_temp_files()
            raise
        record = UnitRecord(
            unit_id=self.unit_id, provenance=self.provenance, shards=shards, tables=tables,
            sequences=list(self._sequences.values()), sequence_streams=self._seq_streams,
            subjects=list(self._subjects.values()),
        )
        payload = record.model_dump(mode="json")
        validate_against_schema(payload, "unit-record-v1.schema.json",
                                layout.unit_record_path(self.unit_id))
        write_json_atomic(root / layout.unit_record_path(self.unit_id), payload)
        from musclekit.dataset.card import write_card_after_unit

        write_card_after_unit(root)
        return record

    def _check_not_owned(self) -> None:
        """Refuse sequences another unit already wrote into the same stream: committing them
        would leave a dataset every reader refuses (duplicate sequence ids)."""
        from musclekit.dataset.reader import load_unit_records

        mine = {(q, stream) for stream, (_, _, seq_ids, _) in self._writers.items() for q in seq_ids}
        if not mine:
            return
        for record in load_unit_records(self.dataset.root):
            if record.unit_id == self.unit_id:
                continue
            for shard in record.shards:
                clash = [q for q in shard.sequences if (q, shard.stream) in mine]
                if clash:
                    raise FormatError(
                        f"stream {shard.stream!r} of {self.dataset.root} already holds sequence "
                        f"{clash[0]!r}, written by unit {record.unit_id!r}; nothing was written. "
                        f"Write into another stream, or first remove the old data with "
                        f"`musclekit remove {self.dataset.root} --unit {record.unit_id}`")

    def abort(self) -> None:
        """Drop everything this unit wrote; nothing of it becomes visible to readers."""
        self._closed = True
        self._remove_temp_files()

    def _remove_temp_files(self) -> None:
        for tmp, pw, _, _ in self._writers.values():
            try:
                pw.close()
            except Exception:  # noqa: BLE001 - the writer may already be broken; we delete it anyway
                pass
            tmp.unlink(missing_ok=True)
        for tmp, _ in self._tables.values():
            tmp.unlink(missing_ok=True)

    # -- checks ----------------------------------------------------------------------
    def _spec(self, stream: str) -> StreamSpec:
        spec = self.dataset.info.streams.get(stream)
        if spec is None:
            known = ", ".join(sorted(self.dataset.info.streams)) or "none"
            raise FormatError(
                f"stream {stream!r} is not declared in {self.dataset.root} (declared: {known}); "
                "declare it with DatasetWriter.create_or_open(..., streams=[...]) or add_streams"
            )
        return spec

    @staticmethod
    def _check_values(spec: StreamSpec, where: str, values: np.ndarray | None,
                      n: int) -> np.ndarray | None:
        n_channels, comps = len(spec.channels), spec.components
        if n_channels == 0:
            if values is not None and np.asarray(values).size:
                raise FormatError(f"{where}: family {spec.family!r} holds no values")
            return None
        if values is None:
            raise FormatError(f"{where}: values are required ({n_channels} channels)")
        values = np.asarray(values, dtype=np.float32)
        expected = (n, n_channels, len(comps)) if comps else (n, n_channels)
        if values.shape != expected:
            shape = "(frames, channels, components)" if comps else "(frames, channels)"
            raise FormatError(
                f"{where}: values have shape {values.shape}, expected {expected} {shape}; "
                f"the stream declares {n_channels} channels"
                + (f" with components {list(comps)}" if comps else "")
            )
        if np.isinf(values).any():
            raise FormatError(f"{where}: values hold infinite numbers")
        return values

    @staticmethod
    def _flags(where: str, values: np.ndarray | None, flags: np.ndarray | None,
               n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.uint8)
        if flags is not None:
            flags = np.asarray(flags)
            if flags.shape != (n,):
                raise FormatError(f"{where}: flags have shape {flags.shape}, expected ({n},)")
            if flags.size and (flags.min() < 0 or flags.max() > int(Flag.MISSING | Flag.FLAGGED)):
                raise FormatError(f"{where}: flags hold bits other than MISSING (1) and FLAGGED (2)")
            out |= flags.astype(np.uint8)
        if values is not None and n:
            all_nan = np.isnan(values.reshape(n, -1)).all(axis=1)
            out[all_nan] |= np.uint8(Flag.MISSING)
        return out

    @staticmethod
    def _check_range(spec: StreamSpec, where: str, values: np.ndarray | None) -> None:
        bounds = get_family(spec.family).value_range
        if bounds is None or values is None or not np.isfinite(values).any():
            return
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        if lo < bounds[0] - RANGE_TOLERANCE or hi > bounds[1] + RANGE_TOLERANCE:
            raise FormatError(
                f"{where}: {spec.family} must lie in [{bounds[0]}, {bounds[1]}], "
                f"got values from {lo:.6g} to {hi:.6g}"
            )

    @staticmethod
    def _timestamps(where: str, timestamp_ns: np.ndarray | None, n: int) -> pa.Array:
        if timestamp_ns is None:
            return pa.nulls(n, type=pa.int64())
        ts = np.asarray(timestamp_ns)
        if ts.shape != (n,) or not np.issubdtype(ts.dtype, np.integer):
            raise FormatError(
                f"{where}: timestamp_ns must be ({n},) integers (ns since the epoch), "
                f"got shape {ts.shape} of {ts.dtype}"
            )
        return numpy_column(ts.astype(np.int64), pa.int64())

    @staticmethod
    def _aux_columns(spec: StreamSpec, where: str, aux: Mapping[str, np.ndarray],
                     n: int) -> list[pa.Array]:
        missing = sorted(set(spec.aux) - set(aux))
        extra = sorted(set(aux) - set(spec.aux))
        if missing or extra:
            raise FormatError(
                f"{where}: aux columns do not match the stream declaration "
                f"(missing: {missing or 'none'}, undeclared: {extra or 'none'})"
            )
        out = []
        for name, kind in spec.aux.items():
            col = np.asarray(aux[name])
            if col.shape != (n,):
                raise FormatError(f"{where}: aux column {name!r} has shape {col.shape}, expected ({n},)")
            arrow_type = stream_schema(spec).field(name).type
            if col.dtype == NUMPY_DTYPE.get(arrow_type):
                out.append(numpy_column(col, arrow_type))
            else:  # strings, booleans, a cast: pyarrow converts (and refuses what it can't)
                out.append(pa.array(col.tolist() if kind == "string" else col,
                                    type=arrow_type))
        return out

    def _merge_sequence(self, sequence: SequenceInfo) -> None:
        have = self._sequences.get(sequence.id)
        if have is None:
            self._sequences[sequence.id] = sequence.model_copy(deep=True)
            return
        if have.subject_id != sequence.subject_id:
            raise FormatError(
                f"sequence {sequence.id!r} is written for subject {sequence.subject_id!r} "
                f"but was already written for subject {have.subject_id!r}"
            )
        have.extra.update(sequence.extra)

    @staticmethod
    def _verify_shard(tmp: Path, stream: str, seq_ids: list[str], counts: list[int]) -> None:
        meta = pq.ParquetFile(tmp).metadata
        if meta.num_row_groups != len(seq_ids) or meta.num_rows != sum(counts):
            raise FormatError(
                f"shard for stream {stream!r} came out with {meta.num_row_groups} row groups and "
                f"{meta.num_rows} rows, expected {len(seq_ids)} and {sum(counts)}"
            )


def _creation_interrupted(root: Path) -> bool:
    """A folder a killed `create_or_open` left: the writer's lock file is there (only
    musclekit makes it), the metadata is not, and nothing in meta/ but temporary files."""
    meta = root / layout.INFO_PATH
    lock = root / layout.LOCK_PATH
    if meta.exists() or not lock.is_file():
        return False
    return all(p.name.startswith(".") for p in lock.parent.iterdir())


def _layout_difference(have: StreamSpec, new: StreamSpec) -> str:
    """Only what differs between two layouts of one stream, old value then new."""
    parts = []
    for key in ("family", "rate_hz", "channels", "units", "clock", "aux"):
        old_value, new_value = getattr(have, key), getattr(new, key)
        if old_value == new_value:
            continue
        if key == "channels":
            gone = [c for c in old_value if c not in new_value]
            added = [c for c in new_value if c not in old_value]
            parts.append(f"channels {', '.join(old_value)} in the dataset, "
                         f"{', '.join(new_value)} now" + (
                             f" (not in the dataset: {', '.join(added)}; missing now: "
                             f"{', '.join(gone)})" if gone or added else " (another order)"))
        else:
            parts.append(f"{key} {old_value!r} in the dataset, {new_value!r} now")
    return "; ".join(parts) or "the stream declarations differ"


def _temp_folders(root: Path) -> list[Path]:
    """Where temporary files of the writer can be: meta/, meta/units/, each stream's and each
    table's folder, and the stages' QC folders (qc/<stage>/)."""
    folders = [root / "meta", root / layout.UNITS_DIR]
    for top in (root / layout.DATA_DIR, root / layout.TABLES_DIR, root / "qc"):
        if top.is_dir():
            folders += [p for p in top.iterdir() if p.is_dir()]
    return folders


def _gap_intervals(time_s: np.ndarray, missing: np.ndarray) -> list[tuple[float, float]]:
    """[start_s, end_s] of each run of MISSING frames (inclusive frame times)."""
    if not missing.any():
        return []
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(float(time_s[s]), float(time_s[e])) for s, e in zip(starts, ends, strict=True)]
