"""The versioned musclekit dataset format (docs/format.md).

A dataset is a folder: typed metadata in `meta/`, Parquet shards in `data/<stream>/`,
one row per frame, one row group per sequence, and a completion record per unit of work.
"""

from musclekit.dataset.atomic import file_sha256
from musclekit.dataset.columns import Flag, stream_schema
from musclekit.dataset.families import Family, families, get_family
from musclekit.dataset.metadata import (
    FORMAT_VERSION,
    DatasetInfo,
    Provenance,
    SequenceInfo,
    StreamSpec,
    SubjectInfo,
    UnitRecord,
)
from musclekit.dataset.reader import Dataset, SequenceArray, open_dataset
from musclekit.dataset.writer import DatasetWriter, UnitWriter

__all__ = [
    "FORMAT_VERSION",
    "Dataset",
    "DatasetInfo",
    "DatasetWriter",
    "Family",
    "Flag",
    "Provenance",
    "SequenceArray",
    "SequenceInfo",
    "StreamSpec",
    "SubjectInfo",
    "UnitRecord",
    "UnitWriter",
    "families",
    "file_sha256",
    "get_family",
    "open_dataset",
    "stream_schema",
]
