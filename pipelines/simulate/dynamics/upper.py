"""The upper body by static optimisation, with the lower-body solution's ground forces.

Muscles in Time solved its lower-body model (LaiUhlrich2022) by muscle-driven trajectory
optimisation, then the muscles of a thoracolumbar model by static optimisation (SO), with the
lower-body solution's ground reaction forces as external loads. This module is that second
step, with OpenSim's own `StaticOptimization` analysis run by an `AnalyzeTool`:

1. The upper model's coordinates are matched by name to the IK motion's (low-pass filtered as
   the inverse method filters them); coordinates the motion lacks keep their default values
   (coupled ones are assembled from their independents) and are reported.
2. Its contact forces are removed (the given ground forces replace them) and coordinate
   actuators are added so every frame is feasible: `residual_<coord>` on the root joint,
   `reserve_<coord>` elsewhere, weak (optimal force 1) where a muscle crosses the coordinate,
   strong (250) where none does. Their peak loads are reported: large peaks mean the muscles,
   the model or the ground forces do not explain the motion.
3. SO runs on the output grid (50 fps), one run per stretch of frames that have ground forces:
   where the lower-body solution has a gap there are no ground forces, so those frames stay
   gaps (NaN, flagged MISSING), never filled in.
4. Outputs: activations (0..1) and forces (N) of the upper model's muscles that are not in the
   lower-body model (those come from the lower-body solution; each muscle is given once).

SO minimises the sum of squared activations frame by frame with rigid tendons: it ignores
activation dynamics and tendon compliance (docs/dynamics.md, "Upper body").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import InputError, MusclekitError
from musclekit.pipelines.simulate.dynamics.kernel.filtering import lowpass
from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import GrfEstimate
from musclekit.pipelines.simulate.opensim.evaluate import (
    CONTACT_FORCE_CLASSES,
    ActuatorStrengths,
    add_coordinate_actuators,
    coordinate_actuated,
    couplers,
)
from musclekit.pipelines.simulate.opensim.external_loads import (
    DEFAULT_FEET,
    GRF_CHANNELS,
    write_external_loads,
)
from musclekit.pipelines.simulate.opensim.files import (
    Motion,
    read_mot,
    rotational_coordinates,
    write_mot,
)
from musclekit.pipelines.simulate.opensim.model import coordinate_units


@dataclass
class UpperSettings:
    """Settings of the upper-body static optimisation.

    filter_hz / feet: set by the driver from the inverse method's filter and foot bodies, so
        both solves see the same kinematics and apply the ground forces to the same bodies.
    margin_s: coordinates given to SO beyond each stretch, so the spline derivatives
        (speeds, accelerations) at its ends are not end effects.
    min_segment_frames: shorter stretches between gaps are left as gaps (the ground force
        splines need a few samples).
    """

    filter_hz: float = 6.0
    feet: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_FEET))
    residual_optimal_force: float = 10.0
    reserve_optimal_force: float = 1.0
    torque_optimal_force: float = 250.0
    activation_exponent: float = 2.0
    convergence: float = 1e-4
    max_iterations: int = 100
    margin_s: float = 0.1
    min_segment_frames: int = 6


@dataclass
class UpperModelInfo:
    """What `check_upper_model` found: the muscles SO outputs (`solved`, not in the lower-body
    model), the coordinates matched with the motion and those kept at their defaults."""

    path: str
    muscles: list[str]
    solved: list[str]
    coordinates: list[str]
    matched: list[str]
    missing: list[str]
    apply_body: dict[str, str]


@dataclass
class UpperResult:
    """The upper body on the output grid.

    time_s: (T,) motion clock; activations, forces: (T, M) for `muscles` (the upper-only
    muscles), NaN where `missing`; reserve_peaks: largest |load| of each residual / reserve
    actuator over the solved frames (units in reserve_units).
    """

    time_s: np.ndarray
    muscles: list[str]
    activations: np.ndarray
    forces: np.ndarray
    missing: np.ndarray
    reserve_peaks: dict[str, float]
    reserve_units: dict[str, str]
    max_residual_force_bw: float
    missing_coordinates: list[str]
    segments_s: list[tuple[float, float]]
    skipped_s: list[tuple[float, float]]
    seconds: float

    def summary(self, model: str) -> dict:
        """The record kept in SequenceInfo.extra["dynamics"]["upper"] (times as given)."""
        def num(v: float) -> float | None:  # JSON has no NaN: an unsolved load is null
            return round(float(v), 6) if np.isfinite(v) else None

        reserves = [v for k, v in self.reserve_peaks.items()
                    if k.startswith("reserve_") and np.isfinite(v)]
        return {
            "model": model,
            "muscles": len(self.muscles),
            "missing_coordinates": list(self.missing_coordinates),
            "reserve_peaks": {k: num(v) for k, v in self.reserve_peaks.items()},
            "reserve_units": dict(self.reserve_units),
            "max_reserve": num(max(reserves, default=float("nan"))),
            "max_residual_force_bw": num(self.max_residual_force_bw),
            "solved_frames": int((~self.missing).sum()),
            "skipped_s": [list(s) for s in self.skipped_s],
            "so_seconds": self.seconds,
        }


def open_upper_model(path: Path):
    """The upper model as an OpenSim Model; InputError when missing or unreadable."""
    import opensim as osim

    if not path.is_file():
        raise InputError(
            f"upper-body model file not found: {path}; pass an existing .osim to --upper-model"
        )
    try:
        return osim.Model(str(path))
    except RuntimeError as err:
        raise InputError(f"upper-body model {path} cannot be read by OpenSim: {err}") from None


def check_upper_model(
    model_path: str | Path,
    lower_muscles: list[str],
    motion_names: list[str],
    feet: dict[str, tuple[str, ...]] | None = None,
) -> UpperModelInfo:
    """Refuse an upper model SO cannot use, with what to do about it.

    Raises:
        InputError: missing or unreadable file, no muscles beyond the lower-body model, no
            coordinate in common with the motion, no foot body to apply a side's forces to.
    """
    path = Path(model_path)
    model = open_upper_model(path)
    state = model.initSystem()
    muscles = [model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())]
    lower = set(lower_muscles)
    solved = [m for m in muscles if m not in lower]
    if not solved:
        raise InputError(
            f"upper-body model {path} has no muscles beyond the lower-body model's "
            f"({len(muscles)} muscles, all of them in the lower-body model): nothing to solve by "
            "static optimisation; pass a model with upper-body muscles (e.g. a thoracolumbar "
            "model) or leave out --upper-model"
        )
    cset = model.getCoordinateSet()
    coords = [cset.get(i).getName() for i in range(cset.getSize())]
    matched = [c for c in coords if c in motion_names]
    if not matched:
        raise InputError(
            f"upper-body model {path}: none of its coordinates ({', '.join(coords[:6])}"
            f"{' ...' if len(coords) > 6 else ''}) is in the kinematics (columns "
            f"{', '.join(motion_names[:6])}{' ...' if len(motion_names) > 6 else ''}); the "
            "upper model must use the lower-body model's coordinate names"
        )
    dependents = set(couplers(model))
    missing = [c for c in coords
               if c not in motion_names and not cset.get(c).getLocked(state) and c not in dependents]
    feet = feet or DEFAULT_FEET
    bodies = model.getBodySet()
    apply_body = {}
    for side, names in feet.items():
        present = [n for n in names if bodies.contains(n)]
        if not present:
            raise InputError(
                f"upper-body model {path} has none of the {side} foot bodies {list(names)}: the "
                "lower-body ground forces are applied to them; the upper model must be a "
                "whole-body model with the lower-body model's foot bodies"
            )
        apply_body[side] = present[0]
    return UpperModelInfo(str(path), muscles, solved, coords, matched, missing, apply_body)


def prepare_upper_model(model_path: str | Path, settings: UpperSettings, out: Path) -> tuple[
        Path, dict[str, str], float]:
    """The model SO solves: contact forces removed, residual / reserve actuators added.

    Returns the prepared .osim, {actuator name: coordinate} of the added actuators, and the
    total mass (kg).
    """
    import opensim as osim

    model = osim.Model(str(model_path))
    forces = model.updForceSet()
    for i in reversed(range(forces.getSize())):
        # The lower-body ground forces replace contact: keeping both would count them twice.
        if forces.get(i).getConcreteClassName() in CONTACT_FORCE_CLASSES:
            forces.remove(i)
    state = model.initSystem()
    cset = model.getCoordinateSet()
    skip = coordinate_actuated(model) | set(couplers(model)) | {
        cset.get(i).getName() for i in range(cset.getSize()) if cset.get(i).getLocked(state)}
    residuals, reserves = add_coordinate_actuators(
        model, state, ActuatorStrengths(settings.residual_optimal_force,
                                        settings.reserve_optimal_force,
                                        settings.torque_optimal_force), skip)
    added = {**residuals, **reserves}
    model.finalizeConnections()
    state = model.initSystem()
    mass = model.getTotalMass(state)
    out.mkdir(parents=True, exist_ok=True)
    prepared = out / "upper_model.osim"
    model.printToXML(str(prepared))
    return prepared, added, mass


def coordinate_table(model_path: str | Path, motion: Motion, times: np.ndarray) -> tuple[
        list[str], np.ndarray]:
    """All coordinates of the model at `times`: the motion's where it has them (linear
    interpolation of the filtered motion), defaults elsewhere; coordinates coupled to others
    and missing from the motion are assembled from their independents."""
    import opensim as osim

    model = osim.Model(str(model_path))
    state = model.initSystem()
    cset = model.getCoordinateSet()
    names = [cset.get(i).getName() for i in range(cset.getSize())]
    values = np.empty((len(times), len(names)))
    for j, n in enumerate(names):
        if n in motion.names:
            values[:, j] = np.interp(times, motion.time_s, motion.column(n))
        else:
            values[:, j] = cset.get(n).getDefaultValue()
    coupled = [n for n in set(couplers(model)) if n not in motion.names]
    if coupled:
        for k in range(len(times)):
            for j, n in enumerate(names):
                cset.get(n).setValue(state, float(values[k, j]), False)
            model.assemble(state)
            for n in coupled:
                values[k, names.index(n)] = cset.get(n).getValue(state)
    return names, values


def _segments(missing: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of frames that are not missing."""
    out = []
    start = None
    for i, m in enumerate(missing):
        if not m and start is None:
            start = i
        if m and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(missing) - 1))
    return out


