"""Where each file of a dataset lives (relative to the dataset root)."""

from __future__ import annotations

INFO_PATH = "meta/info.json"
UNITS_DIR = "meta/units"
LOCK_PATH = "meta/.lock"
DATA_DIR = "data"
TABLES_DIR = "tables"
TMP_PREFIX = ".tmp-"


def unit_record_path(unit_id: str) -> str:
    return f"{UNITS_DIR}/{unit_id}.json"


def shard_path(stream: str, unit_id: str) -> str:
    return f"{DATA_DIR}/{stream}/{unit_id}.parquet"


def table_path(table: str, unit_id: str) -> str:
    return f"{TABLES_DIR}/{table}/{unit_id}.parquet"
