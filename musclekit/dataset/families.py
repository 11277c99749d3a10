"""The signal families a stream can belong to, loaded from `schemas/families-v1.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class Family:
    """What a family fixes for every stream of it.

    components: per-channel vector components (empty for scalar channels); each becomes its
        own Parquet column named ``f"{channel}.{component}"``.
    default_unit: unit used when a stream declares none (None: the stream must declare units).
    allowed_units: units a stream may declare (None: any).
    value_range: closed physical bounds checked at write time, or None.
    max_channels: upper bound on the number of channels (None: unbounded).
    """

    name: str
    description: str
    components: tuple[str, ...]
    default_unit: str | None
    allowed_units: tuple[str, ...] | None
    value_range: tuple[float, float] | None
    max_channels: int | None


@cache
def families() -> dict[str, Family]:
    """All families of format version 1, by name."""
    raw = json.loads(files("musclekit.schemas").joinpath("families-v1.json").read_text())
    out = {}
    for name, spec in raw["families"].items():
        allowed = spec.get("allowed_units")
        value_range = spec.get("range")
        out[name] = Family(
            name=name,
            description=spec["description"],
            components=tuple(spec.get("components", [])),
            default_unit=spec.get("default_unit"),
            allowed_units=None if allowed is None else tuple(allowed),
            value_range=None if value_range is None else (float(value_range[0]), float(value_range[1])),
            max_channels=spec.get("max_channels"),
        )
    return out


def get_family(name: str) -> Family:
    """The family called `name`; unknown names are an error that lists the known ones."""
    known = families()
    if name not in known:
        from musclekit.errors import FormatError

        raise FormatError(
            f"unknown signal family {name!r}; known families: {', '.join(sorted(known))}"
        )
    return known[name]
