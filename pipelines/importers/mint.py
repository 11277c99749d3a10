"""Muscles in Time (MinT), in the layout the `musint` package (PyPI, version 0.3.0) reads.

Layout (from musint's `metadata_utils` and `mint_dataset`):

```
ROOT/mint_metadata.csv           the metadata of every sequence (musint writes it by
                                 concatenating every other *.csv under ROOT when absent)
ROOT/<data_path>/muscle_activations.pkl   pandas DataFrame, 402 columns in [0, 1]
ROOT/<data_path>/grf.pkl                  18 columns, ground_force_{side}_v{x,y,z} (N),
                                          ground_force_{side}_p{x,y,z} (m),
                                          ground_torque_{side}_{x,y,z} (N m)
ROOT/<data_path>/muscle_forces.pkl        402 columns (N)
```

Each DataFrame is indexed by time in seconds at 50 fps (the first frame at 0.14 s: MinT cut
0.14 s at both ends); a failed simulation chunk is a stretch of missing index times (musint's
`get_gaps`), which becomes MISSING frames here. Metadata columns: data_path, weight_kg,
height_cm, amass_dur, babel_sid, subject, sequence, dataset, gender, analysed_dur,
analysed_%, gap. MinT's benchmark splits are BABEL's (by `babel_sid`, kept in each
sequence's extra); BABEL's split files are not part of MinT, so give them with
`train --split file:PATH`.

The `.pkl` files are Python pickles: reading one runs code stored in it. Import only a MinT
copy you trust (the one you downloaded from the authors).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from musclekit.dataset import StreamSpec, SubjectInfo
from musclekit.errors import InputError
from musclekit.pipelines.importers.common import (
    ImportOptions,
    ImportResult,
    on_grid,
    open_writer,
    positive,
    provenance,
    require_path,
    safe_id,
    sequence,
    sex_code,
)
from musclekit.progress import console

KIND = "mint"
FORMAT_VERSION = "MinT release read by musint 0.3.0 (pickled pandas DataFrames, 50 fps)"
RATE_HZ = 50.0
METADATA = "mint_metadata.csv"
FILES = {"activations": ("muscle_activations.pkl", "activations"),
         "grf": ("grf.pkl", "grf"),
         "muscle_forces": ("muscle_forces.pkl", "muscle_forces")}
REQUIRED_COLUMNS = ("data_path", "subject", "sequence")


def read_metadata(root: Path):
    """The metadata table, as musint builds it (mint_metadata.csv, else every other CSV)."""
    import pandas as pd

    main = root / METADATA
    files = [main] if main.is_file() else sorted(
        p for p in root.rglob("*.csv") if p.name != METADATA)
    if not files:
        raise InputError(f"import mint: {root} holds no metadata CSV ({METADATA} or the "
                         "per-subset CSVs of the MinT release); is this the MinT folder?")
    frames = []
    for f in files:
        try:
            frame = pd.read_csv(f)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(f"import mint: metadata {f} is not a readable CSV ({err})") from err
        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(f"import mint: metadata {f} lacks the columns {missing} "
                             f"(MinT's columns: data_path, weight_kg, height_cm, amass_dur, "
                             "babel_sid, subject, sequence, dataset, gender, analysed_dur, "
                             "analysed_%, gap)")
        frames.append(frame.dropna(how="all", axis=1))
    table = pd.concat(frames, ignore_index=True)
    if table.empty:
        raise InputError(f"import mint: the metadata in {root} lists no sequence")
    return table


def read_frame(file: Path):
    """One pickled DataFrame, checked: numeric, indexed by time in seconds."""
    import pandas as pd

    try:
        frame = pd.read_pickle(file)
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError,
            TypeError, KeyError) as err:
        raise InputError(f"import mint: {file} is not a readable pickled DataFrame "
                         f"({type(err).__name__}: {err}); the file may be truncated") from err
    if not isinstance(frame, pd.DataFrame) or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"import mint: {file} holds no data (expected a pandas DataFrame "
                         "indexed by time in seconds, one column per channel)")
    try:
        t = np.asarray(frame.index, dtype=np.float64)
        v = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"import mint: {file}: the index must be time in seconds and the "
                         f"columns numbers ({err})") from err
    return t, v, [str(c) for c in frame.columns]


def grf_unit(channel: str) -> str:
    """MinT's GRF column names: `..._v{x,y,z}` force (N), `..._p{x,y,z}` centre of
    pressure (m), `ground_torque_...` (N m)."""
    if "torque" in channel:
        return "N m"
    last = channel.rsplit("_", 1)[-1]
    return "m" if len(last) == 2 and last[0] == "p" else "N"


def _spec(stream: str, family: str, channels: list[str]) -> StreamSpec:
    units = {"activations": ["1"] * len(channels), "muscle_forces": ["N"] * len(channels),
             "grf": [grf_unit(c) for c in channels]}[family]
    return StreamSpec(name=stream, family=family, rate_hz=RATE_HZ, channels=channels,
                      units=units, clock="sim")


def import_source(src: Path, out: Path, options: ImportOptions) -> ImportResult:
    root = require_path(src, KIND, folder=True)
    meta = read_metadata(root)
    if options.limit:
        meta = meta.head(options.limit)
    source = options.source or KIND
    result = ImportResult(out=out, kind=KIND, format_version=FORMAT_VERSION)
    writer = None
    for _, row in meta.iterrows():
        folder = root / str(row["data_path"])
        if not folder.is_dir():
            raise InputError(f"import mint: the metadata names {row['data_path']!r}, but "
                             f"{folder} does not exist; is the MinT copy complete?")
        present = {s: folder / f for s, (f, _) in FILES.items() if (folder / f).is_file()}
        if "activations" not in present:
            raise InputError(f"import mint: {folder} has no muscle_activations.pkl")
        dataset = str(row.get("dataset", "") or str(row["data_path"]).split("/")[0])
        subject = safe_id(f"{dataset}_{row['subject']}")
        seq_id = safe_id(f"{dataset}_{row['subject']}_{str(row['sequence']).removesuffix('_poses')}")
        unit_id = f"mint-{seq_id}"
        loaded = {s: read_frame(p) for s, p in present.items()}
        specs = [_spec(s, FILES[s][1], cols) for s, (_, _, cols) in loaded.items()]
        if writer is None:
            writer = open_writer(out, KIND, specs, description="Muscles in Time, imported")
            result.streams = [s.name for s in specs]
        else:
            writer.add_streams(specs)
        if writer.is_done(unit_id):
            result.skipped.append(seq_id)
            continue
        height_cm = positive(row.get("height_cm"))
        info = SubjectInfo(id=subject, sex=sex_code(row.get("gender")),
                           mass_kg=positive(row.get("weight_kg")),
                           height_m=height_cm / 100 if height_cm else None,
                           extra={"amass_subject": str(row["subject"]), "amass_dataset": dataset})
        babel = row.get("babel_sid")
        seq = sequence(seq_id, subject, source, None, data_path=str(row["data_path"]),
                       babel_sid=None if babel is None or babel != babel else int(babel),
                       amass_dur_s=positive(row.get("amass_dur")),
                       analysed_dur_s=positive(row.get("analysed_dur")),
                       analysed_percent=positive(row.get("analysed_%")),
                       mint_gap=str(row.get("gap")) if "gap" in row else None)
        prov = provenance(KIND, FORMAT_VERSION, root, list(present.values()),
                          data_path=str(row["data_path"]))
        with writer.unit(unit_id, prov) as unit:
            unit.add_subject(info)
            for stream, (t, v, cols) in loaded.items():
                grid, values = on_grid(t, v, RATE_HZ, f"import mint: {present[stream]}")
                spec = writer.info.streams[stream]
                if cols != spec.channels:
                    values = _reorder(values, cols, spec.channels, present[stream])
                if stream == "activations":
                    values = np.where(np.abs(values - np.clip(values, 0, 1)) < 1e-3,
                                      np.clip(values, 0, 1), values)
                unit.write_sequence(stream, seq, grid, values)
        result.written.append(seq_id)
    if writer is None:
        raise InputError(f"import mint: nothing to import from {root}")
    console.print(f"mint: {len(result.written)} sequence(s) imported, {len(result.skipped)} "
                  "already there")
    return result


def _reorder(values: np.ndarray, cols: list[str], channels: list[str], file: Path) -> np.ndarray:
    index = {c: i for i, c in enumerate(cols)}
    missing = [c for c in channels if c not in index]
    extra = [c for c in cols if c not in set(channels)]
    if extra:
        raise InputError(f"import mint: {file} has columns the other sequences lack: "
                         f"{extra[:5]}; import it into another --out folder")
    out = np.full((values.shape[0], len(channels)), np.nan, dtype=np.float32)
    for j, c in enumerate(channels):
        if c not in missing:
            out[:, j] = values[:, index[c]]
    return out
