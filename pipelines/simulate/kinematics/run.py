"""The kinematics stage over many sequences: Dask tasks, dataset writing, resume.

`run_kinematics` turns AMASS files (with a body model) or TRC files (with a model) into
dataset streams `markers`, `joint_angles` and `ik_error`, one unit of work per sequence
(`kinematics.<sequence_id>`). A sequence whose unit record exists is skipped on rerun.
OpenSim files are kept under `<dataset>/opensim/<sequence_id>/` and their paths (relative
to the dataset root) go to the sequence's `KinematicsRecord` (`extra["opensim"]`), where part 2 (dynamics) reads
`scaled_model` and `ik_mot` (radians, `inDegrees=no`, like every .mot musclekit writes;
read it with `opensim_io.read_mot`). OpenSim's log of the unit is `opensim.log` there
(key `log`); a failed unit's message points at it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from musclekit.compute import ComputeConfig, RunReport, Unit, run_units
from musclekit.dataset import (
    DatasetWriter,
    Flag,
    Provenance,
    SequenceInfo,
    StreamSpec,
    SubjectInfo,
)
from musclekit.errors import InputError, MusclekitError
from musclekit.pipelines.simulate.kinematics.amass import (
    open_npz,
    resolve_sources,
    sequence_id,
    subject_id,
)
from musclekit.pipelines.simulate.kinematics.lab import LabInputs
from musclekit.pipelines.simulate.kinematics.marker_checks import model_facts
from musclekit.pipelines.simulate.kinematics.markerset import load_markerset
from musclekit.pipelines.simulate.kinematics.record import KinematicsRecord
from musclekit.pipelines.simulate.kinematics.sequence import (
    KinematicsConfig,
    SequenceKinematics,
    kinematics_from_amass,
    kinematics_from_trc,
)
from musclekit.pipelines.simulate.opensim.files import MarkerData, read_trc
from musclekit.pipelines.simulate.opensim.log import opensim_log
from musclekit.pipelines.simulate.opensim.model import default_model_path

STAGE = "simulate.kinematics"
_SEX = {"male": "M", "female": "F", "neutral": "U"}


@dataclass(frozen=True)
class KinematicsSource:
    """One sequence to process: an AMASS .npz or a .trc file."""

    kind: str  # "amass" | "trc"
    path: Path
    sequence_id: str
    subject_id: str
    rate_hz: float
    # A TRC's marker names, read with the file when the source was made (not read again).
    marker_names: tuple[str, ...] | None = None


def unit_id_for(seq_id: str) -> str:
    return f"kinematics.{seq_id}"


def amass_sources(amass: list[str], amass_root: Path | None = None,
                  exclude: Path | None = None) -> list[KinematicsSource]:
    """Sources for --amass arguments (see `resolve_sources`); files under `exclude` (the
    dataset being written, when it lies inside the AMASS folder) are not AMASS input."""
    out = []
    for path, base in resolve_sources(amass, amass_root):
        if exclude is not None and Path(path).resolve().is_relative_to(Path(exclude).resolve()):
            continue
        with open_npz(path) as data:
            key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in data.files),
                       None)
            rate = float(np.asarray(data[key])) if key else float("nan")
        out.append(KinematicsSource("amass", path, sequence_id(path, base), subject_id(path),
                                    rate))
    return out


def trc_sources(trcs: list[Path], subject: str = "subject",
                read: dict[Path, MarkerData] | None = None) -> list[KinematicsSource]:
    """Sources for --trc / --c3d files (read here, so a bad file fails before any work);
    `read`: TRC files the caller has read already (`read_marker_files`), not read again."""
    out = []
    for p in trcs:
        names = None
        if Path(p).suffix.lower() == ".c3d":
            from musclekit.pipelines.simulate.kinematics.c3d import read_c3d

            data = read_c3d(Path(p)).markers
        else:
            data = (read or {}).get(Path(p))
            if data is None:
                data = read_marker_files([Path(p)])[Path(p)]
            names = tuple(data.names)
        out.append(KinematicsSource("trc", Path(p), sequence_id(Path(p), Path(p).parent),
                                    subject, data.rate_hz, names))
    return out


def read_marker_files(trcs: list[Path]) -> dict[Path, MarkerData]:
    """Each TRC file read once, gaps kept as NaN (filled per sequence: sequence.py)."""
    return {Path(p): read_trc(Path(p), allow_missing=True) for p in trcs}


def stream_specs(marker_names: list[str], model_path: Path, rate_hz: float | None
                 ) -> list[StreamSpec]:
    """The three streams this stage writes (channels fixed for one run)."""
    by_coord = model_facts(model_path).coordinate_units
    coords, units = [c for c, _ in by_coord], [u for _, u in by_coord]
    return [
        StreamSpec(name="markers", family="markers", rate_hz=rate_hz, channels=marker_names,
                   clock="motion", description="virtual (or given) markers, OpenSim ground "
                   "frame, Y up, ground offset applied"),
        StreamSpec(name="joint_angles", family="joint_angles", rate_hz=rate_hz, channels=coords,
                   units=units, clock="motion", description="OpenSim inverse kinematics, "
                   "model coordinate names"),
        StreamSpec(name="ik_error", family="metrics", rate_hz=rate_hz,
                   channels=["rms_m", "max_m"], units=["m", "m"], clock="motion",
                   description="per-frame IK marker error (weighted markers only)"),
    ]


def _payload(src: KinematicsSource, dataset: Path, model: Path, body_model: Path | None,
             cfg: KinematicsConfig, marker_weights: dict[str, float] | None,
             lab: LabInputs | None = None) -> dict:
    return {"kind": src.kind, "path": str(src.path), "sequence_id": src.sequence_id,
            "subject_id": src.subject_id, "dataset": str(dataset), "model": str(model),
            "body_model": str(body_model) if body_model else None, "config": asdict(cfg),
            "marker_weights": marker_weights, "lab": asdict(lab) if lab else None}


def opensim_log_path(root: Path, seq_id: str) -> Path:
    """Where a sequence's OpenSim log goes: next to its OpenSim files."""
    return Path(root) / "opensim" / seq_id / "opensim.log"


