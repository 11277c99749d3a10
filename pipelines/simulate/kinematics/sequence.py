"""The kinematics of one sequence, from an AMASS file (or a TRC + model) to OpenSim files.

Runs inside one Dask task: every OpenSim object is built here, from paths.
Files go to `<out_dir>` (the dataset's `opensim/<sequence_id>/`):
static.trc, markers.trc (metres), generic_registered.osim, scaled.osim, ik.mot (radians,
`inDegrees=no`), setup XMLs; all .trc/.mot through `opensim_io`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from musclekit.errors import InputError, UnitFailedError
from musclekit.pipelines.simulate.kinematics.amass import read_amass
from musclekit.pipelines.simulate.kinematics.bodymodel import load_body_model, mass_and_height
from musclekit.pipelines.simulate.kinematics.c3d import model_marker_names
from musclekit.pipelines.simulate.kinematics.lab import LabInputs
from musclekit.pipelines.simulate.kinematics.markerset import load_markerset
from musclekit.pipelines.simulate.kinematics.scale_ik import (
    plan_registration,
    run_ik,
    run_scale,
    write_registered_generic,
)
from musclekit.pipelines.simulate.opensim.files import read_trc, write_trc
from musclekit.pipelines.simulate.opensim.model import default_model_path


@dataclass
class KinematicsConfig:
    """Settings of the kinematics stage (SI units)."""

    foot_height_m: float = 0.02  # lowest marker of every sequence sits this high
    body_density_kg_m3: float = 985.0  # mesh volume -> mass
    flag_rms_m: float = 0.02  # frames whose IK marker RMS error exceeds this are flagged
    flag_max_m: float = 0.04  # ... or whose largest marker error exceeds this
    static_duration_s: float = 0.1
    ik_accuracy: float = 1e-6  # IK convergence tolerance (see scale_ik.run_ik)
    ik_solver: str = "gauss-newton"  # or "opensim": OpenSim's own IK tool (scale_ik.IK_SOLVERS)

    def validate(self) -> None:
        """Refuse values that cannot be right, naming the option that sets each."""
        if not self.foot_height_m >= 0:
            raise InputError(f"--foot-height-m {self.foot_height_m}: must be >= 0")
        for value, flag in ((self.flag_rms_m, "--flag-rms-m"), (self.flag_max_m, "--flag-max-m"),
                            (self.body_density_kg_m3, "--density-kg-m3")):
            if not value > 0:
                raise InputError(f"{flag} {value}: must be > 0")
        if self.ik_solver not in ("gauss-newton", "opensim"):
            raise InputError(f"--ik-solver {self.ik_solver}: choose gauss-newton (the default) "
                             "or opensim (OpenSim's own IK tool)")


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
    # here, not at the top: it imports scipy.spatial, which a marker file's IK never needs
    from musclekit.pipelines.simulate.kinematics.virtual_markers import (
        marker_segments,
        segment_body,
        sequence_markers,
        static_markers,
    )

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
                cfg.ik_accuracy, solver=cfg.ik_solver)
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
                        lab: LabInputs | None = None) -> SequenceKinematics:
    """Marker data and a model -> IK (pipelines/simulate/kinematics/lab.py for the lab's files): with
    a static trial the (generic) model is scaled to the subject first; IK uses the lab's setup
    exactly as OpenSim's IK tool runs it (only --marker-weights overrides it), or marker weights
    (default 1); dead markers and markers IK cannot follow are reported, and left out as
    lab.ik_with_marker_checks says; measured forces are checked and copied."""
    import shutil

    from musclekit.pipelines.simulate.kinematics.c3d import assign_plates_to_feet
    from musclekit.pipelines.simulate.kinematics.lab import (
        c3d_inputs,
        copy_external_loads,
        foot_positions,
        force_roles,
        ik_with_marker_checks,
        marker_messages,
        scale_from_static,
        trc_gaps_filled,
    )
    from musclekit.pipelines.simulate.opensim.external_loads import DEFAULT_FEET

    lab = lab or LabInputs()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    c3d = None
    # A C3D: only the model's markers are taken; gaps filled or left out (c3d.py).
    used = model_marker_names(model_path, lab.marker_set)
    if lab.c3d:  # markers, plates and analog channels from one file
        c3d = c3d_inputs(Path(lab.c3d), out_dir / "c3d", used=used)
        trc_path = c3d["markers"]
    gap_notes: list[str] = []
    if lab.static_trc and Path(lab.static_trc).suffix.lower() == ".c3d":
        static = c3d_inputs(Path(lab.static_trc), out_dir / "static_c3d", used=used, static=True)
        lab = replace(lab, static_trc=str(static["markers"]))
    elif lab.static_trc and lab.static_trc != "auto" and lab.scale_setup:
        # OpenSim's ScaleTool needs every marker: a gappy static TRC is filled first (the
        # automatic scaling fits around gaps itself)
        static = trc_gaps_filled(Path(lab.static_trc), out_dir / "static_trc" / "static.trc",
                                 static=True)
        if static is not None:
            lab = replace(lab, static_trc=str(static["markers"]))
            gap_notes += static["notes"]
    lab_trc = Path(trc_path)  # the lab's own file (what a lab's IK setup runs on)
    data = read_trc(trc_path, allow_missing=True)  # long gaps stay NaN: left out of IK there
    if c3d is None and np.isnan(data.positions).any():
        # A TRC with empty cells: its gaps as a C3D's (trc_gaps_filled); a file without
        # gaps is used as it is, read once.
        filled = trc_gaps_filled(lab_trc, out_dir / "trc_gaps" / "markers.trc")
        if filled is not None:
            trc_path, gap_notes = filled["markers"], gap_notes + filled["notes"]
            data = read_trc(trc_path, allow_missing=True)
    files = {"trc": out_dir / "markers.trc", "scaled_model": out_dir / "scaled.osim",
             "ik_mot": out_dir / "ik.mot"}
    write_trc(files["trc"], data.time_s, data.names, data.positions,
              allow_missing=True, rate_hz=data.rate_hz)
    warnings: list[str] = list(data.notes) + (c3d["notes"] if c3d else []) + gap_notes
    extra: dict = {"rate_hz": data.rate_hz, "opensim_model": str(model_path)}
    mass, height = float("nan"), float("nan")
    w = dict(weights or {})
    w.update(lab.marker_weights or {})
    if lab.static_trc:
        static = files["trc"] if lab.static_trc == "auto" else Path(lab.static_trc)  # auto: itself
        scale = scale_from_static(Path(model_path), static, out_dir / "scale", lab, w,
                                  motion_trc=files["trc"])
        shutil.copyfile(scale.model_path, files["scaled_model"])
        files["scale_setup"] = out_dir / "scale" / "scale_setup.xml"
        mass = float(lab.mass_kg)
        height = float(lab.height_m) if lab.height_m else float("nan")
        extra["scale"] = {"setup": scale.setup, "static_trc": str(lab.static_trc),
                          "static_rms_m": round(scale.static_rms_m, 5),
                          "static_error_m": scale.static_error_m,
                          "scale_factors": scale.scale_factors,
                          "measurements": scale.measurements}
    else:
        shutil.copyfile(model_path, files["scaled_model"])
        if lab.mass_kg:
            mass = float(lab.mass_kg)
    # A lab's IK setup keeps its own weights: only markers the user names override them.
    ik_weights = (dict(lab.marker_weights or {}) if lab.ik_setup
                  else {n: w.get(n, 1.0) for n in data.names})
    t_range = (float(data.time_s[0]), float(data.time_s[-1]))
    setup = Path(lab.ik_setup) if lab.ik_setup else None

    # A lab's setup runs on the lab's own file, as OpenSim's tool would: the same numbers in
    # (a copy converted to metres differs in the last digit, enough to move IK's stopping
    # point in flat valleys such as the arms' long-axis rotation by degrees).
    ik_trc = ((Path(trc_path) if c3d else lab_trc).resolve() if setup is not None
              else files["trc"])

    def ik(leave_out: set[str]):
        return run_ik(files["scaled_model"], ik_trc, t_range, ik_weights, files["ik_mot"],
                      out_dir, cfg.ik_accuracy, setup=setup, leave_out=leave_out,
                      solver=cfg.ik_solver)

    result, problems = ik_with_marker_checks(ik, data.names, data.positions, lab)
    warnings += marker_messages(problems, lab.ik_setup) + result.setup_changes + result.notes
    extra["ik_solver"] = result.solver  # gauss-newton, or opensim (asked for, or handed over)
    extra["marker_problems"] = problems
    extra["markers_left_out"] = {n: p["why"] for n, p in problems.items()
                                 if p["action"] == "left out"}
    if setup is not None:
        extra["ik_setup"] = {"file": str(setup), "changes": result.setup_changes}
    role = force_roles(lab)[0]  # --plates compare: recorded as `plates`, never applied
    if lab.grf_file or lab.grf_setup:
        copied = copy_external_loads(lab, files["scaled_model"], out_dir,
                                     {s: list(b) for s, b in DEFAULT_FEET.items()})
        files.update({k: Path(v) for k, v in copied.items()})
    elif c3d is not None:
        trial = c3d["trial"]
        if trial.plates:
            # Which foot stood on which plate: the foot body nearest each loaded period's COP.
            t_ik, feet = foot_positions(files["scaled_model"], files["ik_mot"],
                                        {"r": DEFAULT_FEET["right"][0], "l": DEFAULT_FEET["left"][0]})
            loads = assign_plates_to_feet(trial, feet, time_s=t_ik)
            files[role] = loads.write(out_dir / f"{role}.mot")
            extra["plates"] = loads.periods
        elif lab.c3d_require_plates or lab.plates == "compare":  # noqa: RET506 - the unit's message
            raise InputError(f"{lab.c3d} has no force plates (FORCE_PLATFORM:USED = 0): drop "
                             + ("--plates compare" if lab.plates == "compare" else "--grf c3d")
                             + ", or give the force file with --grf")
        extra["analogs"] = {name: {"unit": unit, "rate_hz": float(1.0 / np.median(np.diff(t)))}
                            for name, (t, _, unit) in trial.analogs.items()}
        extra["_analogs"] = trial.analogs  # written as the emg_raw stream, not as metadata
    if role == "plates" and role in files:
        extra["plates_compared"] = str(files[role].name)
        warnings.append(f"measured forces kept as {files[role].name} for comparison, not applied "
                        "(--plates compare): the dynamics estimate the ground forces")
    mass_from = lab.mass_from or "given (--mass)"
    if not np.isfinite(mass):
        import opensim as osim

        model = osim.Model(str(files["scaled_model"]))
        mass = float(model.getTotalMass(model.initSystem()))
        mass_from = "the model's total mass (no --mass given)"
    extra["mass_from"] = mass_from
    if role in files:  # measured forces: do they weigh the mass the run uses? (plate_mass.py)
        from musclekit.pipelines.simulate.kinematics.plate_mass import check_force_file

        extra["plate_mass"], note = check_force_file(mass, mass_from, files[role],
                                                     files.get(force_roles(lab)[1]))
        warnings += [note] if note else []
    extra["warnings"] = warnings
    if lab.any:
        extra["lab"] = {k: v for k, v in asdict(lab).items() if v is not None}
    # IK's .mot prints times to 1e-8 s: match them to the marker frames within a quarter frame.
    tol = 0.25 / data.rate_hz if data.rate_hz > 0 else 1e-9
    keep = (data.time_s >= result.time_s[0] - tol) & (data.time_s <= result.time_s[-1] + tol)
    if keep.sum() != len(result.time_s):
        raise UnitFailedError(f"IK wrote {len(result.time_s)} frames where the marker file has "
                              f"{int(keep.sum())} in the same time range")
    flags = (result.rms_m > cfg.flag_rms_m) | (result.max_m > cfg.flag_max_m)
    return SequenceKinematics(
        time_s=result.time_s, marker_names=data.names, markers=data.positions[keep],
        coordinates=result.coordinates, joint_angles=result.values, rms_m=result.rms_m,
        max_m=result.max_m, flags=flags, mass_kg=mass, height_m=height, gender=None,
        files=files, extra=extra)
