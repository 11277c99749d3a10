"""AddBiomechanics `.b3d` files (one subject each), read through nimblephysics' reader.

Format: B3D, the binary subject file of AddBiomechanics (Werling et al. 2023), written and
read by nimblephysics' `biomechanics.SubjectOnDisk` (header protobuf + fixed-size frames;
this importer was written against nimblephysics 0.10.52). A subject holds trials, each at
its own timestep, and one or more processing passes (kinematics, then dynamics when the
subject had force plates). The last pass is imported:

| B3D | stream | family, units |
|---|---|---|
| pass `pos` (DOFs in the model's joint order) | `joint_angles` | rad (`m` for `*_t{x,y,z}`) |
| pass `tau` | `joint_torques` | N m (`N` for translations) |
| pass `groundContactForce` / `CenterOfPressure` / `Torque` per ground body | `grf` | N, m, N m: `ground_force_{right,left}_v{x,y,z}` etc. (`calcn_r` -> right) |

Frames whose GRF the file marks missing (`missingGRFReason` other than `notMissingGRF`)
are MISSING in `grf`. Subject: mass, height, sex from the header; the subject id is the
file name. DOF names come from the pass's OpenSim model text in the file.

nimblephysics' bindings segfault in some calls under numpy 2 (any call that passes an
array in; reading happens to return arrays only). So the file is read in a child process
(`b3d_child`); when that process crashes or nimblephysics is missing, the import fails
with a message saying so instead of taking the command down.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from musclekit.dataset import Flag, StreamSpec, SubjectInfo
from musclekit.errors import InputError, MissingDependencyError
from musclekit.pipelines.importers.common import (
    ImportOptions,
    ImportResult,
    open_writer,
    positive,
    provenance,
    require_path,
    safe_id,
    sequence,
    sex_code,
)
from musclekit.process import python_module_cmd
from musclekit.progress import console

KIND = "addbiomechanics"
FORMAT_VERSION = "AddBiomechanics B3D (nimblephysics SubjectOnDisk, read with nimblephysics {v})"
# The child's command line; tests replace it to simulate a crashing build.
CHILD = python_module_cmd("musclekit.pipelines.importers.b3d_child")
CHILD_TIMEOUT_S = 600
TRANSLATION_SUFFIXES = ("_tx", "_ty", "_tz")


def nimble_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nimblephysics")
    except PackageNotFoundError:
        return None


def read_b3d(file: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of one .b3d, read in a child process."""
    ver = nimble_version()
    if ver is None:
        raise MissingDependencyError("import addbiomechanics needs nimblephysics (its B3D "
                                     "reader): pip install nimblephysics (install torch first)")
    if file.stat().st_size == 0:
        raise InputError(f"import addbiomechanics: {file} is empty (0 bytes); AddBiomechanics "
                         "sometimes writes zero-length files: download the subject again")
    from musclekit.process import child_env

    with tempfile.TemporaryDirectory(prefix="musclekit-b3d-") as tmp:
        dump = Path(tmp) / "dump.npz"
        try:
            proc = subprocess.run([*CHILD, str(file), str(dump)], capture_output=True,
                                  text=True, timeout=CHILD_TIMEOUT_S, env=child_env())
        except subprocess.TimeoutExpired as err:
            raise InputError(f"import addbiomechanics: reading {file} took over "
                             f"{CHILD_TIMEOUT_S} s; the file may be damaged") from err
        if proc.returncode < 0:
            sig = signal.Signals(-proc.returncode).name
            raise MissingDependencyError(
                f"import addbiomechanics: nimblephysics {ver} crashed ({sig}) reading {file}: "
                f"this nimblephysics build cannot read B3D files next to numpy "
                f"{np.__version__} (its bindings segfault under numpy 2). Read the file in an "
                "environment with numpy<2 and nimblephysics, or use a nimblephysics build "
                "made for numpy 2")
        if proc.returncode != 0 or not dump.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            detail = " | ".join(tail)
            if "corrupted" in detail or "unknown exception" in detail.lower():
                raise InputError(f"import addbiomechanics: {file} is not a readable B3D file "
                                 f"(nimblephysics: {detail}); it may be truncated or another "
                                 "format")
            raise InputError(f"import addbiomechanics: nimblephysics {ver} failed reading "
                             f"{file}: {detail}")
        with np.load(dump) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
    meta["nimblephysics"] = ver
    return meta, arrays


def dof_names(osim_text: str, n_dofs: int) -> list[str]:
    """The model's coordinates in joint order (nimblephysics' DOF order), else dof_0..."""
    names: list[str] = []
    try:
        root = ET.fromstring(osim_text) if osim_text.strip() else None
    except ET.ParseError:
        root = None
    if root is not None:
        for joints in root.iter("JointSet"):
            for joint in joints.find("objects") or []:
                for coord in joint.iter("Coordinate"):
                    if coord.get("name"):
                        names.append(coord.get("name"))
    if len(names) != n_dofs:
        names = [f"dof_{i}" for i in range(n_dofs)]
    return names


def _side(body: str) -> str:
    return {"_r": "right", "_l": "left"}.get(body[-2:], safe_id(body).lower())


def _grf_channels(bodies: list[str]) -> tuple[list[str], list[str]]:
    names, units = [], []
    for body in bodies:
        side = _side(body)
        names += [f"ground_force_{side}_v{a}" for a in "xyz"]
        names += [f"ground_force_{side}_p{a}" for a in "xyz"]
        names += [f"ground_torque_{side}_{a}" for a in "xyz"]
        units += ["N"] * 3 + ["m"] * 3 + ["N m"] * 3
    return names, units


