"""The kinematics of one sequence, from an AMASS file (or a TRC + model) to OpenSim files.

Runs inside one Dask task: every OpenSim object is built here, from paths.
Files go to `<out_dir>` (the dataset's `opensim/<sequence_id>/`):
static.trc, markers.trc (metres), generic_registered.osim, scaled.osim, ik.mot (radians,
`inDegrees=no`), setup XMLs; all .trc/.mot through `opensim_io`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.amass import read_amass
from musclekit.pipelines.simulate.bodymodel import load_body_model, mass_and_height
from musclekit.pipelines.simulate.markerset import load_markerset
from musclekit.pipelines.simulate.opensim_io import read_trc, write_trc
from musclekit.pipelines.simulate.opensim_model import default_model_path
from musclekit.pipelines.simulate.scale_ik import (
    plan_registration,
    run_ik,
    run_scale,
    write_registered_generic,
)
from musclekit.pipelines.simulate.virtual_markers import (
    marker_segments,
    segment_body,
    sequence_markers,
    static_markers,
)


@dataclass
class KinematicsConfig:
    """Settings of the kinematics stage (SI units)."""

    foot_height_m: float = 0.02  # lowest marker of every sequence sits this high
    body_density_kg_m3: float = 985.0  # mesh volume -> mass
    flag_rms_m: float = 0.02  # frames whose IK marker RMS error exceeds this are flagged
    flag_max_m: float = 0.04  # ... or whose largest marker error exceeds this
    static_duration_s: float = 0.1
    ik_accuracy: float = 1e-6  # IK convergence tolerance (see scale_ik.run_ik)


@dataclass
class SequenceKinematics:
    """What one sequence produced (arrays for the dataset, files on disk)."""

    time_s: np.ndarray
    marker_names: list[str]
    markers: np.ndarray  # (T, M, 3) m, OpenSim ground frame
    coordinates: list[str]
    joint_angles: np.ndarray  # (T, C) rad / m
    rms_m: np.ndarray
    max_m: np.ndarray
    flags: np.ndarray  # (T,) bool: above an error threshold
    mass_kg: float
    height_m: float
    gender: str | None
    files: dict[str, Path]
    extra: dict = field(default_factory=dict)


def kinematics_from_amass(amass_path: Path, body_model_dir: Path, out_dir: Path,
                          model_path: Path | None, cfg: KinematicsConfig) -> SequenceKinematics:
    """AMASS .npz -> virtual markers -> scaled model -> IK, all files under out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = Path(model_path) if model_path else default_model_path()
    clock = _Clock()
    seq = read_amass(amass_path)
    body = load_body_model(body_model_dir, seq.gender)
    mset = load_markerset()
    markers, _ = sequence_markers(body, seq, mset, cfg.foot_height_m)
    static = static_markers(body, seq.betas, mset, cfg.foot_height_m, cfg.static_duration_s)
    mass_kg, height_m = mass_and_height(body, seq.betas, cfg.body_density_kg_m3)
    clock.lap("markers_s")
    files = {"static_trc": out_dir / "static.trc", "trc": out_dir / "markers.trc",
             "generic_model": out_dir / "generic_registered.osim",
             "scaled_model": out_dir / "scaled.osim", "ik_mot": out_dir / "ik.mot"}
    write_trc(files["static_trc"], static.time_s, static.names, static.positions)
    write_trc(files["trc"], markers.time_s, markers.names, markers.positions)
    segs = marker_segments(body, mset)
    plan = plan_registration(model_path, {m: segment_body(s, mset) for m, s in segs.items()},
                             {n: b for n, (_, b) in mset.joint_centres.items()})
    write_registered_generic(model_path, plan, files["generic_model"])
    scale = run_scale(files["generic_model"], files["static_trc"],
                      (float(static.time_s[0]), float(static.time_s[-1])), plan,
                      mset.scale_measurements, mass_kg, height_m, files["scaled_model"], out_dir)
    clock.lap("scale_s")
    ik = run_ik(files["scaled_model"], files["trc"], (float(markers.time_s[0]),
                float(markers.time_s[-1])), mset.ik_weights, files["ik_mot"], out_dir,
                cfg.ik_accuracy)
    clock.lap("ik_s")
    if len(ik.time_s) != len(markers.time_s):
        raise InputError(f"IK returned {len(ik.time_s)} frames for {len(markers.time_s)} "
                         "marker frames")
    flags = (ik.rms_m > cfg.flag_rms_m) | (ik.max_m > cfg.flag_max_m)
    return SequenceKinematics(
        time_s=markers.time_s, marker_names=markers.names, markers=markers.positions,
        coordinates=ik.coordinates, joint_angles=ik.values, rms_m=ik.rms_m, max_m=ik.max_m,
        flags=flags, mass_kg=mass_kg, height_m=height_m, gender=seq.gender, files=files,
        extra={"ground_shift_m": markers.ground_shift_m, "rate_hz": seq.rate_hz,
               "scale_factors": scale.scale_factors,
               "static_joint_centre_rms_m": scale.static_rms_m, "registration_dropped": plan.dropped,
               "body_model": str(body.path), "body_model_kind": body.kind,
               "marker_set_version": mset.version, "betas": seq.betas.tolist(),
               "opensim_model": str(model_path), "timings": clock.laps})


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.start, 3)
        self.start = now


def kinematics_from_trc(trc_path: Path, model_path: Path, out_dir: Path,
                        cfg: KinematicsConfig, weights: dict[str, float] | None = None,
                        ) -> SequenceKinematics:
    """Marker data and an (already scaled) model -> IK. Marker weights default to 1."""
    import shutil

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = read_trc(trc_path)
    files = {"trc": out_dir / "markers.trc", "scaled_model": out_dir / "scaled.osim",
             "ik_mot": out_dir / "ik.mot"}
    write_trc(files["trc"], data.time_s, data.names, data.positions)
    shutil.copyfile(model_path, files["scaled_model"])
    w = {n: (weights or {}).get(n, 1.0) for n in data.names}
    ik = run_ik(Path(model_path), files["trc"], (float(data.time_s[0]), float(data.time_s[-1])),
                w, files["ik_mot"], out_dir, cfg.ik_accuracy)
    flags = (ik.rms_m > cfg.flag_rms_m) | (ik.max_m > cfg.flag_max_m)
    return SequenceKinematics(
        time_s=data.time_s, marker_names=data.names, markers=data.positions,
        coordinates=ik.coordinates, joint_angles=ik.values, rms_m=ik.rms_m, max_m=ik.max_m,
        flags=flags, mass_kg=float("nan"), height_m=float("nan"), gender=None, files=files,
        extra={"rate_hz": data.rate_hz, "opensim_model": str(model_path)})
