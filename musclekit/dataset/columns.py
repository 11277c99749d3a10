"""The Parquet schema of a stream's shards and the conversion of arrays to Arrow columns.

Columns are built from numpy buffers (`numpy_column`), not with `pa.array`: pyarrow's numpy
conversion imports pandas the first time it runs (it asks whether the input is a pandas
Series), ~0.3 s CPU in every process that writes a dataset (`musclekit simulate --until ik`
included) for nothing the writer uses. The Arrow arrays, and so the shards, are the same.
"""

from __future__ import annotations

from enum import IntFlag

import numpy as np
import pyarrow as pa

from musclekit.dataset.metadata import StreamSpec


class Flag(IntFlag):
    """Per-frame quality bits in the `flag` column."""

    OK = 0
    MISSING = 1  # no value at this grid time (dropout, no frame, failed chunk): values are null
    FLAGGED = 2  # a value is present but failed a quality check (e.g. IK error above threshold)


_AUX_TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "bool": pa.bool_(),
    "string": pa.string(),
}

# Values are stored as float32: 7 significant digits are far below any sensor's noise
# (1 um at 10 m, 1e-7 of an activation) and halve the size of float64 shards.
VALUE_TYPE = pa.float32()


def stream_schema(spec: StreamSpec) -> pa.Schema:
    """Arrow schema that every shard of `spec` must have, column for column."""
    fields = [
        pa.field("sequence_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("subject_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("time_s", pa.float64(), nullable=False),
        pa.field("timestamp_ns", pa.int64()),
        pa.field("flag", pa.uint8(), nullable=False),
    ]
    fields += [pa.field(name, _AUX_TYPES[kind]) for name, kind in spec.aux.items()]
    fields += [pa.field(name, VALUE_TYPE) for name in spec.value_columns()]
    return pa.schema(fields, metadata={b"musclekit.stream": spec.name.encode()})


# Fixed-width Arrow types and the numpy dtype of their data buffer.
NUMPY_DTYPE = {
    pa.int64(): np.dtype(np.int64),
    pa.int32(): np.dtype(np.int32),
    pa.uint8(): np.dtype(np.uint8),
    pa.float64(): np.dtype(np.float64),
    pa.float32(): np.dtype(np.float32),
}


def numpy_column(values: np.ndarray, arrow_type: pa.DataType,
                 null: np.ndarray | None = None) -> pa.Array:
    """A 1-D array of numbers `values`, already of `arrow_type`'s numpy dtype, as an Arrow array
    over one contiguous copy of it (NaN stays a value); null where `null` is True. The same
    array `pa.array(values, mask=null, type=arrow_type)` gives, without importing pandas."""
    dtype = NUMPY_DTYPE.get(arrow_type)
    values = np.asarray(values)
    if dtype is None or values.dtype != dtype or values.ndim != 1:
        raise TypeError(f"numpy_column takes a 1-D {dtype or arrow_type} array for Arrow type "
                        f"{arrow_type}, got {values.ndim}-D {values.dtype}")
    data = pa.py_buffer(np.ascontiguousarray(values))
    if null is None or not null.any():
        return pa.Array.from_buffers(arrow_type, len(values), [None, data], null_count=0)
    # Arrow's validity bitmap: bit i (least significant first) set where row i has a value.
    valid = pa.py_buffer(np.packbits(~np.asarray(null, dtype=bool), bitorder="little"))
    return pa.Array.from_buffers(arrow_type, len(values), [valid, data],
                                 null_count=int(np.count_nonzero(null)))


def values_to_columns(values: np.ndarray) -> list[pa.Array]:
    """(T, C) or (T, C, K) floats -> one float32 Arrow array per value column, NaN as null."""
    flat = values.reshape(values.shape[0], -1).astype(np.float32, copy=False)
    any_nan = np.isnan(flat).any(axis=0)
    out = []
    for j in range(flat.shape[1]):
        # One contiguous copy of the strided column; a transposed copy first would double that.
        col = flat[:, j]
        out.append(numpy_column(col, VALUE_TYPE, np.isnan(col) if any_nan[j] else None))
    return out


def dictionary_constant(value: str, n: int) -> pa.DictionaryArray:
    """`n` rows of one string, dictionary-encoded (int32 indices, all 0)."""
    text = value.encode("utf-8")
    dictionary = pa.Array.from_buffers(
        pa.string(), 1, [None, pa.py_buffer(np.array([0, len(text)], dtype=np.int32)),
                         pa.py_buffer(text)], null_count=0)
    return pa.DictionaryArray.from_arrays(
        numpy_column(np.zeros(n, dtype=np.int32), pa.int32()), dictionary)


def numpy_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column read back as numpy, from its buffers for fixed-width numbers (floats: NaN
    where null): what `column.to_numpy(zero_copy_only=False)` gives (a writable copy here),
    without pyarrow's conversion, which imports pandas. Strings, booleans and integers with
    nulls go through that conversion."""
    dtype = NUMPY_DTYPE.get(column.type)
    if dtype is None or (column.null_count and dtype.kind != "f"):
        return column.to_numpy(zero_copy_only=False)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [np.empty(0, dtype=dtype)]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        validity, data = chunk.buffers()[:2]
        start, stop = chunk.offset, chunk.offset + len(chunk)
        values = np.frombuffer(data, dtype=dtype, count=stop)[start:]
        if chunk.null_count:
            valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=stop,
                                  bitorder="little")[start:].astype(bool)
            values = np.where(valid, values, dtype.type(np.nan))
        parts.append(values)
    return np.concatenate(parts)
