"""Conversion of datasets between format versions (`musclekit convert`).

Format 1 is the first published version, so the only conversions today are within major
version 1 (an older minor version is rewritten with the current minor number). Each future
major version adds one step function here, from the previous major.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from musclekit.dataset import layout
from musclekit.dataset.atomic import write_json_atomic
from musclekit.dataset.metadata import FORMAT_MAJOR, FORMAT_VERSION
from musclekit.errors import FormatError, InputError


def convert_dataset(source: Path, target: Path) -> None:
    info_file = source / layout.INFO_PATH
    if not info_file.exists():
        raise InputError(f"{source} is not a musclekit dataset ({layout.INFO_PATH} is missing)")
    if target.exists():
        raise InputError(f"{target} already exists; choose a new folder for the converted dataset")
    try:
        version = str(json.loads(info_file.read_text()).get("format_version", ""))
    except json.JSONDecodeError as err:
        raise FormatError(f"{info_file} is not valid JSON: {err}") from err
    major = version.split(".", 1)[0]
    if major != str(FORMAT_MAJOR):
        raise FormatError(
            f"no converter from dataset format {version!r} to {FORMAT_VERSION} in this musclekit; "
            f"format {FORMAT_MAJOR} is the oldest published version"
            + (" and this dataset is newer: upgrade musclekit" if major.isdigit()
               and int(major) > FORMAT_MAJOR else "")
        )
    tmp = target.with_name(f"{layout.TMP_PREFIX}{target.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(f"{layout.TMP_PREFIX}*"))
    for meta in [tmp / layout.INFO_PATH, *sorted((tmp / layout.UNITS_DIR).glob("*.json"))]:
        payload = json.loads(meta.read_text())
        payload["format_version"] = FORMAT_VERSION
        write_json_atomic(meta, payload)
    tmp.rename(target)
