"""Interop: a dataset card and per-channel statistics, so that other tools read a musclekit
dataset folder without musclekit.

- `README.md` (a Hugging Face dataset card): YAML front matter with one config per stream,
  each pointing at the stream's Parquet shards (`data/<stream>/*.parquet`), and one per
  per-unit table (`tables/<name>/*.parquet`). `datasets.load_dataset(FOLDER, STREAM)` then
  loads a stream as a `train` split (musclekit's own train/val/test splits are chosen at
  training time, see docs/train.md). A README.md the user wrote (without musclekit's
  marker) is never overwritten.
- `meta/stats.json`: per stream and value column, mean, std, min, max and count over every
  frame with a value, in LeRobot's `stats.json` layout (one entry per feature, lists in the
  stream's column order, plus the column `names`), for normalisation without a pass over
  the data.

Hidden files (a killed writer's `.tmp-*`) are skipped by `datasets`' file resolution.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from musclekit.dataset import layout
from musclekit.dataset.reader import Dataset, open_dataset

MARKER = "<!-- written by musclekit: rewritten by `musclekit card`; remove this line to keep "\
         "your own edits -->"
STATS_PATH = "meta/stats.json"
CARD_PATH = "README.md"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{layout.TMP_PREFIX}{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def stream_stats(ds: Dataset, stream: str) -> dict:
    """LeRobot-style statistics of one stream: lists over its value columns."""
    spec = ds.streams[stream]
    cols = spec.value_columns()
    if not cols or not ds.sequence_ids(stream):
        return {"names": cols, "mean": [], "std": [], "min": [], "max": [], "count": []}
    exprs = []
    for c in cols:
        x = pl.col(c).cast(pl.Float64)
        x = pl.when(x.is_finite()).then(x).otherwise(None)
        exprs += [x.mean().alias(f"{c}|mean"), x.std(ddof=0).alias(f"{c}|std"),
                  x.min().alias(f"{c}|min"), x.max().alias(f"{c}|max"),
                  x.count().alias(f"{c}|count")]
    try:
        row = ds.scan(stream).select(exprs).collect().row(0, named=True)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise ds.check_readable(stream, err) from err

    def values(stat: str) -> list:
        return [row[f"{c}|{stat}"] for c in cols]

    units = list(spec.units or [])
    per_col_units = ([units[i] for i in range(len(spec.channels)) for _ in spec.components]
                     if spec.components else units)
    return {"names": cols, "units": per_col_units, "mean": values("mean"),
            "std": values("std"), "min": values("min"), "max": values("max"),
            "count": values("count")}


def dataset_stats(ds: Dataset) -> dict:
    return {name: stream_stats(ds, name) for name in ds.streams}


def card_text(ds: Dataset) -> str:
    """The README.md dataset card of `ds`."""
    configs = []
    streams = [n for n in ds.streams if ds.sequence_ids(n)]
    default = next((n for n in streams if ds.streams[n].family == "activations"),
                   streams[0] if streams else None)
    for name in streams:
        entry = [f"- config_name: {name}", "  data_files:", "  - split: train",
                 f"    path: {layout.DATA_DIR}/{name}/*.parquet"]
        if name == default:
            entry.insert(1, "  default: true")
        configs.append("\n".join(entry))
    tables = sorted({t.name for r in ds.records for t in r.tables})
    for name in tables:
        if name in ds.streams:
            continue
        configs.append("\n".join([f"- config_name: {name}", "  data_files:", "  - split: train",
                                  f"    path: {layout.TABLES_DIR}/{name}/*.parquet"]))
    lines = ["---", "configs:", *configs, "tags:", "- musclekit", "- biomechanics", "---",
             MARKER, "", f"# {ds.info.name}", ""]
    if ds.info.description:
        lines += [ds.info.description, ""]
    lines += [f"A musclekit dataset (format {ds.info.format_version}): {len(ds.subjects)} "
              f"subjects, {len(ds.sequences)} sequences. Metadata in `meta/info.json` and "
              "`meta/units/`; per-channel statistics in `meta/stats.json` (written by "
              "`musclekit card` and at the end of each command).", "",
              "| stream | family | rate Hz | channels | sequences |", "|---|---|---|---|---|"]
    for name, spec in ds.streams.items():
        rate = f"{spec.rate_hz:g}" if spec.rate_hz else "per row"
        lines.append(f"| {name} | {spec.family} | {rate} | {len(spec.channels)} | "
                     f"{len(ds.sequence_ids(name))} |")
    lines += ["", "Load a stream with Hugging Face `datasets`:", "", "```python",
              "from datasets import load_dataset",
              f"ds = load_dataset(\"path/to/this/folder\", \"{default or 'STREAM'}\")",
              "```", "", "Each row is one frame: `sequence_id`, `time_s`, `flag` (bit 1: "
              "missing, bit 2: flagged by a quality check) and one column per channel "
              "(`channel.x` etc. for vector families). Rows of one sequence are one Parquet "
              "row group; see musclekit's docs/format.md.", ""]
    return "\n".join(lines)


def write_card(path: str | Path) -> dict[str, Path | None]:
    """Write README.md (unless the user wrote their own) and meta/stats.json into the dataset
    at `path`; returns what was written (None for a kept user README)."""
    root = Path(path)
    ds = open_dataset(root)
    stats_file = root / STATS_PATH
    _atomic_write(stats_file, json.dumps(dataset_stats(ds), indent=1, allow_nan=False,
                                         default=str) + "\n")
    card = root / CARD_PATH
    written: Path | None = card
    if card.exists() and MARKER not in card.read_text(encoding="utf-8", errors="replace"):
        written = None
    else:
        _atomic_write(card, card_text(ds))
    return {"card": written, "stats": stats_file}


def write_card_after_unit(root: Path) -> None:
    """Called by `UnitWriter.commit` after each completion record: rewrite README.md (the
    card, cheap: metadata only) so that every dataset musclekit writes, by any stage, the
    library or the demo, loads with `datasets.load_dataset(folder, stream)`. Statistics
    (a pass over every shard) are left to the commands' `refresh_card` and `musclekit card`.
    Under the dataset lock, so the last of concurrent writers sees every record. A failure
    is a debug note, never the unit's failure (the data is already committed)."""
    from musclekit.dataset.atomic import locked
    from musclekit.errors import MusclekitError
    from musclekit.progress import debug

    card = root / CARD_PATH
    try:
        with locked(root / layout.LOCK_PATH):
            if card.exists() and MARKER not in card.read_text(encoding="utf-8",
                                                              errors="replace"):
                return
            _atomic_write(card, card_text(open_dataset(root)))
    except (MusclekitError, OSError, pl.exceptions.PolarsError, ValueError) as err:
        debug(f"{root}: dataset card not updated ({err}); `musclekit card {root}` writes it")


def refresh_card(path: str | Path) -> None:
    """After a stage wrote into the dataset at `path`: rewrite its card and statistics; a
    failure here is a warning, never the stage's failure."""
    from musclekit.errors import MusclekitError
    from musclekit.progress import debug, warn

    root = Path(path)
    if not (root / layout.INFO_PATH).is_file():
        return
    try:
        written = write_card(root)
    except (MusclekitError, OSError, pl.exceptions.PolarsError) as err:
        warn(f"{root}: the dataset card and meta/stats.json were not updated ({err}); "
             f"`musclekit card {root}` retries")
        return
    debug(f"{root}: wrote {written['stats']}"
          + (f" and {written['card']}" if written["card"] else " (kept your README.md)"))
