"""Full check of a dataset: metadata, version, every shard's bytes, schema and rows.

`open_dataset` does the cheap checks needed to read safely; `validate_dataset` reads every
shard and reports every finding instead of stopping at the first.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from musclekit.dataset import layout
from musclekit.dataset.atomic import file_sha256
from musclekit.dataset.columns import Flag, stream_schema
from musclekit.dataset.families import get_family
from musclekit.dataset.reader import Dataset, load_info, load_unit_records
from musclekit.dataset.writer import RANGE_TOLERANCE
from musclekit.errors import FormatError


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def validate_dataset(path: str | Path, check_hashes: bool = True) -> list[Finding]:
    """Every problem found in the dataset at `path` (empty list: valid)."""
    root = Path(path)
    findings: list[Finding] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            info = load_info(root)
            records = load_unit_records(root)
            dataset = Dataset(root, info, records)
        except FormatError as err:
            return [Finding("error", str(root), str(err))]
    findings += [Finding("warning", str(root), str(w.message)) for w in caught]

    listed: set[Path] = set()
    for record in records:
        where_unit = f"unit {record.unit_id}"
        for shard in record.shards:
            file = root / shard.path
            listed.add(file.resolve())
            findings += _check_shard(dataset, shard, file, where_unit, check_hashes)
        for table in record.tables:
            file = root / table.path
            listed.add(file.resolve())
            if not file.exists():
                findings.append(Finding("error", where_unit, f"table file {table.path} is missing"))
            elif check_hashes and file_sha256(file) != table.sha256:
                findings.append(Finding("error", where_unit,
                                        f"table file {table.path} does not match its SHA-256"))
        for item in record.sequence_streams:
            if item.sequence_id not in {s.id for s in record.sequences}:
                findings.append(Finding("error", where_unit,
                                        f"sequence {item.sequence_id!r} has rows but no metadata"))
        for seq in record.sequences:
            if seq.subject_id not in dataset.subjects:
                findings.append(Finding("warning", f"sequence {seq.id}",
                                        f"subject {seq.subject_id!r} has no subject metadata"))
    findings += _leftovers(root, listed)
    findings += quality_findings(dataset)
    return findings


def quality_findings(dataset: Dataset) -> list[Finding]:
    """The dataset's quality warnings (musclekit.quality), as findings of level warning."""
    from musclekit.quality import dataset_quality

    try:
        return [Finding("warning", f"quality ({q.kind}): {q.where}", q.message)
                for q in dataset_quality(dataset)]
    except (FormatError, pa.ArrowException, OSError) as err:  # already reported per shard
        return [Finding("warning", "quality", f"quality checks skipped: {err}")]


def _check_shard(dataset: Dataset, shard, file: Path, where_unit: str,
                 check_hashes: bool) -> list[Finding]:
    where = f"{where_unit}, shard {shard.path}"
    out: list[Finding] = []
    if not file.exists():
        return [Finding("error", where, "file is missing")]
    size = file.stat().st_size
    if size != shard.n_bytes:
        return [Finding("error", where, f"file is truncated or changed: {size} bytes, "
                                        f"the completion record says {shard.n_bytes}")]
    if check_hashes and file_sha256(file) != shard.sha256:
        return [Finding("error", where, "content does not match the SHA-256 in its record")]
    try:
        pf = pq.ParquetFile(file)
    except (pa.ArrowInvalid, OSError) as err:
        return [Finding("error", where, f"not a readable Parquet file: {err}")]
    spec = dataset.info.streams[shard.stream]
    expected = stream_schema(spec)
    actual = pf.schema_arrow
    if not actual.remove_metadata().equals(expected.remove_metadata()):
        have, want = set(actual.names), set(expected.names)
        detail = []
        if want - have:
            detail.append(f"missing columns {sorted(want - have)[:8]}")
        if have - want:
            detail.append(f"unexpected columns {sorted(have - want)[:8]}")
        if not detail:
            detail.append(_first_column_difference(actual, expected))
        n_values = len([c for c in actual.names if c not in expected.names[: 6 + len(spec.aux)]])
        out.append(Finding("error", where,
                           f"schema differs from meta/info.json for stream {shard.stream!r} "
                           f"({len(spec.channels)} channels declared, {n_values} value columns "
                           f"found): " + "; ".join(detail)))
        return out
    meta = pf.metadata
    if meta.num_row_groups != len(shard.sequences):
        out.append(Finding("error", where, f"{meta.num_row_groups} row groups for "
                                           f"{len(shard.sequences)} sequences (one each expected)"))
        return out
    family = get_family(spec.family)
    value_cols = spec.value_columns()
    for i, seq_id in enumerate(shard.sequences):
        seq_where = f"{where}, sequence {seq_id!r}"
        try:
            table = pf.read_row_group(i)
        except (pa.ArrowException, OSError) as err:
            out.append(Finding("error", seq_where, "row group does not decode (corrupted "
                                                   f"bytes): {' '.join(str(err).split())[:160]}"))
            break
        ids = table.column("sequence_id").combine_chunks().dictionary_decode().unique().to_pylist()
        if ids != [seq_id]:
            out.append(Finding("error", seq_where, f"row group {i} holds sequences {ids[:4]}"))
        record = dataset.sequence_stream(seq_id, shard.stream)
        if table.num_rows != record.n_frames:
            out.append(Finding("error", seq_where, f"{table.num_rows} rows, record says "
                                                   f"{record.n_frames}"))
        time_s = table.column("time_s").to_numpy()
        if time_s.size > 1 and not np.all(np.diff(time_s) > 0):
            k = int(np.argmax(np.diff(time_s) <= 0)) + 1
            out.append(Finding("error", seq_where,
                               f"timestamps are not monotonic: time_s at frame {k} is "
                               f"{time_s[k]:.6f} s after {time_s[k - 1]:.6f} s"))
        flags = table.column("flag").to_numpy()
        missing = (flags & int(Flag.MISSING)).astype(bool)
        if value_cols and missing.any():
            for name in value_cols:
                col = table.column(name)
                present = pc.is_valid(col).to_numpy(zero_copy_only=False)
                if (present & missing).any():
                    out.append(Finding("error", seq_where,
                                       f"column {name!r} has values on frames flagged MISSING"))
                    break
        if value_cols:
            out += _nan_findings(table, value_cols, missing, family.value_range is not None,
                                 seq_where)
        if family.value_range is not None and value_cols:
            lo, hi = family.value_range
            for name in value_cols:
                mm = pc.min_max(table.column(name)).as_py()
                if mm["min"] is not None and (mm["min"] < lo - RANGE_TOLERANCE
                                              or mm["max"] > hi + RANGE_TOLERANCE):
                    out.append(Finding("error", seq_where,
                                       f"{name!r} leaves [{lo}, {hi}]: {mm['min']:.4g}..{mm['max']:.4g}"))
                    break
    return out


