"""Typed metadata of a musclekit dataset (format version 1).

`meta/info.json` holds a `DatasetInfo`; every finished unit of work leaves a `UnitRecord`
in `meta/units/`. Both are pydantic models: unknown keys are kept and reported with a
warning (a newer minor version may add keys), a missing or mistyped key is an error.
The JSON Schemas in `schemas/` are generated from these models (see `schema_files`).
"""

from __future__ import annotations

import platform
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from musclekit._version import __version__
from musclekit.dataset.families import get_family

FORMAT_VERSION = "1.0"
FORMAT_MAJOR = 1

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
STREAM_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
AuxType = Literal["int64", "int32", "float64", "float32", "bool", "string"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    def unknown_keys(self, where: str) -> list[str]:
        """Dotted names of keys this version does not know, here and in nested models."""
        found = [f"{where}.{key}" for key in (self.model_extra or {})]
        for name in type(self).model_fields:
            value = getattr(self, name)
            items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if isinstance(item, _Model):
                    found += item.unknown_keys(f"{where}.{name}[{i}]")
        return found


class StreamSpec(_Model):
    """One stream: a family of signals sampled on its own clock.

    rate_hz is the nominal rate (None for irregular streams); measured times are kept per row.
    units: one unit for all channels, or one per channel; None means the family default.
    aux: extra per-frame columns and their types (e.g. the source video frame index).
    """

    name: str = Field(pattern=STREAM_NAME_PATTERN)
    family: str
    rate_hz: float | None = Field(default=None, gt=0)
    channels: list[str] = Field(default_factory=list)
    units: list[str] | str | None = None
    clock: str = "default"
    aux: dict[str, AuxType] = Field(default_factory=dict)
    description: str = ""

    @model_validator(mode="after")
    def _check_against_family(self) -> StreamSpec:
        family = get_family(self.family)
        if len(set(self.channels)) != len(self.channels):
            dupes = sorted({c for c in self.channels if self.channels.count(c) > 1})
            raise ValueError(f"stream {self.name!r} repeats channel names: {dupes}")
        if family.max_channels is not None and len(self.channels) > family.max_channels:
            raise ValueError(
                f"stream {self.name!r}: family {self.family!r} takes at most "
                f"{family.max_channels} channels, got {len(self.channels)}"
            )
        if family.max_channels != 0 and not self.channels:
            raise ValueError(f"stream {self.name!r} declares no channels")
        units = self.units
        if units is None:
            if family.default_unit is None and self.channels:
                raise ValueError(
                    f"stream {self.name!r}: family {self.family!r} has no default unit; "
                    f"declare units per channel (allowed: {list(family.allowed_units or [])})"
                )
            units = [family.default_unit] * len(self.channels)
        elif isinstance(units, str):
            units = [units] * len(self.channels)
        if len(units) != len(self.channels):
            raise ValueError(
                f"stream {self.name!r} has {len(self.channels)} channels but {len(units)} units"
            )
        if family.allowed_units is not None:
            bad = sorted({u for u in units if u not in family.allowed_units})
            if bad:
                raise ValueError(
                    f"stream {self.name!r}: units {bad} are not allowed for family "
                    f"{self.family!r} (allowed: {list(family.allowed_units)})"
                )
        for col in self.aux:
            if col in RESERVED_COLUMNS:
                raise ValueError(f"stream {self.name!r}: aux column {col!r} is a reserved name")
        # Normalised form: always one unit per channel, so readers never need the family.
        object.__setattr__(self, "units", list(units))
        return self

    @property
    def components(self) -> tuple[str, ...]:
        return get_family(self.family).components

    def value_columns(self) -> list[str]:
        """Parquet column names of the values, channel-major."""
        comps = self.components
        if not comps:
            return list(self.channels)
        return [f"{ch}.{c}" for ch in self.channels for c in comps]

    def same_layout(self, other: StreamSpec) -> bool:
        keys = ("family", "rate_hz", "channels", "units", "clock", "aux")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


RESERVED_COLUMNS = ("sequence_id", "subject_id", "frame", "time_s", "timestamp_ns", "flag")


class SubjectInfo(_Model):
    id: str = Field(pattern=NAME_PATTERN)
    sex: Literal["F", "M", "U"] | None = None
    mass_kg: float | None = Field(default=None, gt=0)
    height_m: float | None = Field(default=None, gt=0)
    extra: dict[str, Any] = Field(default_factory=dict)


class SequenceInfo(_Model):
    """One recorded or simulated sequence (a trial, a clip, an AMASS file).

    start_time_ns: absolute wall-clock start (UTC, integer ns) when known.
    label: action or exercise label. source: the source dataset or capture name.
    """

    id: str = Field(pattern=NAME_PATTERN)
    subject_id: str = Field(pattern=NAME_PATTERN)
    source: str = ""
    label: str | None = None
    start_time_ns: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class InputFile(_Model):
    name: str
    sha256: str | None = None
    size_bytes: int | None = None


class Provenance(_Model):
    """Who made a unit of work, with what configuration, from which inputs."""

    stage: str
    package_version: str = __version__
    python: str = Field(default_factory=platform.python_version)
    created_utc: str = Field(default_factory=utc_now)
    config: dict[str, Any] = Field(default_factory=dict)
    inputs: list[InputFile] = Field(default_factory=list)

    @classmethod
    def for_stage(cls, stage: str, config: dict[str, Any] | None = None,
                  inputs: list[str | Path] | None = None) -> Provenance:
        """Provenance of a stage run; files among `inputs` get their SHA-256 and size."""
        from musclekit.dataset.atomic import file_sha256

        records = []
        for item in inputs or []:
            path = Path(item)
            if path.is_file():
                records.append(InputFile(name=path.name, sha256=file_sha256(path),
                                         size_bytes=path.stat().st_size))
            else:
                records.append(InputFile(name=str(item)))
        return cls(stage=stage, config=_jsonable(config or {}), inputs=records)


def _jsonable(value: Any) -> Any:
    """Configs may hold paths, tuples and numpy scalars; store them as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump())
    return value


class DatasetInfo(_Model):
    """`meta/info.json`: what every shard of the dataset must follow."""

    format_version: str = FORMAT_VERSION
    name: str
    description: str = ""
    created_utc: str = Field(default_factory=utc_now)
    created_by: str = f"musclekit {__version__}"
    streams: dict[str, StreamSpec] = Field(default_factory=dict)
    subjects: dict[str, SubjectInfo] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("format_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+", value):
            raise ValueError(f"format_version must look like '1.0', got {value!r}")
        return value

    @model_validator(mode="after")
    def _names_match_keys(self) -> DatasetInfo:
        for key, spec in self.streams.items():
            if key != spec.name:
                raise ValueError(f"stream listed as {key!r} is named {spec.name!r}")
        return self


class ShardRecord(_Model):
    stream: str
    path: str  # relative to the dataset root
    sha256: str
    n_rows: int = Field(ge=0)
    n_bytes: int = Field(ge=0)
    sequences: list[str]  # row group i holds sequences[i]


class SequenceStreamRecord(_Model):
    """What one (sequence, stream) pair holds, computed by the writer."""

    sequence_id: str
    stream: str
    n_frames: int = Field(ge=0)
    n_missing: int = Field(ge=0)
    duration_s: float = Field(ge=0)
    gaps: list[tuple[float, float]] = Field(default_factory=list)  # [start_s, end_s] of MISSING runs


class TableRecord(_Model):
    name: str = Field(pattern=STREAM_NAME_PATTERN)
    path: str
    sha256: str
    n_rows: int = Field(ge=0)
    n_bytes: int = Field(ge=0)


class UnitRecord(_Model):
    """`meta/units/<unit_id>.json`: written last, after the unit's shards are safely in place."""

    unit_id: str = Field(pattern=NAME_PATTERN)
    format_version: str = FORMAT_VERSION
    finished_utc: str = Field(default_factory=utc_now)
    provenance: Provenance
    shards: list[ShardRecord] = Field(default_factory=list)
    tables: list[TableRecord] = Field(default_factory=list)
    sequences: list[SequenceInfo] = Field(default_factory=list)
    sequence_streams: list[SequenceStreamRecord] = Field(default_factory=list)
    subjects: list[SubjectInfo] = Field(default_factory=list)


def warn_unknown_keys(model: _Model, where: str) -> list[str]:
    """Warn once about keys a newer writer may have added; returns them."""
    keys = model.unknown_keys(where)
    if keys:
        warnings.warn(
            f"{where}: ignoring keys unknown to format {FORMAT_VERSION}: {', '.join(keys)}",
            UserWarning,
            stacklevel=3,
        )
    return keys


def schema_files() -> dict[str, dict]:
    """The JSON Schemas that `schemas/` must hold, generated from the models."""
    return {
        "dataset-info-v1.schema.json": DatasetInfo.model_json_schema(),
        "unit-record-v1.schema.json": UnitRecord.model_json_schema(),
    }


if __name__ == "__main__":  # regenerate schemas/*.json after changing the models
    import json as _json
    from importlib.resources import files as _files

    for _name, _schema in schema_files().items():
        _target = Path(str(_files("musclekit.schemas").joinpath(_name)))
        _target.write_text(_json.dumps(_schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {_target}")


def pydantic_message(err: ValidationError) -> str:
    """A one-line summary of a pydantic error: `field.path: message; ...`."""
    parts = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = item["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)
