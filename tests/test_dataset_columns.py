"""Arrow columns built from numpy buffers (musclekit/dataset/columns.py) are the arrays
`pa.array` gives, so the shards are byte for byte the same, and reading them back gives
what `to_numpy` gives; neither imports pandas (pyarrow's numpy conversion does)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, open_dataset
from musclekit.dataset.columns import (
    NUMPY_DTYPE,
    dictionary_constant,
    numpy_column,
    numpy_values,
    stream_schema,
    values_to_columns,
)
from musclekit.dataset.writer import COMPRESSION, COMPRESSION_LEVEL

ROOT = Path(__file__).resolve().parents[1]


def _parquet_bytes(columns: list[pa.Array]) -> bytes:
    table = pa.table({f"c{i}": c for i, c in enumerate(columns)})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def test_a_written_shard_is_the_shard_pa_array_columns_give(tmp_path) -> None:
    spec = StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=["a", "b"],
                      aux={"video_frame": "int64", "gain": "float32", "ok": "bool",
                           "camera": "string"})
    n = 12
    rng = np.random.default_rng(5)
    t = np.arange(n) / 10.0
    values = rng.random((n, 2))
    values[3, 0] = np.nan
    values[7, :] = np.nan  # a MISSING row
    ts = (1_700_000_000_000_000_000 + np.arange(n) * 100_000_000).astype(np.int64)
    aux = {"video_frame": np.arange(n, dtype=np.int64) * 3,
           "gain": rng.random(n),  # float64 into a float32 column: pyarrow casts
           "ok": rng.random(n) < 0.5, "camera": np.array(["left", "right"] * 6)}
    writer = DatasetWriter.create_or_open(tmp_path / "ds", name="cols", streams=[spec])
    with writer.unit("u0", Provenance.for_stage("test")) as unit:
        unit.write_sequence("emg", SequenceInfo(id="seq0", subject_id="S01"), t, values,
                            timestamp_ns=ts, aux=aux)
    shard = next((tmp_path / "ds" / "data" / "emg").glob("*.parquet"))

    flag = np.zeros(n, dtype=np.uint8)
    flag[7] = 1
    kept = values.astype(np.float32)
    schema = stream_schema(spec)
    reference = pa.Table.from_arrays([
        pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["seq0"])),
        pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["S01"])),
        pa.array(np.arange(n, dtype=np.int32)), pa.array(t), pa.array(ts),
        pa.array(flag, type=pa.uint8()),
        pa.array(aux["video_frame"], type=pa.int64()), pa.array(aux["gain"], type=pa.float32()),
        pa.array(aux["ok"], type=pa.bool_()), pa.array(aux["camera"].tolist(), type=pa.string()),
        *[pa.array(kept[:, j], mask=np.isnan(kept[:, j]), type=pa.float32()) for j in range(2)],
    ], schema=schema)
    with pq.ParquetWriter(tmp_path / "reference.parquet", schema, compression=COMPRESSION,
                          compression_level=COMPRESSION_LEVEL) as pw:
        pw.write_table(reference, row_group_size=n)
    assert shard.read_bytes() == (tmp_path / "reference.parquet").read_bytes()

    back = open_dataset(tmp_path / "ds").sequence_array("emg", "seq0")
    np.testing.assert_array_equal(back.values, kept)
    np.testing.assert_array_equal(back.timestamp_ns, ts)
    np.testing.assert_array_equal(back.aux["camera"], aux["camera"].astype(object))
    assert back.flags.tolist() == flag.tolist()


@pytest.mark.parametrize("arrow_type", list(NUMPY_DTYPE))
@pytest.mark.parametrize("nulls", [False, True])
def test_numpy_column_is_pa_array(arrow_type: pa.DataType, nulls: bool) -> None:
    rng = np.random.default_rng(7)
    values = (rng.normal(size=37) * 100).astype(NUMPY_DTYPE[arrow_type])
    null = rng.random(37) < 0.3 if nulls else None
    mine = numpy_column(values, arrow_type, null)
    theirs = pa.array(values, mask=null, type=arrow_type)
    assert mine.equals(theirs)
    assert mine.null_count == theirs.null_count
    assert _parquet_bytes([mine]) == _parquet_bytes([theirs])


def test_values_keep_nan_as_null_and_strided_columns_as_pa_array() -> None:
    values = np.arange(60, dtype=np.float64).reshape(10, 3, 2) / 7.0
    values[2, 1, 0] = np.nan
    values[5, :, :] = np.nan
    mine = values_to_columns(values)
    flat = values.reshape(10, -1).astype(np.float32)
    theirs = [pa.array(flat[:, j], mask=np.isnan(flat[:, j]) if np.isnan(flat[:, j]).any()
                       else None, type=pa.float32()) for j in range(flat.shape[1])]
    assert [c.null_count for c in mine] == [1, 1, 2, 1, 1, 1]  # channel 1, x: 2 nulls
    assert all(a.equals(b) for a, b in zip(mine, theirs, strict=True))
    assert _parquet_bytes(mine) == _parquet_bytes(theirs)


@pytest.mark.parametrize("value", ["walk_01", "", "ünïcode"])
def test_dictionary_constant_is_pa_dictionary(value: str) -> None:
    mine = dictionary_constant(value, 5)
    theirs = pa.DictionaryArray.from_arrays(pa.array(np.zeros(5, dtype=np.int32)),
                                            pa.array([value], type=pa.string()))
    assert mine.equals(theirs)
    assert mine.to_pylist() == [value] * 5
    assert _parquet_bytes([mine]) == _parquet_bytes([theirs])


def test_numpy_values_is_to_numpy_across_chunks_offsets_and_nulls() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=50).astype(np.float32)
    whole = numpy_column(x, pa.float32(), rng.random(50) < 0.3)
    chunked = pa.chunked_array([whole.slice(3, 20), whole.slice(23), whole.slice(0, 0)])
    cases = [chunked, whole.slice(5, 7), pa.chunked_array([], type=pa.float64()),
             numpy_column(np.arange(9, dtype=np.int64), pa.int64()).slice(2),
             # through pyarrow's own conversion: strings, an integer column with nulls
             pa.chunked_array([pa.array(["a", None, "b"])]),
             pa.array([1, None, 3], type=pa.int64())]
    for column in cases:
        mine, theirs = numpy_values(column), column.to_numpy(zero_copy_only=False)
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
    assert numpy_values(chunked).flags.writeable


def test_numpy_column_refuses_an_array_of_another_dtype() -> None:
    with pytest.raises(TypeError, match="1-D float32 array for Arrow type float, got 1-D float64"):
        numpy_column(np.zeros(3), pa.float32())
    with pytest.raises(TypeError, match="got 2-D"):
        numpy_column(np.zeros((3, 2), dtype=np.int32), pa.int32())


def test_writing_and_reading_a_dataset_does_not_import_pandas(tmp_path) -> None:
    code = f"""
import sys
import numpy as np
from pathlib import Path
from tests.helpers.format_factories import write_emg_dataset
from musclekit.dataset import open_dataset
ds = open_dataset(write_emg_dataset(Path({str(tmp_path / 'ds')!r})))
name = next(iter(ds.streams))
arr = ds.sequence_array(name, ds.sequence_ids(name)[0])
assert arr.values.size and np.isfinite(arr.time_s).all()
print('pandas' in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
