"""Reading a musclekit dataset: typed metadata, lazy polars scans, pandas, numpy per sequence.

Only shards named by completion records are read: files a killed writer left behind
(temporary names, shards without a record) are invisible here and reported by `validate`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from musclekit.dataset import layout
from musclekit.dataset.columns import numpy_values, stream_schema
from musclekit.dataset.metadata import (
    FORMAT_MAJOR,
    FORMAT_VERSION,
    DatasetInfo,
    SequenceInfo,
    SequenceStreamRecord,
    ShardRecord,
    StreamSpec,
    SubjectInfo,
    UnitRecord,
    pydantic_message,
    warn_unknown_keys,
)
from musclekit.errors import FormatError, FormatVersionError


def _read_json(file: Path, what: str) -> dict:
    try:
        text = file.read_text()
    except OSError as err:
        raise FormatError(f"cannot read {what} {file}: {err.strerror}") from err
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormatError(
            f"{what} {file} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            "it may have been damaged; restore it or rerun the stage that wrote it"
        ) from err
    if not isinstance(payload, dict):
        raise FormatError(f"{what} {file} must hold a JSON object, found {type(payload).__name__}")
    return payload


def check_format_version(version: object, where: str) -> None:
    """Refuse another major version, saying what to do instead.

    Format 1.0 is the first musclekit dataset format and no converter exists: an older
    major was never written by musclekit, a newer one needs a newer musclekit.
    """
    if not isinstance(version, str) or "." not in version:
        raise FormatError(f"{where}: format_version is missing or malformed ({version!r})")
    major = version.split(".", 1)[0]
    if not major.isdigit():
        raise FormatError(f"{where}: format_version {version!r} is malformed")
    if int(major) > FORMAT_MAJOR:
        raise FormatVersionError(
            f"{where}: dataset format {version}, newer than this musclekit reads "
            f"({FORMAT_VERSION}); upgrade with `pip install -U musclekit`"
        )
    if int(major) < FORMAT_MAJOR:
        raise FormatVersionError(
            f"{where}: dataset format {version}, but no musclekit ever wrote it "
            f"(format {FORMAT_MAJOR}.0 is the first, and there is nothing to convert from); "
            "rerun the stage that made this dataset with this musclekit into a new --out folder, "
            "or, if another program wrote it, write it again with musclekit.dataset.DatasetWriter"
        )


def load_info(root: Path) -> DatasetInfo:
    info_file = root / layout.INFO_PATH
    if not root.exists():
        raise FormatError(f"{root} does not exist: give the folder of a musclekit dataset (a "
                          "stage's --out; `musclekit config show` prints the default one)")
    if not root.is_dir() or not info_file.exists():
        raise FormatError(
            f"{root} is not a musclekit dataset: {layout.INFO_PATH} is missing "
            "(a dataset is the folder a musclekit stage wrote with --out)"
        )
    payload = _read_json(info_file, "dataset metadata")
    check_format_version(payload.get("format_version"), str(info_file))
    try:
        info = DatasetInfo.model_validate(payload)
    except ValidationError as err:
        raise FormatError(f"dataset metadata {info_file} is invalid: {pydantic_message(err)}") from err
    warn_unknown_keys(info, layout.INFO_PATH)
    return info


def load_unit_records(root: Path) -> list[UnitRecord]:
    units_dir = root / layout.UNITS_DIR
    records = []
    if not units_dir.is_dir():
        return records
    for file in sorted(units_dir.glob("*.json")):
        if file.name.startswith(layout.TMP_PREFIX):
            continue
        payload = _read_json(file, "completion record")
        check_format_version(payload.get("format_version"), str(file))
        try:
            record = UnitRecord.model_validate(payload)
        except ValidationError as err:
            raise FormatError(f"completion record {file} is invalid: {pydantic_message(err)}") from err
        warn_unknown_keys(record, f"{layout.UNITS_DIR}/{file.name}")
        records.append(record)
    return records


@dataclass
class SequenceArray:
    """One sequence of one stream as numpy arrays.

    time_s: (T,) float64; values: (T, C) or (T, C, K) float32 with NaN where missing (a
    channel-major view: use np.ascontiguousarray where row-major memory matters);
    flags: (T,) uint8 Flag bits; timestamp_ns: (T,) int64 or None; aux: name -> (T,) array.
    """

    stream: str
    sequence_id: str
    channels: list[str]
    components: tuple[str, ...]
    units: list[str]
    time_s: np.ndarray
    values: np.ndarray
    flags: np.ndarray
    timestamp_ns: np.ndarray | None
    aux: dict[str, np.ndarray]


@dataclass(frozen=True)
class _Location:
    shard: ShardRecord
    row_group: int


class Dataset:
    """A musclekit dataset opened for reading (see docs/format.md)."""

    def __init__(self, root: Path, info: DatasetInfo, records: list[UnitRecord]) -> None:
        self.root = root
        self.info = info
        self.records = records
        self._locations: dict[tuple[str, str], _Location] = {}
        self._seq_stream: dict[tuple[str, str], SequenceStreamRecord] = {}
        owner: dict[tuple[str, str], str] = {}
        for record in records:
            for shard in record.shards:
                if shard.stream not in info.streams:
                    raise FormatError(
                        f"completion record of unit {record.unit_id!r} names stream "
                        f"{shard.stream!r}, which meta/info.json does not declare"
                    )
                for i, seq_id in enumerate(shard.sequences):
                    key = (seq_id, shard.stream)
                    if key in owner:
                        raise FormatError(
                            f"duplicate sequence id {seq_id!r} in stream {shard.stream!r}: "
                            f"written by units {owner[key]!r} and {record.unit_id!r}; keep "
                            f"one: `musclekit remove {root} --unit {record.unit_id}` (or "
                            f"--unit {owner[key]})"
                        )
                    owner[key] = record.unit_id
                    self._locations[key] = _Location(shard, i)
            for item in record.sequence_streams:
                self._seq_stream[(item.sequence_id, item.stream)] = item

    # -- metadata --------------------------------------------------------------------
    @property
    def streams(self) -> dict[str, StreamSpec]:
        return self.info.streams

    @cached_property
    def sequences(self) -> dict[str, SequenceInfo]:
        """Every sequence, in the order units finished; `extra` merged across units."""
        out: dict[str, SequenceInfo] = {}
        for record in sorted(self.records, key=lambda r: (r.finished_utc, r.unit_id)):
            for seq in record.sequences:
                have = out.get(seq.id)
                if have is None:
                    out[seq.id] = seq.model_copy(deep=True)
                else:
                    have.extra.update(seq.extra)
        return out

    @cached_property
    def subjects(self) -> dict[str, SubjectInfo]:
        out = dict(self.info.subjects)
        for record in self.records:
            for subject in record.subjects:
                out[subject.id] = subject
        return out

    def sequence_ids(self, stream: str) -> list[str]:
        """Sequences that have rows in `stream`."""
        self._stream(stream)
        return [seq for (seq, s) in self._locations if s == stream]

    def sequence_stream(self, sequence_id: str, stream: str) -> SequenceStreamRecord:
        key = (sequence_id, stream)
        if key not in self._seq_stream:
            raise FormatError(f"sequence {sequence_id!r} has no stream {stream!r} in {self.root}")
        return self._seq_stream[key]

    def value_columns(self, stream: str) -> list[str]:
        return self._stream(stream).value_columns()

    def shard_files(self, stream: str) -> list[Path]:
        self._stream(stream)
        paths = []
        for record in self.records:
            for shard in record.shards:
                if shard.stream == stream:
                    paths.append(self._checked_path(shard))
        return paths

    def _stream(self, stream: str) -> StreamSpec:
        if stream not in self.info.streams:
            known = ", ".join(sorted(self.info.streams)) or "none"
            raise FormatError(f"{self.root} has no stream {stream!r} (streams: {known})")
        return self.info.streams[stream]

    def _checked_path(self, shard: ShardRecord) -> Path:
        path = self.root / shard.path
        if not path.exists():
            raise FormatError(f"shard {path} named by a completion record is missing; "
                              "rerun the stage that wrote it")
        size = path.stat().st_size
        if size != shard.n_bytes:
            raise FormatError(
                f"shard {path} is truncated or was changed ({size} bytes, record says "
                f"{shard.n_bytes}); run `musclekit validate {self.root}` and rerun the stage"
            )
        return path

    def unit_of(self, path: Path) -> str | None:
        """The unit whose completion record names shard `path`."""
        for record in self.records:
            for shard in record.shards:
                if (self.root / shard.path).resolve() == Path(path).resolve():
                    return record.unit_id
        return None

    def corrupted_shard_error(self, path: Path, err: BaseException) -> FormatError:
        """The error a reader raises for a shard whose bytes do not decode."""
        unit = self.unit_of(path)
        detail = " ".join(str(err).split())[:160]
        redo = (f"rerun the stage that wrote unit {unit!r}: it redoes units whose files fail "
                "their checksum" if unit else "rerun the stage that wrote it")
        return FormatError(
            f"shard {path} is corrupted: it has the recorded size but its bytes do not decode "
            f"({type(err).__name__}: {detail}); run `musclekit validate {self.root}` to list "
            f"every damaged shard, then {redo}")

    def check_readable(self, stream: str, err: BaseException) -> FormatError:
        """After reading `stream` failed with `err`: the corrupted shard's error (found by
        reading each shard on its own), else a general one."""
        for file in self.shard_files(stream):
            try:
                pq.read_table(file)
            except (pa.ArrowException, OSError) as bad:
                return self.corrupted_shard_error(file, bad)
        return FormatError(f"cannot read stream {stream!r} of {self.root} "
                           f"({type(err).__name__}: {' '.join(str(err).split())[:160]}); "
                           f"run `musclekit validate {self.root}`")

    # -- data ------------------------------------------------------------------------
    def scan(self, stream: str) -> pl.LazyFrame:
        """A lazy polars frame over every shard of `stream` (filter and select before collect)."""
        spec = self._stream(stream)
        files = self.shard_files(stream)
        if not files:
            return pl.from_arrow(stream_schema(spec).empty_table()).lazy()
        return pl.scan_parquet([str(f) for f in files])

    def to_pandas(self, stream: str, sequences: list[str] | None = None,
                  channels: list[str] | None = None):
        """Rows of `stream` as a pandas DataFrame, optionally for some sequences and channels."""
        spec = self._stream(stream)
        frame = self.scan(stream)
        if sequences is not None:
            frame = frame.filter(pl.col("sequence_id").cast(pl.String).is_in(list(sequences)))
        if channels is not None:
            frame = frame.select(self._base_columns(spec) + self._channel_columns(spec, channels))
        try:
            return frame.collect().to_pandas()
        except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as err:
            raise self.check_readable(stream, err) from err

    def sequence_array(self, stream: str, sequence_id: str,
                       channels: list[str] | None = None) -> SequenceArray:
        """One sequence of one stream as numpy arrays (reads a single row group)."""
        spec = self._stream(stream)
        loc = self._locations.get((sequence_id, stream))
        if loc is None:
            raise FormatError(f"sequence {sequence_id!r} has no stream {stream!r} in {self.root}")
        chans = list(spec.channels) if channels is None else list(channels)
        value_cols = self._channel_columns(spec, chans)
        wanted = ["time_s", "timestamp_ns", "flag", *spec.aux, *value_cols]
        path = self._checked_path(loc.shard)
        try:
            table = pq.ParquetFile(path).read_row_group(loc.row_group, columns=wanted)
        except (pa.ArrowException, OSError) as err:
            raise self.corrupted_shard_error(path, err) from err
        n = table.num_rows
        comps = spec.components
        if value_cols:
            # Parquet is columnar: stacking columns channel-major is a plain copy per column,
            # and the (T, C[, K]) result is a transposed view of it. Scattering each column
            # into a row-major array instead costs ten times as much on wide streams.
            # numpy_values, not to_numpy: pyarrow's conversion imports pandas (~0.3 s CPU).
            by_column = np.stack([numpy_values(table.column(name))
                                  for name in value_cols]).astype(np.float32, copy=False)
            if comps:
                values = by_column.reshape(len(chans), len(comps), n).transpose(2, 0, 1)
            else:
                values = by_column.T
        else:
            values = np.empty((n, 0), dtype=np.float32)
        ts = table.column("timestamp_ns")
        units = [spec.units[spec.channels.index(c)] for c in chans]
        return SequenceArray(
            stream=stream, sequence_id=sequence_id, channels=chans, components=comps, units=units,
            time_s=numpy_values(table.column("time_s")),
            values=values,
            flags=numpy_values(table.column("flag")).astype(np.uint8),
            timestamp_ns=None if ts.null_count == n else numpy_values(ts),
            aux={name: numpy_values(table.column(name)) for name in spec.aux},
        )

    def read_table(self, name: str) -> pl.DataFrame:
        """A per-unit table (e.g. `chunks`) concatenated over every finished unit."""
        files = [self.root / t.path for r in self.records for t in r.tables if t.name == name]
        if not files:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")

    @staticmethod
    def _base_columns(spec: StreamSpec) -> list[str]:
        return ["sequence_id", "subject_id", "frame", "time_s", "timestamp_ns", "flag", *spec.aux]

    @staticmethod
    def _channel_columns(spec: StreamSpec, channels: list[str]) -> list[str]:
        unknown = [c for c in channels if c not in spec.channels]
        if unknown:
            raise FormatError(
                f"stream {spec.name!r} has no channels {unknown}; it has {len(spec.channels)}: "
                + ", ".join(spec.channels[:12]) + (" ..." if len(spec.channels) > 12 else "")
            )
        comps = spec.components
        return list(channels) if not comps else [f"{c}.{k}" for c in channels for k in comps]

    def __repr__(self) -> str:
        return (f"Dataset({str(self.root)!r}, streams={list(self.info.streams)}, "
                f"sequences={len(self.sequences)})")


def open_dataset(path: str | Path) -> Dataset:
    """Open a dataset for reading; bad or incompatible datasets raise FormatError."""
    root = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        info = load_info(root)
        records = load_unit_records(root)
    return Dataset(root, info, records)