def kinematics_unit(payload: dict) -> dict:
    """One sequence, run on a Dask worker: OpenSim files, then one dataset unit."""
    start = time.perf_counter()
    root = Path(payload["dataset"])
    seq_id = payload["sequence_id"]
    cfg = KinematicsConfig(**payload["config"])
    out_dir = root / "opensim" / seq_id
    src = Path(payload["path"])
    log = opensim_log_path(root, seq_id)
    try:
        with opensim_log(log):
            if payload["kind"] == "amass":
                result = kinematics_from_amass(src, Path(payload["body_model"]), out_dir,
                                               Path(payload["model"]), cfg)
            else:
                lab = LabInputs(**payload["lab"]) if payload.get("lab") else None
                if src.suffix.lower() == ".c3d":
                    lab = replace(lab or LabInputs(), c3d=str(src))
                result = kinematics_from_trc(src, Path(payload["model"]), out_dir, cfg,
                                             payload.get("marker_weights"), lab)
    except MusclekitError as err:  # the message is what the user sees: say where to look
        err.args = (f"{err} (OpenSim log: {log})",)
        raise
    except Exception as err:
        err.add_note(f"OpenSim log: {log}")
        raise
    write_sequence_unit(root, payload, result)
    return {"sequence_id": seq_id, "frames": int(len(result.time_s)),
            "rms_mean_m": float(np.mean(result.rms_m)), "max_m": float(np.max(result.max_m)),
            "flagged": int(result.flags.sum()), "seconds": round(time.perf_counter() - start, 2),
            "warnings": list(result.extra.get("warnings") or [])}