def _run_so(prepared: Path, coords_mot: Path, loads_xml: Path, t0: float, t1: float,
            settings: UpperSettings, out: Path) -> tuple[Motion, Motion]:
    """One AnalyzeTool run with a StaticOptimization analysis; (activations, forces)."""
    import opensim as osim

    tool = osim.AnalyzeTool()
    tool.setName("upper")
    tool.setModelFilename(str(prepared))
    tool.setCoordinatesFileName(str(coords_mot))
    tool.setLowpassCutoffFrequency(-1)  # filtered already, exactly as the inverse method
    tool.setExternalLoadsFileName(str(loads_xml))
    # The tool starts and ends at the last row at or before each time: nudged forwards so that
    # round-off in the written times cannot drop the segment's last frame.
    tool.setInitialTime(t0 + 1e-7)
    tool.setFinalTime(t1 + 1e-7)
    tool.setResultsDir(str(out))
    so = osim.StaticOptimization()
    so.setUseModelForceSet(True)
    so.setUseMusclePhysiology(True)
    so.setActivationExponent(settings.activation_exponent)
    so.setConvergenceCriterion(settings.convergence)
    so.setMaxIterations(settings.max_iterations)
    tool.getAnalysisSet().cloneAndAppend(so)
    setup = out / "so_setup.xml"
    tool.printToXML(str(setup))
    # Loading from the setup file lets the tool load the model and its external loads
    # itself, the way the OpenSim command line runs it.
    ok = osim.AnalyzeTool(str(setup)).run()
    act_file = out / "upper_StaticOptimization_activation.sto"
    force_file = out / "upper_StaticOptimization_force.sto"
    if not ok or not act_file.is_file() or not force_file.is_file():
        raise MusclekitError(f"static optimisation from {t0:.3f} s to {t1:.3f} s failed "
                             f"(AnalyzeTool wrote no results into {out})")
    return read_mot(act_file, rotational=set()), read_mot(force_file, rotational=set())


