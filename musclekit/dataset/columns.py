"""The Parquet schema of a stream's shards and the conversion of arrays to Arrow columns."""

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


def values_to_columns(values: np.ndarray) -> list[pa.Array]:
    """(T, C) or (T, C, K) floats -> one float32 Arrow array per value column, NaN as null."""
    flat = values.reshape(values.shape[0], -1).astype(np.float32, copy=False)
    any_nan = np.isnan(flat).any(axis=0)
    out = []
    for j in range(flat.shape[1]):
        # pa.array copies the strided column once; a transposed copy first would double that.
        col = flat[:, j]
        out.append(pa.array(col, mask=np.isnan(col) if any_nan[j] else None, type=VALUE_TYPE))
    return out


def dictionary_constant(value: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], type=pa.string())
    )
