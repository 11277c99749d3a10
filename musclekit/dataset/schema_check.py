"""Validation of metadata JSON against the machine-readable schemas in `schemas/`."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema

from musclekit.errors import FormatError


@cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads(files("musclekit.schemas").joinpath(name).read_text())


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validate_against_schema(payload: Any, schema_name: str, where: str) -> None:
    """Raise FormatError naming the first offending field when `payload` breaks the schema."""
    errors = sorted(_validator(schema_name).iter_errors(payload), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        loc = ".".join(str(p) for p in first.path) or "(top level)"
        raise FormatError(f"{where}: {loc}: {first.message} (schema {schema_name})")