def import_source(src: Path, out: Path, options: ImportOptions) -> ImportResult:
    src = require_path(src, KIND, folder=False)
    files = sorted(src.rglob("*.b3d")) if src.is_dir() else [src]
    if src.is_file() and src.suffix.lower() != ".b3d":
        raise InputError(f"import addbiomechanics: {src} is not a .b3d file")
    if not files:
        raise InputError(f"import addbiomechanics: no .b3d file under {src}")
    source = options.source or KIND
    result = ImportResult(out=out, kind=KIND, format_version=FORMAT_VERSION.format(v="?"))
    for file in files[: options.limit or None]:
        meta, arrays = read_b3d(file)
        result.format_version = FORMAT_VERSION.format(v=meta["nimblephysics"])
        _write_subject(file, meta, arrays, out, source, result)
    console.print(f"addbiomechanics: {len(result.written)} trial(s) imported, "
                  f"{len(result.skipped)} already there")
    return result


def _write_subject(file: Path, meta: dict, arrays: dict, out: Path, source: str,
                   result: ImportResult) -> None:
    subject_id = safe_id(file.stem)
    dofs = dof_names(meta.get("osim", ""), int(meta["n_dofs"]))
    trials = meta["trials"]
    if not trials:
        raise InputError(f"import addbiomechanics: {file} holds no trials")
    steps = {round(1.0 / t["timestep"], 6) for t in trials if t["timestep"] > 0}
    if len(steps) != 1:
        raise InputError(f"import addbiomechanics: {file}: trials at different rates "
                         f"{sorted(steps)} Hz; musclekit streams have one nominal rate")
    rate = steps.pop()
    grf_names, grf_units = _grf_channels(list(meta.get("ground_bodies") or []))
    units = ["m" if d.endswith(TRANSLATION_SUFFIXES) else "rad" for d in dofs]
    specs = [StreamSpec(name="joint_angles", family="joint_angles", rate_hz=rate,
                        channels=dofs, units=units, clock="mocap"),
             StreamSpec(name="joint_torques", family="joint_torques", rate_hz=rate,
                        channels=dofs, units=["N" if u == "m" else "N m" for u in units],
                        clock="mocap")]
    if grf_names:
        specs.append(StreamSpec(name="grf", family="grf", rate_hz=rate, channels=grf_names,
                                units=grf_units, clock="mocap"))
    sex = str(meta.get("sex") or "").split(".")[-1]
    subject = SubjectInfo(id=subject_id, sex=sex_code("" if sex == "unknown" else sex),
                          mass_kg=positive(meta.get("mass_kg")),
                          height_m=positive(meta.get("height_m")),
                          extra={"age_years": meta.get("age_years")}
                          if (meta.get("age_years") or -1) > 0 else {})
    writer = open_writer(out, KIND, specs, [subject],
                         description="AddBiomechanics subjects, imported")
    result.streams = sorted(set(result.streams) | {s.name for s in specs})
    for i, trial in enumerate(trials):
        seq_id = safe_id(f"{subject_id}_{trial['name'] or i}")
        unit_id = f"b3d-{seq_id}"
        if writer.is_done(unit_id):
            result.skipped.append(seq_id)
            continue
        n = int(trial["length"])
        t = np.arange(n) * float(trial["timestep"])
        seq = sequence(seq_id, subject_id, source, None, b3d_file=file.name,
                       b3d_trial=trial["name"], b3d_original_name=trial.get("original_name"),
                       b3d_pass_type=meta.get("pass_type"))
        prov = provenance(KIND, result.format_version, file, [file], trial=trial["name"])
        with writer.unit(unit_id, prov) as unit:
            unit.add_subject(subject)
            if n == 0:
                raise InputError(f"import addbiomechanics: {file}: trial {trial['name']!r} "
                                 "has no frames")
            for stream, key in (("joint_angles", "pos"), ("joint_torques", "tau")):
                unit.write_sequence(stream, seq, t, _matrix(arrays[f"t{i}_{key}"], n,
                                                            len(dofs)))
            if grf_names:
                force = _matrix(arrays[f"t{i}_force"], n, 3 * len(grf_names) // 9)
                cop = _matrix(arrays[f"t{i}_cop"], n, force.shape[1])
                torque = _matrix(arrays[f"t{i}_torque"], n, force.shape[1])
                blocks = [np.concatenate([force[:, 3 * b:3 * b + 3], cop[:, 3 * b:3 * b + 3],
                                          torque[:, 3 * b:3 * b + 3]], axis=1)
                          for b in range(force.shape[1] // 3)]
                missing = np.asarray(arrays[f"t{i}_missing_grf"], dtype=bool)[:n]
                flags = np.where(missing, np.uint8(Flag.MISSING), np.uint8(0)).astype(np.uint8)
                unit.write_sequence("grf", seq, t, np.concatenate(blocks, axis=1), flags=flags)
        result.written.append(seq_id)


def _matrix(arr: np.ndarray, n: int, width: int) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] != width:
        out = np.full((n, width), np.nan)
        if arr.ndim == 2:
            out[: min(n, arr.shape[0]), : min(width, arr.shape[1])] = \
                arr[:n, :width]
        return out.astype(np.float32)
    # nimblephysics returns whatever memory a frame left unset; nothing physical is this big
    arr = np.where(np.isfinite(arr) & (np.abs(arr) < 1e6), arr, np.nan)
    return arr.astype(np.float32)