def solve_upper(
    model_path: str | Path,
    motion_path: str | Path,
    time_s: np.ndarray,
    grf: np.ndarray,
    missing: np.ndarray,
    lower_muscles: list[str],
    settings: UpperSettings,
    work: Path,
) -> UpperResult:
    """Static optimisation of the upper model on the lower-body solution's grid.

    Args:
        model_path: the upper model (.osim with muscles beyond the lower-body model).
        motion_path: the sequence's IK motion (.mot).
        time_s: (T,) output grid on the motion clock (the stitched lower-body streams').
        grf: (T, 18) ground reaction forces in GRF_CHANNELS order, NaN in gaps.
        missing: (T,) True where the lower-body solution has a gap.
        lower_muscles: the lower-body model's muscles (not solved again).
        settings: SO settings.
        work: folder for SO's input and output files.

    Raises:
        InputError: see `check_upper_model`; MusclekitError: a SO run that fails.
    """
    import opensim as osim

    start = time.perf_counter()
    time_s = np.asarray(time_s, dtype=float)
    grf = np.asarray(grf, dtype=float)
    if len(time_s) == 0:
        raise InputError("no output frames to solve the upper body on")
    if grf.shape != (len(time_s), len(GRF_CHANNELS)):
        raise InputError(f"ground forces of shape {grf.shape}, expected ({len(time_s)}, "
                         f"{len(GRF_CHANNELS)}) in GRF_CHANNELS order")
    # A frame without ground forces is a gap whatever the caller's mask says.
    missing = np.asarray(missing, dtype=bool) | ~np.isfinite(grf).all(axis=1)
    source = open_upper_model(Path(model_path))  # kept alive: the set belongs to it
    rotational = rotational_coordinates(source)
    motion = lowpass(read_mot(motion_path, rotational=rotational), settings.filter_hz)
    info = check_upper_model(model_path, lower_muscles, motion.names, settings.feet)
    work.mkdir(parents=True, exist_ok=True)
    prepared, actuators, mass = prepare_upper_model(model_path, settings, work)

    # The SO grid: the output grid, widened by the margin (within the motion) on both sides.
    dt = float(np.median(np.diff(time_s))) if len(time_s) > 1 else 0.02
    m = max(0, int(round(settings.margin_s / dt)))
    n_lo = min(m, int(np.floor((time_s[0] - motion.time_s[0]) / dt + 1e-6)))
    n_hi = min(m, int(np.floor((motion.time_s[-1] - time_s[-1]) / dt + 1e-6)))
    grid = time_s[0] + dt * np.arange(-n_lo, len(time_s) + n_hi)
    grid[n_lo:n_lo + len(time_s)] = time_s  # the output times exactly
    names, qtable = coordinate_table(prepared, motion, grid)

    T, M = len(time_s), len(info.solved)
    act = np.full((T, M), np.nan)
    frc = np.full((T, M), np.nan)
    res_names = list(actuators)
    res = np.full((T, len(res_names)), np.nan)
    solved_mask = np.zeros(T, dtype=bool)
    segments, skipped = [], []
    level = osim.Logger.getLevelString()
    osim.Logger.setLevelString("Warn")  # SO logs every frame at Info; its files hold the results
    try:
        for s, (i0, i1) in enumerate(_segments(missing)):
            if i1 - i0 + 1 < settings.min_segment_frames:
                skipped.append((float(time_s[i0]), float(time_s[i1])))
                continue
            seg = work / f"segment{s:03d}"
            seg.mkdir(exist_ok=True)
            lo, hi = max(0, i0 + n_lo - m), min(len(grid) - 1, i1 + n_lo + m)
            write_mot(seg / "coordinates.mot", Motion(grid[lo:hi + 1], names, qtable[lo:hi + 1]))
            n = i1 - i0 + 1
            est = GrfEstimate(time_s[i0:i1 + 1], grf[i0:i1 + 1], np.zeros((n, 3)),
                              np.zeros((n, 3)), np.ones((n, 2), dtype=bool))
            write_external_loads(est.time_s, est.values, seg / "grf.mot", seg / "grf.xml", info.apply_body)
            a_mot, f_mot = _run_so(prepared, seg / "coordinates.mot", seg / "grf.xml",
                                   float(time_s[i0]), float(time_s[i1]), settings, seg)
            # Place SO's rows on the output grid by time (it solves exactly at the grid).
            for mot, target, cols in ((a_mot, act, info.solved), (f_mot, frc, info.solved),
                                      (f_mot, res, res_names)):
                rows = np.searchsorted(time_s, mot.time_s - 1e-6)
                ok = (rows < T) & (np.abs(time_s[np.minimum(rows, T - 1)] - mot.time_s) < 1e-6)
                ok &= (rows >= i0) & (rows <= i1)
                for j, c in enumerate(cols):
                    if c in mot.names:
                        target[rows[ok], j] = mot.column(c)[ok]
                if mot is a_mot:
                    solved_mask[rows[ok]] = True
            segments.append((float(time_s[i0]), float(time_s[i1])))
    finally:
        osim.Logger.setLevelString(level)
    out_missing = ~solved_mask
    act[out_missing] = np.nan
    frc[out_missing] = np.nan
    coord_units = coordinate_units(source)
    units = {a: "N" if coord_units[c] == "m" else "N m" for a, c in actuators.items()}
    peaks = {}
    for j, a in enumerate(res_names):
        col = res[solved_mask, j]
        peaks[a] = float(np.nanmax(np.abs(col))) if np.isfinite(col).any() else float("nan")
    trans = [peaks[a] for a in res_names if a.startswith("residual_") and units[a] == "N"]
    max_res_bw = (max(trans) / (mass * 9.80665)) if trans else float("nan")
    return UpperResult(
        time_s=time_s, muscles=list(info.solved), activations=np.clip(act, 0.0, 1.0),
        forces=frc, missing=out_missing, reserve_peaks=peaks, reserve_units=units,
        max_residual_force_bw=float(max_res_bw), missing_coordinates=list(info.missing),
        segments_s=segments, skipped_s=skipped, seconds=time.perf_counter() - start,
    )
