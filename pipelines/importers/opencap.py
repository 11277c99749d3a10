"""An OpenCap session folder, as the OpenCap web app's "Download data" writes it.

Layout (OpenCap, opencap-core and opencap-processing, 2023-2024 sessions):

```
SESSION/sessionMetadata.yaml             subjectID, mass_kg, height_m, gender_mf, ...
SESSION/MarkerData/<trial>.trc           markers triangulated from video (TRC, PathFileType
                                         4, unit in the header: m or mm)
SESSION/OpenSimData/Model/*.osim         the scaled model (e.g. LaiUhlrich2022_scaled.osim)
SESSION/OpenSimData/Kinematics/<trial>.mot   inverse kinematics (optional), degrees per
                                         header `inDegrees=yes`
```

Streams: `markers` (markers family, m, Y up as OpenSim's lab frame) at the TRC's DataRate,
`joint_angles` (rad; translations m) at the .mot's rate. The `knee_angle_*_beta` columns of
OpenCap's .mot files are radians even when the header says degrees (the coupled patella
coordinate), so they are not converted. Frames where a marker is blank stay missing. The
scaled model is copied to `opensim/opencap/<name>.osim` in the dataset and named in each
sequence's extra. Trials: the union of MarkerData and Kinematics names (`static` trials
included; they are labelled by name).
"""

from __future__ import annotations

import re
import shutil
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
from musclekit.progress import console, warn

KIND = "opencap"
FORMAT_VERSION = "OpenCap session download (sessionMetadata.yaml, TRC PathFileType 4, .mot v1)"
LENGTH_UNITS = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}
TRANSLATION = re.compile(r"_t[xyz]$")


def read_trc(file: Path) -> tuple[float, list[str], np.ndarray, np.ndarray]:
    """(rate Hz, marker names, time_s (T,), xyz (T, M, 3) in m, NaN where blank)."""
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise InputError(f"import opencap: cannot read {file} ({err.strerror})") from err
    where = f"import opencap: {file}"
    if len(lines) < 6 or not lines[0].startswith("PathFileType"):
        raise InputError(f"{where} is not a TRC file (it should start with PathFileType and "
                         "hold 5 header lines and data)")
    keys, vals = lines[1].split("\t"), lines[2].split("\t")
    header = dict(zip([k.strip() for k in keys], [v.strip() for v in vals], strict=False))
    try:
        rate = float(header["DataRate"])
    except (KeyError, ValueError) as err:
        raise InputError(f"{where}: header line 3 has no DataRate") from err
    scale = LENGTH_UNITS.get(header.get("Units", "m").lower())
    if scale is None:
        raise InputError(f"{where}: unknown Units {header.get('Units')!r} (m, mm or cm)")
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    if not names:
        raise InputError(f"{where}: line 4 names no markers")
    rows = []
    for i, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        cells = line.split("\t")
        try:
            nums = [float(c) if c.strip() else np.nan for c in cells[1:2 + 3 * len(names)]]
        except ValueError as err:
            raise InputError(f"{where}, line {i}: not a number ({err})") from err
        nums += [np.nan] * (1 + 3 * len(names) - len(nums))
        rows.append(nums)
    if not rows:
        raise InputError(f"{where} holds no frames")
    data = np.asarray(rows, dtype=np.float64)
    return rate, names, data[:, 0], data[:, 1:].reshape(len(rows), len(names), 3) * scale