def _first_column_difference(actual: pa.Schema, expected: pa.Schema) -> str:
    """Names the first column whose position or type differs (a shard rewritten by another
    tool): the user must know which column to fix."""
    for i, (have, want) in enumerate(zip(actual, expected, strict=False)):
        if have.name != want.name:
            return (f"column {i} is {have.name!r}, expected {want.name!r} (columns in another "
                    "order; write them in the order of the stream's schema)")
        if not have.type.equals(want.type):
            return (f"column {have.name!r} is {have.type}, expected {want.type} (cast it, or "
                    "rewrite the shard through musclekit.dataset.DatasetWriter)")
    return "column types or order differ"


def _nan_findings(table: pa.Table, value_cols: list[str], missing: np.ndarray,
                  bounded: bool, where: str) -> list[Finding]:
    """A NaN stored as a float (musclekit stores a missing value as null, on a frame flagged
    MISSING), and, for bounded families such as activations, a null on a frame not flagged
    MISSING (in a channel that has values elsewhere): both read as data where there is none."""
    for name in value_cols:
        col = table.column(name)
        nan = pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
        if nan.any():
            k = int(np.argmax(nan))
            return [Finding("error", where, f"column {name!r} holds NaN on {int(nan.sum())} "
                            f"frame(s) (first: frame {k}): musclekit stores a missing value as "
                            "null on a frame flagged MISSING; rewrite the stream with the stage "
                            "that wrote it, or remove it with `musclekit remove DS --stream "
                            "NAME`")]
        if bounded:
            valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
            null = ~valid & ~missing
            # A channel without any value is one the source never had (an importer's
            # missing muscle); a hole in a channel that has values is the error.
            if null.any() and valid.any():
                k = int(np.argmax(null))
                return [Finding("error", where, f"column {name!r} has no value on "
                                f"{int(null.sum())} frame(s) not flagged MISSING (first: frame "
                                f"{k}): flag those frames MISSING when writing, or remove the "
                                "stream with `musclekit remove DS --stream NAME`")]
    return []


def _leftovers(root: Path, listed: set[Path]) -> list[Finding]:
    """Files a killed writer left behind: invisible to readers, but worth knowing about."""
    out = []
    for folder in (root / layout.DATA_DIR, root / layout.TABLES_DIR, root / layout.UNITS_DIR):
        if not folder.is_dir():
            continue
        for file in sorted(folder.rglob("*")):
            if not file.is_file():
                continue
            rel = file.relative_to(root)
            if file.name.startswith(layout.TMP_PREFIX):
                out.append(Finding("warning", str(rel), "temporary file of an unfinished write "
                                                        "(ignored by readers; safe to delete)"))
            elif folder.name != "units" and file.suffix == ".parquet" and file.resolve() not in listed:
                out.append(Finding("warning", str(rel), "shard without a completion record "
                                                        "(ignored; rerun the stage to finish it)"))
    qc = root / "qc"
    if qc.is_dir():
        for file in sorted(qc.rglob(".*")):
            if file.is_file() and (file.name.startswith(layout.TMP_PREFIX)
                                   or ".tmp" in file.name):
                out.append(Finding("warning", str(file.relative_to(root)),
                                   "temporary file of a QC figure or report whose write was "
                                   "killed (rerun the stage to redo it; safe to delete)"))
    return out


def findings_to_json(findings: list[Finding]) -> str:
    return json.dumps([f.__dict__ for f in findings], indent=2)