def write_sequence_unit(root: Path, payload: dict, r: SequenceKinematics) -> None:
    """Write one sequence's streams, subject and OpenSim file paths as one unit."""
    seq_id = payload["sequence_id"]
    rel = {k: str(Path(p).relative_to(root)) for k, p in r.files.items()}
    log = opensim_log_path(root, seq_id)
    if log.is_file():
        rel["log"] = str(log.relative_to(root))
    # no "ik_in_degrees" flag: ik_mot is in radians and its header (inDegrees=no) says so
    analogs = r.extra.get("_analogs") or {}
    extra = {**KinematicsRecord(rel).to_extra(), "kinematics": {
        k: v for k, v in r.extra.items() if k not in ("scale_factors", "_analogs")}}
    extra["kinematics"].update({
        "frames": int(len(r.time_s)), "flagged_frames": int(r.flags.sum()),
        "ik_rms_mean_m": float(np.mean(r.rms_m)), "ik_max_m": float(np.max(r.max_m)),
        "flag_rms_m": payload["config"]["flag_rms_m"],
        "flag_max_m": payload["config"]["flag_max_m"]})
    seq = SequenceInfo(id=seq_id, subject_id=payload["subject_id"],
                       source="AMASS" if payload["kind"] == "amass" else "TRC",
                       label=Path(payload["path"]).stem, extra=extra)
    flags = np.where(r.flags, np.uint8(Flag.FLAGGED), np.uint8(0)).astype(np.uint8)
    inputs = [payload["path"], payload["model"]]
    config = {**payload["config"], "marker_set_version": r.extra.get("marker_set_version"),
              "body_model": r.extra.get("body_model"), "opensim_model": payload["model"],
              "scale_factors": r.extra.get("scale_factors")}
    writer = DatasetWriter.create_or_open(root)
    if analogs:
        # A C3D's analog channels (EMG), kept at their native rate on the markers' clock.
        names = list(analogs)
        t_a = analogs[names[0]][0]
        writer.add_streams([StreamSpec(
            name="emg_raw", family="semg_raw", rate_hz=float(1.0 / np.median(np.diff(t_a))),
            channels=names, units=["V" if analogs[n][2] == "V" else "a.u." for n in names],
            clock="motion",
            description="analog channels of the C3D (EMG), unfiltered, at their own rate")])
    with writer.unit(unit_id_for(seq_id), Provenance.for_stage(STAGE, config=config,
                                                               inputs=inputs)) as u:
        if np.isfinite(r.mass_kg) and payload["kind"] != "amass":
            u.add_subject(SubjectInfo(
                id=payload["subject_id"], mass_kg=round(r.mass_kg, 3),
                height_m=round(r.height_m, 4) if np.isfinite(r.height_m) else None,
                extra={"mass_from": r.extra.get("mass_from", "given (--mass)")}))
        elif np.isfinite(r.mass_kg):
            u.add_subject(SubjectInfo(id=payload["subject_id"], sex=_SEX.get(r.gender or ""),
                                      mass_kg=round(r.mass_kg, 3), height_m=round(r.height_m, 4),
                                      extra={"mass_from": "mesh volume x density",
                                             "density_kg_m3": payload["config"][
                                                 "body_density_kg_m3"]}))
        else:
            u.add_subject(SubjectInfo(id=payload["subject_id"]))
        u.write_sequence("markers", seq, time_s=r.time_s, values=r.markers, flags=flags)
        u.write_sequence("joint_angles", seq, time_s=r.time_s, values=r.joint_angles,
                         flags=flags)
        u.write_sequence("ik_error", seq, time_s=r.time_s,
                         values=np.column_stack([r.rms_m, r.max_m]), flags=flags)
        if analogs:
            names = list(analogs)
            t_a = analogs[names[0]][0]
            u.write_sequence("emg_raw", seq, time_s=t_a, values=np.column_stack(
                [np.interp(t_a, analogs[n][0], analogs[n][1]) for n in names]))