def read_mot(file: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(coordinate names, time_s (T,), values (T, C) in rad / m)."""
    where = f"import opencap: {file}"
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise InputError(f"import opencap: cannot read {file} ({err.strerror})") from err
    try:
        end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    except StopIteration as err:
        raise InputError(f"{where} is not an OpenSim .mot file (no 'endheader' line)") from err
    in_degrees = any(line.replace(" ", "").lower() == "indegrees=yes" for line in lines[:end])
    if end + 1 >= len(lines):
        raise InputError(f"{where} holds no column names")
    cols = lines[end + 1].split()
    if not cols or cols[0].lower() != "time":
        raise InputError(f"{where}: the first column must be time")
    try:
        data = np.asarray([[float(x) for x in line.split()] for line in lines[end + 2:]
                           if line.strip()], dtype=np.float64)
    except ValueError as err:
        raise InputError(f"{where}: a value is not a number ({err})") from err
    if data.size == 0:
        raise InputError(f"{where} holds no frames")
    if data.ndim != 2 or data.shape[1] != len(cols):
        raise InputError(f"{where}: rows do not have the {len(cols)} columns the header names")
    names, values = cols[1:], data[:, 1:].copy()
    if in_degrees:
        for j, name in enumerate(names):
            if not TRANSLATION.search(name) and not name.endswith("_beta"):
                values[:, j] = np.deg2rad(values[:, j])
    return names, data[:, 0], values


def _rate(time_s: np.ndarray, where: str) -> float:
    if time_s.size < 2:
        raise InputError(f"{where}: a single frame has no rate")
    return float(round(1.0 / float(np.median(np.diff(time_s))), 6))


def read_metadata(root: Path, options: ImportOptions) -> SubjectInfo:
    file = root / "sessionMetadata.yaml"
    if not file.is_file():
        subject = options.subject or root.name
        warn(f"import opencap: {root} has no sessionMetadata.yaml; subject {subject!r} "
             "without mass or height (--subject names it)")
        return SubjectInfo(id=safe_id(subject))
    import yaml

    try:
        meta = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise InputError(f"import opencap: {file} is not valid YAML ({err})") from err
    if not isinstance(meta, dict):
        raise InputError(f"import opencap: {file} must hold a mapping (subjectID, mass_kg ...)")
    subject = options.subject or str(meta.get("subjectID") or root.name)
    extra = {k: meta[k] for k in ("openSimModel", "posemodel", "augmentermodel",
                                  "sessionWithCalibration") if k in meta}
    return SubjectInfo(id=safe_id(subject), sex=sex_code(meta.get("gender_mf")),
                       mass_kg=positive(meta.get("mass_kg")),
                       height_m=positive(meta.get("height_m")), extra=extra)


def import_source(src: Path, out: Path, options: ImportOptions) -> ImportResult:
    root = require_path(src, KIND, folder=True)
    trcs = {p.stem: p for p in sorted((root / "MarkerData").glob("*.trc"))}
    mots = {p.stem: p for p in sorted((root / "OpenSimData" / "Kinematics").glob("*.mot"))}
    if not trcs and not mots:
        raise InputError(f"import opencap: {root} is not an OpenCap session: no "
                         "MarkerData/*.trc and no OpenSimData/Kinematics/*.mot")
    subject = read_metadata(root, options)
    models = sorted((root / "OpenSimData" / "Model").glob("*.osim"))
    source = options.source or KIND
    trials = sorted(set(trcs) | set(mots))[: options.limit or None]
    loaded = {}
    for trial in trials:
        markers = read_trc(trcs[trial]) if trial in trcs else None
        kin = read_mot(mots[trial]) if trial in mots else None
        loaded[trial] = (markers, kin)
    specs = _specs(loaded)
    writer = open_writer(out, KIND, specs, [subject], description="OpenCap session, imported")
    model_rel = None
    if models:
        model_rel = f"opensim/opencap/{safe_id(subject.id)}-{models[0].name}"
        (out / model_rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(models[0], out / model_rel)
    else:
        warn(f"import opencap: {root} has no scaled model in OpenSimData/Model/")
    result = ImportResult(out=out, kind=KIND, format_version=FORMAT_VERSION,
                          streams=[s.name for s in specs])
    for trial, (markers, kin) in loaded.items():
        seq_id = safe_id(f"{subject.id}_{trial}")
        unit_id = f"opencap-{seq_id}"
        if writer.is_done(unit_id):
            result.skipped.append(seq_id)
            continue
        inputs = [p for p in (trcs.get(trial), mots.get(trial), *models[:1]) if p is not None]
        seq = sequence(seq_id, subject.id, source, trial.rstrip("0123456789_") or trial,
                       opencap_trial=trial, model=model_rel)
        with writer.unit(unit_id, provenance(KIND, FORMAT_VERSION, root, inputs,
                                             trial=trial)) as unit:
            unit.add_subject(subject)
            if markers is not None:
                rate, names, t, xyz = markers
                spec = writer.info.streams["markers"]
                grid, v = on_grid(t - t[0], _by_channel(xyz, names, spec.channels), rate,
                                  f"import opencap: {trcs[trial]}")
                unit.write_sequence("markers", seq, grid, v)
            if kin is not None:
                names, t, values = kin
                spec = writer.info.streams["joint_angles"]
                grid, v = on_grid(t - t[0], _by_channel(values, names, spec.channels),
                                  _rate(t, str(mots[trial])), f"import opencap: {mots[trial]}")
                unit.write_sequence("joint_angles", seq, grid, v)
        result.written.append(seq_id)
    console.print(f"opencap: {len(result.written)} trial(s) imported, {len(result.skipped)} "
                  "already there")
    return result


def _specs(loaded: dict) -> list[StreamSpec]:
    specs = []
    marker_sets = [(m[0], m[1]) for m, _ in loaded.values() if m is not None]
    if marker_sets:
        rates = {r for r, _ in marker_sets}
        if len(rates) > 1:
            raise InputError(f"import opencap: the TRC files have different rates {sorted(rates)}")
        names = list(dict.fromkeys(n for _, ns in marker_sets for n in ns))
        specs.append(StreamSpec(name="markers", family="markers", rate_hz=rates.pop(),
                                channels=names, units=["m"] * len(names), clock="video"))
    kin_sets = [k for _, k in loaded.values() if k is not None]
    if kin_sets:
        rates = {_rate(t, "import opencap: a .mot file") for _, t, _ in kin_sets}
        if len(rates) > 1:
            raise InputError(f"import opencap: the .mot files have different rates {sorted(rates)}")
        names = list(dict.fromkeys(n for ns, _, _ in kin_sets for n in ns))
        specs.append(StreamSpec(name="joint_angles", family="joint_angles", rate_hz=rates.pop(),
                                channels=names, clock="video",
                                units=["m" if TRANSLATION.search(n) else "rad" for n in names]))
    return specs


def _by_channel(values: np.ndarray, names: list[str], channels: list[str]) -> np.ndarray:
    """values (T, C, ...) in `names` order -> the stream's channel order (NaN if absent)."""
    out = np.full((values.shape[0], len(channels)) + values.shape[2:], np.nan, np.float32)
    index = {n: i for i, n in enumerate(names)}
    for j, c in enumerate(channels):
        if c in index:
            out[:, j] = values[:, index[c]]
    return out