def _marker_names(path: Path, used: list[str] | None = None) -> list[str]:
    """The marker channels a file gives: a TRC's names; a C3D's markers that the model uses
    (`used`; unlabelled trajectories and model outputs are never markers), as the unit writes
    them (c3d.write_opensim_files)."""
    if Path(path).suffix.lower() == ".c3d":
        from musclekit.pipelines.simulate.kinematics.c3d import c3d_marker_names

        return c3d_marker_names(path, used)
    return list(read_trc(path, allow_missing=True).names)


def kinematics_units(dataset: Path, sources: list[KinematicsSource], *,
                     model_path: Path | None = None, body_model: Path | None = None,
                     config: KinematicsConfig | None = None, name: str | None = None,
                     marker_weights: dict[str, float] | None = None,
                     lab: LabInputs | None = None) -> tuple[DatasetWriter, list[Unit]]:
    """Check `sources`, create (or open) `dataset` with this stage's streams; returns its
    writer and one unit per sequence (`kinematics_unit`; skip those `writer.is_done`)."""
    cfg = config or KinematicsConfig()
    if not sources:
        raise InputError("no sequences to simulate")
    ids = [s.sequence_id for s in sources]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"several inputs map to the same sequence id: {dupes}; give each "
                         "sequence a distinct file name or folder")
    kinds = {s.kind for s in sources}
    if "amass" in kinds and body_model is None:
        raise InputError("AMASS input needs the SMPL-H body model: --body-model DIR")
    model = Path(model_path) if model_path else default_model_path()
    if "trc" in kinds:
        names_sets = {s.marker_names for s in sources
                      if s.kind == "trc" and s.marker_names is not None}
        unread = [s for s in sources if s.kind == "trc" and s.marker_names is None]
        if unread:  # C3Ds (and sources made without their names): only the model's markers
            from musclekit.pipelines.simulate.kinematics.c3d import model_marker_names

            used = model_marker_names(model, lab.marker_set if lab else None)
            names_sets |= {tuple(_marker_names(s.path, used)) for s in unread}
        if len(names_sets) > 1:
            raise InputError("the TRC files name different markers; one run needs one marker "
                             "set (run them separately)")
        marker_names = list(next(iter(names_sets)))
    else:
        marker_names = list(load_markerset().names)
    dataset = Path(dataset)
    # No nominal stream rate: AMASS sub-datasets differ (60, 100, 120 Hz ...) and a dataset
    # grows over several runs; each row has its time_s and each sequence its rate in
    # extra["kinematics"]["rate_hz"].
    writer = DatasetWriter.create_or_open(dataset, name=name or dataset.name,
                                          streams=stream_specs(marker_names, model, None))
    units = [Unit(unit_id_for(s.sequence_id),
                  _payload(s, dataset.resolve(), model.resolve(),
                           Path(body_model).resolve() if body_model else None, cfg,
                           marker_weights, lab)) for s in sources]
    return writer, units


def run_kinematics(dataset: Path, sources: list[KinematicsSource], *,
                   model_path: Path | None = None, body_model: Path | None = None,
                   config: KinematicsConfig | None = None, compute: ComputeConfig | None = None,
                   name: str | None = None, marker_weights: dict[str, float] | None = None,
                   on_result=None, lab: LabInputs | None = None) -> RunReport:
    """Run the kinematics stage for `sources` into `dataset` (created if needed)."""
    writer, units = kinematics_units(dataset, sources, model_path=model_path,
                                     body_model=body_model, config=config, name=name,
                                     marker_weights=marker_weights, lab=lab)
    return run_units(units, kinematics_unit, compute or ComputeConfig(),
                     description=KINEMATICS_DESCRIPTION,
                     skip=lambda u: writer.is_done(u.id), on_result=on_result)


KINEMATICS_DESCRIPTION = "kinematics (scale + IK)"
